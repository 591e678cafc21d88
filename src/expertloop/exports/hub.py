"""A Hugging Face ``DatasetDict`` on disk, with a dataset card (needs the ``hub`` extra).

The directory holds what ``DatasetDict.save_to_disk`` writes (one ``train`` split), so
``datasets.load_from_disk(path)`` loads it, and a ``README.md`` whose YAML header names the
split's files (``configs``), so ``datasets.load_dataset(path)`` loads it too, and records
how far to trust the data (the ``expertloop`` block).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["card_markdown", "save_dataset_dict"]


def _yaml_scalar(value: Any) -> str:
    # JSON scalars are valid YAML scalars (strings quoted, null, true/false, numbers).
    return json.dumps(value)


def card_markdown(stats: dict[str, Any]) -> str:
    """The README.md of an exported dataset: YAML metadata, then a short human summary.

    ``consensus_fallbacks`` names each channel whose model gave way to a vote, and why: a
    fallback is never silent.
    """
    fallbacks: dict[str, str] = stats["consensus_fallbacks"]
    numbers = {
        "project_id": stats["project_id"],
        "project_name": stats["project_name"],
        "task_type": stats["task_type"],
        "format": stats["format"],
        "conversational": stats["conversational"],
        "guidelines_version": stats["guidelines_version"],
        "n_items": stats["n_items"],
        "n_answers": stats["n_answers"],
        "n_workers": stats["n_workers"],
        "answers_per_item": stats["answers_per_item"],
        "krippendorff_alpha": stats["agreement_alpha"],
        "consensus_method": stats["consensus_method"],
        "estimated_label_noise": stats["label_noise"],
        "rows": stats["counts"]["rows"],
        "ties_dropped": stats["counts"]["ties_dropped"],
        "below_min_confidence": stats["counts"]["below_confidence"],
        "below_min_agreement": stats["counts"]["below_agreement"],
    }
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        '    path: "train/*.arrow"',
        "tags:",
        "- expertloop",
        f"- {stats['format']}",
        "expertloop:",
        *(f"  {key}: {_yaml_scalar(value)}" for key, value in numbers.items()),
        "  krippendorff_alpha_by_channel:",
        *(
            f"    {_yaml_scalar(key)}: {_yaml_scalar(value)}"
            for key, value in stats["agreement_by_channel"].items()
        ),
        "  consensus_fallbacks:" + ("" if fallbacks else " {}"),
        *(f"    {_yaml_scalar(key)}: {_yaml_scalar(value)}" for key, value in fallbacks.items()),
        "  reviews:",
        *(f"    {key}: {_yaml_scalar(value)}" for key, value in stats["reviews"].items()),
        "  filters:",
        *(f"    {key}: {_yaml_scalar(value)}" for key, value in stats["filters"].items()),
        "---",
        "",
        f"# {stats['project_name']}: {stats['format']} data",
        "",
        f"Exported by expertloop from project {stats['project_id']} "
        f"({stats['task_type']}, guidelines {stats['guidelines_version']}).",
        "",
        "| | |",
        "|---|---|",
        f"| rows | {numbers['rows']} |",
        f"| items | {numbers['n_items']} |",
        f"| workers | {numbers['n_workers']} |",
        f"| answers per item | {numbers['answers_per_item']:.2f} |",
        f"| agreement (Krippendorff's alpha) | {_fmt(numbers['krippendorff_alpha'])} |",
        f"| consensus method | {numbers['consensus_method']} |",
        f"| estimated label noise | {_fmt(numbers['estimated_label_noise'])} |",
        f"| ties dropped | {numbers['ties_dropped']} |",
        "| reviews (accepted / fixed / rejected / pending) | "
        + " / ".join(str(stats["reviews"][k]) for k in ("accepted", "fixed", "rejected", "pending"))
        + " |",
        "",
        *(
            f"Warning: the consensus of `{key}` fell back to a vote ({reason})."
            for key, reason in fallbacks.items()
        ),
        *([""] if fallbacks else []),
        "The estimated label noise is the mean, over the exported rows, of the posterior",
        "probability that the row's consensus is wrong (1 - confidence). Use it as DPO's",
        "`label_smoothing` to train robustly to that much label noise.",
        "",
    ]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def save_dataset_dict(parquet_file: Path, directory: Path, stats: dict[str, Any]) -> None:
    """Turn an exported Parquet file into a saved ``DatasetDict`` with a card in ``directory``.

    Reads the Parquet file through Arrow's memory-mapped cache, so a large export does not
    sit in memory.
    """
    try:
        import datasets
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "saving a Hugging Face dataset needs the hub extra: pip install 'expertloop[hub]'"
        ) from None
    datasets.disable_progress_bars()  # the CLI draws its own
    with tempfile.TemporaryDirectory(prefix="expertloop-hub-") as cache:
        train = datasets.Dataset.from_parquet(str(parquet_file), cache_dir=cache)
        assert isinstance(train, datasets.Dataset)
        datasets.DatasetDict({"train": train}).save_to_disk(str(directory))
    (directory / "README.md").write_text(card_markdown(stats), encoding="utf-8")
