"""The vetted workforce: skills and credentials, project requirements (skills, an exam),
gold mixed into operations, routing of disputed items and escalation.

Split by concern: :mod:`.skills` (people), :mod:`.settings` (a project's requirements),
:mod:`.exams` (qualification), :mod:`.gold` (the annotator loop's side: claim tiers, the
counters kept at submit, gold accuracy). See ``docs/workforce.md``.
"""

from expertloop.services.workforce import exams, gold, settings, skills

__all__ = ["exams", "gold", "settings", "skills"]
