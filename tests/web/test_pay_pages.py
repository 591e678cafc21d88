"""The worker's pay page: their own money and statement, escaped, and nobody else's."""

from __future__ import annotations

import re

import httpx
import pytest

from db_fixtures import PASSWORD, Env
from expertloop.domain import Role, User
from expertloop.services import pay_ledger
from expertloop.web import pay as web_pay
from expertloop.web.sessions import SESSION_COOKIE


def _signed_in(env: Env, user: User) -> httpx.Client:
    client = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    env.clients.append(client)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    response = client.post("/login", data={"csrf_token": token.group(1), "next": "/",
                                            "username": user.username, "password": PASSWORD})
    assert response.status_code == 303
    assert client.cookies.get(SESSION_COOKIE)
    return client


def test_a_worker_sees_their_own_pay_and_statement_with_reasons_escaped(env: Env) -> None:
    manager, worker, other = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(manager, members=[worker, other])
    pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=worker.id,
                      amount_minor=1234, currency="USD", reason="<b>bonus</b> for May")
    pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=other.id,
                      amount_minor=99, currency="USD", reason="someone else's")
    client = _signed_in(env, worker)
    page = client.get("/me/pay")
    assert page.status_code == 200
    assert 'data-pay="approved">12.34 USD' in page.text
    assert "&lt;b&gt;bonus&lt;/b&gt; for May" in page.text
    assert "someone else" not in page.text
    # The statement is this month's, with its balances; last month's has no movement but
    # ends where this one starts.
    now = env.db.clock.now()
    assert f"Statement for {now.strftime('%B %Y')}" in page.text
    assert re.search(r'data-balance="approved"><td>approved</td><td>0.00 USD</td>'
                     r'<td>12.34 USD</td>', page.text)
    previous = f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"
    earlier = client.get(f"/me/pay?month={previous}")
    assert earlier.status_code == 200
    assert "No movements in" in earlier.text
    assert client.get("/me/pay?month=2026-13").status_code == 422
    empty = _signed_in(env, env.user()).get("/me/pay")
    assert "No pay yet" in empty.text
    assert httpx.get(f"{env.url}/me/pay").status_code in (302, 303, 307)


def test_the_statement_pages_older_movements_newest_first(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_pay, "SHOWN_LINES", 2)
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker])
    for k in range(5):
        pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=worker.id,
                          amount_minor=100 * (k + 1), currency="USD", reason=f"bonus {k}")
    client = _signed_in(env, worker)
    month = env.db.clock.now().strftime("%Y-%m")
    seen: list[str] = []
    page = client.get("/me/pay")
    assert "The latest 2 of 5 movements" in page.text
    while True:
        assert page.status_code == 200
        seen += re.findall(r"<td>(bonus \d)</td>", page.text)
        # The balances are the month's on every page.
        assert re.search(r'data-balance="approved"><td>approved</td><td>0.00 USD</td>'
                         r'<td>15.00 USD</td>', page.text)
        older = re.search(r'href="/me/pay\?month=(\d{4}-\d\d)&amp;after=(\d+)"', page.text)
        if older is None:
            break
        assert older.group(1) == month
        page = client.get(f"/me/pay?month={month}&after={older.group(2)}")
    assert seen == [f"bonus {k}" for k in (4, 3, 2, 1, 0)]
    for bad in ("abc", "0", "99999999999"):
        refused = client.get(f"/me/pay?month={month}&after={bad}")
        assert refused.status_code == 422
        assert "after" in refused.text
