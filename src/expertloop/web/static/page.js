/* expertloop page pieces: what the task page (app.js) and the review page (review.js) share
 * around their forms: the notice area, drafts kept in localStorage, the countdown of the
 * lease (or hold) in the top bar, the guidelines panel and the keys every page handles the
 * same way. Loaded after forms.js and before the page's own script. Nothing here builds
 * HTML from untrusted text: only textContent is written.
 */
(function () {
  "use strict";

  var F = window.expertloopForms;

  // --- notices -------------------------------------------------------------------------

  /* The page's notice box: show(kind, title, message, actions) as F.showNotice, clear(),
     and flash(message), a success notice that goes away by itself. */
  function notices(box) {
    var flashTimer = null;
    function clear() {
      box.hidden = true;
      box.className = "notice";
      box.textContent = "";
    }
    function show(kind, title, message, actions) {
      F.showNotice(box, kind, title, message, actions);
    }
    function flash(message) {
      show("success", message, "", []);
      clearTimeout(flashTimer);
      flashTimer = setTimeout(function () {
        if (box.classList.contains("notice--success")) clear();
      }, 2500);
    }
    return { clear: clear, show: show, flash: flash };
  }

  // --- drafts --------------------------------------------------------------------------

  var DRAFT_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }

  /* Drafts stored as JSON under prefix + id; each carries savedAt (ms), and prune() drops
     those older than two weeks. Without storage every call does nothing. */
  function drafts(prefix) {
    function read(id) {
      var store = storage();
      if (!store) return null;
      try {
        return JSON.parse(store.getItem(prefix + id) || "null");
      } catch (e) {
        return null;
      }
    }
    function write(id, draft) {
      var store = storage();
      if (!store) return;
      try {
        store.setItem(prefix + id, JSON.stringify(draft));
      } catch (e) {
        /* storage full or disabled: the page still holds what was typed */
      }
    }
    function drop(id) {
      var store = storage();
      if (store) store.removeItem(prefix + id);
    }
    function prune() {
      var store = storage();
      if (!store) return;
      var now = Date.now();
      for (var i = store.length - 1; i >= 0; i--) {
        var key = store.key(i);
        if (!key || key.indexOf(prefix) !== 0) continue;
        try {
          var draft = JSON.parse(store.getItem(key) || "null");
          if (!draft || now - (draft.savedAt || 0) > DRAFT_MAX_AGE_MS) store.removeItem(key);
        } catch (e) {
          store.removeItem(key);
        }
      }
    }
    return { read: read, write: write, drop: drop, prune: prune };
  }

  // --- failures in words -------------------------------------------------------------

  /* {title, message, [next], [retry], [details]} for a refused or failed request (status 0:
     no answer). The cases both pages share take their messages from kept: {session, stale,
     server}, each saying what happens to what was typed; own(status, code, error) returns
     the page's own case between the stale page and a server problem, or null. */
  function explainFailure(status, error, kept, own) {
    var code = error.code || "";
    if (status === 401) {
      return { title: "Your session has ended.", message: kept.session };
    }
    if (code === "permission_denied" && /CSRF/.test(error.message || "")) {
      return { title: "This page is out of date.", message: kept.stale };
    }
    var why = own(status, code, error);
    if (why) return why;
    if (status >= 500 || status === 0) {
      return {
        title: "The server had a problem (" + status + ").",
        message: kept.server,
        retry: true,
      };
    }
    return { title: error.message || "Something went wrong (" + status + ").", message: "" };
  }

  // --- the lease countdown -------------------------------------------------------------

  /* Runs tick now and then every second until stop(); start() restarts it. */
  function ticker(tick) {
    var timer = null;
    function stop() {
      if (timer) clearInterval(timer);
      timer = null;
    }
    function start() {
      stop();
      tick();
      timer = setInterval(tick, 1000);
    }
    return { start: start, stop: stop };
  }

  /* Shows the time left (ms) in the top bar's lease box; low under two minutes. texts:
     {ended, endedTitle, title}, what the box says once the time is up and its tooltips. */
  function showLease(box, left, texts) {
    box.hidden = false;
    if (left <= 0) {
      box.textContent = texts.ended;
      box.className = "lease lease--over";
      box.title = texts.endedTitle;
    } else {
      box.textContent = F.clock(left) + " left";
      box.className = left < 120000 ? "lease lease--low" : "lease";
      box.title = texts.title;
    }
  }

  // --- guidelines ----------------------------------------------------------------------

  /* Wires the guidelines panel (#guidelines, its toggle and close buttons); returns
     {set(open), isOpen()}. */
  function guidelinesPanel() {
    var panel = document.getElementById("guidelines");
    var toggle = document.getElementById("guidelines-toggle");
    var close = document.getElementById("guidelines-close");
    function set(open) {
      panel.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      document.body.classList.toggle("guidelines-open", open);
    }
    toggle.addEventListener("click", function () {
      set(panel.hidden);
    });
    close.addEventListener("click", function () {
      set(false);
      toggle.focus();
    });
    return {
      set: set,
      isOpen: function () {
        return !panel.hidden;
      },
    };
  }

  // --- keyboard ------------------------------------------------------------------------

  /* The button in a shown box whose aria-keyshortcuts is key (any case), or null. */
  function shortcutIn(box, key) {
    if (!box || box.hidden) return null;
    var buttons = box.querySelectorAll("[aria-keyshortcuts]");
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].getAttribute("aria-keyshortcuts").toLowerCase() === key.toLowerCase()) {
        return buttons[i];
      }
    }
    return null;
  }

  /* The keys both pages treat alike outside text boxes: none with Ctrl, Meta or Alt; ? and
     G toggle the guidelines, Esc closes them; a letter presses the button of a notice in
     boxes (notice boxes, nulls allowed) that has it as its shortcut. True when the page
     has nothing more to do with the key. */
  function commonKey(event, guidelines, boxes) {
    var key = event.key;
    if (event.ctrlKey || event.metaKey || event.altKey) return true;
    if (key === "?" || key === "g" || key === "G") {
      event.preventDefault();
      guidelines.set(!guidelines.isOpen());
      return true;
    }
    if (key === "Escape" && guidelines.isOpen()) {
      event.preventDefault();
      guidelines.set(false);
      return true;
    }
    if (key.length === 1) {
      for (var i = 0; i < boxes.length; i++) {
        var shortcut = shortcutIn(boxes[i], key);
        if (shortcut) {
          event.preventDefault();
          shortcut.click();
          return true;
        }
      }
    }
    return false;
  }

  // --- the sticky bars ---------------------------------------------------------------

  /* Measures the top bar, and the keyboard bar and the form's actions at the bottom, into
     the CSS variables --sticky-top, --sticky-bottom and --keybar-h, from which app.css sets
     scroll-padding: a focused control is then scrolled clear of the bars, whose heights
     change when they wrap (high zoom, narrow windows). Setting a style property from a
     script is allowed by the page's Content-Security-Policy (no inline style is used). */
  function heightOf(selector) {
    var el = document.querySelector(selector);
    if (!el) return 0;
    var style = window.getComputedStyle(el);
    if (style.display === "none" || style.position === "static") return 0;
    return el.getBoundingClientRect().height;
  }

  function measureBars() {
    var root = document.documentElement.style;
    var keybar = heightOf(".keybar");
    root.setProperty("--keybar-h", Math.ceil(keybar) + "px");
    root.setProperty("--sticky-top", Math.ceil(heightOf(".topbar")) + "px");
    root.setProperty("--sticky-bottom", Math.ceil(keybar + heightOf(".task-form .actions")) + "px");
  }

  window.addEventListener("resize", measureBars);
  if (window.ResizeObserver) {
    var observer = new ResizeObserver(measureBars);
    ["topbar", "keybar"].forEach(function (name) {
      var el = document.querySelector("." + name);
      if (el) observer.observe(el);
    });
  }
  measureBars();

  window.expertloopPage = {
    measureBars: measureBars,
    commonKey: commonKey,
    drafts: drafts,
    explainFailure: explainFailure,
    guidelinesPanel: guidelinesPanel,
    notices: notices,
    showLease: showLease,
    ticker: ticker,
  };
})();
