"""``dopasoft recover``: parameter recovery (``--model``) or model recovery (``--models A,B,...``).

Parameter recovery simulates agents with the model's own kernel, fits them and compares the estimates
with the truth; model recovery (Wilson & Collins 2019) simulates from each model, fits every model
and writes the confusion and inversion matrices.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from dopasoft.cli.fit import add_model_options, check_fit_memory, model_from_args
from dopasoft.cli.outputs import output_dir
from dopasoft.fitting.mle import fit
from dopasoft.fitting.models import FAMILIES, get_model
from dopasoft.fitting.recovery import model_recovery, recovery_table
from dopasoft.fitting.simulate import sample_parameters, simulate_choices


def _check_n_subjects(args: argparse.Namespace, least: int) -> None:
    if args.n_subjects < least:
        raise ValueError(f"--n-subjects must be at least {least}, got {args.n_subjects}")


def run_model_recovery(args: argparse.Namespace) -> int:
    """Model recovery over ``--models``: write the matrices and per-subject tables into ``--out``."""
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    changed = [
        "--" + o.name.replace("_", "-")
        for fam in FAMILIES
        for o in fam.options
        if getattr(args, o.name) != o.default
    ]
    if changed or args.fix or args.bound:
        what = "/".join(changed + ["--fix"] * bool(args.fix) + ["--bound"] * bool(args.bound))
        raise ValueError(
            f"with --models, give model options in each model's spec (e.g. soft-q-lambda+kappa, "
            f"soft-q-lambda+gamma=0.9, daw-hybrid+trans_prob=0.8); {what} apply to --model only"
        )
    _check_n_subjects(args, 1)
    output_dir(args.out)
    for name in names:
        m = get_model(name)
        check_fit_memory(
            args.n_subjects, args.chunk_size, args.n_starts, len(m.param_names), len(m.param_names)
        )
    res = model_recovery(
        names,
        args.n_subjects,
        n_trials=args.n_trials,
        seed=args.seed,
        n_starts=args.n_starts,
        criterion=args.criterion,
        task=args.task,
        chunk_size=args.chunk_size,
    )
    res.confusion.to_csv(os.path.join(args.out, "confusion.csv"))
    res.inversion.to_csv(os.path.join(args.out, "inversion.csv"))
    res.counts.to_csv(os.path.join(args.out, "counts.csv"))
    res.subjects.to_csv(os.path.join(args.out, "best_fits.csv"), index=False)
    res.true_params.to_csv(os.path.join(args.out, "true_params.csv"), index=False)
    res.data.to_csv(os.path.join(args.out, "data.csv"), index=False)
    for lab, table in res.fits.items():
        table.assign(model=lab).to_csv(os.path.join(args.out, f"fits_{lab}.csv"), index=False)
    print(
        f"model recovery: {len(names)} models x {args.n_subjects} subjects x {args.n_trials} trials "
        f"({args.task}) -> {args.out}"
    )
    print(res.summary())
    return 0


def run_recover(args: argparse.Namespace) -> int:
    """Parameter recovery of ``--model`` or model recovery over ``--models``."""
    if (args.model is None) == (args.models is None):
        raise ValueError("give either --model NAME (parameter recovery) or --models A,B,... (model recovery)")
    if args.models is not None:
        return run_model_recovery(args)
    model, fixed, bounds = model_from_args(args)
    _check_n_subjects(args, 2)
    output_dir(args.out)
    n_free = len([p for p in model.param_names if p not in fixed])
    check_fit_memory(args.n_subjects, args.chunk_size, args.n_starts, n_free, len(model.param_names))
    rng = np.random.default_rng(args.seed)
    true = sample_parameters(model, args.n_subjects, rng)
    for k, v in fixed.items():
        true[k] = v
    true.insert(0, "subject", [f"sub{i:04d}" for i in range(args.n_subjects)])
    data = simulate_choices(model, true, n_trials=args.n_trials, seed=rng, task=args.task)
    res = fit(
        data,
        model,
        n_starts=args.n_starts,
        seed=args.seed,
        fixed=fixed,
        bounds=bounds,
        chunk_size=args.chunk_size,
    )
    free = [p for p in model.param_names if p not in fixed]
    table = recovery_table(true, res.params, free)
    true.to_csv(os.path.join(args.out, "true_params.csv"), index=False)
    data.to_csv(os.path.join(args.out, "data.csv"), index=False)
    res.params.to_csv(os.path.join(args.out, "fits.csv"), index=False)
    table.to_csv(os.path.join(args.out, "recovery.csv"), index=False)
    print(
        f"parameter recovery, model {model.name!r}, {args.n_subjects} subjects x "
        f"{args.n_trials} trials ({args.task})"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def register(subparsers) -> None:
    """Add the ``recover`` sub-command."""
    p = subparsers.add_parser(
        "recover",
        help="parameter recovery (--model) or model recovery (--models A,B,...)",
        description="Parameter recovery: simulate --n-subjects agents of --model, fit them, correlate "
        "estimates with the truth. Model recovery: simulate --n-subjects agents of each of --models, "
        "fit every model, write the confusion matrix p(best fit | generating) and the inversion matrix "
        "p(generating | best fit).",
    )
    p.add_argument("--n-subjects", type=int, required=True, help="subjects (per generating model)")
    p.add_argument("--n-trials", type=int, default=200)
    p.add_argument("--task", choices=("two-step", "bandit"), default="two-step")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--models",
        default=None,
        metavar="A,B,...",
        help="model recovery over these comma-separated models; a model's options go in its spec, "
        "e.g. soft-q-lambda,soft-q-lambda+kappa,daw-hybrid",
    )
    p.add_argument(
        "--criterion", choices=("bic", "aic"), default="bic", help="model recovery: best fit by (default bic)"
    )
    add_model_options(p)
    for action in p._actions:  # --model or --models: exactly one (checked in run_recover)
        if action.dest == "model":
            action.required = False
    p.set_defaults(func=run_recover)
