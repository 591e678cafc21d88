"""Red-teaming in a real browser (Chromium via Playwright), against a real chat-completions
server on 127.0.0.1: the expert chats with the target on the task page and labels the
attempt; the model's hostile output stays inert there, in the reviewer's page and on the
console's campaign page."""

from __future__ import annotations

from typing import Any

import browser_helpers
from browser_helpers import Page, needs_chromium, on_sqlite, sign_in

import llm_server
from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import answers, llm, reviews
from llm_server import ChatServer, Reply

pytestmark = needs_chromium

# The shared fixtures, requested by name.
browser = browser_helpers.browser
page = browser_helpers.page
chat_server = llm_server.chat_server

HOSTILE = (
    "Sure! <script>window.__pwned = 'script'; alert('script')</script> "
    "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\"> "
    '<a href="javascript:alert(1)">more</a> <svg onload="alert(2)"></svg>'
)
CHAT = "[data-redteam-chat]"


def _project(env: Env, server: ChatServer) -> dict[str, Any]:
    llm.add_provider(env.db, actor=None, name="target", base_url=server.base_url,
                     model="test-model", max_retries=0, timeout_seconds=10.0)
    manager, reviewer, worker = env.user(Role.MANAGER), env.user(Role.REVIEWER), env.user()
    project = env.project(manager, task_type="redteam", members=[reviewer, worker])
    env.items(manager, project, [{
        "external_id": "x-1",
        "payload": {"goal": "Make it produce markup that runs.",
                    "target": {"provider": "target", "system_prompt": "Be careful."}},
    }])
    return {"manager": manager, "reviewer": reviewer, "worker": worker, "project": project}


def _watch(page: Page) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def _inert(page: Page, scope: str, dialogs: list[str]) -> None:
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator(f"{scope} script, {scope} img, {scope} svg").count() == 0
    assert "<script>window.__pwned" in page.inner_text(scope)
    assert "<img src=x onerror=" in page.inner_text(scope)


@on_sqlite
def test_an_expert_chats_with_the_target_and_its_hostile_reply_stays_text(
    env: Env, page: Page, chat_server: ChatServer
) -> None:
    p = _project(env, chat_server)
    chat_server.script(Reply(text="No."), Reply(text=HOSTILE))
    dialogs = _watch(page)
    sign_in(page, env, p["worker"])
    page.goto(f"{env.url}/projects/{p['project']}")
    page.wait_for_selector(f"{CHAT}[data-live][data-next-index]", state="attached")
    page.fill("[data-redteam-message]", "Print some HTML for me.")
    page.click('[data-action="send-turn"]')
    page.wait_for_selector(f'{CHAT} [data-turn="1"]')
    # Ctrl+Enter in the message box sends the message, not the answer.
    page.fill("[data-redteam-message]", "Please, it's for a test page.")
    page.focus("[data-redteam-message]")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f'{CHAT} [data-turn="3"]')
    _inert(page, CHAT, dialogs)
    assert page.input_value("[data-redteam-message]") == ""

    # A reload shows the conversation again, still as text.
    page.reload()
    page.wait_for_selector(f'{CHAT} [data-turn="3"]')
    _inert(page, CHAT, dialogs)

    # Label it: non-violent crimes (8), success (1), severity 2, and an ideal response.
    page.check('input[name="category"][value="ncr"]')
    page.check('input[name="success"][value="true"]')
    page.check('input[name="severity"][value="2"]')
    page.fill('textarea[name="ideal_response"]', "I won't produce runnable markup here.")
    page.click('[data-action="submit"]')
    page.wait_for_selector("[data-done]")
    [row] = list(answers.iter_answers(env.db, actor=p["manager"], project_id=p["project"]))
    stored = row["answer"]
    assert (stored["category"], stored["success"], stored["severity"]) == ("ncr", True, 2)
    assert [t["content"] for t in stored["transcript"]][-1] == HOSTILE
    assert chat_server.calls == 2


@on_sqlite
def test_the_reviewer_and_the_console_show_the_hostile_reply_as_text(
    env: Env, page: Page, chat_server: ChatServer
) -> None:
    p = _project(env, chat_server)
    chat_server.script(Reply(text=HOSTILE))
    worker = env.client(p["worker"])
    lease = worker.post(f"/api/v1/projects/{p['project']}/assignments/next").json()
    url = f"/api/v1/assignments/{lease['assignment_id']}"
    assert worker.post(f"{url}/turns", json={"index": 0, "content": "go"}).status_code == 201
    done = worker.post(f"{url}/answer", json={"answer": {
        "category": "hte", "success": True, "severity": 3, "ideal_response": "No."}})
    assert done.status_code == 201, done.text
    reviews.request_reviews(env.db, actor=p["manager"], project_id=p["project"],
                            answer_ids=[done.json()["answer_id"]])
    dialogs = _watch(page)

    sign_in(page, env, p["reviewer"])
    page.goto(f"{env.url}/projects/{p['project']}/review")
    page.wait_for_selector("[data-redteam-held]")
    _inert(page, "[data-redteam-held]", dialogs)
    page.keyboard.press("a")  # accept: the success is confirmed
    page.wait_for_selector("[data-done], .notice--success")

    page.context.clear_cookies()
    sign_in(page, env, p["manager"], path=f"/manage/projects/{p['project']}/redteam")
    page.wait_for_selector('[data-chart="redteam-rates"][data-drawn="true"]')
    _inert(page, "#rt-recent", dialogs)
    assert page.inner_text("#rt-confirmed") == "1"
    assert "Red-team campaign" in page.inner_text(".console-tabs")
