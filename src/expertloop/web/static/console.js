/* expertloop console: the project forms' live previews and the username suggestions.
 *
 * - A form with data-preview-form re-renders the preview of an item (the task type's own
 *   form, rendered and sanitised on the server by POST /ui/manage/preview) whenever one of
 *   its config.* fields changes; the server's validation messages appear next to the field.
 * - A textarea with data-markdown-source shows its Markdown rendered by POST /ui/preview.
 * - An input with data-user-search suggests usernames from GET /api/v1/users?q=.
 * - Choosing a task type reloads the new-project form for it.
 * Only server-rendered HTML and textContent are written into the page.
 */
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
      credentials: "same-origin",
      cache: "no-store",
      body: JSON.stringify(body),
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fn.apply(null, args);
      }, ms);
    };
  }

  // --- choosing a task type -------------------------------------------------------------

  var picker = document.querySelector("[data-task-type-picker]");
  if (picker) {
    picker.addEventListener("change", function () {
      picker.form.submit();
    });
  }

  // --- the item preview -----------------------------------------------------------------

  function configErrorSlots(form) {
    return Array.prototype.filter.call(form.querySelectorAll("[data-error-for]"), function (el) {
      return el.getAttribute("data-error-for").indexOf("config.") === 0;
    });
  }

  function showConfigErrors(form, details) {
    var slots = configErrorSlots(form);
    slots.forEach(function (slot) {
      slot.textContent = "";
      slot.hidden = true;
      var input = form.querySelector('[name="' + slot.getAttribute("data-error-for") + '"]');
      if (input) input.removeAttribute("aria-invalid");
    });
    var unplaced = [];
    (details || []).forEach(function (d) {
      var field = String(d.field || "");
      var slot = null;
      slots.forEach(function (s) {
        var name = s.getAttribute("data-error-for");
        if (field === name || field.indexOf(name + ".") === 0) slot = s;
      });
      var text = String(d.message || "");
      if (slot) {
        var rest = field.slice(slot.getAttribute("data-error-for").length + 1);
        slot.textContent = rest ? rest + ": " + text : text;
        slot.hidden = false;
        var input = form.querySelector('[name="' + slot.getAttribute("data-error-for") + '"]');
        if (input) input.setAttribute("aria-invalid", "true");
      } else {
        unplaced.push(field ? field + ": " + text : text);
      }
    });
    return unplaced;
  }

  function setupPreview(form) {
    var target = document.querySelector("[data-preview]");
    var message = document.querySelector("[data-preview-error]");
    if (!target) return;
    var sequence = 0;
    // The preview answers nothing: its form never submits.
    target.addEventListener("submit", function (event) {
      event.preventDefault();
    });

    function fields() {
      var found = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.name.indexOf("config.") !== 0) return;
        if (el.type === "checkbox") {
          if (el.checked) found[el.name] = el.value || "true";
        } else {
          found[el.name] = el.value;
        }
      });
      return found;
    }

    function refresh() {
      var mine = ++sequence;
      target.setAttribute("aria-busy", "true");
      post("/ui/manage/preview", { task_type: form.getAttribute("data-task-type"), fields: fields() })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (result) {
          if (mine !== sequence) return;
          target.removeAttribute("aria-busy");
          if (result.ok) {
            showConfigErrors(form, []);
            target.innerHTML = result.data.html; // rendered and sanitised by the server
            if (message) {
              message.hidden = true;
              message.textContent = "";
            }
          } else {
            var error = (result.data && result.data.error) || {};
            var unplaced = showConfigErrors(form, error.details);
            if (message) {
              message.textContent =
                "The preview waits for a valid configuration" +
                (unplaced.length ? ": " + unplaced.join("; ") : ".");
              message.hidden = false;
            }
          }
        })
        .catch(function () {
          if (mine !== sequence) return;
          target.removeAttribute("aria-busy");
          if (message) {
            message.textContent = "The preview could not be loaded.";
            message.hidden = false;
          }
        });
    }

    var later = debounce(refresh, 300);
    form.addEventListener("input", function (event) {
      if (event.target.name && event.target.name.indexOf("config.") === 0) later();
    });
    form.addEventListener("change", function (event) {
      if (event.target.type === "checkbox" && event.target.name.indexOf("config.") === 0) later();
    });
    if (!target.querySelector("form")) refresh();
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-preview-form]"), setupPreview);

  // --- the guidelines' Markdown preview -----------------------------------------------------

  Array.prototype.forEach.call(document.querySelectorAll("[data-markdown-source]"), function (source) {
    var field = source.closest("[data-field]");
    var shown = field ? field.querySelector("[data-markdown-preview]") : null;
    if (!shown) return;
    var render = debounce(function () {
      post("/ui/preview", { text: source.value })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (data) shown.innerHTML = data.html; // sanitised by the server
        })
        .catch(function () {});
    }, 300);
    source.addEventListener("input", render);
  });

  // --- username suggestions ---------------------------------------------------------------

  Array.prototype.forEach.call(document.querySelectorAll("[data-user-search]"), function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var suggest = debounce(function () {
      var q = input.value.trim();
      if (!q) return;
      fetch("/api/v1/users?limit=10&q=" + encodeURIComponent(q), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      })
        .then(function (response) {
          return response.ok ? response.json() : [];
        })
        .then(function (people) {
          while (list.firstChild) list.removeChild(list.firstChild);
          people.forEach(function (person) {
            var option = document.createElement("option");
            option.value = person.username;
            option.textContent = person.username + " (" + person.role + (person.is_active ? "" : ", suspended") + ")";
            list.appendChild(option);
          });
        })
        .catch(function () {});
    }, 200);
    input.addEventListener("input", suggest);
  });
})();
