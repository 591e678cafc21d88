"""The annotator loop under load: next -> answer over HTTP against a real server.

Starts ``expertloop serve`` as a subprocess on a fresh database (a new PostgreSQL database
``expertloop_bench_<random>``, dropped at the end, or a SQLite file in a temporary data
directory), creates an admin with the CLI, a pairwise project with three answers per item, N
synthetic items (imported over HTTP, timed) and W worker accounts, each a member of the
project with its own token. Then W simulated workers run ``next`` -> ``answer`` with no think
time, each over its own keep-alive HTTP/1.1 connection. A warm-up is excluded; the figures
cover the measured window only, and every loop still running at its end is cut off.

After the run the database is checked with SQL: duplicate (item, worker) answers, items with
more answers than their target or more answers plus leases than their target, and items
whose counters (``n_answers``, ``open_slots``) disagree with the rows they count.

CPU is charged per completed loop: the server (the uvicorn parent and all its children), the
database (every process named ``postgres``, as the delta of its CPU times over the window;
for SQLite it is inside the server) and the load generator itself. The load generator shares
the machine with the server, so it is a hand-written asyncio HTTP/1.1 client (``_http.py``)
on uvloop, several times cheaper per request than httpx; ``client_cpu_ms_per_loop`` shows
what it took. ``other_cpu_ms_per_loop`` is the machine's remaining busy time in the window:
if it is large, something else was running and the figures are suspect.

Usage::

    python bench/loop.py --db postgres --processes 2 --workers 64 --items 10000 --seconds 20
    python bench/loop.py --db sqlite --processes 1 --workers 32 --items 10000 --seconds 20

Prints one JSON object. Only 127.0.0.1 traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

from _http import Connection, Response

HOST = "127.0.0.1"
API = "/api/v1"
ADMIN_NAME = "bench-admin"
ADMIN_PASSWORD = "bench-admin-password"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# --------------------------------------------------------------------------- synthetic items

_TEXT = (
    "the a model answer response question user assistant explain why how what when which "
    "data value function system error result example code python table query index server "
    "request time memory list string number file path test case input output method class "
    "should would could might must can will is are was were be been being have has had do "
    "does did not no yes more less most least first last next previous better worse best "
    "clear concise correct wrong helpful harmful safe unsafe polite rude short long detailed "
    "because therefore however although while since unless until after before during into "
    "onto over under between among through across around about above below near far"
)
_WORDS = _TEXT.split()


def _sentence_pool(rng: random.Random, n: int) -> list[str]:
    pool = []
    for _ in range(n):
        words = rng.choices(_WORDS, k=rng.randint(8, 16))
        pool.append(" ".join(words).capitalize() + ".")
    return pool


def item_lines(
    start: int,
    count: int,
    pool: list[str],
    rng: random.Random,
    *,
    external_ids: bool = True,
    gold_every: int = 0,
) -> bytes:
    """NDJSON for items ``start`` .. ``start + count``: ~400-700 bytes of payload each;
    every ``gold_every``-th item carries gold (0: none)."""
    choice = rng.choice
    lines = []
    for i in range(start, start + count):
        payload = {
            "prompt": f"[{i}] {choice(pool)} {choice(pool)}",
            "response_a": f"{choice(pool)} {choice(pool)} {choice(pool)}",
            "response_b": f"{choice(pool)} {choice(pool)} {choice(pool)}",
        }
        item: dict[str, Any] = {"payload": payload}
        if gold_every and i % gold_every == 0:
            item["gold"] = {"choice": "A"}
        if external_ids:
            item["external_id"] = f"bench-{i}"
        lines.append(orjson.dumps(item))
    return b"\n".join(lines) + b"\n"


# --------------------------------------------------------------------------- measurement


@dataclass(slots=True)
class Stats:
    """What the simulated workers saw. Latencies and loops count only inside the window."""

    window_start: float = 0.0
    window_end: float = 0.0
    next_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    loops: int = 0
    # Completed loops per simulated worker: unequal counts mean unequal service (for
    # instance more connections on one server process than on another).
    worker_loops: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    error_statuses: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    no_work: int = 0

    def error(self, what: str, detail: str) -> None:
        self.errors += 1
        self.error_statuses[what] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{what}: {detail[:300]}")


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


class ProcessGroupMeter:
    """CPU and memory of the server processes and of every ``postgres`` process."""

    def __init__(self, server_pid: int, bench_db: str | None) -> None:
        self.server = psutil.Process(server_pid)
        self.bench_db = bench_db
        self.peak_rss = 0

    def server_procs(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self.server, *self.server.children(recursive=True)]
        return []

    def sample_rss(self) -> int:
        total = 0
        for proc in self.server_procs():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        self.peak_rss = max(self.peak_rss, total)
        return total

    def snapshot(self) -> dict[str, dict[int, float]]:
        """CPU seconds so far, by pid: server processes, postgres processes, bench backends."""
        server: dict[int, float] = {}
        for proc in self.server_procs():
            with contextlib.suppress(psutil.Error):
                server[proc.pid] = _cpu_seconds(proc)
        postgres: dict[int, float] = {}
        bench: dict[int, float] = {}
        if self.bench_db is not None:
            for proc in psutil.process_iter(["name", "cmdline"]):
                with contextlib.suppress(psutil.Error):
                    if proc.info["name"] != "postgres":
                        continue
                    seconds = _cpu_seconds(proc)
                    postgres[proc.pid] = seconds
                    # Backend titles read "postgres: USER DBNAME HOST(PORT) STATE".
                    if self.bench_db in " ".join(proc.info["cmdline"] or ()):
                        bench[proc.pid] = seconds
        return {"server": server, "postgres": postgres, "bench_backends": bench}


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A process born inside the window counts from zero; one that died is lost (rare: the
    # server and the pool keep theirs for the whole run).
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[index], 2)


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _expertloop_command() -> list[str]:
    script = Path(sys.executable).parent / "expertloop"
    if script.exists():
        return [str(script)]
    found = shutil.which("expertloop")
    if found:
        return [found]
    return [sys.executable, "-m", "expertloop.cli.main"]


class BenchEnvironment:
    """The bench database, the data directory and the server process; ``close`` undoes all."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="expertloop-bench-"))
        self.db_name: str | None = None
        self.admin_url: Any = None
        self.database_url = ""
        self.server: subprocess.Popen[bytes] | None = None
        self.port = _free_port()
        self.log_path = Path(args.server_log) if args.server_log else self.tmp / "server.log"

    # -- database
    def create_database(self) -> None:
        if self.args.db == "sqlite":
            self.database_url = f"sqlite:///{self.tmp / 'expertloop.db'}"
            return
        from sqlalchemy.engine import make_url

        self.admin_url = make_url(self.args.pg_url)
        name = f"expertloop_bench_{secrets.token_hex(4)}"
        with self._admin_connection() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.db_name = name
        self.database_url = self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _admin_connection(self) -> Any:
        import psycopg

        url = self.admin_url
        return psycopg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            autocommit=True,
        )

    def drop_database(self) -> None:
        if self.db_name is None:
            return
        with self._admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self.db_name = None

    # -- server
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            EXPERTLOOP_DATABASE_URL=self.database_url,
            EXPERTLOOP_DATA_DIR=str(self.tmp),
            EXPERTLOOP_LOG_LEVEL="warning",
        )
        return env

    def create_admin(self) -> None:
        command = [
            *_expertloop_command(),
            *("user", "create", ADMIN_NAME, "--role", "admin", "--password", ADMIN_PASSWORD),
        ]
        done = subprocess.run(command, env=self.env(), capture_output=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"creating the admin failed: {done.stderr.decode()[-2000:]}")

    def start_server(self) -> None:
        command = [
            *_expertloop_command(),
            *("serve", "--host", HOST, "--port", str(self.port)),
            *("--workers", str(self.args.processes)),
        ]
        with self.log_path.open("wb") as log:
            # Its own session, so that the whole group (uvicorn and its workers) can be ended.
            self.server = subprocess.Popen(
                command,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def server_log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop_server(self) -> None:
        server, self.server = self.server, None
        if server is None or server.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)

    def close(self) -> None:
        try:
            self.stop_server()
        finally:
            try:
                self.drop_database()
            finally:
                shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- the run


def _progress(message: str) -> None:
    print(f"[loop bench] {message}", file=sys.stderr, flush=True)


def _check(response: Response, expected: tuple[int, ...], what: str) -> Any:
    if response.status not in expected:
        raise RuntimeError(f"{what}: HTTP {response.status} {response.body[:500]!r}")
    return orjson.loads(response.body) if response.body else None


async def _wait_ready(env: BenchEnvironment, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if env.server is None or env.server.poll() is not None:
            raise RuntimeError(f"the server exited:\n{env.server_log_tail()}")
        conn = Connection(HOST, env.port)
        try:
            if (await conn.request("GET", "/healthz")).status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz in {timeout:.0f}s")


@dataclass(slots=True)
class Setup:
    project_id: int
    tokens: list[str]
    import_items_per_s: float
    import_seconds: float


async def _set_up(
    env: BenchEnvironment, args: argparse.Namespace, meter: ProcessGroupMeter
) -> Setup:
    port = env.port
    anonymous = Connection(HOST, port)
    login = orjson.dumps({"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    admin_token = _check(
        await anonymous.request("POST", f"{API}/auth/token", login), (200, 201), "admin login"
    )["token"]
    admin = Connection(HOST, port, token=admin_token)
    project = _check(
        await admin.request(
            "POST",
            f"{API}/projects",
            orjson.dumps(
                {
                    "name": "loop bench",
                    "task_type": "pairwise",
                    "answers_per_item": 3,
                    "lease_seconds": 600,
                    # The simulated annotators answer at random, which the default worker
                    # rules rightly flag and pause; the bench measures the loop, so the
                    # rules still run and flag but pause nobody.
                    "rules": {
                        rule: {"pause": False}
                        for rule in ("gold_accuracy", "spammer_score", "straight_lining")
                    },
                }
            ),
        ),
        (200, 201),
        "create project",
    )
    project_id = int(project["id"])
    if args.gold_share is not None:
        # The workforce's path: gold mixed in at that share (every 10th item is gold),
        # routing on, so every claim reads the worker's counters and may try tiers.
        _check(
            await admin.request(
                "PATCH",
                f"{API}/projects/{project_id}/workforce",
                orjson.dumps({"gold_share": args.gold_share, "route_min_accuracy": 0.6}),
            ),
            (200,),
            "workforce settings",
        )

    exam_id = await _set_up_exam(admin, project_id) if args.workforce else None

    if args.adaptive:
        # Adaptive redundancy: after every answer the item's posterior sets its target (the
        # random annotators disagree, so most items ask for more, up to 9 answers).
        _check(
            await admin.request(
                "PUT",
                f"{API}/projects/{project_id}/redundancy",
                orjson.dumps({"min_answers": 2, "max_answers": 9, "target_confidence": 0.95}),
            ),
            (200,),
            "adaptive redundancy",
        )

    # Worker accounts and their tokens; password hashing dominates, so a few in parallel.
    names = [f"bench-worker-{i}" for i in range(args.workers)]
    password = "bench-worker-password"
    user_ids: list[int] = []
    tokens: list[str] = []

    async def make_accounts(chunk: list[str]) -> None:
        conn = Connection(HOST, port, token=admin_token)
        anon = Connection(HOST, port)
        try:
            for name in chunk:
                body = orjson.dumps({"username": name, "password": password, "role": "worker"})
                user = _check(
                    await conn.request("POST", f"{API}/users", body), (200, 201), "create user"
                )
                user_ids.append(int(user["id"]))
                cred = orjson.dumps({"username": name, "password": password})
                token = _check(
                    await anon.request("POST", f"{API}/auth/token", cred), (200, 201), "login"
                )
                tokens.append(token["token"])
        finally:
            conn.close()
            anon.close()

    await asyncio.gather(*(make_accounts(names[i::4]) for i in range(4)))
    _check(
        await admin.request(
            "POST", f"{API}/projects/{project_id}/members", orjson.dumps({"user_ids": user_ids})
        ),
        (200, 201, 204),
        "add members",
    )
    if exam_id is not None:
        await _qualify_workers(admin, exam_id, project_id, user_ids, tokens)

    # Items, in chunks; only the requests are timed, not the generation of their bodies.
    rng = random.Random(args.seed)
    pool = _sentence_pool(rng, 4000)
    sent = 0
    import_seconds = 0.0
    path = f"{API}/projects/{project_id}/items"
    while sent < args.items:
        count = min(args.import_chunk, args.items - sent)
        body = item_lines(
            sent, count, pool, rng, external_ids=not args.no_external_ids,
            gold_every=10 if args.gold_share is not None else 0,
        )
        started = time.perf_counter()
        result = _check(
            await admin.request("POST", path, body, content_type="application/x-ndjson"),
            (200, 201),
            f"import items {sent}..{sent + count}",
        )
        import_seconds += time.perf_counter() - started
        meter.sample_rss()
        if int(result["count"]) != count:
            raise RuntimeError(f"import: expected {count} items, server says {result}")
        sent += count
        if sent % (10 * args.import_chunk) == 0:
            _progress(f"imported {sent} items, {sent / import_seconds:.0f}/s")
    admin.close()
    anonymous.close()
    return Setup(project_id, tokens, args.items / import_seconds, import_seconds)


# --workforce: a required skill every worker has, and a qualification exam of a few gold items
# that every worker passes before the run (so every claim evaluates both rules, as in a
# project that uses them, and every answer also counts votes for escalation).
_SKILL = "bench-skill"
_EXAM_ITEMS = 3


async def _set_up_exam(admin: Connection, project_id: int) -> int:
    """The exam project (all gold: the right response is the one reading "right") and the
    main project's skill, exam and escalation settings; the exam's id."""
    exam = _check(
        await admin.request(
            "POST",
            f"{API}/projects",
            orjson.dumps(
                {"name": "loop bench exam", "task_type": "pairwise", "answers_per_item": 1}
            ),
        ),
        (200, 201),
        "create exam project",
    )
    exam_id = int(exam["id"])
    lines = b"\n".join(
        orjson.dumps(
            {
                "payload": {"prompt": f"exam {k}", "response_a": "right", "response_b": "wrong"},
                "gold": {"choice": "A"},
            }
        )
        for k in range(_EXAM_ITEMS)
    )
    _check(
        await admin.request(
            "POST", f"{API}/projects/{exam_id}/items", lines + b"\n",
            content_type="application/x-ndjson",
        ),
        (200, 201),
        "import exam items",
    )
    _check(
        await admin.request(
            "PATCH",
            f"{API}/projects/{project_id}/workforce",
            orjson.dumps(
                {
                    "required_skills": {_SKILL: 2},
                    "qualification": {"exam_project_id": exam_id, "pass_mark": 0.8},
                    "escalate": True,
                }
            ),
        ),
        (200,),
        "workforce skills and exam",
    )
    return exam_id


async def _qualify_workers(
    admin: Connection, exam_id: int, project_id: int, user_ids: list[int], tokens: list[str]
) -> None:
    """Give every worker the skill and have each pass the exam (answering the response that
    reads "right", wherever the shuffle put it)."""
    for user_id in user_ids:
        _check(
            await admin.request(
                "PUT", f"{API}/users/{user_id}/skills", orjson.dumps({"skills": {_SKILL: 3}})
            ),
            (200,),
            "worker skills",
        )
    _check(
        await admin.request(
            "POST", f"{API}/projects/{exam_id}/members", orjson.dumps({"user_ids": user_ids})
        ),
        (200, 201, 204),
        "add exam members",
    )

    async def take_exam(token: str) -> None:
        conn = Connection(HOST, admin.port, token=token)
        try:
            while True:
                response = await conn.request("POST", f"{API}/projects/{exam_id}/assignments/next")
                if response.status == 204:
                    break
                shown = _check(response, (200,), "exam next")
                side = "A" if shown["item"]["payload"]["response_a"] == "right" else "B"
                _check(
                    await conn.request(
                        "POST",
                        f"{API}/assignments/{shown['assignment_id']}/answer",
                        orjson.dumps({"answer": {"choice": side}}),
                    ),
                    (200, 201),
                    "exam answer",
                )
            standing = _check(
                await conn.request("GET", f"{API}/projects/{project_id}/qualification"),
                (200,),
                "qualification",
            )
            if not standing["qualified"]:
                raise RuntimeError(f"a bench worker did not pass the exam: {standing}")
        finally:
            conn.close()

    # One worker at a time: the exam has three items, and concurrent claims skip the rows
    # other claims hold (PostgreSQL), so a worker could be told the exam has nothing left.
    for token in tokens:
        await take_exam(token)


_CHOICES = [orjson.dumps({"answer": {"choice": c}}) for c in ("A", "B", "tie")]


async def _worker(
    port: int, token: str, project_id: int, stats: Stats, seed: int, stop_at: float
) -> None:
    """One annotator: next -> answer with no think time until ``stop_at`` (or cancelled)."""
    conn = Connection(HOST, port, token=token)
    rng = random.Random(seed)
    clock = time.perf_counter
    next_path = f"{API}/projects/{project_id}/assignments/next"
    request = conn.request
    try:
        while clock() < stop_at:
            try:
                began = clock()
                response = await request("POST", next_path)
                ended = clock()
                if response.status == 204:
                    stats.no_work += 1
                    return
                if response.status != 200:
                    stats.error(f"next {response.status}", response.body.decode(errors="replace"))
                    await asyncio.sleep(0.05)
                    continue
                if stats.window_start <= ended < stats.window_end:
                    stats.next_ms.append((ended - began) * 1000)
                assignment_id = orjson.loads(response.body)["assignment_id"]
                began = clock()
                response = await request(
                    "POST",
                    f"{API}/assignments/{assignment_id}/answer",
                    rng.choice(_CHOICES),
                    headers=f"Idempotency-Key: bench-{assignment_id}\r\n",
                )
                ended = clock()
                if response.status not in (200, 201):
                    stats.error(f"answer {response.status}", response.body.decode(errors="replace"))
                    await asyncio.sleep(0.05)
                    continue
                if stats.window_start <= ended < stats.window_end:
                    stats.answer_ms.append((ended - began) * 1000)
                    stats.loops += 1
                    stats.worker_loops[seed] += 1
            except (OSError, ValueError, KeyError, ConnectionError) as exc:
                stats.error(f"exception {type(exc).__name__}", repr(exc))
                await asyncio.sleep(0.05)
    finally:
        conn.close()


def _spread(stats: Stats, workers: int) -> list[int]:
    counts = [stats.worker_loops[w] for w in stats.worker_loops]
    counts += [0] * (workers - len(counts))
    return [min(counts), max(counts)] if counts else [0, 0]


async def _sample_rss(meter: ProcessGroupMeter, interval: float) -> None:
    while True:
        meter.sample_rss()
        await asyncio.sleep(interval)


async def _run_loops(
    env: BenchEnvironment, args: argparse.Namespace, setup: Setup, meter: ProcessGroupMeter
) -> tuple[Stats, dict[str, float]]:
    stats = Stats()
    now = time.perf_counter()
    stats.window_start = now + args.warmup
    stats.window_end = stats.window_start + args.seconds
    sampler = asyncio.create_task(_sample_rss(meter, 0.5))
    workers = [
        asyncio.create_task(
            _worker(env.port, token, setup.project_id, stats, args.seed + i, stats.window_end)
        )
        for i, token in enumerate(setup.tokens)
    ]
    me = psutil.Process()
    try:
        await asyncio.sleep(max(0.0, stats.window_start - time.perf_counter()))
        cpu_before = meter.snapshot()
        _progress(
            f"measuring for {args.seconds:g}s; server pids "
            + " ".join(str(pid) for pid in sorted(cpu_before["server"]))
        )
        machine_before = psutil.cpu_times()
        client_before = _cpu_seconds(me)
        wall_before = time.perf_counter()
        await asyncio.sleep(max(0.0, stats.window_end - time.perf_counter()))
        client_after = _cpu_seconds(me)
        wall_after = time.perf_counter()
        machine_after = psutil.cpu_times()
        cpu_after = meter.snapshot()
    finally:
        # The deadline: whatever is still in flight is cut off, not waited for.
        for task in [*workers, sampler]:
            task.cancel()
        await asyncio.gather(*workers, sampler, return_exceptions=True)
    machine_busy = (machine_after.user + machine_after.system + machine_after.nice) - (
        machine_before.user + machine_before.system + machine_before.nice
    )
    figures = {
        "wall": wall_after - wall_before,
        "server": _delta(cpu_before["server"], cpu_after["server"]),
        "postgres": _delta(cpu_before["postgres"], cpu_after["postgres"]),
        "bench_backends": _delta(cpu_before["bench_backends"], cpu_after["bench_backends"]),
        "client": client_after - client_before,
        "machine_busy": machine_busy,
    }
    return stats, figures


# --------------------------------------------------------------------------- invariants

_DUPLICATES = """
    SELECT count(*) FROM (
      SELECT item_id, worker_id FROM answers GROUP BY item_id, worker_id HAVING count(*) > 1
    ) d
"""
# Per item: answers, and leases not yet ended (any 'leased' row holds a slot until it is
# answered, released or expired, so counting them all is the strict reading).
_PER_ITEM = """
    WITH a AS (SELECT item_id, count(*) AS n FROM answers GROUP BY item_id),
         l AS (SELECT item_id, count(*) AS n FROM assignments WHERE status = 'leased'
               GROUP BY item_id)
    SELECT
      coalesce(sum(CASE WHEN coalesce(a.n, 0) > i.target THEN 1 ELSE 0 END), 0),
      coalesce(sum(CASE WHEN coalesce(a.n, 0) + coalesce(l.n, 0) > i.target
                        THEN 1 ELSE 0 END), 0),
      coalesce(sum(CASE WHEN i.n_answers <> coalesce(a.n, 0)
                          OR i.open_slots <> i.target - coalesce(a.n, 0) - coalesce(l.n, 0)
                        THEN 1 ELSE 0 END), 0),
      (SELECT count(*) FROM answers),
      (SELECT count(*) FROM assignments WHERE status = 'leased')
    FROM items i
    LEFT JOIN a ON a.item_id = i.id
    LEFT JOIN l ON l.item_id = i.id
"""


# Projects that count votes (routing or escalation): per item without gold, its votes add up
# to its answers (every pairwise answer is a vote) and it is disputed exactly when two
# values have votes.
_VOTES = """
    WITH v AS (SELECT item_id, sum(n) AS n, count(*) AS k FROM item_votes GROUP BY item_id)
    SELECT coalesce(sum(CASE WHEN coalesce(v.n, 0) <> i.n_answers
                               OR (CASE WHEN i.disputed THEN 1 ELSE 0 END)
                                  <> (CASE WHEN coalesce(v.k, 0) > 1 THEN 1 ELSE 0 END)
                             THEN 1 ELSE 0 END), 0)
    FROM items i
    JOIN project_workforce w ON w.project_id = i.project_id
    LEFT JOIN v ON v.item_id = i.id
    WHERE i.gold IS NULL AND (w.route_min_accuracy IS NOT NULL OR w.escalate)
"""


def _analyze(database_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def check_invariants(database_url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            duplicates = int(conn.execute(text(_DUPLICATES)).scalar_one())
            row = conn.execute(text(_PER_ITEM)).one()
            vote_mismatches = int(conn.execute(text(_VOTES)).scalar_one())
    finally:
        engine.dispose()
    over_answers, over_with_leases, mismatched, answers, leases = (int(v) for v in row)
    return {
        "duplicates": duplicates,
        # An item over its target with answers alone is also over it with answers + leases;
        # the two conditions are counted once per item.
        "over_collected": max(over_answers, over_with_leases),
        "over_collected_answers": over_answers,
        "over_collected_with_leases": over_with_leases,
        "counter_mismatches": mismatched,
        "vote_mismatches": vote_mismatches,
        "answers_in_db": answers,
        "live_leases_in_db": leases,
    }


# --------------------------------------------------------------------------- main


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--processes", type=int, default=1, help="server processes")
    parser.add_argument("--workers", type=int, default=32, help="simulated annotators")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="excluded from the figures")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="where to create the bench DB")
    parser.add_argument("--import-chunk", type=int, default=20_000, help="items per request")
    parser.add_argument(
        "--no-external-ids", action="store_true", help="import items without external_id"
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="PostgreSQL: ANALYZE the bench database after the import (what autovacuum would "
        "do soon after; it is off on some servers)",
    )
    parser.add_argument(
        "--gold-share",
        type=float,
        default=None,
        help="run a workforce project: this gold share, every 10th item gold, routing on",
    )
    parser.add_argument(
        "--workforce",
        action="store_true",
        help="with --gold-share: also a required skill (every worker has it), a "
        "qualification exam (every worker passes it before the run) and escalation",
    )
    parser.add_argument(
        "--adaptive",
        action="store_true",
        help="adaptive redundancy on (min 2, max 9 answers, target confidence 0.95): every "
        "answer re-targets its item",
    )
    parser.add_argument("--server-log", help="keep the server's output in this file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    args = parser.parse_args(argv)
    if args.db == "sqlite" and args.processes != 1:
        parser.error("SQLite serves one process: use --processes 1")
    if args.workforce and args.gold_share is None:
        parser.error("--workforce builds on --gold-share: give both")
    if min(args.processes, args.workers, args.items) < 1 or args.seconds <= 0:
        parser.error("--processes, --workers, --items and --seconds must be positive")
    return args


async def _bench(env: BenchEnvironment, args: argparse.Namespace) -> dict[str, Any]:
    await _wait_ready(env)
    _progress(f"server up on port {env.port} ({args.db}, {args.processes} processes)")
    assert env.server is not None
    meter = ProcessGroupMeter(env.server.pid, env.db_name)
    started = time.perf_counter()
    setup = await _set_up(env, args, meter)
    setup_seconds = time.perf_counter() - started
    _progress(f"set up in {setup_seconds:.1f}s; warm-up {args.warmup:g}s")
    import_peak_rss = meter.peak_rss
    if args.analyze and args.db == "postgres":
        _analyze(env.database_url)
    meter.peak_rss = 0
    stats, cpu = await _run_loops(env, args, setup, meter)
    loops = stats.loops
    per_loop = 1000 / loops if loops else float("nan")
    db_cpu = cpu["postgres"] if args.db == "postgres" else 0.0
    other = cpu["machine_busy"] - cpu["server"] - db_cpu - cpu["client"]
    return {
        "db": args.db,
        "processes": args.processes,
        "workers": args.workers,
        "items": args.items,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "loops": loops,
        "loops_per_s": round(loops / cpu["wall"], 1),
        "next_p50_ms": _percentile(stats.next_ms, 50),
        "next_p99_ms": _percentile(stats.next_ms, 99),
        "answer_p50_ms": _percentile(stats.answer_ms, 50),
        "answer_p99_ms": _percentile(stats.answer_ms, 99),
        "next_max_ms": round(max(stats.next_ms), 2) if stats.next_ms else None,
        "answer_max_ms": round(max(stats.answer_ms), 2) if stats.answer_ms else None,
        "worker_loops_min_max": _spread(stats, args.workers),
        "errors": stats.errors,
        "error_kinds": dict(stats.error_statuses),
        "error_samples": stats.error_samples,
        "workers_out_of_items": stats.no_work,
        "server_cpu_ms_per_loop": round((cpu["server"] + db_cpu) * per_loop, 3),
        "server_process_cpu_ms_per_loop": round(cpu["server"] * per_loop, 3),
        "db_cpu_ms_per_loop": round(db_cpu * per_loop, 3),
        "db_bench_backends_cpu_ms_per_loop": round(cpu["bench_backends"] * per_loop, 3),
        "client_cpu_ms_per_loop": round(cpu["client"] * per_loop, 3),
        "other_cpu_ms_per_loop": round(other * per_loop, 3),
        "other_cpu_cores_used": round(other / cpu["wall"], 2),
        "machine_cpu_busy_pct": round(
            100 * cpu["machine_busy"] / cpu["wall"] / psutil.cpu_count(), 1
        ),
        "server_peak_rss_mb": round(meter.peak_rss / 2**20, 1),
        "server_peak_rss_mb_during_import": round(import_peak_rss / 2**20, 1),
        "import_items_per_s": round(setup.import_items_per_s, 1),
        "import_seconds": round(setup.import_seconds, 2),
        "import_chunk": args.import_chunk,
        "import_external_ids": not args.no_external_ids,
        "analyzed_after_import": bool(args.analyze and args.db == "postgres"),
        "setup_seconds": round(setup_seconds, 1),
        "gold_share": args.gold_share,
        "workforce": args.workforce,
        "adaptive": args.adaptive,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)

    def terminate(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    env = BenchEnvironment(args)
    try:
        env.create_database()
        env.create_admin()
        env.start_server()
        if args.no_uvloop:
            result = asyncio.run(_bench(env, args))
        else:
            import uvloop

            result = uvloop.run(_bench(env, args))
        env.stop_server()
        if result["errors"]:
            # The error bodies say "see the server log": bring its end along.
            result["server_log_tail"] = env.server_log_tail()
        result.update(check_invariants(env.database_url))
    finally:
        env.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
