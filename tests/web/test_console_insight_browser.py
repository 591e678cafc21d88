"""The manager's overview and item pages in a real browser (Debian's Chromium driven by
Playwright), on SQLite: the charts are drawn under the strict CSP, the tables are there,
and a manager filters, sorts, opens an item, disables it and makes its consensus gold."""

from __future__ import annotations

import browser_helpers
from browser_helpers import Page, needs_chromium, on_sqlite, sign_in, unnamed_controls

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import console_items
from expertloop.services.assignments import next_assignment, submit_answer

pytestmark = [needs_chromium, on_sqlite]

browser = browser_helpers.browser
page = browser_helpers.page

_SWAP = {"A": "B", "B": "A", "tie": "tie"}


def _answered_project(env: Env) -> tuple[User, int]:
    manager = env.user(Role.MANAGER)
    workers = [env.user(Role.WORKER) for _ in range(3)]
    project = env.project(manager, members=workers, answers_per_item=2)
    items = [pairwise_item(k) for k in range(8)]
    items[0]["gold"] = {"choice": "A"}
    env.items(manager, project, items)
    for worker, choices in ((workers[0], "AAAAAAAA"), (workers[1], "ABAAB" + "AAA")):
        for choice in choices:
            assignment = next_assignment(env.db, actor=worker, project_id=project)
            assert assignment is not None
            swapped = not str(assignment.item.payload["response_a"]).startswith("A")
            submit_answer(env.db, actor=worker, assignment_id=assignment.id,
                          answer={"choice": _SWAP[choice] if swapped else choice})
    return manager, project


def _csp_reports(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if "Content Security" in m.text else None)
    return found


def test_the_overview_draws_its_charts_and_keeps_the_numbers_in_tables(
    page: Page, env: Env
) -> None:
    manager, project = _answered_project(env)
    blocked = _csp_reports(page)
    sign_in(page, env, manager, f"/manage/projects/{project}")
    progress = page.locator('[data-chart="progress"]')
    progress.locator("canvas").first.wait_for()
    assert progress.get_attribute("data-drawn") == "true"
    distribution = page.locator('[data-chart="distribution"]').first
    distribution.locator("canvas").first.wait_for()
    assert page.locator("#agreement-table tbody tr").count() == 1
    assert page.locator("#workers-table tbody tr").count() == 2
    assert page.locator("#dist-table-1 tbody tr").count() == 3  # A, tie, B
    assert blocked == []


def test_a_manager_filters_sorts_opens_disables_and_promotes_an_item(
    page: Page, env: Env
) -> None:
    manager, project = _answered_project(env)
    sign_in(page, env, manager, f"/manage/projects/{project}/items")
    assert page.locator("#items-table tbody tr").count() == 8
    assert unnamed_controls(page) == []
    page.click('[data-filter="gold"]')
    page.wait_for_url("**filter=gold**")
    assert page.locator("#items-table tbody tr").count() == 1
    page.click('[data-filter="all"]')
    page.click('[data-sort="disagreement"]')
    page.wait_for_url("**sort=disagreement**")
    top = page.locator("#items-table tbody tr").first
    assert top.locator("td").nth(5).inner_text() == "50%"
    page.fill("#items-q", "item-3")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=item-3**")
    assert page.locator("#items-table tbody tr").count() == 1
    page.locator("#items-table tbody tr a").first.click()
    page.wait_for_selector("#answers-table")
    assert page.locator("#answers-table tbody tr").count() == 2
    assert unnamed_controls(page) == []
    item_id = int(page.url.rsplit("/", 1)[1])
    page.fill("#disable-reason", "the prompt is ambiguous")
    page.click("#item-disable")
    page.wait_for_selector("#item-notice")
    assert page.locator("#item-status").inner_text() == "disabled"
    page.click("#item-promote")
    page.wait_for_selector("#item-notice")
    assert page.locator("#item-gold").inner_text() == "yes"
    item = console_items.managed_item(env.db, actor=manager, project_id=project, item_id=item_id)
    assert item.gold is not None
    assert item.disabled_at is not None
