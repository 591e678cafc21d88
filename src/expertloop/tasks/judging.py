"""LLM judges, per task type: how a judge prompt is built for an item, how the model's reply
is read back into a verdict in canonical answer terms, how the verdicts of several prompts
(both orders of a pair) combine, and which categories a verdict gives for calibration.

A judge's verdict is a model suggestion, never an answer. Task types without a judge here
(:func:`judge_for` returns ``None``) cannot be judged.

- Pairwise: the pair is judged in both orders (A/B as stored, then swapped); the verdict on
  each key (``overall`` and each criterion) stands only when both orders agree, otherwise
  that key is *unsure* (position bias or indifference shows up as inconsistency).
- Rubric: a score for every criterion (pass/fail as ``true``/``false``, points as a whole
  number within ``max_points``).
- Label: one label from the set, or several (``multiple: true``).

Every prompt asks for one JSON object and nothing else; :func:`extract_json` takes the
first JSON object found in the reply (models often wrap it in prose or a code fence). A
reply cut at the token limit, or one that does not parse, makes its item unsure with the
reason recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from expertloop.tasks.base import TaskType

__all__ = [
    "Judge",
    "JudgePrompt",
    "JudgeReplyInvalid",
    "JudgeVerdict",
    "extract_json",
    "judge_for",
    "judged_task_types",
    "render_prompt",
]

_CHOICES = ("A", "B", "tie")
_SWAP = {"A": "B", "B": "A", "tie": "tie"}


class JudgeReplyInvalid(ValueError):
    """The model's reply is not a verdict of the expected shape (the message says why)."""


@dataclass(frozen=True, slots=True)
class JudgePrompt:
    """One prompt for one item: ``order`` names it (``"ab"``, ``"ba"``, ``"single"``)."""

    order: str
    messages: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    """What the judge concluded about an item: ``value`` in canonical answer terms (only
    the keys it is sure of; ``None`` when it is sure of nothing), ``unsure`` when the
    primary key (a pair's overall choice, a rubric's scores, the label) is unsure, and
    ``details`` for people (each prompt's reading, the reasons for doubt)."""

    value: dict[str, Any] | None
    unsure: bool
    details: dict[str, Any] = field(default_factory=dict)


def render_prompt(prompt: Any) -> str:
    """An item's prompt as text: a string as is, chat messages as ``role: content`` lines."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n\n".join(
            f"{m.get('role', 'user')}: {m.get('content', '')}"
            for m in prompt
            if isinstance(m, dict)
        )
    return json.dumps(prompt, ensure_ascii=False)


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text``."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise JudgeReplyInvalid("the reply holds no JSON object")


def _system(instructions: str | None, role: str) -> dict[str, str]:
    text = f"You are {role}. Judge carefully and impartially. Reply with one JSON object only."
    if instructions:
        text += "\n\nGuidelines:\n" + instructions
    return {"role": "system", "content": text}


class Judge:
    """The judge of one task type (subclasses below)."""

    def prompts(
        self, payload: Mapping[str, Any], config: Mapping[str, Any], *,
        instructions: str | None = None,
    ) -> list[JudgePrompt]:
        raise NotImplementedError

    def parse(
        self, text: str, prompt: JudgePrompt, config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The reply to ``prompt`` as a verdict in canonical answer terms, or
        :class:`JudgeReplyInvalid`."""
        raise NotImplementedError

    def combine(
        self, readings: Mapping[str, dict[str, Any] | None], config: Mapping[str, Any],
        errors: Mapping[str, str],
    ) -> JudgeVerdict:
        """The verdict from each prompt's reading (``None`` where the reply was invalid;
        ``errors`` says why)."""
        raise NotImplementedError

    def categories(self, value: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
        """A verdict, a gold answer or a consensus as one category per key, for agreement
        (keys absent where the value says nothing)."""
        raise NotImplementedError


class PairwiseJudge(Judge):
    def _criteria(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        return list(config.get("criteria") or [])

    def prompts(
        self, payload: Mapping[str, Any], config: Mapping[str, Any], *,
        instructions: str | None = None,
    ) -> list[JudgePrompt]:
        criteria = self._criteria(config)
        shape: dict[str, Any] = {"overall": "A | B | tie"}
        lines = []
        if criteria:
            shape["criteria"] = {c["name"]: "A | B | tie" for c in criteria}
            lines = ["Judge each criterion separately as well:"] + [
                f"- {c['name']}" + (f": {c['description']}" if c.get("description") else "")
                for c in criteria
            ]
        out = []
        for order, (first, second) in (
            ("ab", (payload["response_a"], payload["response_b"])),
            ("ba", (payload["response_b"], payload["response_a"])),
        ):
            body = (
                "Which response answers the prompt better?\n\n"
                f"## Prompt\n{render_prompt(payload['prompt'])}\n\n"
                f"## Response A\n{first}\n\n## Response B\n{second}\n\n"
                + ("\n".join(lines) + "\n\n" if lines else "")
                + "Say tie when neither is better. Reply with JSON only, in this shape:\n"
                + json.dumps(shape)
            )
            out.append(
                JudgePrompt(order, [_system(instructions, "an expert evaluator"),
                                    {"role": "user", "content": body}])
            )
        return out

    def _choice(self, value: Any, where: str) -> str:
        if isinstance(value, str):
            cleaned = value.strip().strip(".").upper()
            if cleaned in ("A", "B"):
                return cleaned
            if cleaned == "TIE":
                return "tie"
        raise JudgeReplyInvalid(f"{where} must be A, B or tie, not {value!r}")

    def parse(
        self, text: str, prompt: JudgePrompt, config: Mapping[str, Any]
    ) -> dict[str, Any]:
        reply = extract_json(text)
        overall = reply.get("overall", reply.get("choice"))
        verdict: dict[str, Any] = {"choice": self._choice(overall, "overall")}
        names = [c["name"] for c in self._criteria(config)]
        if names:
            given = reply.get("criteria")
            if not isinstance(given, dict):
                raise JudgeReplyInvalid("criteria must be an object with a verdict per criterion")
            missing = [n for n in names if n not in given]
            if missing:
                raise JudgeReplyInvalid(f"criteria lacks {missing}")
            verdict["criteria"] = {n: self._choice(given[n], f"criteria.{n}") for n in names}
        if prompt.order == "ba":  # shown swapped: map back to the item's own A and B
            verdict["choice"] = _SWAP[verdict["choice"]]
            if "criteria" in verdict:
                verdict["criteria"] = {k: _SWAP[v] for k, v in verdict["criteria"].items()}
        return verdict

    def combine(
        self, readings: Mapping[str, dict[str, Any] | None], config: Mapping[str, Any],
        errors: Mapping[str, str],
    ) -> JudgeVerdict:
        ab, ba = readings.get("ab"), readings.get("ba")
        details: dict[str, Any] = {"orders": dict(readings), "errors": dict(errors)}
        if ab is None or ba is None:
            details["unsure"] = ["overall"]
            return JudgeVerdict(None, True, details)
        value: dict[str, Any] = {}
        unsure = []
        if ab["choice"] == ba["choice"]:
            value["choice"] = ab["choice"]
        else:
            unsure.append("overall")
        consistent = {
            name: choice for name, choice in (ab.get("criteria") or {}).items()
            if (ba.get("criteria") or {}).get(name) == choice
        }
        unsure += [n for n in ab.get("criteria") or {} if n not in consistent]
        if consistent:
            value["criteria"] = consistent
        details["unsure"] = unsure
        return JudgeVerdict(value or None, "overall" in unsure, details)

    def categories(self, value: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        if value.get("choice") in _CHOICES:
            out["overall"] = str(value["choice"])
        for name, choice in (value.get("criteria") or {}).items():
            if choice in _CHOICES:
                out[str(name)] = str(choice)
        return out


class RubricJudge(Judge):
    def prompts(
        self, payload: Mapping[str, Any], config: Mapping[str, Any], *,
        instructions: str | None = None,
    ) -> list[JudgePrompt]:
        lines = []
        shape: dict[str, Any] = {}
        for c in config.get("criteria") or []:
            line = f"- {c['name']}"
            if c.get("description"):
                line += f": {c['description']}"
            if c["kind"] == "pass_fail":
                line += " (pass/fail: true or false)"
                shape[c["name"]] = "true | false"
            else:
                line += f" (points: a whole number from 0 to {c['max_points']})"
                shape[c["name"]] = f"0..{c['max_points']}"
                anchors = sorted((c.get("anchors") or {}).items(), key=lambda a: int(a[0]))
                for point, anchor in anchors:
                    line += f"\n    {point}: {anchor}"
            lines.append(line)
        body = (
            "Grade the response against the rubric, criterion by criterion.\n\n"
            f"## Prompt\n{render_prompt(payload['prompt'])}\n\n"
            f"## Response\n{payload['response']}\n\n## Rubric\n" + "\n".join(lines)
            + "\n\nReply with JSON only, in this shape:\n" + json.dumps({"scores": shape})
        )
        return [JudgePrompt("single", [_system(instructions, "an expert grader"),
                                       {"role": "user", "content": body}])]

    def parse(
        self, text: str, prompt: JudgePrompt, config: Mapping[str, Any]
    ) -> dict[str, Any]:
        reply = extract_json(text)
        scores = reply.get("scores", reply)
        if not isinstance(scores, dict):
            raise JudgeReplyInvalid("scores must be an object")
        out: dict[str, Any] = {}
        for c in config.get("criteria") or []:
            name = c["name"]
            if name not in scores:
                raise JudgeReplyInvalid(f"scores lacks {name!r}")
            given = scores[name]
            if c["kind"] == "pass_fail":
                if isinstance(given, str) and given.lower() in ("true", "pass", "false", "fail"):
                    given = given.lower() in ("true", "pass")
                if not isinstance(given, bool):
                    raise JudgeReplyInvalid(f"scores.{name} must be true or false")
                out[name] = given
            else:
                if isinstance(given, float) and given.is_integer():
                    given = int(given)
                if isinstance(given, bool) or not isinstance(given, int) or not (
                    0 <= given <= int(c["max_points"])
                ):
                    raise JudgeReplyInvalid(
                        f"scores.{name} must be a whole number from 0 to {c['max_points']}"
                    )
                out[name] = given
        return {"scores": out}

    def combine(
        self, readings: Mapping[str, dict[str, Any] | None], config: Mapping[str, Any],
        errors: Mapping[str, str],
    ) -> JudgeVerdict:
        reading = readings.get("single")
        details = {"errors": dict(errors)}
        return JudgeVerdict(reading, reading is None, details)

    def categories(self, value: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
        scores = value.get("scores") or {}
        out: dict[str, str] = {}
        for c in config.get("criteria") or []:
            score = scores.get(c["name"])
            if score is None:
                continue
            if c["kind"] == "pass_fail":
                out[c["name"]] = "pass" if float(score) >= 0.5 else "fail"
            elif isinstance(score, (int, float)):
                out[c["name"]] = str(round(float(score)))
        return out


class LabelJudge(Judge):
    def prompts(
        self, payload: Mapping[str, Any], config: Mapping[str, Any], *,
        instructions: str | None = None,
    ) -> list[JudgePrompt]:
        labels = list(config.get("labels") or [])
        multiple = bool(config.get("multiple"))
        shape = {"labels": ["..."]} if multiple else {"label": "..."}
        item = "\n".join(
            f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in payload.items()
        )
        body = (
            ("Choose every label that applies" if multiple else "Choose the one label that fits")
            + f" from: {json.dumps(labels, ensure_ascii=False)}\n\n## Item\n{item}\n\n"
            "Reply with JSON only, in this shape:\n" + json.dumps(shape)
        )
        return [JudgePrompt("single", [_system(instructions, "an expert annotator"),
                                       {"role": "user", "content": body}])]

    def parse(
        self, text: str, prompt: JudgePrompt, config: Mapping[str, Any]
    ) -> dict[str, Any]:
        reply = extract_json(text)
        labels = list(config.get("labels") or [])
        if config.get("multiple"):
            chosen = reply.get("labels")
            if not isinstance(chosen, list) or any(c not in labels for c in chosen):
                raise JudgeReplyInvalid(f"labels must be a list drawn from {labels}")
            return {"labels": [label for label in labels if label in chosen]}
        chosen = reply.get("label")
        if chosen not in labels:
            raise JudgeReplyInvalid(f"label must be one of {labels}, not {chosen!r}")
        return {"label": chosen}

    def combine(
        self, readings: Mapping[str, dict[str, Any] | None], config: Mapping[str, Any],
        errors: Mapping[str, str],
    ) -> JudgeVerdict:
        reading = readings.get("single")
        return JudgeVerdict(reading, reading is None, {"errors": dict(errors)})

    def categories(self, value: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
        if config.get("multiple"):
            if not isinstance(value.get("labels"), list):
                return {}
            chosen = set(value["labels"])
            labels = config.get("labels") or []
            return {label: "yes" if label in chosen else "no" for label in labels}
        return {"label": str(value["label"])} if value.get("label") is not None else {}


_JUDGES: dict[str, Judge] = {
    "pairwise": PairwiseJudge(),
    "rubric": RubricJudge(),
    "label": LabelJudge(),
}


def judge_for(task: TaskType) -> Judge | None:
    """The judge of ``task``'s type, or ``None`` when it has none."""
    return _JUDGES.get(task.name)


def judged_task_types() -> Sequence[str]:
    return sorted(_JUDGES)
