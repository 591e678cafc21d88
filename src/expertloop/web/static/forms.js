/* expertloop task forms: what the task page (app.js) and the review page (review.js) share.
 *
 * A task form is server-rendered HTML whose questions carry data-path (where the value goes
 * in the answer) and data-type; this file reads an answer out of such a form, writes one
 * into it, runs its widgets (ranking, rubric editor) and moves between its questions with
 * the keyboard. Nothing here builds HTML from untrusted text: only textContent is written.
 */
(function () {
  "use strict";

  var each = function (list, fn) {
    Array.prototype.forEach.call(list, fn);
  };

  // --- talking to the server -----------------------------------------------------------

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

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

  function clock(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var mm = h ? (m < 10 ? "0" + m : "" + m) : "" + m;
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  function isTyping(el) {
    if (!el || !el.matches) return false;
    if (el.matches("textarea, select, [contenteditable]")) return true;
    return el.matches("input") && !el.matches("[type=radio], [type=checkbox], [type=button], [type=submit]");
  }

  /* Fills a notice box. kind: "error" | "info" | "success"; actions: [{label, key, run,
     primary}], each a button (its key is shown and announced as its shortcut). */
  function showNotice(box, kind, title, message, actions) {
    box.className = "notice notice--" + kind;
    box.textContent = "";
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
    box.appendChild(body);
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
      box.appendChild(button);
    });
    box.hidden = false;
  }

  // The preview is rendered and sanitised by the server, like everything else shown here.
  function togglePreview(button, onError) {
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
        if (onError) onError();
      });
  }

  // --- questions -----------------------------------------------------------------------

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

  function isOffscreen(el) {
    var r = el.getBoundingClientRect();
    return r.top < 0 || r.bottom > window.innerHeight;
  }

  function applyConditions(form) {
    each(form.querySelectorAll("[data-hide-if]"), function (el) {
      var rule = el.getAttribute("data-hide-if").split("=");
      var checked = form.querySelector('input[name="' + CSS.escape(rule[0]) + '"]:checked');
      var hide = !!checked && checked.value === rule[1];
      el.hidden = hide;
      el.disabled = hide;
      if (hide) {
        each(el.querySelectorAll("input"), function (input) {
          input.checked = false;
        });
      }
    });
  }

  /* Runs the form's widgets (onRanked(box) when a ranking is complete) and its conditions. */
  function initWidgets(form, onRanked) {
    each(form.querySelectorAll("[data-ranking]"), function (box) {
      initRanking(box, function () {
        onRanked(box);
      });
    });
    each(form.querySelectorAll("[data-rubric-editor]"), initRubricEditor);
    applyConditions(form);
  }

  function renderWidgets(form) {
    each(form.querySelectorAll("[data-ranking], [data-rubric-editor]"), function (box) {
      if (box.widgetRender) box.widgetRender();
    });
  }

  /* Control values by name, for drafts. */
  function snapshot(form) {
    var values = {};
    each(form.querySelectorAll("input[name], textarea[name], select[name]"), function (el) {
      if (el.type === "radio") {
        if (!(el.name in values)) values[el.name] = null;
        if (el.checked) values[el.name] = el.value;
      } else if (el.type === "checkbox") {
        if (!(el.name in values)) values[el.name] = [];
        if (el.checked) values[el.name].push(el.value);
      } else {
        values[el.name] = el.value;
      }
    });
    return values;
  }

  function restoreValues(form, values) {
    each(form.querySelectorAll("input[name], textarea[name], select[name]"), function (el) {
      if (!(el.name in values)) return;
      var value = values[el.name];
      if (el.type === "radio") {
        el.checked = value !== null && el.value === value;
      } else if (el.type === "checkbox") {
        el.checked = Array.isArray(value) && value.indexOf(el.value) >= 0;
      } else if (typeof value === "string") {
        el.value = value;
      }
    });
    applyConditions(form);
    renderWidgets(form);
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

  function valueAt(source, path) {
    var node = source;
    for (var i = 0; i < path.length; i++) {
      if (node === null || typeof node !== "object") return undefined;
      node = node[path[i]];
    }
    return node;
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

  /* The inverse of collectAnswer: show a stored answer in the form (the review page). */
  function fillAnswer(form, answer) {
    each(form.querySelectorAll("[data-path]"), function (question) {
      var value = valueAt(answer || {}, JSON.parse(question.getAttribute("data-path")));
      var missing = value === undefined || value === null;
      each(question.querySelectorAll("input[name], textarea[name], select[name]"), function (el) {
        if (el.type === "radio") {
          el.checked = !missing && String(value) === el.value;
        } else if (el.type === "checkbox") {
          el.checked = Array.isArray(value)
            ? value.map(String).indexOf(el.value) >= 0
            : value === true;
        } else if (missing) {
          el.value = "";
        } else if (el.getAttribute("data-type") === "json") {
          el.value = JSON.stringify(value);
        } else {
          el.value = typeof value === "string" ? value : String(value);
        }
      });
    });
    applyConditions(form);
    renderWidgets(form);
  }

  /* Drop what an answer leaves unsaid (empty texts, nulls, empty objects) and order keys, so
     two answers meaning the same thing compare equal as JSON. */
  function normalised(value) {
    if (Array.isArray(value)) return value.map(normalised);
    if (value === null || typeof value !== "object") return value;
    var out = {};
    Object.keys(value)
      .sort()
      .forEach(function (key) {
        var v = normalised(value[key]);
        if (v === null || v === undefined || v === "") return;
        if (typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length) return;
        out[key] = v;
      });
    return out;
  }

  function sameAnswer(a, b) {
    return JSON.stringify(normalised(a)) === JSON.stringify(normalised(b));
  }

  /* Read-only (the review page before a fix): the answer shows, nothing changes it. Text
     stays readable (readOnly, not disabled); choices and widget buttons are disabled. */
  function lockControls(root, locked) {
    each(root.querySelectorAll("input, textarea, select, button"), function (el) {
      if (el.type === "hidden" || el.matches("[data-action=preview]")) return;
      if (el.matches("textarea") || (el.matches("input") && !el.matches("[type=radio], [type=checkbox]"))) {
        el.readOnly = locked;
      } else {
        el.disabled = locked;
      }
    });
  }

  function setLocked(form, locked) {
    form.classList.toggle("is-locked", locked);
    lockControls(form, locked);
    if (!locked) renderWidgets(form); // widgets disable their own buttons again
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

  function markError(question, bad) {
    question.classList.toggle("has-error", bad);
    if (bad) question.setAttribute("aria-invalid", "true");
    else question.removeAttribute("aria-invalid");
  }

  /* Marks the required questions left unanswered and returns them (none: an empty list). */
  function markMissing(form) {
    var missing = missingRequired(form);
    missing.forEach(function (q) {
      markError(q, true);
    });
    return missing;
  }

  /* After an edit: the question the edited control belongs to is no longer marked wrong. */
  function clearErrorAt(control) {
    var question = control.closest ? control.closest("[data-path]") : null;
    if (question) markError(question, false);
  }

  function markErrors(form, details) {
    if (!Array.isArray(details)) return null;
    var firstBad = null;
    details.forEach(function (detail) {
      var field = String(detail.field || "").replace(/^answer\.?/, "");
      questions(form).forEach(function (question) {
        var path = JSON.parse(question.getAttribute("data-path")).join(".");
        if (field && (field === path || field.indexOf(path + ".") === 0)) {
          markError(question, true);
          if (!firstBad) firstBad = question;
        }
      });
    });
    return firstBad;
  }

  function clearErrors(form) {
    each(form.querySelectorAll(".has-error"), function (q) {
      markError(q, false);
    });
  }

  // --- moving between questions with the keyboard ----------------------------------------

  /* Keeps track of the highlighted question of one form. onDone runs when a choice leaves
     nothing open after it (the task page moves focus to its submit button). */
  function navigator(form, onDone) {
    var last = null;
    var nav = {};

    nav.activate = function (group, focus) {
      each(form.querySelectorAll(".is-active"), function (g) {
        g.classList.remove("is-active");
      });
      if (!group) return;
      group.classList.add("is-active");
      last = group;
      if (focus) {
        // A number box (a scale of more than ten points) takes the typed digits itself.
        var target =
          group.querySelector("input:checked") ||
          group.querySelector("input[type=radio], input[type=checkbox], input[type=number]");
        if (!target) {
          group.setAttribute("tabindex", "-1");
          target = group;
        }
        target.focus({ preventScroll: !isOffscreen(group) });
      }
    };

    nav.active = function () {
      var focused = document.activeElement;
      var inGroup = focused && focused.closest ? focused.closest("[data-keygroup]") : null;
      if (inGroup && form.contains(inGroup)) return inGroup;
      if (last && form.contains(last) && !last.hidden) return last;
      return firstOpenGroup(form) || groups(form)[0] || null;
    };

    nav.advanceFrom = function (group) {
      var all = groups(form);
      var index = all.indexOf(group);
      for (var i = index + 1; i < all.length; i++) {
        if (!hasValue(all[i])) {
          nav.activate(all[i], true);
          return;
        }
      }
      nav.activate(group, false);
      if (onDone) onDone();
    };

    /* Highlights the first open question; a form without choices (a writing task) opens
       with its first text box focused, so the expert can start typing at once. */
    nav.start = function () {
      var group = firstOpenGroup(form) || groups(form)[0];
      if (group) {
        nav.activate(group, true);
        return;
      }
      var box = form.querySelector("textarea:not([disabled]):not([readonly])");
      if (box) box.focus();
    };

    nav.press = function (el) {
      if (el.matches("input[type=radio]")) {
        el.checked = true;
        el.dispatchEvent(new Event("change", { bubbles: true }));
        el.focus({ preventScroll: true });
        var group = el.closest("[data-keygroup]");
        if (group) nav.advanceFrom(group);
      } else if (el.matches("input[type=checkbox]")) {
        el.checked = !el.checked;
        el.dispatchEvent(new Event("change", { bubbles: true }));
        el.focus({ preventScroll: true });
      } else if (!el.disabled) {
        el.click();
      }
    };

    /* The keys every form shares, outside text boxes: T (next text box), Backspace (undo
       a ranking step) and the option keys of the highlighted question. True if handled. */
    nav.handleKey = function (event) {
      var key = event.key;
      var target = event.target;
      if (key === "t" || key === "T") {
        var texts = form.querySelectorAll("textarea:not([disabled])");
        if (!texts.length) return false;
        event.preventDefault();
        var after = Array.prototype.filter.call(texts, function (t) {
          return (
            !target.contains(t) && target.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING
          );
        });
        (after[0] || texts[0]).focus();
        return true;
      }
      var group = nav.active();
      if (!group) return false;
      if (key === "Backspace" && group.rankingUndo) {
        event.preventDefault();
        group.rankingUndo();
        return true;
      }
      if (key.length !== 1) return false;
      var el = group.querySelector('[data-key="' + CSS.escape(key.toLowerCase()) + '"]');
      if (!el) el = group.querySelector('[data-key="' + CSS.escape(key) + '"]');
      if (!el) return false;
      event.preventDefault();
      nav.press(el);
      return true;
    };

    /* Esc in a text box: leave it for its question, so the single-key shortcuts work. */
    nav.leaveTextBox = function (target) {
      var question = target.closest("[data-path]");
      target.blur();
      if (question) {
        question.setAttribute("tabindex", "-1");
        question.focus({ preventScroll: true });
      }
    };

    form.addEventListener("focusin", function (event) {
      var group = event.target.closest("[data-keygroup]");
      if (group) nav.activate(group, false);
    });
    return nav;
  }

  // --- ranking widget ------------------------------------------------------------------

  var ORDINALS = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th"];

  /* onComplete(box) runs when the last response has been placed. */
  function initRanking(box, onComplete) {
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
      each(box.querySelectorAll("[data-rank-item]"), function (card) {
        var i = Number(card.getAttribute("data-rank-item"));
        var badge = card.querySelector("[data-rank-badge]");
        var button = card.querySelector("[data-rank-add]");
        badge.textContent = rankOf[i] ? "Ranked " + rankOf[i] : "";
        card.classList.toggle("is-ranked", !!rankOf[i]);
        button.disabled = !!rankOf[i];
      });
      if (box.closest(".is-locked")) lockControls(box, true);
    }
    function add(i) {
      var value = tiers();
      var flat = [].concat.apply([], value);
      if (flat.indexOf(i) >= 0 || i >= count) return;
      if (tieNext && allowTies && value.length) value[value.length - 1].push(i);
      else value.push([i]);
      tieNext = false;
      set(value);
      if (flat.length + 1 === count && onComplete) onComplete(box);
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
      if (box.closest(".is-locked")) lockControls(box, true);
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

  window.expertloopForms = {
    applyConditions: applyConditions,
    clearErrorAt: clearErrorAt,
    clearErrors: clearErrors,
    clock: clock,
    collectAnswer: collectAnswer,
    errorOf: errorOf,
    fillAnswer: fillAnswer,
    firstOpenGroup: firstOpenGroup,
    groups: groups,
    hasValue: hasValue,
    initRanking: initRanking,
    initRubricEditor: initRubricEditor,
    initWidgets: initWidgets,
    isBlank: isBlank,
    isTyping: isTyping,
    legendOf: legendOf,
    markErrors: markErrors,
    markMissing: markMissing,
    missingRequired: missingRequired,
    navigator: navigator,
    questions: questions,
    request: request,
    restoreValues: restoreValues,
    sameAnswer: sameAnswer,
    setLocked: setLocked,
    showNotice: showNotice,
    snapshot: snapshot,
    togglePreview: togglePreview,
  };
})();
