"""The workforce's rows: skills, credentials, project settings, worker counters, exams, votes
(one module each: ``skills``, ``settings``, ``exams``, ``gold``; re-exported here).

Counters (``worker_stats``, ``exam_results``' attempt, ``item_votes``) change at submit, in
the answer's transaction, with upserts (on PostgreSQL the counters, the vote and the dispute
mark are one statement: ``gold.count_answer``).
"""

from __future__ import annotations

from expertloop.store.workforce.exams import (
    ExamRow,
    clear_exam_attempt,
    count_exam_items,
    exam_result,
    exam_results,
    finish_exam_attempt,
    non_gold_items,
    projects_naming_exam,
    record_exam_answer,
    refresh_is_exam,
)
from expertloop.store.workforce.gold import (
    AnswerCounted,
    StatsRow,
    WorkerCounters,
    add_vote,
    count_answer,
    escalate_item,
    item_progress,
    mark_disputed,
    open_gold_targets,
    record_worker_answer,
    reopen_gold_slot,
    votes,
    worker_counters,
    worker_stats,
)
from expertloop.store.workforce.settings import (
    ProjectSettingsRow,
    load_settings,
    save_settings,
)
from expertloop.store.workforce.skills import (
    CredentialRow,
    add_credential,
    credential,
    delete_credential,
    list_credentials,
    project_skills,
    replace_project_skills,
    replace_user_skills,
    user_skills,
    verify_credential,
)

__all__ = [
    "AnswerCounted",
    "CredentialRow",
    "ExamRow",
    "ProjectSettingsRow",
    "StatsRow",
    "WorkerCounters",
    "add_credential",
    "add_vote",
    "clear_exam_attempt",
    "count_answer",
    "count_exam_items",
    "credential",
    "delete_credential",
    "escalate_item",
    "exam_result",
    "exam_results",
    "finish_exam_attempt",
    "item_progress",
    "list_credentials",
    "load_settings",
    "mark_disputed",
    "non_gold_items",
    "open_gold_targets",
    "project_skills",
    "projects_naming_exam",
    "record_exam_answer",
    "record_worker_answer",
    "refresh_is_exam",
    "reopen_gold_slot",
    "replace_project_skills",
    "replace_user_skills",
    "save_settings",
    "user_skills",
    "verify_credential",
    "votes",
    "worker_counters",
    "worker_stats",
]
