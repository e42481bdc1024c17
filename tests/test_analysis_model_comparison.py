"""Random-effects BMS: hand-checkable cases (Stephan et al. 2009; Rigoux et al. 2014)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dopasoft.analysis.model_comparison import bms, exceedance_probabilities


@pytest.mark.parametrize("n", [1, 3, 6])
def test_decisive_evidence_matches_closed_forms(n):
    # every subject's evidence is decisive for model 0: g = (1, 0), alpha = (1 + n, 1);
    # r0 ~ Beta(n + 1, 1) so xp0 = 1 - 0.5**(n + 1). The free energy is then exact: the RFX evidence is
    # E[r0**n] e^{sum L} = e^{sum L} / (n + 1) and the null's is 2**-n e^{sum L}, so
    # BOR = 1 / (1 + 2**n / (n + 1)).
    L = np.zeros((n, 2))
    L[:, 0] = 200.0
    res = bms(L)
    np.testing.assert_allclose(res.alpha, [n + 1, 1])
    assert res.exceedance[0] == pytest.approx(1 - 0.5 ** (n + 1))
    assert res.bor == pytest.approx(1 / (1 + 2**n / (n + 1)), rel=1e-9)
    assert res.protected_exceedance[0] == pytest.approx(res.exceedance[0] * (1 - res.bor) + res.bor / 2)
    assert res.free_energy - res.null_free_energy == pytest.approx(n * np.log(2) - np.log(n + 1))


def test_equal_evidence_gives_chance():
    res = bms(np.full((10, 3), -50.0))
    np.testing.assert_allclose(res.alpha, [1 + 10 / 3] * 3)
    np.testing.assert_allclose(res.exceedance, [1 / 3] * 3, atol=1e-9)
    np.testing.assert_allclose(res.protected_exceedance, [1 / 3] * 3, atol=1e-9)
    assert res.bor > 0.5  # the null (equal frequencies) is favoured


def test_two_model_exceedance_closed_form():
    from scipy import stats

    xp = exceedance_probabilities([3.0, 5.0])
    assert xp[0] == pytest.approx(stats.beta(3.0, 5.0).sf(0.5))
    assert xp.sum() == pytest.approx(1.0)


def test_three_model_exceedance_against_monte_carlo():
    alpha = np.array([5.0, 2.0, 3.5])
    xp = exceedance_probabilities(alpha)
    draws = np.random.default_rng(0).dirichlet(alpha, 200_000)
    mc = np.bincount(draws.argmax(axis=1), minlength=3) / len(draws)
    np.testing.assert_allclose(xp, mc, atol=0.004)
    # Dirichlet(2, 1, 1): P(r0 is largest) by hand = 11/18
    assert exceedance_probabilities([2, 1, 1])[0] == pytest.approx(11 / 18, abs=1e-6)


def test_mixed_population_and_dataframe_input():
    rng = np.random.default_rng(1)
    L = rng.normal(0, 1, (20, 2))
    L[:15, 0] += 5  # 15 subjects favour model a, 5 favour b
    L[15:, 1] += 5
    res = bms(pd.DataFrame(L, columns=["a", "b"]))
    assert res.models == ["a", "b"]
    assert res.expected_frequency[0] == pytest.approx(16 / 22, abs=0.02)
    assert res.exceedance[0] > 0.95 and res.bor < 0.2
    assert res.responsibilities.shape == (20, 2)
    table = res.table()
    assert list(table["model"]) == ["a", "b"]


def test_bad_inputs():
    with pytest.raises(ValueError, match="n_models >= 2"):
        bms(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="non-finite"):
        bms(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="positive"):
        exceedance_probabilities([1.0, 0.0])


def test_agrees_with_the_fitting_packages_bms():
    # dopasoft.fitting.hierarchical has a second implementation (Dirichlet sampling for K > 2)
    hierarchical = pytest.importorskip("dopasoft.fitting.hierarchical")
    L = np.random.default_rng(1).normal(0, 3, (25, 3))
    L[:10, 0] += 4
    ours, theirs = bms(L), hierarchical.bms(L, n_samples=400_000, seed=0)
    np.testing.assert_allclose(ours.alpha, theirs.alpha.to_numpy(), rtol=1e-6)
    assert ours.bor == pytest.approx(theirs.bor, rel=1e-6)
    np.testing.assert_allclose(ours.exceedance, theirs.xp.to_numpy(), atol=3e-3)
