"""Training datasets out of a project: the export methods of
:class:`~expertloop.client.Project` (in memory, to a file, as a server job) and their
dataset cards."""

from __future__ import annotations

import builtins
import importlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from expertloop.client._http import Retry
from expertloop.client.errors import ExpertloopClientError

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = [
    "EXPORT_FORMATS",
    "ExportedFiles",
    "JobFailed",
    "ProjectExports",
    "card_features",
    "query_flag",
]

#: The dataset formats of ``GET /api/v1/projects/{id}/exports/{format}``.
EXPORT_FORMATS = (
    "preference",
    "unpaired",
    "sft",
    "reward",
    "scores",
    "classification",
    "rubric_rl",
    "raw",
)


def query_flag(value: bool | None) -> str | None:
    """A boolean as the server's query parameters spell it (``None``: left out)."""
    return None if value is None else ("true" if value else "false")


def _export_params(
    *,
    file_format: str,
    standard: bool | None,
    min_confidence: float | None,
    min_agreement: float | None,
    include_gold: bool | None,
    criterion: str | None,
    reviewed_only: bool | None,
) -> dict[str, Any]:
    params = {
        # The server's query parameter for the file format is ``output``.
        "output": file_format,
        "standard": query_flag(standard),
        "min_confidence": min_confidence,
        "min_agreement": min_agreement,
        "include_gold": query_flag(include_gold),
        "criterion": criterion,
        "reviewed_only": query_flag(reviewed_only),
    }
    return {k: v for k, v in params.items() if v is not None}


def _check_format(format: str) -> None:
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; one of {', '.join(EXPORT_FORMATS)}")


class ProjectExports:
    """A project's export methods (its managers, reviewers and admins)."""

    _http: Http
    id: int

    @overload
    def export(
        self,
        format: str = ...,
        *,
        standard: bool | None = ...,
        min_confidence: float | None = ...,
        min_agreement: float | None = ...,
        include_gold: bool | None = ...,
        criterion: str | None = ...,
        reviewed_only: bool | None = ...,
        as_dataset: Literal[False],
        card: bool = ...,
    ) -> list[dict[str, Any]]: ...

    @overload
    def export(
        self,
        format: str = ...,
        *,
        standard: bool | None = ...,
        min_confidence: float | None = ...,
        min_agreement: float | None = ...,
        include_gold: bool | None = ...,
        criterion: str | None = ...,
        reviewed_only: bool | None = ...,
        as_dataset: bool | None = ...,
        card: bool = ...,
    ) -> Any: ...

    def export(
        self,
        format: str = "preference",
        *,
        standard: bool | None = None,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool | None = None,
        criterion: str | None = None,
        reviewed_only: bool | None = None,
        as_dataset: bool | None = None,
        card: bool = True,
    ) -> Any:
        """A training dataset of the project, in memory.

        ``format`` is one of :data:`EXPORT_FORMATS`; the filters are passed to the server
        as they are (``None`` means the server's default). ``reviewed_only=True`` keeps
        only answers a reviewer accepted or fixed.
        Returns a ``datasets.Dataset`` when the ``datasets`` package is installed (or
        ``as_dataset=True``), else a list of dicts (or with ``as_dataset=False``). The
        dataset is typed by the export's card (``ClassLabel`` labels, the same features
        as the Parquet file), whose text is in ``ds.info.description``; ``card=False``
        skips the card (the server runs the export once more for it). For large exports,
        or Parquet, use :meth:`export_to`.

        Example::

            ds = project.export("preference", min_confidence=0.7)
            trainer = DPOTrainer(model, train_dataset=ds, ...)
        """
        _check_format(format)
        params = _export_params(
            file_format="jsonl",
            standard=standard,
            min_confidence=min_confidence,
            min_agreement=min_agreement,
            include_gold=include_gold,
            criterion=criterion,
            reviewed_only=reviewed_only,
        )
        rows = builtins.list(
            self._http.iter_ndjson(f"projects/{self.id}/exports/{format}", params=params)
        )
        if as_dataset is False:
            return rows
        try:
            datasets = importlib.import_module("datasets")
        except ImportError:
            if as_dataset:
                raise ImportError(
                    "as_dataset=True needs the datasets package: pip install datasets "
                    "(or the extras expertloop[hub] / expertloop-client[datasets])"
                ) from None
            return rows
        if not card:
            return datasets.Dataset.from_list(rows)
        text = self._card(format, params)
        features = datasets.Features._from_yaml_list(card_features(text))
        info = datasets.DatasetInfo(description=text, features=features)
        return datasets.Dataset.from_list(rows, features=features, info=info)

    def _card(self, format: str, params: Mapping[str, Any]) -> str:
        response = self._http.send(
            "GET",
            f"projects/{self.id}/exports/{format}/card",
            params=dict(params),
            retry=Retry.SAFE,
        )
        return str(response.text)

    def export_card(
        self,
        format: str = "preference",
        *,
        standard: bool | None = None,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool | None = None,
        criterion: str | None = None,
        reviewed_only: bool | None = None,
        license: str | None = None,
        language: Iterable[str] = (),
    ) -> str:
        """The dataset card (``README.md``: trainer, columns, quality numbers) of the export
        the same options give. The server runs the export to count its rows.

        Example::

            Path("README.md").write_text(project.export_card("unpaired", license="cc-by-4.0"))
        """
        _check_format(format)
        params: dict[str, Any] = _export_params(
            file_format="jsonl",
            standard=standard,
            min_confidence=min_confidence,
            min_agreement=min_agreement,
            include_gold=include_gold,
            criterion=criterion,
            reviewed_only=reviewed_only,
        )
        if license is not None:
            params["license"] = license
        codes = builtins.list(language)
        if codes:
            params["language"] = codes
        return self._card(format, params)

    def export_to(
        self,
        path: str | os.PathLike[str],
        format: str = "preference",
        *,
        file_format: Literal["jsonl", "parquet"] = "jsonl",
        standard: bool | None = None,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool | None = None,
        criterion: str | None = None,
        reviewed_only: bool | None = None,
        card: bool = True,
    ) -> Path:
        """Stream a training dataset to a file (JSONL or Parquet); return its path.

        The file is written next to ``path`` under a temporary name and renamed when
        complete, so ``path`` never holds half an export. Its dataset card goes beside it,
        as ``<stem>.README.md`` (``card=False``: no card; the server runs the export once
        more for it).

        Example::

            project.export_to("prefs.parquet", "preference", file_format="parquet")
        """
        _check_format(format)
        params = _export_params(
            file_format=file_format,
            standard=standard,
            min_confidence=min_confidence,
            min_agreement=min_agreement,
            include_gold=include_gold,
            criterion=criterion,
            reviewed_only=reviewed_only,
        )
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as sink:
                self._http.download(f"projects/{self.id}/exports/{format}", sink, params=params)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        if card:
            text = self._card(format, params)
            # The card names the file beside it as the split's data.
            text = text.replace(
                f'path: "project-{self.id}-{format}.{file_format}"', f'path: "{target.name}"', 1
            )
            target.with_name(target.stem + ".README.md").write_text(text, encoding="utf-8")
        return target

    def export_job(
        self,
        directory: str | os.PathLike[str],
        format: str = "preference",
        *,
        file_format: Literal["jsonl", "parquet"] = "jsonl",
        standard: bool = False,
        min_confidence: float | None = None,
        min_agreement: float | None = None,
        include_gold: bool = False,
        criterion: str | None = None,
        reviewed_only: bool = False,
        timeout: float = 3600.0,
        poll_seconds: float = 1.0,
    ) -> ExportedFiles:
        """Export on the server as a background job, wait for it, and download the dataset
        file and its Hugging Face dataset card (``README.md``) into ``directory``.

        For projects of any size (large ones export only this way). Raises
        :class:`JobFailed` if the job fails or is cancelled, and
        ``TimeoutError`` after ``timeout`` seconds (the job keeps running on the server).

        Example::

            files = project.export_job("prefs", "preference", file_format="parquet")
            datasets.load_dataset("parquet", data_files=str(files.path))
        """
        _check_format(format)
        body = {
            "format": format,
            "output": file_format,
            "standard": standard,
            "min_confidence": min_confidence,
            "min_agreement": min_agreement,
            "include_gold": include_gold,
            "criterion": criterion,
            "reviewed_only": reviewed_only,
        }
        job = self._http.json(
            "POST", f"projects/{self.id}/exports", json_body=body, retry=Retry.UNSENT
        )
        deadline = time.monotonic() + timeout
        while job["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"export job {job['id']} did not finish in {timeout} s")
            time.sleep(poll_seconds)
            job = self._http.json("GET", f"jobs/{job['id']}")
        if job["status"] != "succeeded":
            raise JobFailed(
                f"export job {job['id']} {job['status']}: {job.get('error') or ''}".strip()
            )
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for part, name in (("file", job["result"]["file"]), ("card", "README.md")):
            path = target / name
            partial = path.with_name(path.name + ".part")
            try:
                with partial.open("wb") as sink:
                    self._http.download(f"exports/{job['id']}/{part}", sink)
                partial.replace(path)
            finally:
                partial.unlink(missing_ok=True)
            paths.append(path)
        return ExportedFiles(path=paths[0], card=paths[1], job=job)


@dataclass(frozen=True)
class ExportedFiles:
    """What :meth:`Project.export_job` downloaded: the dataset file, its card, the job."""

    path: Path
    card: Path
    job: dict[str, Any]


def card_features(card: str) -> list[dict[str, Any]]:
    """The ``dataset_info.features`` of an expertloop dataset card (written as one line of
    JSON, which is YAML), in the form ``datasets.Features._from_yaml_list`` reads."""
    for line in card.splitlines():
        if line.startswith("  features: "):
            features: list[dict[str, Any]] = json.loads(line.removeprefix("  features: "))
            return features
    raise ValueError("the card has no dataset_info features")


class JobFailed(ExpertloopClientError):
    """A server-side job failed or was cancelled."""
