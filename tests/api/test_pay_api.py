"""Pay over HTTP: rates and budgets by managers, adjustments with reasons, a worker's own
earnings and statement, the stopped budget on next, reconciliation for admins."""

from __future__ import annotations

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.services import pay, pay_ledger
from expertloop.services.workforce import skills


def test_a_manager_prices_a_project_and_its_worker_sees_what_they_earned(env: Env) -> None:
    manager_user, worker_user = env.user(Role.MANAGER), env.user()
    project = env.project(manager_user, members=[worker_user])
    env.items(manager_user, project, [pairwise_item(k) for k in range(3)])
    manager, worker = env.client(manager_user), env.client(worker_user)
    base = f"/api/v1/projects/{project}/pay"

    bad = manager.post(f"{base}/rates", json={"kind": "piece", "amount_minor": 10,
                                               "currency": "ABC"})
    assert bad.status_code == 422
    assert "currency" in bad.text
    created = manager.post(f"{base}/rates", json={"kind": "piece", "amount_minor": 60,
                                                   "currency": "EUR"})
    assert created.status_code == 201, created.text
    assert [r["amount_minor"] for r in manager.get(f"{base}/rates").json()] == [60]
    assert worker.get(f"{base}/rates").status_code == 403
    assert manager.get(f"{base}/budget").json() is None
    budget = manager.put(f"{base}/budget", json={"amount_minor": 100, "currency": "EUR"})
    assert budget.json()["stopped"] is False

    lease = worker.post(f"/api/v1/projects/{project}/assignments/next").json()
    done = worker.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                       json={"answer": {"choice": "A"}})
    assert done.status_code == 201, done.text
    result = pay.credit(env.db, grace_seconds=0)
    assert result.credits == 1
    assert result.budgets_stopped == (project,)  # 60 spent + 60 more would pass 100
    assert worker.post(f"/api/v1/projects/{project}/assignments/next").status_code == 204
    assert manager.get(f"{base}/budget").json()["stopped"] is True
    raised = manager.put(f"{base}/budget", json={"amount_minor": 1000, "currency": "EUR"})
    assert raised.json()["stopped"] is False
    assert worker.post(f"/api/v1/projects/{project}/assignments/next").status_code == 200

    adjusted = manager.post(f"{base}/adjustments", json={
        "worker_id": worker_user.id, "amount_minor": 15, "currency": "EUR",
        "reason": "agreement bonus"})
    assert adjusted.status_code == 201, adjusted.text
    earned = worker.get(f"/api/v1/users/{worker_user.id}/pay/earnings").json()
    assert earned == [{"worker_id": worker_user.id, "currency": "EUR", "pending_minor": 60,
                       "approved_minor": 15, "paid_minor": 0}]
    statement = worker.get(f"/api/v1/users/{worker_user.id}/pay/statement").json()
    assert [line["kind"] for line in statement["lines"]] == ["credit", "adjustment"]
    assert statement["closing_minor"] == {"EUR": {"pending": 60, "approved": 15}}
    assert manager.get(f"/api/v1/users/{worker_user.id}/pay/earnings").status_code == 403
    assert manager.get("/api/v1/pay/reconciliation").status_code == 403
    admin = env.client(env.user(Role.ADMIN))
    report = admin.get("/api/v1/pay/reconciliation").json()
    assert report["ledger_matches"] is True


def test_a_rate_with_premiums_pays_a_verified_licence_more_over_http(env: Env) -> None:
    manager_user, worker_user = env.user(Role.MANAGER), env.user()
    project = env.project(manager_user, members=[worker_user])
    env.items(manager_user, project, [pairwise_item(k) for k in range(2)])
    manager, worker = env.client(manager_user), env.client(worker_user)
    base = f"/api/v1/projects/{project}/pay"
    bad = manager.post(f"{base}/rates", json={
        "kind": "piece", "amount_minor": 100, "currency": "USD",
        "premiums": [{"credential": "licence"}]})
    assert bad.status_code == 422
    assert "premiums[0]" in bad.text
    created = manager.post(f"{base}/rates", json={
        "kind": "piece", "amount_minor": 100, "currency": "USD",
        "premiums": [{"credential": "licence", "amount_minor": 25},
                     {"skill": "law", "min_level": 2, "basis_points": 1000}]})
    assert created.status_code == 201, created.text
    premiums = created.json()["premiums"]
    assert [{k: v for k, v in p.items() if k != "id"} for p in premiums] == [
        {"credential": "licence", "amount_minor": 25},
        {"skill": "law", "min_level": 2, "basis_points": 1000},
    ]
    skills.add_credential(env.db, actor=manager_user, user_id=worker_user.id, kind="licence",
                          title="Bar", verified=True)
    lease = worker.post(f"/api/v1/projects/{project}/assignments/next").json()
    worker.post(f"/api/v1/assignments/{lease['assignment_id']}/answer",
                json={"answer": {"choice": "A"}})
    pay.credit(env.db, grace_seconds=0)
    earned = worker.get(f"/api/v1/users/{worker_user.id}/pay/earnings").json()
    assert earned[0]["pending_minor"] == 125
    assert pay_ledger.reconcile(env.db, grace_seconds=0).matches


def test_a_manager_adds_lists_and_disables_bonus_rules_over_http(env: Env) -> None:
    manager_user, worker_user = env.user(Role.MANAGER), env.user()
    project = env.project(manager_user, members=[worker_user])
    manager, worker = env.client(manager_user), env.client(worker_user)
    base = f"/api/v1/projects/{project}/pay/bonus-rules"
    body = {"metric": "review_acceptance", "period": "month", "threshold_bp": 9000,
            "min_count": 10, "amount_minor": 1000, "currency": "EUR"}
    assert worker.post(base, json=body).status_code == 403
    assert manager.post(base, json={**body, "period": "year"}).status_code == 422
    created = manager.post(base, json=body)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["threshold_bp"], rule["disabled_at"]) == (9000, None)
    assert [r["id"] for r in manager.get(base).json()] == [rule["id"]]
    assert manager.delete(f"{base}/{rule['id']}").status_code == 204
    assert manager.get(base).json()[0]["disabled_at"] is not None
    assert manager.delete(f"{base}/{rule['id']}").status_code == 404


def test_a_statement_pages_by_cursor_and_refuses_a_bad_one_by_name(env: Env) -> None:
    manager, worker_user, other = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(manager, members=[worker_user, other])
    for k in range(5):
        pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=worker_user.id,
                          amount_minor=k + 1, currency="USD", reason=f"bonus {k}")
    pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=other.id,
                      amount_minor=9, currency="USD", reason="theirs")
    worker = env.client(worker_user)
    url = f"/api/v1/users/{worker_user.id}/pay/statement"

    pages, after = [], None
    while True:
        page = worker.get(url, params={"limit": 2, **({"after": after} if after else {})})
        assert page.status_code == 200, page.text
        pages.append(page.json())
        after = page.json()["next_after"]
        if after is None:
            break
    assert [len(p["lines"]) for p in pages] == [2, 2, 1]
    assert [line["memo"] for p in pages for line in p["lines"]] == [
        f"bonus {k}" for k in range(5)]
    for p in pages:
        assert p["line_count"] == 5
        assert p["closing_minor"] == {"USD": {"approved": 15}}
    whole = worker.get(url).json()  # 1000 lines a page by default
    assert (len(whole["lines"]), whole["next_after"]) == (5, None)

    theirs = env.client(other).get(f"/api/v1/users/{other.id}/pay/statement").json()
    for params, name in (
        ({"after": "abc"}, "after"),
        ({"after": 0}, "after"),
        ({"after": theirs["lines"][0]["transaction_id"]}, "after"),  # another worker's
        ({"limit": 0}, "limit"),
        ({"limit": pay_ledger.MAX_STATEMENT_PAGE + 1}, "limit"),
    ):
        refused = worker.get(url, params=params)
        assert refused.status_code == 422, params
        assert refused.json()["error"]["details"][0]["field"] == name, refused.text
