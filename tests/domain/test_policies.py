"""Who may do what to which project: the policy functions on their own, for every role."""

from __future__ import annotations

import pytest

from expertloop.domain import (
    Role,
    User,
    can_add_members,
    can_claim_items,
    can_create_projects,
    can_edit_project,
    can_import_items,
    can_manage_users,
    can_read_answers,
    can_read_project,
    can_request_reviews,
    can_review_answers,
    can_search_users,
)
from expertloop.domain.policies import can_read_gold


def _user(role: Role, *, active: bool = True) -> User:
    return User(id=1, username=role.value, role=role, is_active=active)


ADMIN, MANAGER, REVIEWER, WORKER = (_user(role) for role in Role)
PROJECT_POLICIES = [
    can_add_members,
    can_edit_project,
    can_import_items,
    can_read_gold,
    can_read_answers,
    can_request_reviews,
    can_review_answers,
    can_read_project,
]


def test_only_admins_manage_users_and_only_admins_and_managers_create_projects() -> None:
    assert [can_manage_users(u) for u in (ADMIN, MANAGER, REVIEWER, WORKER)] == [
        True, False, False, False,
    ]
    assert [can_create_projects(u) for u in (ADMIN, MANAGER, REVIEWER, WORKER)] == [
        True, True, False, False,
    ]


def test_managers_and_admins_search_the_user_directory_and_nobody_else() -> None:
    assert [can_search_users(u) for u in (ADMIN, MANAGER, REVIEWER, WORKER)] == [
        True, True, False, False,
    ]


def test_only_a_projects_managers_edit_or_archive_it() -> None:
    assert can_edit_project(MANAGER, is_member=True)
    for user in (REVIEWER, WORKER):
        assert not can_edit_project(user, is_member=True)


@pytest.mark.parametrize("policy", PROJECT_POLICIES)
def test_an_admin_may_do_anything_to_any_project(policy: object) -> None:
    assert policy(ADMIN, is_member=False)  # type: ignore[operator]


@pytest.mark.parametrize("policy", [*PROJECT_POLICIES, can_claim_items])
def test_nobody_but_an_admin_acts_on_a_project_they_are_not_a_member_of(policy: object) -> None:
    for user in (MANAGER, REVIEWER, WORKER):
        assert not policy(user, is_member=False)  # type: ignore[operator]


def test_a_manager_runs_the_projects_they_belong_to() -> None:
    for policy in PROJECT_POLICIES:
        assert policy(MANAGER, is_member=True)


def test_a_reviewer_reads_and_reviews_answers_but_neither_gold_nor_the_queue_choice() -> None:
    assert can_read_answers(REVIEWER, is_member=True)
    assert can_review_answers(REVIEWER, is_member=True)
    assert not can_read_gold(REVIEWER, is_member=True)
    assert not can_request_reviews(REVIEWER, is_member=True)
    assert not can_import_items(REVIEWER, is_member=True)


def test_a_worker_answers_items_and_sees_no_one_elses_answers() -> None:
    assert can_claim_items(WORKER, is_member=True)
    assert can_read_project(WORKER, is_member=True)
    for policy in (can_read_answers, can_read_gold, can_review_answers, can_add_members):
        assert not policy(WORKER, is_member=True)


def test_a_suspended_account_neither_answers_nor_reviews() -> None:
    assert not can_claim_items(_user(Role.WORKER, active=False), is_member=True)
    assert not can_review_answers(_user(Role.REVIEWER, active=False), is_member=True)
