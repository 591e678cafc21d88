/* expertloop red-teaming: the conversation with the target model on the task page.
 *
 * A red-team item's form (tasks/redteam.html) holds a chat list marked data-live. This
 * script loads the turns already stored for the assignment (a reload keeps them), sends the
 * expert's message with its turn index (a retry never calls the model twice), and shows the
 * reply. The model's output is hostile input: it is only ever written as textContent.
 */
(function () {
  "use strict";

  var F = window.expertloopForms;
  var taskEl = document.getElementById("task");
  if (!F || !taskEl) return;

  function turnsUrl(id) {
    return "/api/v1/assignments/" + encodeURIComponent(id) + "/turns";
  }

  function addTurn(chat, turn) {
    var li = document.createElement("li");
    li.className = "chat__msg chat__msg--" + (turn.role === "assistant" ? "assistant" : "user");
    li.setAttribute("data-turn", String(turn.index));
    var role = document.createElement("span");
    role.className = "chat__role";
    role.textContent =
      (turn.role === "assistant" ? "model" : "attacker") + " · turn " + String(turn.index);
    var body = document.createElement("div");
    body.className = "redteam__text";
    body.textContent = turn.content;
    li.appendChild(role);
    li.appendChild(body);
    chat.appendChild(li);
  }

  function render(chat, turns) {
    while (chat.firstChild) chat.removeChild(chat.firstChild);
    turns.forEach(function (turn) {
      addTurn(chat, turn);
    });
    chat.setAttribute("data-next-index", String(nextIndex(turns)));
  }

  function nextIndex(turns) {
    // The next expert message goes after the last reply; an unanswered message is retried
    // at its own index.
    var last = turns[turns.length - 1];
    if (last && last.role === "user") return last.index;
    return turns.length;
  }

  function status(chat, text) {
    var el = chat.parentNode.querySelector("[data-redteam-status]");
    if (el) el.textContent = text;
  }

  function load(chat) {
    var id = chat.getAttribute("data-assignment-id");
    F.request("GET", turnsUrl(id)).then(function (response) {
      if (!response.ok) return;
      return response.json().then(function (data) {
        render(chat, data.turns || []);
      });
    });
  }

  function send(chat) {
    var box = chat.parentNode.querySelector("[data-redteam-message]");
    var button = chat.parentNode.querySelector('[data-action="send-turn"]');
    var text = box.value;
    if (!text.trim() || chat.getAttribute("data-sending")) return;
    var id = chat.getAttribute("data-assignment-id");
    var index = Number(chat.getAttribute("data-next-index") || "0");
    chat.setAttribute("data-sending", "1");
    button.disabled = true;
    status(chat, "Waiting for the target's reply…");
    F.request("POST", turnsUrl(id), { index: index, content: text })
      .then(function (response) {
        if (!response.ok) {
          return F.errorOf(response).then(function (error) {
            status(chat, "Not sent: " + (error.message || "the server refused it") + ".");
            load(chat);
          });
        }
        return response.json().then(function (data) {
          box.value = "";
          render(chat, data.turns || []);
          status(chat, "");
        });
      })
      .catch(function () {
        status(chat, "No connection to the server; your message is kept, send it again.");
      })
      .then(function () {
        chat.removeAttribute("data-sending");
        button.disabled = false;
      });
  }

  function init() {
    var chat = taskEl.querySelector("[data-redteam-chat][data-live]");
    if (!chat || chat.getAttribute("data-ready")) return;
    chat.setAttribute("data-ready", "1");
    var box = chat.parentNode.querySelector("[data-redteam-message]");
    var button = chat.parentNode.querySelector('[data-action="send-turn"]');
    button.addEventListener("click", function () {
      send(chat);
    });
    box.addEventListener("keydown", function (event) {
      // Ctrl+Enter here sends the message, not the answer.
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        event.stopPropagation();
        send(chat);
      }
    });
    load(chat);
  }

  new MutationObserver(init).observe(taskEl, { childList: true });
  init();
})();
