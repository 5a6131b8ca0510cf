"""Scaling-law ê: the published coefficients, their forms at a budget and at convergence, and N."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bortnas.core.architecture import BORT, count_parameters
from bortnas.core.errors import BortnasError
from bortnas.extraction.scaling_law import (
    DEFAULT_LAW,
    apply_law,
    get_law,
    law_error,
    law_parameters,
    load_laws,
    parse_budgets,
)


def test_every_set_is_cited_and_the_published_numbers_are_the_data():
    laws = load_laws()
    assert {"hoffmann2022", "besiroglu2024", "kaplan2020"} <= set(laws)
    assert all(law.source and "arXiv" in law.source for law in laws.values())
    assert laws["hoffmann2022"].coefficients == {
        "E": 1.69,
        "A": 406.4,
        "B": 410.7,
        "alpha": 0.34,
        "beta": 0.28,
    }
    assert laws["besiroglu2024"].coefficients["B"] == 2085.43
    assert laws["kaplan2020"].coefficients["alpha_D"] == 0.103
    assert DEFAULT_LAW in laws


def test_chinchilla_form_by_hand_at_a_budget_and_at_convergence():
    n, d = 1e8, 1e10
    by_hand = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
    assert law_error([n], d, "hoffmann2022")[0] == pytest.approx(by_hand, rel=1e-12)
    assert law_error([n], math.inf, "hoffmann2022")[0] == pytest.approx(
        1.69 + 406.4 / n**0.34, rel=1e-12
    )
    # Besiroglu's refit at N = 1e9, D = 2e10: 1.8172 + 482.01/1e9^.3478 + 2085.43/2e10^.3658
    value = law_error([1e9], 2e10, "besiroglu2024")[0]
    assert value == pytest.approx(
        1.8172 + 482.01 * 1e9**-0.3478 + 2085.43 * 2e10**-0.3658, rel=1e-12
    )


def test_kaplan_form_reduces_to_its_one_variable_laws():
    n = 1e8
    converged = law_error([n], math.inf, "kaplan2020")[0]
    assert converged == pytest.approx((6.4e13 / n) ** 0.076, rel=1e-12)
    # A huge model is limited by data alone: (D_c / D)^alpha_D.
    assert law_error([1e30], 1e9, "kaplan2020")[0] == pytest.approx(
        (1.8e13 / 1e9) ** 0.103, rel=1e-6
    )


def test_more_parameters_or_more_tokens_never_raise_the_loss():
    n = np.logspace(6, 9, 7)
    for name in load_laws():
        at_budget = law_error(n, 1e9, name)
        assert np.all(np.diff(at_budget) < 0)
        assert np.all(law_error(n, math.inf, name) < at_budget)
        assert np.all(law_error(n, 1e10, name) < at_budget)


def test_n_is_the_encoder_without_embeddings_and_without_the_pooler():
    # Bort: 4 layers x (4H² + 2HI + 9H + I) at H 1024, I 768 (no pooler H² + H, no tables).
    by_hand = 4 * (4 * 1024**2 + 2 * 1024 * 768 + 9 * 1024 + 768)
    assert law_parameters([BORT])[0] == by_hand == 23_108_608
    count = count_parameters(BORT)
    assert count.without_embeddings - by_hand == 1024**2 + 1024 == count.pooler
    from_shapes = law_error([BORT], 1e10)
    assert from_shapes[0] == pytest.approx(law_error([by_hand], 1e10)[0])
    # The heads do not change N, so they do not change the law's ê.
    assert law_error([BORT.with_shape(heads=16)], 1e10)[0] == from_shapes[0]


def test_user_mistakes_are_one_clear_error():
    with pytest.raises(BortnasError, match="unknown scaling law 'chinchila'"):
        law_error([1e8], 1e9, "chinchila")
    for bad in (0, -1e9, float("nan"), "lots"):
        with pytest.raises(BortnasError, match="budget"):
            law_error([1e8], bad)  # type: ignore[arg-type]
    with pytest.raises(BortnasError, match="parameter count"):
        law_error([0.0], 1e9)
    assert parse_budgets("1e8, 1e10,inf") == (1e8, 1e10, math.inf)
    with pytest.raises(BortnasError, match="budget"):
        parse_budgets("1e8,,1e9")
    assert get_law(get_law("kaplan2020")) is get_law("kaplan2020")


def test_apply_law_keeps_the_measured_error_and_has_no_seed_noise():
    table = pd.DataFrame({"D": [4], "A": [8], "H": [1024], "I": [768], "error": [0.5]})
    ranked, summary = apply_law(table, "hoffmann2022", 2e10)
    assert ranked["error_measured"].tolist() == [0.5]
    assert ranked["error"].iloc[0] == pytest.approx(
        1.69 + 406.4 / 23_108_608**0.34 + 410.7 / 2e10**0.28
    )
    assert ranked["error_model_std"].tolist() == [0.0]
    assert summary["model"] == "law"
    assert summary["name"] == "hoffmann2022"
    assert summary["budget_tokens"] == 2e10
    untrained, _ = apply_law(table.drop(columns="error"))
    assert untrained["error_measured"].isna().all()
