"""Pay (``client.pay``): a project's rates and budget, adjustments, a worker's earnings and
statements, and the ledger's reconciliation. Amounts are integers in minor units."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from expertloop.client._http import Http, Retry

__all__ = ["Pay"]


class Pay:
    """``client.pay``.

    Example::

        client.pay.add_rate(project_id, kind="piece", amount_minor=125, currency="USD")
        client.pay.set_budget(project_id, amount_minor=500_000, currency="USD")
        print(client.pay.earnings(me.id))
    """

    def __init__(self, http: Http) -> None:
        self._http = http

    def rates(self, project_id: int) -> builtins.list[dict[str, Any]]:
        """The project's rates, oldest first (managers)."""
        body: builtins.list[dict[str, Any]] = self._http.json(
            "GET", f"projects/{project_id}/pay/rates")
        return body

    def add_rate(
        self, project_id: int, *, kind: str, amount_minor: int, currency: str,
        max_seconds_per_item: int | None = None, effective_from: datetime | None = None,
        premiums: builtins.list[dict[str, Any]] | None = None,
        review_window_seconds: int | None = None,
    ) -> dict[str, Any]:
        """A new rate from now (or ``effective_from``, never the past), with its premiums
        (``{"skill": "law", "min_level": 2, "basis_points": 1000}``,
        ``{"credential": "licence", "amount_minor": 25}``) and its review window (pending
        pay no review rejected within it is approved)."""
        payload: dict[str, Any] = {"kind": kind, "amount_minor": amount_minor,
                                   "currency": currency}
        if premiums:
            payload["premiums"] = premiums
        if max_seconds_per_item is not None:
            payload["max_seconds_per_item"] = max_seconds_per_item
        if review_window_seconds is not None:
            payload["review_window_seconds"] = review_window_seconds
        if effective_from is not None:
            payload["effective_from"] = effective_from.isoformat()
        body: dict[str, Any] = self._http.json(
            "POST", f"projects/{project_id}/pay/rates", retry=Retry.UNSENT, json_body=payload)
        return body

    def budget(self, project_id: int) -> dict[str, Any] | None:
        """The project's budget (spent, committed, remaining, stopped), or ``None``."""
        body: dict[str, Any] | None = self._http.json("GET", f"projects/{project_id}/pay/budget")
        return body

    def set_budget(self, project_id: int, *, amount_minor: int, currency: str) -> dict[str, Any]:
        """Set or raise the budget; leasing stops or resumes at once."""
        body: dict[str, Any] = self._http.json(
            "PUT", f"projects/{project_id}/pay/budget",
            json_body={"amount_minor": amount_minor, "currency": currency})
        return body

    def adjust(self, project_id: int, *, worker_id: int, amount_minor: int, currency: str,
               reason: str) -> int:
        """A manual adjustment with a reason; the ledger transaction's id."""
        body = self._http.json(
            "POST", f"projects/{project_id}/pay/adjustments", retry=Retry.UNSENT,
            json_body={"worker_id": worker_id, "amount_minor": amount_minor,
                       "currency": currency, "reason": reason})
        return int(body["transaction_id"])

    def bonus_rules(self, project_id: int) -> builtins.list[dict[str, Any]]:
        """The project's bonus rules (managers)."""
        body: builtins.list[dict[str, Any]] = self._http.json(
            "GET", f"projects/{project_id}/pay/bonus-rules")
        return body

    def add_bonus_rule(
        self, project_id: int, *, metric: str, period: str, threshold_bp: int, min_count: int,
        amount_minor: int, currency: str,
    ) -> dict[str, Any]:
        """A bonus per ``period`` (week, month) for each worker whose ``metric``
        (review_acceptance, gold_accuracy, consensus_agreement) reaches ``threshold_bp``
        (8000 = 80 %) on at least ``min_count`` observations."""
        body: dict[str, Any] = self._http.json(
            "POST", f"projects/{project_id}/pay/bonus-rules", retry=Retry.UNSENT,
            json_body={"metric": metric, "period": period, "threshold_bp": threshold_bp,
                       "min_count": min_count, "amount_minor": amount_minor,
                       "currency": currency})
        return body

    def disable_bonus_rule(self, project_id: int, rule_id: int) -> None:
        """Stop a bonus rule: periods ending later are not paid."""
        self._http.json("DELETE", f"projects/{project_id}/pay/bonus-rules/{rule_id}",
                        retry=Retry.UNSENT)

    def earnings(self, user_id: int) -> builtins.list[dict[str, Any]]:
        """Pending, approved and paid money per currency (your own, or anyone's as admin)."""
        body: builtins.list[dict[str, Any]] = self._http.json(
            "GET", f"users/{user_id}/pay/earnings")
        return body

    def statement(self, user_id: int, *, since: datetime | None = None,
                  until: datetime | None = None, page_size: int = 1000) -> dict[str, Any]:
        """The statement for a period: balances at both ends and every movement, oldest
        first (read ``page_size`` lines a page; ``next_after`` is None)."""
        body = self.statement_page(user_id, since=since, until=until, limit=page_size)
        while body["next_after"] is not None:
            page = self.statement_page(user_id, since=since, until=until, limit=page_size,
                                       after=body["next_after"])
            body = {**page, "lines": body["lines"] + page["lines"]}
        return body

    def statement_page(self, user_id: int, *, since: datetime | None = None,
                       until: datetime | None = None, after: int | None = None,
                       limit: int = 1000) -> dict[str, Any]:
        """One page of the statement: the period's balances and line count, and at most
        ``limit`` lines after the line ``after`` (the previous page's ``next_after``, None
        on the last page)."""
        params: dict[str, Any] = {
            k: v.isoformat() for k, v in (("since", since), ("until", until)) if v}
        params["limit"] = limit
        if after is not None:
            params["after"] = after
        body: dict[str, Any] = self._http.json(
            "GET", f"users/{user_id}/pay/statement", params=params)
        return body

    def reconciliation(self) -> dict[str, Any]:
        """The reconciliation report (admins); ``ledger_matches`` is the verdict."""
        body: dict[str, Any] = self._http.json("GET", "pay/reconciliation")
        return body
