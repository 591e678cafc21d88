"""Regenerate docs/screenshots/*.png: the login page, the worker home, every task page, the
reviewer's page, the worker's My work page and report dialog, and the manager's console.

Seeds a throw-away SQLite database with one example project per task type
(``expertloop.web.examples``), starts a real server, and drives Debian's Chromium with
Playwright. Run it with ``./run screenshots`` (or ``.venv/bin/python scripts/screenshots.py``).
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Page, sync_playwright

from expertloop.app import create_app
from expertloop.domain import Role, User
from expertloop.services import (
    assignments,
    consensus,
    item_reports,
    items,
    projects,
    reviews,
    users,
)
from expertloop.settings import Settings
from expertloop.store import Database, upgrade
from expertloop.tasks import TASK_TYPES
from expertloop.web.examples import EXAMPLES, Example

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WORKER, PASSWORD = "dr.rivera", "screenshots-only"
REVIEWER = "dr.okafor"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(db: Database) -> list[tuple[Example, int]]:
    """Accounts and one project per example whose task type exists, with some progress."""
    admin = users.create_user(db, actor=None, username="admin", password=PASSWORD, role=Role.ADMIN)
    manager = users.create_user(
        db, actor=admin, username="manager", password=PASSWORD, role=Role.MANAGER
    )
    worker = users.create_user(
        db, actor=admin, username=WORKER, password=PASSWORD, role=Role.WORKER
    )
    others = [
        users.create_user(
            db, actor=admin, username=f"expert{n}", password=PASSWORD, role=Role.WORKER
        )
        for n in range(2)
    ]
    reviewer = users.create_user(
        db, actor=admin, username=REVIEWER, password=PASSWORD, role=Role.REVIEWER
    )
    seeded = []
    for example in EXAMPLES:
        if example.task_type not in TASK_TYPES:
            continue
        project = projects.create_project(
            db,
            actor=manager,
            name=example.name,
            task_type=example.task_type,
            config=example.config,
            guidelines=example.guidelines,
            answers_per_item=3,
        )
        projects.add_members(
            db,
            actor=manager,
            project_id=project.id,
            user_ids=[worker.id, reviewer.id] + [o.id for o in others],
        )
        # The example item first, then copies so the home page shows a project under way.
        records = list(example.items)
        for n in range(1, 24):
            for record in example.items:
                records.append({**record, "external_id": f"{record['external_id']}-{n}"})
        items.import_items(db, actor=manager, project_id=project.id, records=enumerate(records, 1))
        _answer_some(
            db, others, project.id, example, count=random.Random(project.id).randint(6, 30)
        )
        if example.task_type == "pairwise":
            # A sample of the other experts' answers waits for the reviewer.
            reviews.request_reviews(db, actor=manager, project_id=project.id, fraction=0.25)
            _decide_some(db, reviewer, project.id)
        seeded.append((example, project.id))
    label = _project_of(seeded, "label")
    if label is not None:
        _reviewed_work(db, manager, worker, label)
    pairwise = _project_of(seeded, "pairwise")
    if pairwise is not None:
        _reports(db, others, pairwise)
    return seeded


def _project_of(seeded: list[tuple[Example, int]], task_type: str) -> int | None:
    """The seeded project of ``task_type`` (None when its task type is not installed)."""
    return next((pid for ex, pid in seeded if ex.task_type == task_type), None)


def _seeded_project(seeded: list[tuple[Example, int]], task_type: str) -> int:
    project_id = _project_of(seeded, task_type)
    if project_id is None:
        raise SystemExit(f"screenshots: no {task_type} example was seeded")
    return project_id


def _reviewed_work(db: Database, manager: User, worker: User, project_id: int) -> None:
    """The worker's own answers, three of them reviewed (accepted, rejected, fixed), and a
    consensus snapshot, for the My work page."""
    answered = []
    for label in ("Urgent", "Routine", "Urgent", "Administrative", "Urgent", "Routine"):
        lease = assignments.next_assignment(db, actor=worker, project_id=project_id)
        if lease is None:
            break
        answered.append(
            assignments.submit_answer(
                db, actor=worker, assignment_id=lease.id, answer={"label": label}
            ).answer_id
        )
    reviews.request_reviews(db, actor=manager, project_id=project_id, answer_ids=answered[-3:])
    decisions: list[dict[str, Any]] = [
        {"outcome": "accepted"},
        {
            "outcome": "rejected",
            "comment": "The pain began three months ago and is stable: routine, not urgent.",
            "requeue": False,
        },
        {"outcome": "fixed", "answer": {"label": "Administrative"},
         "comment": "A request to rebook: administrative."},
    ]
    for decision in decisions:
        review = reviews.next_review(db, actor=manager, project_id=project_id)
        if review is None:
            break
        reviews.decide_review(db, actor=manager, review_id=review.id, **decision)
    consensus.refresh_snapshot(db, project_id, include_gold=False)


def _reports(db: Database, others: list[User], project_id: int) -> None:
    """Other experts report problems with items, for the console's Flags page."""
    notes = [
        ("ambiguous", "Both responses recommend the same statin; neither is better."),
        ("harmful", "Response B suggests stopping medication without a doctor."),
        ("broken", ""),
    ]
    for n, (reason, note) in enumerate(notes):
        worker = others[n % len(others)]
        lease = assignments.next_assignment(db, actor=worker, project_id=project_id)
        if lease is not None:
            item_reports.report_item(
                db, actor=worker, assignment_id=lease.id, reason=reason, note=note
            )


def _answer_some(
    db: Database, workers: list[User], project_id: int, example: Example, count: int
) -> None:
    """Other experts' answers (item copies are alike, so any item shows the example)."""
    answer = example.extra.get("answer")
    if answer is None:
        return
    for worker in workers:
        for _ in range(count):
            lease = assignments.next_assignment(db, actor=worker, project_id=project_id)
            if lease is None:
                break
            assignments.submit_answer(db, actor=worker, assignment_id=lease.id, answer=answer)


def _decide_some(db: Database, reviewer: User, project_id: int) -> None:
    """Decisions on most of the sample (a few left for the review page's picture), so the
    manager's reviews page has outcomes per worker."""
    outcomes = ["accepted", "accepted", "rejected", "accepted", "accepted", "accepted",
                "rejected", "accepted", "accepted"]
    pending = len(reviews.list_reviews(db, actor=reviewer, project_id=project_id,
                                       status="pending"))
    for outcome in outcomes[: max(pending - 2, 0)]:
        held = reviews.next_review(db, actor=reviewer, project_id=project_id)
        if held is None:
            return
        reviews.decide_review(
            db, actor=reviewer, review_id=held.id, outcome=outcome,
            comment="The chosen answer misses the dose adjustment." if outcome == "rejected"
            else "",
        )


# A file with three mistakes, for the import page's picture of a refused file.
_BROKEN_IMPORT = [
    {"external_id": "statins-101", "payload": {"prompt": "Is 20 mg atorvastatin a high dose?",
     "response_a": "No, it is moderate intensity.", "response_b": "Yes."}},
    {"external_id": "statins-102", "payload": {"prompt": "Grapefruit and simvastatin?",
     "response_a": "Avoid large amounts."}},
    {"external_id": "statins-103", "payload": {"prompt": "Statins in pregnancy?",
     "response_a": "Usually stopped.", "response_b": "Safe."}, "priority": "high"},
    {"external_id": "statins-101", "payload": {"prompt": "Repeat", "response_a": "a",
     "response_b": "b"}},
]


def _manager_pages(browser: Any, url: str, project_id: int, shot: Any) -> None:
    """The manager's console: an import refused with its problems, the reviews page, a
    finished export."""
    import json

    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    target = f"/manage/projects/{project_id}/import"
    page.goto(f"{url}/login?next={target}")
    page.fill("#username", "manager")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{target}")
    body = "".join(json.dumps(r) + "\n" for r in _BROKEN_IMPORT).encode()
    page.set_input_files(
        "#import-file",
        files=[{"name": "statins-batch-2.jsonl", "mimeType": "application/json", "buffer": body}],
    )
    page.click("form.ops-form button[type=submit]")
    page.wait_for_selector("#import-errors")
    page.locator("#import-result").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    shot("manager-import", page)
    page.goto(f"{url}/manage/projects/{project_id}/reviews")
    page.wait_for_selector("#worker-outcomes")
    shot("manager-reviews", page)
    page.goto(f"{url}/manage/projects/{project_id}/exports")
    page.check("input[name=format][value=preference]")
    page.fill("#export-min-confidence", "0.7")
    page.click("form.ops-form button[type=submit]")
    page.wait_for_selector("#download-file", timeout=60_000)
    shot("manager-exports", page)
    context.close()


class Server:
    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _sign_in(page: Page, url: str, username: str = WORKER) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def _prepare_task(page: Page, example: Example) -> None:
    """Touch the form the way an expert would, so the picture shows a task in progress (the
    steps are the task type's: :attr:`ExampleProject.in_progress`)."""
    for action, *args in example.in_progress:
        if action == "press":
            page.keyboard.press(*args)
        elif action == "fill":
            page.fill(*args)
        elif action == "focus":
            page.locator(*args).focus()
        else:
            raise ValueError(f"{example.task_type}: unknown demo step {action!r}")


def _console_shots(
    browser: Any, url: str, db: Database, seeded: list[tuple[Example, int]], shot: Any
) -> None:
    """The manager's console: projects (one archived), a new project with its preview,
    settings with a guidelines version history, and the people directory."""
    manager = users.search_users(
        db, actor=User(0, "screenshots", Role.ADMIN), q="manager", limit=1
    ).users[0]
    pairwise = _seeded_project(seeded, "pairwise")
    current = projects.get_project(db, actor=manager, project_id=pairwise).guidelines
    projects.update_project(
        db,
        actor=manager,
        project_id=pairwise,
        changes={
            "guidelines": current.rstrip()
            + "\n\nWhen both answers are unsafe, prefer the one that says to see a doctor.\n"
        },
    )
    archived = _seeded_project(seeded, "authoring")
    projects.archive_project(db, actor=manager, project_id=archived)
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    _sign_in(page, url, "manager")
    page.goto(f"{url}/manage")
    shot("manager-projects", page)
    page.goto(f"{url}/manage/projects/new?task_type=label")
    page.fill("#f-name", "Triage inbox, round 2")
    page.fill("#f-config-labels", "Urgent\nRoutine\nAdministrative\nNot medical\nSpam")
    page.locator("[data-preview]").get_by_text("Spam", exact=True).wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    shot("manager-new-project", page)
    # Tall enough for the form, the preview and the guidelines' versions with their diff.
    page.set_viewport_size({"width": 1440, "height": 2000})
    page.goto(f"{url}/manage/projects/{pairwise}/settings")
    page.wait_for_selector("[data-preview] form")
    shot("manager-settings", page)
    page.set_viewport_size({"width": 1440, "height": 960})
    context.close()
    # An admin's directory: everyone, with account creation and suspension.
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    _sign_in(page, url, "admin")
    page.goto(f"{url}/manage/people")
    shot("manager-people", page)
def _insight_shots(browser: Any, url: str, project_id: int, shot: Any) -> None:
    """The manager's overview, item browser and item page of the pairwise project."""
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    page.goto(f"{url}/login?next=/manage/projects/{project_id}")
    page.fill("#username", "manager")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector('[data-chart="progress"][data-drawn]')
    page.wait_for_timeout(300)
    shot("manager-dashboard", page)
    page.goto(f"{url}/manage/projects/{project_id}/items?sort=disagreement")
    page.wait_for_selector("#items-table")
    shot("manager-items", page)
    page.locator("#items-table tbody tr a").first.click()
    page.wait_for_selector("#answers-table")
    shot("manager-item", page)
    context.close()


def take(out: Path, *, only: str | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), auth_cache_seconds=0)
        db = Database(settings.resolved_database_url)
        upgrade(db)
        seeded = seed(db)
        with Server(create_app(settings, database=db)) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            desktop = browser.new_context(viewport={"width": 1440, "height": 960})
            page = desktop.new_page()

            def shot(name: str, target: Page = page) -> None:
                if only and only not in name:
                    return
                path = out / f"{name}.png"
                target.screenshot(path=str(path))
                written.append(path)

            page.goto(f"{server.url}/login")
            shot("login")
            _sign_in(page, server.url)
            shot("home")
            for example, project_id in seeded:
                page.goto(f"{server.url}/projects/{project_id}")
                page.wait_for_selector("#task-form")
                _prepare_task(page, example)
                page.evaluate("window.scrollTo(0, 0)")
                page.wait_for_timeout(300)  # let transitions settle
                shot(f"task-{example.task_type}")
                if example.task_type == "pairwise":
                    page.keyboard.press("g")
                    page.wait_for_selector("#guidelines:not([hidden])")
                    shot("task-pairwise-guidelines")
                    page.keyboard.press("g")
            phone = browser.new_context(
                viewport={"width": 390, "height": 844},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
            )
            mobile = phone.new_page()
            _sign_in(mobile, server.url)
            pairwise = _seeded_project(seeded, "pairwise")
            mobile.goto(f"{server.url}/projects/{pairwise}")
            mobile.wait_for_selector("#task-form")
            shot("phone-task-pairwise", mobile)
            page.goto(f"{server.url}/projects/{pairwise}")
            page.wait_for_selector("#task-form")
            page.keyboard.press("p")
            page.wait_for_selector("#report[open]")
            page.keyboard.press("2")
            page.fill("#report-note", "Both responses give the same advice in other words.")
            page.wait_for_timeout(300)
            shot("worker-report")
            page.keyboard.press("Escape")
            label = _seeded_project(seeded, "label")
            page.goto(f"{server.url}/me?project={label}")
            page.wait_for_selector(".my-answers")
            shot("worker-my-work")
            managing = browser.new_context(viewport={"width": 1440, "height": 960})
            manager_page = managing.new_page()
            _sign_in(manager_page, server.url, "manager")
            manager_page.goto(f"{server.url}/manage/projects/{pairwise}/flags")
            manager_page.wait_for_selector("#reported-items")
            shot("manager-flags", manager_page)
            reviewing = browser.new_context(viewport={"width": 1440, "height": 960})
            review_page = reviewing.new_page()
            _sign_in(review_page, server.url, REVIEWER)
            review_page.goto(f"{server.url}/projects/{pairwise}/review")
            review_page.wait_for_selector("#task-form[data-prefill]")
            review_page.keyboard.press("r")
            review_page.keyboard.insert_text("Prefers the answer that skips the risk estimate.")
            review_page.wait_for_timeout(300)
            shot("review-pairwise", review_page)
            if not only or "manager" in only:
                _manager_pages(browser, server.url, pairwise, shot)
            _console_shots(browser, server.url, db, seeded, shot)
            _insight_shots(browser, server.url, pairwise, shot)
            browser.close()
        db.dispose()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", help="only pictures whose name contains this")
    args = parser.parse_args(argv)
    for path in take(args.out, only=args.only):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
