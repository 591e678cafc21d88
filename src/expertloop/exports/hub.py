"""A Hugging Face ``DatasetDict`` on disk, with a dataset card (needs the ``hub`` extra).

The directory holds what ``DatasetDict.save_to_disk`` writes (one ``train`` split), so
``datasets.load_from_disk(path)`` loads it, and a ``README.md`` whose YAML header names the
split's files (``configs``), so ``datasets.load_dataset(path)`` loads it too, and records
how far to trust the data (the ``expertloop`` block).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

__all__ = ["HUB_DATA_FILES", "save_dataset_dict"]

HUB_DATA_FILES = "train/*.arrow"
"""The card's ``data_files`` in a saved ``DatasetDict``."""


def save_dataset_dict(parquet_file: Path, directory: Path, card: str) -> None:
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
    (directory / "README.md").write_text(card, encoding="utf-8")


HUB_PARQUET = "data/train-00000-of-00001.parquet"
"""Where :func:`push_to_hub` puts the export in the repository (``datasets`` reads
``data/train-*`` as the train split)."""

HUB_PARQUET_FILES = "data/train-*.parquet"


def push_to_hub(
    parquet_file: Path,
    card: str,
    repo_id: str,
    *,
    token: str,
    endpoint: str | None = None,
    private: bool = True,
) -> str:
    """Upload an exported Parquet file and its card to a dataset repository on the Hugging
    Face Hub (created if missing, private unless asked otherwise) in one commit; return the
    commit's URL. ``endpoint`` is the Hub's address (default ``https://huggingface.co``).

    Raises :class:`RuntimeError` saying what the Hub answered when it refuses or fails."""
    try:
        from huggingface_hub import CommitOperationAdd, HfApi
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "pushing to the Hub needs the hub extra: pip install 'expertloop[hub]'"
        ) from None
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.create_commit(
            repo_id,
            repo_type="dataset",
            operations=[
                CommitOperationAdd(HUB_PARQUET, str(parquet_file)),
                CommitOperationAdd("README.md", card.encode()),
            ],
            commit_message="Export from expertloop",
        )
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise RuntimeError(
                f"the Hub refused the token (401) for {repo_id}: check HF_TOKEN"
            ) from None
        raise RuntimeError(f"the Hub failed to take {repo_id} ({status}): {exc}") from None
    return str(commit.commit_url)
