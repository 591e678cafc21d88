"""Benchmark: a red-team campaign's numbers on a synthetic campaign with known truth.

Builds a red-team project on a fresh SQLite database (or ``--database-url``): ``--attempts``
items, each a given transcript whose attack is a random sentence of random words, except
that ``--copies`` share of the attempts are near copies of an earlier attack (a word or two
changed, words appended): the true near-duplicate groups. One worker labels every item
(a random category, success with probability 0.3). Then it times
``services.redteam.campaign`` (what the page computed per request before snapshots), the
``redteam.campaign`` job storing the snapshot, and the page's read of it
(``services.redteam_campaigns.read_campaign``: current, then one answer behind); and
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

from expertloop.domain import Role
from expertloop.services import assignments, projects, redteam, redteam_campaigns
from expertloop.services.items import import_items
from expertloop.store import Database, upgrade
from expertloop.store import users as user_store

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


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="bench-redteam-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    db = Database(url)
    upgrade(db)
    with db.write() as conn:
        manager = user_store.create_user(conn, username=f"m{rng.randrange(10**9)}",
                                         password_hash="x", role=Role.MANAGER, now=db.clock.now())
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
    answer_one()
    started = time.perf_counter()
    behind = redteam_campaigns.read_campaign(db, actor=manager, project_id=project.id)
    read_behind_seconds = time.perf_counter() - started
    stale = behind.stale
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
