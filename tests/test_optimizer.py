from __future__ import annotations

import math

import pytest

from bortnas import load_space
from bortnas.core.architecture import BORT, Architecture, count_parameters
from bortnas.core.errors import BortnasError
from bortnas.extraction.optimizer import epsilon_representatives, maximum_point, scores_zero
from bortnas.extraction.strategies import STRATEGIES, get_strategy


def _encoder(a: Architecture) -> float:
    return count_parameters(a).without_embeddings


def test_maximum_point_of_the_papers_space_is_a_function_of_the_space_alone() -> None:
    candidates = load_space("bert-large").candidates
    assert len(candidates) == 300
    # A does not change p: the A = 4, 8 and 16 shapes tie, and the rule takes the most heads,
    # whatever order the candidates come in (no latency is consulted any more).
    chosen = maximum_point(candidates, _encoder)
    assert chosen.shape == (12, 16, 1024, 3072)
    assert maximum_point(list(reversed(candidates)), _encoder) == chosen


def test_candidates_of_ts_size_cannot_score_and_are_listed() -> None:
    candidates = load_space("bert-large").candidates
    top = _encoder(maximum_point(candidates, _encoder))
    zero = scores_zero(candidates, _encoder, top)
    assert sorted(a.heads for a in zero) == [4, 8, 16]
    assert {a.shape[:1] + a.shape[2:] for a in zero} == {(12, 1024, 3072)}
    # Against a smaller reference (BERT-base-like), every larger candidate scores 0 too.
    smaller = scores_zero(candidates, _encoder, _encoder(Architecture(6, 12, 768, 3072)))
    assert all(_encoder(a) >= _encoder(Architecture(6, 12, 768, 3072)) for a in smaller)
    assert len(smaller) > 3


@pytest.mark.parametrize("epsilon", [1, 2, 3, 4, 7, 300, 1000])
def test_epsilon_partition_keeps_one_per_interval(epsilon: int) -> None:
    candidates = load_space("bert-large").candidates
    kept = epsilon_representatives(candidates, epsilon, _encoder, lambda a: -a.depth)
    assert len(kept) == math.ceil(len(candidates) / epsilon)
    assert len(set(kept)) == len(kept)
    if epsilon == 1:
        assert set(kept) == set(candidates)
    # Intervals are consecutive in p: representatives come out in non-decreasing p.
    sizes = [_encoder(a) for a in kept]
    assert sizes == sorted(sizes)


def test_epsilon_representative_is_the_best_cheap_score_of_its_interval() -> None:
    candidates = load_space("bert-large").candidates
    ordered = sorted(candidates, key=lambda a: (_encoder(a), a.shape))
    score = {a: (a.heads * 7 + a.depth) % 11 for a in candidates}
    kept = epsilon_representatives(candidates, 4, _encoder, score.__getitem__)
    for start, representative in zip(range(0, len(ordered), 4), kept, strict=True):
        interval = ordered[start : start + 4]
        assert representative in interval
        assert score[representative] == max(score[a] for a in interval)


@pytest.mark.parametrize("epsilon", [0, -1, 1.5, True])
def test_epsilon_must_be_a_positive_whole_number(epsilon) -> None:
    with pytest.raises(BortnasError, match="epsilon"):
        epsilon_representatives([BORT], epsilon, _encoder, lambda a: 0.0)


def test_strategies_registry() -> None:
    assert set(STRATEGIES) == {"fptas", "exhaustive", "random", "nsga2"}
    assert get_strategy("exhaustive").steps_factor >= 10
    with pytest.raises(BortnasError, match="unknown optimizer"):
        get_strategy("grid")
