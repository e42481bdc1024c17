"""Random-effects BMS (``ds.fitting.bms``): hand-checkable cases (Stephan et al. 2009; Rigoux et al. 2014)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dopasoft as ds
from dopasoft.fitting import bms, exceedance_probabilities

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


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
    with pytest.raises(ValueError, match="non-finite.*row 1, model 'b'"):
        bms(pd.DataFrame({"a": [0.0, 1.0], "b": [0.0, np.nan]}))
    with pytest.raises(ValueError, match="alpha0"):
        bms(np.zeros((3, 2)), alpha0=[1.0, -1.0])
    with pytest.raises(ValueError, match="models: 3 model names"):
        bms(np.zeros((3, 2)), models=["a", "b", "c"])
    with pytest.raises(ValueError, match="positive"):
        exceedance_probabilities([1.0, 0.0])


def test_strong_evidence_for_one_of_three_and_null():
    rng = np.random.default_rng(1)
    lme = np.column_stack([np.zeros(20), -10 + rng.normal(size=20), -12 + rng.normal(size=20)])
    res = bms(pd.DataFrame(lme, columns=["a", "b", "c"]))
    assert res.protected_exceedance[0] > 0.95 and res.bor < 0.05
    assert res.expected_frequency.sum() == pytest.approx(1.0)
    null = bms(np.zeros((20, 3)))
    assert null.bor > 0.9
    np.testing.assert_allclose(null.protected_exceedance, 1 / 3, atol=1e-9)


def test_one_implementation_one_public_path():
    import importlib

    import dopasoft.fitting.model_selection as model_selection

    assert ds.fitting.bms is bms is model_selection.bms
    assert ds.fitting.BMSResult is model_selection.BMSResult
    # not re-exported by the analysis package (the docs name ds.fitting.bms), and the shim is gone
    assert not hasattr(ds.analysis, "bms") and not hasattr(ds.analysis, "BMSResult")
    assert not hasattr(ds.analysis.model_fits, "bms")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dopasoft.analysis.model_comparison")
    import dopasoft.fitting.hierarchical as hierarchical

    assert not hasattr(hierarchical, "bms")
