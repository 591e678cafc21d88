/* expertloop task page: loads items, keyboard shortcuts, drafts, timer, submission.
 *
 * The server renders each item's form as sanitised HTML; this script only moves it into the
 * page, remembers what the expert typed (localStorage, per assignment), and talks JSON to
 * the REST API with the session's CSRF token. No untrusted text is ever built into HTML
 * here: only textContent is written. What it shares with the review page is in forms.js
 * (reading answers, widgets, keyboard moves) and page.js (notices, drafts, the lease
 * countdown, guidelines, common keys), both loaded first.
 */
(function () {
  "use strict";

  var work = document.getElementById("work");
  if (!work) return;

  var F = window.expertloopForms;
  var P = window.expertloopPage;
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
  var markMissing = F.markMissing;
  var markErrors = F.markErrors;

  var projectId = work.getAttribute("data-project-id");
  var taskEl = document.getElementById("task");
  var noticeEl = document.getElementById("notice");
  var timerEl = document.getElementById("timer");
  var leaseEl = document.getElementById("lease");
  var guidelines = P.guidelinesPanel();
  var drafts = P.drafts("expertloop:draft:");
  var ticking = P.ticker(tick);

  var reportDialog = document.getElementById("report");
  var reportForm = document.getElementById("report-form");

  // Two minutes before a lease ends the page warns, and offers to extend it (E). Typing in a
  // text box within that window extends it by itself, at most once per AUTO_EXTEND_GAP_MS.
  // A lease shorter than four minutes is warned about in its second half instead, so that
  // an extension (another lease time from now) ends the warning.
  var WARN_MS = 120000;
  var AUTO_EXTEND_GAP_MS = 15000;

  var current = null; // {id, form, nav, expiresAt, startedAt, offset, warned, ...}
  var busy = false;
  var skipArmedUntil = 0;
  var saveTimer = null;

  // --- notices -------------------------------------------------------------------------

  var notices = P.notices(noticeEl);
  var clearNotice = notices.clear;
  /* kind: "error" | "info" | "success"; actions: [{label, key, run}] */
  var showNotice = notices.show;
  var flash = notices.flash;

  // --- talking to the server -----------------------------------------------------------

  function togglePreview(button) {
    F.togglePreview(button, function () {
      showNotice("error", "The preview could not be loaded.", "Your text is kept; try again.", []);
    });
  }

  var KEPT = {
    session: "Sign in again in another tab, then come back and submit: your answer is kept here.",
    stale: "Reload the page (your draft is kept) and submit again.",
    server: "Your answer is kept here. Try again in a moment.",
  };

  function explainFailure(status, error) {
    return P.explainFailure(status, error, KEPT, itemFailure);
  }

  function itemFailure(status, code, error) {
    if (code === "lease_lost") {
      return {
        title: "Your time on this item ran out.",
        message:
          "It was given to another expert, so this answer cannot be saved. Your text is still " +
          "here if you want to copy it. Press N for the next item.",
        next: true,
      };
    }
    if (code === "worker_paused") {
      // A worker rule paused them in this project: say why, with its numbers.
      var reason = (error.details && error.details.reason) || error.message || "";
      return {
        title: "You are paused in this project.",
        message: reason + ". A manager of the project can reinstate you.",
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
    return null;
  }

  // --- loading items -------------------------------------------------------------------

  function loadNext() {
    if (busy) return;
    busy = true;
    taskEl.setAttribute("aria-busy", "true");
    ticking.stop();
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
    if (window.expertloopTelemetry) window.expertloopTelemetry.reset();
    var offset = Date.now() - Date.parse(data.server_time);
    var draft = drafts.read(data.assignment_id);
    current = {
      id: data.assignment_id,
      form: form,
      nav: F.navigator(form, focusSubmit),
      expiresAt: Date.parse(data.expires_at) + offset,
      startedAt: draft && draft.startedAt ? draft.startedAt : Date.now(),
      offset: offset,
      leaseSeconds: data.lease_seconds || 0,
      extensionsLeft: data.max_extensions === undefined ? 0 : data.max_extensions,
      warnMs: data.lease_seconds ? Math.min(WARN_MS, data.lease_seconds * 500) : WARN_MS,
      warned: false,
      extending: false,
      lastAutoExtend: 0,
    };
    initForm(form);
    if (draft && draft.values) restoreValues(form, draft.values);
    // Only a draft with something in it is news: a blank form is what every item opens with.
    if (draft && draft.values && !isBlank(form)) {
      flash("Your draft of this item was restored.");
    } else if (noticeEl.classList.contains("notice--error")) {
      clearNotice();
    }
    saveDraft();
    P.measureBars();
    window.scrollTo(0, 0);
    ticking.start();
    current.nav.start();
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
      if (action && action.getAttribute("data-action") === "report") openReport();
    });
    F.initWidgets(form, function (box) {
      if (current) current.nav.advanceFrom(box);
    });
  }

  function onEdit(event) {
    if (!current) return;
    applyConditions(current.form);
    F.clearErrorAt(event.target);
    if (event.type === "input" && isTyping(event.target)) extendWhileTyping();
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 250);
  }

  function saveDraft() {
    if (!current) return;
    drafts.write(current.id, {
      values: snapshot(current.form),
      startedAt: current.startedAt,
      savedAt: Date.now(),
    });
  }

  // --- submit and skip -----------------------------------------------------------------

  function submit() {
    if (!current || busy) return;
    var form = current.form;
    var missing = markMissing(form);
    if (missing.length) {
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
    var body = { answer: answer };
    // How the text was entered (telemetry.js): beside the answer, never in it.
    var entered = window.expertloopTelemetry ? window.expertloopTelemetry.take() : null;
    if (entered) body.telemetry = entered;
    request(
      "POST",
      "/api/v1/assignments/" + id + "/answer",
      body,
      // One key per assignment: a retry after a lost response stores one answer.
      { "Idempotency-Key": "web-assignment-" + id }
    )
      .then(function (response) {
        if (response.ok) {
          done();
          drafts.drop(id);
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
    if (current) drafts.drop(current.id);
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
          drafts.drop(id);
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

  // --- reporting a problem with the item ------------------------------------------------

  function openReport() {
    if (!current || busy || !reportDialog) return;
    reportForm.reset();
    reportDialog.showModal();
    var first = reportForm.querySelector('input[name="reason"]');
    if (first) first.focus();
  }

  function closeReport() {
    if (reportDialog && reportDialog.open) reportDialog.close();
  }

  function sendReport() {
    if (!current || busy) return;
    var picked = reportForm.querySelector('input[name="reason"]:checked');
    var error = document.getElementById("report-error");
    if (!picked) {
      error.hidden = false;
      var first = reportForm.querySelector('input[name="reason"]');
      if (first) first.focus();
      return;
    }
    error.hidden = true;
    var id = current.id;
    var note = reportForm.querySelector('textarea[name="note"]').value;
    busy = true;
    request("POST", "/api/v1/assignments/" + id + "/report", { reason: picked.value, note: note })
      .then(function (response) {
        busy = false;
        if (response.ok) {
          closeReport();
          drafts.drop(id);
          current = null;
          flash("Thank you: the item was reported and you will not get it again.");
          loadNext();
          return null;
        }
        return errorOf(response).then(function (failure) {
          closeReport();
          var why = explainFailure(response.status, failure);
          showNotice("error", why.title, why.message, []);
        });
      })
      .catch(function () {
        busy = false;
        closeReport();
        showNotice("error", "No connection to the server.", "The item was not reported.", []);
      });
  }

  if (reportForm) {
    reportForm.addEventListener("submit", function (event) {
      event.preventDefault();
      sendReport();
    });
    document.getElementById("report-cancel").addEventListener("click", closeReport);
    reportDialog.addEventListener("close", function () {
      if (current) current.nav.start();
    });
  }

  /* Keys while the report dialog is open: 1-4 choose a reason, Enter (Ctrl+Enter in the
     note) sends, Esc closes (the dialog's own). True when the key was handled. */
  function reportKey(event) {
    var key = event.key;
    if (key === "Enter" && (!isTyping(event.target) || event.ctrlKey || event.metaKey)) {
      if (event.target.matches && event.target.matches("button")) return false;
      event.preventDefault();
      sendReport();
      return true;
    }
    if (isTyping(event.target) || key.length !== 1) return false;
    var option = reportForm.querySelector('input[data-key="' + CSS.escape(key) + '"]');
    if (!option) return false;
    event.preventDefault();
    option.checked = true;
    option.focus();
    return true;
  }

  // --- extending the lease -------------------------------------------------------------

  function minutes(seconds) {
    var n = Math.round(seconds / 60);
    return n <= 1 ? "a minute" : n + " minutes";
  }

  function warnLease() {
    var more = current.leaseSeconds ? " by " + minutes(current.leaseSeconds) : "";
    if (current.extensionsLeft > 0) {
      showNotice(
        "warning",
        "Your time on this item is nearly over: " + F.clock(current.expiresAt - Date.now()) + " left.",
        "Press E to extend it" + more + "; typing in a text box extends it too. " +
          "After it ends, another expert may get the item.",
        [{ label: "Extend", key: "E", run: function () { extend(false); }, primary: true }]
      );
    } else {
      showNotice(
        "warning",
        "Your time on this item is nearly over: " + F.clock(current.expiresAt - Date.now()) + " left.",
        "It cannot be extended again: submit before it ends. Your draft is kept in this browser.",
        []
      );
    }
  }

  function extendWhileTyping() {
    if (!current || current.extensionsLeft <= 0 || current.extending) return;
    var now = Date.now();
    if (current.expiresAt - now > current.warnMs || current.expiresAt <= now) return;
    if (now - current.lastAutoExtend < AUTO_EXTEND_GAP_MS) return;
    current.lastAutoExtend = now;
    extend(true);
  }

  function extend(automatic) {
    if (!current || current.extending) return;
    var lease = current;
    lease.extending = true;
    request("POST", "/api/v1/assignments/" + lease.id + "/extend")
      .then(function (response) {
        lease.extending = false;
        if (response.ok) {
          return response.json().then(function (data) {
            lease.expiresAt = Date.parse(data.expires_at) + lease.offset;
            lease.extensionsLeft = data.max_extensions - data.extensions;
            lease.warned = false;
            if (current !== lease) return;
            flash(
              (automatic ? "You are typing, so your time was extended: " : "Extended: ") +
                F.clock(lease.expiresAt - Date.now()) + " left."
            );
            tick();
          });
        }
        return errorOf(response).then(function (error) {
          if (current !== lease) return;
          if (error.code === "extension_limit") {
            lease.extensionsLeft = 0;
            warnLease();
            return;
          }
          var why = explainFailure(response.status, error);
          showNotice("error", why.title, why.message, why.next
            ? [{ label: "Next item", key: "N", run: nextAfterLoss, primary: true }]
            : []);
          if (why.next) lease.lost = true;
        });
      })
      .catch(function () {
        lease.extending = false;
        if (current === lease && !automatic) {
          showNotice("error", "No connection to the server.", "Your time was not extended.", []);
        }
      });
  }

  // --- timer and lease -----------------------------------------------------------------

  var LEASE_TEXTS = {
    ended: "Lease ended",
    endedTitle:
      "Your lease on this item ended. Submit anyway: it is saved unless another expert took the item.",
    title: "Time left on your lease of this item",
  };

  function tick() {
    if (!current) return;
    var now = Date.now();
    var left = current.expiresAt - now;
    timerEl.textContent = clock(now - current.startedAt);
    P.showLease(leaseEl, left, LEASE_TEXTS);
    if (left > 0 && left <= current.warnMs && !current.warned) {
      current.warned = true;
      warnLease();
    }
  }

  // --- keyboard ------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var key = event.key;
    if (reportDialog && reportDialog.open) {
      reportKey(event);
      return;
    }
    if (isTyping(target)) {
      // A number box in the keyboard flow (a long scale): Enter moves on to the next question.
      var numberGroup =
        target.matches("input[type=number]") && target.closest("[data-keygroup]");
      if (key === "Enter" && !event.ctrlKey && !event.metaKey && numberGroup && current) {
        event.preventDefault();
        current.nav.advanceFrom(numberGroup);
        return;
      }
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
    if (P.commonKey(event, guidelines, [noticeEl])) return;
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
    if (key === "p" || key === "P") {
      event.preventDefault();
      openReport();
      return;
    }
    if (key === "e" || key === "E") {
      event.preventDefault();
      if (current.extensionsLeft > 0) extend(false);
      else warnLease();
      return;
    }
    current.nav.handleKey(event);
  });

  window.addEventListener("pagehide", saveDraft);
  drafts.prune();
  loadNext();
})();
