"""Cohorts of animals: per-animal parameters drawn with a seed, tables with ``subject``, mean ± SEM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dopasoft.analysis.dopamine import (
    aligned_traces,
    cohort_mean,
    probability_scaling,
    rpe_by_delay,
    rpe_by_trial_type,
)
from dopasoft.analysis.dopamine_figures import plot_probability_scaling, plot_rpe_transfer
from dopasoft.experiments.conditioning import draw_subject_params, simulate_conditioning
from dopasoft.tasks.conditioning import make_protocol


@pytest.fixture(scope="module")
def cohort():
    return simulate_conditioning(
        "variable-delay",
        representation="belief-state",
        p_reward=0.9,
        n_trials=120,
        n_subjects=4,
        param_sd={"alpha": 0.05, "gamma_per_s": 0.02},
        seed=11,
    )


def test_each_animal_is_an_ordinary_run_with_its_own_parameters(cohort):
    params = cohort.params
    assert params["subject"].tolist() == [0, 1, 2, 3]
    assert params["alpha"].nunique() == 4 and params["gamma_per_s"].nunique() == 4
    assert ((params["alpha"] > 0) & (params["alpha"] <= 1)).all()
    assert (params["lam_per_s"] == 0.0).all()  # belief-state TD(0), not varied
    assert list(cohort.trials.columns[:2]) == ["subject", "trial"]
    assert list(cohort.steps.columns[:1]) == ["subject"]
    for s, run in enumerate(cohort.subjects):
        mine = cohort.trials[cohort.trials["subject"] == s].drop(columns="subject").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, run.trials.reset_index(drop=True))
        assert run.agent.alpha == pytest.approx(params.loc[s, "alpha"])
        assert run.agent.gamma ** (1 / run.task.dt) == pytest.approx(params.loc[s, "gamma_per_s"], rel=1e-12)
    # animals differ in their sessions (delays drawn per animal), not only in their parameters
    first = cohort.trials[cohort.trials["subject"] == 0]["reward_time"].to_numpy()
    second = cohort.trials[cohort.trials["subject"] == 1]["reward_time"].to_numpy()
    assert not np.array_equal(first, second)


def test_same_seed_same_cohort(cohort):
    again = simulate_conditioning(
        "variable-delay",
        representation="belief-state",
        p_reward=0.9,
        n_trials=120,
        n_subjects=4,
        param_sd={"alpha": 0.05, "gamma_per_s": 0.02},
        seed=11,
    )
    pd.testing.assert_frame_equal(again.trials, cohort.trials)
    pd.testing.assert_frame_equal(again.params, cohort.params)


def test_mean_and_sem_across_animals(cohort):
    table = rpe_by_delay(cohort, skip=0.0)
    summary = cohort_mean(table, "reward_time", "reward_rpe").set_index("reward_time")
    t = cohort.trials[cohort.trials["rewarded"].astype(bool)]
    per_animal = t.groupby(["reward_time", "subject"])["reward_rpe"].mean().unstack()
    np.testing.assert_allclose(summary["mean"], per_animal.mean(axis=1), rtol=1e-12)
    sem = per_animal.std(axis=1, ddof=1) / np.sqrt(per_animal.notna().sum(axis=1))
    np.testing.assert_allclose(summary["sem"], sem, rtol=1e-12)
    assert (summary["n_subjects"] == per_animal.notna().sum(axis=1)).all()


def test_parameter_draws_follow_the_normal_truncated_to_the_domain():
    rng = np.random.default_rng(0)
    t = draw_subject_params({"alpha": 0.3, "tau": 1.0}, {"alpha": 0.05}, 4000, rng)
    assert t["alpha"].mean() == pytest.approx(0.3, abs=0.005)
    assert t["alpha"].std() == pytest.approx(0.05, rel=0.05)
    wide = draw_subject_params({"alpha": 0.9}, {"alpha": 0.5}, 2000, rng)
    assert ((wide["alpha"] > 0) & (wide["alpha"] <= 1)).all()
    assert (t["tau"] == 1.0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"param_sd": {"alpha": 0.1}}, "param_sd needs n_subjects"),
        ({"n_subjects": 2, "param_sd": {"trace": 0.1}}, "'trace' cannot vary"),
        ({"n_subjects": 2, "param_sd": {"alpha": -1.0}}, "must be a number >= 0"),
        ({"n_subjects": 0}, "n_subjects must be an integer >= 1"),
        (
            {"n_subjects": 2, "param_sd": {"lam_per_s": 0.1}, "representation": "semi-markov"},
            "not a parameter of this model",
        ),
    ],
)
def test_bad_cohort_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_conditioning(
            "variable-delay" if "representation" in kwargs else "acquisition", seed=0, **kwargs
        )


def test_command_line_cohort(tmp_path):
    from dopasoft.cli import main

    out = tmp_path / "cohort.csv"
    args = ["simulate", "conditioning", "--protocol", "acquisition", "--n-subjects", "2"]
    params_out = tmp_path / "params.csv"
    options = ["--param-sd", "alpha=0.02", "--seed", "5", "--out", str(out), "--params-out", str(params_out)]
    assert main([*args, *options, "--quiet"]) == 0
    got = pd.read_csv(out)
    want = simulate_conditioning("acquisition", n_subjects=2, param_sd={"alpha": 0.02}, seed=5).trials
    assert got["subject"].tolist() == want["subject"].tolist()
    np.testing.assert_allclose(got["cue_rpe"], want["cue_rpe"], rtol=1e-12)
    drawn = pd.read_csv(params_out)
    expected = simulate_conditioning("acquisition", n_subjects=2, param_sd={"alpha": 0.02}, seed=5).params
    np.testing.assert_allclose(drawn["alpha"], expected["alpha"], rtol=1e-12)
    assert drawn["subject"].tolist() == [0, 1]
    assert main(["simulate", "conditioning", "--param-sd", "alpha=0.02", "--out", str(out)]) == 2


def test_per_trial_type_summaries_average_animals_first():
    protocol = make_protocol("partial", [("training", {"A-": 60, "C+ p=0.5": 60, "E+": 60})])
    cohort = simulate_conditioning(protocol, n_subjects=3, param_sd={"alpha": 0.03}, seed=2)
    table = probability_scaling(cohort, last=50).set_index("trial_type")
    t = cohort.trials.groupby(["subject", "trial_type"]).tail(50)
    for trial_type, row in table.iterrows():
        mine = t[t["trial_type"] == trial_type]
        rewarded = mine[mine["rewarded"].astype(bool)].groupby("subject")["reward_rpe"].mean()
        cue = mine.groupby("subject")["cue_rpe"].mean()
        assert row["cue_rpe"] == pytest.approx(cue.mean(), rel=1e-12)
        assert row["cue_rpe_sem"] == pytest.approx(cue.std(ddof=1) / np.sqrt(3), rel=1e-12)
        if len(rewarded):
            assert row["rpe_rewarded"] == pytest.approx(rewarded.mean(), rel=1e-12)
        assert row["n_subjects"] == 3
    by_type = rpe_by_trial_type(cohort, last=50).set_index("trial_type")
    assert by_type.loc["E+", "cue_rpe"] == pytest.approx(table.loc["E+", "cue_rpe"], rel=1e-12)
    fig = plot_probability_scaling(cohort, last=50)
    assert "across 3 animals" in fig._suptitle.get_text()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # no traces panel for a cohort
    # what cannot average animals says so instead of drawing one animal's trials
    with pytest.raises(ValueError, match="3 animals"):
        aligned_traces(cohort, "delta")
    with pytest.raises(ValueError, match="cohort.subjects"):
        plot_rpe_transfer(cohort)


def test_training_curves_of_a_cohort_are_mean_and_sem_across_animals():
    from matplotlib.collections import PolyCollection

    from dopasoft.analysis.dopamine_figures import plot_rpe_across_training

    cohort = simulate_conditioning(
        make_protocol("two", [("training", {"A+": 30, "B+ p=0.5": 30})]),
        n_subjects=4,
        param_sd={"alpha": 0.05},
        seed=8,
    )
    fig = plot_rpe_across_training(cohort, trial_types=["A+"], signals=["cue_rpe"])
    ax = fig.axes[0]
    a = cohort.trials[cohort.trials["trial_type"] == "A+"]
    a = a.assign(k=a.groupby("subject").cumcount())
    per_k = a.pivot(index="k", columns="subject", values="cue_rpe")
    line = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 30][0]
    np.testing.assert_allclose(line.get_ydata(), per_k.mean(axis=1), rtol=1e-12)
    band = [c for c in ax.collections if isinstance(c, PolyCollection)][0]
    top = band.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx((per_k.mean(axis=1) + per_k.sem(axis=1)).max(), rel=1e-9)
    assert "across 4 animals" in ax.get_title(loc="left")
