"""The console's import, review and export pages in a real browser (Debian's Chromium
driven by Playwright), on SQLite: import a file with an error, see the error by line and
field with nothing stored, fix it and import; a large import through its job with progress;
queue a review sample and see per-worker outcomes; run an export and download its file and
dataset card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import browser_helpers
from browser_helpers import Page, needs_chromium, on_sqlite, sign_in, unnamed_controls
from sqlalchemy import func, select

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.services import assignments, reviews
from expertloop.store import tables as t

pytestmark = [needs_chromium, on_sqlite]

browser = browser_helpers.browser
page = browser_helpers.page


def _items(env: Env, project: int) -> int:
    with env.db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.Item).where(t.Item.project_id == project)
            ).scalar_one()
        )


def _file(name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    return {"name": name, "mimeType": "application/octet-stream", "buffer": body}


def test_an_import_with_an_error_lists_it_stores_nothing_then_the_fixed_file_imports(
    page: Page, env: Env
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    path = f"/manage/projects/{project}/import"
    sign_in(page, env, manager, path)
    assert unnamed_controls(page) == []
    records = [pairwise_item(n) for n in range(1, 5)]
    broken = [dict(r) for r in records]
    broken[1] = {**broken[1], "priority": "soon"}  # line 2, field priority
    page.set_input_files("#import-file", files=[_file("items.jsonl", broken)])
    page.click("form.ops-form button[type=submit]")
    page.wait_for_selector("#import-errors")
    cells = page.locator("#import-errors tbody tr").first.locator("td").all_inner_texts()
    assert cells[0] == "2"
    assert cells[1] == "priority"
    assert "Nothing was imported" in page.inner_text("#import-result")
    assert _items(env, project) == 0

    page.set_input_files("#import-file", files=[_file("items.jsonl", records)])
    page.click("form.ops-form button[type=submit]")
    page.wait_for_selector("#import-result[data-status=succeeded]")
    assert "Imported 4 items" in page.inner_text("#import-result")
    assert _items(env, project) == 4
    history = page.locator("#import-history tbody tr").all_inner_texts()
    assert len(history) == 2
    assert "succeeded" in history[0]
    assert "rejected" in history[1]


def test_a_large_import_runs_as_a_job_whose_progress_the_page_follows(
    page: Page, env: Env
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    sign_in(page, env, manager, f"/manage/projects/{project}/import")
    polls: list[str] = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if "/imports/" in request.url else None,
    )
    records = [pairwise_item(n) for n in range(12_000)]  # over import_job_threshold_rows
    page.set_input_files("#import-file", files=[_file("large.jsonl", records)])
    page.click("form.ops-form button[type=submit]")
    page.wait_for_selector("#import-result")
    page.wait_for_selector("#import-result[data-status=succeeded]", timeout=60_000)
    assert "Imported 12000 items" in page.inner_text("#import-result")
    assert polls, "the page did not follow the job"
    assert _items(env, project) == 12_000
    with env.db.read() as conn:
        job_id = conn.execute(select(t.ItemImport.job_id)).scalar_one()
    assert job_id is not None


def test_a_manager_queues_a_review_sample_and_sees_per_worker_outcomes(
    page: Page, env: Env
) -> None:
    manager, worker, reviewer = env.user(Role.MANAGER), env.user(), env.user(Role.REVIEWER)
    project = env.project(manager, members=[worker, reviewer], answers_per_item=1)
    env.items(manager, project, [pairwise_item(n) for n in range(8)])
    while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
        assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id,
                                  answer={"choice": "A"})
    sign_in(page, env, manager, f"/manage/projects/{project}/reviews")
    assert unnamed_controls(page) == []
    page.check("input[name=mode][value=count]")
    page.fill("#sample-count", "5")
    page.select_option("#sample-worker", label=worker.username)
    page.click("form.ops-form button[type=submit]")
    page.wait_for_selector("#queued-notice")
    assert "5 answers queued for review" in page.inner_text("#queued-notice")
    for outcome in ("accepted", "accepted", "rejected", "fixed"):
        held = reviews.next_review(env.db, actor=reviewer, project_id=project)
        assert held is not None
        reviews.decide_review(
            env.db, actor=reviewer, review_id=held.id, outcome=outcome,
            comment="not supported" if outcome == "rejected" else "",
            answer=(
                {"choice": "B" if held.answer["choice"] == "A" else "A"}
                if outcome == "fixed"
                else None
            ),
        )
    page.reload()
    row = page.locator("#worker-outcomes tbody tr").first
    assert row.locator("th").inner_text() == worker.username
    cells = row.locator("td").all_inner_texts()
    assert cells[:5] == ["2", "1", "1", "1", "50%"]
    assert cells[5].endswith("%")
    assert "–" in cells[5]
    page.select_option("#queue-status", "pending")
    page.click(".ops-filter button")
    page.wait_for_url("**status=pending")
    assert page.locator("#review-queue tbody tr").count() == 1


def test_an_export_runs_from_the_page_and_its_file_and_card_download(
    page: Page, env: Env, tmp_path: Path
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(n) for n in range(3)])
    while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
        assignments.submit_answer(env.db, actor=worker, assignment_id=lease.id,
                                  answer={"choice": "A"})
    sign_in(page, env, manager, f"/manage/projects/{project}/exports")
    assert unnamed_controls(page) == []
    page.check("input[name=format][value=preference]")
    page.click("form.ops-form button[type=submit]")
    page.wait_for_selector("#download-file", timeout=30_000)
    with page.expect_download() as caught:
        page.click("#download-file")
    data = tmp_path / "data.jsonl"
    caught.value.save_as(data)
    assert caught.value.suggested_filename == f"project-{project}-preference.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    assert len(rows) == 3
    assert all("chosen" in r for r in rows)
    with page.expect_download() as caught:
        page.click("#download-card")
    card = tmp_path / "README.md"
    caught.value.save_as(card)
    assert card.read_text().startswith("---")
    history = page.locator("#export-history tbody tr").first.inner_text()
    assert manager.username in history
    assert "preference" in history
    assert "succeeded" in history
