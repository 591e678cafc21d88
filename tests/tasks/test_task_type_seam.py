"""No code outside ``tasks/`` branches on a task-type name: exports, consensus, pages and
examples ask the task type (its hooks, formats and capabilities), so adding a task type is
one module in ``tasks/`` and its template.

The check reads the package's source: a registered name as a string literal compared with
something (``==``, ``!=``, ``in``, ``match``), or two or more of them as the keys of one
dict (a table keyed by task type), is a branch on a task type's name. Two words are shared
with other vocabularies and left alone there: a lone ``"label"`` key (a column of
``unpaired`` rows) and an observation's ``kind`` (``obs.kind == "ranking"`` asks what an
answer asserts, whichever task type it comes from).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from expertloop.tasks import TASK_TYPES

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "expertloop"
NAMES = frozenset(TASK_TYPES)


def _literal_names(node: ast.AST) -> list[str]:
    """The registered names a literal (a string, or a tuple, list or set of them) holds."""
    if isinstance(node, ast.Constant) and node.value in NAMES:
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [name for elt in node.elts for name in _literal_names(elt)]
    return []


def branches_on_task_type_names(source: str) -> list[tuple[int, str]]:
    """``(line, name)`` of every branch on a registered task-type name in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = (node.left, *node.comparators)
            if any(isinstance(o, ast.Attribute) and o.attr == "kind" for o in operands):
                continue  # an observation kind, not a task type
            for operand in operands:
                found += [(node.lineno, name) for name in _literal_names(operand)]
        elif isinstance(node, ast.MatchValue):
            found += [(node.lineno, name) for name in _literal_names(node.value)]
        elif isinstance(node, ast.Dict):
            keys = [name for key in node.keys if key is not None for name in _literal_names(key)]
            if len(keys) >= 2:
                found += [(node.lineno, name) for name in keys]
    return found


def _modules_outside_tasks() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if (PACKAGE / "tasks") not in path.parents
    )


@pytest.mark.parametrize(
    "source",
    [
        'if project.task_type == "pairwise":\n    pass\n',
        'if task.name != "ranking":\n    pass\n',
        'fast = name in ("pairwise", "label")\n',
        'match name:\n    case "rubric":\n        pass\n',
        'FORMATS = {"pairwise": ("preference",), "rating": ("reward",)}\n',
    ],
)
def test_the_check_finds_a_branch_on_a_task_type_name(source: str) -> None:
    assert branches_on_task_type_names(source)


def test_the_check_leaves_field_names_and_other_strings_alone() -> None:
    source = (
        'row = {"prompt": p, "completion": c, "label": True}\n'
        'if fmt in ("preference", "unpaired"):\n    pass\n'
        'project = create(task_type="pairwise")\n'
        'if obs.kind == "ranking":\n    pass\n'
    )
    assert branches_on_task_type_names(source) == []


def test_the_package_outside_tasks_has_modules_to_check() -> None:
    names = {path.relative_to(PACKAGE).as_posix() for path in _modules_outside_tasks()}
    assert {"exports/rows.py", "exports/consensus.py", "services/exports.py"} <= names
    assert not any(name.startswith("tasks/") for name in names)


def test_no_code_outside_tasks_branches_on_a_task_type_name() -> None:
    offences = [
        f"{path.relative_to(PACKAGE).as_posix()}:{line}: {name!r}"
        for path in _modules_outside_tasks()
        for line, name in branches_on_task_type_names(path.read_text(encoding="utf-8"))
    ]
    assert not offences, "ask the task type instead of its name:\n" + "\n".join(offences)
