/* expertloop task page: loads items, keyboard shortcuts, drafts, timer, submission.
 *
 * The server renders each item's form as sanitised HTML; this script only moves it into the
 * page, remembers what the expert typed (localStorage, per assignment), and talks JSON to
 * the REST API with the session's CSRF token. No untrusted text is ever built into HTML
 * here: only textContent is written.
 */
(function () {
  "use strict";

  var work = document.getElementById("work");
  if (!work) return;

  var projectId = work.getAttribute("data-project-id");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var taskEl = document.getElementById("task");
  var noticeEl = document.getElementById("notice");
  var timerEl = document.getElementById("timer");
  var leaseEl = document.getElementById("lease");
  var guidelines = document.getElementById("guidelines");
  var guidelinesToggle = document.getElementById("guidelines-toggle");
  var guidelinesClose = document.getElementById("guidelines-close");

  var DRAFT_PREFIX = "expertloop:draft:";
  var DRAFT_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

  var current = null; // {id, form, expiresAt, startedAt}
  var busy = false;
  var skipArmedUntil = 0;
  var lastGroup = null;
  var saveTimer = null;
  var tickTimer = null;

  // --- small helpers -------------------------------------------------------------------

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }

  function draftKey(id) {
    return DRAFT_PREFIX + id;
  }

  function readDraft(id) {
    var store = storage();
    if (!store) return null;
    try {
      return JSON.parse(store.getItem(draftKey(id)) || "null");
    } catch (e) {
      return null;
    }
  }

  function writeDraft(id, draft) {
    var store = storage();
    if (!store) return;
    try {
      store.setItem(draftKey(id), JSON.stringify(draft));
    } catch (e) {
      /* storage full or disabled: the form still holds the answer */
    }
  }

  function dropDraft(id) {
    var store = storage();
    if (store) store.removeItem(draftKey(id));
  }

  function pruneOldDrafts() {
    var store = storage();
    if (!store) return;
    var now = Date.now();
    for (var i = store.length - 1; i >= 0; i--) {
      var key = store.key(i);
      if (!key || key.indexOf(DRAFT_PREFIX) !== 0) continue;
      try {
        var draft = JSON.parse(store.getItem(key) || "null");
        if (!draft || now - (draft.savedAt || 0) > DRAFT_MAX_AGE_MS) store.removeItem(key);
      } catch (e) {
        store.removeItem(key);
      }
    }
  }

  function clock(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var mm = h ? (m < 10 ? "0" + m : "" + m) : "" + m;
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  // --- notices -------------------------------------------------------------------------

  function clearNotice() {
    noticeEl.hidden = true;
    noticeEl.className = "notice";
    noticeEl.textContent = "";
  }

  /* kind: "error" | "info" | "success"; actions: [{label, key, run}] */
  function showNotice(kind, title, message, actions) {
    noticeEl.className = "notice notice--" + kind;
    noticeEl.textContent = "";
    var body = document.createElement("div");
    body.className = "notice__body";
    if (title) {
      var strong = document.createElement("strong");
      strong.className = "notice__title";
      strong.textContent = title;
      body.appendChild(strong);
    }
    if (message) {
      var p = document.createElement("p");
      p.className = "notice__message";
      p.textContent = message;
      body.appendChild(p);
    }
    noticeEl.appendChild(body);
    (actions || []).forEach(function (action) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--small " + (action.primary ? "btn--primary" : "btn--ghost");
      button.textContent = action.label + " ";
      if (action.key) {
        var kbd = document.createElement("kbd");
        kbd.textContent = action.key;
        button.appendChild(kbd);
        button.setAttribute("aria-keyshortcuts", action.key);
      }
      button.addEventListener("click", action.run);
      noticeEl.appendChild(button);
    });
    noticeEl.hidden = false;
  }

  var flashTimer = null;
  function flash(message) {
    showNotice("success", message, "", []);
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () {
      if (noticeEl.classList.contains("notice--success")) clearNotice();
    }, 2500);
  }

  // --- talking to the server -----------------------------------------------------------

  function request(method, url, body, extraHeaders) {
    var headers = { Accept: "application/json", "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    Object.keys(extraHeaders || {}).forEach(function (k) {
      headers[k] = extraHeaders[k];
    });
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  // The preview is rendered and sanitised by the server, like everything else shown here.
  function togglePreview(button) {
    var box = document.getElementById(button.getAttribute("aria-controls"));
    var field = button.closest(".question").querySelector("textarea");
    if (!box || !field) return;
    if (!box.hidden) {
      box.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.textContent = "Preview";
      return;
    }
    request("POST", "/ui/preview", { text: field.value })
      .then(function (response) {
        if (!response.ok) throw new Error("preview failed");
        return response.json();
      })
      .then(function (data) {
        box.innerHTML = data.html;
        box.hidden = false;
        button.setAttribute("aria-expanded", "true");
        button.textContent = "Hide preview";
      })
      .catch(function () {
        showNotice("error", "The preview could not be loaded.", "Your text is kept; try again.", []);
      });
  }

  function errorOf(response) {
    return response
      .json()
      .then(function (data) {
        return (data && data.error) || { code: "http_" + response.status, message: "" };
      })
      .catch(function () {
        return { code: "http_" + response.status, message: "" };
      });
  }

  function explainFailure(status, error) {
    var code = error.code || "";
    if (status === 401) {
      return {
        title: "Your session has ended.",
        message:
          "Sign in again in another tab, then come back and submit: your answer is kept here.",
      };
    }
    if (code === "permission_denied" && /CSRF/.test(error.message || "")) {
      return {
        title: "This page is out of date.",
        message: "Reload the page (your draft is kept) and submit again.",
      };
    }
    if (code === "lease_lost") {
      return {
        title: "Your time on this item ran out.",
        message:
          "It was given to another expert, so this answer cannot be saved. Your text is still " +
          "here if you want to copy it. Press N for the next item.",
        next: true,
      };
    }
    if (code === "already_answered") {
      return { title: "This item already has your answer.", message: "", next: true };
    }
    if (code === "invalid_answer" || code === "invalid_input") {
      return {
        title: "Please check your answer.",
        message: (error.message || "").replace(/^invalid answer: /, ""),
        details: error.details,
      };
    }
    if (status >= 500 || status === 0) {
      return {
        title: "The server had a problem (" + status + ").",
        message: "Your answer is kept here. Try again in a moment.",
        retry: true,
      };
    }
    return { title: error.message || "Something went wrong (" + status + ").", message: "" };
  }

  // --- loading items -------------------------------------------------------------------

  function loadNext() {
    if (busy) return;
    busy = true;
    taskEl.setAttribute("aria-busy", "true");
    stopTicking();
    request("POST", "/ui/projects/" + encodeURIComponent(projectId) + "/next")
      .then(function (response) {
        if (!response.ok) {
          return errorOf(response).then(function (error) {
            busy = false;
            var why = explainFailure(response.status, error);
            showNotice("error", why.title, why.message, [
              { label: "Try again", key: "R", run: loadNext, primary: true },
            ]);
          });
        }
        return response.json().then(function (data) {
          busy = false;
          show(data);
        });
      })
      .catch(function () {
        busy = false;
        showNotice(
          "error",
          "No connection to the server.",
          "Check your network; nothing is lost. Press R to try again.",
          [{ label: "Try again", key: "R", run: loadNext, primary: true }]
        );
      });
  }

  function show(data) {
    // The fragment was rendered and sanitised by the server; markup from items cannot
    // run script here (the page's Content-Security-Policy forbids inline script).
    taskEl.innerHTML = data.html;
    taskEl.setAttribute("aria-busy", "false");
    lastGroup = null;
    if (data.assignment_id === null || data.assignment_id === undefined) {
      current = null;
      timerEl.textContent = "0:00";
      leaseEl.hidden = true;
      return;
    }
    var form = document.getElementById("task-form");
    var offset = Date.now() - Date.parse(data.server_time);
    var draft = readDraft(data.assignment_id);
    current = {
      id: data.assignment_id,
      form: form,
      expiresAt: Date.parse(data.expires_at) + offset,
      startedAt: draft && draft.startedAt ? draft.startedAt : Date.now(),
    };
    initForm(form);
    if (draft && draft.values) {
      restoreValues(form, draft.values);
      flash("Your draft of this item was restored.");
    } else if (noticeEl.classList.contains("notice--error")) {
      clearNotice();
    }
    saveDraft();
    startTicking();
    activateGroup(firstOpenGroup(form) || groups(form)[0], true);
    window.scrollTo(0, 0);
  }

  // --- the form ------------------------------------------------------------------------

  function groups(form) {
    return Array.prototype.filter.call(form.querySelectorAll("[data-keygroup]"), function (g) {
      return !g.hidden && !g.disabled;
    });
  }

  function questions(form) {
    return Array.prototype.filter.call(form.querySelectorAll("[data-path]"), function (q) {
      return !q.hidden && !q.disabled;
    });
  }

  function controlsOf(question) {
    return Array.prototype.filter.call(
      question.querySelectorAll("input[name], textarea[name], select[name]"),
      function (el) {
        return !el.disabled;
      }
    );
  }

  function hasValue(question) {
    var controls = controlsOf(question);
    for (var i = 0; i < controls.length; i++) {
      var el = controls[i];
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) return true;
      } else if (el.value.trim() !== "") {
        return true;
      }
    }
    return false;
  }

  function firstOpenGroup(form) {
    var all = groups(form);
    for (var i = 0; i < all.length; i++) if (!hasValue(all[i])) return all[i];
    return null;
  }

  function activateGroup(group, focus) {
    if (!current) return;
    Array.prototype.forEach.call(current.form.querySelectorAll(".is-active"), function (g) {
      g.classList.remove("is-active");
    });
    if (!group) return;
    group.classList.add("is-active");
    lastGroup = group;
    if (focus) {
      var target =
        group.querySelector("input:checked") ||
        group.querySelector("input[type=radio], input[type=checkbox]");
      if (!target) {
        group.setAttribute("tabindex", "-1");
        target = group;
      }
      target.focus({ preventScroll: !isOffscreen(group) });
    }
  }

  function isOffscreen(el) {
    var r = el.getBoundingClientRect();
    return r.top < 0 || r.bottom > window.innerHeight;
  }

  function activeGroup() {
    if (!current) return null;
    var focused = document.activeElement;
    var inGroup = focused && focused.closest ? focused.closest("[data-keygroup]") : null;
    if (inGroup && current.form.contains(inGroup)) return inGroup;
    if (lastGroup && current.form.contains(lastGroup) && !lastGroup.hidden) return lastGroup;
    return firstOpenGroup(current.form) || groups(current.form)[0] || null;
  }

  function advanceFrom(group) {
    var all = groups(current.form);
    var index = all.indexOf(group);
    for (var i = index + 1; i < all.length; i++) {
      if (!hasValue(all[i])) {
        activateGroup(all[i], true);
        return;
      }
    }
    activateGroup(group, false);
    var submit = current.form.querySelector('[data-action="submit"]');
    if (submit) submit.focus();
  }

  function applyConditions(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-hide-if]"), function (el) {
      var rule = el.getAttribute("data-hide-if").split("=");
      var checked = form.querySelector(
        'input[name="' + CSS.escape(rule[0]) + '"]:checked'
      );
      var hide = !!checked && checked.value === rule[1];
      el.hidden = hide;
      el.disabled = hide;
      if (hide) {
        Array.prototype.forEach.call(el.querySelectorAll("input"), function (input) {
          input.checked = false;
        });
      }
    });
  }

  function initForm(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    form.addEventListener("input", onEdit);
    form.addEventListener("change", onEdit);
    form.addEventListener("focusin", function (event) {
      var group = event.target.closest("[data-keygroup]");
      if (group) activateGroup(group, false);
    });
    form.addEventListener("click", function (event) {
      var action = event.target.closest("[data-action]");
      if (action && action.getAttribute("data-action") === "skip") skip();
      if (action && action.getAttribute("data-action") === "preview") togglePreview(action);
    });
    Array.prototype.forEach.call(form.querySelectorAll("[data-ranking]"), initRanking);
    Array.prototype.forEach.call(form.querySelectorAll("[data-rubric-editor]"), initRubricEditor);
    applyConditions(form);
  }

  function onEdit(event) {
    if (!current) return;
    applyConditions(current.form);
    var question = event.target.closest ? event.target.closest("[data-path]") : null;
    if (question) {
      question.classList.remove("has-error");
      question.removeAttribute("aria-invalid");
    }
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 250);
  }

  /* Control values by name, for drafts. */
  function snapshot(form) {
    var values = {};
    Array.prototype.forEach.call(
      form.querySelectorAll("input[name], textarea[name], select[name]"),
      function (el) {
        if (el.type === "radio") {
          if (!(el.name in values)) values[el.name] = null;
          if (el.checked) values[el.name] = el.value;
        } else if (el.type === "checkbox") {
          if (!(el.name in values)) values[el.name] = [];
          if (el.checked) values[el.name].push(el.value);
        } else {
          values[el.name] = el.value;
        }
      }
    );
    return values;
  }

  function restoreValues(form, values) {
    Array.prototype.forEach.call(
      form.querySelectorAll("input[name], textarea[name], select[name]"),
      function (el) {
        if (!(el.name in values)) return;
        var value = values[el.name];
        if (el.type === "radio") {
          el.checked = value !== null && el.value === value;
        } else if (el.type === "checkbox") {
          el.checked = Array.isArray(value) && value.indexOf(el.value) >= 0;
        } else if (typeof value === "string") {
          el.value = value;
        }
      }
    );
    applyConditions(form);
    Array.prototype.forEach.call(
      form.querySelectorAll("[data-ranking], [data-rubric-editor]"),
      function (box) {
        if (box.widgetRender) box.widgetRender();
      }
    );
  }

  function saveDraft() {
    if (!current) return;
    writeDraft(current.id, {
      values: snapshot(current.form),
      startedAt: current.startedAt,
      savedAt: Date.now(),
    });
  }

  function isBlank(form) {
    return questions(form).every(function (q) {
      return !hasValue(q);
    });
  }

  function cast(value, type) {
    if (type === "int") {
      var n = Number(value);
      return Number.isInteger(n) ? n : value;
    }
    if (type === "float") return Number(value);
    if (type === "bool") return value === "true";
    return value;
  }

  function setPath(target, path, value) {
    var node = target;
    for (var i = 0; i < path.length - 1; i++) {
      if (typeof node[path[i]] !== "object" || node[path[i]] === null) node[path[i]] = {};
      node = node[path[i]];
    }
    node[path[path.length - 1]] = value;
  }

  /* The answer as the API expects it, built from the questions' data-path and data-type. */
  function collectAnswer(form) {
    var answer = {};
    questions(form).forEach(function (question) {
      var path = JSON.parse(question.getAttribute("data-path"));
      var groupType = question.getAttribute("data-type") || "str";
      var controls = controlsOf(question);
      if (!controls.length) return;
      var first = controls[0];
      if (groupType === "list") {
        var picked = controls
          .filter(function (el) {
            return el.checked;
          })
          .map(function (el) {
            return cast(el.value, el.getAttribute("data-type") || "str");
          });
        setPath(answer, path, picked);
        return;
      }
      if (first.type === "radio") {
        var checked = controls.filter(function (el) {
          return el.checked;
        })[0];
        if (checked) setPath(answer, path, cast(checked.value, groupType));
        return;
      }
      var type = first.getAttribute("data-type") || groupType;
      if (first.type === "checkbox" && type === "bool") {
        setPath(answer, path, first.checked);
        return;
      }
      var raw = first.value;
      if (raw.trim() === "") return;
      if (type === "json") {
        try {
          setPath(answer, path, JSON.parse(raw));
        } catch (e) {
          /* leave it out: the server names the missing field */
        }
        return;
      }
      setPath(answer, path, cast(type === "str" ? raw : raw.trim(), type));
    });
    return answer;
  }

  function legendOf(question) {
    var legend = question.querySelector(".question__legend");
    return legend ? legend.textContent.replace(/optional$/, "").trim() : "this question";
  }

  function missingRequired(form) {
    return questions(form).filter(function (q) {
      return q.hasAttribute("data-required") && !hasValue(q);
    });
  }

  function markErrors(form, details) {
    if (!Array.isArray(details)) return null;
    var firstBad = null;
    details.forEach(function (detail) {
      var field = String(detail.field || "").replace(/^answer\.?/, "");
      questions(form).forEach(function (question) {
        var path = JSON.parse(question.getAttribute("data-path")).join(".");
        if (field && (field === path || field.indexOf(path + ".") === 0)) {
          question.classList.add("has-error");
          question.setAttribute("aria-invalid", "true");
          if (!firstBad) firstBad = question;
        }
      });
    });
    return firstBad;
  }

  // --- submit and skip -----------------------------------------------------------------

  function submit() {
    if (!current || busy) return;
    var form = current.form;
    var missing = missingRequired(form);
    if (missing.length) {
      missing.forEach(function (q) {
        q.classList.add("has-error");
        q.setAttribute("aria-invalid", "true");
      });
      showNotice(
        "error",
        "Please answer every question first.",
        "Missing: " + missing.map(legendOf).join(", ") + ".",
        []
      );
      var group = missing[0].matches("[data-keygroup]") ? missing[0] : null;
      if (group) activateGroup(group, true);
      else {
        var control = missing[0].querySelector("textarea, input");
        if (control) control.focus();
      }
      return;
    }
    var id = current.id;
    var answer = collectAnswer(form);
    busy = true;
    form.classList.add("is-busy");
    var button = form.querySelector('[data-action="submit"]');
    if (button) button.disabled = true;
    function done() {
      busy = false;
      form.classList.remove("is-busy");
      if (button) button.disabled = false;
    }
    request(
      "POST",
      "/api/v1/assignments/" + id + "/answer",
      { answer: answer },
      // One key per assignment: a retry after a lost response stores one answer.
      { "Idempotency-Key": "web-assignment-" + id }
    )
      .then(function (response) {
        if (response.ok) {
          done();
          dropDraft(id);
          current = null;
          flash("Saved. Loading the next item…");
          loadNext();
          return null;
        }
        return errorOf(response).then(function (error) {
          done();
          var why = explainFailure(response.status, error);
          var actions = [];
          if (why.next) {
            actions.push({ label: "Next item", key: "N", run: nextAfterLoss, primary: true });
          } else if (why.retry) {
            actions.push({ label: "Try again", key: "Enter", run: submit, primary: true });
          }
          showNotice("error", why.title, why.message, actions);
          var bad = markErrors(form, why.details);
          if (bad && bad.matches("[data-keygroup]")) activateGroup(bad, true);
          if (why.next) current.lost = true;
        });
      })
      .catch(function () {
        done();
        showNotice(
          "error",
          "No connection to the server.",
          "Your answer is kept here. Press Enter to try again when you are back online.",
          [{ label: "Try again", key: "Enter", run: submit, primary: true }]
        );
      });
  }

  function nextAfterLoss() {
    if (current) dropDraft(current.id);
    current = null;
    clearNotice();
    loadNext();
  }

  function skip() {
    if (!current || busy) return;
    if (!isBlank(current.form) && Date.now() > skipArmedUntil) {
      skipArmedUntil = Date.now() + 4000;
      showNotice(
        "info",
        "Skip this item?",
        "Press S again to skip it; what you entered will be discarded and the item goes back to the pool.",
        []
      );
      return;
    }
    skipArmedUntil = 0;
    var id = current.id;
    busy = true;
    request("POST", "/api/v1/assignments/" + id + "/release")
      .then(function (response) {
        busy = false;
        if (response.ok || response.status === 409 || response.status === 404) {
          dropDraft(id);
          current = null;
          clearNotice();
          loadNext();
          return null;
        }
        return errorOf(response).then(function (error) {
          var why = explainFailure(response.status, error);
          showNotice("error", why.title, why.message, []);
        });
      })
      .catch(function () {
        busy = false;
        showNotice("error", "No connection to the server.", "The item was not skipped.", []);
      });
  }

  // --- ranking widget ------------------------------------------------------------------

  var ORDINALS = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th"];

  function initRanking(box) {
    var input = box.querySelector('input[name="ranking"]');
    var list = box.querySelector("[data-ranking-order]");
    var allowTies = box.getAttribute("data-allow-ties") === "true";
    var count = Number(box.getAttribute("data-count"));
    var tieNext = false;

    function tiers() {
      try {
        var value = JSON.parse(input.value || "[]");
        return Array.isArray(value) ? value : [];
      } catch (e) {
        return [];
      }
    }
    function set(value) {
      input.value = value.length ? JSON.stringify(value) : "";
      render();
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function render() {
      var value = tiers();
      list.textContent = "";
      var rankOf = {};
      value.forEach(function (tier, t) {
        var li = document.createElement("li");
        li.className = "ranking__tier";
        var place = document.createElement("span");
        place.className = "ranking__place";
        place.textContent = ORDINALS[t] || t + 1 + "th";
        li.appendChild(place);
        var names = document.createElement("span");
        names.textContent = tier
          .map(function (i) {
            rankOf[i] = ORDINALS[t] || t + 1 + "th";
            return "Response " + (i + 1);
          })
          .join(" = ");
        li.appendChild(names);
        list.appendChild(li);
      });
      if (!value.length) {
        var empty = document.createElement("li");
        empty.className = "ranking__empty";
        empty.textContent = "Nothing ranked yet.";
        list.appendChild(empty);
      }
      Array.prototype.forEach.call(box.querySelectorAll("[data-rank-item]"), function (card) {
        var i = Number(card.getAttribute("data-rank-item"));
        var badge = card.querySelector("[data-rank-badge]");
        var button = card.querySelector("[data-rank-add]");
        badge.textContent = rankOf[i] ? "Ranked " + rankOf[i] : "";
        card.classList.toggle("is-ranked", !!rankOf[i]);
        button.disabled = !!rankOf[i];
      });
    }
    function add(i) {
      var value = tiers();
      var flat = [].concat.apply([], value);
      if (flat.indexOf(i) >= 0 || i >= count) return;
      if (tieNext && allowTies && value.length) value[value.length - 1].push(i);
      else value.push([i]);
      tieNext = false;
      set(value);
      if (flat.length + 1 === count) advanceFrom(box);
    }
    box.rankingUndo = function () {
      var value = tiers();
      if (!value.length) return;
      value[value.length - 1].pop();
      if (!value[value.length - 1].length) value.pop();
      set(value);
    };
    box.widgetRender = render;
    box.addEventListener("click", function (event) {
      var target = event.target.closest("button");
      if (!target || !box.contains(target)) return;
      if (target.hasAttribute("data-rank-add")) add(Number(target.getAttribute("data-rank-add")));
      else if (target.hasAttribute("data-rank-undo")) box.rankingUndo();
      else if (target.hasAttribute("data-rank-clear")) set([]);
      else if (target.hasAttribute("data-rank-tie")) {
        tieNext = true;
        target.classList.add("is-armed");
      }
      if (!target.hasAttribute("data-rank-tie")) {
        var tie = box.querySelector("[data-rank-tie]");
        if (tie) tie.classList.remove("is-armed");
      }
    });
    render();
  }

  // --- rubric editor (authoring) ------------------------------------------------------

  /* Rows of {criterion, points}; the hidden input holds them as JSON once any has text,
     so drafts and submission read one value. */
  function initRubricEditor(box) {
    var input = box.querySelector('input[name="rubric"]');
    var list = box.querySelector("[data-rubric-rows]");
    var minimum = Math.max(1, Number(box.getAttribute("data-min")) || 1);
    var maximum = Number(box.getAttribute("data-max")) || 50;
    var addButton = box.querySelector("[data-rubric-add]");
    var rows = [];

    function sync() {
      var used = rows.some(function (r) {
        return r.criterion.trim() !== "" || r.points !== null;
      });
      input.value = used ? JSON.stringify(rows) : "";
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function load() {
      try {
        var value = JSON.parse(input.value || "[]");
        rows = Array.isArray(value) ? value : [];
      } catch (e) {
        rows = [];
      }
      while (rows.length < minimum) rows.push({ criterion: "", points: null });
    }
    function render() {
      load();
      list.textContent = "";
      rows.forEach(function (row, i) {
        var li = document.createElement("li");
        li.className = "rubric-editor__row";
        var text = document.createElement("input");
        text.type = "text";
        text.value = row.criterion;
        text.placeholder = "What a correct answer must do";
        text.setAttribute("aria-label", "Criterion " + (i + 1));
        text.addEventListener("input", function () {
          rows[i].criterion = text.value;
          sync();
        });
        var points = document.createElement("input");
        points.type = "number";
        points.min = "1";
        points.max = "1000";
        points.step = "1";
        points.inputMode = "numeric";
        points.placeholder = "pts";
        points.value = row.points === null || row.points === undefined ? "" : String(row.points);
        points.setAttribute("aria-label", "Points for criterion " + (i + 1));
        points.addEventListener("input", function () {
          var n = Number(points.value);
          rows[i].points = points.value === "" ? null : Number.isInteger(n) ? n : points.value;
          sync();
        });
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "btn btn--ghost btn--small";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove criterion " + (i + 1));
        remove.disabled = rows.length <= minimum;
        remove.addEventListener("click", function () {
          rows.splice(i, 1);
          sync();
          render();
        });
        [text, points].forEach(function (field) {
          field.addEventListener("keydown", function (event) {
            if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
              event.preventDefault();
              addRow();
            }
          });
        });
        li.appendChild(text);
        li.appendChild(points);
        li.appendChild(remove);
        list.appendChild(li);
      });
      addButton.disabled = rows.length >= maximum;
    }
    function addRow() {
      if (rows.length >= maximum) return;
      rows.push({ criterion: "", points: null });
      sync();
      render();
      var inputs = list.querySelectorAll('input[type="text"]');
      inputs[inputs.length - 1].focus();
    }
    addButton.addEventListener("click", addRow);
    box.widgetRender = render;
    render();
  }

  // --- timer and lease -----------------------------------------------------------------

  function tick() {
    if (!current) return;
    var now = Date.now();
    timerEl.textContent = clock(now - current.startedAt);
    var left = current.expiresAt - now;
    leaseEl.hidden = false;
    if (left <= 0) {
      leaseEl.textContent = "Lease ended";
      leaseEl.className = "lease lease--over";
      leaseEl.title =
        "Your lease on this item ended. Submit anyway: it is saved unless another expert took the item.";
    } else {
      leaseEl.textContent = clock(left) + " left";
      leaseEl.className = left < 120000 ? "lease lease--low" : "lease";
      leaseEl.title = "Time left on your lease of this item";
    }
  }

  function startTicking() {
    stopTicking();
    tick();
    tickTimer = setInterval(tick, 1000);
  }

  function stopTicking() {
    if (tickTimer) clearInterval(tickTimer);
    tickTimer = null;
  }

  // --- guidelines ----------------------------------------------------------------------

  function setGuidelines(open) {
    guidelines.hidden = !open;
    guidelinesToggle.setAttribute("aria-expanded", open ? "true" : "false");
    document.body.classList.toggle("guidelines-open", open);
  }

  guidelinesToggle.addEventListener("click", function () {
    setGuidelines(guidelines.hidden);
  });
  guidelinesClose.addEventListener("click", function () {
    setGuidelines(false);
    guidelinesToggle.focus();
  });

  // --- keyboard ------------------------------------------------------------------------

  function isTyping(el) {
    if (!el || !el.matches) return false;
    if (el.matches("textarea, select, [contenteditable]")) return true;
    return el.matches("input") && !el.matches("[type=radio], [type=checkbox], [type=button], [type=submit]");
  }

  function press(el) {
    if (el.matches("input[type=radio]")) {
      el.checked = true;
      el.dispatchEvent(new Event("change", { bubbles: true }));
      el.focus({ preventScroll: true });
      var group = el.closest("[data-keygroup]");
      if (group) advanceFrom(group);
    } else if (el.matches("input[type=checkbox]")) {
      el.checked = !el.checked;
      el.dispatchEvent(new Event("change", { bubbles: true }));
      el.focus({ preventScroll: true });
    } else if (!el.disabled) {
      el.click();
    }
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var key = event.key;
    if (isTyping(target)) {
      if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit();
      } else if (key === "Escape") {
        event.preventDefault();
        var group = target.closest("[data-path]");
        target.blur();
        if (group) {
          group.setAttribute("tabindex", "-1");
          group.focus({ preventScroll: true });
        }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (key === "?" || key === "g" || key === "G") {
      event.preventDefault();
      setGuidelines(guidelines.hidden);
      return;
    }
    if (key === "Escape" && !guidelines.hidden) {
      event.preventDefault();
      setGuidelines(false);
      return;
    }
    var noticeButton = noticeEl.hidden ? null : noticeEl.querySelector("[aria-keyshortcuts]");
    if (noticeButton && key.length === 1) {
      var wanted = noticeButton.getAttribute("aria-keyshortcuts").toLowerCase();
      if (wanted === key.toLowerCase()) {
        event.preventDefault();
        noticeButton.click();
        return;
      }
    }
    if (!current) return;
    if (current.lost && (key === "n" || key === "N")) {
      event.preventDefault();
      nextAfterLoss();
      return;
    }
    if (key === "Enter") {
      if (target.matches && target.matches("button:not([data-action=submit]), a")) return;
      event.preventDefault();
      submit();
      return;
    }
    if (key === "s" || key === "S") {
      event.preventDefault();
      skip();
      return;
    }
    if (key === "t" || key === "T") {
      var texts = current.form.querySelectorAll("textarea:not([disabled])");
      if (texts.length) {
        event.preventDefault();
        var after = Array.prototype.filter.call(texts, function (t) {
          return (
            !target.contains(t) &&
            target.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING
          );
        });
        (after[0] || texts[0]).focus();
      }
      return;
    }
    var group = activeGroup();
    if (!group) return;
    if (key === "Backspace" && group.rankingUndo) {
      event.preventDefault();
      group.rankingUndo();
      return;
    }
    if (key.length !== 1) return;
    var el = group.querySelector('[data-key="' + CSS.escape(key.toLowerCase()) + '"]');
    if (!el) el = group.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (el) {
      event.preventDefault();
      press(el);
    }
  });

  window.addEventListener("pagehide", saveDraft);
  pruneOldDrafts();
  loadNext();
})();
