"""Ranking: complete orderings in tiers, shuffled presentation, pairs for export."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from task_training import taught

from expertloop.tasks import Observation, TaskValidationError, get_task_type
from expertloop.tasks.ranking import MAX_RESPONSES, ranking_pairs
from expertloop.tasks.training import AnswerAsConsensus

ranking = get_task_type("ranking")
PAYLOAD = {
    "prompt": "Explain TCP slow start.",
    "responses": ["zero", {"id": "model-b", "text": "one"}, "two"],
    "source": "eval-3",
}
TIES = ranking.validate_config({"allow_ties": True})
NO_TIES = ranking.validate_config({})


def _errors(exc: pytest.ExceptionInfo[TaskValidationError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_config_defaults_to_no_ties_and_refuses_unknown_options() -> None:
    assert NO_TIES == {"allow_ties": False}
    with pytest.raises(TaskValidationError, match="Extra inputs"):
        ranking.validate_config({"ties": True})


def test_payload_takes_two_to_nine_responses_as_strings_or_id_and_text() -> None:
    assert ranking.validate_payload(PAYLOAD, NO_TIES) == PAYLOAD
    for responses, fragment in [
        (["only"], "at least 2"),
        ([str(i) for i in range(MAX_RESPONSES + 1)], "at most 9"),
        ([{"id": "x", "text": "a"}, {"id": "x", "text": "b"}], "ids must be distinct"),
        ([{"text": "a"}, "b"], "Field required"),
    ]:
        with pytest.raises(TaskValidationError, match=fragment):
            ranking.validate_payload({"prompt": "p", "responses": responses}, NO_TIES)


def test_a_complete_ordering_is_valid_and_tiers_are_sorted() -> None:
    assert ranking.validate_answer({"ranking": [[2], [0], [1]]}, NO_TIES, payload=PAYLOAD) == {
        "ranking": [[2], [0], [1]]
    }
    assert ranking.validate_answer({"ranking": [[2], [1, 0]]}, TIES, payload=PAYLOAD) == {
        "ranking": [[2], [0, 1]]
    }


@pytest.mark.parametrize(
    ("answer", "config", "field", "fragment"),
    [
        ({"ranking": [[2], [0, 1]]}, NO_TIES, "ranking.1", "ties are not allowed"),
        ({"ranking": [[2], [0], [0, 1]]}, TIES, "ranking", "repeated: [0]"),
        ({"ranking": [[2], [0]]}, NO_TIES, "ranking", "missing: [1]"),
        ({"ranking": [[2], [0], [1], [3]]}, NO_TIES, "ranking", "no such response: [3]"),
        ({"ranking": [[2], [], [0, 1]]}, TIES, "ranking.1", "at least one response"),
        ({"ranking": [[-1], [0]]}, NO_TIES, "ranking.0.0", "greater than or equal to 0"),
        ({"ranking": [[True], [0]]}, NO_TIES, "ranking.0.0", "valid integer"),
        ({"ranking": [2, 0, 1]}, NO_TIES, "ranking.0", "valid list"),
        ({"ranking": []}, NO_TIES, "ranking", "at least 1"),
        ({}, NO_TIES, "ranking", "Field required"),
    ],
)
def test_invalid_rankings_get_a_clear_message(
    answer: dict[str, object], config: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(TaskValidationError) as exc:
        ranking.validate_answer(answer, config, payload=PAYLOAD)
    assert fragment in _errors(exc)[field]


def test_without_the_payload_a_ranking_must_still_be_contiguous_and_hold_two_responses() -> None:
    assert ranking.validate_answer({"ranking": [[1], [0]]}, NO_TIES)
    with pytest.raises(TaskValidationError, match=r"missing: \[1\]"):
        ranking.validate_answer({"ranking": [[2], [0]]}, NO_TIES)
    with pytest.raises(TaskValidationError, match="at least 2"):
        ranking.validate_answer({"ranking": [[0]]}, NO_TIES)


def test_the_shown_payload_lists_texts_in_presented_order_and_hides_ids() -> None:
    presentation = {"order": [8, 2, 5, 0, 7, 1, 3, 4, 6]}
    shown = ranking.present(PAYLOAD, presentation)
    assert shown == {**PAYLOAD, "responses": ["two", "zero", "one"]}
    assert ranking.present(PAYLOAD, None)["responses"] == ["zero", "one", "two"]


def test_a_shown_ranking_maps_back_to_canonical_indices() -> None:
    presentation = {"order": [8, 2, 5, 0, 7, 1, 3, 4, 6]}  # shows 2, 0, 1
    # The worker ranks shown #1 ("zero") best, then shown #0 ("two") and #2 ("one") tied.
    canonical = ranking.to_canonical({"ranking": [[1], [0, 2]]}, presentation)
    assert canonical == {"ranking": [[0], [1, 2]]}
    assert ranking.to_shown(canonical, presentation) == {"ranking": [[1], [0, 2]]}


def test_presentations_are_permutations_that_shuffle_every_position() -> None:
    rng = random.Random(3)
    firsts = set()
    for _ in range(300):
        order = ranking.new_presentation(rng)["order"]  # type: ignore[index]
        assert sorted(order) == list(range(MAX_RESPONSES))
        firsts.add(ranking.present(PAYLOAD, {"order": order})["responses"][0])
    assert firsts == {"zero", "one", "two"}


@st.composite
def tiered_rankings(draw: st.DrawFn) -> list[list[int]]:
    n = draw(st.integers(2, MAX_RESPONSES))
    indices = draw(st.permutations(range(n)))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1))))
    bounds = [0, *cuts, n]
    return [sorted(indices[a:b]) for a, b in itertools.pairwise(bounds)]


@given(tiers=tiered_rankings(), seed=st.integers(0, 2**32))
def test_shown_and_canonical_rankings_round_trip_under_any_presentation(
    tiers: list[list[int]], seed: int
) -> None:
    presentation = ranking.new_presentation(random.Random(seed))
    answer = ranking.validate_answer({"ranking": tiers}, TIES)
    assert ranking.to_shown(ranking.to_canonical(answer, presentation), presentation) == answer
    canonical = ranking.to_canonical(answer, presentation)
    assert sorted(i for tier in canonical["ranking"] for i in tier) == sorted(
        i for tier in tiers for i in tier
    )


def test_observation_is_the_ranking_as_hashable_tiers_then_the_rationale() -> None:
    found = ranking.observations({"ranking": [[2], [0, 1]], "rationale": "2 is exact"})
    assert found == [
        Observation("ranking", "overall", ((2,), (0, 1))),
        Observation("text", "rationale", "2 is exact"),
    ]
    assert hash(found[0])


def test_pairs_go_from_each_better_tier_to_each_worse_one() -> None:
    assert ranking_pairs([[2], [0, 1]]) == [(2, 0), (2, 1)]
    assert ranking_pairs([[1], [2], [0]]) == [(1, 2), (1, 0), (2, 0)]
    assert ranking_pairs([[0, 1, 2]]) == []


def test_every_untied_pair_makes_a_preference_row_the_better_response_chosen() -> None:
    rows, ties = taught(ranking, PAYLOAD, {"ranking": [[1], [2], [0]]}, "preference")
    # Pairs (i, j) in index order: (0, 1), (0, 2), (1, 2).
    assert [(r["chosen"], r["rejected"]) for r in rows] == [
        ("one", "zero"), ("two", "zero"), ("one", "two")
    ]
    assert all(r["prompt"] == "Explain TCP slow start." and r["preference_strength"] == 1.0 for r in rows)
    assert ties == 0


def test_tied_responses_make_no_row_between_them() -> None:
    rows, ties = taught(ranking, PAYLOAD, {"ranking": [[0, 1, 2]]}, "preference")
    assert (rows, ties) == ([], 3)


def test_a_ranking_is_aggregated_pair_by_pair_into_a_copeland_order() -> None:
    (spec,) = ranking.consensus_channels({}).values()
    assert spec.per_pair
    assert spec.kind == "comparison"
    item = AnswerAsConsensus(ranking, PAYLOAD, {"ranking": [[1], [0, 2]]}, {})
    consensus = item.consensus()
    assert consensus is not None
    assert consensus.value == {"ranking": [[1], [0, 2]]}
