"""Reports of problems with items (``project.reports``), for the project's managers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from expertloop.client._http import Retry

if TYPE_CHECKING:
    from expertloop.client._http import Http

__all__ = ["Reports"]


class Reports:
    """The item reports of one project: workers' "Report a problem with this item".

    Example::

        for report in project.reports.list():
            print(report["item_id"], report["reason"], report["note"])
        project.reports.resolve(item_id, disable=True, reason="garbled import")
    """

    def __init__(self, http: Http, project_id: int) -> None:
        self._http = http
        self.project_id = project_id

    def list(self, *, state: str = "open", page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Reports in id order: ``state="open"`` (not resolved yet) or ``"all"``."""
        after = 0
        while True:
            page = self._http.json(
                "GET",
                f"projects/{self.project_id}/reports",
                params={"state": state, "after": after, "limit": page_size},
            )
            yield from page
            if len(page) < page_size:
                return
            after = page[-1]["id"]

    def resolve(self, item: int | Any, *, disable: bool = False, reason: str = "") -> int:
        """Close the item's open reports (and with ``disable``, take the item out of
        service); returns how many reports were closed."""
        item_id = item if isinstance(item, int) else item.id
        body = self._http.json(
            "POST",
            f"projects/{self.project_id}/reports/resolve",
            retry=Retry.SAFE,  # resolving twice closes nothing more
            json_body={"item_id": item_id, "disable": disable, "reason": reason},
        )
        return int(body["resolved"])
