"""``serve --demo``: a pairwise project with hand-written items and ready-made accounts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from expertloop.domain import Project, Role, User
from expertloop.services import items, projects, users
from expertloop.store import Database
from expertloop.store import users as user_store

__all__ = ["DEMO_ACCOUNTS", "DemoSeed", "demo_accounts_open", "seed_demo"]

DEMO_PROJECT = "Demo: which answer is better?"
# Demo accounts only exist on a demo database; their passwords are printed at start.
DEMO_ACCOUNTS: tuple[tuple[str, Role, str], ...] = (
    ("admin", Role.ADMIN, "demo-admin"),
    ("manager", Role.MANAGER, "demo-manager"),
    ("reviewer", Role.REVIEWER, "demo-reviewer"),
    ("alice", Role.WORKER, "demo-alice"),
    ("bob", Role.WORKER, "demo-bob"),
    ("carol", Role.WORKER, "demo-carol"),
)


@dataclass(frozen=True)
class DemoSeed:
    project: Project
    created: bool

    def instructions(self, url: str) -> str:
        accounts = "\n".join(
            f"    {name:<9} {password:<14} ({role.value})" for name, role, password in DEMO_ACCOUNTS
        )
        state = "created" if self.created else "already present"
        return (
            f"Demo project {self.project.name!r} (id {self.project.id}) {state}.\n"
            f"Accounts (username, password):\n{accounts}\n"
            f"API docs: {url}/docs\n"
            f"Try it:\n"
            f"  TOKEN=$(curl -s {url}/api/v1/auth/token -H 'Content-Type: application/json' "
            f'-d \'{{"username": "alice", "password": "demo-alice"}}\' | '
            f"python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')\n"
            f"  curl -s -X POST {url}/api/v1/projects/{self.project.id}/assignments/next "
            f'-H "Authorization: Bearer $TOKEN"'
        )


def demo_items() -> list[dict[str, Any]]:
    text = resources.files("expertloop.data").joinpath("demo_pairwise.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def seed_demo(db: Database) -> DemoSeed:
    """Create the demo accounts and project once; later calls find and return them."""
    people = _ensure_accounts(db)
    admin = people["admin"]
    for project in projects.list_projects(db, actor=admin):
        if project.name == DEMO_PROJECT:
            return DemoSeed(project, created=False)
    manager = people["manager"]
    project = projects.create_project(
        db,
        actor=manager,
        name=DEMO_PROJECT,
        task_type="pairwise",
        guidelines=DEMO_GUIDELINES,
        answers_per_item=3,
        lease_seconds=600,
    )
    projects.add_members(
        db, actor=manager, project_id=project.id, user_ids=[u.id for u in people.values()]
    )
    items.import_items(
        db,
        actor=manager,
        project_id=project.id,
        records=enumerate(demo_items(), start=1),
        source="demo_pairwise.jsonl",
    )
    return DemoSeed(project, created=True)


def demo_accounts_open(db: Database) -> list[str]:
    """The active accounts that still sign in with a demo password printed in the docs:
    anyone can use them, so a production server warns about them at start."""
    from expertloop.services.auth import verify_password

    names = {name: password for name, _, password in DEMO_ACCOUNTS}
    with db.read() as conn:
        found = [
            c
            for name in names
            if (c := user_store.credentials_by_username(conn, name)) is not None
            and c.user.is_active
        ]
    return [
        c.user.username for c in found if verify_password(c.password_hash, names[c.user.username])
    ]


def _ensure_accounts(db: Database) -> dict[str, User]:
    with db.read() as conn:
        existing = {u.username: u for u in user_store.list_users(conn)}
    for username, role, password in DEMO_ACCOUNTS:
        if username not in existing:
            existing[username] = users.create_user(
                db, actor=None, username=username, password=password, role=role
            )
    return existing


DEMO_GUIDELINES = """\
# Which answer is better?

You will see a question and two answers, **A** and **B**. Pick the answer that a careful
expert would rather send to the person who asked.

1. **Correctness first.** A wrong or unsafe answer loses, however well written.
2. **Then helpfulness:** does it answer what was asked, completely and directly?
3. **Then clarity:** concise, well organised, no padding.

Choose **tie** only when neither answer is better in any way that matters. Use strength
(1 = slightly, 3 = much better) to say how sure you are, and add a one-line rationale.
"""
