"""The manager's console in a real browser (Debian's Chromium driven by Playwright), on
SQLite: create a project with the live preview, edit its settings and guidelines (the
version is recorded on a later answer), add and remove members, archive it."""

from __future__ import annotations

import browser_helpers
from browser_helpers import Page, needs_chromium, on_sqlite, sign_in, unnamed_controls

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import assignments, items, projects

pytestmark = [needs_chromium, on_sqlite]

browser = browser_helpers.browser
page = browser_helpers.page


def _project_id(page: Page) -> int:
    return int(page.url.split("/manage/projects/")[1].split("/")[0])


def test_a_manager_runs_a_project_from_the_console(env: Env, page: Page) -> None:
    manager = env.user(Role.MANAGER, "olivia")
    worker = env.user(Role.WORKER, "wren.expert")
    env.user(Role.WORKER, "walt.expert")
    sign_in(page, env, manager, "/manage")
    page.get_by_role("link", name="New project").click()
    page.wait_for_url("**/manage/projects/new")

    # Choosing a task type reloads the form for it, filled with its example.
    page.select_option("#task-type", "label")
    page.wait_for_url("**/manage/projects/new?task_type=label")
    assert "Urgent" in page.input_value("#f-config-labels")
    assert unnamed_controls(page) == []

    # The preview follows the config; a bad config is explained next to its field.
    preview = page.locator("[data-preview]")
    page.fill("#f-config-labels", "Only one")
    error = page.locator('[data-error-for="config.labels"]')
    error.wait_for(state="visible")
    assert "at least 2 items" in error.inner_text()
    page.fill("#f-config-labels", "Relevant\nNot relevant\nUnsure")
    preview.get_by_text("Unsure", exact=True).wait_for()
    assert error.is_hidden()
    assert "Urgent" not in preview.inner_text()

    page.fill("#f-name", "Search relevance")
    page.fill("#f-guidelines", "Judge the document against the query.")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/settings?created=1")
    project_id = _project_id(page)
    assert "Project created" in page.inner_text("main")
    project = projects.get_project(env.db, actor=manager, project_id=project_id)
    assert project.config["labels"] == ["Relevant", "Not relevant", "Unsure"]

    # Edit the guidelines: version 2, shown with its diff.
    page.fill("#f-guidelines", "Judge the document against the query.\nWhen unsure, say Unsure.")
    page.fill("#f-lease_seconds", "900")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url("**/settings?saved=1")
    assert "Settings saved." in page.inner_text("main")
    assert page.locator(".console-diff__add").first.inner_text() == "+ When unsure, say Unsure."
    assert unnamed_controls(page) == []

    # Members: add two by username (suggested as one types), remove one.
    page.get_by_role("link", name="Members", exact=True).click()
    page.wait_for_url(f"**/manage/projects/{project_id}/members")
    page.fill("#member-username", "wren")
    page.locator('#member-suggestions option[value="wren.expert"]').wait_for(state="attached")
    page.fill("#member-username", "wren.expert")
    page.get_by_role("button", name="Add member").click()
    page.get_by_text("Added wren.expert.").wait_for()
    page.fill("#member-username", "walt.expert")
    page.get_by_role("button", name="Add member").click()
    page.get_by_text("Added walt.expert.").wait_for()
    page.locator("summary", has_text="Remove walt.expert").click()
    page.get_by_role("button", name="Yes, remove walt.expert").click()
    page.get_by_text("Removed walt.expert.").wait_for()
    members = [m.username for m in projects.list_members(env.db, actor=manager, project_id=project_id)]
    assert members == ["olivia", "wren.expert"]

    # A later answer records the guidelines version it was given under.
    items.import_items(
        env.db,
        actor=manager,
        project_id=project_id,
        records=enumerate([{"payload": {"text": "query: statins; doc: NICE NG238"}}], 1),
    )
    lease = assignments.next_assignment(env.db, actor=worker, project_id=project_id)
    assert lease is not None
    answered = assignments.submit_answer(
        env.db, actor=worker, assignment_id=lease.id, answer={"label": "Relevant"}
    )
    assert answered.guidelines_version == 2

    # Archive: confirmed in place, then listed apart; workers get nothing more.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.locator("summary", has_text="Archive project").click()
    page.get_by_role("button", name="Yes, archive it").click()
    page.wait_for_url("**/settings?archived=1")
    assert "This project is archived" in page.inner_text("main")
    page.goto(f"{env.url}/manage")
    archived = page.locator("section", has=page.locator("#archived-heading"))
    assert "Search relevance" in archived.inner_text()
    assert assignments.next_assignment(env.db, actor=worker, project_id=project_id) is None
