"""Fitting benchmarks: likelihood throughput, batched fit vs a per-subject compiled reference.

Run: ``python benchmarks/fitting.py [--subjects 200] [--trials 200] [--starts 10] [--model NAME]``
(a soft Q model or a daw-hybrid variant). Prints numbers only. ``--against OLD/dopasoft/fitting/models.py [--rounds 7] [--cpu]`` instead compares the likelihood throughput with an
older ``models.py`` (e.g. from ``git archive <commit>``), imported by path into the same process and
timed alternately with the current one on the same data, so machine load affects both alike. The reference is the same compiled likelihood (single-threaded, one subject at a time)
minimised by scipy's L-BFGS-B per subject per start on the natural scale with finite-difference
gradients — the usual way such fits are written.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from scipy.optimize import minimize

import dopasoft.fitting as F
from dopasoft.fitting.models.daw_hybrid import HybridModel
from dopasoft.fitting.recovery import recovery_table


def throughput(model, tr, n_vectors=50, threads=None, grad=False):
    """Million subject-trials per second of the batched likelihood (``grad``: value + gradient)."""
    rng = np.random.default_rng(0)
    theta = np.stack([F.sample_parameters(model, n_vectors, rng).to_numpy()] * tr.n_subjects)
    subj = np.repeat(np.arange(tr.n_subjects, dtype=np.int64), n_vectors)
    flat = theta.reshape(len(subj), -1)

    def run(th):
        if grad:
            return model.nll_grad_pairs(tr, subj[: len(th)], th)
        return model.nll_pairs(tr, subj[: len(th)], th)

    run(flat[:32])  # compile
    if threads:
        F.set_threads(threads)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        run(flat)
        best = min(best, time.perf_counter() - t0)
    F.set_threads(None)
    trials = tr.n_choices.sum() / 2 if tr.task == "two-step" else tr.n_choices.sum()
    return trials * n_vectors / best / 1e6


def _reference_objective(model, tr):
    """``(nll(x, sub), bounds)``: one subject's NLL through the model's serial compiled block, and the
    box of the reference's L-BFGS-B.

    Soft Q: ``(1e-6, 1 - 1e-6)`` for parameters in [0, 1], ``(1e-4, 20)`` for the others. The hybrid:
    the model's own bounds (those ``fit`` uses), so that both sides solve the same problem.
    """
    src = np.asarray(model.source)
    full = np.asarray(model.constant, float)[None].copy()
    out = np.empty(1)
    if isinstance(model, HybridModel):
        from dopasoft.fitting.models.daw_hybrid import _hybrid_nll_block

        bounds = [(p.lower, p.upper) for p in model.params]
        args = (tr.state, tr.action, tr.reward, tr.next_state, tr.is_choice, tr.n_steps)
        p_common = float(model.trans_prob)

        def nll(x, sub):
            full[0, src >= 0] = x[src[src >= 0]]
            _hybrid_nll_block(0, 1, *args, sub, full, p_common, out)
            return out[0]

        return nll, bounds

    from dopasoft import kernel
    from dopasoft.fitting.softq import _nll_block, replay_data

    bounds = [
        (max(p.lower, 1e-6), min(p.upper, 1 - 1e-6)) if p.upper == 1 else (max(p.lower, 1e-4), 20.0)
        for p in model.params
    ]
    args = replay_data(tr)
    code = kernel.TRACE_CODES[model.trace]

    def nll(x, sub):
        full[0, src >= 0] = x[src[src >= 0]]
        _nll_block(0, 1, *args, sub, full, model.gamma, code, model.replacing, out)
        return out[0]

    return nll, bounds


def reference_fit(model, tr, n_starts, seed=0):
    """Per subject, per start: scipy L-BFGS-B on the serial compiled likelihood.

    The objective calls the single-threaded kernel directly (no Python-level mapping per call) so
    that the reference is as lean as such a loop can be.
    """
    nll, bounds = _reference_objective(model, tr)
    rng = np.random.default_rng(seed)
    best = np.full(tr.n_subjects, np.inf)
    params = np.zeros((tr.n_subjects, model.n_params))
    for i in range(tr.n_subjects):
        sub = np.array([i], np.int64)
        for _ in range(n_starts):
            x0 = [rng.uniform(*p.start) for p in model.params]
            r = minimize(nll, x0, args=(sub,), method="L-BFGS-B", bounds=bounds)
            if r.fun < best[i]:
                best[i], params[i] = r.fun, r.x
    return best, params


def against(path: str, tr, model, n_vectors: int = 10, rounds: int = 7, cpu: bool = False) -> None:
    """Print the throughput of the current and of an older ``models.py`` (by path), timed alternately.

    ``cpu``: time by the CPU seconds of the process (``time.process_time``) instead of the wall clock,
    so that time the process spends waiting for a core on a shared machine does not count.
    """
    import importlib.util
    import sys

    from dopasoft import kernel
    from dopasoft.fitting import softq

    spec = importlib.util.spec_from_file_location("reference_models", path)
    old = importlib.util.module_from_spec(spec)
    sys.modules["reference_models"] = old
    spec.loader.exec_module(old)
    rng = np.random.default_rng(0)
    theta = np.concatenate([F.sample_parameters(model, n_vectors, rng).to_numpy()] * tr.n_subjects)
    subj = np.repeat(np.arange(tr.n_subjects, dtype=np.int64), n_vectors)
    full = np.ascontiguousarray(model.full(theta))
    pairs = (subj, full, float(model.gamma), kernel.TRACE_CODES[model.trace], bool(model.replacing))
    # the former copy takes the step arrays one by one, the current replay the packed steps
    old_data = (tr.state, tr.action, tr.reward, tr.next_state, tr.terminal, tr.is_choice)
    old_args = (*old_data, tr.n_steps, tr.state_stage, tr.n_states, tr.n_actions, *pairs)
    new_args = (*softq.replay_data(tr), *pairs)
    trials = (tr.n_choices.sum() / 2 if tr.task == "two-step" else tr.n_choices.sum()) * n_vectors
    clock = time.process_time if cpu else time.perf_counter
    for threads in (1, F.get_threads()):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # the older, parallel copy
        F.set_threads(threads)
        fns = {
            "value, reference": old.softq_nll_pairs,
            "value, current": softq.softq_nll_pairs,
            "value + gradient, reference": old.softq_nll_grad_pairs,
            "value + gradient, current": softq.softq_nll_grad_pairs,
        }
        best = dict.fromkeys(fns, np.inf)
        args = {name: old_args if "reference" in name else new_args for name in fns}
        for name, fn in fns.items():
            fn(*args[name])  # compile
        for _ in range(rounds):
            for name, fn in fns.items():
                t0 = clock()
                fn(*args[name])
                best[name] = min(best[name], clock() - t0)
        for name in fns:
            unit = "M subject-trials per CPU second" if cpu else "M subject-trials/s"
            print(f"{model.spec} {name} ({threads} thread(s)): {trials / best[name] / 1e6:.2f} {unit}")
        for kind in ("value", "value + gradient"):
            print(
                f"  {kind}: current / reference = {best[kind + ', reference'] / best[kind + ', current']:.2f}"
            )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    F.set_threads(None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--model", default="soft-q-lambda")
    ap.add_argument("--against", metavar="MODELS_PY", help="compare throughput with an older models.py")
    ap.add_argument("--rounds", type=int, default=7, help="--against: alternating rounds (best of)")
    ap.add_argument("--cpu", action="store_true", help="--against: time by process CPU seconds")
    args = ap.parse_args()
    model = F.get_model(args.model)
    rng = np.random.default_rng(1)
    true = F.sample_parameters(model, args.subjects, rng)
    data = F.simulate_choices(model, true, n_trials=args.trials, seed=rng)
    tr = F.to_transitions(data)
    if args.against:
        against(args.against, tr, model, rounds=args.rounds, cpu=args.cpu)
        return
    print(
        f"model {model.name}, {args.subjects} subjects x {args.trials} trials, "
        f"{args.starts} starts, likelihood threads {F.get_threads()}"
    )
    for th in (1, F.get_threads()):
        print(
            f"likelihood throughput ({th} thread(s)): {throughput(model, tr, threads=th):.2f} "
            "M subject-trials/s"
        )
    if model.nll_grad_pairs is not None:
        for th in (1, F.get_threads()):
            print(
                f"value + gradient throughput ({th} thread(s)): "
                f"{throughput(model, tr, threads=th, grad=True):.2f} M subject-trials/s"
            )
    if model.name != "daw-hybrid":
        hyb = F.get_model("daw-hybrid")
        print(f"daw-hybrid likelihood throughput: {throughput(hyb, tr):.2f} M subject-trials/s")

    F.fit(data.iloc[: 2 * args.trials], model, n_starts=2, prior={})  # compile
    t0 = time.perf_counter()
    res = F.fit(data, model, n_starts=args.starts, seed=0, prior={})  # ML, like the reference
    t_fit = time.perf_counter() - t0
    evals = res.starts["n_iter"].to_numpy()
    print(
        f"dopasoft fit: {t_fit:.2f} s; mean BFGS iterations per start {evals.mean():.1f}; "
        f"converged {int(res.params['converged'].sum())}/{args.subjects}"
    )
    reference_fit(model, F.to_transitions(data.iloc[: args.trials]), 1)  # compile
    t0 = time.perf_counter()
    ref_nll, ref_params = reference_fit(model, tr, args.starts)
    t_ref = time.perf_counter() - t0
    print(f"reference (scipy L-BFGS-B per subject per start, serial numba): {t_ref:.2f} s")
    diff = res.params["nll"].to_numpy() - ref_nll
    print(
        f"NLL dopasoft - reference: max {diff.max():+.2e}, min {diff.min():+.2e}, "
        f"subjects worse by > 1e-3: {int((diff > 1e-3).sum())}, "
        f"better by > 1e-3: {int((diff < -1e-3).sum())}"
    )
    print(f"speed-up vs reference: {t_ref / t_fit:.2f}x")
    print("recovery (Pearson r):")
    print(recovery_table(true, res.params, model.param_names).to_string(index=False))


if __name__ == "__main__":
    main()
