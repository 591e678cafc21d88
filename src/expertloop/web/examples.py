"""Example projects, one per task type, for the UI's screenshots and browser tests.

Each is small and realistic, so a picture of the page shows what experts really see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EXAMPLES", "Example"]


@dataclass(frozen=True)
class Example:
    task_type: str
    name: str
    config: dict[str, Any]
    items: list[dict[str, Any]]
    guidelines: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_GUIDE = """\
# How to judge

Read the prompt first, then every response in full.

1. **Correctness first.** A wrong or unsafe answer loses, however well written.
2. **Then helpfulness:** does it answer what was asked, completely and directly?
3. **Then clarity:** concise, well organised, no padding.

> When two answers are equally good, say so: a tie is a real answer.

| Key | Does |
|-----|------|
| `G` | shows or hides these guidelines |
| `S` | skips an item you cannot judge |
"""

_STATIN_PROMPT = (
    "A 62-year-old with an LDL of 4.1 mmol/L asks whether they should start a statin. "
    "They have no history of heart disease. What should a GP tell them?"
)
_STATIN_A = """\
It depends on their **overall 10-year cardiovascular risk**, not the LDL alone:

1. Estimate risk with a validated tool (QRISK3 in the UK, PCE in the US).
2. If the risk is **10% or more**, offer atorvastatin 20 mg and lifestyle advice.
3. Below that, focus on diet, activity and smoking, and reassess in 5 years.

Check lipids, ALT and HbA1c before starting; recheck lipids at 3 months.
"""
_STATIN_B = """\
Yes. Anyone with an LDL over 4 should start a high-dose statin straight away, since
cholesterol is the main cause of heart attacks. Side effects are rare and not worth
discussing.
"""


EXAMPLES: list[Example] = [
    Example(
        task_type="pairwise",
        name="Clinical answers: which is better?",
        config={"require_rationale": False},
        guidelines=_GUIDE,
        items=[
            {
                "external_id": "statin-1",
                "payload": {
                    "prompt": _STATIN_PROMPT,
                    "response_a": _STATIN_A,
                    "response_b": _STATIN_B,
                },
            }
        ],
        extra={"answer": {"choice": "A", "strength": 3}},
    ),
    Example(
        task_type="label",
        name="Triage inbox: route each message",
        config={"labels": ["Urgent", "Routine", "Administrative", "Not medical"]},
        guidelines="Route each patient message to the queue that should answer it. "
        "**Urgent** means a clinician should see it today.",
        items=[
            {
                "external_id": "msg-1",
                "payload": {
                    "message": "I've had a tight chest for about 20 minutes and my left arm "
                    "feels heavy. Should I wait for my appointment on Thursday?",
                    "channel": "patient portal",
                },
            }
        ],
        extra={"answer": {"label": "Urgent"}},
    ),
    Example(
        task_type="ranking",
        name="Rank explanations of TCP slow start",
        config={"allow_ties": False},
        guidelines="Rank from the explanation you would most like a junior engineer to "
        "read to the one you would least like them to read.",
        items=[
            {
                "external_id": "tcp-1",
                "payload": {
                    "prompt": "Explain TCP slow start in a short paragraph.",
                    "responses": [
                        "TCP slow start grows the congestion window **exponentially**: it "
                        "starts small (a few segments) and adds one segment per ACK, so "
                        "the window doubles every round trip until it reaches `ssthresh` "
                        "or sees loss.",
                        "Slow start means TCP sends slowly at first to be polite.",
                        "The sender begins with a small congestion window and increases "
                        "it for each acknowledged segment. After a loss it halves "
                        "`ssthresh` and restarts, which keeps new flows from flooding "
                        "the network.",
                    ],
                },
            }
        ],
        extra={"answer": {"ranking": [[0], [2], [1]]}},
    ),
    Example(
        task_type="rating",
        name="Rate abstract summaries",
        config={
            "criteria": [
                {
                    "name": "accuracy",
                    "description": "Is every claim supported by the abstract?",
                    "min": 1,
                    "max": 5,
                    "anchors": {"1": "mostly wrong", "3": "minor errors", "5": "exact"},
                },
                {"name": "clarity", "min": 1, "max": 5},
            ],
            "require_comment": False,
        },
        guidelines="Score each summary against the abstract it summarises.",
        items=[
            {
                "external_id": "abs-1",
                "payload": {
                    "prompt": "Summarise for a clinician: *A randomised trial of 1,204 "
                    "adults found that a 12-week walking programme lowered systolic "
                    "blood pressure by 4.1 mmHg (95% CI 2.8-5.4) compared with usual "
                    "care.*",
                    "response": "In a large randomised trial, 12 weeks of walking lowered "
                    "systolic blood pressure by about **4 mmHg** versus usual care.",
                },
            }
        ],
        extra={"answer": {"scores": {"accuracy": 5, "clarity": 4}}},
    ),
    Example(
        task_type="demonstration",
        name="Write model replies: tax questions",
        config={"min_length": 20},
        guidelines="Write the reply a careful, qualified adviser would send. Say when the "
        "person should see a professional.",
        items=[
            {
                "external_id": "tax-1",
                "payload": {
                    "prompt": [
                        {"role": "system", "content": "You are a UK tax adviser."},
                        {
                            "role": "user",
                            "content": "I work from home two days a week as an employee. "
                            "Can I claim anything for it?",
                        },
                    ]
                },
            }
        ],
        extra={
            "answer": {
                "response": "Yes, if your employer requires you to work from home you can "
                "claim tax relief of £6 a week without receipts."
            }
        },
    ),
    Example(
        task_type="rubric",
        name="Grade discharge letters",
        config={
            "criteria": [
                {
                    "name": "correct dose",
                    "description": "States apixaban 5 mg twice daily.",
                    "kind": "pass_fail",
                    "weight": 2,
                },
                {
                    "name": "completeness",
                    "description": "Diagnosis, medication changes, follow-up.",
                    "kind": "points",
                    "max_points": 3,
                    "anchors": {"0": "misses most", "3": "covers every item"},
                },
            ],
            "pass_threshold": 0.7,
        },
        guidelines="Grade against the rubric only; do not reward style.",
        items=[
            {
                "external_id": "letter-1",
                "payload": {
                    "prompt": "Draft a discharge letter to the GP for a patient admitted "
                    "with new atrial fibrillation, started on apixaban.",
                    "response": "Dear Dr Okafor,\n\nMr Patel (72) was admitted with new "
                    "**atrial fibrillation**. He was started on *apixaban 5 mg twice "
                    "daily* and bisoprolol 2.5 mg once daily.\n\n- Please check renal "
                    "function in 4 weeks.\n- Cardiology clinic in 6 weeks.",
                },
            }
        ],
        extra={"answer": {"scores": {"correct dose": True, "completeness": 3}}},
    ),
    Example(
        task_type="rewrite",
        name="Fix medication answers",
        config={"min_critique_length": 10},
        guidelines="Critique first, then rewrite. Keep what was right.",
        items=[
            {
                "external_id": "ibu-1",
                "payload": {
                    "prompt": "Is ibuprofen safe in pregnancy?",
                    "response": "Yes, ibuprofen is safe throughout pregnancy.",
                },
            }
        ],
        extra={
            "answer": {
                "critique": "Wrong after 20 weeks: NSAIDs carry fetal risks.",
                "rewrite": "Not after 20 weeks. Paracetamol is preferred; ask a midwife.",
            }
        },
    ),
    Example(
        task_type="authoring",
        name="Author statistics problems",
        config={"min_rubric_items": 2, "max_rubric_items": 6},
        guidelines="Problems must have one checkable final answer.",
        items=[
            {
                "external_id": "stats-1",
                "payload": {
                    "brief": "A graduate-level problem on **Bayesian updating** with a "
                    "clinical test, whose answer is a single probability.",
                    "topic": "statistics",
                    "difficulty": "hard",
                },
            }
        ],
        extra={
            "answer": {
                "problem": "A test has sensitivity 0.9 and specificity 0.95; prevalence "
                "is 1%. What is P(disease | positive)?",
                "solution": "By Bayes: 0.009 / (0.009 + 0.0495) = 0.154.",
                "rubric": [
                    {"criterion": "Sets up Bayes' theorem", "points": 2},
                    {"criterion": "Final answer 0.154", "points": 3},
                ],
            }
        },
    ),
]
