"""The worker pages in a real browser (Chromium via Playwright, SQLite): My work, reporting a
problem with an item, the lease warning and its extension (by key and by typing), and the
walk-through fixes that are about behaviour in the page."""

from __future__ import annotations

from typing import Any

import browser_helpers
import pytest
from browser_helpers import EXAMPLE, Page, needs_chromium, on_sqlite, sign_in
from sqlalchemy import text

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.services import answers, assignments, reviews
from expertloop.web.examples import Example

pytestmark = needs_chromium

browser = browser_helpers.browser
page = browser_helpers.page


def _setup(
    env: Env, example: Example, *, config: dict[str, Any] | None = None, **options: Any
) -> tuple[User, User, int]:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(
        manager, members=[worker], task_type=example.task_type,
        config=example.config if config is None else config, guidelines=example.guidelines,
        **options,
    )
    env.items(manager, project, example.items)
    return manager, worker, project


def _open(page: Page, env: Env, project: int) -> int:
    page.goto(f"{env.url}/projects/{project}")
    page.wait_for_selector("#task-form")
    return int(page.get_attribute("#task-form", "data-assignment-id"))


def _extensions(env: Env, assignment: int) -> int:
    with env.db.read() as conn:
        return int(
            conn.execute(
                text("SELECT extensions FROM assignments WHERE id = :id"), {"id": assignment}
            ).scalar_one()
        )


def _stored(env: Env, manager: User, project: int) -> list[dict[str, Any]]:
    return list(answers.iter_answers(env.db, actor=manager, project_id=project))


# --- My work ---------------------------------------------------------------------------------


@on_sqlite
def test_my_work_shows_my_rejected_answer_with_the_reviewers_reason(env: Env, page: Page) -> None:
    manager, worker, project = _setup(env, EXAMPLE["label"], answers_per_item=1)
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    answer = assignments.submit_answer(
        env.db, actor=worker, assignment_id=lease.id, answer={"label": "Urgent"}
    )
    reviews.request_reviews(
        env.db, actor=manager, project_id=project, answer_ids=[answer.answer_id]
    )
    review = reviews.next_review(env.db, actor=manager, project_id=project)
    assert review is not None
    reviews.decide_review(
        env.db, actor=manager, review_id=review.id, outcome="rejected",
        comment="The symptoms are months old: routine.", requeue=False,
    )
    sign_in(page, env, worker)
    page.click("text=My work")
    page.wait_for_url(f"{env.url}/me")
    card = page.locator(f'[data-answer-id="{answer.answer_id}"]')
    assert "Rejected" in card.inner_text()
    assert "The symptoms are months old: routine." in card.inner_text()
    assert page.inner_text('[data-stat="reviewed"]') == "1"
    assert browser_helpers.no_horizontal_scroll(page)


# --- report a problem ---------------------------------------------------------------------


@on_sqlite
def test_a_reported_item_is_skipped_and_appears_in_the_managers_flags(env: Env, page: Page) -> None:
    manager, worker, project = _setup(env, EXAMPLE["pairwise"], answers_per_item=1)
    sign_in(page, env, worker)
    first = _open(page, env, project)
    assert "report a problem" in page.inner_text(".keybar").lower()
    page.keyboard.press("p")
    page.wait_for_selector("#report[open]")
    page.keyboard.press("2")
    page.fill("#report-note", "Both responses are the same text.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#report:not([open])", state="attached")
    page.wait_for_selector(f"[data-done], #task-form:not([data-assignment-id='{first}'])")
    assert page.evaluate(f"localStorage.getItem('expertloop:draft:{first}')") is None
    # The manager sees it on the Flags page, with the reason and the note.
    manager_page = page.context.browser.new_context().new_page()
    try:
        sign_in(manager_page, env, manager, f"/manage/projects/{project}/flags")
        flags = manager_page.inner_text("#reported-items")
        assert "Ambiguous" in flags
        assert "Both responses are the same text." in flags
    finally:
        manager_page.context.close()


@on_sqlite
def test_the_report_dialog_asks_for_a_reason_and_escape_cancels_it(env: Env, page: Page) -> None:
    _, worker, project = _setup(env, EXAMPLE["pairwise"])
    sign_in(page, env, worker)
    first = _open(page, env, project)
    page.click("[data-action=report]")
    page.wait_for_selector("#report[open]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#report-error:not([hidden])")
    page.keyboard.press("Escape")
    page.wait_for_selector("#report:not([open])", state="attached")
    assert int(page.get_attribute("#task-form", "data-assignment-id")) == first


# --- the lease: warning, extension by key, extension by typing --------------------------------


@on_sqlite
def test_a_lease_about_to_end_is_warned_and_the_e_key_extends_it(
    env: Env, page: Page, clock: FakeClock
) -> None:
    # A 90-second lease is warned about in its last 45 seconds (a longer one in its last two
    # minutes): the server's clock moves 50 s on, and the reloaded page sees 40 s left.
    _, worker, project = _setup(env, EXAMPLE["pairwise"], lease_seconds=90)
    sign_in(page, env, worker)
    assignment = _open(page, env, project)
    assert page.locator(".notice--warning").count() == 0
    clock.advance(50)
    page.reload()
    page.wait_for_selector(".notice--warning")
    assert "nearly over" in page.inner_text("#notice")
    assert "Press E" in page.inner_text("#notice")
    page.keyboard.press("e")
    page.wait_for_selector(".notice--success")
    assert _extensions(env, assignment) == 1
    assert "Extended" in page.inner_text("#notice")


@on_sqlite
def test_typing_in_a_long_answer_extends_the_lease_at_most_once_in_a_while(
    env: Env, page: Page, clock: FakeClock
) -> None:
    _, worker, project = _setup(env, EXAMPLE["demonstration"], lease_seconds=60)
    sign_in(page, env, worker)
    assignment = _open(page, env, project)
    page.keyboard.insert_text("Typing early does not extend. ")
    page.wait_for_timeout(150)
    assert _extensions(env, assignment) == 0
    clock.advance(40)  # 20 s left: within the warning
    page.reload()
    page.wait_for_selector("#task-form")
    page.keyboard.press("End")
    page.keyboard.insert_text("The first part of a long answer. ")
    page.wait_for_selector(".notice--success")
    assert "your time was extended" in page.inner_text("#notice")
    assert _extensions(env, assignment) == 1
    for _ in range(5):
        page.keyboard.type("more ")
    page.wait_for_timeout(150)
    assert _extensions(env, assignment) == 1  # throttled


@on_sqlite
def test_an_extension_past_the_project_limit_is_explained(
    env: Env, page: Page, clock: FakeClock
) -> None:
    _, worker, project = _setup(
        env, EXAMPLE["pairwise"], lease_seconds=60, max_lease_extensions=0
    )
    sign_in(page, env, worker)
    _open(page, env, project)
    clock.advance(40)
    page.reload()
    page.wait_for_selector(".notice--warning")
    assert "cannot be extended" in page.inner_text("#notice")


# --- walk-through fixes ------------------------------------------------------------------------


@on_sqlite
def test_a_long_scale_takes_its_digits_and_never_changes_the_question_before(
    env: Env, page: Page
) -> None:
    config = {"criteria": [{"name": "HbA1c"}, {"name": "severity", "min": 0, "max": 20}]}
    manager, worker, project = _setup(env, EXAMPLE["rating"], config=config)
    sign_in(page, env, worker)
    _open(page, env, project)
    assert page.locator("legend", has_text="HbA1c").count() == 1
    page.keyboard.press("4")  # HbA1c
    assert page.evaluate("document.activeElement.type") == "number"
    page.keyboard.type("17")
    page.keyboard.press("Enter")  # leaves the box: the next open question, or submit
    assert page.is_checked("input[name=score-0][value='4']")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-done]")
    (row,) = _stored(env, manager, project)
    assert row["answer"]["scores"] == {"HbA1c": 4, "severity": 17}


@on_sqlite
def test_a_ten_point_scale_is_answered_with_keys(env: Env, page: Page) -> None:
    config = {"criteria": [{"name": "pain", "min": 1, "max": 10}]}
    manager, worker, project = _setup(env, EXAMPLE["rating"], config=config)
    sign_in(page, env, worker)
    _open(page, env, project)
    page.keyboard.press("0")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-done]")
    (row,) = _stored(env, manager, project)
    assert row["answer"]["scores"] == {"pain": 10}


@on_sqlite
def test_no_draft_notice_when_nothing_was_typed(env: Env, page: Page) -> None:
    _, worker, project = _setup(env, EXAMPLE["demonstration"])
    sign_in(page, env, worker)
    _open(page, env, project)
    page.reload()
    page.wait_for_selector("#task-form")
    page.wait_for_timeout(100)
    assert "restored" not in page.inner_text("#notice")
    page.keyboard.insert_text("Something")
    page.wait_for_timeout(400)  # the draft is saved 250 ms after the last key
    page.reload()
    page.wait_for_selector("#task-form")
    assert "restored" in page.inner_text("#notice")


@on_sqlite
def test_writing_tasks_open_in_their_text_box_and_the_t_key_is_shown(env: Env, page: Page) -> None:
    _, worker, project = _setup(env, EXAMPLE["demonstration"])
    sign_in(page, env, worker)
    _open(page, env, project)
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    assert "text box" in page.inner_text(".keybar")
    assert "T" in page.locator(".keybar kbd").all_inner_texts()


@on_sqlite
def test_the_rank_next_buttons_stay_inside_their_cards(env: Env, page: Page) -> None:
    _, worker, project = _setup(env, EXAMPLE["ranking"])
    sign_in(page, env, worker)
    _open(page, env, project)
    page.keyboard.press("1")
    page.wait_for_selector(".panel.is-ranked")
    spills = page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-rank-item]')).filter(card => {
             const c = card.getBoundingClientRect();
             return Array.from(card.querySelectorAll('.panel__bar > *')).some(el => {
               const r = el.getBoundingClientRect();
               return r.right > c.right + 0.5 || r.left < c.left - 0.5;
             });
           }).length"""
    )
    assert spills == 0


def _clear_of_the_bars(page: Page) -> dict[str, float]:
    return page.evaluate(
        """() => {
             const box = document.activeElement.getBoundingClientRect();
             const top = document.querySelector('.topbar').getBoundingClientRect().bottom;
             const bars = ['.keybar', '.task-form .actions']
               .map(s => document.querySelector(s))
               .filter(el => el && getComputedStyle(el).display !== 'none')
               .map(el => el.getBoundingClientRect().top);
             return {boxTop: box.top, topBar: top, bottomBars: Math.min(...bars)};
           }"""
    )


@on_sqlite
@pytest.mark.parametrize("zoom", [1, 2], ids=["100%", "200%"])
def test_the_focused_text_box_is_scrolled_clear_of_the_sticky_bars(
    env: Env, browser: Any, zoom: int
) -> None:
    long_prompt = "A long case history. " * 300
    example = EXAMPLE["pairwise"]
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    env.items(manager, project, [{"payload": {
        "prompt": long_prompt, "response_a": long_prompt, "response_b": long_prompt}}])
    assert example.task_type == "pairwise"
    # 200% zoom: the same window shows half as many CSS pixels each way.
    context = browser.new_context(
        viewport={"width": 1280 // zoom, "height": 900 // zoom}, device_scale_factor=zoom
    )
    try:
        tab = context.new_page()
        sign_in(tab, env, worker)
        _open(tab, env, project)
        tab.keyboard.press("t")  # the rationale box, far down the page
        tab.wait_for_timeout(100)
        where = _clear_of_the_bars(tab)
        assert where["boxTop"] >= where["topBar"] - 0.5, where
        assert where["boxTop"] + 24 <= where["bottomBars"], where
    finally:
        context.close()
