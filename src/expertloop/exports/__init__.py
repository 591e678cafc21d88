"""Dataset writers: training-ready rows from a project's consensus, as JSONL, Parquet or a
Hugging Face dataset with a card.

The maths lives in :mod:`expertloop.quality` and what each task type aggregates and teaches
in :mod:`expertloop.tasks`; this package fits the channels a task type declares
(:mod:`.consensus`), writes what it teaches as rows in TRL's formats (:mod:`.rows`), and
how rows are written (:mod:`.writers`, :mod:`.hub`). :mod:`.interchange` reads other
tools' task files (Label Studio, Argilla) into expertloop items. The database passes are in
:mod:`expertloop.services.exports`.
"""

from expertloop.exports.rows import FORMATS, PROVENANCE
from expertloop.exports.writers import OUTPUTS, arrow_schema

__all__ = ["FORMATS", "OUTPUTS", "PROVENANCE", "arrow_schema"]
