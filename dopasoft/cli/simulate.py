"""``dopasoft simulate``: conditioning protocols or a lab's session file (model dopamine), two-step
cohorts (choice data) and the discrimination task (action prediction errors)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

from dopasoft.cli.options import (
    add_model_option,
    add_n_subjects_option,
    add_n_trials_option,
    add_param_option,
    add_quiet_option,
    add_seed_option,
    name_values,
    params_from_items,
    summary,
)
from dopasoft.cli.outputs import output_file, write_csv
from dopasoft.experiments.conditioning import CONDITIONING_DEFAULTS, TIMING_MODELS, TIMING_PROTOCOLS
from dopasoft.experiments.discrimination import DISCRIMINATION_DEFAULTS
from dopasoft.tasks.conditioning.protocols import PROTOCOLS
from dopasoft.tasks.conditioning.representations import REPRESENTATIONS

_CONDITIONING_HELP = {
    "alpha": "learning rate per update of a feature (per trial for csc; default {value:g})",
    "lam_per_s": "eligibility-trace decay per second (per bin: LAM_PER_S ** dt; default {value:.4g})",
    "gamma_per_s": "discount per second (per bin: GAMMA_PER_S ** dt; default {value:.4g})",
    "tau": "temperature of the lick/withhold choice, reward units (default {value:g})",
}
_TRIAL_COLUMNS = ("trial", "phase", "trial_type", "rewarded", "learn", "reward", "cue_rpe", "reward_rpe")


class _PerBinRefused(argparse.Action):
    """``--gamma``/``--lam`` per bin: refused, naming the per-second option and the value to give."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        name = option_string.lstrip("-")
        try:
            dt = float(getattr(namespace, "dt", 0.25) or 0.25)
            hint = f" ({option_string} {values} per {dt:g}-s bin is --{name}-per-s {float(values) ** (1 / dt):.6g})"
        except (TypeError, ValueError):
            hint = ""
        parser.error(
            f"{option_string} is per time bin and would change with --dt; conditioning parameters are per "
            f"second: give --{name}-per-s{hint}"
        )


def _epilog() -> str:
    width = max(len(name) for name in {**PROTOCOLS, **TIMING_PROTOCOLS})
    lines = ["conditioning protocols (--protocol):"]
    lines += [f"  {name:<{width}}  {text}" for name, text in {**PROTOCOLS, **TIMING_PROTOCOLS}.items()]
    lines += [
        "",
        "examples:",
        "  dopasoft simulate conditioning --protocol blocking --seed 1 --out blocking.csv",
        "  dopasoft simulate conditioning --session session.csv --out rpe.csv --trace-out steps.csv",
        "    (session file: one row per trial, column trial_type ('A+', 'AB+', 'B?', 'C+ p=0.5'); optional",
        "    trial, phase, cue_onset (s from trial start), reward_time (s from the first cue onset),",
        "    reward (size), rewarded (0/1), iti (s; kept, no effect); other columns are kept)",
        "  dopasoft simulate conditioning --protocol variable-delay --p-reward 0.9 --representation belief-state \\",
        "    --n-subjects 10 --param-sd alpha=0.02 --out starkweather.csv",
        "  dopasoft simulate two-step --n-subjects 20 --n-trials 200 --model daw-hybrid --param w=0.5 --out ts.csv",
        "  dopasoft simulate discrimination --n-trials 400 --novel-at 300 --prior-rate 0.05 --out ape.csv",
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
        description="Simulate a linear Soft Q(lambda) agent (TD(lambda) with a uniform default policy) on a "
        "Pavlovian protocol or a lab's session file and write one row per trial with the model dopamine "
        "at the cue (cue_rpe) and at the reward (reward_rpe).",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # --gamma must not be read as --gamma-per-s
    )
    cond.add_argument("--protocol", help="protocol name (listed below; default acquisition)")
    cond.add_argument(
        "--session",
        metavar="FILE",
        help="a lab's own session (CSV/TSV/Parquet, one row per trial, run in file order) instead of "
        "--protocol; the output keeps its trial numbers and columns",
    )
    cond.add_argument(
        "--representation",
        default="csc",
        help=f"stimulus representation: {', '.join(REPRESENTATIONS)}; with --protocol variable-delay "
        f"also the reward-timing models {', '.join(TIMING_MODELS)}",
    )
    cond.add_argument(
        "--p-reward",
        type=float,
        metavar="P",
        help="variable-delay only: probability of reward (default 1; 0.9 omits 10 %% of rewards)",
    )
    add_n_trials_option(cond, None, "variable-delay only: training trials (default 1500)")
    cond.add_argument(
        "--probe-delays",
        metavar="S,S",
        help="variable-delay only: reward times (s) of rewarded probe trials after training, 10 each "
        "(e.g. 0.6,3.4 for an early and a late reward)",
    )
    add_n_subjects_option(
        cond, None, "simulate a cohort of N animals (output gets a subject column; default: one animal)"
    )
    cond.add_argument(
        "--param-sd",
        action="append",
        default=[],
        metavar="NAME=SD",
        help="with --n-subjects: sd across animals of a parameter (alpha, gamma_per_s, lam_per_s, tau); "
        "repeatable",
    )
    cond.add_argument(
        "--instrumental", action="store_true", help="lick/withhold choice with a default policy"
    )
    for name, value in CONDITIONING_DEFAULTS.items():
        cond.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            help=_CONDITIONING_HELP[name].format(value=value),
        )
    for name in ("gamma", "lam"):
        cond.add_argument(
            f"--{name}",
            action=_PerBinRefused,
            metavar="X",
            help=f"refused: {name} per time bin depends on --dt; give --{name}-per-s",
        )
    cond.add_argument(
        "--trace", default="tree-backup", help="trace variant of Soft Q(lambda) (default tree-backup)"
    )
    cond.add_argument("--dt", type=float, help="time bin in s (default 0.25; variable-delay: 0.2)")
    cond.add_argument(
        "--isi", type=float, default=1.5, help="cue-to-reward interval in s (sessions: unless reward_time)"
    )
    add_seed_option(cond)
    cond.add_argument("--out", required=True, help="CSV file, one row per trial")
    cond.add_argument("--trace-out", help="CSV file, one row per time step (within-trial traces)")
    cond.add_argument(
        "--params-out",
        help="with --n-subjects: CSV file, one row per animal with the parameters it was given",
    )
    add_quiet_option(cond)
    cond.set_defaults(func=_run_conditioning)

    two = tasks.add_parser(
        "two-step",
        help="canonical two-step data for a simulated cohort",
        description="Simulate a cohort on the two-step task (Daw et al. 2011) and write canonical "
        "two-step data (subject, trial, choice1, state2, choice2, reward), which dopasoft fit reads. "
        "--model takes the names of dopasoft fit; each fitting model is simulated by its own generator.",
        epilog=_two_step_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_n_subjects_option(two, 10, "subjects in the cohort (default 10)")
    add_n_trials_option(two, 200, "trials per subject (default 200)")
    add_model_option(
        two,
        required=False,
        two_step=True,
        help="generative model: a dopasoft fit model spec (e.g. soft-q-lambda, daw-hybrid, "
        "soft-q-lambda+separate_alpha) or the simulation-only agent soft-hybrid (default soft-q-lambda; "
        "listed below)",
    )
    add_param_option(two, "a model parameter, e.g. w=0.5 (repeatable; the model's default if omitted)")
    two.add_argument(
        "--p-common",
        type=float,
        default=0.7,
        metavar="P",
        help="probability of the common transition (default 0.7)",
    )
    two.add_argument(
        "--drift-sd",
        type=float,
        default=0.025,
        metavar="SD",
        help="standard deviation of the reward probabilities' random walk per trial (default 0.025)",
    )
    two.add_argument(
        "--deterministic",
        action="store_true",
        help="Kool et al. (2016) variant: deterministic second-stage rewards",
    )
    add_seed_option(two)
    two.add_argument("--out", required=True, help="CSV file of canonical two-step data")
    add_quiet_option(two)
    two.set_defaults(func=_run_two_step, model="soft-q-lambda")

    disc = tasks.add_parser(
        "discrimination",
        help="two-cue discrimination with a learned default policy; one row per trial with action_pe",
        description="An auditory two-choice discrimination task (cue i calls for action i, a correct "
        "choice pays --reward) learnt by Soft Q(lambda) with a learned default policy pi0 (docs/maths.md "
        "section 7). One row per trial: cue, novel, action, correct, reward, action_pe = 1 - pi0(action|cue) "
        "(value-free action prediction error), reward_rpe = reward - Q(cue, action) (the outcome RPE), "
        "value_rpe = reward - V(cue) = reward_rpe + action_term, action_term, value, p_action, prior_action, seed.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_n_trials_option(disc, 400, "trials in the session (default 400)")
    disc.add_argument(
        "--novel-at", type=int, help="trial from which a novel cue (correct action 0) is presented too"
    )
    disc.add_argument(
        "--novel-fraction", type=float, default=0.5, help="share of trials with the novel cue (default 0.5)"
    )
    for name, value in DISCRIMINATION_DEFAULTS.items():
        disc.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=value,
            help=f"agent parameter {name} (default {value})",
        )
    disc.add_argument(
        "--prior-scope",
        choices=("per-state", "marginal"),
        default="per-state",
        help="a learned default policy per cue (a habit; default) or one shared by all cues "
        "(marginal: policy compression)",
    )
    disc.add_argument("--reward", type=float, default=1.0, help="outcome of a correct choice (default 1)")
    disc.add_argument("--error-reward", type=float, default=0.0, help="outcome of an error (default 0)")
    add_seed_option(disc)
    disc.add_argument("--out", required=True, help="CSV file, one row per trial")
    add_quiet_option(disc)
    disc.set_defaults(func=_run_discrimination)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _run_conditioning(args: argparse.Namespace) -> int:
    from dopasoft._memory import require_memory
    from dopasoft.experiments.conditioning import STEP_BYTES, read_session, simulate_conditioning
    from dopasoft.tasks.conditioning.task import ConditioningTask

    if args.session is not None and args.protocol is not None:
        raise ValueError("--session and --protocol are mutually exclusive: give one of them")
    session = read_session(args.session) if args.session is not None else None  # bad rows named first
    inputs = [args.session] if args.session is not None else []
    out = output_file(args.out, inputs=inputs)
    trace_out = output_file(args.trace_out, "--trace-out", inputs=inputs) if args.trace_out else None
    if trace_out is not None and os.path.abspath(trace_out) == os.path.abspath(out):
        raise ValueError(f"--trace-out {args.trace_out} is the same file as --out; give two file names")
    if args.params_out is not None and args.n_subjects is None:
        raise ValueError(
            "--params-out writes the parameters of each animal of --n-subjects; give --n-subjects"
        )
    params_out = output_file(args.params_out, "--params-out", inputs=inputs) if args.params_out else None
    if params_out is not None and os.path.abspath(params_out) in {
        os.path.abspath(out),
        os.path.abspath(trace_out) if trace_out else None,
    }:
        raise ValueError(
            f"--params-out {args.params_out} is the same file as another output; give distinct names"
        )
    protocol = None if session is not None else (args.protocol or "acquisition")
    # the task refuses a trial grid that cannot fit in memory; the session's step table is checked here
    source = session if session is not None else protocol
    if protocol in TIMING_PROTOCOLS:  # trials of up to 2.8 s + 1.5 s
        n_trials = (args.n_trials or 1500) * (args.n_subjects or 1)
        task = ConditioningTask("acquisition", dt=args.dt or 0.2, isi=2.8)
    else:
        task = ConditioningTask(source, dt=args.dt or 0.25, isi=args.isi)
        n_trials = task.n_trials * (args.n_subjects or 1)
    n_steps = n_trials * task.n_bins
    if session is not None:
        grid = f"--session {args.session} with --dt {task.dt:g}"
    else:
        grid = f"--dt {task.dt:g} with --isi {args.isi:g}"
    require_memory(
        STEP_BYTES * n_steps,
        f"{grid} ({n_trials} trials x {task.n_bins} bins = {n_steps} steps)",
        "use a larger --dt or shorter times" + (" (times are in seconds)" if session is not None else ""),
    )
    params = {name: getattr(args, name) for name in CONDITIONING_DEFAULTS if getattr(args, name) is not None}
    timing = protocol in TIMING_PROTOCOLS
    if args.representation in TIMING_MODELS:
        if not timing:
            raise ValueError(
                f"--representation {args.representation} models reward timing: use it with --protocol "
                + ", ".join(TIMING_PROTOCOLS)
            )
        if args.representation == "semi-markov":  # TD(0) at events: no trace, no choice
            unused = [f"--{k.replace('_', '-')}" for k in params if k not in ("alpha", "gamma_per_s")]
            if unused:
                raise ValueError(
                    f"--representation semi-markov takes --alpha and --gamma-per-s, not {', '.join(unused)}"
                )
    extra: dict[str, Any] = {}
    if args.representation != "semi-markov":
        extra["trace"] = args.trace
    if args.p_reward is not None or args.n_trials is not None or args.probe_delays is not None:
        if not timing:
            raise ValueError(
                f"--p-reward, --n-trials and --probe-delays are options of --protocol {', '.join(TIMING_PROTOCOLS)}, not of "
                f"{'--session' if session is not None else protocol}"
            )
        extra.update(p_reward=args.p_reward, n_trials=args.n_trials)
        if args.probe_delays is not None:
            try:
                extra["probe_delays"] = tuple(float(x) for x in args.probe_delays.split(","))
            except ValueError:
                raise ValueError(
                    f"--probe-delays expects seconds separated by commas (0.6,3.4), got {args.probe_delays!r}"
                ) from None
    if args.param_sd and args.n_subjects is None:
        raise ValueError("--param-sd needs --n-subjects (the number of animals)")
    if args.n_subjects is not None:
        extra.update(
            n_subjects=args.n_subjects, param_sd=name_values(args.param_sd, "--param-sd", "NAME=SD", float)
        )
    options = {"isi": args.isi} if not timing else {}
    if args.dt is not None:
        options["dt"] = args.dt
    result = simulate_conditioning(
        protocol,
        session=session,
        representation=args.representation,
        instrumental=args.instrumental,
        seed=args.seed,
        task_options=options,
        **extra,
        **params,
    )
    trials = result.trials
    first = [c for c in ("subject", *_TRIAL_COLUMNS) if c in trials.columns]
    write_csv(trials[first + [c for c in trials.columns if c not in first]], out)
    also = ""
    if trace_out is not None:
        write_csv(result.steps, trace_out)
        also = f" and {len(result.steps)} time steps to {trace_out}"
    if params_out is not None:
        write_csv(result.params, params_out)
        also += f", the animals' parameters to {params_out}"
    what = f"--session {args.session}" if session is not None else f"protocol {protocol}"
    if args.n_subjects is not None:
        what += f", {args.n_subjects} animals"
    summary(args, f"wrote {len(trials)} trials to {out}{also} ({what}, seed {args.seed})")
    return 0


def _run_two_step(args: argparse.Namespace) -> int:
    from dopasoft._memory import require_table_memory
    from dopasoft.experiments import simulate_two_step
    from dopasoft.experiments.two_step import TWO_STEP_ROW_BYTES

    params = params_from_items(args.param)
    require_table_memory(
        TWO_STEP_ROW_BYTES,
        {"subjects (--n-subjects)": args.n_subjects, "trials (--n-trials)": args.n_trials},
        "simulating",
        "use a smaller --n-subjects or --n-trials, or simulate in batches (each with its own --seed)",
    )
    out = output_file(args.out)
    data = simulate_two_step(
        args.n_subjects,
        args.n_trials,
        model=args.model,
        params=params,
        p_common=args.p_common,
        drift_sd=args.drift_sd,
        deterministic=args.deterministic,
        seed=args.seed,
    )
    write_csv(data, out)
    summary(
        args,
        f"wrote {args.n_subjects} subjects x {args.n_trials} trials of two-step data to {out} "
        f"(model {args.model}, seed {args.seed})",
    )
    return 0


def _two_step_epilog() -> str:
    from dopasoft.agents import TWO_STEP_MODELS
    from dopasoft.experiments.two_step import two_step_parameters
    from dopasoft.fitting.models import MODEL_NAMES, get_model

    lines = ["models (--model) and their parameters (--param NAME=VALUE) with their defaults:"]
    two_step = [m for m in MODEL_NAMES if "two-step" in get_model(m).simulation_tasks]
    names = two_step + [m for m in TWO_STEP_MODELS if m == "soft-hybrid"]
    width = max(len(m) for m in names)
    for name in names:
        values = ", ".join(f"{k}={v:g}" for k, v in two_step_parameters(name).items())
        lines.append(f"  {name:<{width}}  {values}")
    lines += [
        "",
        "Options of a fitting model go in its spec (soft-q-lambda+separate_alpha, daw-hybrid+trans_prob=0.8),",
        "as for dopasoft fit; kappa (stickiness) is a parameter of every soft-q-lambda model here.",
        "soft-hybrid is a simulation-only soft hybrid agent (no likelihood; --param w=1 is purely",
        "model-based); it is not daw-hybrid (docs/fitting.md).",
    ]
    return "\n".join(lines)


def _check_discrimination_options(args: argparse.Namespace) -> None:
    """Refuse a bad option with one line naming it (before any work)."""
    if args.novel_at is not None and not 0 <= args.novel_at < args.n_trials:
        raise ValueError(f"--novel-at must be a trial in 0..{args.n_trials - 1}, got {args.novel_at}")
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
    from dopasoft._memory import require_table_memory
    from dopasoft.experiments.discrimination import DISCRIMINATION_TRIAL_BYTES, discrimination_experiment

    _check_discrimination_options(args)
    require_table_memory(
        DISCRIMINATION_TRIAL_BYTES,
        {"trials (--n-trials)": args.n_trials},
        "simulating",
        "use a smaller --n-trials",
    )
    out = output_file(args.out)
    table = discrimination_experiment(
        args.n_trials,
        novel_at=args.novel_at,
        novel_fraction=args.novel_fraction,
        alpha=args.alpha,
        tau=args.tau,
        prior_rate=args.prior_rate,
        prior_scope=args.prior_scope,
        reward=args.reward,
        error_reward=args.error_reward,
        seed=args.seed,
    )
    write_csv(table, out)
    summary(args, f"wrote {len(table)} trials to {out} (seed {args.seed})")
    return 0
