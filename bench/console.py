"""Every page of the manager's console, timed on PostgreSQL with 1M items and 3M answers.

Builds a fresh PostgreSQL database (``expertloop_bench_console_<random>``, dropped at the
end unless ``--keep``): a manager, ``--workers`` workers, one pairwise project with
``1M x --scale`` items and three answers per item on average (half the items complete at
four answers, half open at two; 1% gold, 0.1% disabled; answers spread over the last three
days, with presentations, durations and some decided reviews), written with COPY. Runs the
consensus snapshot job once (timed: it is the background work the pages read), starts
``expertloop serve`` without job workers (so no refit runs while pages are timed), signs the
manager in, and loads each page of :data:`PAGES` ``--repeat`` times over one keep-alive
connection, after one warm-up load.

A page answering 404 is reported as missing (another part of the console not merged into
this branch), not as an error. Times are measured by the client on the loopback interface,
one request at a time: the server's time plus well under a millisecond.

Usage::

    python bench/console.py --scale 0.01 --repeat 10     # 10k items, a quick check
    python bench/console.py                              # 1M items, 3M answers
    python bench/console.py --keep-database console_1m   # build once, reuse afterwards

Prints one JSON object: per page p50/p99 in ms and the status, the snapshot job's time, and
whether every page met the 300 ms p99 target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _http import Connection

HOST = "127.0.0.1"
MANAGER = "bench-manager"
PASSWORD = "bench-manager-password"
TARGET_P99_MS = 300.0
FULL_ITEMS = 1_000_000

# Every console page, by URL ({project}, {item}, {after}, {search} filled in). The lead adds
# a page with one line.
PAGES: tuple[tuple[str, str], ...] = (
    ("home", "/manage"),
    ("people", "/manage/people"),
    ("person", "/manage/people/{person}"),
    ("new project", "/manage/projects/new"),
    ("overview", "/manage/projects/{project}"),
    ("items", "/manage/projects/{project}/items"),
    ("items page 2", "/manage/projects/{project}/items?after={after}"),
    ("items open", "/manage/projects/{project}/items?filter=open"),
    ("items complete", "/manage/projects/{project}/items?filter=complete"),
    ("items gold", "/manage/projects/{project}/items?filter=gold"),
    ("items disabled", "/manage/projects/{project}/items?filter=disabled"),
    ("items flagged", "/manage/projects/{project}/items?filter=flagged"),
    ("items open, page 2", "/manage/projects/{project}/items?filter=open&after={after}"),
    ("items least confident", "/manage/projects/{project}/items?sort=confidence"),
    ("items most disagreement", "/manage/projects/{project}/items?sort=disagreement"),
    ("items search", "/manage/projects/{project}/items?q={search}"),
    ("items search, rare", "/manage/projects/{project}/items?q=zebra"),
    ("item", "/manage/projects/{project}/items/{item}"),
    ("import", "/manage/projects/{project}/import"),
    ("members", "/manage/projects/{project}/members"),
    ("reviews", "/manage/projects/{project}/reviews"),
    ("exports", "/manage/projects/{project}/exports"),
    ("flags", "/manage/projects/{project}/flags"),
    ("flags workers", "/manage/projects/{project}/flags/workers"),
    ("exam", "/manage/projects/{project}/exam"),
    ("settings", "/manage/projects/{project}/settings"),
)

WORDS = (
    "patient", "dose", "statin", "renal", "hepatic", "trial", "cohort", "risk", "benefit",
    "guideline", "evidence", "clinical", "symptom", "therapy", "contraindication",
    "interaction", "elderly", "frail", "pregnancy", "infection", "antibiotic", "vaccine",
    "screening", "diagnosis", "prognosis", "imaging", "surgery",
)


def _progress(message: str) -> None:
    print(f"[console bench] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _expertloop() -> list[str]:
    script = Path(sys.executable).parent / "expertloop"
    if script.exists():
        return [str(script)]
    found = shutil.which("expertloop")
    return [found] if found else [sys.executable, "-m", "expertloop.cli.main"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[k], 1)


# --------------------------------------------------------------------------- the data


def _copy(pg: Any, table: str, columns: str, lines: Any) -> None:
    with pg.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for n, line in enumerate(lines, 1):
            buffer.write(line)
            if n % 20_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def build(database_url: str, *, n_items: int, n_workers: int, seed: int) -> dict[str, Any]:
    """The bench project, written with COPY; returns its ids."""
    import psycopg
    from sqlalchemy.engine import make_url

    from expertloop.domain import Role
    from expertloop.services.auth import hash_password
    from expertloop.store import Database, upgrade
    from expertloop.store import users as user_store
    from expertloop.store.items import search_text

    db = Database(database_url)
    upgrade(db)
    now = datetime.utcnow().replace(microsecond=0)
    with db.write() as conn:
        manager = user_store.create_user(
            conn, username=MANAGER, password_hash=hash_password(PASSWORD), role=Role.MANAGER,
            now=now,
        )
        workers = [
            user_store.create_user(
                conn, username=f"bench-worker-{k}", password_hash="x", role=Role.WORKER, now=now
            )
            for k in range(n_workers)
        ]
    from expertloop.services import projects

    project = projects.create_project(
        db, actor=manager, name="Console bench", task_type="pairwise", config=None,
        answers_per_item=4,
    ).id
    db.dispose()
    rng = random.Random(seed)
    url = make_url(database_url)
    started = time.monotonic()
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password,
        dbname=url.database,
    ) as pg:
        with pg.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM items")
            base = int(cur.fetchone()[0])  # type: ignore[index]
        worker_ids = [w.id for w in workers]
        ts = now.isoformat(sep=" ")

        def items() -> Any:
            for k in range(n_items):
                item_id = base + k + 1
                words = " ".join(rng.choice(WORDS) for _ in range(12))
                payload = {"prompt": f"Question {k}: {words}?", "response_a": f"Answer A {k}",
                           "response_b": f"Answer B {k}"}
                gold = '{"choice": "A"}' if k % 100 == 7 else "null"
                answers = 4 if k % 2 == 0 else 2
                open_slots = 0 if answers == 4 or k % 1000 == 3 else 2
                disabled = ts if k % 1000 == 3 else "\\N"
                yield (
                    f"{item_id}\t{project}\tq{k}\t{_esc(json.dumps(payload))}\t{gold}\t0\t4\t"
                    f"{answers}\t{open_slots}\t{ts}\t{disabled}\n"
                )

        _copy(pg, "items", "id, project_id, external_id, payload, gold, priority, target, "
              "n_answers, open_slots, created_at, disabled_at", items())
        _progress(f"items written ({time.monotonic() - started:.0f} s)")

        def searches() -> Any:
            local = random.Random(seed)
            for k in range(n_items):
                words = " ".join(local.choice(WORDS) for _ in range(12))
                payload = {"prompt": f"Question {k}: {words}?", "response_a": f"Answer A {k}",
                           "response_b": f"Answer B {k}"}
                yield f"{base + k + 1}\t{project}\t{_esc(search_text(f'q{k}', payload))}\n"

        rng = random.Random(seed)  # the same words as the items
        with pg.cursor() as cur:  # the trigram index is built faster once than row by row
            cur.execute("DROP INDEX IF EXISTS ix_item_search_text_trgm")
        _copy(pg, "item_search", "item_id, project_id, text", searches())
        with pg.cursor() as cur:
            cur.execute("CREATE INDEX ix_item_search_text_trgm ON item_search "
                        "USING gin (text gin_trgm_ops)")
        _progress(f"search text written ({time.monotonic() - started:.0f} s)")

        with pg.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM assignments")
            first_answer = int(cur.fetchone()[0]) + 1  # type: ignore[index]
        skill = {w: 0.65 + 0.3 * rng.random() for w in worker_ids}
        plan: list[tuple[int, int, int, str, bool, int, str]] = []
        answer_id = first_answer
        span = 72 * 3600
        for k in range(n_items):
            truth = "A" if k % 3 else "B"
            for w in rng.sample(worker_ids, 4 if k % 2 == 0 else 2):
                choice = truth if rng.random() < skill[w] else rng.choice(("A", "B", "tie"))
                at = (now - timedelta(seconds=span * (1 - k / n_items) + rng.random() * 60))
                plan.append((answer_id, base + k + 1, w, choice, rng.random() < 0.5,
                             rng.randint(4000, 90000), at.isoformat(sep=" ")))
                answer_id += 1

        def assignments() -> Any:
            for aid, item, w, _, swap, _, at in plan:
                presentation = '{"swap": true}' if swap else '{"swap": false}'
                yield f"{aid}\t{project}\t{item}\t{w}\tanswered\t{presentation}\t{at}\t{at}\t{at}\n"

        _copy(pg, "assignments", "id, project_id, item_id, worker_id, status, presentation, "
              "leased_at, expires_at, finished_at", assignments())
        _progress(f"{len(plan)} assignments written ({time.monotonic() - started:.0f} s)")

        def answers() -> Any:
            for aid, item, w, choice, _, ms, at in plan:
                yield (f"{aid}\t{project}\t{item}\t{w}\t{aid}\t{{\"choice\": \"{choice}\"}}\t"
                       f"{ms}\t{at}\n")

        _copy(pg, "answers", "id, project_id, item_id, worker_id, assignment_id, value, "
              "duration_ms, created_at", answers())
        _progress(f"answers written ({time.monotonic() - started:.0f} s)")

        def reviews() -> Any:
            for n, (aid, _, w, _, _, _, at) in enumerate(plan[:: max(1, len(plan) // 5000)]):
                outcome = "rejected" if n % 7 == 0 else "accepted"
                comment = "off topic" if outcome == "rejected" else ""
                yield (f"{project}\t{aid}\t{w}\tsample\t{manager.id}\t{at}\t{manager.id}\t"
                       f"{outcome}\t{comment}\t{at}\n")

        _copy(pg, "reviews", "project_id, answer_id, worker_id, source, requested_by, "
              "requested_at, reviewer_id, outcome, comment, decided_at", reviews())
        with pg.cursor() as cur:
            for table in ("items", "assignments", "answers"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cur.execute(
                "INSERT INTO project_members (project_id, user_id, added_at) "
                "SELECT %s, id, now() FROM users WHERE role = 'worker'",
                (project,),
            )
        pg.commit()
        with pg.cursor() as cur:
            cur.execute("ANALYZE")
        pg.commit()
    _progress(f"data built in {time.monotonic() - started:.0f} s")
    return {"project": project, "item": base + n_items // 2 + 1, "answers": len(plan)}


def _mark_built(database_url: str, ids: dict[str, Any]) -> None:
    """Record the finished build in the database itself, so a later run can reuse it."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username,
                         password=url.password, dbname=url.database) as pg:
        pg.execute("CREATE TABLE IF NOT EXISTS bench_console_build (ids text NOT NULL)")
        pg.execute("DELETE FROM bench_console_build")
        pg.execute("INSERT INTO bench_console_build (ids) VALUES (%s)", (json.dumps(ids),))
        pg.commit()


def _reuse(database_url: str) -> dict[str, Any] | None:
    """The ids of a finished build kept in this database (migrated to the head), or None."""
    import psycopg
    from sqlalchemy.engine import make_url

    from expertloop.store import Database, upgrade

    url = make_url(database_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username,
                         password=url.password, dbname=url.database) as pg:
        found = pg.execute("SELECT to_regclass('bench_console_build')").fetchone()
        if found is None or found[0] is None:
            return None
        row = pg.execute("SELECT ids FROM bench_console_build").fetchone()
        if row is None:
            return None
        ids: dict[str, Any] = json.loads(row[0])
        n_items = pg.execute("SELECT count(*) FROM items WHERE project_id = %s",
                             (ids["project"],)).fetchone()
    ids["items"] = int(n_items[0]) if n_items else 0
    db = Database(database_url)
    try:
        upgrade(db)
    finally:
        db.dispose()
    return ids


def snapshot(database_url: str, project: int) -> dict[str, Any]:
    from expertloop.services.consensus import refresh_snapshot
    from expertloop.store import Database

    db = Database(database_url)
    try:
        started = time.monotonic()
        result = refresh_snapshot(db, project, include_gold=False)
        result["seconds"] = round(time.monotonic() - started, 1)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE consensus_items")
            conn.exec_driver_sql("ANALYZE consensus_workers")
        return result
    finally:
        db.dispose()


# --------------------------------------------------------------------------- the pages


async def _sign_in(conn: Connection) -> str:
    """The manager's session cookie. The sign-in form sets a nonce cookie that its post must
    carry back, so both go over plain one-shot connections that keep the headers."""
    reader, writer = await asyncio.open_connection(conn.host, conn.port)
    writer.write(f"GET /login HTTP/1.1\r\nHost: {conn.host}\r\nConnection: close\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    nonce = re.search(rb"expertloop_login=([^;]+);", raw)
    token = re.search(rb'name="csrf_token" value="([0-9a-f]+)"', raw)
    assert nonce is not None
    assert token is not None
    body = urlencode({"csrf_token": token.group(1).decode(), "next": "/manage",
                      "username": MANAGER, "password": PASSWORD}).encode()
    reader, writer = await asyncio.open_connection(conn.host, conn.port)
    writer.write(
        f"POST /login HTTP/1.1\r\nHost: {conn.host}\r\nConnection: close\r\n"
        f"Cookie: expertloop_login={nonce.group(1).decode()}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    raw = await reader.read()
    writer.close()
    session = re.search(rb"expertloop_session=([^;]+);", raw)
    assert session is not None, raw[:500]
    return session.group(1).decode()


def _cpu(proc: Any) -> float:
    """CPU seconds of the server process and its children so far."""
    total = 0.0
    for p in (proc, *proc.children(recursive=True)):
        with contextlib.suppress(Exception):
            times = p.cpu_times()
            total += times.user + times.system
    return total


async def time_pages(
    port: int, ids: dict[str, Any], repeat: int, server_pid: int
) -> dict[str, Any]:
    import psutil

    server = psutil.Process(server_pid)
    conn = Connection(HOST, port)
    cookie = f"Cookie: expertloop_session={await _sign_in(conn)}\r\n"
    first = await conn.request("GET", f"/manage/projects/{ids['project']}/items", headers=cookie)
    after = re.search(rb'after=([0-9._]+)"', first.body)
    people = await conn.request("GET", "/manage/people", headers=cookie)
    person = re.search(rb'href="/manage/people/([0-9]+)"', people.body)
    values = {**ids, "after": after.group(1).decode() if after else "0", "search": "frail",
              "person": person.group(1).decode() if person else "0"}
    out: dict[str, Any] = {}
    for name, template in PAGES:
        path = template.format(**values)
        warm = await conn.request("GET", path, headers=cookie)
        if warm.status == 404:
            out[name] = {"path": path, "status": "missing"}
            continue
        times = []
        statuses = set()
        cpu_before = _cpu(server)
        for _ in range(repeat):
            started = time.perf_counter()
            response = await conn.request("GET", path, headers=cookie)
            times.append((time.perf_counter() - started) * 1000)
            statuses.add(response.status)
        entry: dict[str, Any] = {
            "path": path,
            "status": sorted(statuses),
            "p50_ms": _percentile(times, 0.5),
            "p99_ms": _percentile(times, 0.99),
            # The server process's own CPU per load: what the page costs, whatever else
            # runs on the machine (the database's CPU is not in it).
            "server_cpu_ms": round((_cpu(server) - cpu_before) * 1000 / repeat, 1),
        }
        if statuses != {200}:
            entry["error"] = True
        out[name] = entry
        _progress(f"{name}: {entry['p50_ms']} / {entry['p99_ms']} ms, "
                  f"{entry['server_cpu_ms']} ms CPU {sorted(statuses)}")
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M items, 3M answers")
    parser.add_argument("--repeat", type=int, default=20, help="loads of each page")
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--keep-database", metavar="NAME",
        help="build the data into the database NAME and keep it; when NAME already holds a "
             "finished build, reuse it (migrated to the head, snapshot job rerun) instead",
    )
    parser.add_argument("--build-only", action="store_true",
                        help="build (or migrate) the data and stop before timing the pages")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(args.pg_url)
    name = args.keep_database or f"expertloop_bench_console_{secrets.token_hex(4)}"
    keep = args.keep or bool(args.keep_database)

    def admin_conn() -> Any:
        return psycopg.connect(host=admin.host, port=admin.port, user=admin.username,
                               password=admin.password, dbname=admin.database or "postgres",
                               autocommit=True)

    with admin_conn() as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone() is not None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    database_url = admin.set(database=name).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="expertloop-console-bench-"))
    server: subprocess.Popen[bytes] | None = None
    n_items = max(100, int(FULL_ITEMS * args.scale))
    try:
        ids = _reuse(database_url) if exists else None
        if exists and ids is None:
            raise SystemExit(f"the database {name} exists but holds no finished build: "
                             "drop it or pick another name")
        if ids is None:
            ids = build(database_url, n_items=n_items, n_workers=args.workers, seed=args.seed)
            _mark_built(database_url, ids)
        else:
            n_items = ids["items"]
            _progress(f"reusing the database {name}: {ids}")
        if args.build_only:
            _progress(f"built {name}; --build-only: stopping before the pages")
            return
        _progress("running the snapshot job")
        job = snapshot(database_url, ids["project"])
        _progress(f"snapshot job: {job}")
        port = _free_port()
        env = dict(os.environ, EXPERTLOOP_DATABASE_URL=database_url,
                   EXPERTLOOP_DATA_DIR=str(tmp), EXPERTLOOP_LOG_LEVEL="warning",
                   EXPERTLOOP_JOB_WORKERS="0")
        log = (tmp / "server.log").open("wb")
        server = subprocess.Popen(
            [*_expertloop(), "serve", "--host", HOST, "--port", str(port), "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
                break
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((tmp / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        pages = asyncio.run(time_pages(port, ids, args.repeat, server.pid))
        timed = [p for p in pages.values() if "p99_ms" in p]
        print(json.dumps({
            "bench": "console",
            "database": "postgresql",
            "items": n_items,
            "answers": ids["answers"],
            "workers": args.workers,
            "repeat": args.repeat,
            "snapshot_job_seconds": job.get("seconds"),
            # Other work on the machine inflates the times: the load average during the run.
            "load_average_1m": round(os.getloadavg()[0], 1),
            "cpu_count": os.cpu_count(),
            "target_p99_ms": TARGET_P99_MS,
            "all_under_target": all(p["p99_ms"] < TARGET_P99_MS for p in timed),
            "missing": [k for k, p in pages.items() if p.get("status") == "missing"],
            "errors": [k for k, p in pages.items() if p.get("error")],
            "pages": pages,
        }))
    finally:
        if server is not None and server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=15)
        if not keep:
            with admin_conn() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            _progress(f"kept the database {name}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
