"""hBayesDM task files (ts, bandit2arm, prl, bandit4arm, gng): recognised from their columns, read into
dopasoft data, fitted end to end; likelihoods against a plain per-trial oracle on the files' own columns.

The fixtures are small files in hBayesDM's layout (tab-separated; the column names and orders of
hBayesDM's ``extdata/<task>_exampleData.txt``), written here by :func:`write_task_file`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import dopasoft.fitting as F
from dopasoft.cli import main

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

# hBayesDM's column orders (commons/extdata/*_exampleData.txt)
LAYOUTS = {
    "ts": [
        "subjID",
        "trial",
        "level1_choice",
        "level2_choice",
        "reward",
        "A1prob",
        "A2prob",
        "B1prob",
        "B2prob",
    ],
    "bandit2arm": ["subjID", "trial", "choice", "outcome"],
    "prl": ["subjID", "trial", "choice", "outcome"],
    "bandit4arm": ["subjID", "gain", "loss", "choice"],
    "gng": ["trialNum", "cue", "keyPressed", "success", "congruentOutcome", "outcome", "subjID"],
}


def task_table(task, n_subjects=2, n_trials=60, seed=0, missing=0.0):
    """A DataFrame in the layout of hBayesDM's example file of ``task`` (1-based codes as there)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        subj = 101 + s
        for t in range(1, n_trials + 1):
            if task == "ts":
                p = np.round(rng.uniform(0.25, 0.75, 4), 5)
                row = dict(
                    subjID=subj,
                    trial=t,
                    level1_choice=int(rng.integers(1, 3)),
                    level2_choice=int(rng.integers(1, 5)),
                    reward=int(rng.integers(2)),
                    A1prob=p[0],
                    A2prob=p[1],
                    B1prob=p[2],
                    B2prob=p[3],
                )
            elif task in ("bandit2arm", "prl"):
                row = dict(
                    subjID=subj, trial=t, choice=int(rng.integers(1, 3)), outcome=int(rng.choice([-1, 1]))
                )
            elif task == "bandit4arm":
                row = dict(
                    subjID=subj,
                    gain=int(rng.integers(2)),
                    loss=-int(rng.integers(2)),
                    choice=int(rng.integers(1, 4 if s == 0 else 5)),  # subject 101 never picks arm 4
                )
            else:  # gng: cue 1 go-to-win, 2 go-to-avoid, 3 nogo-to-win, 4 nogo-to-avoid
                cue = int(rng.integers(1, 5))
                key = int(rng.integers(2))
                success = int(key == (cue <= 2))
                win = cue in (1, 3)
                outcome = (1 if success else 0) if win else (0 if success else -1)
                row = dict(
                    trialNum=t,
                    cue=cue,
                    keyPressed=key,
                    success=success,
                    congruentOutcome=int(rng.integers(1, 3)),
                    outcome=outcome,
                    subjID=subj,
                )
            rows.append(row)
    df = pd.DataFrame(rows)[LAYOUTS[task]]
    if missing:
        col = {"ts": "level1_choice", "gng": "keyPressed"}.get(task, "choice")
        df[col] = df[col].astype(object)
        df.loc[rng.uniform(size=len(df)) < missing, col] = ""
    return df


def write_task_file(path, task, **kw):
    """Write :func:`task_table` as hBayesDM writes its files: tab-separated, header, no index."""
    task_table(task, **kw).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture
def task_file(tmp_path):
    def make(task, **kw):
        return write_task_file(tmp_path / f"{task}_exampleData.txt", task, **kw)

    return make


def _lse(x):
    m = max(x)
    return m + math.log(sum(math.exp(v - m) for v in x))


def one_step_oracle(raw, task, *, alpha, tau, kappa=0.0):
    """Per-trial soft Q-learning read straight off an hBayesDM table (1-based codes, its column names).

    Per trial in a state s (gng: the cue; otherwise one state) with choice a and reward r:
    P(a) = softmax over Q(s, .)/tau + kappa [b = previous choice in s]; Q(s, a) += alpha (r - Q(s, a)).
    """
    out = {}
    for subj, g in raw.groupby("subjID", sort=False):
        if task == "gng":
            g = g.sort_values("trialNum", kind="stable")
        n_actions = {"bandit2arm": 2, "prl": 2, "bandit4arm": 4, "gng": 2}[task]
        q = {}
        last = {}
        nll = 0.0
        for row in g.itertuples():
            if task == "gng":
                s, a, r = int(row.cue), row.keyPressed, float(row.outcome)
                a = None if a == "" or pd.isna(a) else int(a)
            else:
                s = 1
                a = None if row.choice == "" or pd.isna(row.choice) else int(row.choice) - 1
                r = float(row.gain + row.loss) if task == "bandit4arm" else float(row.outcome)
            if a is None:
                continue
            qs = q.setdefault(s, [0.0] * n_actions)
            logits = [qs[b] / tau + (kappa if last.get(s) == b else 0.0) for b in range(n_actions)]
            nll -= logits[a] - _lse(logits)
            qs[a] += alpha * (r - qs[a])
            last[s] = a
        out[str(subj)] = nll
    return pd.Series(out)


@pytest.mark.parametrize("task", ["bandit2arm", "prl", "bandit4arm", "gng"])
def test_each_file_is_read_as_step_data_with_its_mapping(task, task_file):
    path = task_file(task, n_trials=30, seed=1)
    raw = pd.read_csv(path, sep="\t")
    data = F.read_hbayesdm(path)
    assert data.attrs["task"] == "steps" and data.attrs["hbayesdm_task"] in (task, "bandit2arm")
    assert data["terminal"].all() and len(data) == len(raw)
    assert data["subject"].tolist() == raw["subjID"].astype(str).tolist()
    if task == "gng":
        assert data["state"].tolist() == (raw["cue"] - 1).tolist()
        assert data["choice"].tolist() == raw["keyPressed"].tolist()
        assert data["reward"].tolist() == raw["outcome"].tolist()
        assert data["trial"].tolist() == raw["trialNum"].tolist()
    else:
        assert (data["state"] == 0).all()
        assert data["choice"].tolist() == (raw["choice"] - 1).tolist()
        rew = raw["gain"] + raw["loss"] if task == "bandit4arm" else raw["outcome"]
        assert data["reward"].tolist() == rew.tolist()
        trial = raw.groupby("subjID").cumcount() + 1 if task == "bandit4arm" else raw["trial"]
        assert data["trial"].tolist() == trial.tolist()
    tr = F.to_transitions(data)
    expect = {"gng": (4, 2), "bandit4arm": (1, 4)}.get(task, (1, 2))
    assert (tr.n_states, tr.n_actions) == expect
    # read_choices recognises the same file, and its CSV and Parquet copies
    pd.testing.assert_frame_equal(F.read_choices(path), data)
    for suffix in (".csv", ".parquet"):
        copy = path.with_suffix(suffix)
        if suffix == ".csv":
            raw.to_csv(copy, index=False)
        else:
            raw.assign(subjID=raw["subjID"].astype(str)).to_parquet(copy)
        pd.testing.assert_frame_equal(F.read_choices(copy), data)


def test_a_never_chosen_arm_is_still_an_arm(task_file):
    data = F.read_hbayesdm(task_file("bandit4arm", n_trials=40, seed=2))
    one = data[data["subject"] == "101"]
    assert set(one["choice"]) == {0.0, 1.0, 2.0}
    assert F.to_transitions(one).n_actions == 4


@pytest.mark.parametrize("task", ["bandit2arm", "prl", "bandit4arm", "gng"])
@pytest.mark.parametrize("kappa", [0.0, 0.6])
def test_likelihood_equals_the_plain_oracle_on_the_file_columns(task, kappa, task_file):
    path = task_file(task, n_trials=80, seed=3, missing=0.05)
    raw = pd.read_csv(path, sep="\t", keep_default_na=False, dtype={"subjID": str})
    data = F.read_hbayesdm(path)
    model = F.get_model("soft-q-lambda", kappa=kappa != 0.0)
    p = {"alpha": 0.35, "tau": 0.45, "lam": 0.8, "kappa": kappa}
    got = F.negative_log_likelihood(data, model, {k: v for k, v in p.items() if k in model.param_names})
    ref = one_step_oracle(raw, task, alpha=0.35, tau=0.45, kappa=kappa)
    np.testing.assert_allclose(
        got.to_numpy(), ref.loc[got.index.astype(str)].to_numpy(), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize(
    "task,model",
    [
        ("ts", "daw-hybrid"),
        ("ts", "soft-q-lambda"),
        ("bandit2arm", "soft-q"),
        ("prl", "soft-q"),
        ("bandit4arm", "soft-q"),
        ("gng", "soft-q"),
    ],
)
def test_read_then_fit_end_to_end(task, model, task_file):
    data = F.read_hbayesdm(task_file(task, n_subjects=2, n_trials=60, seed=4))
    res = F.fit(data, model, n_starts=1)
    assert res.params["subject"].tolist() == ["101", "102"]
    assert np.isfinite(res.params["nll"]).all()
    # the fitted NLL is no worse than at the start of the optimiser
    m = F.get_model(model)
    start = {p.name: float(np.mean(p.start)) for p in m.params}
    assert (res.params["nll"].to_numpy() <= F.negative_log_likelihood(data, m, start).to_numpy() + 1e-9).all()


def test_ts_files_still_give_canonical_two_step_data(task_file):
    data = F.read_hbayesdm(task_file("ts", n_trials=20, seed=5))
    assert data.attrs["task"] == "two-step"
    assert list(data.columns[:6]) == ["subject", "trial", "choice1", "state2", "choice2", "reward"]
    steps = F.two_step_to_steps(data)
    m = F.get_model("soft-q-lambda")
    p = dict(alpha=0.3, tau=0.4, lam=0.9)
    np.testing.assert_array_equal(
        F.negative_log_likelihood(data, m, p), F.negative_log_likelihood(steps, m, p)
    )


def test_cli_fits_an_hbayesdm_gng_file(task_file, tmp_path):
    path = task_file("gng", n_subjects=2, n_trials=50, seed=6)
    out = tmp_path / "fits.csv"
    assert main(["fit", str(path), "--model", "soft-q", "--n-starts", "1", "--out", str(out), "--quiet"]) == 0
    res = pd.read_csv(out, dtype={"subject": str})
    ref = F.fit(F.read_hbayesdm(path), "soft-q", n_starts=1).params
    np.testing.assert_allclose(res["nll"].to_numpy(), ref["nll"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "columns,pattern",
    [
        (["trial", "choice", "gain", "loss", "subjID"], "looks like task igt"),
        (
            ["ExperimentName", "subjID", "block", "trial", "choice", "outcome"],
            "looks like task prl_multipleB",
        ),
        (["subjID", "choice", "trial", "outcome", "bluePunish", "orangePunish"], "looks like task alt"),
        (["subjID", "choice", "outcome"], "not a supported hBayesDM task file"),
        (["subjID", "type", "choice", "reward"], "not a supported hBayesDM task file"),
    ],
)
def test_other_hbayesdm_files_get_an_error_naming_the_supported_tasks(columns, pattern, tmp_path):
    path = tmp_path / "other.txt"
    pd.DataFrame([[1] * len(columns)], columns=columns).to_csv(path, sep="\t", index=False)
    for reader in (F.read_hbayesdm, F.read_choices):
        with pytest.raises(ValueError, match=pattern) as err:
            reader(path)
        msg = str(err.value)
        assert "\n" not in msg
        for task in ("ts (", "bandit2arm / prl (", "bandit4arm (", "gng ("):
            assert task in msg


@pytest.mark.parametrize(
    "task,column,value,pattern",
    [
        ("bandit2arm", "choice", 0, r"subject '101', row 3, column 'choice': 0 is not one of \[1, 2\]"),
        ("bandit4arm", "choice", 5, r"subject '101', row 3, column 'choice': 5 is not one of \[1, 2, 3, 4\]"),
        ("gng", "cue", 5, r"subject '101', row 3, column 'cue': 5 is not one of \[1, 2, 3, 4\]"),
        ("gng", "keyPressed", 2, r"subject '101', row 3, column 'keyPressed': 2 is not one of \[0, 1\]"),
        ("prl", "outcome", "win", r"subject '101', row 3, column 'outcome': 'win' is not a number"),
        ("bandit4arm", "loss", "x", r"subject '101', row 3, column 'loss': 'x' is not a number"),
    ],
)
def test_bad_values_name_subject_row_and_hbayesdm_column(task, column, value, pattern, tmp_path):
    df = task_table(task, n_subjects=1, n_trials=5)
    df[column] = df[column].astype(object)
    df.loc[2, column] = value
    path = tmp_path / "bad.txt"
    df.to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=pattern):
        F.read_hbayesdm(path)


def test_ts_files_keep_their_own_trial_numbers_when_they_increase(tmp_path):
    """The replayed signals must join the lab's trial numbers; the order stays the file's (as hBayesDM)."""
    from dopasoft.fitting.hbayesdm import hbayesdm_to_canonical

    raw = pd.DataFrame(
        {
            "subjID": [1, 1, 1, 2, 2],
            "trial": [2, 3, 7, 1, 2],
            "level1_choice": [1, 2, 1, 2, 2],
            "level2_choice": [1, 4, 2, 3, 4],
            "reward": [1.0, 0.0, 1.0, 0.0, 1.0],
        }
    )
    assert hbayesdm_to_canonical(raw)["trial"].tolist() == [2, 3, 7, 1, 2]
    shuffled = raw.assign(trial=[3, 2, 7, 1, 2])  # not increasing: the row order, never a re-sort
    out = hbayesdm_to_canonical(shuffled)
    assert out["trial"].tolist() == [1, 2, 3, 1, 2] and out["choice1"].tolist() == [0, 1, 0, 1, 1]
    params = dict(alpha=0.3, tau=0.4, lam=0.5)
    a = F.negative_log_likelihood(hbayesdm_to_canonical(raw), "soft-q-lambda", params)
    b = F.negative_log_likelihood(out, "soft-q-lambda", params)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
