"""The export's dataset card records the triage rule and each judge's measured agreement."""

from __future__ import annotations

from test_judges import _params, add_provider, fair_judge, pairwise_project

from db_fixtures import Env
from expertloop.services import llm
from expertloop.services.exports import ExportOptions, prepare_export
from llm_server import ChatServer


def test_the_card_carries_the_triage_rule_and_the_judges_calibration(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply = fair_judge
    manager, project, _ = pairwise_project(env, n=4)
    add_provider(env, chat_server)
    plain = prepare_export(env.db, actor=manager, project_id=project,
                           options=ExportOptions(format="preference", include_gold=True),
                           secret_key="k" * 32)
    assert "## Model judges" not in plain.card("data.jsonl")
    llm.judge_items(env.db, project, _params())
    from expertloop.services import redundancy

    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=3, target_confidence=0.95)
    llm.update_llm_settings(
        env.db, actor=manager, project_id=project, triage={"judges": ["judge-x"]},
    )
    prepared = prepare_export(env.db, actor=manager, project_id=project,
                              options=ExportOptions(format="preference", include_gold=True),
                              secret_key="k" * 32)
    card = prepared.card("data.jsonl")
    assert "## Model judges" in card
    assert "Triage applied" in card
    assert "`judge-x`" in card
    # Every item is gold here: no expert overlap measured the judge, so it weighed nothing.
    assert "No judge has been measured against the experts yet" in card
    assert "| judge-x | judge-model | overall | 4 | 0 | 1.0000 (0.51-1.00) |" in card
    assert "  model_judges: " in card
