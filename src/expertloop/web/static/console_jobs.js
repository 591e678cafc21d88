/* expertloop console: follows a background job's progress (an import or an export).
 *
 * An element with data-poll-url (the JSON to poll) and data-poll-kind ("import": an import
 * of GET /api/v1/projects/{id}/imports/{import_id}; "job": a job of GET /api/v1/jobs/{id})
 * holds a [data-progress-text] and a <progress data-progress-bar>. They are updated every
 * second; once the work has finished the page is reloaded, and the server shows the outcome.
 * Only textContent is written.
 */
(function () {
  "use strict";

  var box = document.querySelector("[data-poll-url]");
  if (!box) return;
  var url = box.getAttribute("data-poll-url");
  var kind = box.getAttribute("data-poll-kind");
  var text = box.querySelector("[data-progress-text]");
  var bar = box.querySelector("[data-progress-bar]");
  var failures = 0;

  function show(done, total, message) {
    if (text) text.textContent = message;
    if (!bar) return;
    if (total) {
      bar.max = total;
      bar.value = Math.min(done, total);
    } else {
      bar.removeAttribute("value");
    }
  }

  function percent(done, total) {
    return total ? " (" + Math.floor((100 * done) / total) + "%)" : "";
  }

  function update(data) {
    if (kind === "import") {
      if (data.phase === "done") return true;
      if (data.phase === "storing") {
        show(data.items_done, data.items_total,
          "Storing items: " + data.items_done + " of " + data.items_total +
          percent(data.items_done, data.items_total));
      } else if (data.phase === "validating") {
        show(0, null, "Checking every line");
      } else {
        show(0, null, "Waiting for a worker to start the import");
      }
      return false;
    }
    if (data.status === "succeeded" || data.status === "failed" || data.status === "cancelled") {
      return true;
    }
    if (data.status === "running") {
      show(data.progress_done, data.progress_total,
        "Running: " + data.progress_done + (data.progress_total ? " of " + data.progress_total : "") +
        " steps" + percent(data.progress_done, data.progress_total));
    } else {
      show(0, null, "Waiting for a worker to start");
    }
    return false;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        if (update(data)) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        failures += 1;
        if (text && failures > 2) text.textContent = "Cannot reach the server; still trying.";
        window.setTimeout(poll, Math.min(1000 * failures, 10000));
      });
  }

  window.setTimeout(poll, 500);
})();
