"""The light client distribution (``clients/python``): built from the same source as the
server's copy, it holds only ``expertloop.client``, needs only httpx, and drives a real server
from an environment that has nothing else installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import expertloop
from db_fixtures import PASSWORD, Env
from expertloop.domain import Role

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "clients" / "python"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client's wheel, built with the PEP 517 hook of the installed hatchling."""
    out = tmp_path_factory.mktemp("wheel")
    name = (
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from hatchling.build import build_wheel; print(build_wheel({str(out)!r}))",
            ],
            cwd=CLIENT_DIR,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return out / name


def test_the_wheel_holds_only_the_client_and_its_package_marker(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if ".dist-info/" not in n]
    assert "expertloop/__init__.py" in code
    assert all(n == "expertloop/__init__.py" or n.startswith("expertloop/client/") for n in code)
    source = sorted(
        str(p.relative_to(ROOT / "src")) for p in (ROOT / "src/expertloop/client").glob("*.py")
    )
    assert sorted(n for n in code if n.startswith("expertloop/client/")) == source


def test_the_wheel_needs_only_httpx_and_matches_the_server_version(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(meta_name).decode())
    required = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    assert [r.name for r in required if r.marker is None] == ["httpx"]
    assert metadata["Version"] == expertloop.__version__
    project = tomllib.loads((CLIENT_DIR / "pyproject.toml").read_text())["project"]
    assert project["version"] == expertloop.__version__


def _closure(name: str, seen: set[str]) -> set[str]:
    """The installed distributions ``name`` needs (without extras), itself included."""
    dist = distribution(name)
    key = dist.metadata["Name"].lower()
    if key not in seen:
        seen.add(key)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                _closure(req.name, seen)
    return seen


def _only(dists: set[str], into: Path) -> None:
    """Link the files of just these installed distributions into ``into``."""
    into.mkdir()
    for name in dists:
        dist = distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (into / top).exists():
                (into / top).symlink_to(source)


def test_the_client_alone_drives_a_real_server(env: Env, wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # a pure-Python wheel installs by unpacking
    deps = tmp_path / "deps"
    _only(_closure("httpx", set()), deps)
    env.user(Role.MANAGER, "mia")
    env.user(Role.WORKER, "alice")
    script = f"""
import importlib.util, sys
for server_part in ("fastapi", "sqlalchemy", "numpy", "pydantic"):
    assert importlib.util.find_spec(server_part) is None, server_part
from expertloop.client import Client, answers
manager = Client.login({env.url!r}, "mia", {PASSWORD!r})
project = manager.projects.create("Light", "pairwise")
assert project.members.add(["alice"])
project.items.add([{{"prompt": "2+2?", "response_a": "4", "response_b": "5"}}])
worker = Client.login({env.url!r}, "alice", {PASSWORD!r})
assignment = worker.projects.get(project.id).next()
receipt = assignment.answer(answers.pairwise("A", strength=2))
print(receipt.item_id, project.export_formats)
"""
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path[:0] = [{str(site)!r}, {str(deps)!r}]\n{script}",
        ],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    item_id, formats = result.stdout.split(" ", 1)
    assert int(item_id) > 0
    assert "preference" in formats
