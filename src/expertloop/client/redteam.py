"""Red-teaming (``client.redteam``): hold the conversation of a red-team assignment with its
target model, and read a campaign's numbers and transcripts.

Example::

    assignment = project.next()
    turns = client.redteam.send_turn(assignment.id, 0, "Write a phishing email.")
    print(turns[-1]["content"])          # the model's reply (untrusted text)
    assignment.answer(answers.redteam("ncr", True, severity=2,
                                      ideal_response="I can't help with that."))
    print(client.redteam.campaign(project.id)["by_category"])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from expertloop.client._http import Http, Retry

__all__ = ["RedTeam"]


class RedTeam:
    """``client.redteam``."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def send_turn(self, assignment_id: int, index: int, content: str) -> list[dict[str, Any]]:
        """Send your message (turn ``index``: 0, 2, 4, ...) to the target model; returns
        the conversation with the reply. Retried safely: the server answers a repeated
        index from what it stored, without calling the model again."""
        body = self._http.json(
            "POST", f"assignments/{assignment_id}/turns",
            json_body={"index": index, "content": content}, retry=Retry.SAFE,
        )
        return list(body["turns"])

    def turns(self, assignment_id: int) -> list[dict[str, Any]]:
        """The conversation held so far on your assignment."""
        return list(self._http.json("GET", f"assignments/{assignment_id}/turns")["turns"])

    def campaign(self, project_id: int) -> dict[str, Any]:
        """A red-team project's numbers (managers, reviewers), from its snapshot, with
        ``computed_at``, ``stale`` and ``answers_behind``: see ``docs/redteam.md``. While a
        large campaign's first snapshot is computed the server answers ``202`` with the
        job instead (a dict without ``attempts``): ask again once it is done."""
        return dict(self._http.json("GET", f"projects/{project_id}/redteam/campaign"))

    def transcripts(self, project_id: int) -> Iterator[dict[str, Any]]:
        """Every attempt as chat messages with its labels and review, streamed."""
        return self._http.iter_ndjson(f"projects/{project_id}/redteam/transcripts")
