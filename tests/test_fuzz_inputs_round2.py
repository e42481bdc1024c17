"""Fuzzing, round 2: soft operators' inputs, infinite ML estimates, sizes that cannot fit in memory, and
messages in the user's own terms.

Each class of bad input found by a fuzz corpus has cases here, checked against a plain oracle written in
this file (the formula spelled out) or the exact message:

1. the soft operators (``dopasoft.soft``, ``dopasoft.returns``) refuse a prior that is not a probability
   distribution of the right shape, a bad ``tau`` and non-finite values, and give the plain formula's
   numbers for every valid input;
2. an ML estimate that runs off to a bound no estimate can take (τ → 0, β → ∞) is flagged, whatever the
   bounds, and well-behaved subjects are not;
3. every function and command that allocates in proportion to its sizes estimates the memory first and
   refuses with the estimate (these tests never allocate: the sizes would not fit in any machine);
4. messages name the user's file columns and options, and format numbers without numpy reprs.

Hypothesis runs derandomized with a fixed example budget, as in ``test_fuzz_inputs.py``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dopasoft as ds
import dopasoft._memory
import dopasoft.fitting as F
from dopasoft.fitting.hbayesdm import hbayesdm_to_data

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALUES = st.floats(-20.0, 20.0, allow_nan=False)
WEIGHTS = st.one_of(st.just(0.0), st.floats(0.01, 10.0))

# ---------------------------------------------------------------------------------------------------------
# 1. Soft operators validate their prior, tau and values (dopasoft/soft.py, dopasoft/returns.py)
# ---------------------------------------------------------------------------------------------------------


def _plain_soft(q_row, tau, p_row):
    """V, pi and KL of one state, written out from the definitions (docs/maths.md)."""
    m = max(q for q, p in zip(q_row, p_row, strict=True) if p > 0)
    s = sum(p * math.exp((q - m) / tau) for q, p in zip(q_row, p_row, strict=True))
    v = m + tau * math.log(s)
    pi = [p * math.exp((q - v) / tau) for q, p in zip(q_row, p_row, strict=True)]
    kl = sum(a * math.log(a / p) for a, p in zip(pi, p_row, strict=True) if a > 0)
    return v, pi, kl


@st.composite
def _q_and_prior(draw, per_state=None):
    n_a = draw(st.integers(1, 5))
    n_s = draw(st.integers(1, 4))
    q = np.array(
        draw(st.lists(st.lists(VALUES, min_size=n_a, max_size=n_a), min_size=n_s, max_size=n_s)), dtype=float
    )
    table = draw(st.booleans()) if per_state is None else per_state
    rows = n_s if table else 1
    w = np.array(draw(st.lists(st.lists(WEIGHTS, min_size=n_a, max_size=n_a), min_size=rows, max_size=rows)))
    w[:, draw(st.integers(0, n_a - 1))] += 1.0  # every row allows at least one action
    prior = w / w.sum(axis=1, keepdims=True)
    return q, (prior if table else prior[0]), draw(st.floats(0.05, 20.0))


@FUZZ
@given(_q_and_prior())
def test_valid_priors_give_the_plain_formula(case):
    q, prior, tau = case
    table = prior if prior.ndim == 2 else np.tile(prior, (q.shape[0], 1))
    v = ds.soft_value(q, tau, prior)
    pi = ds.boltzmann_policy(q, tau, prior)
    kl = ds.policy_kl(q, tau, prior)
    term = ds.action_term(q, tau, prior)
    for s in range(q.shape[0]):
        v0, pi0, kl0 = _plain_soft(q[s].tolist(), tau, table[s].tolist())
        assert v[s] == pytest.approx(v0, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(pi[s], pi0, rtol=1e-9, atol=1e-12)
        assert kl[s] == pytest.approx(kl0, rel=1e-7, abs=1e-9)
        np.testing.assert_allclose(term[s], q[s] - v0, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(np.exp(ds.log_policy(q, tau, prior)[s]), pi0, rtol=1e-9, atol=1e-12)


def test_the_corpus_priors_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^prior sums to 1\.4, not 1"):
        ds.soft_value([0.0, 1.0], tau=1.0, prior=[0.7, 0.7])
    with pytest.raises(ValueError, match=r"^prior sums to 1\.4, not 1"):
        ds.policy_kl([0.0, 1.0], tau=1.0, prior=[0.7, 0.7])
    with pytest.raises(
        ValueError, match=r"^prior must have the actions \(2\) on its last axis, got shape \(1,\)"
    ):
        ds.soft_value([0.0, 1.0], tau=1.0, prior=[1.0])
    # the normalised prior's value, for the record: what the caller meant
    assert ds.soft_value([0.0, 1.0], tau=1.0, prior=[0.5, 0.5]) == pytest.approx(
        math.log(0.5 + 0.5 * math.e), abs=1e-15
    )


FUNCS = [ds.soft_value, ds.boltzmann_policy, ds.log_policy, ds.action_term, ds.policy_kl]


@st.composite
def _bad_prior(draw):
    """(q, prior, pattern): a prior that must be refused, and the message that names its fault."""
    n_a = draw(st.integers(2, 4))
    n_s = draw(st.integers(1, 3))
    q = np.zeros((n_s, n_a))
    w = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=n_a, max_size=n_a)))
    good = w / w.sum()
    kind = draw(st.sampled_from(["scaled", "negative", "nan", "inf", "length", "rows", "row-sum"]))
    if kind == "scaled":
        factor = draw(st.one_of(st.floats(0.2, 1 - 1e-6), st.floats(1 + 1e-6, 5.0)))
        p = good * factor
        return q, p, rf"^prior sums to {re.escape(f'{p.sum():.12g}')}, not 1"
    if kind == "negative":
        p = good.copy()
        p[0], p[1] = -0.25, p[1] + p[0] + 0.25  # still sums to 1
        return q, p, r"^prior must be a probability distribution: entry \(0,\) is negative \(-0\.25\)"
    if kind in ("nan", "inf"):
        p = good.copy()
        p[-1] = math.nan if kind == "nan" else math.inf
        return q, p, rf"^prior must be a probability distribution: entry \({n_a - 1},\) is {kind}$"
    if kind == "length":
        m = draw(st.integers(1, 6).filter(lambda k: k != n_a))
        return q, np.full(m, 1.0 / m), rf"^prior must have the actions \({n_a}\) on its last axis"
    if kind == "rows":
        return q, np.tile(good, (n_s + 1, 1)), r"^prior must have shape \(\d+,\) \(one default policy"
    table = np.tile(good, (n_s, 1))
    s = draw(st.integers(0, n_s - 1))
    table[s] *= 1.5
    where = f"row {s}" if n_s > 1 else "row 0"
    return q, table, rf"^prior {re.escape(where)} sums to 1\.5, not 1"


@FUZZ
@given(_bad_prior(), st.sampled_from(FUNCS))
def test_invalid_priors_are_refused_with_one_line(case, func):
    q, prior, pattern = case
    with pytest.raises(ValueError, match=pattern) as err:
        func(q, 1.0, prior)
    assert "\n" not in str(err.value) and "np." not in str(err.value)


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("tau", [0.0, -1.0, math.inf, math.nan, np.float64(math.inf), "x", True])
def test_every_operator_refuses_a_bad_tau(func, tau):
    with pytest.raises(ValueError, match=r"^tau must be a (finite|positive) number") as err:
        func([0.0, 1.0], tau)
    assert "np.float64" not in str(err.value)


@pytest.mark.parametrize("func", FUNCS)
def test_every_operator_refuses_non_finite_values(func):
    with pytest.raises(ValueError, match=r"^q must be finite: entry \(1, 0\) is nan$"):
        func([[0.0, 1.0], [math.nan, 0.0]], 1.0)
    with pytest.raises(ValueError, match=r"^q must be an array of numbers"):
        func([[0.0, 1.0], [0.0]], 1.0)


def test_prior_within_the_tolerance_is_accepted_and_beyond_is_refused():
    ok = np.array([0.5, 0.5 + 5e-10])
    assert ds.soft_value([0.0, 1.0], 1.0, ok) == pytest.approx(math.log(0.5 + 0.5 * math.e), abs=1e-9)
    with pytest.raises(ValueError, match=r"^prior sums to 1\.000000002, not 1"):
        ds.soft_value([0.0, 1.0], 1.0, [0.5, 0.5 + 2e-9])


def test_soft_value_iteration_validates_its_prior_by_state():
    P = np.ones((3, 2, 3)) / 3
    R = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"^prior row 2 sums to 0\.9, not 1"):
        ds.soft_value_iteration(P, R, gamma=0.5, tau=1.0, prior=[[0.5, 0.5], [0.5, 0.5], [0.5, 0.4]])
    with pytest.raises(ValueError, match=r"^prior must have shape \(2,\) .* \(3, 2\), got shape \(2, 2\)"):
        ds.soft_value_iteration(P, R, gamma=0.5, tau=1.0, prior=[[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"^gamma must be in \[0, 1\], got nan"):
        ds.soft_value_iteration(P, R, gamma=math.nan, tau=1.0)


def test_learners_and_operators_share_one_prior_check():
    """The learners refuse exactly what the operators refuse, with the same message."""
    for prior in ([0.7, 0.7], [-0.5, 1.5], [math.nan, 1.0]):
        with pytest.raises(ValueError) as op:
            ds.soft_value([0.0, 1.0], 1.0, prior)
        with pytest.raises(ValueError) as learner:
            ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0, gamma=0.9, prior=prior)
        assert str(op.value) == str(learner.value)


def test_compose_ragged_and_non_numeric_inputs_get_one_line():
    with pytest.raises(
        ValueError,
        match=r"^qs must hold one array of the same shape per task, got shapes "
        r"task 0: \(2,\), task 1: \(3,\)$",
    ):
        ds.compose([[1.0, 2.0], [1.0, 2.0, 3.0]], [1.0, 1.0], tau=1.0)
    with pytest.raises(ValueError, match=r"^qs must hold numbers"):
        ds.compose([["a", "b"], [1.0, 2.0]], [1.0, 1.0], tau=1.0)
    with pytest.raises(ValueError, match=r"^tau must be a finite number > 0 \(the temperature\), got inf$"):
        ds.compose([[1.0], [2.0]], [1.0, 1.0], tau=np.float64(math.inf))


@FUZZ
@given(
    st.lists(st.floats(-10, 10), min_size=1, max_size=5).flatmap(
        lambda r: st.tuples(
            st.just(r),
            st.lists(st.floats(0, 3), min_size=len(r) - 1, max_size=len(r) - 1),
            st.floats(-10, 10),
            st.floats(0, 1),
            st.floats(0.05, 5),
        )
    )
)
def test_soft_n_step_return_matches_the_plain_sum(case):
    r, kl, v_last, gamma, tau = case
    h = len(r)
    plain = r[0] + sum(gamma**k * (r[k] - tau * kl[k - 1]) for k in range(1, h)) + gamma**h * v_last
    assert ds.soft_n_step_return(r, kl, v_last, gamma, tau) == pytest.approx(plain, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: ds.soft_n_step_return([1.0, 2.0], [-0.1], 0.0, 0.9, 1.0), r"^kl_mid\[0\] is -0\.1: a KL"),
        (lambda: ds.soft_n_step_return([1.0, math.nan], [0.1], 0.0, 0.9, 1.0), r"^rewards\[1\] is nan"),
        (lambda: ds.soft_n_step_return([1.0], [], math.inf, 0.9, 1.0), r"^v_last must be finite, got inf$"),
        (lambda: ds.soft_n_step_return([1.0], [], 0.0, 1.5, 1.0), r"^gamma must be in \[0, 1\], got 1\.5$"),
        (lambda: ds.soft_n_step_return([1.0], [], 0.0, 0.9, 0.0), r"^tau must be a finite number > 0"),
        (lambda: ds.soft_n_step_return([], [], 0.0, 0.9, 1.0), r"^rewards must hold at least one entry"),
        (
            lambda: ds.soft_n_step_return([1.0, 2.0], [0.1, 0.2], 0, 0.9, 1),
            r"^kl_mid must have length .* = 1",
        ),
        (
            lambda: ds.soft_tree_backup_return([1.0, 2.0], [0.0], [1.5], [0.0], 0.0, 0.9),
            r"^pi_mid\[0\] is 1\.5",
        ),
        (
            lambda: ds.soft_tree_backup_return([1.0, 2.0], [0.0], [0.5], [0.0], 0.0, -0.1),
            r"^gamma must be in",
        ),
        (lambda: ds.importance_weight([0.5], [0.0]), r"^b_mid\[0\] is 0: a probability in \(0, 1\]$"),
        (lambda: ds.importance_weight([0.5, 0.5], [0.5]), r"^pi_mid and b_mid must have the same shape"),
    ],
)
def test_returns_refuse_bad_segments_by_name(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_tree_backup_and_importance_weight_match_the_plain_recursion():
    r, v, p, q = [1.0, -0.5, 2.0], [0.3, -0.2], [0.25, 0.9], [0.7, 0.1]
    g = r[2] + 0.8 * 1.5
    g = r[1] + 0.8 * (v[1] - p[1] * q[1] + p[1] * g)
    g = r[0] + 0.8 * (v[0] - p[0] * q[0] + p[0] * g)
    assert ds.soft_tree_backup_return(r, v, p, q, 1.5, 0.8) == pytest.approx(g, abs=1e-15)
    assert ds.importance_weight([0.25, 0.9], [0.5, 0.3]) == pytest.approx(0.25 / 0.5 * 0.9 / 0.3, abs=1e-15)


# ---------------------------------------------------------------------------------------------------------
# 2. Infinite ML estimates are reported as such, whatever the bounds (dopasoft/fitting/optimizer.py)
# ---------------------------------------------------------------------------------------------------------

TAU_TO_ZERO = "tau → 0 (β → ∞): the likelihood keeps rising; no finite ML estimate"


def _win_stay_lose_shift(seed, n=120):
    """The deterministic chooser of test_fitting_honest.py: its likelihood keeps rising as tau → 0."""
    rng = np.random.default_rng(seed)
    choices, rewards = [0], []
    for t in range(n):
        r = float(rng.uniform() < (0.8 if choices[-1] == (t // 40) % 2 else 0.2))
        rewards.append(r)
        choices.append(choices[-1] if r else 1 - choices[-1])
    return pd.DataFrame(
        {"subject": f"w{seed}", "trial": np.arange(1, n + 1), "choice": choices[:-1], "reward": rewards}
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bounds", [{"tau": (0.0, np.inf)}, {"tau": (0.0, 10.0)}])
def test_deterministic_chooser_with_unbounded_beta_is_flagged(seed, bounds):
    data = _win_stay_lose_shift(seed)
    row = F.fit(data, "soft-q", n_starts=4, prior={}, bounds=bounds, seed=seed).params.iloc[0]
    assert row["at_bound"] and TAU_TO_ZERO in row["notes"], row["notes"]
    assert np.isnan(row["se_tau"])
    # the note is true: the plain NLL (one likelihood call per point) is no higher 10 and 1000 times
    # closer to tau = 0 than at the reported estimate, and higher back at tau = 0.2
    theta = row[["alpha", "tau"]].astype(float).to_dict()
    nll = [
        float(F.negative_log_likelihood(data, "soft-q", {**theta, "tau": theta["tau"] * f}).iloc[0])
        for f in (1.0, 0.1, 1e-3)
    ]
    assert nll[1] <= nll[0] + 1e-9 * nll[0] and nll[2] <= nll[0] + 1e-9 * nll[0]
    assert float(F.negative_log_likelihood(data, "soft-q", {**theta, "tau": 0.2}).iloc[0]) > nll[0] + 1e-3


@pytest.mark.parametrize("seed", range(3))
def test_deterministic_two_step_chooser_with_unbounded_beta1_is_flagged(seed):
    model = F.get_model("daw-hybrid")
    true = pd.DataFrame(
        {
            "alpha1": [0.9],
            "beta1": [500.0],
            "alpha2": [0.9],
            "beta2": [500.0],
            "pers": [0.0],
            "w": [0.0],
            "lam": [1.0],
        }
    )
    data = F.simulate_choices(model, true, n_trials=150, seed=seed)
    unbounded = {"beta1": (0.0, np.inf), "beta2": (0.0, np.inf)}  # both stages deterministic
    row = F.fit(data, model, n_starts=4, prior={}, bounds=unbounded, seed=seed).params.iloc[0]
    assert row["at_bound"] and np.isnan(row["se_beta1"])
    assert "beta1 → ∞ (τ → 0): the likelihood keeps rising; no finite ML estimate" in row["notes"], row[
        "notes"
    ]


def test_well_behaved_cohort_is_not_flagged():
    """30 simulated subjects with beta in [1, 8] and 200 trials: finite ML estimates, none flagged."""
    model = F.get_model("soft-q")
    rng = np.random.default_rng(11)
    true = pd.DataFrame({"alpha": rng.uniform(0.2, 0.8, 30), "tau": 1 / rng.uniform(1, 8, 30)})
    data = F.simulate_choices(model, true, n_trials=200, seed=rng, task="bandit")
    for bounds in ({"tau": (0.0, np.inf)}, None):
        fitted = F.fit(data, model, n_starts=4, prior={}, bounds=bounds).params
        assert not fitted["at_bound"].any(), fitted.loc[fitted["at_bound"], "notes"].tolist()
        assert not fitted["notes"].str.contains("no finite").any()
        assert fitted["se_tau"].notna().all()


def test_map_fit_of_the_deterministic_chooser_is_finite_and_not_flagged():
    """With the default prior the posterior has a finite mode: nothing runs off, nothing is flagged."""
    row = F.fit(_win_stay_lose_shift(0), "soft-q", n_starts=4).params.iloc[0]
    assert "no finite" not in row["notes"] and 0.03 < row["tau"] < 0.5


# ---------------------------------------------------------------------------------------------------------
# 3. Sizes that cannot fit in memory are refused first, with the estimate (dopasoft/_memory.py)
# ---------------------------------------------------------------------------------------------------------

GB = 1024**3


@pytest.fixture
def eight_gb(monkeypatch):
    """A machine with 8 GB available, whatever this one has (so the refusals do not depend on it)."""
    import dopasoft._memory as memory

    monkeypatch.setattr(memory, "available_bytes", lambda *a, **k: 8 * GB)


def _estimate(message):
    """The estimate a refusal states, in bytes (the plain reading of '<x> <unit>')."""
    x, unit = re.search(r"would need about ([\d.]+) (bytes|KB|MB|GB|TB|PB) of memory", message).groups()
    return float(x) * 1024 ** ["bytes", "KB", "MB", "GB", "TB", "PB"].index(unit)


def _check_refusal(message, sizes_text, bytes_per_row, rows, advice):
    assert message.startswith(f"simulating {sizes_text} would need about "), message
    assert message.endswith(f"more than the 8.0 GB available; {advice}") or advice in message, message
    assert _estimate(message) == pytest.approx(bytes_per_row * rows, rel=0.06)  # one decimal, 1024-based
    assert "\n" not in message and "MemoryError" not in message


@pytest.mark.usefixtures("eight_gb")
def test_simulate_two_step_refuses_an_impossible_cohort():
    from dopasoft.experiments.two_step import TWO_STEP_ROW_BYTES

    with pytest.raises(ValueError) as err:
        ds.experiments.simulate_two_step(10**12, 200)
    _check_refusal(str(err.value), "10^12 subjects × 200 trials", TWO_STEP_ROW_BYTES, 2 * 10**14, "batches")
    with pytest.raises(ValueError, match=r"^simulating 1 subject × 10\^12 trials would need about"):
        ds.experiments.simulate_two_step(1, 10**12)


@pytest.mark.usefixtures("eight_gb")
@pytest.mark.parametrize("task, n_subjects, n_trials", [("bandit", 10**9, 200), ("two-step", 3, 10**12)])
def test_simulate_choices_refuses_before_building_anything(task, n_subjects, n_trials):
    from dopasoft.fitting.simulate import CHOICE_ROW_BYTES

    params = {"alpha": 0.5, "tau": 0.3} if task == "bandit" else {"alpha": 0.5, "tau": 0.3, "lam": 0.5}
    model = "soft-q" if task == "bandit" else "soft-q-lambda"
    with pytest.raises(ValueError) as err:
        F.simulate_choices(model, params, n_trials=n_trials, n_subjects=n_subjects, task=task)
    sizes = f"{ds._memory.format_count(n_subjects)} subjects × {ds._memory.format_count(n_trials)} trials"
    _check_refusal(str(err.value), sizes, CHOICE_ROW_BYTES[task], n_subjects * n_trials, "batches")


@pytest.mark.usefixtures("eight_gb")
def test_simulate_conditioning_refuses_a_huge_protocol():
    from dopasoft.experiments.conditioning import STEP_BYTES, simulate_conditioning
    from dopasoft.tasks.conditioning.protocols import Phase, Protocol, get_protocol

    a_plus = get_protocol("acquisition").phases[0].trials[0][0]
    huge = Protocol("huge", (Phase("acquisition", ((a_plus, 10**12),)),))
    with pytest.raises(ValueError) as err:
        simulate_conditioning(huge, seed=0)
    msg = str(err.value)
    bins = int(re.search(r"× (\d+) time bins", msg).group(1))
    _check_refusal(msg, f"10^12 trials × {bins} time bins", STEP_BYTES, 10**12 * bins, "larger dt")


@pytest.mark.usefixtures("eight_gb")
def test_discrimination_experiment_refuses_huge_trial_counts():
    from dopasoft.experiments.discrimination import DISCRIMINATION_TRIAL_BYTES, discrimination_experiment

    with pytest.raises(ValueError) as err:
        discrimination_experiment(10**12)
    _check_refusal(str(err.value), "10^12 trials", DISCRIMINATION_TRIAL_BYTES, 10**12, "use fewer trials")


@pytest.mark.usefixtures("eight_gb")
@pytest.mark.parametrize(
    "argv, sizes",
    [
        (
            ["two-step", "--n-subjects", str(10**12)],
            "10^12 subjects (--n-subjects) × 200 trials (--n-trials)",
        ),
        (["two-step", "--n-trials", str(10**12)], "10 subjects (--n-subjects) × 10^12 trials (--n-trials)"),
        (["discrimination", "--n-trials", str(10**12)], "10^12 trials (--n-trials)"),
    ],
)
def test_cli_simulate_refuses_huge_sizes_with_exit_2(argv, sizes, tmp_path, capsys):
    from dopasoft.cli import main

    out = tmp_path / "out.csv"
    assert main(["simulate", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"dopasoft simulate: error: simulating {sizes} would need about "), err
    assert err.count("\n") == 0 and "Traceback" not in err and not out.exists()


@FUZZ
@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_size_estimate_is_the_product_of_the_sizes(n_subjects, n_trials):
    """Property: the refusal's estimate is bytes per row × subjects × trials, and a job that fits runs
    the check without refusing (here against a machine with exactly the estimate, and one byte less)."""
    import dopasoft._memory as memory

    need = 200.0 * n_subjects * n_trials
    original = memory.available_bytes
    try:
        memory.available_bytes = lambda *a, **k: need
        memory.require_table_memory(200.0, {"subjects": n_subjects, "trials": n_trials}, "simulating", "x")
        memory.available_bytes = lambda *a, **k: need - 1
        with pytest.raises(ValueError) as err:
            memory.require_table_memory(
                200.0, {"subjects": n_subjects, "trials": n_trials}, "simulating", "x"
            )
    finally:
        memory.available_bytes = original
    assert f"{memory.format_count(n_subjects)} subject" in str(err.value)
    assert _estimate(str(err.value)) == pytest.approx(need, rel=0.06, abs=1)


# ---------------------------------------------------------------------------------------------------------
# 4. Messages in the user's own terms (dopasoft/fitting/hbayesdm.py, readers.py, dopasoft/_messages.py)
# ---------------------------------------------------------------------------------------------------------


def _hbayesdm(task, n=6, seed=0):
    rng = np.random.default_rng(seed)
    if task == "bandit2arm":
        cols = {
            "trial": np.arange(1, n + 1),
            "choice": rng.integers(1, 3, n),
            "outcome": rng.integers(0, 2, n),
        }
    elif task == "gng":
        cols = {
            "trialNum": np.arange(1, n + 1),
            "cue": rng.integers(1, 5, n),
            "keyPressed": rng.integers(0, 2, n),
            "outcome": rng.integers(0, 2, n),
        }
    elif task == "bandit4arm":
        cols = {
            "gain": rng.integers(0, 2, n),
            "loss": -rng.integers(0, 2, n),
            "choice": rng.integers(1, 5, n),
        }
    else:
        cols = {
            "level1_choice": rng.integers(1, 3, n),
            "level2_choice": rng.integers(1, 5, n),
            "reward": rng.integers(0, 2, n),
        }
    df = pd.DataFrame({"subjID": ["s1"] * n, **{k: v.astype(float) for k, v in cols.items()}})
    df.index = pd.RangeIndex(1, n + 1)  # rows numbered as read_table numbers them
    return df


@FUZZ
@given(st.sampled_from([("bandit2arm", "trial"), ("gng", "trialNum")]), st.integers(2, 6), st.data())
def test_hbayesdm_duplicated_trial_names_the_files_column_and_rows(task_col, n, data):
    task, col = task_col
    df = _hbayesdm(task, n)
    i = data.draw(st.integers(1, n - 1))  # row i + 1 repeats the trial of an earlier row j + 1
    j = data.draw(st.integers(0, i - 1))
    df.iloc[i, df.columns.get_loc(col)] = df.iloc[j][col]
    with pytest.raises(ValueError) as err:
        hbayesdm_to_data(df)
    msg = str(err.value)
    assert msg == (
        f"subject 's1', row {i + 1}, column {col!r}: duplicated trial {j + 1} (also at row {j + 1}); "
        f"an hBayesDM {task} file has one row per trial"
    )
    assert "terminal" not in msg


BLANKS = [
    ("ts", "level2_choice", "although level1_choice was made (the second-stage state is in it)"),
    ("ts", "reward", "although level2_choice was made"),
    ("bandit2arm", "outcome", "although a choice was made"),
    ("bandit4arm", "gain", "although a choice was made"),
    ("bandit4arm", "loss", "although a choice was made"),
    ("gng", "outcome", "although keyPressed was recorded"),
    ("gng", "cue", "(every trial needs its cue)"),
]


@FUZZ
@given(st.sampled_from(BLANKS), st.integers(1, 6))
def test_hbayesdm_blank_cells_are_named_by_the_files_column(case, row):
    task, col, why = case
    df = _hbayesdm(task)
    df.loc[row, col] = np.nan
    with pytest.raises(ValueError) as err:
        hbayesdm_to_data(df)
    assert str(err.value) == f"subject 's1', row {row}, column {col!r}: blank {why}"


@pytest.mark.parametrize("sep, name", [(";", "';'"), ("|", "'|'")])
@pytest.mark.parametrize("decimal_comma", [False, True])
def test_a_file_separated_otherwise_gets_the_separator_hint(tmp_path, capsys, sep, name, decimal_comma):
    from dopasoft.cli import main

    reward = "0,5" if decimal_comma else "1"
    path = tmp_path / "choices.csv"
    path.write_text(sep.join(["subject", "trial", "choice", "reward"]) + f"\na{sep}1{sep}0{sep}{reward}\n")
    header = sep.join(["subject", "trial", "choice", "reward"])
    expected = (
        f"{path} looks separated by {name}: its header is one column, {header!r}, read with the separator ','"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}"):
        F.read_choices(path)
    assert main(["fit", str(path), "--model", "soft-q", "--out", str(tmp_path / "fits.csv")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"dopasoft fit: error: {expected}; save it separated by commas (.csv) or tabs (.tsv), with '.' as the decimal mark"
    )


NUMPY_VALUES = [np.float64(math.inf), np.float64(-2.5), np.float32(math.nan), np.int64(-3)]


@pytest.mark.parametrize("value", NUMPY_VALUES, ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        lambda v: ds.SoftQLambda(2, 2, alpha=v, tau=1.0, lam=0.0, gamma=0.9),
        lambda v: ds.SoftQLambda(2, 2, alpha=0.1, tau=v, lam=0.0, gamma=0.9),
        lambda v: ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0, gamma=v),
        lambda v: ds.soft_value([0.0, 1.0], v),
        lambda v: ds.soft_n_step_return([1.0], [], 0.0, v, 1.0),
        lambda v: ds.experiments.simulate_two_step(2, 3, p_common=v),
        lambda v: ds.experiments.simulate_two_step(2, 3, drift_sd=v),
    ],
)
def test_messages_show_numbers_not_numpy_reprs(call, value):
    with pytest.raises(ValueError) as err:
        call(value)
    msg = str(err.value)
    assert "np." not in msg and "float64" not in msg and "int64" not in msg, msg
    assert re.search(r"got (inf|-2\.5|nan|-3)\b", msg), msg


@pytest.mark.parametrize(
    "command", [["simulate", "two-step"], ["simulate", "discrimination"], ["fit", "x.csv"]]
)
def test_seed_minus_one_is_refused_alike_by_every_command(command, tmp_path, capsys):
    from dopasoft.cli import main

    with pytest.raises(SystemExit) as exc:
        main([*command, "--seed", "-1", "--out", str(tmp_path / "o.csv")])
    assert exc.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith("error: argument --seed: must be an integer >= 0, got '-1'"), last
