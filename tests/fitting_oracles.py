"""Plain per-trial Python oracles of the fitting likelihoods (no numba, no shared code).

Written directly from docs/fitting.md §1–2 (soft Q(λ) on the two-step task) and from hBayesDM's Stan model
blocks ``ts_par7.stan``, ``ts_par6.stan`` and ``ts_par4.stan`` (Ahn et al. 2017).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _lse(x):
    m = max(x)
    return m + math.log(sum(math.exp(v - m) for v in x))


def softq_two_step_oracle(
    df: pd.DataFrame,
    *,
    alpha,
    tau,
    lam,
    kappa=0.0,
    trace="tree-backup",
    gamma=1.0,
    alpha2=None,
    tau2=None,
    alpha_pi=0.0,
    alpha_neg=None,
    go_bias=0.0,
) -> pd.Series:
    """docs/fitting.md §1–2 steps 1-4, one trial at a time. ``alpha2``/``tau2``: the stage-2 step's values
    (default: same as stage 1); each step's learning rate scales every update made at that step.
    ``alpha_pi``: the default policy pi0 of each state starts at (1/2, 1/2) and moves towards the choice
    made there, after that stage's update (docs/maths.md §7; every V and pi uses pi0 before it).
    ``alpha_neg``: valence learning rates, ``alpha`` (errors >= 0) or ``alpha_neg`` (< 0) by the sign of
    each stage's error, for every update made at that stage. ``go_bias`` b: pi0 starts at
    (1 - sigmoid(b), sigmoid(b)) in every state."""
    a1_, a2_ = alpha, alpha if alpha2 is None else alpha2
    t1_, t2_ = tau, tau if tau2 is None else tau2
    out = {}
    for subj, g in df.groupby("subject", sort=False):
        g = g.sort_values("trial")
        q = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
        go = 1.0 / (1.0 + math.exp(-go_bias))
        pi0 = [[1.0 - go, go] for _ in range(3)]
        prev = None
        nll = 0.0

        def learn_prior(state, choice, pi0=pi0):
            for b in range(2):
                pi0[state][b] += alpha_pi * ((1.0 if b == choice else 0.0) - pi0[state][b])

        for row in g.itertuples():
            if pd.isna(row.choice1):
                continue
            c1 = int(row.choice1)
            logits = [q[0][b] / t1_ + math.log(pi0[0][b]) + (kappa if prev == b else 0.0) for b in range(2)]
            nll -= logits[c1] - _lse(logits)
            s = 1 + int(row.state2)
            # step 2: delta1 = gamma V(s) - Q(0, c1), V with the stage-1 step's temperature
            v = t1_ * _lse([q[s][b] / t1_ + math.log(pi0[s][b]) for b in range(2)])
            d1 = gamma * v - q[0][c1]
            q[0][c1] += (a1_ if alpha_neg is None or d1 >= 0 else alpha_neg) * d1
            learn_prior(0, c1)
            prev = c1
            if pd.isna(row.choice2):
                continue
            c2 = int(row.choice2)
            r = float(row.reward)
            z = [q[s][b] / t2_ + math.log(pi0[s][b]) for b in range(2)]
            pi = [math.exp(zb - _lse(z)) for zb in z]
            nll -= z[c2] - _lse(z)  # log pi[c2], without underflow
            d2 = r - q[s][c2]
            if alpha_neg is not None:
                a2_ = alpha if d2 >= 0 else alpha_neg
            if trace == "tree-backup":
                stage1 = a2_ * gamma * lam * pi[c2] * d2
            elif trace == "uncorrected":
                stage1 = a2_ * gamma * lam * d2
            elif trace == "on-policy":
                stage1 = a2_ * gamma * lam * (r - sum(pi[b] * q[s][b] for b in range(2)))
            else:
                raise ValueError(trace)
            q[s][c2] += a2_ * d2
            q[0][c1] += stage1
            learn_prior(s, c2)
        out[subj] = nll
    return pd.Series(out)


def softq_steps_oracle(
    df: pd.DataFrame,
    *,
    alpha,
    tau,
    lam,
    kappa=0.0,
    alpha_pi=0.0,
    gamma=1.0,
    trace="tree-backup",
    n_actions=None,
    alpha_neg=None,
    go_bias=0.0,
) -> pd.Series:
    """Soft Q(λ) on step-format (or bandit) rows in plain Python, one step at a time (docs/fitting.md).

    ``df``: ``subject``, ``trial``, optional ``state`` (absent: 0), ``choice`` (NaN: missing),
    ``reward``, optional ``terminal`` (absent: every row ends its trial); a non-terminal row's next
    state is the next row's; a missed choice is skipped and clears the traces (docs/fitting.md, step
    format). Accumulating traces, ``trace`` "tree-backup" (c = γλπ(a|s)) or
    "uncorrected" (c = γλ). ``kappa`` is added to the logit of the previous choice made in the same
    state, for states that start a trial somewhere in the data. ``alpha_pi``: pi0 per state, uniform at
    the start, moves towards each choice after its step (docs/maths.md §7). ``alpha_neg``: the learning
    rate of steps whose error is < 0 (``alpha``: >= 0). ``go_bias`` b (two actions): pi0 starts at
    (1 - sigmoid(b), sigmoid(b)).
    """
    df = df.reset_index(drop=True)
    state = df["state"].astype(int).tolist() if "state" in df else [0] * len(df)
    terminal = df["terminal"].astype(bool).tolist() if "terminal" in df else [True] * len(df)
    k = int(np.nanmax(df["choice"])) + 1 if n_actions is None else n_actions
    first = set()
    for i in range(len(df)):
        if i == 0 or terminal[i - 1] or df["subject"][i] != df["subject"][i - 1]:
            first.add(state[i])
    out = {}
    for subj in dict.fromkeys(df["subject"]):
        rows = [i for i in range(len(df)) if df["subject"][i] == subj]
        q, pi0, last, e = {}, {}, {}, {}
        nll = 0.0
        for j, i in enumerate(rows):
            s, c = state[i], df["choice"][i]
            if pd.isna(c):  # no update; no credit passes through an unobserved action
                e.clear()
                continue
            c = int(c)
            qs = q.setdefault(s, [0.0] * k)
            start = (
                [1.0 / k] * k
                if go_bias == 0.0
                else [1 / (1 + math.exp(go_bias)), 1 / (1 + math.exp(-go_bias))]
            )
            p0 = pi0.setdefault(s, list(start))
            z = [qs[b] / tau + math.log(p0[b]) for b in range(k)]
            pi = [math.exp(v - _lse(z)) for v in z]
            logits = [z[b] + (kappa if s in first and last.get(s) == b else 0.0) for b in range(k)]
            nll -= logits[c] - _lse(logits)
            if terminal[i]:
                v_next = 0.0
            else:
                ns = state[rows[j + 1]]
                qn = q.setdefault(ns, [0.0] * k)
                pn = pi0.setdefault(ns, list(start))
                v_next = tau * _lse([qn[b] / tau + math.log(pn[b]) for b in range(k)])
            delta = float(df["reward"][i]) + gamma * v_next - qs[c]
            decay = gamma * lam * (pi[c] if trace == "tree-backup" else 1.0)
            for key in e:
                e[key] *= decay
            e[(s, c)] = e.get((s, c), 0.0) + 1.0
            rate = alpha if alpha_neg is None or delta >= 0 else alpha_neg
            for (es, ea), ev in e.items():
                q[es][ea] += rate * delta * ev
            if terminal[i]:
                e.clear()
            for b in range(k):
                p0[b] += alpha_pi * ((1.0 if b == c else 0.0) - p0[b])
            last[s] = c
        out[subj] = nll
    return pd.Series(out)


def _inv_logit(x):
    return 1.0 / (1.0 + math.exp(-x))


def _bernoulli_lpmf(y, p):
    return math.log(p) if y == 1 else math.log(1.0 - p)


def hbayesdm_ts_oracle(df: pd.DataFrame, *, a1, beta1, a2, beta2, pi, w, lam, trans_prob=0.7) -> pd.Series:
    """log_lik of hBayesDM's ts_par7 ``model`` block, 1-based indices as in the Stan code.

    ``df`` has hBayesDM columns (subjID, level1_choice 1/2, level2_choice 1-4, reward). ts_par6 is
    ``lam = 1``; ts_par4 is ``a1 = a2``, ``beta1 = beta2``, ``lam = 1``.
    """
    out = {}
    for subj, g in df.groupby("subjID", sort=False):
        l1 = g["level1_choice"].astype(int).tolist()
        l2 = g["level2_choice"].astype(int).tolist()
        rew = g["reward"].astype(float).tolist()
        v_mf = [None] + [0.0] * 6  # 1-based
        v_mb = [None, 0.0, 0.0]
        v_h = [None, 0.0, 0.0]
        log_lik = 0.0
        for t in range(1, len(l1) + 1):
            c1, c2, r = l1[t - 1], l2[t - 1], rew[t - 1]
            v_mb[1] = trans_prob * max(v_mf[3], v_mf[4]) + (1 - trans_prob) * max(v_mf[5], v_mf[6])
            v_mb[2] = (1 - trans_prob) * max(v_mf[3], v_mf[4]) + trans_prob * max(v_mf[5], v_mf[6])
            v_h[1] = w * v_mb[1] + (1 - w) * v_mf[1]
            v_h[2] = w * v_mb[2] + (1 - w) * v_mf[2]
            level1_choice_01 = c1 - 1
            if t == 1:
                p1 = _inv_logit(beta1 * (v_h[2] - v_h[1]))
            else:
                p1 = _inv_logit(beta1 * (v_h[2] - v_h[1]) + pi * (2 * l1[t - 2] - 3))
            log_lik += _bernoulli_lpmf(level1_choice_01, p1)
            v_mf[c1] += a1 * (v_mf[2 + c2] - v_mf[c1])
            level2_choice_01 = 1 - (c2 % 2)
            if c2 > 2:
                p2 = _inv_logit(beta2 * (v_mf[6] - v_mf[5]))
            else:
                p2 = _inv_logit(beta2 * (v_mf[4] - v_mf[3]))
            log_lik += _bernoulli_lpmf(level2_choice_01, p2)
            v_mf[2 + c2] += a2 * (r - v_mf[2 + c2])
            v_mf[c1] += lam * a1 * (r - v_mf[2 + c2])
        out[subj] = -log_lik
    return pd.Series(out)


def to_hbayesdm(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical two-step (no missing values) -> hBayesDM columns."""
    return pd.DataFrame(
        {
            "subjID": df["subject"].astype(str),
            "level1_choice": df["choice1"].astype(int) + 1,
            "level2_choice": (2 * df["state2"] + df["choice2"]).astype(int) + 1,
            "reward": df["reward"],
        }
    )


def random_two_step(n_subjects=3, n_trials=60, seed=0, missing=0.0) -> pd.DataFrame:
    """Random two-step data with real-valued rewards, optional missing choices."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for t in range(n_trials):
            c1 = float(rng.integers(2))
            c2 = float(rng.integers(2))
            if rng.uniform() < missing:
                c1 = np.nan
            elif rng.uniform() < missing:
                c2 = np.nan
            rows.append(
                dict(
                    subject=f"s{s}",
                    trial=t + 1,
                    choice1=c1,
                    state2=float(rng.integers(2)),
                    choice2=c2,
                    reward=float(rng.uniform(-1, 2)),
                )
            )
    return pd.DataFrame(rows)


def _log_inv_logit(x):
    """log(1 / (1 + e^-x)) without overflow for large |x|."""
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def daw_hybrid_oracle(df: pd.DataFrame, *, a1, beta1, a2, beta2, pi, w, lam, trans_prob=0.7) -> pd.Series:
    """hBayesDM ts_par7 on canonical two-step data, with dopasoft's rules for missing choices
    (docs/maths.md): a missing ``choice1`` skips the trial (the perseveration keeps the last choice
    made); a missing ``choice2`` counts stage 1's choice (and makes it the perseveration's previous
    choice) but makes no update, since the stage-1 target ``Q_MF(state2, choice2)`` is undefined.

    Plain 0-based rewrite of the Stan model block: ``q[0]`` first stage, ``q[1 + state2]`` second.
    """
    out = {}
    for subj, g in df.groupby("subject", sort=False):
        g = g.sort_values("trial")
        q = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
        prev = None
        nll = 0.0
        for row in g.itertuples():
            if pd.isna(row.choice1):
                continue
            c1 = int(row.choice1)
            m1, m2 = max(q[1]), max(q[2])
            mb = [trans_prob * m1 + (1 - trans_prob) * m2, (1 - trans_prob) * m1 + trans_prob * m2]
            h = [w * mb[b] + (1 - w) * q[0][b] for b in range(2)]
            x = beta1 * (h[1] - h[0]) + (0.0 if prev is None else pi * (2 * prev - 1))
            nll -= _log_inv_logit(x if c1 == 1 else -x)
            prev = c1
            if pd.isna(row.choice2):
                continue
            s, c2, r = 1 + int(row.state2), int(row.choice2), float(row.reward)
            q[0][c1] += a1 * (q[s][c2] - q[0][c1])
            x = beta2 * (q[s][1] - q[s][0])
            nll -= _log_inv_logit(x if c2 == 1 else -x)
            q[s][c2] += a2 * (r - q[s][c2])
            q[0][c1] += lam * a1 * (r - q[s][c2])
        out[subj] = nll
    return pd.Series(out)
