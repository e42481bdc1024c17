"""ds.fitting.replay: the model's own likelihood loop emitting per-step signals, checked against plain
oracles written here, against the likelihood (sum of -log p_choice = NLL) and for its input handling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import random_two_step

import dopasoft.fitting as F

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

HY = dict(alpha1=0.4, beta1=3.0, alpha2=0.6, beta2=2.0, pers=0.3, w=0.6, lam=0.7)


def hybrid_signals_oracle(df, *, alpha1, beta1, alpha2, beta2, pers, w, lam, trans_prob=0.7):
    """Per-step (subject, trial, stage, p_choice, delta, q_mf, q_mb, q_net) of hBayesDM's ts_par7 in plain
    Python, with dopasoft's missing-choice rules (a missing choice1 skips the trial; a missing choice2
    counts stage 1 but updates nothing)."""
    rows = []
    for subj, g in df.groupby("subject", sort=False):
        q = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
        prev = None
        for row in g.sort_values("trial").itertuples():
            if pd.isna(row.choice1):
                continue
            c1 = int(row.choice1)
            m1, m2 = max(q[1]), max(q[2])
            mb = [trans_prob * m1 + (1 - trans_prob) * m2, (1 - trans_prob) * m1 + trans_prob * m2]
            h = [w * mb[b] + (1 - w) * q[0][b] for b in range(2)]
            x = beta1 * (h[1] - h[0]) + (0.0 if prev is None else pers * (2 * prev - 1))
            p1 = 1 / (1 + math.exp(-x))
            prev = c1
            s = 1 + int(row.state2)
            if pd.isna(row.choice2):
                rows.append((subj, row.trial, 1, p1 if c1 == 1 else 1 - p1, np.nan, q[0][c1], mb[c1], h[c1]))
                rows.append((subj, row.trial, 2, np.nan, np.nan, np.nan, np.nan, np.nan))
                continue
            c2, r = int(row.choice2), float(row.reward)
            d1 = q[s][c2] - q[0][c1]
            rows.append((subj, row.trial, 1, p1 if c1 == 1 else 1 - p1, d1, q[0][c1], mb[c1], h[c1]))
            q[0][c1] += alpha1 * d1
            x = beta2 * (q[s][1] - q[s][0])
            p2 = 1 / (1 + math.exp(-x))
            d2 = r - q[s][c2]
            rows.append((subj, row.trial, 2, p2 if c2 == 1 else 1 - p2, d2, q[s][c2], np.nan, q[s][c2]))
            q[s][c2] += alpha2 * d2
            q[0][c1] += lam * alpha1 * (r - q[s][c2])
    return pd.DataFrame(
        rows, columns=["subject", "trial", "stage", "p_choice", "delta", "q_mf", "q_mb", "q_net"]
    )


@pytest.mark.parametrize("missing", [0.0, 0.15])
def test_hybrid_replay_equals_plain_oracle_and_likelihood(missing):
    df = random_two_step(n_subjects=3, n_trials=80, seed=3, missing=missing)
    sig = F.replay(df, "daw-hybrid", HY)
    assert list(sig.columns[:10]) == list(F.REPLAY_COLUMNS)
    ref = hybrid_signals_oracle(df, **HY)
    assert len(sig) == len(ref)
    assert (sig["subject"].to_numpy() == ref["subject"].to_numpy()).all()
    assert (sig["trial"].to_numpy() == ref["trial"].to_numpy()).all()
    assert (sig["stage"].to_numpy() == ref["stage"].to_numpy()).all()
    for col in ("p_choice", "delta", "q_mf", "q_mb", "q_net"):
        np.testing.assert_allclose(sig[col], ref[col], rtol=0, atol=1e-12, err_msg=col)
    assert sig["value_rpe"].isna().all() and sig["action_term"].isna().all()
    nll = F.negative_log_likelihood(df, "daw-hybrid", HY)
    summed = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(summed[nll.index], nll, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["daw-hybrid-6", "daw-hybrid-4"])
def test_hybrid_variants_sum_to_their_nll(name):
    df = random_two_step(n_subjects=2, n_trials=50, seed=4, missing=0.1)
    m = F.get_model(name)
    params = {p: {"alpha": 0.5, "beta": 3.0}.get(p, HY.get(p)) for p in m.param_names}
    sig = F.replay(df, name, params)
    nll = F.negative_log_likelihood(df, name, params)
    summed = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(summed[nll.index], nll, rtol=0, atol=1e-10)


def _fits(df, model="daw-hybrid"):
    res = F.fit(df, model, n_starts=1, seed=0)
    return res.params.assign(model=F.get_model(model).spec)


def test_replay_of_a_fits_table_uses_each_subjects_parameters():
    df = random_two_step(n_subjects=3, n_trials=40, seed=5)
    fits = _fits(df)
    sig = F.replay(df, None, fits)  # the model from the table
    nll = F.negative_log_likelihood(df, "daw-hybrid", fits)
    summed = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(summed[nll.index], fits.set_index("subject")["nll"][nll.index], atol=1e-8)
    np.testing.assert_allclose(summed[nll.index], nll, atol=1e-10)


def test_replay_refuses_the_wrong_model_and_names_why():
    df = random_two_step(n_subjects=2, n_trials=30, seed=6)
    fits = _fits(df)
    with pytest.raises(ValueError, match="fitted with model 'daw-hybrid', not 'daw-hybrid-6'"):
        F.replay(df, "daw-hybrid-6", fits)
    sq = pd.DataFrame({"subject": ["s0", "s1"], "alpha": 0.3, "tau": 0.2, "lam": 0.5, "kappa": 0.1})
    with pytest.raises(ValueError, match=r"column\(s\) \['kappa'\].*soft-q-lambda\+kappa"):
        F.replay(df, "soft-q-lambda", sq)
    with pytest.raises(ValueError, match="no row for subject 's1'"):
        F.replay(df, "daw-hybrid", fits.iloc[:1])
    with pytest.raises(ValueError, match="give the model"):
        F.replay(df, None, fits.drop(columns="model"))
    with pytest.raises(ValueError, match="'w'"):
        F.replay(df, "daw-hybrid", {**HY, "w": 1.5})
    with pytest.raises(ValueError, match="model 'daw-hybrid' needs two-step"):
        F.replay(
            pd.DataFrame({"subject": "a", "trial": [1, 2], "choice": [0, 1], "reward": [1.0, 0.0]}),
            "daw-hybrid",
            HY,
        )


def test_subjects_without_fitted_parameters_are_left_out_with_a_warning():
    df = random_two_step(n_subjects=3, n_trials=30, seed=7)
    fits = _fits(df)
    fits.loc[fits["subject"] == "s1", list(F.get_model("daw-hybrid").param_names)] = np.nan
    with pytest.warns(UserWarning, match=r"left out: \['s1'\]"):
        sig = F.replay(df, None, fits)
    assert set(sig["subject"]) == {"s0", "s2"}


# ----------------------------------------------------------------------------------------------
# Soft Q(λ)


def softq_signals_oracle(df, *, alpha, tau, lam, kappa=0.0, gamma=1.0):
    """Per-step (p_choice, delta, value_rpe, action_term) of the tree-backup Soft Q(λ) two-step model in
    plain Python (docs/fitting.md §1–2; uniform π0, no missing choices)."""

    def v(row):
        return tau * math.log(sum(math.exp(x / tau) for x in row) / len(row))

    rows = []
    for _, g in df.groupby("subject", sort=False):
        q = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
        prev = None
        for row in g.sort_values("trial").itertuples():
            c1, s, c2, r = int(row.choice1), 1 + int(row.state2), int(row.choice2), float(row.reward)
            z = [q[0][b] / tau + (kappa if b == prev else 0.0) for b in range(2)]
            p1 = math.exp(z[c1]) / (math.exp(z[0]) + math.exp(z[1]))
            v0, v2 = v(q[0]), v(q[s])
            d1 = gamma * v2 - q[0][c1]
            rows.append((p1, d1, gamma * v2 - v0, q[0][c1] - v0))
            q[0][c1] += alpha * d1
            pi2 = math.exp((q[s][c2] - v2) / tau) / 2
            d2 = r - q[s][c2]
            rows.append((pi2, d2, r - v2, q[s][c2] - v2))
            q[s][c2] += alpha * d2
            q[0][c1] += alpha * gamma * lam * pi2 * d2
            prev = c1
    return pd.DataFrame(rows, columns=["p_choice", "delta", "value_rpe", "action_term"])


def test_softq_replay_equals_plain_oracle():
    df = random_two_step(n_subjects=3, n_trials=60, seed=8)
    params = dict(alpha=0.3, tau=0.4, lam=0.6, kappa=0.5)
    sig = F.replay(df, "soft-q-lambda+kappa+gamma=0.9", params)
    ref = softq_signals_oracle(df, gamma=0.9, **params)
    for col in ref.columns:
        np.testing.assert_allclose(sig[col], ref[col], rtol=0, atol=1e-12, err_msg=col)
    np.testing.assert_allclose(sig["delta"], sig["value_rpe"] - sig["action_term"], atol=1e-12)
    assert (sig["stage"].to_numpy() == np.tile([1, 2], len(df))).all()
    assert (sig.loc[sig["stage"] == 1, "reward"] == 0).all()


def _steps_data(seed=9):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(3):
        for t in range(40):
            n = int(rng.integers(1, 4))  # trials of 1-3 steps through 4 states, 3 actions
            for k in range(n):
                choice = np.nan if rng.random() < 0.08 else int(rng.integers(3))
                rows.append(
                    (f"s{i}", t, int(rng.integers(4)) if k else 0, choice, float(rng.normal()), k == n - 1)
                )
    return pd.DataFrame(rows, columns=["subject", "trial", "state", "choice", "reward", "terminal"])


SPECS = [
    "soft-q-lambda",
    "soft-q-lambda-on-policy+kappa+trace_mode=replacing",
    "soft-q-lambda-uncorrected+gamma=0.8",
    "soft-q+kappa",
]


@pytest.mark.parametrize(
    "spec, task",
    [(s, t) for s in SPECS for t in ("two-step", "bandit", "steps")]
    + [("soft-q-lambda+kappa+separate_alpha+separate_tau", "two-step")],
)
def test_softq_replay_sums_to_the_nll_in_every_format(spec, task):
    if task == "two-step":
        df = random_two_step(n_subjects=3, n_trials=50, seed=10, missing=0.1)
    elif task == "bandit":
        rng = np.random.default_rng(11)
        df = pd.DataFrame(
            {
                "subject": np.repeat(["a", "b"], 60),
                "trial": np.tile(np.arange(60), 2),
                "choice": rng.integers(3, size=120).astype(float),
                "reward": rng.normal(size=120),
            }
        )
        df.loc[[5, 70], "choice"] = np.nan
    else:
        df = _steps_data()
    m = F.get_model(spec)
    rng = np.random.default_rng(12)
    params = {p.name: float(rng.uniform(*p.start)) for p in m.params}
    sig = F.replay(df, m, params)
    nll = F.negative_log_likelihood(df, m, params)
    summed = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(summed[nll.index], nll, rtol=0, atol=1e-10)
    ok = sig["action"].notna()
    np.testing.assert_allclose(sig.loc[ok, "delta"], (sig["value_rpe"] - sig["action_term"])[ok], atol=1e-12)
    assert sig.loc[~ok, ["p_choice", "delta"]].isna().all().all()
    if task == "steps":  # stage is the position within the trial
        pos = df.groupby(["subject", "trial"]).cumcount().to_numpy() + 1
        assert (sig["stage"].to_numpy() == pos).all() and (
            sig["trial"].to_numpy() == df["trial"].to_numpy()
        ).all()
