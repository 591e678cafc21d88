"""A small project for every training format, answered through the real services, so the
format, card and TRL tests export what a real project exports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expertloop.domain import Role, User

CLASS_LABELS = ["urgent", "routine", "admin"]


@dataclass(frozen=True)
class FormatProject:
    format: str
    manager: User
    project_id: int
    options: dict[str, Any]


def _workers(env: Any, n: int = 3) -> list[User]:
    return [env.user(Role.WORKER) for _ in range(n)]


def pairwise_project(env: Any, answer: Any) -> tuple[User, int]:
    manager, workers = env.user(Role.MANAGER), _workers(env)
    project = env.project(manager, members=workers)
    items = [
        {"external_id": f"p{n}", "payload": {"prompt": f"What is {n} plus {n}?", "response_a": f"It is {2 * n}.", "response_b": f"It is {2 * n + 1}."}}
        for n in range(6)
    ]
    env.items(manager, project, items)
    answer(project, workers, {f"p{n}": [{"choice": "A"}] * 3 if n % 2 else [{"choice": "A"}] * 2 + [{"choice": "B"}] for n in range(6)})
    return manager, project


def rating_project(env: Any, answer: Any) -> tuple[User, int]:
    """Two prompts, three responses to the first and two to the second, rated apart."""
    manager, workers = env.user(Role.MANAGER), _workers(env)
    config = {"criteria": [{"name": "accuracy", "min": 1, "max": 5}, {"name": "clarity", "min": 1, "max": 5}]}
    project = env.project(manager, task_type="rating", config=config, members=workers)
    items = []
    plan = {}
    for prompt, scores in (("Summarise the trial.", (5, 3, 1)), ("Explain the dose.", (4, 2))):
        for n, score in enumerate(scores):
            external = f"{prompt[:5]}-{n}"
            items.append({"external_id": external, "payload": {"prompt": prompt, "response": f"Answer {n} to {prompt}"}})
            plan[external] = [{"scores": {"accuracy": score, "clarity": score}}] * 3
    env.items(manager, project, items)
    answer(project, workers, plan)
    return manager, project


def demonstration_project(env: Any, answer: Any) -> tuple[User, int]:
    manager, workers = env.user(Role.MANAGER), _workers(env, 2)
    project = env.project(manager, task_type="demonstration", members=workers, answers_per_item=2)
    items = [
        {"external_id": "d1", "payload": {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Can I claim home working costs?"}]}},
        {"external_id": "d2", "payload": {"prompt": "What is a tax code?"}},
    ]
    env.items(manager, project, items)
    answer(project, workers, {"d1": [{"response": "Yes, if your employer requires it."}] * 2, "d2": [{"response": "It tells your employer how much tax to take."}] * 2})
    return manager, project


def label_project(env: Any, answer: Any, *, multiple: bool = False) -> tuple[User, int]:
    manager, workers = env.user(Role.MANAGER), _workers(env)
    config: dict[str, Any] = {"labels": CLASS_LABELS}
    if multiple:
        config.update(multiple=True, min_choices=0)
    project = env.project(manager, task_type="label", config=config, members=workers)
    texts = ["Chest pain for twenty minutes", "Repeat prescription please", "Change my address", "Fever and stiff neck"]
    items = [{"external_id": f"m{n}", "payload": {"text": text, "channel": "portal"}} for n, text in enumerate(texts)]
    env.items(manager, project, items)
    if multiple:
        picks = [["urgent"], ["routine", "admin"], ["admin"], ["urgent", "routine"]]
        plan = {f"m{n}": [{"labels": p}] * 3 for n, p in enumerate(picks)}
    else:
        picks_one = ["urgent", "routine", "admin", "urgent"]
        plan = {f"m{n}": [{"label": p}] * 3 for n, p in enumerate(picks_one)}
    answer(project, workers, plan)
    return manager, project


def authoring_project(env: Any, answer: Any) -> tuple[User, int]:
    manager, workers = env.user(Role.MANAGER), _workers(env, 1)
    project = env.project(manager, task_type="authoring", members=workers, answers_per_item=1)
    env.items(manager, project, [{"external_id": f"b{n}", "payload": {"brief": f"A problem on Bayes {n}"}} for n in range(2)])
    answer(project, workers, {
        f"b{n}": [{"problem": f"A test has sensitivity 0.9; prevalence {n + 1}%. P(D|+)?", "solution": "By Bayes: 0.154.",
                   "rubric": [{"criterion": "Sets up Bayes", "points": 2}, {"criterion": "Final answer", "points": 3}]}]
        for n in range(2)
    })
    return manager, project


def every_format(env: Any, answer: Any) -> list[FormatProject]:
    """One project per training format (raw apart), in EXPORT_FORMATS order."""
    pairwise = pairwise_project(env, answer)
    rating = rating_project(env, answer)
    demonstration = demonstration_project(env, answer)
    label = label_project(env, answer)
    multi = label_project(env, answer, multiple=True)
    authoring = authoring_project(env, answer)
    return [
        FormatProject("preference", *pairwise, {}),
        FormatProject("unpaired", *pairwise, {}),
        FormatProject("sft", *demonstration, {}),
        FormatProject("reward", *rating, {}),
        FormatProject("reward", *pairwise, {}),
        FormatProject("scores", *rating, {}),
        FormatProject("classification", *label, {}),
        FormatProject("classification", *multi, {}),
        FormatProject("rubric_rl", *authoring, {}),
    ]
