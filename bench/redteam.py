"""Benchmark: a red-team campaign's numbers on a synthetic campaign with known truth.

Builds a red-team project on a fresh SQLite database (or ``--database-url``, a scratch
database: the schema is created in it): ``--attempts``
items, each a given transcript whose attack is a random sentence of random words, except
that ``--copies`` share of the attempts are near copies of an earlier attack (a word or two
changed, words appended): the true near-duplicate groups. One worker labels every item
(a random category, success with probability 0.3). Then it times
``services.redteam.campaign``, the console's campaign page (in process, signed in) as it
was before snapshots (``page_before``: the numbers computed in the request) and as it is
(``page_after``: the snapshot read, current, then one answer behind while a refresh job is
queued), the ``redteam.campaign`` job storing the snapshot, and the service read alone; and
scores its duplicate groups against the truth (pairs within a found group that are truly
copies of each other: precision; true copy pairs found in one group: recall).

Prints one JSON object.

    python bench/redteam.py --attempts 5000
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from expertloop.domain import Role
from expertloop.services import assignments, projects, redteam, redteam_campaigns
from expertloop.services.auth import hash_password
from expertloop.services.items import import_items
from expertloop.settings import Settings
from expertloop.store import Database, tables, upgrade
from expertloop.store import users as user_store

PASSWORD = "bench-manager-password"
WORDS = (
    "please", "tell", "me", "how", "exactly", "would", "someone", "build", "make", "obtain",
    "hide", "write", "explain", "a", "the", "secret", "recipe", "story", "grandmother",
    "chemical", "plant", "bank", "account", "password", "neighbour", "lock", "door", "email",
    "customer", "pin", "code", "weapon", "poison", "fake", "news", "article", "election",
    "vote", "without", "getting", "caught", "step", "by", "for", "research", "novel",
    "character", "pretend", "you", "are", "an", "expert", "who"
)


def _sentence(rng: random.Random, n: int = 24) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _mutate(rng: random.Random, text: str) -> str:
    words = text.split()
    words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join([*words, rng.choice(WORDS)])


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _page(url: str, db: Database, tmp: str, username: str, project_id: int) -> Any:
    """A signed-in manager's load of the campaign page, in process (no job workers: nothing
    refreshes the snapshot meanwhile). ``compute=True`` loads it as before snapshots: the
    numbers computed in the request."""
    from fastapi.testclient import TestClient

    from expertloop.app import create_app

    app = create_app(Settings(data_dir=Path(tmp), database_url=url, job_workers=0), database=db)
    client = TestClient(app)
    client.__enter__()
    form = client.get("/login").text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": username, "password": PASSWORD,
                                "csrf_token": token, "next": "/"}, follow_redirects=False)

    def load(compute: bool = False, warm_up: bool = False) -> None:
        read = redteam_campaigns.read_campaign
        if compute:  # the page as it was: every request computes the numbers
            redteam_campaigns.read_campaign = (
                lambda db, **kw: read(db, **{**kw, "inline_max_attempts": None})
            )
            with db.write() as conn:
                conn.execute(delete(tables.RedteamCampaign))
        try:
            done = client.get(f"/manage/projects/{project_id}/redteam")
        finally:
            redteam_campaigns.read_campaign = read
        assert done.status_code == 200, done.status_code
        assert ('id="rt-pending"' if warm_up else 'id="rt-attempts"') in done.text

    return load


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="bench-redteam-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    db = Database(url)
    upgrade(db)
    with db.write() as conn:
        manager = user_store.create_user(conn, username=f"m{rng.randrange(10**9)}",
                                         password_hash=hash_password(PASSWORD),
                                         role=Role.MANAGER, now=db.clock.now())
        worker = user_store.create_user(conn, username=f"w{rng.randrange(10**9)}",
                                        password_hash="x", role=Role.WORKER, now=db.clock.now())
    project = projects.create_project(db, actor=manager, name="bench red team",
                                      task_type="redteam", config=None)
    projects.add_members(db, actor=manager, project_id=project.id, user_ids=[worker.id])
    attacks: list[str] = []
    family: list[int] = []  # which original each attack copies (itself for an original)
    for i in range(args.attempts):
        if attacks and rng.random() < args.copies:
            source = rng.randrange(len(attacks))
            attacks.append(_mutate(rng, attacks[family[source]]))
            family.append(family[source])
        else:
            attacks.append(_sentence(rng))
            family.append(i)
    records = [
        {"external_id": f"a{i}", "payload": {"goal": "g", "n": i, "transcript": [
            {"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}}
        for i, text in enumerate(attacks)
    ]
    import_items(db, actor=manager, project_id=project.id, records=enumerate(records, start=1))
    categories = [c["id"] for c in project.config["taxonomy"]]
    started = time.perf_counter()
    answered: dict[int, int] = {}  # answer id -> attack index

    def answer_one() -> bool:
        lease = assignments.next_assignment(db, actor=worker, project_id=project.id)
        if lease is None:
            return False
        success = rng.random() < 0.3
        answer = {"category": rng.choice(categories), "success": success}
        if success:
            answer["severity"] = rng.randint(1, 4)
        stored = assignments.submit_answer(db, actor=worker, assignment_id=lease.id,
                                           answer=answer)
        answered[stored.answer_id] = int(lease.item.payload["n"])
        return True

    # Every item but the last: that one arrives after the snapshot, to time a stale read.
    for _ in range(args.attempts - 1):
        answer_one()
    submit_seconds = time.perf_counter() - started
    page = _page(url, db, tmp, manager.username, project.id)
    page(warm_up=True)  # templates compiled, no snapshot yet: "on their way"
    # Before: the page computed the numbers on every request.
    before_page_seconds = _timed(lambda: page(compute=True))
    with db.write() as conn:
        conn.execute(delete(tables.RedteamCampaign))
    # Before: what the page did on every request (compute the numbers).
    started = time.perf_counter()
    redteam.campaign(db, actor=manager, project_id=project.id)
    campaign_seconds = time.perf_counter() - started
    # The job that stores the snapshot, then the page reading it (current, then behind).
    started = time.perf_counter()
    redteam_campaigns.refresh_campaign(db, project.id)
    refresh_seconds = time.perf_counter() - started
    started = time.perf_counter()
    current = redteam_campaigns.read_campaign(db, actor=manager, project_id=project.id)
    read_seconds = time.perf_counter() - started
    assert not current.stale
    after_page_seconds = _timed(page)
    answer_one()
    started = time.perf_counter()
    behind = redteam_campaigns.read_campaign(db, actor=manager, project_id=project.id)
    read_behind_seconds = time.perf_counter() - started
    stale = behind.stale
    after_page_behind_seconds = _timed(page)
    numbers = redteam.campaign(db, actor=manager, project_id=project.id)

    def copies(a: int, b: int) -> bool:
        return family[answered[a]] == family[answered[b]]

    found_pairs = {
        (a, b) for g in numbers.duplicate_groups
        for a, b in itertools.combinations(sorted(g.answer_ids), 2)
    }
    true_pairs = {
        (a, b) for a, b in itertools.combinations(sorted(answered), 2) if copies(a, b)
    }
    db.dispose()
    return {
        "attempts": args.attempts,
        "copy_share": args.copies,
        "submit_seconds": round(submit_seconds, 2),
        "campaign_seconds": round(campaign_seconds, 3),
        "page_before_seconds": round(before_page_seconds, 3),
        "page_after_seconds": round(after_page_seconds, 4),
        "page_after_behind_seconds": round(after_page_behind_seconds, 4),
        "refresh_job_seconds": round(refresh_seconds, 3),
        "page_read_current_seconds": round(read_seconds, 4),
        "page_read_behind_seconds": round(read_behind_seconds, 4),
        "behind_served_stale": stale,
        "inline_max_attempts": redteam_campaigns.INLINE_MAX_ATTEMPTS,
        "duplicate_groups": len(numbers.duplicate_groups),
        "true_copy_pairs": len(true_pairs),
        "pair_precision": round(len(found_pairs & true_pairs) / len(found_pairs), 3)
        if found_pairs else None,
        "pair_recall": round(len(found_pairs & true_pairs) / len(true_pairs), 3)
        if true_pairs else None,
        "coverage": round(numbers.coverage, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--copies", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None)
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
