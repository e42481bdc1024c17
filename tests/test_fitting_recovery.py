"""Model recovery (Wilson & Collins 2019): confusion and inversion matrices; model specs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import dopasoft.fitting as F


@pytest.fixture(scope="module")
def recovery():
    return F.model_recovery(["soft-q-lambda", "daw-hybrid-4"], 10, n_trials=150, seed=0, n_starts=3)


def test_model_recovery_matrices(recovery):
    res = recovery
    labels = ["soft-q-lambda", "daw-hybrid-4"]
    for m in (res.confusion, res.inversion, res.counts):
        assert list(m.index) == labels and list(m.columns) == labels
    assert res.counts.to_numpy().sum() == 20 and (res.counts.sum(axis=1) == 10).all()
    np.testing.assert_allclose(res.confusion.sum(axis=1), 1.0)
    np.testing.assert_allclose(res.inversion.sum(axis=0), 1.0)
    # the matrices follow from the per-subject table: best = the lowest BIC of the two fits
    sub = res.subjects
    bic = sub[["bic_soft-q-lambda", "bic_daw-hybrid-4"]].to_numpy()
    assert list(sub["best"]) == [labels[i] for i in bic.argmin(axis=1)]
    for g in labels:
        for f in labels:
            n_gf = np.sum((sub["generating"] == g) & (sub["best"] == f))
            assert res.counts.loc[g, f] == n_gf
            assert res.confusion.loc[g, f] == pytest.approx(n_gf / 10)
            assert res.inversion.loc[g, f] == pytest.approx(n_gf / np.sum(sub["best"] == f))
    bic_fit = res.fits["daw-hybrid-4"].set_index("subject").loc[sub["subject"], "bic"].to_numpy()
    np.testing.assert_allclose(sub["bic_daw-hybrid-4"], bic_fit)
    # these two models are distinguishable with 150 trials
    assert np.all(np.diag(res.confusion.to_numpy()) >= 0.7)
    assert set(res.true_params["generating"]) == set(labels) and len(res.data) == 20 * 150
    assert "inversion" in res.summary()


def test_model_recovery_is_seeded_and_executor_free(recovery):
    with ThreadPoolExecutor(2) as ex:
        again = F.model_recovery(
            ["soft-q-lambda", "daw-hybrid-4"], 10, n_trials=150, seed=0, n_starts=3, executor=ex
        )
    assert again.subjects.equals(recovery.subjects)
    aic = F.model_recovery(
        ["soft-q-lambda", "daw-hybrid-4"], 10, n_trials=150, seed=0, n_starts=3, criterion="aic"
    )
    assert "aic_daw-hybrid-4" in aic.subjects.columns and aic.criterion == "aic"


def test_model_recovery_errors():
    with pytest.raises(ValueError, match="at least two models"):
        F.model_recovery(["soft-q"], 5)
    with pytest.raises(ValueError, match="duplicated"):
        F.model_recovery(["soft-q", "soft-q"], 5)
    with pytest.raises(ValueError, match="criterion"):
        F.model_recovery(["soft-q", "soft-q-lambda"], 5, criterion="waic")
    with pytest.raises(ValueError, match="'daw-hybrid' cannot simulate the 'bandit' task"):
        F.model_recovery(["soft-q", "daw-hybrid"], 5, task="bandit")
    with pytest.raises(ValueError, match="n_subjects"):
        F.model_recovery(["soft-q", "soft-q-lambda"], 0)


@pytest.mark.parametrize(
    "spec",
    [
        "soft-q-lambda+kappa+separate_alpha",
        "soft-q+gamma=0.9",
        "daw-hybrid+trans_prob=0.8",
        "soft-q-lambda-on-policy+separate_tau+trace_mode=replacing",
    ],
)
def test_model_spec_round_trip(spec):
    m = F.get_model(spec)
    assert m.spec == spec and F.get_model(m.spec) == m


def test_model_spec_errors():
    with pytest.raises(ValueError, match="unknown option 'kapa'"):
        F.get_model("soft-q-lambda+kapa")
    with pytest.raises(ValueError, match="trans_prob applies to the hybrid"):
        F.get_model("soft-q+trans_prob=0.8")
    with pytest.raises(ValueError, match="gamma must be a number"):
        F.get_model("soft-q+gamma=x")
