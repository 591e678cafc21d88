"""The statistical core of expertloop: from noisy expert answers to trusted labels.

A standalone library (numpy and scipy only; nothing else of expertloop, no database, no web):

- :mod:`~expertloop.quality.aggregation`: truth inference for categorical answers (majority
  vote, Dawid-Skene, one-coin Dawid-Skene, GLAD, MACE, and ``aggregate(method="auto")``).
- :mod:`~expertloop.quality.preferences`: Bradley-Terry with ties (Davidson, Rao-Kupper),
  crowd Bradley-Terry with worker reliability, and A/B/tie consensus per item.
- :mod:`~expertloop.quality.agreement`: Krippendorff's alpha, Fleiss' and Cohen's kappa,
  percent agreement.
- :mod:`~expertloop.quality.workers`: gold accuracy with shrinkage, agreement with consensus,
  spammer scores, position bias.
- :mod:`~expertloop.quality.simulation`: crowds simulated from known worker and item models
  (class-biased, strict and lenient, weak crowds, spammers, hard items, few answers), for
  checking that an estimator recovers the truth.

Inputs are parallel 1-D arrays of any hashable ids; iterative estimators take explicit
seeds and raise :class:`ConvergenceError` rather than return an unconverged estimate.
"""

from expertloop.quality._common import ConvergenceError, QualityInputError
from expertloop.quality.aggregation import (
    AggregationResult,
    aggregate,
    dawid_skene,
    glad,
    mace,
    majority_vote,
    one_coin_dawid_skene,
    weighted_majority_vote,
)
from expertloop.quality.agreement import (
    AlphaInterval,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    krippendorff_alpha_interval,
    percent_agreement,
)
from expertloop.quality.preferences import (
    BradleyTerryResult,
    CrowdBTResult,
    PairwiseConsensusResult,
    bradley_terry,
    crowd_bt,
    pairwise_consensus,
)
from expertloop.quality.simulation import SCENARIOS, SimulatedAnswers, simulate_answers
from expertloop.quality.workers import (
    ConsensusAgreement,
    GoldAccuracy,
    PositionBias,
    consensus_agreement,
    gold_accuracy,
    position_bias,
    spammer_score,
)

__all__ = [
    "SCENARIOS",
    "AggregationResult",
    "AlphaInterval",
    "BradleyTerryResult",
    "ConsensusAgreement",
    "ConvergenceError",
    "CrowdBTResult",
    "GoldAccuracy",
    "PairwiseConsensusResult",
    "PositionBias",
    "QualityInputError",
    "SimulatedAnswers",
    "aggregate",
    "bradley_terry",
    "cohen_kappa",
    "consensus_agreement",
    "crowd_bt",
    "dawid_skene",
    "fleiss_kappa",
    "glad",
    "gold_accuracy",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
    "mace",
    "majority_vote",
    "one_coin_dawid_skene",
    "pairwise_consensus",
    "percent_agreement",
    "position_bias",
    "simulate_answers",
    "spammer_score",
    "weighted_majority_vote",
]
