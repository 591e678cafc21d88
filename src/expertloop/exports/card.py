"""The dataset card (``README.md``) of an export, on every export path.

A Hugging Face dataset card: a YAML header the Hub and ``datasets`` read (licence,
languages, task categories, size, the split's files, the features, so ``datasets`` types
the columns the same way whatever file it loads, and the ``expertloop`` block of quality
numbers), then text for people: which trainer takes the format and how, every column, the
label balance of unpaired data, and how far to trust the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from expertloop.exports._card_format import as_json as _json
from expertloop.exports._card_format import fmt as _fmt
from expertloop.exports.card_judges import judges_section
from expertloop.exports.writers import yaml_features

__all__ = ["COLUMN_DOCS", "TRAINERS", "card_markdown", "size_category"]

TRAINERS: dict[str, str] = {
    "preference": "TRL `DPOTrainer` (also `RewardTrainer`, which takes chosen/rejected pairs)",
    "reward": "TRL `RewardTrainer`",
    "unpaired": "TRL `KTOTrainer`",
    "sft": "TRL `SFTTrainer`",
    "scores": "a regression head: transformers `AutoModelForSequenceClassification` with "
    "`num_labels=1` and `Trainer`",
    "classification": "a classification head: transformers "
    "`AutoModelForSequenceClassification` and `Trainer`",
    "rubric_rl": "TRL `GRPOTrainer` with a reward function that grades a completion against "
    "the row's `solution` and `rubric`",
    "raw": "none as it is: every answer as given, for your own aggregation or audit",
}
"""The trainer each format is written for (its card names it; the CI test trains it)."""

_TASK_CATEGORIES: dict[str, list[str]] = {
    "preference": ["text-generation"],
    "reward": ["text-generation"],
    "unpaired": ["text-generation"],
    "sft": ["text-generation"],
    "scores": ["text-classification"],
    "classification": ["text-classification"],
    "rubric_rl": ["text-generation", "reinforcement-learning"],
    "raw": [],
}

_TAGS: dict[str, list[str]] = {
    "preference": ["dpo", "preference"],
    "reward": ["reward-modeling", "preference"],
    "unpaired": ["kto"],
    "sft": ["sft"],
    "scores": ["reward-modeling", "regression"],
    "classification": ["classification"],
    "rubric_rl": ["rlvr", "rubrics"],
    "raw": ["annotations"],
}

COLUMN_DOCS: dict[str, str] = {
    "prompt": "the prompt: a list of chat messages (`role`, `content`), or in the standard "
    "form a string (a conversation as `role: content` blocks ending with `assistant: `)",
    "chosen": "the better reply (one assistant message, or a string)",
    "rejected": "the worse reply",
    "preference_strength": "how sure the consensus is that `chosen` is better: "
    "P(chosen better) - P(rejected better) under the consensus model, in (0, 1]; for pairs "
    "of two scored responses, the difference of their scores on a 0..1 scale. Not named "
    "`margin`, which RewardTrainer would take as a required reward gap",
    "completion": "the reply (one assistant message, or a string)",
    "label": "`true` for a desirable reply, `false` for an undesirable one",
    "labels": "the consensus labels, a list of `ClassLabel` s (multi-label)",
    "messages": "the conversation, the expert's reply last",
    "criterion": "what the score measures (a rating criterion, or `total` for a rubric)",
    "score": "the aggregated score: the posterior mean on the criterion's scale (a "
    "rubric's total, 0..1)",
    "text": "the item's text (the payload's `text`, its only text field, or its text "
    "fields as `name: value` lines)",
    "answer_id": "the answer's id",
    "worker": "the worker's pseudonym (stable in this project, not reversible)",
    "answer": "the answer as the worker gave it (JSON text)",
    "payload": "the item's payload (JSON text)",
    "duration_ms": "the time the worker took",
    "created_at": "when the answer was given (UTC, ISO 8601)",
    "review": "the answer's review outcome (accepted, rejected, fixed, pending, or null)",
    "review_comment": "the reviewer's comment",
    "fixed_answer": "the reviewer's corrected answer (JSON text)",
    "reviewer": "the reviewer's pseudonym",
    "reviewed_at": "when it was reviewed",
    "principle_key": "the id of the constitution's principle the row was written against",
    "constitution_version": "the published constitution version the principle comes from",
    "item_id": "provenance: the item's id in expertloop",
    "external_id": "provenance: the item's id in your own data",
    "rejected_item_id": "provenance: the item of the rejected response (the same item for "
    "a pair from one comparison)",
    "rejected_external_id": "provenance: that item's id in your own data",
    "n_answers": "provenance: the answers that count on the item",
    "confidence": "provenance: the posterior probability of the consensus the row comes from "
    "(null for free text, which has no model)",
}

_FORMAT_COLUMN_DOCS: dict[str, dict[str, str]] = {
    "rubric_rl": {
        "solution": "the author's reference solution (Markdown)",
        "rubric": "the grading rubric: a list of `criterion` and `points`",
    },
    "classification": {
        "label": "the consensus label, a `ClassLabel` (its position in the label set; "
        "`int2str` gives the name)",
    },
    "reward": {
        "item_id": "provenance: the chosen response's item",
        "external_id": "provenance: that item's id in your own data",
        "n_answers": "provenance: the answers that count on the item (the fewer of the two "
        "items of a pair of responses)",
        "confidence": "provenance: the posterior probability of the consensus the row comes "
        "from (for a pair of two scored responses, the lower of the two)",
    },
}


def _column_doc(fmt: str, name: str) -> str:
    return _FORMAT_COLUMN_DOCS.get(fmt, {}).get(name) or COLUMN_DOCS.get(name, "")

_SIZES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)


def size_category(rows: int) -> str:
    """The Hub's size category of a dataset of ``rows`` rows."""
    for bound, name in _SIZES:
        if rows < bound:
            return name
    return "n>1T" if rows > 10**12 else "1B<n<10B"


def _usage(stats: Mapping[str, Any], features: Mapping[str, Any]) -> list[str]:
    fmt = stats["format"]
    noise = stats["label_noise"]
    balance = stats.get("label_counts") or {}
    if fmt == "preference":
        lines = [
            "```python",
            "from trl import DPOConfig, DPOTrainer",
            'trainer = DPOTrainer(model=model, args=DPOConfig(...), train_dataset=ds["train"],',
            "                     processing_class=tokenizer)",
            "```",
            "",
        ]
        if noise is not None:
            lines += [
                f"The estimated label noise is {noise:.4f}: the mean, over the rows, of the",
                "posterior probability that the row's consensus is wrong (1 - confidence). DPO",
                "can train robustly to that much noise with",
                f'`DPOConfig(label_smoothing={noise:.3f})` (with `loss_type="sigmoid"`).',
                "",
            ]
        return lines + _margin_advice()
    if fmt == "reward":
        return [
            "```python",
            "from trl import RewardConfig, RewardTrainer",
            "trainer = RewardTrainer(model=model, args=RewardConfig(...),",
            '                        train_dataset=ds["train"], processing_class=tokenizer)',
            "```",
            "",
            *_margin_advice(),
        ]
    if fmt == "unpaired":
        good, bad = balance.get("true", 0), balance.get("false", 0)
        lines = [
            "```python",
            "from trl import KTOConfig, KTOTrainer",
            'trainer = KTOTrainer(model=model, args=KTOConfig(...), train_dataset=ds["train"],',
            "                     processing_class=tokenizer)",
            "```",
            "",
            f"Label balance: {good} desirable (`label: true`), {bad} undesirable (`false`).",
        ]
        if good and bad:
            # TRL's KTO advice: desirable_weight * n_desirable / (undesirable_weight *
            # n_undesirable) between 1 and 4/3; weigh the rarer side up to that.
            ratio = good / bad
            lines.append("")
            if 1 <= ratio <= 4 / 3:
                lines.append(
                    "TRL advises `desirable_weight * n_desirable / (undesirable_weight * "
                    "n_undesirable)` between 1 and 4/3: here it is "
                    f"{ratio:.3f} with the default weights, which suit it."
                )
            elif ratio > 4 / 3:
                lines.append(
                    "TRL advises `desirable_weight * n_desirable / (undesirable_weight * "
                    "n_undesirable)` between 1 and 4/3: e.g. `KTOConfig(desirable_weight=1.0, "
                    f"undesirable_weight={ratio:.3f})`."
                )
            else:
                lines.append(
                    "TRL advises `desirable_weight * n_desirable / (undesirable_weight * "
                    "n_undesirable)` between 1 and 4/3: e.g. `KTOConfig(desirable_weight="
                    f"{1 / ratio:.3f}, undesirable_weight=1.0)`."
                )
        return [*lines, ""]
    if fmt == "sft":
        return [
            "```python",
            "from trl import SFTConfig, SFTTrainer",
            'trainer = SFTTrainer(model=model, args=SFTConfig(...), train_dataset=ds["train"],',
            "                     processing_class=tokenizer)",
            "```",
            "",
        ]
    if fmt == "scores":
        return [
            "Tokenise `prompt` and `completion` together and regress on `score` (one",
            "criterion at a time, or with the criterion in the input):",
            "",
            "```python",
            "model = AutoModelForSequenceClassification.from_pretrained(",
            '    name, num_labels=1, problem_type="regression")',
            'ds = ds.map(lambda r: {"labels": float(r["score"])})',
            "```",
            "",
        ]
    if fmt == "classification":
        multi = "labels" in features
        names = (features["labels"]["feature"] if multi else features["label"])["names"]
        lines = [
            f"{len(names)} classes: " + ", ".join(f"`{n}`" for n in names) + ".",
            "",
            "```python",
        ]
        if multi:
            lines += [
                "model = AutoModelForSequenceClassification.from_pretrained(",
                f'    name, num_labels={len(names)}, problem_type="multi_label_classification")',
                "# the positions as a multi-hot vector (a list of floats first: a map",
                "# that writes floats into a ClassLabel column gets them cast back)",
                'ds = ds.cast_column("labels", datasets.List(datasets.Value("float32")))',
                "ds = ds.map(lambda r: {\"labels\": [float(i in r[\"labels\"])",
                f"                        for i in range({len(names)})]}})",
            ]
        else:
            lines += [
                "model = AutoModelForSequenceClassification.from_pretrained(",
                f"    name, num_labels={len(names)})",
                "# tokenise `text`; `label` is the target as it is",
            ]
        lines += ["```", ""]
        if balance:
            lines += [
                "Label balance: " + ", ".join(f"`{k}` {v}" for k, v in balance.items()) + ".",
                "",
            ]
        return lines
    if fmt == "rubric_rl":
        return [
            "`GRPOTrainer` passes every column but `prompt` to the reward functions as",
            "keyword arguments, so a reward function can grade each completion against the",
            "row's `solution` and `rubric`:",
            "",
            "```python",
            "def rubric_reward(completions, solution, rubric, **kwargs):",
            "    return [grade(c, s, r) for c, s, r in zip(completions, solution, rubric)]",
            "trainer = GRPOTrainer(model=model, reward_funcs=rubric_reward,",
            '                      args=GRPOConfig(...), train_dataset=ds["train"])',
            "```",
            "",
        ]
    return []


def _margin_advice() -> list[str]:
    return [
        "`preference_strength` is not used by TRL's trainers as it is. To make it",
        "RewardTrainer's margin deliberately (a required reward gap, on the reward's scale),",
        "rename and scale it:",
        "`ds = ds.map(lambda r: {\"margin\": 2.0 * r[\"preference_strength\"]})`.",
        "",
    ]


def card_markdown(
    stats: Mapping[str, Any],
    *,
    features: Mapping[str, Any],
    data_files: str,
    license: str | None = None,
    language: Sequence[str] = (),
) -> str:
    """The README.md of an export: YAML metadata, then text for people.

    ``features`` are the export's Hugging Face features (:func:`~expertloop.exports.
    writers.schema_features`), ``data_files`` the path (or glob) of the split's files next
    to the card. ``consensus_fallbacks`` names each channel whose model gave way to a vote,
    and why: a fallback is never silent.
    """
    fmt = stats["format"]
    counts = stats["counts"]
    rows = counts["rows"]
    fallbacks: dict[str, str] = stats["consensus_fallbacks"]
    filters = dict(stats["filters"])
    numbers = {
        "project_id": stats["project_id"],
        "project_name": stats["project_name"],
        "task_type": stats["task_type"],
        "format": fmt,
        "trainer": TRAINERS[fmt],
        "conversational": stats["conversational"],
        "guidelines_version": stats["guidelines_version"],
        "n_items": stats["n_items"],
        "n_answers": stats["n_answers"],
        "n_workers": stats["n_workers"],
        "answers_per_item": stats["answers_per_item"],
        "krippendorff_alpha": stats["agreement_alpha"],
        "consensus_method": stats["consensus_method"],
        "estimated_label_noise": stats["label_noise"],
        "rows": rows,
        "ties_dropped": counts["ties_dropped"],
        "below_chance": counts.get("below_chance", 0),
        "below_min_confidence": counts["below_confidence"],
        "below_min_agreement": counts["below_agreement"],
    }
    categories = _TASK_CATEGORIES[fmt]
    header = [
        "---",
        f"license: {_json(license or 'other')}",
        *([f"language: {_json(list(language))}"] if language else []),
        *([f"task_categories: {_json(categories)}"] if categories else []),
        f"tags: {_json(['expertloop', fmt, *_TAGS[fmt]])}",
        f"size_categories: {_json([size_category(rows)])}",
        f"pretty_name: {_json(stats['project_name'] + ' (' + fmt + ')')}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {_json(data_files)}",
        "dataset_info:",
        "  config_name: default",
        f"  features: {_json(yaml_features(features))}",
        "expertloop:",
        *(f"  {key}: {_json(value)}" for key, value in numbers.items()),
        f"  krippendorff_alpha_by_channel: {_json(stats['agreement_by_channel'])}",
        f"  consensus_fallbacks: {_json(fallbacks)}",
        f"  reviews: {_json(stats['reviews'])}",
        f"  filters: {_json(filters)}",
        *(
            [f"  label_counts: {_json(stats['label_counts'])}"]
            if stats.get("label_counts")
            else []
        ),
        *(
            [f"  model_judges: {_json(stats['model_judges'])}"]
            if stats.get("model_judges")
            else []
        ),
        "---",
        "",
    ]
    if filters.get("min_confidence") is not None:
        confidence_rule = (
            f"Rows whose confidence is below {filters['min_confidence']} were dropped "
            f"({counts['below_confidence']})."
        )
    else:
        confidence_rule = (
            "Default confidence filter: a row whose consensus is no better than a guess "
            "(its confidence not above chance: 0.5 for \"chosen is better\", 1/k for one of "
            f"k labels or points) was dropped ({numbers['below_chance']} rows). Posterior-mean "
            "scores (`scores`) and free text have no such filter. Set `min_confidence` to "
            "choose another threshold (0 keeps every row)."
        )
    body = [
        f"# {stats['project_name']}: {fmt} data",
        "",
        f"Exported by expertloop from project {stats['project_id']} "
        f"({stats['task_type']}, guidelines {stats['guidelines_version']}): {rows} rows in the "
        f"`{fmt}` format, {'conversational' if stats['conversational'] else 'standard'} form.",
        "",
        "## Training",
        "",
        f"Trainer: {TRAINERS[fmt]}.",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("path/to/this/folder")  # reads this card\'s features',
        "```",
        "",
        *_usage(stats, features),
        "## Columns",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        *(
            f"| `{name}` | {_type_name(feature)} | {_column_doc(fmt, name)} |"
            for name, feature in features.items()
        ),
        "",
        "## Quality",
        "",
        "| | |",
        "|---|---|",
        f"| rows | {rows} |",
        f"| items | {numbers['n_items']} |",
        f"| workers | {numbers['n_workers']} |",
        f"| answers per item | {numbers['answers_per_item']:.2f} |",
        f"| agreement (Krippendorff's alpha) | {_fmt(numbers['krippendorff_alpha'])} |",
        f"| consensus method | {numbers['consensus_method']} |",
        f"| estimated label noise | {_fmt(numbers['estimated_label_noise'])} |",
        f"| ties dropped | {numbers['ties_dropped']} |",
        f"| no better than chance (dropped) | {numbers['below_chance']} |",
        "| reviews (accepted / fixed / rejected / pending) | "
        + " / ".join(str(stats["reviews"][k]) for k in ("accepted", "fixed", "rejected", "pending"))
        + " |",
        "",
        confidence_rule,
        "",
        *(
            f"Warning: the consensus of `{key}` fell back to a vote ({reason})."
            for key, reason in fallbacks.items()
        ),
        *([""] if fallbacks else []),
        *judges_section(stats.get("model_judges")),
    ]
    return "\n".join(header + body)


def _type_name(feature: Mapping[str, Any]) -> str:
    kind = feature.get("_type")
    if kind == "Value":
        return str(feature["dtype"])
    if kind == "ClassLabel":
        return "ClassLabel"
    if kind == "List":
        inner = feature["feature"]
        if "_type" not in inner:
            return "list of {" + ", ".join(inner) + "}"
        return f"list of {_type_name(inner)}"
    return "struct"
