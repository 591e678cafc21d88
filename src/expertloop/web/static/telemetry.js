/* expertloop task page: how an answer's text was entered (typed or pasted), for the
 * project's worker rules. Counts characters typed and pasted into the item's text fields
 * and the time spent typing (pauses over 5 s between keystrokes are not counted). Only
 * these three numbers are kept and sent with the answer, as "telemetry", beside the answer
 * and never in it; no text, no keystrokes. app.js calls take() when it submits and reset()
 * when it shows a new item.
 */
(function () {
  "use strict";

  var PAUSE_MS = 5000;
  var counts = { typed: 0, pasted: 0, typingMs: 0 };
  var lastKeyAt = 0;

  function isTextField(el) {
    if (!el || !el.tagName) return false;
    if (el.tagName === "TEXTAREA") return true;
    return el.tagName === "INPUT" && (el.type === "text" || el.type === "search" || el.type === "");
  }

  function onInput(event) {
    if (!isTextField(event.target)) return;
    var kind = event.inputType || "";
    if (kind === "insertFromPaste" || kind === "insertFromDrop") return; // counted on paste
    if (kind.indexOf("insert") !== 0) return; // deletions, undo: not typing new text
    var n = event.data ? event.data.length : 1;
    counts.typed += n;
    var now = Date.now();
    if (lastKeyAt && now - lastKeyAt < PAUSE_MS) counts.typingMs += now - lastKeyAt;
    lastKeyAt = now;
  }

  function onPaste(event) {
    if (!isTextField(event.target)) return;
    var data = event.clipboardData ? event.clipboardData.getData("text") : "";
    counts.pasted += data.length;
  }

  function onDrop(event) {
    if (!isTextField(event.target)) return;
    var data = event.dataTransfer ? event.dataTransfer.getData("text") : "";
    counts.pasted += data.length;
  }

  document.addEventListener("input", onInput, true);
  document.addEventListener("paste", onPaste, true);
  document.addEventListener("drop", onDrop, true);

  window.expertloopTelemetry = {
    /* The numbers so far, or null when no text was entered (nothing to send). */
    take: function () {
      if (!counts.typed && !counts.pasted) return null;
      return {
        typed_chars: counts.typed,
        pasted_chars: counts.pasted,
        typing_ms: Math.round(counts.typingMs),
      };
    },
    reset: function () {
      counts = { typed: 0, pasted: 0, typingMs: 0 };
      lastKeyAt = 0;
    },
  };
})();
