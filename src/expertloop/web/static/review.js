/* expertloop review page: one answer at a time, accepted, rejected with a reason, or fixed.
 *
 * The server renders each review as HTML: the item in its task type's own form (the one
 * workers answer in), plus facts about the answer and the decision buttons. This script
 * selects the worker's answer in that form and locks it; F (fix) unlocks it so the reviewer
 * corrects the answer with the same keys a worker uses. Decisions go to
 * POST /ui/reviews/{id}/decision, which answers with the next review. What the reviewer
 * types is kept per review in localStorage until the decision is stored. No untrusted text
 * is built into HTML here: only textContent is written. What it shares with the task page
 * is in forms.js and page.js, both loaded first.
 */
(function () {
  "use strict";

  var page = document.getElementById("review");
  if (!page) return;

  var F = window.expertloopForms;
  var P = window.expertloopPage;
  var projectId = page.getAttribute("data-project-id");
  var slot = document.getElementById("review-slot");
  var noticeEl = document.getElementById("notice");
  var leaseEl = document.getElementById("lease");
  var guidelines = P.guidelinesPanel();
  var drafts = P.drafts("expertloop:review-draft:");
  var ticking = P.ticker(tick);

  /* {id, answer, el, form, nav, mode ("choose" | "reject" | "fix"), expiresAt, closed} */
  var current = null;
  var busy = false;
  var saveTimer = null;

  // --- notices -------------------------------------------------------------------------

  var notices = P.notices(noticeEl);
  var clearNotice = notices.clear;
  var showNotice = notices.show;
  var flash = notices.flash;

  /* Errors about the decision show next to it, so the reviewer sees them where they typed. */
  function decisionError(title, message, actions) {
    if (!current) return;
    F.showNotice(current.el.querySelector("#decision-error"), "error", title, message, actions);
  }

  function clearDecisionError() {
    if (!current) return;
    var box = current.el.querySelector("#decision-error");
    box.hidden = true;
    box.textContent = "";
  }

  var KEPT = {
    session: "Sign in again in another tab, then come back and try again: what you typed is kept.",
    stale: "Reload the page (what you typed is kept) and decide again.",
    server: "What you typed is kept here. Try again in a moment.",
  };

  function explain(status, error) {
    return P.explainFailure(status, error, KEPT, reviewFailure);
  }

  function reviewFailure(status, code, error) {
    if (code === "review_closed") {
      return {
        title: "This review is closed.",
        message: (error.message || "") + ". Press N for the next review.",
        next: true,
      };
    }
    if (status === 422) {
      var message = (error.message || "").replace(/^invalid answer: /, "");
      return {
        title: "Please check your decision.",
        message: message.charAt(0).toUpperCase() + message.slice(1),
        details: error.details,
      };
    }
    return null;
  }

  // --- drafts --------------------------------------------------------------------------

  function saveDraft() {
    if (!current || current.closed) return;
    var reason = current.el.querySelector("#reject-reason").value;
    var note = current.el.querySelector("#fix-comment").value;
    if (current.mode === "choose" && !reason && !note) {
      drafts.drop(current.id);
      return;
    }
    drafts.write(current.id, {
      mode: current.mode,
      reason: reason,
      note: note,
      values: current.mode === "fix" ? F.snapshot(current.form) : null,
      savedAt: Date.now(),
    });
  }

  function saveSoon() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 250);
  }

  // --- loading reviews -----------------------------------------------------------------

  function loadNext() {
    if (busy) return;
    busy = true;
    slot.setAttribute("aria-busy", "true");
    F.request("POST", "/ui/projects/" + encodeURIComponent(projectId) + "/reviews/next")
      .then(function (response) {
        if (!response.ok) {
          return F.errorOf(response).then(function (error) {
            busy = false;
            var why = explain(response.status, error);
            showNotice("error", why.title, why.message, [
              { label: "Try again", key: "R", run: loadNext, primary: true },
            ]);
          });
        }
        return response.json().then(function (data) {
          busy = false;
          clearNotice();
          show(data);
        });
      })
      .catch(function () {
        busy = false;
        showNotice("error", "No connection to the server.", "Check your network, then press R to try again.", [
          { label: "Try again", key: "R", run: loadNext, primary: true },
        ]);
      });
  }

  function show(data) {
    // Rendered and sanitised by the server; the page's Content-Security-Policy forbids
    // inline script, so markup from items or answers cannot run here.
    slot.innerHTML = data.html;
    slot.setAttribute("aria-busy", "false");
    ticking.stop();
    if (data.review_id === null || data.review_id === undefined) {
      current = null;
      leaseEl.hidden = true;
      return;
    }
    var el = document.getElementById("review-item");
    var form = document.getElementById("task-form");
    var offset = Date.now() - Date.parse(data.server_time);
    current = {
      id: data.review_id,
      answer: data.answer,
      el: el,
      form: form,
      nav: F.navigator(form, focusSave),
      mode: "choose",
      expiresAt: data.lease_expires_at ? Date.parse(data.lease_expires_at) + offset : null,
      closed: false,
    };
    initForm(form);
    F.fillAnswer(form, data.answer);
    // The form shows the answer exactly when reading it back gives the stored answer.
    var exact = F.sameAnswer(F.collectAnswer(form), data.answer);
    form.setAttribute("data-prefill", exact ? "exact" : "partial");
    if (!exact) {
      el.querySelector("#stored-answer").open = true;
      el.querySelector("#stored-mismatch").hidden = false;
    }
    F.setLocked(form, true);
    initDecision(el);
    restoreDraft();
    ticking.start();
    window.scrollTo(0, 0);
    if (current.mode === "choose") el.querySelector("#review-title").focus({ preventScroll: true });
  }

  function restoreDraft() {
    var draft = drafts.read(current.id);
    if (!draft) return;
    current.el.querySelector("#reject-reason").value = draft.reason || "";
    current.el.querySelector("#fix-comment").value = draft.note || "";
    if (draft.mode === "reject") setMode("reject");
    else if (draft.mode === "fix") {
      setMode("fix");
      if (draft.values) F.restoreValues(current.form, draft.values);
      saveDraft(); // setMode saved the form as it was before the draft came back
    }
    if (draft.mode === "reject" || draft.mode === "fix") flash("Your draft of this review was restored.");
  }

  function initForm(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (current && current.mode === "fix") saveFix();
    });
    function onEdit(event) {
      F.applyConditions(form);
      F.clearErrorAt(event.target);
      saveSoon();
    }
    form.addEventListener("input", onEdit);
    form.addEventListener("change", onEdit);
    form.addEventListener("click", function (event) {
      var action = event.target.closest("[data-action]");
      if (action && action.getAttribute("data-action") === "preview") {
        F.togglePreview(action, function () {
          showNotice("error", "The preview could not be loaded.", "Try again.", []);
        });
      }
    });
    F.initWidgets(form, function (box) {
      if (current) current.nav.advanceFrom(box);
    });
  }

  function initDecision(el) {
    el.querySelector("#decision").addEventListener("click", function (event) {
      var button = event.target.closest("[data-decide]");
      if (!button) return;
      var what = button.getAttribute("data-decide");
      if (what === "accept") accept();
      else if (what === "reject") setMode("reject");
      else if (what === "fix") setMode("fix");
      else if (what === "cancel") setMode("choose");
    });
    el.querySelector("#reject-form").addEventListener("submit", function (event) {
      event.preventDefault();
      sendReject();
    });
    el.querySelector("#fix-form").addEventListener("submit", function (event) {
      event.preventDefault();
      saveFix();
    });
    el.querySelector("#reject-reason").addEventListener("input", saveSoon);
    el.querySelector("#fix-comment").addEventListener("input", saveSoon);
  }

  // --- modes ---------------------------------------------------------------------------

  function focusSave() {
    var save = current && current.el.querySelector("#fix-form [type=submit]");
    if (save) save.focus();
  }

  function setMode(mode) {
    if (!current || current.closed || busy) return;
    var was = current.mode;
    current.mode = mode;
    clearDecisionError();
    Array.prototype.forEach.call(current.el.querySelectorAll("[data-panel]"), function (panel) {
      panel.hidden = panel.getAttribute("data-panel") !== mode;
    });
    current.el.classList.toggle("is-fixing", mode === "fix");
    if (was === "fix" && mode !== "fix") {
      // Cancelling a fix puts the worker's answer back.
      F.clearErrors(current.form);
      F.fillAnswer(current.form, current.answer);
      F.setLocked(current.form, true);
    }
    if (mode === "reject") {
      current.el.querySelector("#reject-reason").focus();
    } else if (mode === "fix") {
      if (was !== "fix") F.setLocked(current.form, false);
      // From the first question: a fix usually changes what the worker chose first.
      var first = F.groups(current.form)[0];
      if (first) current.nav.activate(first, true);
      else {
        var text = current.form.querySelector("textarea, input[type=text]");
        if (text) text.focus();
      }
    } else if (was !== "choose") {
      // Back on the button of the step just cancelled, so Enter or Space reopens it.
      current.el.querySelector('[data-decide="' + was + '"]').focus({ preventScroll: true });
    }
    saveDraft();
  }

  // --- decisions -----------------------------------------------------------------------

  function accept() {
    if (!current || current.mode !== "choose") return;
    decide({ outcome: "accepted" });
  }

  function sendReject() {
    if (!current || current.mode !== "reject") return;
    var field = current.el.querySelector("#reject-reason");
    if (!field.value.trim()) {
      decisionError("Say why the answer is rejected.", "The reason is kept with the decision.", []);
      field.focus();
      return;
    }
    decide({ outcome: "rejected", comment: field.value });
  }

  function saveFix() {
    if (!current || current.mode !== "fix") return;
    var form = current.form;
    var missing = F.markMissing(form);
    if (missing.length) {
      decisionError(
        "The fixed answer is incomplete.",
        "Missing: " + missing.map(F.legendOf).join(", ") + ".",
        []
      );
      focusQuestion(missing[0]);
      return;
    }
    decide({
      outcome: "fixed",
      answer: F.collectAnswer(form),
      comment: current.el.querySelector("#fix-comment").value,
    });
  }

  function focusQuestion(question) {
    if (question.matches("[data-keygroup]")) current.nav.activate(question, true);
    else {
      var control = question.querySelector("textarea, input:not([type=hidden])");
      if (control) control.focus();
    }
  }

  function decide(body) {
    if (!current || busy || current.closed) return;
    var review = current;
    busy = true;
    review.el.classList.add("is-busy");
    var buttons = review.el.querySelectorAll("#decision button");
    Array.prototype.forEach.call(buttons, function (b) {
      b.disabled = true;
    });
    function done() {
      busy = false;
      review.el.classList.remove("is-busy");
      Array.prototype.forEach.call(buttons, function (b) {
        b.disabled = false;
      });
    }
    F.request("POST", "/ui/reviews/" + encodeURIComponent(review.id) + "/decision", body)
      .then(function (response) {
        if (response.ok) {
          return response.json().then(function (data) {
            done();
            drafts.drop(review.id);
            var status = data.decided ? data.decided.status : "decided";
            show(data);
            flash("Review #" + review.id + " " + status + ".");
          });
        }
        return F.errorOf(response).then(function (error) {
          done();
          var why = explain(response.status, error);
          var actions = [];
          if (why.next) {
            review.closed = true;
            drafts.drop(review.id);
            actions.push({ label: "Next review", key: "N", run: nextAfterClosed, primary: true });
          } else if (why.retry) {
            actions.push({ label: "Try again", key: "", run: function () { decide(body); }, primary: true });
          }
          decisionError(why.title, why.message, actions);
          if (why.next) {
            // Nothing more can be done here: out of any text box, onto "Next review".
            review.el.querySelector("#decision-error button").focus();
          } else if (review.mode === "fix") {
            var bad = F.markErrors(review.form, why.details);
            if (bad) focusQuestion(bad);
          } else if (review.mode === "reject" && !why.next) {
            review.el.querySelector("#reject-reason").focus();
          }
        });
      })
      .catch(function () {
        done();
        decisionError("No connection to the server.", "What you typed is kept here. Try again when you are back online.", [
          { label: "Try again", key: "", run: function () { decide(body); }, primary: true },
        ]);
      });
  }

  function nextAfterClosed() {
    current = null;
    loadNext();
  }

  // --- the hold on the review ----------------------------------------------------------

  var HOLD_TEXTS = {
    ended: "Hold ended",
    endedTitle:
      "This answer is no longer held for you. Decide now: it is saved unless another reviewer took it.",
    title: "Time this answer stays held for you",
  };

  function tick() {
    if (!current || current.expiresAt === null) {
      leaseEl.hidden = true;
      return;
    }
    P.showLease(leaseEl, current.expiresAt - Date.now(), HOLD_TEXTS);
  }

  // --- keyboard ------------------------------------------------------------------------

  function onTextKey(event) {
    var target = event.target;
    var key = event.key;
    if (target.id === "reject-reason") {
      if (key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendReject();
      } else if (key === "Escape") {
        event.preventDefault();
        setMode("choose");
      }
      return;
    }
    if (target.id === "fix-comment") {
      if (key === "Escape") {
        event.preventDefault();
        target.blur();
      }
      return; // Enter submits its form: the fix
    }
    if (!current || current.mode !== "fix" || !current.form.contains(target)) return;
    if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      saveFix();
    } else if (key === "Escape") {
      event.preventDefault();
      current.nav.leaveTextBox(target);
    }
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var key = event.key;
    if (F.isTyping(target) && !target.readOnly) {
      onTextKey(event);
      return;
    }
    var errorBox = current ? current.el.querySelector("#decision-error") : null;
    if (P.commonKey(event, guidelines, [noticeEl, errorBox])) return;
    if (!current || busy || current.closed) return;
    var lower = key.toLowerCase();
    if (current.mode === "fix") {
      if (key === "Escape") {
        event.preventDefault();
        setMode("choose");
      } else if (key === "Enter") {
        if (target.matches && target.matches("button:not([type=submit]), a, summary")) return;
        event.preventDefault();
        saveFix();
      } else {
        current.nav.handleKey(event);
      }
      return;
    }
    if (current.mode === "reject") {
      if (key === "Escape") {
        event.preventDefault();
        setMode("choose");
      } else if (lower === "r") {
        event.preventDefault();
        current.el.querySelector("#reject-reason").focus();
      }
      return;
    }
    if (lower === "a") {
      event.preventDefault();
      accept();
    } else if (lower === "r") {
      event.preventDefault();
      setMode("reject");
    } else if (lower === "f") {
      event.preventDefault();
      setMode("fix");
    }
  });

  window.addEventListener("pagehide", saveDraft);
  drafts.prune();
  loadNext();
})();
