"""In Chromium: the task page sends how the text was entered (typed, pasted) beside the
answer, and a paused worker is told why."""

from __future__ import annotations

import browser_helpers
from browser_helpers import EXAMPLE, Page, needs_chromium, on_sqlite, sign_in
from sqlalchemy import select

from db_fixtures import Env
from expertloop.domain import Role, WorkerRule
from expertloop.domain.worker_rules import Finding
from expertloop.services import worker_rules
from expertloop.store import tables as t

pytestmark = needs_chromium

browser = browser_helpers.browser
page = browser_helpers.page

PASTE = """(() => {
  const box = document.querySelector("textarea[name=response]");
  const data = new DataTransfer();
  data.setData("text/plain", "PASTED TEXT FROM ELSEWHERE");
  box.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true}));
})()"""


def _demonstration(env: Env) -> tuple[int, int]:
    example = EXAMPLE["demonstration"]
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], task_type=example.task_type,
                          config=example.config)
    env.items(manager, project, example.items)
    return worker.id, project


@on_sqlite
def test_typed_and_pasted_characters_are_sent_beside_the_answer(env: Env, page: Page) -> None:
    example = EXAMPLE["demonstration"]
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], task_type=example.task_type,
                          config=example.config)
    env.items(manager, project, example.items)
    sign_in(page, env, worker, f"/projects/{project}")
    page.wait_for_selector("#task-form")
    page.keyboard.press("t")
    page.keyboard.type("typed by hand")
    page.evaluate(PASTE)
    page.keyboard.insert_text(" and then some")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".notice--success, [data-done]")
    with env.db.read() as conn:
        row = conn.execute(select(t.AnswerTelemetry)).one()
        value = conn.execute(select(t.Answer.value)).scalar_one()
    assert row.pasted_chars == len("PASTED TEXT FROM ELSEWHERE")
    assert row.typed_chars >= len("typed by hand")
    assert "PASTED" not in str(value)  # a synthetic paste event inserts nothing
    assert "typed_chars" not in str(value)


@on_sqlite
def test_a_paused_worker_is_told_why_on_the_task_page(env: Env, page: Page) -> None:
    worker_id, project = _demonstration(env)
    worker_rules.pause_worker(
        env.db, project_id=project, worker_id=worker_id,
        finding=Finding(worker_id, WorkerRule.GOLD_ACCURACY, {},
                        "gold accuracy 0.20 (95% interval 0.06-0.44) after 12 gold answers",
                        True),
    )
    with env.db.read() as conn:
        username = conn.execute(select(t.User.username).where(t.User.id == worker_id)).scalar()
    from expertloop.domain import User

    sign_in(page, env, User(worker_id, str(username), Role.WORKER), f"/projects/{project}")
    page.wait_for_selector("#notice:not([hidden])")
    notice = page.inner_text("#notice")
    assert "You are paused in this project." in notice
    assert "gold accuracy 0.20 (95% interval 0.06-0.44)" in notice
