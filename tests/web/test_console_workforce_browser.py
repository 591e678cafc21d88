"""A person's skills and credentials and a project's exam results in a real browser
(Debian's Chromium driven by Playwright), on SQLite, by keyboard alone, under the strict
CSP (no violation reported)."""

from __future__ import annotations

import browser_helpers
from browser_helpers import Page, needs_chromium, on_sqlite, sign_in, unnamed_controls

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.services.workforce import settings as workforce_settings
from expertloop.services.workforce import skills

pytestmark = [needs_chromium, on_sqlite]

browser = browser_helpers.browser
page = browser_helpers.page


def test_a_manager_keeps_a_workers_skills_and_credentials_by_keyboard(
    env: Env, page: Page
) -> None:
    manager = env.user(Role.MANAGER, "mona")
    worker = env.user(Role.WORKER, "wes.cardio")
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in(page, env, manager, "/manage/people")
    page.get_by_role("link", name="wes.cardio").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/manage/people/{worker.id}")
    assert unnamed_controls(page) == []

    # A skill, typed in the first empty row; Enter in a field submits its form.
    page.focus("#skill-1")
    page.keyboard.type("cardiology")
    page.keyboard.press("Tab")
    page.keyboard.type("4")
    page.keyboard.press("Enter")
    page.wait_for_url("**?done=skills")
    page.get_by_text("Skills saved.").wait_for()
    assert page.input_value("#skill-1") == "cardiology"
    assert page.input_value("#level-1") == "4"

    # A bad level is explained, and what was typed stays.
    page.fill("#level-1", "9")
    page.focus("#level-1")
    page.keyboard.press("Enter")
    page.locator("#skills-error").wait_for()
    assert "skills.cardiology" in page.inner_text("#skills-error")
    assert page.input_value("#level-1") == "9"

    # A credential, recorded and then verified.
    page.focus("#credential-kind")
    page.select_option("#credential-kind", "licence")
    page.keyboard.press("Tab")
    page.keyboard.type("GMC 1234567")
    page.keyboard.press("Tab")
    page.keyboard.type("Checked on the register")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # "I checked it" stays unticked: verify it afterwards
    page.keyboard.press("Space")
    page.get_by_role("button", name="Record credential").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Credential recorded.").wait_for()
    row = page.locator("tr", has_text="GMC 1234567")
    assert "not yet" in row.inner_text()
    row.get_by_role("button", name="Verify GMC 1234567").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Credential marked verified by you.").wait_for()
    assert "verified" in page.locator("tr", has_text="GMC 1234567").inner_text().lower()
    profile = skills.get_profile(env.db, actor=manager, user_id=worker.id)
    assert profile.skills == {"cardiology": 4}
    assert profile.credentials[0].verified_by == manager.id

    # Removing asks first.
    page.locator("summary", has_text="Remove GMC 1234567").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Yes, remove it").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Credential removed.").wait_for()
    assert skills.get_profile(env.db, actor=manager, user_id=worker.id).credentials == []
    assert violations == []


def test_a_manager_reads_the_exam_results_from_the_projects_tabs(env: Env, page: Page) -> None:
    manager, worker = env.user(Role.MANAGER, "mona"), env.user(Role.WORKER, "pia")
    exam = env.project(manager, members=[worker])
    env.items(manager, exam, [pairwise_item(1, gold={"choice": "A"})])
    project = env.project(manager, members=[worker])
    workforce_settings.update_settings(
        env.db, actor=manager, project_id=project,
        qualification={"exam_project_id": exam, "pass_mark": 0.8},
    )
    api = env.client(worker)
    lease = api.post(f"/api/v1/projects/{exam}/assignments/next").json()
    swapped = not lease["item"]["payload"]["response_a"].startswith("A")
    api.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
             json={"answer": {"choice": "B" if swapped else "A"}})
    sign_in(page, env, manager, f"/manage/projects/{project}")
    page.get_by_role("link", name="Exam", exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/manage/projects/{project}/exam")
    assert "pass mark 80%" in page.inner_text("main")
    row = page.locator("tr", has_text="pia")
    assert "qualified" in row.inner_text().lower()
    assert "100%" in row.inner_text()
    assert unnamed_controls(page) == []
