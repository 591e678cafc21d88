"""Screening workers: the tests behind rules that flag or pause a worker.

Each function takes parallel arrays (one row per answer, like the rest of
:mod:`expertloop.quality`) and returns per-worker numbers and a verdict, so that a server,
a benchmark and a notebook reach the same decision from the same evidence.

- :func:`gold_accuracy_screen`: accuracy on gold with a Beta posterior; a worker is below
  the bar only when the *upper* end of the credible interval is (we are confident that the
  true accuracy is below it, not merely that the estimate is).
- :func:`spammer_screen`: Raykar & Yu's spammer score of a worker's estimated confusion
  matrix (:func:`~expertloop.quality.workers.spammer_score`: 0 for answers independent of
  the truth, 1 for a perfect worker).
- :func:`straight_lining_screen`: the same choice (or the same position on screen) far more
  often than chance, by an exact binomial test with a Bonferroni bound over options and
  workers, and a floor on the effect size.
- :func:`minhash_signatures`, :func:`near_duplicate_pairs`: MinHash (Broder 1997) with
  locality-sensitive hashing by bands (Leskovec, Rajaraman & Ullman, "Mining of Massive
  Datasets", ch. 3) over character shingles; candidates are confirmed by their exact
  Jaccard similarity.
- :func:`paste_screen`: answers whose text was mostly pasted rather than typed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import bdtrc

from expertloop.quality._common import QualityInputError, as_1d, check_same_length, encode

__all__ = [
    "DuplicatePair",
    "GoldScreen",
    "PasteScreen",
    "SpammerScreen",
    "StraightLiningScreen",
    "gold_accuracy_screen",
    "minhash_signatures",
    "near_duplicate_pairs",
    "paste_screen",
    "similar_vector_pairs",
    "spammer_screen",
    "straight_lining_screen",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def _same_length(**arrays: NDArray[Any]) -> None:
    """Equal lengths; unlike the aggregators, no evidence at all is allowed (no verdict)."""
    if any(len(a) for a in arrays.values()):
        check_same_length(**arrays)


# --- gold accuracy ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GoldScreen:
    """Per worker (sorted): gold answers, correct ones, posterior mean and interval, and
    ``below``: at least ``min_answers`` gold answers and the interval's upper end under the
    threshold."""

    worker_ids: NDArray[Any]
    n_answers: IntArray
    n_correct: IntArray
    posterior_mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    below: BoolArray


def gold_accuracy_screen(
    workers: Iterable[Any],
    correct: Iterable[Any],
    *,
    threshold: float,
    min_answers: int,
    credible_mass: float = 0.95,
    prior: tuple[float, float] = (1.0, 1.0),
) -> GoldScreen:
    """Which workers are confidently below ``threshold`` accuracy on gold.

    ``correct[k]`` says whether gold answer ``k`` matched its gold. The posterior of a
    worker's accuracy is ``Beta(a + correct, b + wrong)`` (as in
    :func:`~expertloop.quality.workers.gold_accuracy`). A worker is below the bar when the
    upper end of the equal-tailed ``credible_mass`` interval is below ``threshold``: with
    the default 95% interval, a worker whose true accuracy is exactly at the threshold is
    flagged in at most 2.5% of evaluations, however few answers they gave, whereas a rule
    on the posterior mean would flag about half of them.

    Example:
        >>> s = gold_accuracy_screen(["u"] * 20, [1] * 5 + [0] * 15, threshold=0.6, min_answers=10)
        >>> bool(s.below[0]), round(float(s.upper[0]), 2)
        (True, 0.47)
    """
    from expertloop.quality.workers import gold_accuracy

    wk = as_1d(workers, "workers")
    ok = np.asarray(list(correct) if not isinstance(correct, np.ndarray) else correct, dtype=bool)
    _same_length(workers=wk, correct=ok)
    if not len(wk):
        zi, zf = np.zeros(0, np.intp), np.zeros(0)
        return GoldScreen(np.array([], dtype=object), zi, zi, zf, zf, zf, zf.astype(bool))
    # The worker's accuracy as quality.workers.gold_accuracy estimates it: each answer is
    # compared with a truth of True, so "right" is the answer itself.
    acc = gold_accuracy(wk, ok, np.ones(len(ok), dtype=bool), prior=prior,
                        credible_mass=credible_mass)
    below = (acc.n_answers >= min_answers) & (acc.upper < threshold)
    return GoldScreen(acc.worker_ids, acc.n_answers, acc.n_correct, acc.posterior_mean,
                      acc.lower, acc.upper, below)



# --- spammer score ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpammerScreen:
    """Per worker: answers counted, the spammer score, and ``spammer`` (enough answers and a
    score under the bar)."""

    worker_ids: NDArray[Any]
    n_answers: IntArray
    score: FloatArray
    spammer: BoolArray


def spammer_screen(
    worker_ids: Sequence[Any],
    confusion: Any,
    n_answers: Sequence[int],
    *,
    max_score: float,
    min_answers: int,
) -> SpammerScreen:
    """Workers whose estimated confusion matrix says their answers barely depend on the
    truth.

    ``confusion[w]`` is worker ``w``'s ``(K, K)`` confusion as a Dawid-Skene fit estimates
    it; the score is :func:`~expertloop.quality.workers.spammer_score` (0: a spammer, 1: a
    perfect worker; ``(sensitivity + specificity - 1)^2`` for two classes). A worker is a
    spammer when they gave at least ``min_answers`` answers and their score is below
    ``max_score``. An adversarial worker (always the wrong class) scores high here: their
    answers carry information; the gold rule catches them.

    Example:
        >>> s = spammer_screen(["u", "v"], [[[.9, .1], [.1, .9]], [[.5, .5], [.5, .5]]],
        ...                    [50, 50], max_score=0.05, min_answers=20)
        >>> s.spammer.tolist()
        [False, True]
    """
    from expertloop.quality.workers import spammer_score

    ids = np.asarray(list(worker_ids), dtype=object)
    n = np.asarray(list(n_answers), dtype=np.intp)
    if len(ids) != len(n):
        raise QualityInputError("worker_ids and n_answers must have the same length")
    if len(ids) == 0:
        empty = np.zeros(0)
        return SpammerScreen(ids, n, empty, empty.astype(bool))
    score = spammer_score(confusion)
    if len(score) != len(ids):
        raise QualityInputError("one confusion matrix per worker is needed")
    return SpammerScreen(ids, n, score, (n >= min_answers) & (score < max_score))


# --- straight-lining ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StraightLiningScreen:
    """Per worker: answers, their most frequent choice, its count, its share, the share
    expected by chance, the one-sided binomial p-value, the threshold it was held to, and
    ``straight`` (significant and far above chance)."""

    worker_ids: NDArray[Any]
    n_answers: IntArray
    top_choice: NDArray[Any]
    n_top: IntArray
    share: FloatArray
    chance: FloatArray
    p_value: FloatArray
    alpha_each: float
    straight: BoolArray


def straight_lining_screen(
    workers: Iterable[Any],
    choices: Iterable[Any],
    *,
    chance: dict[Hashable, float] | None = None,
    n_options: int | None = None,
    alpha: float = 0.01,
    min_answers: int = 20,
    min_excess: float = 0.5,
) -> StraightLiningScreen:
    """Workers who give the same choice far more often than chance.

    For each worker, ``k`` of their ``n`` answers gave their most frequent choice ``c``.
    Under the null the count is ``Binomial(n, p_c)``: ``p_c = 1 / n_options`` for positions
    on screen shown in a random order (pairwise sides, ranking slots), or ``chance[c]``
    (e.g. the share of ``c`` among the other workers' answers) for choices whose base rate
    is not uniform. The p-value is ``P(K >= k)``; since the top choice is picked after
    looking and every worker of the project is tested, the test is held to
    ``alpha / (options x workers tested)`` (Bonferroni), so the chance that any honest
    worker of the project is flagged in one evaluation is at most ``alpha``. A significant
    result must also be far above chance, not merely detectably so on many answers: the
    share must cover at least ``min_excess`` of the way from chance to always
    (``(share - p_c) / (1 - p_c) >= min_excess``).

    Example:
        >>> s = straight_lining_screen(["u"] * 30 + ["v"] * 30, ["first"] * 30 + ["first",
        ...     "second"] * 15, n_options=2)
        >>> s.straight.tolist()
        [True, False]
    """
    if chance is None and n_options is None:
        raise QualityInputError("give chance (per choice) or n_options (uniform chance)")
    if n_options is not None and n_options < 2:
        raise QualityInputError("n_options must be at least 2")
    wk = as_1d(workers, "workers")
    ch = as_1d(choices, "choices")
    _same_length(workers=wk, choices=ch)
    if not len(wk):
        empty_i = np.zeros(0, np.intp)
        empty_f = np.zeros(0)
        return StraightLiningScreen(
            np.array([], dtype=object), empty_i, np.array([], dtype=object), empty_i, empty_f,
            empty_f, empty_f, alpha, empty_f.astype(bool),
        )
    w_codes, ids = encode(wk)
    c_codes, choice_ids = encode(ch)
    table = np.zeros((len(ids), len(choice_ids)), dtype=np.intp)
    np.add.at(table, (w_codes, c_codes), 1)
    n = table.sum(axis=1)
    top = table.argmax(axis=1)
    k = table[np.arange(len(ids)), top]
    top_ids = choice_ids[top]
    if chance is not None:
        p0 = np.array([float(chance.get(c, 0.0)) for c in top_ids.tolist()])
        m = max(len(chance), len(choice_ids))
    else:
        assert n_options is not None
        p0 = np.full(len(ids), 1.0 / n_options)
        m = n_options
    p0 = np.clip(p0, 1e-9, 1 - 1e-9)
    tested = n >= min_answers
    n_tested = max(int(tested.sum()), 1)
    alpha_each = alpha / (m * n_tested)
    p = np.asarray(bdtrc(k - 1, n, p0), dtype=float)  # P(K >= k)
    share = k / np.maximum(n, 1)
    excess = (share - p0) / (1 - p0)
    straight = tested & (p < alpha_each) & (excess >= min_excess)
    return StraightLiningScreen(ids, n, top_ids, k, share, p0, p, alpha_each, straight)


# --- near-duplicate text ------------------------------------------------------------------

_MAX_HASH = np.uint64((1 << 32) - 1)
# The smallest prime above 2**32: with hash values and coefficients below 2**32, a * x + b
# stays below 2**64, so the universal hash (a x + b) mod p is exact in uint64.
_PRIME = np.uint64(4294967311)
_SPACE = re.compile(r"\s+")


def _shingles(text: str, size: int) -> set[int]:
    norm = _SPACE.sub(" ", text.lower()).strip()
    if len(norm) <= size:
        grams = {norm} if norm else set()
    else:
        grams = {norm[i : i + size] for i in range(len(norm) - size + 1)}
    return {
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
        for g in grams
    }


def minhash_signatures(
    texts: Sequence[str], *, num_perm: int = 128, shingle_size: int = 5, seed: int = 1
) -> tuple[NDArray[np.uint64], list[set[int]]]:
    """MinHash signatures ``(len(texts), num_perm)`` of each text's character shingles
    (lower-cased, whitespace collapsed), and the shingle sets themselves.

    The fraction of equal positions in two signatures is an unbiased estimate of the two
    sets' Jaccard similarity (Broder 1997). Permutations are universal hashes
    ``(a x + b) mod p`` with ``p = 2**32 + 15`` over 32-bit shingle hashes (blake2b), exact
    in 64-bit integers. An empty text gets a signature of ``2**32 - 1``: similar to nothing
    that has shingles.
    """
    if num_perm < 1:
        raise QualityInputError("num_perm must be positive")
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 32, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64)
    sigs = np.full((len(texts), num_perm), _MAX_HASH, dtype=np.uint64)
    sets = []
    for row, text in enumerate(texts):
        sh = _shingles(text, shingle_size)
        sets.append(sh)
        if sh:
            x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
            hashed = (x[:, None] * a[None, :] + b[None, :]) % _PRIME
            sigs[row] = np.minimum(hashed.min(axis=0), _MAX_HASH)
    return sigs, sets


@dataclass(frozen=True)
class DuplicatePair:
    """Rows ``first < second`` of two texts whose shingle sets have Jaccard ``similarity``."""

    first: int
    second: int
    similarity: float


def near_duplicate_pairs(
    texts: Sequence[str],
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    bands: int = 16,
    shingle_size: int = 5,
    min_chars: int = 40,
    max_bucket_neighbours: int = 20,
    seed: int = 1,
) -> list[DuplicatePair]:
    """Pairs of texts at least ``threshold`` similar (Jaccard of character shingles).

    LSH by bands: the signature is cut into ``bands`` bands of ``num_perm / bands`` rows;
    two texts become candidates when a band matches exactly, which happens with probability
    ``1 - (1 - s^r)^b`` for similarity ``s`` (with 16 bands of 8 rows: 0.98 at ``s = 0.8``,
    0.0002 at ``s = 0.3``). Candidates are then kept only if their exact Jaccard similarity
    reaches ``threshold``, so the estimate never produces a false pair. Texts shorter than
    ``min_chars`` (after collapsing whitespace) are left out: a short "Looks fine." written
    by two people is not a copy. Within a bucket each text is compared with at most
    ``max_bucket_neighbours`` earlier ones, so a thousand copies of one text cost linear
    time, not quadratic (each copy still pairs with an earlier one).

    Example:
        >>> base = "The second response cites the statute correctly and explains why."
        >>> pairs = near_duplicate_pairs([base, base + " ", "Completely different wording here."])
        >>> [(p.first, p.second) for p in pairs]
        [(0, 1)]
    """
    if num_perm % bands:
        raise QualityInputError("bands must divide num_perm")
    if not 0 < threshold <= 1:
        raise QualityInputError("threshold must be in (0, 1]")
    keep = [i for i, text in enumerate(texts) if len(_SPACE.sub(" ", text).strip()) >= min_chars]
    if len(keep) < 2:
        return []
    sigs, sets = minhash_signatures(
        [texts[i] for i in keep], num_perm=num_perm, shingle_size=shingle_size, seed=seed
    )
    rows = num_perm // bands
    candidates: set[tuple[int, int]] = set()
    for band in range(bands):
        buckets: dict[bytes, list[int]] = {}
        block = np.ascontiguousarray(sigs[:, band * rows : (band + 1) * rows])
        for local in range(len(keep)):
            key = block[local].tobytes()
            members = buckets.setdefault(key, [])
            for other in members[-max_bucket_neighbours:]:
                candidates.add((other, local))
            members.append(local)
    pairs = []
    for i, j in sorted(candidates):
        si, sj = sets[i], sets[j]
        union = len(si | sj)
        sim = len(si & sj) / union if union else 0.0
        if sim >= threshold:
            pairs.append(DuplicatePair(keep[i], keep[j], sim))
    return pairs


def similar_vector_pairs(
    vectors: Any, *, threshold: float = 0.9, block: int = 2048, max_neighbours: int = 20
) -> list[DuplicatePair]:
    """Pairs of rows whose cosine similarity reaches ``threshold``, e.g. sentence
    embeddings of answers (paraphrases that MinHash misses). Exact, by blocks of the
    similarity matrix (``O(n^2 d)`` time, ``O(block n)`` memory); each row keeps at most
    ``max_neighbours`` earlier rows, the most similar.

    Example:
        >>> v = [[1.0, 0.0], [0.99, 0.05], [0.0, 1.0]]
        >>> [(p.first, p.second) for p in similar_vector_pairs(v, threshold=0.95)]
        [(0, 1)]
    """
    arr = np.asarray(vectors, dtype=np.float64)
    if arr.ndim != 2:
        raise QualityInputError("vectors must be a 2-D array (one row per text)")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    unit = arr / np.where(norms > 0, norms, 1.0)
    pairs = []
    for start in range(0, len(unit), block):
        rows = unit[start : start + block]
        sims = rows @ unit[: start + len(rows)].T
        for local in range(len(rows)):
            i = start + local
            earlier = sims[local, :i]
            hits = np.flatnonzero(earlier >= threshold)
            if len(hits) > max_neighbours:
                hits = hits[np.argsort(-earlier[hits])[:max_neighbours]]
            pairs += [DuplicatePair(int(j), i, float(earlier[j])) for j in sorted(hits)]
    return pairs


# --- pasted text --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PasteScreen:
    """Per worker: answers with telemetry and enough text, those mostly pasted, the share,
    the characters typed and pasted, and ``pasting`` (enough answers, share at the bar)."""

    worker_ids: NDArray[Any]
    n_answers: IntArray
    n_pasted: IntArray
    share: FloatArray
    typed_chars: IntArray
    pasted_chars: IntArray
    pasting: BoolArray


def paste_screen(
    workers: Iterable[Any],
    typed_chars: Iterable[int],
    pasted_chars: Iterable[int],
    *,
    answer_paste_share: float = 0.8,
    min_chars: int = 20,
    worker_share: float = 0.5,
    min_answers: int = 5,
) -> PasteScreen:
    """Workers most of whose written answers were pasted rather than typed.

    An answer is *mostly pasted* when at least ``answer_paste_share`` of its characters
    entered came from pastes, among answers with at least ``min_chars`` entered. A worker is
    flagged when at least ``worker_share`` of such answers (and at least ``min_answers``)
    are mostly pasted.

    Example:
        >>> s = paste_screen(["u"] * 5, [0] * 5, [300] * 5)
        >>> s.pasting.tolist()
        [True]
    """
    wk = as_1d(workers, "workers")
    typed = np.asarray(list(typed_chars), dtype=np.int64)
    pasted = np.asarray(list(pasted_chars), dtype=np.int64)
    _same_length(workers=wk, typed_chars=typed, pasted_chars=pasted)
    total = typed + pasted
    enough = total >= min_chars
    wk, typed, pasted, total = wk[enough], typed[enough], pasted[enough], total[enough]
    if not len(wk):
        zi = np.zeros(0, np.intp)
        return PasteScreen(np.array([], dtype=object), zi, zi, np.zeros(0), zi, zi,
                           np.zeros(0, bool))
    mostly = pasted >= answer_paste_share * total
    codes, ids = encode(wk)
    n = np.bincount(codes, minlength=len(ids)).astype(np.intp)
    k = np.bincount(codes, mostly.astype(float), len(ids)).round().astype(np.intp)
    t_sum = np.bincount(codes, typed.astype(float), len(ids)).round().astype(np.intp)
    p_sum = np.bincount(codes, pasted.astype(float), len(ids)).round().astype(np.intp)
    share = k / np.maximum(n, 1)
    return PasteScreen(ids, n, k, share, t_sum, p_sum,
                       (n >= min_answers) & (share >= worker_share))
