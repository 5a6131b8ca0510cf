from __future__ import annotations

import pytest

from bortnas import BERT_LARGE, load_space
from bortnas.errors import BortnasError
from bortnas.optimizer import STRATEGIES, get_strategy, maximum_point, training_budget
from bortnas.proxies import count_parameters


def test_budget_scales_as_one_over_epsilon_s_to_the_three_halves() -> None:
    assert training_budget(1.0, 1.0, 40) == 40
    assert training_budget(0.5, 1.0, 40) == 80
    assert training_budget(0.25, 1.0, 40) == 160
    assert training_budget(1.0, 4.0, 40) == 5  # 40 / 4^1.5
    assert training_budget(1.0, 100.0, 40) == 1  # never below one step


@pytest.mark.parametrize(("epsilon", "interval"), [(0, 1), (1.5, 1), (-0.1, 1), (0.5, 0)])
def test_budget_rejects_out_of_range_knobs(epsilon: float, interval: float) -> None:
    with pytest.raises(BortnasError):
        training_budget(epsilon, interval, 40)


def test_maximum_point_of_bert_large_is_bert_large() -> None:
    candidates = load_space("bert-large").candidates
    reference = maximum_point(candidates, lambda a: count_parameters(a).total, lambda a: 0.0)
    assert reference == BERT_LARGE


def test_maximum_point_breaks_ties_by_latency() -> None:
    candidates = [c for c in load_space("bert-large").candidates if c.shape[0] == 24]
    # BERT-large's shape with 4, 8 and 16 heads has the same parameter count: latency decides.
    latency = {c: float(c.heads) for c in candidates}
    chosen = maximum_point(candidates, lambda a: count_parameters(a).total, latency.__getitem__)
    assert chosen.shape == (24, 16, 1024, 4096)
    latency = {c: -float(c.heads) for c in candidates}
    chosen = maximum_point(candidates, lambda a: count_parameters(a).total, latency.__getitem__)
    assert chosen.shape == (24, 4, 1024, 4096)


def test_strategies_registry() -> None:
    assert set(STRATEGIES) == {"fptas", "exhaustive", "random", "nsga2"}
    assert get_strategy("exhaustive").steps_factor >= 10
    with pytest.raises(BortnasError, match="unknown optimizer"):
        get_strategy("grid")
    candidates = load_space("tiny").candidates
    reference = candidates[-1]
    for name in ("fptas", "exhaustive", "random"):
        chosen = get_strategy(name).select(candidates, reference, 5, 0)
        assert chosen[0] == reference and len(set(chosen)) == len(chosen)
    assert len(get_strategy("random").select(candidates, reference, 5, 0)) == 6
