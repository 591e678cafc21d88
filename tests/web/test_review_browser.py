"""The review page in a real browser (Debian's Chromium driven by Playwright), on SQLite.

A reviewer accepts with A, rejects with R, a reason and Enter, and fixes with F and the task's
own keys; each decision is checked in the database. The worker's answer shows selected in
every task type's form; mistakes are explained next to the decision and nothing typed is lost.
"""

from __future__ import annotations

from typing import Any

import browser_helpers
from browser_helpers import (
    EXAMPLE,
    Page,
    needs_chromium,
    no_horizontal_scroll,
    on_sqlite,
    phone,
    sign_in,
    unnamed_controls,
)
from sqlalchemy import select

from db_fixtures import Env, pairwise_item
from expertloop.domain import Review, Role, User
from expertloop.services import assignments, reviews
from expertloop.store import tables as t
from expertloop.tasks import get_task_type
from expertloop.web.examples import EXAMPLES

pytestmark = needs_chromium

# The shared fixtures, requested by name.
browser = browser_helpers.browser
page = browser_helpers.page


def queue(
    env: Env,
    *,
    task_type: str = "pairwise",
    config: dict[str, Any] | None = None,
    records: list[dict[str, Any]] | None = None,
    answer: dict[str, Any] | None = None,
    guidelines: str = "",
    reviewer: User | None = None,
) -> tuple[User, User, int]:
    """A project whose worker answered every item with ``answer`` (canonical terms), every
    answer queued for review; returns the manager, the reviewer and the project."""
    manager, worker = env.user(Role.MANAGER), env.user()
    reviewer = reviewer or env.user(Role.REVIEWER)
    project = env.project(
        manager,
        members=[reviewer, worker],
        task_type=task_type,
        config=config,
        guidelines=guidelines,
        answers_per_item=1,
    )
    env.items(manager, project, records or [pairwise_item(1)])
    task = get_task_type(task_type)
    while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
        with env.db.read() as conn:
            presentation = conn.execute(
                select(t.Assignment.presentation).where(t.Assignment.id == lease.id)
            ).scalar_one()
        assignments.submit_answer(
            env.db,
            actor=worker,
            assignment_id=lease.id,
            answer=task.to_shown(answer or {"choice": "A"}, presentation),
        )
    reviews.request_reviews(env.db, actor=manager, project_id=project, fraction=1.0)
    return manager, reviewer, project


def open_review(page: Page, env: Env, project: int) -> int:
    page.goto(f"{env.url}/projects/{project}/review")
    page.wait_for_selector("#review-item #task-form[data-prefill]")
    return int(page.get_attribute("#review-item", "data-review-id"))


def decided(env: Env, manager: User, review_id: int) -> Review:
    return reviews.get_review(env.db, actor=manager, review_id=review_id)


def wait_for_next(page: Page, review_id: int) -> None:
    """Until the decision is stored and the page shows what comes after ``review_id``."""
    page.wait_for_function(
        """(id) => {
             const item = document.getElementById('review-item');
             return document.querySelector('[data-review-done]') ||
                    (item && item.getAttribute('data-review-id') !== String(id));
           }""",
        arg=review_id,
    )


# --- the three decisions, keyboard only ---------------------------------------------------


@on_sqlite
def test_a_accepts_r_rejects_with_a_reason_and_the_queue_ends_empty(env: Env, page: Page) -> None:
    manager, reviewer, project = queue(env, records=[pairwise_item(1), pairwise_item(2)])
    sign_in(page, env, reviewer)
    first = open_review(page, env, project)
    assert page.is_checked("#task-form input[name=choice][value=A]")
    assert page.is_disabled("#task-form input[name=choice][value=B]")  # shown, not editable

    page.keyboard.press("a")
    wait_for_next(page, first)
    assert decided(env, manager, first).status == "accepted"
    assert f"Review #{first} accepted" in page.inner_text("#notice")
    second = int(page.get_attribute("#review-item", "data-review-id"))

    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reject-reason"
    page.keyboard.insert_text("Picks the unsafe answer.")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-review-done]")
    review = decided(env, manager, second)
    assert (review.status, review.comment) == ("rejected", "Picks the unsafe answer.")
    assert "The review queue is empty" in page.inner_text("#review-slot")


@on_sqlite
def test_f_lets_the_reviewer_fix_the_answer_with_the_tasks_own_keys(env: Env, page: Page) -> None:
    manager, reviewer, project = queue(env)
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    page.keyboard.press("f")
    page.wait_for_selector("#fix-form:not([hidden])")
    page.keyboard.press("3")  # the overall choice: B
    page.keyboard.press("2")  # how much better: clearly
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-review-done]")
    review = decided(env, manager, review_id)
    assert review.status == "fixed"
    assert review.fixed_answer == {"choice": "B", "strength": 2}


@on_sqlite
def test_a_fixed_demonstration_is_edited_in_its_text_box_and_saved_with_ctrl_enter(
    env: Env, page: Page
) -> None:
    example = EXAMPLE["demonstration"]
    manager, reviewer, project = queue(
        env,
        task_type="demonstration",
        config=example.config,
        records=example.items,
        answer={"response": "Yes, you can claim tax relief."},
    )
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    assert page.input_value("textarea[name=response]") == "Yes, you can claim tax relief."
    page.keyboard.press("f")
    assert page.evaluate("document.activeElement.name") == "response"
    page.keyboard.press("End")
    page.keyboard.insert_text(" Either £6 a week, or the exact extra costs with evidence.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("[data-review-done]")
    review = decided(env, manager, review_id)
    assert review.fixed_answer == {
        "response": "Yes, you can claim tax relief. Either £6 a week, or the exact extra costs with evidence."
    }


# --- cancelling and mistakes ----------------------------------------------------------------


@on_sqlite
def test_esc_cancels_a_rejection_and_a_fix_and_puts_the_workers_answer_back(
    env: Env, page: Page
) -> None:
    manager, reviewer, project = queue(env)
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    page.keyboard.press("r")
    page.keyboard.insert_text("not sure")
    page.keyboard.press("Escape")
    assert page.is_hidden("#reject-form")
    assert page.is_visible("[data-decide=accept]")

    page.keyboard.press("f")
    page.keyboard.press("3")
    assert page.is_checked("input[name=choice][value=B]")
    page.keyboard.press("Escape")
    assert page.is_hidden("#fix-form")
    assert page.is_checked("input[name=choice][value=A]")
    assert page.is_disabled("input[name=choice][value=B]")
    assert decided(env, manager, review_id).status == "pending"


@on_sqlite
def test_a_rejection_without_a_reason_is_not_sent(env: Env, page: Page) -> None:
    manager, reviewer, project = queue(env)
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/decision" in r.url else None)
    page.keyboard.press("r")
    page.keyboard.press("Enter")
    page.wait_for_selector("#decision-error:not([hidden])")
    assert "Say why" in page.inner_text("#decision-error")
    assert page.evaluate("document.activeElement.id") == "reject-reason"
    assert sent == []
    assert decided(env, manager, review_id).status == "pending"


@on_sqlite
def test_a_refused_fix_is_explained_inline_and_the_edit_is_kept(env: Env, page: Page) -> None:
    manager, reviewer, project = queue(env, answer={"choice": "A", "strength": 3})
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    page.keyboard.press("f")
    page.keyboard.press("Enter")  # nothing changed: the server refuses
    page.wait_for_selector("#decision-error:not([hidden])")
    assert "unchanged" in page.inner_text("#decision-error")
    assert page.is_visible("#fix-form")
    page.fill("#fix-comment", "strength was overstated")
    page.keyboard.press("Tab")  # out of the note, back to the keys
    page.focus("input[name=strength][value='3']")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-review-done]")
    review = decided(env, manager, review_id)
    assert review.fixed_answer == {"choice": "A", "strength": 1}
    assert review.comment == "strength was overstated"


@on_sqlite
def test_a_review_closed_meanwhile_is_explained_and_n_loads_the_next(env: Env, page: Page) -> None:
    _manager, reviewer, project = queue(env, records=[pairwise_item(1), pairwise_item(2)])
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    page.keyboard.press("r")
    page.keyboard.insert_text("wrong")
    # Another tab of the same reviewer decides it first.
    reviews.decide_review(env.db, actor=reviewer, review_id=review_id, outcome="accepted")
    page.keyboard.press("Enter")
    page.wait_for_selector("#decision-error:not([hidden])")
    assert "already decided" in page.inner_text("#decision-error")
    assert page.evaluate("document.activeElement.textContent").startswith("Next review")
    page.keyboard.press("n")
    wait_for_next(page, review_id)
    assert page.is_visible("#review-item")


@on_sqlite
def test_a_reload_keeps_a_half_written_reason(env: Env, page: Page) -> None:
    manager, reviewer, project = queue(env)
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    page.keyboard.press("r")
    page.keyboard.insert_text("The rationale contradicts")
    page.wait_for_timeout(400)  # drafts are saved a moment after typing
    page.reload()
    assert open_review(page, env, project) == review_id
    assert page.input_value("#reject-reason") == "The rationale contradicts"
    assert page.evaluate("document.activeElement.id") == "reject-reason"
    page.keyboard.insert_text(" the choice.")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-review-done]")
    assert decided(env, manager, review_id).comment == "The rationale contradicts the choice."
    assert page.evaluate(f"localStorage.getItem('expertloop:review-draft:{review_id}')") is None


@on_sqlite
def test_a_reload_in_the_middle_of_a_fix_brings_the_fix_back(env: Env, page: Page) -> None:
    manager, reviewer, project = queue(env)
    sign_in(page, env, reviewer)
    review_id = open_review(page, env, project)
    page.keyboard.press("f")
    page.keyboard.press("2")  # tie
    page.wait_for_timeout(400)
    page.reload()
    assert open_review(page, env, project) == review_id
    assert page.is_visible("#fix-form")
    assert page.is_checked("input[name=choice][value=tie]")
    assert page.is_enabled("input[name=choice][value=A]")  # still editable
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-review-done]")
    assert decided(env, manager, review_id).fixed_answer == {"choice": "tie"}


# --- every task type, untrusted text, phone width -----------------------------------------


@on_sqlite
def test_the_workers_answer_shows_exactly_in_every_task_types_form(env: Env, page: Page) -> None:
    reviewer = env.user(Role.REVIEWER)
    sign_in(page, env, reviewer)
    for example in EXAMPLES:
        _, _, project = queue(
            env,
            task_type=example.task_type,
            config=example.config,
            records=example.items,
            answer=example.extra["answer"],
            reviewer=reviewer,
        )
        open_review(page, env, project)
        # Reading the locked form back gives the stored answer: every part of it is shown.
        assert page.get_attribute("#task-form", "data-prefill") == "exact", example.task_type
        assert page.is_hidden("#stored-mismatch")
        assert page.locator("#task-form.is-locked").count() == 1
        assert unnamed_controls(page) == [], example.task_type


@on_sqlite
def test_scripts_in_the_item_and_the_answer_never_run(env: Env, page: Page) -> None:
    hostile = (
        "<script>window.__pwned = 1; alert(1)</script> <img src=x onerror=\"alert('img')\"> "
        "[click](javascript:alert('link'))"
    )
    _manager, reviewer, project = queue(
        env,
        records=[{"payload": {"prompt": hostile, "response_a": hostile, "response_b": "ok"}}],
        answer={"choice": "A", "rationale": hostile},
        guidelines=hostile,
    )
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, env, reviewer)
    open_review(page, env, project)
    page.click("#stored-answer summary")
    page.keyboard.press("g")
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#review-slot script, #review-slot img, #guidelines img").count() == 0
    assert page.input_value("textarea[name=rationale]") == hostile
    assert "<script>window.__pwned" in page.inner_text("#stored-answer")


@on_sqlite
def test_the_review_page_works_at_phone_width_with_buttons(env: Env, browser: Any) -> None:
    manager, reviewer, project = queue(env, records=[pairwise_item(1), pairwise_item(2)])
    with phone(browser) as small:
        sign_in(small, env, reviewer)
        link = small.locator(f"a[href='/projects/{project}/review']")
        assert "waiting" in link.inner_text()
        link.click()
        small.wait_for_selector("#task-form[data-prefill]")
        assert no_horizontal_scroll(small)
        first = int(small.get_attribute("#review-item", "data-review-id"))
        small.click("[data-decide=accept]")
        wait_for_next(small, first)
        second = int(small.get_attribute("#review-item", "data-review-id"))
        small.click("[data-decide=reject]")
        small.fill("#reject-reason", "Wrong.")
        small.click("#reject-form [type=submit]")
        small.wait_for_selector("[data-review-done]")
        assert decided(env, manager, first).status == "accepted"
        assert decided(env, manager, second).status == "rejected"
