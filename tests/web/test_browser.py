"""The web UI in a real browser (Debian's Chromium driven by Playwright), on SQLite.

Every task type is answered with the keyboard alone and the stored answer checked; a
reload keeps a draft; hostile item text stays inert; errors are shown in words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import browser_helpers
import pytest
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
from sqlalchemy import update

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.services import answers, assignments, projects
from expertloop.services.clock import utcnow
from expertloop.store import tables as t
from expertloop.tasks import TASK_TYPES, get_task_type
from expertloop.web.examples import EXAMPLES, Example

pytestmark = needs_chromium

# The shared fixtures, requested by name.
browser = browser_helpers.browser
page = browser_helpers.page


def open_task(page: Page, env: Env, project: int) -> int:
    """Open the project's task page and return the shown assignment's id."""
    if not page.url.startswith(env.url):
        raise AssertionError("sign in first")
    page.goto(f"{env.url}/projects/{project}")
    page.wait_for_selector("#task-form")
    return int(page.get_attribute("#task-form", "data-assignment-id"))


def setup_example(
    env: Env, example: Example, *, config: dict[str, Any] | None = None, **options: Any
) -> tuple[User, User, int]:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(
        manager,
        members=[worker],
        task_type=example.task_type,
        config=example.config if config is None else config,
        guidelines=example.guidelines,
        **options,
    )
    env.items(manager, project, example.items)
    return manager, worker, project


def stored_answers(env: Env, manager: User, project: int) -> list[dict[str, Any]]:
    return list(answers.iter_answers(env.db, actor=manager, project_id=project))


def shown(task_type: str, row: dict[str, Any]) -> dict[str, Any]:
    """A stored (canonical) answer in the terms the worker saw."""
    return get_task_type(task_type).to_shown(row["answer"], row["presentation"])


def wait_for_saved(page: Page, env: Env, manager: User, project: int) -> dict[str, Any]:
    page.wait_for_selector(".notice--success, [data-done]")
    page.wait_for_selector("[data-done]")
    (row,) = stored_answers(env, manager, project)
    return row


def type_text(page: Page, text: str) -> None:
    page.keyboard.insert_text(text)


# --- one item of every task type, keyboard only -------------------------------------------

Keys = Callable[[Page], None]


def _press(*keys: str) -> Keys:
    def run(page: Page) -> None:
        for key in keys:
            page.keyboard.press(key)

    return run


# Writing tasks open with their first text box focused: the expert types at once.
def _demonstration(page: Page) -> None:
    type_text(page, "Yes: you can claim £6 a week if your employer requires it.")
    page.keyboard.press("Control+Enter")


def _rewrite(page: Page) -> None:
    type_text(page, "Unsafe after 20 weeks of pregnancy.")
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    page.keyboard.press("Control+a")
    type_text(page, "Not after 20 weeks; paracetamol is preferred.")
    page.keyboard.press("Control+Enter")


def _critique_revision(page: Page) -> None:
    type_text(page, "It helps someone enter a home uninvited.")
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    page.keyboard.press("Control+a")
    type_text(page, "I can't help with entering someone else's home.")
    page.keyboard.press("Control+Enter")


def _authoring(page: Page) -> None:
    type_text(page, "Sensitivity 0.9, specificity 0.95, prevalence 1%. P(D | +)?")
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    type_text(page, "0.009 / (0.009 + 0.0495) = 0.154")
    for text in ("Uses Bayes", "2", "Gets 0.154", "3"):
        page.keyboard.press("Tab")
        type_text(page, text)
    page.keyboard.press("Control+Enter")


KEYBOARD_CASES: list[tuple[str, dict[str, Any] | None, Keys, dict[str, Any]]] = [
    ("pairwise", None, _press("1", "3", "Enter"), {"choice": "A", "strength": 3}),
    (
        "pairwise",
        {"criteria": [{"name": "accuracy"}, {"name": "safety", "description": "No harm."}]},
        _press("3", "2", "3", "1", "Enter"),
        {"choice": "B", "strength": 1, "criteria": {"accuracy": "B", "safety": "tie"}},
    ),
    ("label", None, _press("1", "Enter"), {"label": "Urgent"}),
    (
        "label",
        {"labels": ["toxic", "off-topic", "spam"], "multiple": True, "min_choices": 0},
        _press("1", "3", "Enter"),
        {"labels": ["toxic", "spam"]},
    ),
    ("ranking", None, _press("2", "3", "1", "Enter"), {"ranking": [[1], [2], [0]]}),
    ("rating", None, _press("4", "2", "Enter"), {"scores": {"accuracy": 4, "clarity": 2}}),
    (
        "rubric",
        None,
        _press("2", "3", "Enter"),
        {"scores": {"correct dose": False, "completeness": 3}},
    ),
    (
        "demonstration",
        None,
        _demonstration,
        {"response": "Yes: you can claim £6 a week if your employer requires it."},
    ),
    (
        "rewrite",
        None,
        _rewrite,
        {
            "critique": "Unsafe after 20 weeks of pregnancy.",
            "rewrite": "Not after 20 weeks; paracetamol is preferred.",
        },
    ),
    (
        "critique_revision",
        None,
        _critique_revision,
        {
            "critique": "It helps someone enter a home uninvited.",
            "revision": "I can't help with entering someone else's home.",
        },
    ),
    ("principle_pairwise", None, _press("1", "3", "Enter"), {"choice": "A", "strength": 3}),
    (
        "principle_grading",
        None,
        _press("2", "2", "3", "Enter"),
        # The form sends each principle's note, empty when left blank.
        {"grades": {"harmless-1": {"verdict": "fail", "severity": 2, "note": ""},
                    "honest-1": {"verdict": "not_applicable", "note": ""}}},
    ),
    (
        "authoring",
        None,
        _authoring,
        {
            "problem": "Sensitivity 0.9, specificity 0.95, prevalence 1%. P(D | +)?",
            "solution": "0.009 / (0.009 + 0.0495) = 0.154",
            "rubric": [
                {"criterion": "Uses Bayes", "points": 2},
                {"criterion": "Gets 0.154", "points": 3},
            ],
        },
    ),
]


KEYBOARD_CASES.append(
    # A transcript to label: category 8 (non-violent crimes), success yes, severity 2.
    ("redteam", None, _press("8", "1", "2", "Enter"),
     {"category": "ncr", "success": True, "severity": 2}),
)


def test_every_task_type_has_a_keyboard_case() -> None:
    assert {case[0] for case in KEYBOARD_CASES} == set(TASK_TYPES)


@on_sqlite
@pytest.mark.parametrize(
    ("task_type", "config", "keys", "expected"),
    KEYBOARD_CASES,
    ids=[f"{c[0]}{'-variant' if c[1] else ''}" for c in KEYBOARD_CASES],
)
def test_an_item_of_each_task_type_is_answered_with_the_keyboard_alone(
    env: Env,
    page: Page,
    task_type: str,
    config: dict[str, Any] | None,
    keys: Keys,
    expected: dict[str, Any],
) -> None:
    manager, worker, project = setup_example(env, EXAMPLE[task_type], config=config)
    sign_in(page, env, worker)
    assignment = open_task(page, env, project)
    keys(page)
    row = wait_for_saved(page, env, manager, project)
    assert shown(task_type, row) == expected
    assert page.evaluate(f"localStorage.getItem('expertloop:draft:{assignment}')") is None
    assert "All caught up" in page.inner_text("#task")


# --- drafts ------------------------------------------------------------------------------


@on_sqlite
def test_a_reload_in_the_middle_of_a_demonstration_keeps_the_draft(env: Env, page: Page) -> None:
    manager, worker, project = setup_example(env, EXAMPLE["demonstration"])
    sign_in(page, env, worker)
    first = open_task(page, env, project)
    long_answer = "Line one of a long reply.\n\n" + "More careful reasoning. " * 80
    type_text(page, long_answer)
    page.reload()
    page.wait_for_selector("#task-form")
    assert int(page.get_attribute("#task-form", "data-assignment-id")) == first
    assert page.input_value("textarea[name=response]") == long_answer
    assert "draft" in page.inner_text("#notice").lower()
    page.focus("textarea[name=response]")
    page.keyboard.press("Control+Enter")
    row = wait_for_saved(page, env, manager, project)
    assert row["answer"] == {"response": long_answer}
    assert page.evaluate(f"localStorage.getItem('expertloop:draft:{first}')") is None


# --- untrusted text ------------------------------------------------------------------------

HOSTILE = (
    "Ignore this: <script>window.__pwned = 'script'; alert('script')</script>\n\n"
    "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">\n\n"
    "[click me](javascript:window.__pwned='link';alert('link'))\n\n"
    '<a href="javascript:alert(1)">raw link</a> <svg onload="alert(2)"></svg>\n\n'
    "```html\n<script>alert('code')</script>\n```"
)


@on_sqlite
def test_scripts_in_prompts_and_responses_are_shown_as_text_and_never_run(
    env: Env, page: Page
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], guidelines=HOSTILE)
    env.items(
        manager,
        project,
        [{"payload": {"prompt": HOSTILE, "response_a": HOSTILE, "response_b": "**fine**"}}],
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, env, worker)
    open_task(page, env, project)
    page.keyboard.press("g")
    page.wait_for_selector("#guidelines:not([hidden])")
    for link in page.query_selector_all("#task a, #guidelines a"):
        href = link.get_attribute("href") or ""
        assert href.startswith(("http://", "https://", "mailto:")), href
    clickable = page.get_by_text("click me").first
    clickable.click()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#task script, #task img, #task svg, #guidelines script").count() == 0
    text = page.inner_text("#task")
    assert "<script>window.__pwned" in text
    assert "<img src=x onerror=" in text


# --- errors in words --------------------------------------------------------------------


@on_sqlite
def test_a_wrong_password_shows_an_error(env: Env, page: Page) -> None:
    worker = env.user()
    page.goto(f"{env.url}/login")
    page.fill("#username", worker.username)
    page.fill("#password", "not-the-password")
    page.keyboard.press("Enter")
    page.wait_for_selector("#login-error")
    assert "Wrong username or password" in page.inner_text("#login-error")
    assert page.input_value("#username") == worker.username


@on_sqlite
def test_a_lost_connection_is_explained_and_the_answer_kept_for_a_retry(
    env: Env, page: Page
) -> None:
    manager, worker, project = setup_example(env, EXAMPLE["pairwise"])
    sign_in(page, env, worker)
    open_task(page, env, project)
    page.route("**/answer", lambda route: route.abort("internetdisconnected"))
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector(".notice--error")
    assert "No connection" in page.inner_text("#notice")
    assert page.is_checked("input[name=choice][value=B]")
    assert stored_answers(env, manager, project) == []
    page.unroute("**/answer")
    page.keyboard.press("Enter")
    row = wait_for_saved(page, env, manager, project)
    assert shown("pairwise", row) == {"choice": "B"}


@on_sqlite
def test_a_missing_required_answer_is_named_and_nothing_is_sent(env: Env, page: Page) -> None:
    manager, worker, project = setup_example(
        env, EXAMPLE["pairwise"], config={"require_rationale": True}
    )
    sign_in(page, env, worker)
    open_task(page, env, project)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector(".notice--error")
    assert "Rationale" in page.inner_text("#notice")
    assert page.is_checked("input[name=choice][value=A]")
    assert stored_answers(env, manager, project) == []


@on_sqlite
def test_an_expired_lease_taken_by_another_worker_is_explained(env: Env, page: Page) -> None:
    manager, worker, project = setup_example(env, EXAMPLE["label"], answers_per_item=1)
    sign_in(page, env, worker)
    assignment = open_task(page, env, project)
    page.keyboard.press("2")
    with env.db.write() as conn:
        conn.execute(
            update(t.Assignment)
            .where(t.Assignment.id == assignment)
            .values(expires_at=utcnow() - timedelta(seconds=5))
        )
    rival = env.user()
    projects.add_members(env.db, actor=manager, project_id=project, user_ids=[rival.id])
    taken = assignments.next_assignment(env.db, actor=rival, project_id=project)
    assert taken is not None
    page.keyboard.press("Enter")
    page.wait_for_selector(".notice--error")
    assert "ran out" in page.inner_text("#notice")
    assert page.is_checked("input[name=label][value=Routine]")


# --- skipping, guidelines, phone width ------------------------------------------------------


@on_sqlite
def test_s_skips_an_item_and_g_toggles_the_guidelines(env: Env, page: Page) -> None:
    manager, worker, project = setup_example(env, EXAMPLE["label"])
    sign_in(page, env, worker)
    open_task(page, env, project)
    assert page.is_hidden("#guidelines")
    page.keyboard.press("g")
    assert page.is_visible("#guidelines")
    assert "clinician should see it today" in page.inner_text("#guidelines")
    page.keyboard.press("Escape")
    assert page.is_hidden("#guidelines")
    page.keyboard.press("s")
    page.wait_for_selector("[data-done]")
    assert stored_answers(env, manager, project) == []


@on_sqlite
def test_phone_width_pages_have_no_horizontal_scroll(env: Env, browser: Any) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], guidelines=EXAMPLE["pairwise"].guidelines)
    env.items(manager, project, EXAMPLE["pairwise"].items)
    ranking = env.project(manager, members=[worker], task_type="ranking")
    env.items(manager, ranking, EXAMPLE["ranking"].items)
    with phone(browser) as small:
        small.goto(f"{env.url}/login")
        assert no_horizontal_scroll(small)
        sign_in(small, env, worker)
        assert no_horizontal_scroll(small)
        for pid in (project, ranking):
            small.goto(f"{env.url}/projects/{pid}")
            small.wait_for_selector("#task-form")
            assert no_horizontal_scroll(small), f"project {pid}"
        small.click("#guidelines-toggle")
        assert no_horizontal_scroll(small)


@on_sqlite
def test_every_control_has_an_accessible_name(env: Env, page: Page) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    sign_in(page, env, worker)
    for example in EXAMPLES:
        project = env.project(
            manager, members=[worker], task_type=example.task_type, config=example.config
        )
        env.items(manager, project, example.items)
        open_task(page, env, project)
        assert unnamed_controls(page) == [], example.task_type
