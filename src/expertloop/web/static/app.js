/* expertloop task page: loads items, keyboard shortcuts, drafts, timer, submission.
 *
 * The server renders each item's form as sanitised HTML; this script only moves it into the
 * page, remembers what the expert typed (localStorage, per assignment), and talks JSON to
 * the REST API with the session's CSRF token. No untrusted text is ever built into HTML
 * here: only textContent is written. The form helpers it shares with the review page
 * (reading answers, widgets, keyboard moves) are in forms.js, loaded first.
 */
(function () {
  "use strict";

  var work = document.getElementById("work");
  if (!work) return;

  var F = window.expertloopForms;
  var request = F.request;
  var errorOf = F.errorOf;
  var clock = F.clock;
  var isTyping = F.isTyping;
  var applyConditions = F.applyConditions;
  var snapshot = F.snapshot;
  var restoreValues = F.restoreValues;
  var isBlank = F.isBlank;
  var collectAnswer = F.collectAnswer;
  var legendOf = F.legendOf;
  var missingRequired = F.missingRequired;
  var markErrors = F.markErrors;

  var projectId = work.getAttribute("data-project-id");
  var taskEl = document.getElementById("task");
  var noticeEl = document.getElementById("notice");
  var timerEl = document.getElementById("timer");
  var leaseEl = document.getElementById("lease");
  var guidelines = document.getElementById("guidelines");
  var guidelinesToggle = document.getElementById("guidelines-toggle");
  var guidelinesClose = document.getElementById("guidelines-close");

  var DRAFT_PREFIX = "expertloop:draft:";
  var DRAFT_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

  var current = null; // {id, form, nav, expiresAt, startedAt}
  var busy = false;
  var skipArmedUntil = 0;
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

  // --- notices -------------------------------------------------------------------------

  function clearNotice() {
    noticeEl.hidden = true;
    noticeEl.className = "notice";
    noticeEl.textContent = "";
  }

  /* kind: "error" | "info" | "success"; actions: [{label, key, run}] */
  function showNotice(kind, title, message, actions) {
    F.showNotice(noticeEl, kind, title, message, actions);
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

  function togglePreview(button) {
    F.togglePreview(button, function () {
      showNotice("error", "The preview could not be loaded.", "Your text is kept; try again.", []);
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
      nav: F.navigator(form, focusSubmit),
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
    current.nav.start();
    window.scrollTo(0, 0);
  }

  // --- the form ------------------------------------------------------------------------

  function focusSubmit() {
    var submit = current && current.form.querySelector('[data-action="submit"]');
    if (submit) submit.focus();
  }

  function initForm(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    form.addEventListener("input", onEdit);
    form.addEventListener("change", onEdit);
    form.addEventListener("click", function (event) {
      var action = event.target.closest("[data-action]");
      if (action && action.getAttribute("data-action") === "skip") skip();
      if (action && action.getAttribute("data-action") === "preview") togglePreview(action);
    });
    Array.prototype.forEach.call(form.querySelectorAll("[data-ranking]"), function (box) {
      F.initRanking(box, function () {
        if (current) current.nav.advanceFrom(box);
      });
    });
    Array.prototype.forEach.call(form.querySelectorAll("[data-rubric-editor]"), F.initRubricEditor);
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

  function saveDraft() {
    if (!current) return;
    writeDraft(current.id, {
      values: snapshot(current.form),
      startedAt: current.startedAt,
      savedAt: Date.now(),
    });
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
      if (group) current.nav.activate(group, true);
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
          if (bad && bad.matches("[data-keygroup]")) current.nav.activate(bad, true);
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

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var key = event.key;
    if (isTyping(target)) {
      if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit();
      } else if (key === "Escape") {
        event.preventDefault();
        if (current) current.nav.leaveTextBox(target);
        else target.blur();
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
    current.nav.handleKey(event);
  });

  window.addEventListener("pagehide", saveDraft);
  pruneOldDrafts();
  loadNext();
})();
