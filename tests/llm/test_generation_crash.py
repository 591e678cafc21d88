"""A generation job's worker killed with SIGKILL mid-way: a second worker resumes it, and
the project ends with every item once and every call recorded once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.services import llm
from expertloop.store import jobs as job_store
from expertloop.store import tables as t
from llm_server import ChatServer

N_PROMPTS = 16
PER_PROMPT_CALLS = 4  # 2 providers x 2 samples
PER_PROMPT_ITEMS = 6  # all pairs of 4


def _worker(env: Env, data_dir: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "EXPERTLOOP_DATABASE_URL": env.backend.url,
        "EXPERTLOOP_DATA_DIR": str(data_dir),
        "EXPERTLOOP_JOB_KINDS": "llm.generate",
        "EXPERTLOOP_JOB_LEASE_SECONDS": "1",
        "EXPERTLOOP_JOB_POLL_SECONDS": "0.1",
        "EXPERTLOOP_LOG_LEVEL": "warning",
    }
    with (data_dir / "worker.log").open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "expertloop.cli.main", "worker"],
            env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )


def _count(env: Env, table: type[t.Base], *where: object) -> int:
    with env.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _wait(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_generation_killed_mid_way_resumes_without_duplicate_items_or_calls(
    env: Env, tmp_path: Path
) -> None:
    with ChatServer(delay=0.05) as server:
        server.reply_to_body = lambda body: f"{body['model']} {body['seed']} {body['messages']}"
        manager = env.user(Role.MANAGER)
        project = env.project(manager)
        for name in ("small", "large"):
            llm.add_provider(env.db, actor=None, name=name, base_url=server.base_url,
                             model=f"model-{name}", max_retries=0, concurrency=2)
        prompts = [{"id": f"p{k}", "prompt": f"Question {k}?"} for k in range(N_PROMPTS)]
        job = llm.start_generation(env.db, actor=manager, project_id=project, prompts=prompts,
                                   providers=["small", "large"], n=2)
        first = _worker(env, tmp_path)
        try:
            _wait(lambda: _count(env, t.LlmCall) >= 20, 60, "the first calls")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        calls_at_kill = _count(env, t.LlmCall)
        assert calls_at_kill < N_PROMPTS * PER_PROMPT_CALLS  # killed part-way
        second = _worker(env, tmp_path)
        try:
            def finished() -> bool:
                with env.db.read() as conn:
                    row = job_store.load_job(conn, job.id)
                return row is not None and row.status in ("succeeded", "failed")

            _wait(finished, 120, "the resumed job")
        finally:
            second.terminate()
            second.wait(timeout=30)
        with env.db.read() as conn:
            done = job_store.load_job(conn, job.id)
            keys = conn.execute(select(t.LlmCall.cache_key)).scalars().all()
            external_ids = conn.execute(
                select(t.Item.external_id).where(t.Item.project_id == project)
            ).scalars().all()
        assert done is not None
        assert done.status == "succeeded", done.error
        assert len(external_ids) == N_PROMPTS * PER_PROMPT_ITEMS
        assert len(set(external_ids)) == len(external_ids)
        # Every call recorded once; at most the calls in flight at the kill (<= 4, the two
        # providers' concurrency) were sent again.
        assert len(keys) == len(set(keys)) == N_PROMPTS * PER_PROMPT_CALLS
        assert N_PROMPTS * PER_PROMPT_CALLS <= server.calls <= N_PROMPTS * PER_PROMPT_CALLS + 4
