"""``dopasoft demo``: the whole pipeline on built-in defaults — model dopamine, a two-step cohort, fits,
model comparison, stay analysis — writing figures and CSV tables into one directory.

Everything is simulated (no download) from the defaults below and a seed; ``--quick`` runs a reduced
version (fewer subjects, trials, starts and models) in a few seconds, for tests and a first look.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dopasoft.cli import parse_formats, report_written
from dopasoft.cli.options import add_n_subjects_option, add_n_trials_option, add_quiet_option, add_seed_option
from dopasoft.cli.outputs import output_dir, write_csv

__all__ = ["DEMO_DEFAULTS", "QUICK_DEFAULTS", "DEMO_MODELS", "run_demo", "register"]

DEMO_MODELS: tuple[str, ...] = (
    "soft-q-lambda+kappa",
    "soft-q-lambda-uncorrected+kappa",
    "soft-q-lambda-on-policy+kappa",
    "daw-hybrid",
)
"""Models fitted by the demo (soft Q models with the stickiness ``kappa``); the first generates the data."""

DEMO_DEFAULTS: dict[str, Any] = {"n_subjects": 40, "n_trials": 200, "n_starts": 5, "models": DEMO_MODELS}
QUICK_DEFAULTS: dict[str, Any] = {
    "n_subjects": 8,
    "n_trials": 100,
    "n_starts": 2,
    "models": ("soft-q-lambda+kappa", "soft-q-lambda-uncorrected+kappa"),
}


def _model(name: str):
    from dopasoft.fitting import get_model

    return get_model(name)


def run_demo(
    out: str | os.PathLike = "dopasoft-demo",
    *,
    quick: bool = False,
    n_subjects: int | None = None,
    n_trials: int | None = None,
    n_starts: int | None = None,
    models: Sequence[str] | None = None,
    seed: int = 0,
    formats: Sequence[str] = ("png", "pdf"),
    progress: bool = True,
) -> list[Path]:
    """Run the demo pipeline and write its figures and tables into ``out``.

    1. Conditioning (linear Soft Q(λ) = TD(λ), CSC features, default parameters): acquisition (RPE
       transfer from reward to cue), blocking with an AB+-only control, partial reinforcement
       (probability scaling).
    2. A two-step cohort simulated from ``models[0]`` with parameters drawn uniformly in each
       parameter's start range (:func:`dopasoft.fitting.sample_parameters`).
    3. Maximum-likelihood fits of every model; parameter recovery for the generating model.
    4. Model comparison (ΔAIC/ΔBIC, random-effects BMS with protected exceedance probabilities).
    5. Stay analysis (probabilities, regressions) and a posterior predictive check.
    6. Value composition: two gridworld goals learnt apart with Soft Q(λ) and composed without new
       learning (:func:`dopasoft.experiments.composition.composition_experiment`).
    7. Dopamine and time: belief-state TD in the variable-delay tasks with 100 % and 90 % of rewards
       delivered (one animal each; reward RPE against delay, Starkweather et al. 2017), and
       distributional TD (a population of units with asymmetric learning rates, Dabney et al. 2020).

    Parameters
    ----------
    out : path
        Output directory (created).
    quick : bool
        Reduced sizes (:data:`QUICK_DEFAULTS`) instead of :data:`DEMO_DEFAULTS`.
    n_subjects, n_trials, n_starts, models
        Override the sizes and the fitted models.
    seed : int
        Seed of every simulation and of the fits' random starts.
    formats : sequence of str
        Figure formats (``png``, ``pdf``, ``svg``).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of pathlib.Path
        Files written.
    """
    from tqdm.auto import tqdm

    from dopasoft import analysis as an
    from dopasoft.experiments.conditioning import simulate_conditioning
    from dopasoft.fitting import fit, sample_parameters, simulate_choices
    from dopasoft.tasks.conditioning import make_protocol

    cfg = dict(QUICK_DEFAULTS if quick else DEMO_DEFAULTS)
    for key, value in (
        ("n_subjects", n_subjects),
        ("n_trials", n_trials),
        ("n_starts", n_starts),
        ("models", models),
    ):
        if value is not None:
            cfg[key] = tuple(value) if key == "models" else value
    if cfg["n_subjects"] < 3:
        raise ValueError(f"the demo needs at least 3 subjects, got n_subjects={cfg['n_subjects']}")
    if len(cfg["models"]) < 2:
        raise ValueError(f"the demo compares at least two models, got {list(cfg['models'])}")
    from dopasoft.cli.fit import check_fit_memory

    for name in cfg["models"]:  # the demo fits all subjects in one batch
        k = len(_model(name).param_names)
        check_fit_memory(cfg["n_subjects"], None, cfg["n_starts"], k, k)
    outdir = output_dir(out)
    written: list[Path] = []
    ss = np.random.SeedSequence(seed)
    seeds = iter(ss.spawn(16))

    def table(df: pd.DataFrame, name: str) -> None:
        path = outdir / f"{name}.csv"
        write_csv(df, path)
        written.append(path)

    def figure(fig: Any, name: str) -> None:
        written.extend(an.save_figure(fig, outdir / name, formats=formats))

    steps: list[tuple[str, Callable[[], None]]] = []
    state: dict[str, Any] = {}

    def conditioning() -> None:
        acq = simulate_conditioning("acquisition", seed=np.random.default_rng(next(seeds)))
        table(acq.trials, "conditioning_acquisition")
        figure(an.plot_rpe_transfer(acq), "rpe_transfer")
        blk = simulate_conditioning("blocking", seed=np.random.default_rng(next(seeds)))
        control = make_protocol(
            "blocking-control",
            [("compound", {"AB+": 200}), ("test", {"A?": 10, "B?": 10})],
            description="control for blocking: AB+ without A+ pretraining",
        )
        ctl = simulate_conditioning(control, seed=np.random.default_rng(next(seeds)))
        table(blk.trials, "conditioning_blocking")
        table(ctl.trials, "conditioning_blocking_control")
        figure(an.plot_blocking(blk, ctl), "blocking")
        pr = simulate_conditioning("partial-reinforcement", seed=np.random.default_rng(next(seeds)))
        table(pr.trials, "conditioning_partial_reinforcement")
        table(an.probability_scaling(pr), "probability_scaling")
        figure(an.plot_probability_scaling(pr), "probability_scaling")

    def cohort() -> None:
        rng = np.random.default_rng(next(seeds))
        gen = _model(cfg["models"][0])
        true = sample_parameters(gen, cfg["n_subjects"], rng)
        true.insert(0, "subject", [f"sub{i:03d}" for i in range(cfg["n_subjects"])])
        data = simulate_choices(gen, true, n_trials=cfg["n_trials"], seed=rng)
        data = data[["subject", "trial", "choice1", "state2", "choice2", "reward"]]
        state.update(true=true.assign(model=gen.name), data=data)
        table(state["true"], "true_params")
        table(data, "two_step_data")

    def fitting() -> None:
        fits = {}
        for name in cfg["models"]:
            res = fit(state["data"], _model(name), n_starts=cfg["n_starts"], seed=seed)
            fits[name] = res.params.assign(model=name)
            table(fits[name], f"fits_{name}")
        state["fits"] = fits
        gen = cfg["models"][0]
        table(an.parameter_table(fits[gen]), "parameters")
        table(an.recovery_table(state["true"], fits[gen], list(_model(gen).param_names)), "recovery")
        figure(an.plot_recovery(state["true"], fits[gen], list(_model(gen).param_names)), "recovery")

    def comparison() -> None:
        cmp_table, _ = an.compare_models(state["fits"])
        table(cmp_table, "model_comparison")
        figure(an.plot_model_comparison(cmp_table), "model_comparison")

    def stay() -> None:
        data = state["data"]
        table(an.stay_probabilities(data), "stay_probabilities")
        table(an.group_stay_probabilities(an.stay_probabilities(data)), "stay_probabilities_group")
        table(an.stay_regression(data), "stay_regression")
        table(an.pooled_stay_regression(data).reset_index(), "stay_regression_pooled")
        table(an.mb_mf_indices(data), "mb_mf_indices")
        figure(an.plot_two_step_stay(data), "two_step_stay")

    def predictive() -> None:
        data, fits = state["data"], state["fits"]
        rng = np.random.default_rng(next(seeds))
        first = _model(cfg["models"][0]).family  # the generating model and one of another family
        names = [cfg["models"][0]] + [m for m in cfg["models"][1:] if _model(m).family != first][:1]
        sims = {m: an.posterior_predictive(data, fits[m], n_sims=2, seed=rng) for m in names}
        table(an.posterior_predictive_table(data, sims), "posterior_predictive")
        figure(an.plot_posterior_predictive(data, sims), "posterior_predictive")

    def composition() -> None:
        from dopasoft.experiments.composition import composition_experiment

        comp_seed = int(np.random.default_rng(next(seeds)).integers(2**31))
        res = composition_experiment(n_steps=3000 if quick else 10_000, seed=comp_seed)
        table(res.curves, "composition_curves")
        figure(an.plot_composition(res), "composition")

    def own_data() -> None:
        # model dopamine for "your own" subjects: replay the generating model's fits through each
        # subject's choices, build a SYNTHETIC recording from the replayed delta (documented as such),
        # and recover its coefficients with the neural GLM
        from dopasoft.fitting import replay

        gen = cfg["models"][0]
        signals = replay(state["data"], gen, state["fits"][gen])
        table(signals, "replay_signals")
        rng = np.random.default_rng(next(seeds))
        recording = an.synthetic_recording(signals, {"delta": 1.5}, stage=2, seed=rng)
        table(recording, "synthetic_recording")
        glm = an.neural_glm(signals, recording, "y ~ value_rpe + action_term", stage=2)
        table(glm.coefficients, "neural_glm")
        figure(
            an.plot_recorded_vs_model(signals, recording, glm, signal="delta", stage=2), "recorded_vs_model"
        )

    def action_prediction() -> None:
        from dopasoft.experiments.discrimination import discrimination_experiment

        n = 200 if quick else 400
        ape_seed = int(np.random.default_rng(next(seeds)).integers(2**31))
        run = discrimination_experiment(n, novel_at=n * 3 // 4, seed=ape_seed)
        replayed = discrimination_experiment(
            n, novel_at=n * 3 // 4, seed=ape_seed, actions=run["action"], reward=0.0, error_reward=1.0
        )
        table(run, "action_prediction")
        figure(an.plot_action_prediction_errors(run, replay=replayed), "action_prediction")

    def convergence() -> None:
        from dopasoft.experiments.convergence import convergence_experiment

        res = convergence_experiment(3000 if quick else 10_000, chain_seeds=2 if quick else 5)
        table(res.curves, "convergence_curves")
        figure(an.plot_convergence(res), "convergence")

    def timing() -> None:
        from dopasoft.experiments.conditioning import simulate_conditioning as sim
        from dopasoft.experiments.distributional import distributional_rpe

        # one animal per task at the protocol's default 1500 trials (about a second in all, also with
        # --quick: with 600 trials the 100 % task has not learned the hazard yet and its slope is > 0)
        runs = {
            task: sim(
                "variable-delay",
                p_reward=p,
                representation="belief-state",
                seed=np.random.default_rng(next(seeds)),
            )
            for task, p in (("100 % rewarded", 1.0), ("90 % rewarded", 0.9))
        }
        slopes = pd.DataFrame(
            [
                {"task": task, "p_reward": p, "slope_per_s": float(an.delay_slope(runs[task]).mean())}
                for task, p in (("100 % rewarded", 1.0), ("90 % rewarded", 0.9))
            ]
        )
        table(slopes, "reward_timing_slopes")
        figure(an.plot_reward_timing({"Belief-state TD": runs}), "reward_timing")
        dist = distributional_rpe(n_trials=5000 if quick else 20_000, seed=np.random.default_rng(next(seeds)))
        table(dist.units, "distributional_units")
        figure(an.plot_distributional_rpe(dist), "distributional_rpe")

    steps = [
        ("conditioning: acquisition, blocking, partial reinforcement", conditioning),
        (f"two-step cohort: {cfg['n_subjects']} subjects x {cfg['n_trials']} trials", cohort),
        (f"fitting {len(cfg['models'])} models ({cfg['n_starts']} starts)", fitting),
        ("model comparison", comparison),
        ("stay analysis", stay),
        ("posterior predictive check", predictive),
        ("model dopamine for the subjects' own choices: replay, neural GLM", own_data),
        ("action prediction errors: a learned default policy", action_prediction),
        ("value composition: two goals learnt apart, composed", composition),
        ("convergence to Q* off-policy, and what traces are for", convergence),
        ("dopamine and time: belief-state TD at variable delays, distributional TD", timing),
    ]
    from dopasoft.fitting.compilation import is_ready

    first_run = not is_ready(_model(cfg["models"][0]).compiled_functions())
    desc = "dopasoft demo (first run: compiling as it goes)" if first_run else "dopasoft demo"
    start = time.perf_counter()
    with tqdm(total=len(steps), desc=desc, unit="step", disable=not progress) as bar:
        for label, step in steps:
            bar.set_postfix_str(label, refresh=True)
            step()
            bar.update(1)
    state["elapsed"] = time.perf_counter() - start
    return written


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    formats = parse_formats(args.format)
    written = run_demo(
        args.out,
        quick=args.quick,
        seed=args.seed,
        formats=formats,
        progress=not args.quiet,
        n_subjects=args.n_subjects,
        n_trials=args.n_trials,
        n_starts=args.n_starts,
    )
    report_written("demo", written, args.out, formats, time.perf_counter() - start, quiet=args.quiet)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on built-in defaults and write figures and tables",
        description="Simulate conditioning phenomena (model dopamine) and a two-step cohort, fit and "
        "compare the choice models, run the stay analysis, and write figures and CSV tables.",
    )
    p.add_argument("--out", default="dopasoft-demo", help="output directory (default dopasoft-demo/)")
    p.add_argument("--quick", action="store_true", help="reduced sizes: a few seconds instead of ~1 min")
    add_seed_option(p, "every simulation and of the fits' random starts")
    p.add_argument("--format", default="png,pdf", help="figure formats, comma-separated (png,pdf,svg)")
    add_n_subjects_option(p, None, "two-step cohort size (default 40; 8 with --quick)")
    add_n_trials_option(p, None, "trials per subject (default 200; 100 with --quick)")
    p.add_argument(
        "--n-starts", type=int, metavar="N", help="fitting starts per subject (default 5; 2 with --quick)"
    )
    add_quiet_option(p, "no progress bar and no summary")
    p.set_defaults(func=_run)
