"""The step format (docs/fitting.md, "The step format"): validation, likelihood against a plain oracle,
two-step and bandit data as its special cases, reading files and ``dopasoft fit``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import random_two_step
from hypothesis import event, given, settings
from hypothesis import strategies as st

import dopasoft.fitting as F
from dopasoft.cli import main

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

TRACES = {
    "soft-q-lambda": "tree-backup",
    "soft-q-lambda-on-policy": "on-policy",
    "soft-q-lambda-uncorrected": "uncorrected",
}


def _lse(x):
    m = max(x)
    return m + math.log(sum(math.exp(v - m) for v in x))


def step_oracle(
    df,
    *,
    alpha,
    tau,
    lam,
    kappa=0.0,
    trace="tree-backup",
    gamma=1.0,
    alpha2=None,
    tau2=None,
    replacing=False,
    n_states,
    n_actions,
    stage,
):
    """Soft Q(lambda) on step rows, one step at a time, written from docs/maths.md §1.2 and docs/fitting.md.

    Each step uses its state's stage values of alpha and tau (stage 1: ``alpha2``/``tau2``) for its policy,
    the soft value of the next state and every update it makes; ``kappa`` is added to the logit of the
    previous choice made in the same stage-0 state. A missed choice: no likelihood, no update, traces
    cleared; the trial goes on. ``df`` rows are in step order within each trial, trials in order.
    """
    out = {}
    for subj, g in df.groupby("subject", sort=False):
        rows = list(g.itertuples())
        q = [[0.0] * n_actions for _ in range(n_states)]
        e = [[0.0] * n_actions for _ in range(n_states)]
        last = {}
        nll = 0.0
        for i, row in enumerate(rows):
            s, term = int(row.state), bool(row.terminal)
            if pd.isna(row.choice):
                e = [[0.0] * n_actions for _ in range(n_states)]
                continue
            a, r = int(row.choice), float(row.reward)
            al = alpha if stage[s] == 0 or alpha2 is None else alpha2
            ta = tau if stage[s] == 0 or tau2 is None else tau2
            logits = [
                q[s][b] / ta + (kappa if stage[s] == 0 and last.get(s) == b else 0.0)
                for b in range(n_actions)
            ]
            nll -= logits[a] - _lse(logits)
            z = [q[s][b] / ta for b in range(n_actions)]
            pi = [math.exp(v - _lse(z)) for v in z]
            if term:
                v_next = 0.0
            else:
                s2 = int(rows[i + 1].state)
                v_next = ta * (_lse([q[s2][b] / ta for b in range(n_actions)]) - math.log(n_actions))
            delta = r + gamma * v_next - q[s][a]
            if trace == "on-policy":
                dbar = r + gamma * v_next - sum(pi[b] * q[s][b] for b in range(n_actions))
                decay, earlier = gamma * lam, dbar
            else:
                decay = gamma * lam * (pi[a] if trace == "tree-backup" else 1.0)
                earlier = delta
            for x in range(n_states):
                for b in range(n_actions):
                    e[x][b] *= decay
            if trace == "on-policy":
                for x in range(n_states):
                    for b in range(n_actions):
                        q[x][b] += al * earlier * e[x][b]
                q[s][a] += al * delta
                e[s][a] = 1.0 if replacing else e[s][a] + 1.0
            else:
                e[s][a] = 1.0 if replacing else e[s][a] + 1.0
                for x in range(n_states):
                    for b in range(n_actions):
                        q[x][b] += al * delta * e[x][b]
            last[s] = a
            if term:
                e = [[0.0] * n_actions for _ in range(n_states)]
        out[subj] = nll
    return pd.Series(out)


def random_steps(n_subjects=2, n_trials=40, seed=0, missing=0.1):
    """Trials of 1-3 steps: a start state 0 or 1, then states 2-3 (with revisits); 3 actions."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for t in range(n_trials):
            n = int(rng.integers(1, 4))
            states = [int(rng.integers(2))] + [int(rng.integers(2, 4)) for _ in range(n - 1)]
            for k, state in enumerate(states):
                choice = float(rng.integers(3)) if rng.uniform() >= missing else np.nan
                rows.append(
                    dict(
                        subject=f"p{s}",
                        trial=t + 1,
                        state=state,
                        choice=choice,
                        reward=float(rng.normal()),
                        terminal=k == n - 1,
                    )
                )
    df = pd.DataFrame(rows)
    # make sure every code is present
    df.loc[0:3, "choice"] = [0.0, 1.0, 2.0, 0.0]
    return df


def _params(model, **values):
    return {k: v for k, v in values.items() if k in model.param_names}


@pytest.mark.parametrize("name", list(TRACES))
@pytest.mark.parametrize("replacing", [False, True])
def test_step_likelihood_matches_plain_oracle(name, replacing):
    df = random_steps(seed=1)
    tr = F.to_transitions(df)
    assert (tr.n_states, tr.n_actions, tr.task) == (4, 3, "steps")
    assert tr.state_stage.tolist() == [0, 0, 1, 1]
    model = F.get_model(
        name,
        kappa=True,
        separate_alpha=True,
        separate_tau=True,
        gamma=0.9,
        trace_mode="replacing" if replacing else "accumulating",
    )
    p = dict(alpha1=0.3, alpha2=0.6, tau1=0.5, tau2=0.8, lam=0.7, kappa=0.9)
    got = F.negative_log_likelihood(df, model, p)
    ref = step_oracle(
        df,
        alpha=0.3,
        alpha2=0.6,
        tau=0.5,
        tau2=0.8,
        lam=0.7,
        kappa=0.9,
        gamma=0.9,
        trace=TRACES[name],
        replacing=replacing,
        n_states=4,
        n_actions=3,
        stage=[0, 0, 1, 1],
    )
    np.testing.assert_allclose(got.to_numpy(), ref.loc[got.index].to_numpy(), rtol=1e-9, atol=1e-9)


def test_missed_choice_mid_trial_clears_the_traces_and_the_trial_goes_on():
    # trial 1: state 0 choice 0 -> state 1 missed -> state 2 choice 1, reward 1; alpha = lam = 1, gamma = 1
    rows = pd.DataFrame(
        {
            "subject": ["a"] * 5,
            "trial": [1, 1, 1, 2, 2],
            "state": [0, 1, 2, 0, 2],
            "choice": [0, np.nan, 1, 0, 1],
            "reward": [0.0, 5.0, 1.0, 0.0, 0.0],
            "terminal": [False, False, True, False, True],
        }
    )
    model = F.get_model("soft-q-lambda-uncorrected")
    nll = F.negative_log_likelihood(rows, model, dict(alpha=1.0, tau=1.0, lam=1.0)).iloc[0]
    # hand-worked: Q(0,0) += 1 * (V(1) - 0) = 0 at step 1; step 2 skipped (its reward unused) and the trace
    # of (0,0) cleared, so the reward of step 3 reaches only Q(2,1) = 1. Choices: 0 in state 0 (p = 1/2),
    # 1 in state 2 (p = 1/2), then 0 in state 0 with Q(0,.) = 0 (p = 1/2), 1 in state 2 with Q(2,.) = (0, 1)
    expected = 3 * math.log(2) - (1 - math.log(1 + math.e))
    assert nll == pytest.approx(expected, abs=1e-12)
    # were the trace kept, Q(0,0) would be 1 after trial 1 and the third choice's probability would change
    assert nll != pytest.approx(2 * math.log(2) - (1 - math.log(1 + math.e)) - (1 - math.log(1 + math.e)))


def _two_step_variants():
    for name in TRACES:
        for opts in (dict(), dict(kappa=True), dict(kappa=True, separate_alpha=True, separate_tau=True)):
            yield name, opts


@pytest.mark.parametrize("name,opts", list(_two_step_variants()))
def test_two_step_as_step_rows_gives_the_identical_likelihood(name, opts):
    two = random_two_step(n_subjects=3, n_trials=50, seed=5, missing=0.15)
    assert two["choice1"].isna().any() and two["choice2"].isna().any()
    steps = F.two_step_to_steps(two)
    assert steps.attrs["task"] == "steps" and len(steps) == 2 * two["choice1"].notna().sum()
    tr_two, tr_steps = F.to_transitions(two), F.to_transitions(steps)
    for name_ in (
        "state",
        "action",
        "reward",
        "next_state",
        "terminal",
        "is_choice",
        "n_steps",
        "state_stage",
    ):
        np.testing.assert_array_equal(getattr(tr_two, name_), getattr(tr_steps, name_))
    model = F.get_model(name, **opts)
    p = dict(alpha=0.4, alpha1=0.4, alpha2=0.7, tau=0.3, tau1=0.3, tau2=0.6, lam=0.8, kappa=-0.6)
    a = F.negative_log_likelihood(two, model, _params(model, **p))
    b = F.negative_log_likelihood(steps, model, _params(model, **p))
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert np.isfinite(a).all()


@pytest.mark.parametrize("name", list(TRACES))
def test_two_step_as_step_rows_gives_the_identical_fit(name):
    two = random_two_step(n_subjects=2, n_trials=60, seed=6, missing=0.1)
    model = F.get_model(name, kappa=True, separate_alpha=True, separate_tau=True)
    a = F.fit(two, model, n_starts=1, seed=3).params
    b = F.fit(F.two_step_to_steps(two), model, n_starts=1, seed=3).params
    cols = list(model.param_names) + ["nll", "aic", "bic", "n_choices"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_bandit_format_is_the_one_state_case():
    rng = np.random.default_rng(2)
    bandit = pd.DataFrame(
        {
            "subject": np.repeat(["x", "y"], 60),
            "trial": np.tile(np.arange(1, 61), 2),
            "choice": rng.integers(3, size=120).astype(float),
            "reward": rng.normal(size=120),
        }
    )
    bandit.loc[[5, 70], "choice"] = np.nan
    steps = bandit.assign(state=0, terminal=True)
    for name in ("soft-q", "soft-q-lambda"):
        model = F.get_model(name, kappa=True)
        p = _params(model, alpha=0.3, tau=0.4, lam=0.5, kappa=0.8)
        a = F.negative_log_likelihood(bandit, model, p)
        b = F.negative_log_likelihood(steps, model, p)
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
        ref = step_oracle(
            F.validate_steps(steps),
            alpha=0.3,
            tau=0.4,
            lam=0.5,
            kappa=0.8,
            n_states=1,
            n_actions=3,
            stage=[0],
        )
        np.testing.assert_allclose(a.to_numpy(), ref.to_numpy(), rtol=1e-9)
    fa = F.fit(bandit, "soft-q", n_starts=1).params
    fb = F.fit(steps, "soft-q", n_starts=1).params
    pd.testing.assert_frame_equal(fa[["alpha", "tau", "nll"]], fb[["alpha", "tau", "nll"]])


def test_a_state_that_starts_some_trials_and_follows_in_others_is_stage_0():
    rows = pd.DataFrame(
        {
            "subject": ["a", "a", "a", "b", "b"],
            "trial": [1, 1, 1, 1, 1],
            "state": [0, 1, 2, 1, 3],
            "choice": [0, 1, 0, 1, 0],
            "reward": 0.0,
            "terminal": [False, False, True, False, True],
        }
    )
    tr = F.to_transitions(rows)
    # 0 starts a trial; 1 follows in subject a but starts subject b's trial; 2 and 3 only follow
    assert tr.state_stage.tolist() == [0, 0, 1, 1]
    assert tr.next_state[0, :3].tolist() == [1, 2, -1]
    # more states than present: the unseen one counts as stage 0 (no trial reaches it)
    assert F.to_transitions(rows, n_states=5).state_stage.tolist() == [0, 0, 1, 1, 0]


def test_hybrid_models_refuse_step_data():
    steps = F.two_step_to_steps(random_two_step(n_subjects=1, n_trials=10))
    with pytest.raises(ValueError, match="needs two-step data, got steps data"):
        F.negative_log_likelihood(steps, "daw-hybrid", dict(a1=0.5))


def _rows(**changes):
    df = pd.DataFrame(
        {
            "subject": ["s1"] * 4 + ["s2"] * 2,
            "trial": [1, 1, 2, 2, 1, 1],
            "state": [0, 1, 0, 2, 0, 1],
            "choice": [0, 1, 1, 0, 1, 0],
            "reward": [0.0, 1.0, 0.0, 0.5, 0.0, 1.0],
            "terminal": [False, True, False, True, False, True],
        },
        index=pd.RangeIndex(1, 7),
    )
    for col, (row, value) in changes.items():
        df[col] = df[col].astype(object)
        df.loc[row, col] = value
    return df


@pytest.mark.parametrize(
    "changes,pattern",
    [
        (dict(state=(2, 1.5)), r"subject 's1', row 2, column 'state': 1.5 is not an integer >= 0"),
        (dict(state=(3, -1)), r"subject 's1', row 3, column 'state': -1 is not an integer >= 0"),
        (dict(state=(4, np.nan)), r"subject 's1', row 4, column 'state': missing"),
        (dict(choice=(5, -2)), r"subject 's2', row 5, column 'choice': -2 is not an integer >= 0"),
        (dict(reward=(6, "lots")), r"subject 's2', row 6, column 'reward': 'lots' is not a number"),
        (dict(choice=(6, 1), reward=(6, np.nan)), r"subject 's2', row 6, column 'reward': missing although"),
        (dict(terminal=(2, "maybe")), r"subject 's1', row 2, column 'terminal': 'maybe' is not true/false"),
        (dict(terminal=(2, np.nan)), r"subject 's1', row 2, column 'terminal': missing"),
        (
            dict(terminal=(6, False)),
            r"subject 's2', row 6, column 'terminal': false on the last row of trial 1",
        ),
        (
            dict(terminal=(3, True)),
            r"subject 's1', row 3, column 'terminal': true, but trial 2 continues at row 4",
        ),
        (dict(subject=(4, np.nan)), r"row 4, column 'subject': missing subject"),
    ],
)
def test_validation_names_subject_row_and_column(changes, pattern):
    bad = _rows(**changes)
    with pytest.raises(ValueError, match=pattern):
        F.to_transitions(bad)


def test_trials_out_of_order_are_sorted_and_a_trial_split_by_another_is_refused():
    df = _rows()
    shuffled = pd.concat([df.loc[[3, 4, 5, 6, 1, 2]]])
    tr_a, tr_b = F.to_transitions(df), F.to_transitions(shuffled)
    np.testing.assert_array_equal(tr_a.state, tr_b.state)
    np.testing.assert_array_equal(tr_a.action, tr_b.action)
    split = df.loc[[1, 3, 2, 4, 5, 6]]
    with pytest.raises(ValueError, match=r"subject 's1', row 2, column 'trial': trial 1 continues here"):
        F.validate_steps(split)


def test_a_table_without_rows_is_refused_by_name():
    with pytest.raises(ValueError, match="steps data: no rows"):
        F.to_transitions(_rows().iloc[:0])


def test_without_terminal_every_row_is_a_trial():
    df = _rows().drop(columns="terminal")
    with pytest.raises(ValueError, match=r"duplicated trial 1 .*needs a 'terminal' column"):
        F.to_transitions(df)


def test_code_gaps_are_errors_naming_code_subject_and_row():
    df = _rows(choice=(4, 1000000))
    with pytest.raises(ValueError, match=r"choice 1000000 at subject 's1', row 4: codes must run 0..K-1"):
        F.to_transitions(df)
    df = _rows(state=(6, 7))
    with pytest.raises(
        ValueError, match=r"state 7 at subject 's2', row 6: codes must run 0..K-1.*0, 1, 2, 7"
    ):
        F.to_transitions(df)
    # explicit numbers: unseen codes are allowed below them, codes beyond are named
    tr = F.to_transitions(_rows(), n_actions=4, n_states=6)
    assert (tr.n_actions, tr.n_states) == (4, 6)
    with pytest.raises(
        ValueError, match=r"state 2 at subject 's1', row 4: codes must run 0..1 \(n_states=2\)"
    ):
        F.to_transitions(_rows(), n_states=2)
    with pytest.raises(ValueError, match=r"n_states must be an integer >= 1, got 0"):
        F.to_transitions(_rows(), n_states=0)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_read_choices_reads_step_files(tmp_path, suffix):
    df = _rows()
    df["terminal"] = ["FALSE", "TRUE", "no", "yes", "0", "1"]
    df["subject"] = ["007", "007", "007", "007", "NA", "NA"]
    path = tmp_path / f"steps{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    got = F.read_choices(path)
    assert got.attrs["task"] == "steps"
    assert got["terminal"].tolist() == [False, True, False, True, False, True]
    assert got["subject"].tolist()[0] == "007" and got["subject"].tolist()[-1] == "NA"
    assert F.to_transitions(got).n_choices.tolist() == [4, 2]


def test_cli_fits_step_files(tmp_path):
    steps = F.two_step_to_steps(random_two_step(n_subjects=2, n_trials=40, seed=9))
    path = tmp_path / "steps.csv"
    steps.to_csv(path, index=False)
    out = tmp_path / "fits.csv"
    argv = [
        "fit",
        str(path),
        "--model",
        "soft-q-lambda+kappa",
        "--n-starts",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    res = pd.read_csv(out, dtype={"subject": str})
    ref = F.fit(steps, F.get_model("soft-q-lambda", kappa=True), n_starts=1).params
    np.testing.assert_allclose(res["nll"].to_numpy(), ref["nll"].to_numpy(), rtol=1e-12)
    assert res["subject"].tolist() == ["s0", "s1"]


def test_cli_names_the_bad_row_of_a_step_file(tmp_path, capsys):
    df = _rows(terminal=(6, False))
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    rc = main(["fit", str(path), "--model", "soft-q", "--out", str(tmp_path / "f.csv"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "row 6, column 'terminal'" in err[0]


def test_cli_refuses_stage_2_parameters_without_stage_2_states(tmp_path, capsys):
    bandit = _rows().assign(terminal=True, trial=range(1, 7))
    path = tmp_path / "one_stage.csv"
    bandit.to_csv(path, index=False)
    argv = [
        "fit",
        str(path),
        "--model",
        "soft-q+separate_alpha",
        "--out",
        str(tmp_path / "f.csv"),
        "--quiet",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no second-stage state" in err[0]


ODD = st.sampled_from([np.nan, np.inf, -1, 1.5, "x", "", 10**6, 2, 0, 1, "yes", "FALSE", True])
STEP_COLS = ("subject", "trial", "state", "choice", "reward", "terminal")


def _truth(v):
    """Plain reading of a terminal cell: the test's own rule (true/false, 1/0, yes/no)."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | float | np.integer | np.floating) and v in (0, 1):
        return bool(v)
    return {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}.get(
        str(v).strip().lower()
    )


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(cells=st.lists(st.tuples(st.integers(0, 29), st.sampled_from(STEP_COLS), ODD), min_size=1, max_size=3))
def test_fuzz_step_cells_error_by_name_or_the_oracle_number(cells):
    df = random_steps(n_subjects=2, n_trials=6, seed=4, missing=0.1).iloc[:30].astype(object)
    df = df[df.groupby(["subject", "trial"])["terminal"].transform("any")]  # whole trials only
    df.index = pd.RangeIndex(1, len(df) + 1)
    for row, col, val in cells:
        df.loc[1 + row % len(df), col] = val
    try:
        tr = F.to_transitions(df)
    except ValueError as err:
        msg = str(err)
        assert "\n" not in msg and ("column '" in msg or "codes must run" in msg or "choice" in msg), msg
        event("refused by name")
        return
    event("accepted: NLL checked against the oracle")
    clean = pd.DataFrame(
        {
            "subject": df["subject"],
            "trial": pd.to_numeric(df["trial"]),
            "state": pd.to_numeric(df["state"]),
            "choice": pd.to_numeric(df["choice"].replace("", np.nan)),
            "reward": pd.to_numeric(df["reward"].replace("", np.nan)),
            "terminal": [_truth(v) for v in df["terminal"]],
        }
    )
    order = {s: k for k, s in enumerate(pd.unique(clean["subject"]))}
    clean = clean.assign(_k=clean["subject"].map(order)).sort_values(["_k", "trial"], kind="stable")
    starts = clean.groupby(["subject", "trial"], sort=False).head(1).index
    stage = [1] * tr.n_states
    for s in set(clean.loc[starts, "state"].astype(int)) | (
        set(range(tr.n_states)) - set(clean["state"].astype(int))
    ):
        stage[s] = 0
    assert tr.state_stage.tolist() == stage
    p = dict(alpha=0.3, tau=0.6, lam=0.7, kappa=0.4)
    got = F.negative_log_likelihood(tr, F.get_model("soft-q-lambda", kappa=True), p)
    want = step_oracle(clean, **p, n_states=tr.n_states, n_actions=tr.n_actions, stage=stage)
    np.testing.assert_allclose(got.to_numpy(), want.loc[list(got.index)].to_numpy(), rtol=1e-10, atol=1e-10)
