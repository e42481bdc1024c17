"""The Daw hybrid's analytic gradient (forward mode through its compiled likelihood, docs/maths.md)."""

from __future__ import annotations

import numpy as np
import pytest
from fitting_oracles import daw_hybrid_oracle, random_two_step

import dopasoft.fitting as F
from dopasoft.fitting.models.daw_hybrid import HY_COLUMNS, _hybrid_nll_grad_block

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

VARIANTS = ["daw-hybrid", "daw-hybrid-6", "daw-hybrid-4"]
H = 1e-5  # central-difference step on the natural scale


@pytest.fixture(scope="module")
def data():
    """Four subjects with real-valued rewards (no ties between second-stage values, so the likelihood is
    smooth at the test points), both kinds of missing choice included."""
    df = random_two_step(n_subjects=4, n_trials=60, seed=21, missing=0.1)
    assert df["choice1"].isna().any() and (df["choice1"].notna() & df["choice2"].isna()).any()
    return df, F.to_transitions(df)


def _inside(model, n, rng, margin=0.02):
    """``n`` parameter vectors uniform inside the model's bounds, ``margin`` (relative) from each end."""
    lo = np.array([p.lower for p in model.params])
    hi = np.array([p.upper for p in model.params])
    pad = margin * (hi - lo)
    return rng.uniform(lo + pad, hi - pad, size=(n, model.n_params))


def _pairs(model, tr, per_subject, seed):
    rng = np.random.default_rng(seed)
    subj = np.repeat(np.arange(tr.n_subjects, dtype=np.int64), per_subject)
    return subj, _inside(model, len(subj), rng)


def _central(model, tr, subj, theta, h=H):
    """Central differences of the value path's NLL, one column per parameter."""
    num = np.empty_like(theta)
    for j in range(model.n_params):
        e = np.zeros(model.n_params)
        e[j] = h
        num[:, j] = (model.nll_pairs(tr, subj, theta + e) - model.nll_pairs(tr, subj, theta - e)) / (2 * h)
    return num


def _assert_gradient(g, num, rtol=1e-6):
    """Every component within ``rtol`` of the pair's gradient norm (relative error of the vector)."""
    scale = np.linalg.norm(num, axis=1, keepdims=True)
    assert np.all(scale > 1.0)  # the test points are not at a stationary point
    err = np.abs(g - num) / scale
    assert err.max() <= rtol, (
        f"largest relative error {err.max():.2e} at {np.unravel_index(err.argmax(), err.shape)}"
    )


@pytest.mark.parametrize("name", VARIANTS)
def test_gradient_matches_central_differences(name, data):
    _, tr = data
    model = F.get_model(name)
    subj, theta = _pairs(model, tr, per_subject=3, seed=VARIANTS.index(name))
    nll, g = model.nll_grad_pairs(tr, subj, theta)
    assert g.shape == theta.shape and np.all(np.isfinite(g))
    _assert_gradient(g, _central(model, tr, subj, theta))


@pytest.mark.parametrize("name", VARIANTS)
def test_gradient_path_nll_is_the_value_path_and_the_oracle(name, data):
    df, tr = data
    model = F.get_model(name)
    subj, theta = _pairs(model, tr, per_subject=3, seed=10 + VARIANTS.index(name))
    nll, _ = model.nll_grad_pairs(tr, subj, theta)
    np.testing.assert_allclose(nll, model.nll_pairs(tr, subj, theta), rtol=1e-13, atol=0)
    # independently: the plain-Python ts_par7 with dopasoft's rules for missing choices
    ids = df["subject"].drop_duplicates().to_numpy()
    for k in range(len(subj)):
        p = dict(zip(HY_COLUMNS, model.full(theta[k]), strict=True))
        want = daw_hybrid_oracle(
            df[df["subject"] == ids[subj[k]]],
            a1=p["alpha1"],
            beta1=p["beta1"],
            a2=p["alpha2"],
            beta2=p["beta2"],
            pi=p["pers"],
            w=p["w"],
            lam=p["lam"],
        ).iloc[0]
        assert nll[k] == pytest.approx(want, rel=1e-12, abs=1e-10)


def test_gradient_is_finite_where_a_choice_probability_is_tiny():
    # rewards of ±400 and inverse temperatures near their bound: the unchosen option's log-odds reach
    # thousands, where e^x overflows and P(choice) underflows to 0
    df = random_two_step(n_subjects=2, n_trials=40, seed=5, missing=0.1)
    df["reward"] = np.where(np.arange(len(df)) % 2 == 0, 400.0, -400.0) * np.random.default_rng(6).uniform(
        0.5, 1.0, len(df)
    )
    tr = F.to_transitions(df)
    model = F.get_model("daw-hybrid")
    theta = np.array([[0.6, 45.0, 0.7, 48.0, 4.0, 0.4, 0.5]] * 2)
    subj = np.arange(2, dtype=np.int64)
    signals, _ = model.replay_signals(tr, theta)
    assert np.nanmin(signals["p_choice"]) == 0.0  # some choice's probability underflows
    nll, g = model.nll_grad_pairs(tr, subj, theta)
    assert np.all(np.isfinite(nll)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(nll, model.nll_pairs(tr, subj, theta), rtol=1e-13, atol=0)
    _assert_gradient(g, _central(model, tr, subj, theta, h=1e-6))


def test_each_pair_gets_its_own_gradient(data):
    _, tr = data
    model = F.get_model("daw-hybrid")
    assert model.compiled_functions() == (_hybrid_nll_grad_block,)
    subj, theta = _pairs(model, tr, per_subject=2, seed=3)
    _, g = model.nll_grad_pairs(tr, subj, theta)
    # each pair's gradient is its own: the same as evaluated alone
    for k in (0, len(subj) - 1):
        _, gk = model.nll_grad_pairs(tr, subj[k : k + 1], theta[k : k + 1])
        np.testing.assert_array_equal(gk[0], g[k])


def test_gradient_path_refuses_a_parameter_matrix_of_the_wrong_shape(data):
    from dopasoft.fitting.models.daw_hybrid import hybrid_nll_grad_pairs

    _, tr = data
    hy = (tr.state, tr.action, tr.reward, tr.next_state, tr.is_choice, tr.n_steps)
    subj = np.arange(3, dtype=np.int64)
    for bad in (np.full((3, 6), 0.5), np.full((2, 7), 0.5)):
        with pytest.raises(ValueError, match="full must have"):
            hybrid_nll_grad_pairs(*hy, subj, bad, 0.7)
