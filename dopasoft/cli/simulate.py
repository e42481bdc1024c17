"""``dopasoft simulate``: conditioning protocols or a lab's session file (model dopamine), two-step
cohorts (choice data) and the discrimination task (action prediction errors)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

from dopasoft.agents import TWO_STEP_MODELS
from dopasoft.cli.outputs import output_file
from dopasoft.experiments.conditioning import CONDITIONING_DEFAULTS
from dopasoft.experiments.discrimination import DISCRIMINATION_DEFAULTS
from dopasoft.tasks.conditioning.protocols import PROTOCOLS
from dopasoft.tasks.conditioning.representations import REPRESENTATIONS

# bytes per simulated time step held until the end (the step table: ~150 bytes a row, measured)
_STEP_BYTES = 200.0
_TRIAL_COLUMNS = ("trial", "phase", "trial_type", "rewarded", "learn", "reward", "cue_rpe", "reward_rpe")


def _epilog() -> str:
    width = max(len(name) for name in PROTOCOLS)
    lines = ["conditioning protocols (--protocol):"]
    lines += [f"  {name:<{width}}  {text}" for name, text in PROTOCOLS.items()]
    lines += [
        "",
        "examples:",
        "  dopasoft simulate conditioning --protocol blocking --seed 1 --out blocking.csv",
        "  dopasoft simulate conditioning --session session.csv --out rpe.csv --trace-out steps.csv",
        "    (session file: one row per trial, column trial_type ('A+', 'AB+', 'B?', 'C+ p=0.5'); optional",
        "    trial, phase, cue_onset (s from trial start), reward_time (s from the first cue onset),",
        "    reward (size), rewarded (0/1), iti (s; kept, no effect); other columns are kept)",
        "  dopasoft simulate two-step --n-subjects 20 --n-trials 200 --model hybrid --w 0.5 --out ts.csv",
        "  dopasoft simulate discrimination --trials 400 --novel-at 300 --prior-rate 0.05 --out ape.csv",
    ]
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    """Add the ``simulate`` sub-command and its ``conditioning`` / ``two-step`` / ``discrimination`` tasks."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate an agent on a conditioning protocol, a two-step cohort or a discrimination task",
        description="Simulate Soft Q(lambda) agents: per-trial model dopamine in Pavlovian protocols, "
        "canonical two-step choice data for a cohort, or action prediction errors in a two-choice "
        "discrimination task.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tasks = parser.add_subparsers(dest="task", metavar="TASK")
    parser.set_defaults(func=lambda args: _usage(parser))

    cond = tasks.add_parser(
        "conditioning",
        help="a Pavlovian protocol or a lab's session file; one row per trial with cue_rpe and reward_rpe",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cond.add_argument("--protocol", help="protocol name (listed below; default acquisition)")
    cond.add_argument(
        "--session",
        metavar="FILE",
        help="a lab's own session (CSV/TSV/Parquet, one row per trial, run in file order) instead of "
        "--protocol; the output keeps its trial numbers and columns",
    )
    cond.add_argument(
        "--representation", default="csc", help=f"stimulus representation: {', '.join(REPRESENTATIONS)}"
    )
    cond.add_argument(
        "--instrumental", action="store_true", help="lick/withhold choice with a default policy"
    )
    for name, value in CONDITIONING_DEFAULTS.items():
        cond.add_argument(f"--{name}", type=float, default=value, help=f"default {value}")
    cond.add_argument("--trace", default="tree-backup", help="trace variant of Soft Q(lambda)")
    cond.add_argument("--dt", type=float, default=0.25, help="time bin in s (default 0.25)")
    cond.add_argument(
        "--isi", type=float, default=1.5, help="cue-to-reward interval in s (sessions: unless reward_time)"
    )
    cond.add_argument("--seed", type=int, default=0)
    cond.add_argument("--out", required=True, help="CSV file, one row per trial")
    cond.add_argument("--trace-out", help="CSV file, one row per time step (within-trial traces)")
    cond.set_defaults(func=_run_conditioning)

    two = tasks.add_parser(
        "two-step",
        help="canonical two-step data for a simulated cohort",
        epilog="models (--model) and their parameters:\n"
        + "\n".join(f"  {m:<27} {', '.join(p)}" for m, p in TWO_STEP_MODELS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    two.add_argument("--n-subjects", type=int, default=10)
    two.add_argument("--n-trials", type=int, default=200)
    two.add_argument("--model", default="soft-q-lambda", help="generative model (see --help)")
    for name in ("alpha", "tau", "lam", "kappa", "w"):
        two.add_argument(f"--{name}", type=float, help="model parameter (model default if omitted)")
    two.add_argument("--p-common", type=float, default=0.7)
    two.add_argument("--drift-sd", type=float, default=0.025)
    two.add_argument("--deterministic", action="store_true", help="Kool et al. (2016) variant")
    two.add_argument("--seed", type=int, default=0)
    two.add_argument("--out", required=True, help="CSV file of canonical two-step data")
    two.set_defaults(func=_run_two_step)

    disc = tasks.add_parser(
        "discrimination",
        help="two-cue discrimination with a learned default policy; one row per trial with action_pe",
        description="An auditory two-choice discrimination task (cue i calls for action i, a correct "
        "choice pays --reward) learnt by Soft Q(lambda) with a learned default policy pi0 (docs/maths.md "
        "section 7). One row per trial: cue, novel, action, correct, reward, action_pe = 1 - pi0(action|cue) "
        "(value-free action prediction error), reward_rpe = reward - V(cue), delta = reward - Q(cue, action), "
        "action_term, value, p_action, prior_action, seed.",
    )
    disc.add_argument("--trials", type=int, default=400, help="trials in the session (default 400)")
    disc.add_argument(
        "--novel-at", type=int, help="trial from which a novel cue (correct action 0) is presented too"
    )
    disc.add_argument(
        "--novel-fraction", type=float, default=0.5, help="share of trials with the novel cue (default 0.5)"
    )
    for name, value in DISCRIMINATION_DEFAULTS.items():
        disc.add_argument(f"--{name.replace('_', '-')}", type=float, default=value, help=f"default {value}")
    disc.add_argument("--reward", type=float, default=1.0, help="outcome of a correct choice (default 1)")
    disc.add_argument("--error-reward", type=float, default=0.0, help="outcome of an error (default 0)")
    disc.add_argument("--seed", type=int, default=0)
    disc.add_argument("--out", required=True, help="CSV file, one row per trial")
    disc.set_defaults(func=_run_discrimination)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _run_conditioning(args: argparse.Namespace) -> int:
    from dopasoft._memory import require_memory
    from dopasoft.experiments.conditioning import read_session, simulate_conditioning
    from dopasoft.tasks.conditioning.task import ConditioningTask

    if args.session is not None and args.protocol is not None:
        raise ValueError("--session and --protocol are mutually exclusive: give one of them")
    session = read_session(args.session) if args.session is not None else None  # bad rows named first
    inputs = [args.session] if args.session is not None else []
    out = output_file(args.out, inputs=inputs)
    trace_out = output_file(args.trace_out, "--trace-out", inputs=inputs) if args.trace_out else None
    if trace_out is not None and os.path.abspath(trace_out) == os.path.abspath(out):
        raise ValueError(f"--trace-out {args.trace_out} is the same file as --out; give two file names")
    protocol = None if session is not None else (args.protocol or "acquisition")
    # the task refuses a trial grid that cannot fit in memory; the session's step table is checked here
    source = session if session is not None else protocol
    task = ConditioningTask(source, representation=args.representation, dt=args.dt, isi=args.isi)
    n_steps = task.n_trials * task.n_bins
    if session is not None:
        grid = f"--session {args.session} with --dt {args.dt:g}"
    else:
        grid = f"--dt {args.dt:g} with --isi {args.isi:g}"
    require_memory(
        _STEP_BYTES * n_steps,
        f"{grid} ({task.n_trials} trials x {task.n_bins} bins = {n_steps} steps)",
        "use a larger --dt or shorter times" + (" (times are in seconds)" if session is not None else ""),
    )
    params = {name: getattr(args, name) for name in CONDITIONING_DEFAULTS}
    result = simulate_conditioning(
        protocol,
        session=session,
        representation=args.representation,
        instrumental=args.instrumental,
        seed=args.seed,
        task_options={"dt": args.dt, "isi": args.isi},
        trace=args.trace,
        **params,
    )
    trials = result.trials
    first = [c for c in _TRIAL_COLUMNS if c in trials.columns]
    trials[first + [c for c in trials.columns if c not in first]].to_csv(out, index=False)
    if trace_out is not None:
        result.steps.to_csv(trace_out, index=False)
    return 0


def _run_two_step(args: argparse.Namespace) -> int:
    from dopasoft.experiments.two_step import simulate_two_step

    out = output_file(args.out)
    params = {k: getattr(args, k) for k in ("alpha", "tau", "lam", "kappa", "w")}
    data = simulate_two_step(
        args.n_subjects,
        args.n_trials,
        model=args.model,
        params={k: v for k, v in params.items() if v is not None},
        p_common=args.p_common,
        drift_sd=args.drift_sd,
        deterministic=args.deterministic,
        seed=args.seed,
    )
    data.to_csv(out, index=False)
    return 0


def _check_discrimination_options(args: argparse.Namespace) -> None:
    """Refuse a bad option with one line naming it (before any work)."""
    if args.trials < 1:
        raise ValueError(f"--trials must be a positive integer, got {args.trials}")
    if args.novel_at is not None and not 0 <= args.novel_at < args.trials:
        raise ValueError(f"--novel-at must be a trial in 0..{args.trials - 1}, got {args.novel_at}")
    checks = (
        ("--novel-fraction", args.novel_fraction, 0.0 < args.novel_fraction <= 1.0, "in (0, 1]"),
        ("--alpha", args.alpha, 0.0 < args.alpha <= 1.0, "in (0, 1]"),
        ("--tau", args.tau, args.tau > 0.0 and math.isfinite(args.tau), "a finite number > 0"),
        ("--prior-rate", args.prior_rate, 0.0 <= args.prior_rate < 1.0, "in [0, 1)"),
        ("--reward", args.reward, math.isfinite(args.reward), "finite"),
        ("--error-reward", args.error_reward, math.isfinite(args.error_reward), "finite"),
    )
    for option, value, ok, want in checks:
        if not ok:
            raise ValueError(f"{option} must be {want}, got {value:g}")


def _run_discrimination(args: argparse.Namespace) -> int:
    from dopasoft.experiments.discrimination import discrimination_experiment

    _check_discrimination_options(args)
    out = output_file(args.out)
    table = discrimination_experiment(
        args.trials,
        novel_at=args.novel_at,
        novel_fraction=args.novel_fraction,
        alpha=args.alpha,
        tau=args.tau,
        prior_rate=args.prior_rate,
        reward=args.reward,
        error_reward=args.error_reward,
        seed=args.seed,
    )
    table.to_csv(out, index=False)
    return 0
