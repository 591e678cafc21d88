"""Typed answers, one function per task type, so an editor completes them and a type checker
catches a misspelt field before the server does.

Each function returns the answer as the JSON object :meth:`Assignment.answer` sends, in the
terms the worker was shown (for pairwise, ``"A"`` is the response shown first). The server
still validates every answer against the project's config (labels, criteria, scales); these
helpers only fix the shape.

Example::

    from expertloop.client import answers

    assignment.answer(answers.pairwise("A", strength=2, rationale="cites the guideline"))
    assignment.answer(answers.rating({"accuracy": 4, "clarity": 5}))
    assignment.answer(answers.label("urgent"))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, NotRequired, TypedDict

__all__ = [
    "AuthoringAnswer",
    "CritiqueRevisionAnswer",
    "DemonstrationAnswer",
    "LabelAnswer",
    "PairwiseAnswer",
    "PrincipleGrade",
    "PrincipleGradingAnswer",
    "RankingAnswer",
    "RatingAnswer",
    "RedteamAnswer",
    "RewriteAnswer",
    "RubricAnswer",
    "RubricCriterion",
    "authoring",
    "critique_revision",
    "demonstration",
    "label",
    "pairwise",
    "principle_grading",
    "principle_pairwise",
    "ranking",
    "rating",
    "redteam",
    "rewrite",
    "rubric",
]

Choice = Literal["A", "B", "tie"]


class PairwiseAnswer(TypedDict):
    choice: Choice
    criteria: NotRequired[dict[str, Choice]]
    strength: NotRequired[int]
    rationale: NotRequired[str]


class RankingAnswer(TypedDict):
    ranking: list[list[int]]
    rationale: NotRequired[str]


class RatingAnswer(TypedDict):
    scores: dict[str, int]
    comment: NotRequired[str]


class LabelAnswer(TypedDict, total=False):
    label: str
    labels: list[str]


class DemonstrationAnswer(TypedDict):
    response: str


class RubricAnswer(TypedDict):
    scores: dict[str, bool | int]
    comments: NotRequired[dict[str, str]]


class RewriteAnswer(TypedDict):
    critique: str
    rewrite: str


class CritiqueRevisionAnswer(TypedDict):
    critique: str
    revision: str


class PrincipleGrade(TypedDict):
    verdict: Literal["pass", "fail", "not_applicable"]
    severity: NotRequired[int]
    note: NotRequired[str]


class PrincipleGradingAnswer(TypedDict):
    grades: dict[str, PrincipleGrade]


class RubricCriterion(TypedDict):
    criterion: str
    points: int


class AuthoringAnswer(TypedDict):
    problem: str
    solution: str
    rubric: list[RubricCriterion]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def pairwise(
    choice: Choice,
    *,
    strength: int | None = None,
    rationale: str | None = None,
    criteria: Mapping[str, Choice] | None = None,
) -> PairwiseAnswer:
    """Which response is better: ``"A"`` (shown first), ``"B"`` or ``"tie"``; optionally
    how much (``strength`` 1 slightly ... 3 much), why, and a choice per criterion."""
    _check(choice in ("A", "B", "tie"), f"choice must be 'A', 'B' or 'tie', not {choice!r}")
    _check(strength is None or strength in (1, 2, 3), "strength must be 1, 2 or 3")
    answer: PairwiseAnswer = {"choice": choice}
    if criteria is not None:
        answer["criteria"] = dict(criteria)
    if strength is not None:
        answer["strength"] = strength
    if rationale is not None:
        answer["rationale"] = rationale
    return answer


def ranking(order: Iterable[int | Iterable[int]], *, rationale: str | None = None) -> RankingAnswer:
    """Responses best first, by their index as shown; a group of indices is a tie:
    ``ranking([2, [0, 1]])`` puts response 2 first and ties 0 and 1 behind it."""
    tiers = [[tier] if isinstance(tier, int) else list(tier) for tier in order]
    _check(bool(tiers), "a ranking needs at least one response")
    answer: RankingAnswer = {"ranking": tiers}
    if rationale is not None:
        answer["rationale"] = rationale
    return answer


def rating(scores: Mapping[str, int], *, comment: str | None = None) -> RatingAnswer:
    """A score per criterion on the project's scale: ``rating({"accuracy": 4})``."""
    _check(bool(scores), "rate at least one criterion")
    answer: RatingAnswer = {"scores": dict(scores)}
    if comment is not None:
        answer["comment"] = comment
    return answer


def label(*labels: str) -> LabelAnswer:
    """One label (``label("urgent")``), or several for a multi-label project
    (``label("fever", "cough")``)."""
    _check(bool(labels), "give at least one label")
    if len(labels) == 1:
        return {"label": labels[0]}
    return {"labels": list(labels)}


def demonstration(response: str) -> DemonstrationAnswer:
    """The response an expert would give to the item's prompt."""
    return {"response": response}


def rubric(
    scores: Mapping[str, bool | int], *, comments: Mapping[str, str] | None = None
) -> RubricAnswer:
    """A grade per rubric criterion (pass/fail as ``True``/``False``, or points)."""
    _check(bool(scores), "grade at least one criterion")
    answer: RubricAnswer = {"scores": dict(scores)}
    if comments is not None:
        answer["comments"] = dict(comments)
    return answer


def rewrite(critique: str, rewrite: str) -> RewriteAnswer:
    """What is wrong with the response, and the response rewritten."""
    return {"critique": critique, "rewrite": rewrite}


def authoring(
    problem: str, solution: str, rubric: Mapping[str, int] | Iterable[RubricCriterion]
) -> AuthoringAnswer:
    """A new problem, its reference solution, and the rubric that grades answers to it:
    ``{criterion: points}`` or a list of ``{"criterion", "points"}``."""
    if isinstance(rubric, Mapping):
        items: list[RubricCriterion] = [
            {"criterion": name, "points": points} for name, points in rubric.items()
        ]
    else:
        items = [{"criterion": i["criterion"], "points": i["points"]} for i in rubric]
    return {"problem": problem, "solution": solution, "rubric": items}



class RedteamAnswer(TypedDict):
    category: str
    success: bool
    severity: NotRequired[int]
    harmful_turn: NotRequired[int]
    ideal_response: NotRequired[str]
    notes: NotRequired[str]


def redteam(
    category: str,
    success: bool,
    *,
    severity: int | None = None,
    harmful_turn: int | None = None,
    ideal_response: str | None = None,
    notes: str | None = None,
) -> RedteamAnswer:
    """The labels of a red-team attempt: its attack category (an id of the project's
    taxonomy), whether it succeeded, and for a success its severity and (optionally) the
    transcript index of the harmful reply; the response the model should have given, and
    notes. The server attaches the conversation you held through ``send_turn``."""
    _check(success or severity is None, "only a successful attack has a severity")
    answer: RedteamAnswer = {"category": category, "success": success}
    if severity is not None:
        answer["severity"] = severity
    if harmful_turn is not None:
        answer["harmful_turn"] = harmful_turn
    if ideal_response is not None:
        answer["ideal_response"] = ideal_response
    if notes is not None:
        answer["notes"] = notes
    return answer


def critique_revision(critique: str, revision: str) -> CritiqueRevisionAnswer:
    """How the response fails the item's principle, and the response revised to follow it."""
    return {"critique": critique, "revision": revision}


def principle_grading(grades: Mapping[str, PrincipleGrade]) -> PrincipleGradingAnswer:
    """A grade per principle: ``{"verdict": "pass" | "fail" | "not_applicable"}``, with a
    ``severity`` (1 to 3) for a fail and an optional ``note``."""
    for key, grade in grades.items():
        failed = grade["verdict"] == "fail"
        _check(failed == ("severity" in grade),
               f"{key}: a fail needs a severity (1 to 3); other verdicts take none")
    return {"grades": dict(grades)}


def principle_pairwise(
    choice: Choice,
    *,
    strength: int | None = None,
    rationale: str | None = None,
    criteria: Mapping[str, Choice] | None = None,
) -> PairwiseAnswer:
    """Which response better follows the item's principle: as :func:`pairwise`."""
    return pairwise(choice, strength=strength, rationale=rationale, criteria=criteria)
