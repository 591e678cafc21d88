"""The constitution pages in a real browser (Debian's Chromium driven by Playwright), on
SQLite: a manager drafts and publishes, an expert proposes and votes, a reviewer accepts,
and the voting page draws the opinion groups under the strict CSP."""

from __future__ import annotations

import browser_helpers
from browser_helpers import Page, needs_chromium, on_sqlite, sign_in, unnamed_controls

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.domain.constitutions import Vote
from expertloop.quality.opinion_groups import simulate_opinion_panel
from expertloop.services import constitution_votes, constitutions

pytestmark = [needs_chromium, on_sqlite]

browser = browser_helpers.browser
page = browser_helpers.page


def _csp_reports(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if "Content Security" in m.text else None)
    return found


def test_a_manager_drafts_and_publishes_and_an_expert_proposes_what_a_reviewer_accepts(
    page: Page, env: Env
) -> None:
    manager, expert, reviewer = env.user(Role.MANAGER), env.user(), env.user(Role.REVIEWER)
    sign_in(page, env, manager, "/manage/constitutions")
    assert unnamed_controls(page) == []
    page.fill("#c-name", "Helpful and harmless")
    page.click("#c-create")
    page.wait_for_selector("#put-heading")
    assert unnamed_controls(page) == []
    page.fill("#principle-key", "harmless-1")
    page.fill("#principle-title", "Harm")
    page.fill("#principle-text", "Choose the least harmful response.")
    page.fill("#principle-violate", "Here is how to do it.")
    page.click("#principle-save")
    page.wait_for_selector("#constitution-notice")
    assert page.locator("#draft-principles > li").count() == 1
    page.fill("#publish-note", "first")
    page.click("#publish")
    page.wait_for_selector("#version-principles")
    assert page.locator("#diff-table tbody tr").count() == 1
    cid = int(page.url.split("/")[-3])

    page.context.clear_cookies()
    sign_in(page, env, expert, f"/constitutions/{cid}")
    assert unnamed_controls(page) == []
    page.select_option("#proposal-kind", "amend")
    page.fill("#proposal-key", "harmless-1")
    page.fill("#proposal-title", "Harm")
    page.fill("#proposal-text", "Choose the least harmful response, and say why.")
    page.fill("#proposal-reason", "Explaining helps the user.")
    page.click("#proposal-send")
    page.wait_for_selector("#constitution-notice")

    page.context.clear_cookies()
    sign_in(page, env, reviewer, f"/constitutions/{cid}/proposals")
    assert unnamed_controls(page) == []
    page.click("button[name=decision][value=accept]")
    page.wait_for_selector("#no-proposals")
    draft = constitutions.draft(env.db, actor=reviewer, constitution_id=cid)
    assert draft[0].text == "Choose the least harmful response, and say why."


def test_the_voting_page_plots_the_panels_groups_and_experts_vote(page: Page, env: Env) -> None:
    manager = env.user(Role.MANAGER)
    made = constitutions.create_constitution(env.db, actor=manager, name="Public")
    panel = simulate_opinion_panel(n_voters=30, n_groups=2, n_consensus=3, n_contested=6,
                                   n_other=3, missing=0.1, seed=0)
    ids = [constitution_votes.add_statement(env.db, actor=manager, constitution_id=made.id,
                                            text=f"Statement {n}").id
           for n in range(panel.votes.shape[1])]
    choices = {1.0: Vote.AGREE, -1.0: Vote.DISAGREE, 0.0: Vote.PASS}
    for row in panel.votes:
        voter = env.user()
        for sid, value in zip(ids, row, strict=True):
            if value == value:  # not NaN
                constitution_votes.vote(env.db, actor=voter, statement_id=sid,
                                        choice=choices[float(value)])
    blocked = _csp_reports(page)
    sign_in(page, env, manager, f"/manage/constitutions/{made.id}/voting")
    chart = page.locator('[data-chart="groups"]')
    chart.locator("canvas").first.wait_for()
    assert chart.get_attribute("data-drawn") == "true"
    assert page.locator("#support-table tbody tr").count() == len(ids)
    assert "30 voters in 2 groups" in page.locator("#voting-summary").inner_text()
    assert page.locator('#support-table tr[data-finding="consensus"]').count() == 3
    assert unnamed_controls(page) == []
    assert blocked == []

    expert = env.user()
    page.context.clear_cookies()
    sign_in(page, env, expert, f"/constitutions/{made.id}")
    page.locator(f"#statement-{ids[0]} button[value=disagree]").click()
    page.wait_for_selector(f"#statement-{ids[0]} [data-my-vote=disagree]")
    assert constitution_votes.my_votes(env.db, actor=expert, constitution_id=made.id) == {
        ids[0]: Vote.DISAGREE}
