"""ds.fitting.replay: the model's own likelihood loop emitting per-step signals, checked against plain
oracles written here, against the likelihood (sum of -log p_choice = NLL) and for its input handling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import dopasoft.fitting as F
from tests.fitting_oracles import random_two_step

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
