"""The one Soft Q(λ) step (dopasoft.kernel.soft_q_step): values against a plain oracle, forward-mode
tangents against finite differences, the compiled shortcuts (no tangents, cached normaliser) equal to
rounding, the trace-coefficient table by hand, and Retrace refused where b(a|s) is unknown."""

import copy
import math
import pickle

import numpy as np
import pytest
from oracles import PlainSoftQLambda, soft_stats
from ulps import REPLAY_ULPS, assert_close_ulps

import dopasoft as ds
import dopasoft.fitting as F
from dopasoft import kernel
from dopasoft.fitting.models import SoftQLambdaModel
from dopasoft.learners import calls

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

TRACES = ["tree-backup", "on-policy", "uncorrected", "retrace"]
N_S, N_A = 4, 3


def assert_same_to_rounding(actual, desired):
    """Two compiled specialisations of the step: within REPLAY_ULPS ulps of the largest |desired|."""
    assert_close_ulps(actual, desired, REPLAY_ULPS, scale=np.abs(desired).max())


def episodes(n, seed, n_states=N_S, n_actions=N_A, p_end=0.2):
    """Random transitions (s, a, r, s2, terminated, b) with revisits and terminal steps."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        b = rng.dirichlet(np.ones(n_actions))
        a = int(rng.choice(n_actions, p=b))
        out.append(
            (
                int(rng.integers(n_states)),
                a,
                float(rng.normal()),
                int(rng.integers(n_states)),
                bool(rng.random() < p_end),
                float(b[a]),
            )
        )
    return out


def run(
    steps,
    alpha,
    tau,
    lam,
    trace,
    replacing,
    *,
    gamma=0.9,
    features=None,
    tangents=False,
    cache=False,
    n_actions=N_A,
    tabular=False,
):
    """Drive kernel.soft_q_step; states are one-hot unless ``features`` (n_states, n_features) is given.

    ``tabular``: pass the states as rows of W (``idx = val = None``), not as one-hot feature arrays.

    Returns W, and with ``tangents`` also dW/d(alpha, tau, lam) of shape (n_features, n_actions, 3)
    (the step carries exactly these three directions: ``n_tangents = 3``).
    """
    n_in = N_S if features is None else features.shape[1]
    W, E = np.zeros((n_in, n_actions)), np.zeros((n_in, n_actions))
    live = np.zeros(n_in + 1, np.int64)
    lp = np.log(np.linspace(1.0, 2.0, n_actions) / np.linspace(1.0, 2.0, n_actions).sum())
    work = np.empty((4, n_actions))
    c = np.full(3 + n_actions, -1.0) if cache else None
    if tangents:
        k = 3
        dW, dE = np.zeros((n_in, n_actions, k)), np.zeros((n_in, n_actions, k))
        dpar = np.zeros((kernel.tangent_rows(n_actions), k))
        dpar[kernel.D_ALPHA, 0] = dpar[kernel.D_TAU, 1] = dpar[kernel.D_LAM, 2] = 1.0
    else:
        dW = dE = dpar = k = None

    def feats(s):
        if tabular:
            return None, None, s, s + 1
        if features is None:
            return np.arange(N_S), np.ones(N_S), s, s + 1
        idx, val, _ = calls.sparse_features(features[s])
        return idx, val, 0, len(idx)

    for s, a, r, s2, term, b in steps:
        idx, val, lo, hi = feats(s)
        nidx, nval, nlo, nhi = feats(s2)
        kernel.soft_q_step(
            W,
            E,
            live,
            idx,
            val,
            lo,
            hi,
            a,
            r,
            nidx,
            nval,
            nlo,
            nhi,
            term,
            alpha,
            tau,
            gamma,
            lam,
            lp,
            lp,
            kernel.TRACE_CODES[trace],
            replacing,
            b,
            work,
            c,
            None,
            dW,
            dE,
            dpar,
            k,
        )
    return (W, dW) if tangents else W


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("replacing", [False, True])
def test_step_equals_plain_oracle_and_its_tangents_equal_differences(trace, replacing):
    steps = episodes(60, seed=len(trace) + replacing)
    p = (0.3, 0.7, 0.8)
    W, dW = run(steps, *p, trace, replacing, tangents=True)
    lp = np.log(np.linspace(1.0, 2.0, N_A) / np.linspace(1.0, 2.0, N_A).sum())
    oracle = PlainSoftQLambda(N_S, N_A, *p, 0.9, trace, replacing, prior=[list(np.exp(lp))] * N_S)
    for s, a, r, s2, term, b in steps:
        oracle.update(s, a, r, s2, term, b)
    np.testing.assert_allclose(W, oracle.q, rtol=0, atol=1e-12)
    h = 1e-6
    for j in range(3):
        up, down = list(p), list(p)
        up[j] += h
        down[j] -= h
        num = (run(steps, *up, trace, replacing) - run(steps, *down, trace, replacing)) / (2 * h)
        np.testing.assert_allclose(dW[:, :, j], num, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("trace", TRACES)
def test_sparse_feature_tangents_equal_differences(trace):
    rng = np.random.default_rng(4)
    features = np.where(rng.uniform(size=(N_S, 7)) < 0.4, rng.uniform(0.2, 1.0, size=(N_S, 7)), 0.0)
    features[:, 0] = 0.5  # every state has an active feature
    steps = episodes(40, seed=5)
    p = (0.2, 0.9, 0.7)
    _, dW = run(steps, *p, trace, False, features=features, tangents=True)
    h = 1e-6
    for j in range(3):
        up, down = list(p), list(p)
        up[j] += h
        down[j] -= h
        num = (
            run(steps, *up, trace, False, features=features)
            - run(steps, *down, trace, False, features=features)
        ) / (2 * h)
        np.testing.assert_allclose(dW[:, :, j], num, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("n_actions", [2, 3])
def test_shortcuts_agree(trace, n_actions):
    """Compiled without tangents, and with the remembered normaliser, the step gives the same numbers
    (the same operations; REPLAY_ULPS allows for a vector maths library in one specialisation only)."""
    steps = episodes(300, seed=7, n_actions=n_actions)
    plain = run(steps, 0.4, 0.6, 0.9, trace, False, n_actions=n_actions)
    with_tangents, _ = run(steps, 0.4, 0.6, 0.9, trace, False, tangents=True, n_actions=n_actions)
    cached = run(steps, 0.4, 0.6, 0.9, trace, False, cache=True, n_actions=n_actions)
    assert_same_to_rounding(with_tangents, plain)
    assert_same_to_rounding(cached, plain)
    # tabular states (no feature arrays: the likelihood's replay) give the one-hot features' numbers
    for kw in ({}, {"cache": True}):
        rows = run(steps, 0.4, 0.6, 0.9, trace, False, n_actions=n_actions, tabular=True, **kw)
        assert_same_to_rounding(rows, plain)
    rows, d_rows = run(steps, 0.4, 0.6, 0.9, trace, False, tangents=True, n_actions=n_actions, tabular=True)
    _, d_plain = run(steps, 0.4, 0.6, 0.9, trace, False, tangents=True, n_actions=n_actions)
    assert_same_to_rounding(rows, plain)
    for j in range(d_plain.shape[-1]):  # each tangent direction at its own scale
        assert_same_to_rounding(d_rows[..., j], d_plain[..., j])


def test_trace_coefficient_table():
    g, lam, pi, b = 0.9, 0.8, 0.3, 0.6
    cases = {
        kernel.TREE_BACKUP: g * lam * pi,
        kernel.ON_POLICY: g * lam,
        kernel.UNCORRECTED: g * lam,
        kernel.RETRACE: g * lam * min(1.0, pi / b),
    }
    h = 1e-7
    for code, want in cases.items():
        c, dc_dlam, dc_dlogpi = kernel.trace_coefficient(code, pi, b, lam, g)
        assert c == pytest.approx(want, rel=1e-15)
        up = kernel.trace_coefficient(code, pi, b, lam + h, g)
        down = kernel.trace_coefficient(code, pi, b, lam - h, g)
        assert dc_dlam == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-7)
        up = kernel.trace_coefficient(code, pi * math.exp(h), b, lam, g)
        down = kernel.trace_coefficient(code, pi * math.exp(-h), b, lam, g)
        assert dc_dlogpi == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-7, abs=1e-12)
    # Retrace truncates at 1: pi > b gives gamma * lam and no dependence on pi
    c, _, dc_dlogpi = kernel.trace_coefficient(kernel.RETRACE, 0.9, 0.5, lam, g)
    assert (c, dc_dlogpi) == (g * lam, 0.0)


def test_retrace_refused_where_behaviour_is_unknown():
    m = F.get_model("soft-q-lambda")
    with pytest.raises(ValueError, match=r"retrace.*b\(a\|s\)"):
        SoftQLambdaModel(name="x", params=m.params, source=m.source, constant=m.constant, trace="retrace")


def test_gradient_in_kappa_at_kappa_zero():
    """At kappa = 0 the stickiness still moves the likelihood (the old gradient copy returned 0 there)."""
    from fitting_oracles import random_two_step

    tr = F.to_transitions(random_two_step(seed=8))
    m = F.get_model("soft-q-lambda", kappa=True)
    th = np.array([[0.4, 0.5, 0.6, 0.0]])
    subj = np.zeros(1, np.int64)
    f, g = m.nll_grad_pairs(tr, subj, th)
    # the same replay with and without tangents (two specialisations): the same NLL to rounding
    assert_close_ulps(f, m.nll_pairs(tr, subj, th), REPLAY_ULPS)
    h = 1e-6
    num = np.empty(4)
    for j in range(4):
        e = np.zeros((1, 4))
        e[0, j] = h
        num[j] = (m.nll_pairs(tr, subj, th + e) - m.nll_pairs(tr, subj, th - e))[0] / (2 * h)
    assert abs(num[3]) > 0.1
    np.testing.assert_allclose(g[0], num, rtol=1e-6)


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("replacing", [False, True])
def test_tabular_learner_runs_the_step(trace, replacing):
    # SoftQLambda's tabular update goes through learners.calls.tabular_learner_step (arrays packed in two
    # buffers); it must give the numbers of soft_q_step driven directly (another specialisation of the same
    # step: equal to rounding), and the plain oracle's values
    steps = episodes(300, seed=11)
    prior = np.linspace(1.0, 2.0, N_A) / np.linspace(1.0, 2.0, N_A).sum()
    mode = "replacing" if replacing else "accumulating"
    agent = ds.SoftQLambda(
        N_S, N_A, alpha=0.3, tau=0.7, lam=0.8, gamma=0.9, trace=trace, trace_mode=mode, prior=prior
    )
    oracle = PlainSoftQLambda(N_S, N_A, 0.3, 0.7, 0.8, 0.9, trace, replacing, prior=[list(prior)] * N_S)
    for s, a, r, s2, term, b in steps:
        v, _ = soft_stats(oracle.q[s], 0.7, prior)  # V(s) before the update
        delta = agent.update(s, a, r, s2, term, behaviour_prob=b)
        assert delta == pytest.approx(oracle.update(s, a, r, s2, term, b), abs=1e-12)
        assert agent.last_step.value == pytest.approx(v, abs=1e-12)
    assert_same_to_rounding(agent.q, run(steps, 0.3, 0.7, 0.8, trace, replacing))
    np.testing.assert_allclose(agent.q, oracle.q, atol=1e-12)


def test_copied_and_pickled_learners_keep_learning_on_their_own():
    steps = episodes(60, seed=12)
    agent = ds.SoftQLambda(N_S, N_A, alpha=0.3, tau=0.7, lam=0.8, trace="retrace")
    for s, a, r, s2, term, b in steps[:30]:
        agent.update(s, a, r, s2, term, behaviour_prob=b)
    before = agent.q
    for clone in (copy.deepcopy(agent), pickle.loads(pickle.dumps(agent))):
        for s, a, r, s2, term, b in steps[30:]:
            clone.update(s, a, r, s2, term, behaviour_prob=b)
        assert np.array_equal(agent.q, before)  # the original did not move
        assert not np.array_equal(clone.q, before)  # the clone's read-outs see its updates
        assert clone.last_step is not None and clone.last_step != agent.last_step
        clone.reset_traces()
        assert not clone.traces.any()
    fresh = ds.SoftQLambda(N_S, N_A, alpha=0.3, tau=0.7, lam=0.8, trace="retrace")
    for s, a, r, s2, term, b in steps:
        fresh.update(s, a, r, s2, term, behaviour_prob=b)
    assert np.array_equal(clone.q, fresh.q)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((N_S, 0, 0.0, 1, False), {}, "state 4 is out of range"),
        ((0, -1, 0.0, 1, False), {}, "action -1 is out of range"),
        ((0, 0, math.nan, 1, False), {}, "reward must be finite"),
        ((0, 0, 0.0, 9, False), {}, "next_state 9 is out of range"),
        ((0, 0, 0.0, 1, False), {"behaviour_prob": 0.0}, "behaviour_prob must be in"),
        ((0, 0, 0.0, 1, False), {"behaviour_prob": math.nan}, "behaviour_prob must be in"),
        ((True, 0, 0.0, 1, False), {}, "state must be an integer"),
    ],
)
def test_tabular_update_checks_its_input(args, kwargs, message):
    agent = ds.SoftQLambda(N_S, N_A, alpha=0.3, tau=0.7, lam=0.8)
    with pytest.raises(ValueError, match=message):
        agent.update(*args, **kwargs)
    assert not agent.q.any() and agent.last_step is None


def test_tabular_update_takes_numpy_numbers_and_refuses_forbidden_actions():
    steps = episodes(40, seed=13)
    plain, numpyish = (ds.SoftQLambda(N_S, N_A, alpha=0.3, tau=0.7, lam=0.8) for _ in range(2))
    for s, a, r, s2, term, _ in steps:
        plain.update(s, a, r, s2, term)
        numpyish.update(np.int64(s), np.int32(a), np.float64(r), np.int64(s2), np.bool_(term))
    assert np.array_equal(plain.q, numpyish.q)
    agent = ds.SoftQLambda(N_S, 2, alpha=0.3, tau=0.7, lam=0.8, prior=[[1.0, 0.0]] * N_S)
    with pytest.raises(ValueError, match="zero probability"):
        agent.update(0, 1, 0.0, 1, False)
    with pytest.raises(ValueError, match='required by trace="retrace"'):
        ds.SoftQLambda(N_S, N_A, alpha=0.3, tau=0.7, lam=0.8, trace="retrace").update(0, 0, 0.0, 1, False)


def linear_features(n_features=7, seed=14):
    """Feature vectors of the N_S states: sparse rows, one one-hot row, one all-zero row."""
    rng = np.random.default_rng(seed)
    feats = np.where(rng.uniform(size=(N_S, n_features)) < 0.35, rng.normal(size=(N_S, n_features)), 0.0)
    feats[0] = 0.0
    feats[0, 2] = 1.0
    feats[1] = 0.0
    return feats


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("replacing", [False, True])
def test_linear_learner_runs_the_step(trace, replacing):
    # SoftQLambda's linear update is one packed call (learners.calls.linear_learner_step, which extracts the
    # active features itself); it must give the numbers of soft_q_step driven directly on the same features
    # (another specialisation of the same step: equal to rounding)
    feats = linear_features()
    steps = episodes(300, seed=15)
    prior = np.linspace(1.0, 2.0, N_A) / np.linspace(1.0, 2.0, N_A).sum()
    mode = "replacing" if replacing else "accumulating"
    agent = ds.SoftQLambda(
        feats.shape[1],
        N_A,
        alpha=0.3,
        tau=0.7,
        lam=0.8,
        gamma=0.9,
        trace=trace,
        trace_mode=mode,
        prior=prior,
        linear=True,
    )
    for s, a, r, s2, term, b in steps:
        q_x = feats[s] @ agent.q
        v = 0.7 * math.log(np.sum(prior * np.exp(q_x / 0.7)))  # V(x) before the update, by hand
        agent.update(list(feats[s]), a, r, None if term else feats[s2], term, behaviour_prob=b)
        assert agent.last_step.value == pytest.approx(v, abs=1e-12)
        assert agent.last_step.action_term == pytest.approx(q_x[a] - v, abs=1e-12)
    assert_same_to_rounding(agent.q, run(steps, 0.3, 0.7, 0.8, trace, replacing, features=feats))


@pytest.mark.parametrize(
    ("state", "next_state", "message"),
    [
        ([0.0, math.nan, 1.0], [1.0, 0.0, 0.0], "^state has non-finite features"),
        ([0.0, 1.0, 1.0], [1.0, math.inf, 0.0], "^next_state has non-finite features"),
        ([0.0, 1.0], [1.0, 0.0, 0.0], "state must be a feature vector of length 3"),
        ([0.0, 1.0, 1.0], [[1.0, 0.0, 0.0]], "next_state must be a feature vector of length 3"),
    ],
)
def test_linear_update_checks_its_features_before_learning(state, next_state, message):
    agent = ds.SoftQLambda(3, 2, alpha=0.5, tau=1.0, lam=0.9, linear=True)
    agent.update([1.0, 0.0, 0.5], 1, 1.0, [0.0, 1.0, 0.0], False)
    q, e, sig = agent.q, agent.traces, agent.last_step
    with pytest.raises(ValueError, match=message):
        agent.update(state, 0, 1.0, next_state, False)
    assert np.array_equal(agent.q, q) and np.array_equal(agent.traces, e) and agent.last_step == sig
    agent.update([0.0, 1.0, 1.0], 0, 1.0, [math.nan, 0.0, 0.0], True)  # next_state unused at the end
    assert not np.array_equal(agent.q, q)


def test_blocks_of_pairs_reset_the_replay_between_pairs():
    """The likelihoods reuse one set of arrays per block of pairs (on two threads, more pairs than
    blocks here): every pair must give the bits of a replay on fresh arrays. Exact: each side runs the
    same compiled function (``_nll_block``; ``_nll_grad_block``), the premise of fits that do not depend
    on how subjects are batched or on the number of threads."""
    from fitting_oracles import random_two_step

    from dopasoft.fitting import softq, softq_policy, threads

    tr = F.to_transitions(random_two_step(n_subjects=4, n_trials=30, seed=9, missing=0.1))
    rng = np.random.default_rng(9)
    n = 45  # 8 blocks of 5-6 pairs on 2 threads
    subj = rng.integers(0, tr.n_subjects, n)
    full = np.column_stack(
        [
            rng.uniform(0.1, 0.9, (n, 2)),
            rng.uniform(0.2, 2.0, (n, 2)),
            rng.uniform(0, 1, n),
            rng.normal(size=n),
            rng.uniform(0, 0.5, n),  # alpha_pi
            rng.integers(0, 2, n),  # valence
            rng.normal(size=n),  # go_bias
            rng.integers(0, 2, n),  # shared_prior
        ]
    )
    assert full.shape[1] == len(softq_policy.SQ_COLUMNS)
    full[::3, softq_policy.SQ_KAPPA] = 0.0
    full[::2, softq_policy.SQ_ALPHA_PI] = 0.0
    full[::4, softq_policy.SQ_GO_BIAS] = 0.0
    data = softq.replay_data(tr)
    opts = (0.9, kernel.ON_POLICY, True)
    threads.set_threads(2)
    try:
        value = softq.softq_nll_pairs(*data, subj, full, *opts)
        value_g, grad = softq.softq_nll_grad_pairs(*data, subj, full, *opts)
    finally:
        threads.set_threads(None)
    for k in range(n):
        one = (*data, subj[k : k + 1], full[k : k + 1], *opts)
        assert np.isfinite(value[k])
        assert value[k] == softq.softq_nll_pairs(*one)[0]
        v, g = softq.softq_nll_grad_pairs(*one)
        assert value_g[k] == v[0] and np.array_equal(grad[k], g[0])


def test_compiled_likelihoods_refuse_a_parameter_matrix_of_the_wrong_shape():
    """The loops index the parameter matrix unchecked: too few columns would read past its end and
    give a silently wrong (NaN or garbage) likelihood, so every compiled entry point checks its shape."""
    from fitting_oracles import random_two_step

    from dopasoft.fitting import softq, softq_generators, softq_policy
    from dopasoft.fitting.models import daw_hybrid

    tr = F.to_transitions(random_two_step(n_subjects=3, n_trials=10, seed=2))
    data = softq.replay_data(tr)
    opts = (0.9, kernel.ON_POLICY, True)
    subj = np.arange(3)
    good = np.tile([0.5, 0.5, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], (3, 1))
    assert good.shape[1] == len(softq_policy.SQ_COLUMNS)
    assert np.all(np.isfinite(softq.softq_nll_pairs(*data, subj, good, *opts)))
    narrow = np.ascontiguousarray(good[:, :6])  # C order like every caller: no new compilation
    for bad in (narrow, good[:2]):
        with pytest.raises(ValueError, match="full must have"):
            softq.softq_nll_pairs(*data, subj, bad, *opts)
        with pytest.raises(ValueError, match="full must have"):
            softq.softq_nll_grad_pairs(*data, subj, bad, *opts)
    with pytest.raises(ValueError, match="full must have"):
        softq.softq_replay_signals(*data, narrow, *opts)
    probs = np.full((3, 5, 2, 2), 0.5)
    u = np.random.default_rng(0).uniform(size=(3, 5, 4))
    with pytest.raises(ValueError, match="full must have"):
        softq_generators.softq_generate_two_step(narrow, probs, u, 0.7, 0.9, kernel.ON_POLICY, True)
    hy = (tr.state, tr.action, tr.reward, tr.next_state, tr.is_choice, tr.n_steps)
    with pytest.raises(ValueError, match="full must have"):
        daw_hybrid.hybrid_nll_pairs(*hy, subj, np.full((3, 6), 0.5), 0.7)


def test_sticky_probability_from_the_step_policy_equals_the_written_out_softmax():
    """The likelihood's ``sticky_logp`` (from pi(.|s) and one log1p) is the simulators' soft-max with
    kappa on the previous choice, for 2-5 actions, any default policy, kappa of either sign."""
    from dopasoft.fitting.softq_policy import softq_behaviour_logp, sticky_logp

    rng = np.random.default_rng(4)
    for _ in range(300):
        n = int(rng.integers(2, 6))
        W = rng.normal(scale=3.0, size=(2, n))
        tau = float(rng.uniform(0.05, 3.0))
        kappa = float(rng.normal(scale=2.0))
        log_prior = np.log(rng.dirichlet(np.ones(n)))
        last = int(rng.integers(0, n))
        z = W[1] / tau + log_prior
        log_pi = z - np.logaddexp.reduce(z)
        for a in range(n):
            want = softq_behaviour_logp(W, 1, a, tau, kappa, last, log_prior)
            got = sticky_logp(log_pi[a], math.exp(log_pi[last]), a == last, kappa, math.expm1(kappa))
            assert got == pytest.approx(want, abs=1e-12)
