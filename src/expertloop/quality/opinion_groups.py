"""Opinion groups on a panel's votes, and the statements they agree and split on.

The method is Polis's (Small et al., "Polis: Scaling Deliberation by Mapping High
Dimensional Opinion Spaces", 2021), as used by Anthropic's Collective Constitutional AI
(2023) to draft a constitution from a public's votes:

1. The vote matrix holds +1 (agree), -1 (disagree), 0 (pass) and NaN (not seen) for each
   voter and statement. Voters with fewer than ``min_votes`` votes are left out of the
   grouping (they still count in the overall support).
2. Missing votes are imputed with the statement's mean vote, the matrix is centred and
   reduced to its principal components (PCA by SVD): two for the plot, as Polis shows;
   for the grouping, those that stand above noise by Horn's parallel analysis (at least two,
   at most ``max_groups - 1``: k groups need k - 1 dimensions to lie apart, and on
   simulated panels of four or five groups two components merge groups, while components
   of pure noise make k-means split small panels).
3. k-means (k-means++ starts, ``n_init`` restarts, seeded) groups the voters in that space
   for each k in ``2..max_groups``; the k with the highest silhouette wins. When no k
   reaches ``min_silhouette`` the panel is one group (there is no structure to report).
4. Each statement's support is its agree rate with a Laplace prior, ``(agree + 1) / (votes
   + 2)``, overall and within each group (passes count as votes without agreement). A
   statement is a *consensus candidate* when every group supports it at least
   ``consensus_threshold``; it is *contested* when the groups' support spans at least
   ``contested_gap``. Polis's group-informed consensus (the product of the groups' agree
   rates) ranks them.

scikit-learn supplies PCA, k-means and the silhouette: well-kept, tested implementations of
exactly these steps.

Example::

    >>> panel = simulate_opinion_panel(n_voters=60, seed=1)
    >>> found = opinion_groups(panel.votes, seed=0)
    >>> found.n_groups
    2
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

from expertloop.quality._common import ConvergenceError, QualityInputError

__all__ = [
    "OpinionGroups",
    "SimulatedPanel",
    "opinion_groups",
    "simulate_opinion_panel",
]


@dataclass(frozen=True, slots=True)
class OpinionGroups:
    """The groups found and each statement's support.

    ``labels[v]``: voter ``v``'s group (0..n_groups-1), -1 when they voted too little to be
    grouped. ``coords``: each voter's place on the two principal components (NaN when not
    grouped). ``silhouette``: of the chosen grouping (NaN for one group). Per statement:
    ``votes``, ``agree``, ``disagree`` counts, ``support`` (smoothed agree rate), and per
    statement and group ``group_votes`` and ``group_support``; ``consensus`` and
    ``contested`` flag the candidates; ``group_informed_consensus`` ranks them.
    """

    n_groups: int
    labels: NDArray[np.intp]
    coords: NDArray[np.float64]
    silhouette: float
    votes: NDArray[np.intp]
    agree: NDArray[np.intp]
    disagree: NDArray[np.intp]
    support: NDArray[np.float64]
    group_votes: NDArray[np.intp]
    group_support: NDArray[np.float64]
    group_informed_consensus: NDArray[np.float64]
    consensus: NDArray[np.bool_]
    contested: NDArray[np.bool_]


def _vote_matrix(votes: ArrayLike) -> NDArray[np.float64]:
    matrix = np.asarray(votes, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise QualityInputError("votes must be a non-empty 2-D matrix (voters x statements)")
    seen = matrix[~np.isnan(matrix)]
    if not np.isin(seen, (-1.0, 0.0, 1.0)).all():
        raise QualityInputError("votes hold +1 (agree), -1 (disagree), 0 (pass) or NaN only")
    return matrix


def _filled(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Missing votes imputed with the statement's mean vote (0 for a statement nobody saw)."""
    seen_any = ~np.isnan(matrix).all(axis=0)
    means = np.zeros(matrix.shape[1])
    means[seen_any] = np.nanmean(matrix[:, seen_any], axis=0)
    return np.where(np.isnan(matrix), means, matrix)


def _signal_components(filled: NDArray[np.float64], most: int, seed: int) -> int:
    """How many leading components stand above noise (Horn's parallel analysis: each
    component's variance against the same component's on the matrix with every column
    shuffled on its own, which keeps each statement's votes but breaks the voters' patterns)."""
    from sklearn.decomposition import PCA  # imported on use: scikit-learn takes ~1 s to load

    usable = min(most, *filled.shape)
    if usable < 1:
        return 0
    rng = np.random.default_rng(seed)
    shuffled = np.column_stack([rng.permutation(column) for column in filled.T])
    real = PCA(n_components=usable, random_state=seed).fit(filled).explained_variance_
    noise = PCA(n_components=usable, random_state=seed).fit(shuffled).explained_variance_
    above = real > noise
    return int(usable if above.all() else np.argmin(above))


def _components(
    filled: NDArray[np.float64], n_components: int, seed: int
) -> NDArray[np.float64]:
    """Each voter's place on the first principal components of the imputed votes (padded
    with zeros when the matrix has fewer)."""
    from sklearn.decomposition import PCA

    usable = min(n_components, *filled.shape)
    coords = PCA(n_components=usable, random_state=seed).fit_transform(filled)
    if usable < n_components:
        coords = np.hstack([coords, np.zeros((coords.shape[0], n_components - usable))])
    return np.asarray(coords, dtype=np.float64)


def _groups(
    coords: NDArray[np.float64], *, max_groups: int, min_silhouette: float, n_init: int,
    seed: int,
) -> tuple[NDArray[np.intp], float]:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import silhouette_score

    distinct = len(np.unique(np.round(coords, 12), axis=0))
    best: tuple[float, NDArray[np.intp]] | None = None
    for k in range(2, min(max_groups, distinct, len(coords) - 1) + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            try:
                model = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(coords)
            except ConvergenceWarning as warning:
                raise ConvergenceError(
                    f"k-means with k={k} did not converge: {warning}", n_iter=300, delta=np.nan
                ) from warning
        labels = np.asarray(model.labels_, dtype=np.intp)
        score = float(silhouette_score(coords, labels))
        if best is None or score > best[0]:
            best = (score, labels)
    if best is None or best[0] < min_silhouette:
        return np.zeros(len(coords), dtype=np.intp), float("nan")
    return best[1], best[0]


def _group_voters(
    matrix: NDArray[np.float64],
    active: NDArray[np.bool_],
    labels: NDArray[np.intp],
    coords: NDArray[np.float64],
    *,
    max_groups: int,
    min_silhouette: float,
    n_init: int,
    seed: int,
) -> float:
    """Fill ``labels`` and ``coords`` of the active voters; returns the silhouette."""
    if not active.any():
        return float("nan")
    # k groups need k - 1 dimensions to lie apart, but components beyond the signal only
    # add noise for k-means to split; the plot shows the first two.
    filled = _filled(matrix[active])
    dims = max(2, _signal_components(filled, max(2, max_groups - 1), seed))
    space = _components(filled, dims, seed)
    coords[active] = space[:, :2]
    if max_groups < 2 or active.sum() < 3:
        labels[active] = 0
        return float("nan")
    grouped, silhouette = _groups(
        space, max_groups=max_groups, min_silhouette=min_silhouette, n_init=n_init, seed=seed
    )
    labels[active] = grouped
    return silhouette


def _rates(agree: NDArray[np.intp], votes: NDArray[np.intp]) -> NDArray[np.float64]:
    return (agree + 1.0) / (votes + 2.0)


def opinion_groups(
    votes: ArrayLike,
    *,
    seed: int,
    max_groups: int = 5,
    min_votes: int = 3,
    min_silhouette: float = 0.25,
    consensus_threshold: float = 0.6,
    contested_gap: float = 0.4,
    n_init: int = 10,
) -> OpinionGroups:
    """Group the voters of ``votes`` (voters x statements, +1/-1/0/NaN) and report each
    statement's support overall and per group, with consensus and contested flags."""
    matrix = _vote_matrix(votes)
    if max_groups < 1:
        raise QualityInputError("max_groups must be at least 1")
    n_voters, n_statements = matrix.shape
    active = (~np.isnan(matrix)).sum(axis=1) >= min_votes
    labels = np.full(n_voters, -1, dtype=np.intp)
    coords = np.full((n_voters, 2), np.nan)
    # One thread: a panel is small, and BLAS threads fighting over a busy machine's cores
    # cost ten times the work.
    with threadpool_limits(limits=1):
        silhouette = _group_voters(
            matrix, active, labels, coords, max_groups=max_groups,
            min_silhouette=min_silhouette, n_init=n_init, seed=seed,
        )
    n_groups = int(labels.max()) + 1 if (labels >= 0).any() else 0

    seen = ~np.isnan(matrix)
    agrees = seen & (matrix == 1.0)
    disagrees = seen & (matrix == -1.0)
    votes_n = seen.sum(axis=0).astype(np.intp)
    agree_n = agrees.sum(axis=0).astype(np.intp)
    group_votes = np.zeros((n_statements, n_groups), dtype=np.intp)
    group_agree = np.zeros((n_statements, n_groups), dtype=np.intp)
    for g in range(n_groups):
        members = labels == g
        group_votes[:, g] = seen[members].sum(axis=0)
        group_agree[:, g] = agrees[members].sum(axis=0)
    group_support = _rates(group_agree, group_votes)
    if n_groups:
        gic = group_support.prod(axis=1)
        consensus = (group_votes > 0).all(axis=1) & (
            group_support.min(axis=1) >= consensus_threshold
        )
        contested = (group_support.max(axis=1) - group_support.min(axis=1)) >= contested_gap
    else:
        gic = np.full(n_statements, np.nan)
        consensus = contested = np.zeros(n_statements, dtype=bool)
    return OpinionGroups(
        n_groups=n_groups,
        labels=labels,
        coords=coords,
        silhouette=silhouette,
        votes=votes_n,
        agree=agree_n,
        disagree=disagrees.sum(axis=0).astype(np.intp),
        support=_rates(agree_n, votes_n),
        group_votes=group_votes,
        group_support=group_support,
        group_informed_consensus=gic,
        consensus=consensus,
        contested=contested & ~consensus,
    )


@dataclass(frozen=True, slots=True)
class SimulatedPanel:
    """Votes from known opinion groups: ``groups[v]`` is voter ``v``'s true group;
    ``consensus`` and ``contested`` mark the statements built to be each."""

    votes: NDArray[np.float64]
    groups: NDArray[np.intp]
    consensus: NDArray[np.bool_]
    contested: NDArray[np.bool_]


def simulate_opinion_panel(
    *,
    n_voters: int = 90,
    n_groups: int = 2,
    n_consensus: int = 4,
    n_contested: int = 6,
    n_other: int = 6,
    missing: float = 0.3,
    pass_rate: float = 0.05,
    seed: int,
) -> SimulatedPanel:
    """A panel of ``n_groups`` equal opinion groups voting on three kinds of statements:
    consensus ones (every group agrees with probability 0.85), contested ones (one group
    agrees 0.9, the others disagree 0.9, in turn), and others (each group agrees 0.5, a
    coin toss). A share ``missing`` of votes is not cast; ``pass_rate`` of cast votes pass."""
    rng = np.random.default_rng(seed)
    groups = np.arange(n_voters, dtype=np.intp) % n_groups
    n_statements = n_consensus + n_contested + n_other
    agree_p = np.empty((n_groups, n_statements))
    agree_p[:, :n_consensus] = 0.85
    for j in range(n_contested):
        column = np.full(n_groups, 0.1)
        column[j % n_groups] = 0.9
        agree_p[:, n_consensus + j] = column
    agree_p[:, n_consensus + n_contested:] = 0.5
    p = agree_p[groups]
    votes = np.where(rng.random(p.shape) < p, 1.0, -1.0)
    votes[rng.random(p.shape) < pass_rate] = 0.0
    votes[rng.random(p.shape) < missing] = np.nan
    kind = np.zeros(n_statements, dtype=np.intp)
    kind[n_consensus:n_consensus + n_contested] = 1
    kind[n_consensus + n_contested:] = 2
    return SimulatedPanel(votes=votes, groups=groups, consensus=kind == 0, contested=kind == 1)
