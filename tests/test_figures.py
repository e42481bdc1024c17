"""Every figure renders headless (Agg) with the expected axes, labels with units, panel letters and no
overlapping text; saving writes vector and raster files; ``dopasoft figures`` detects file kinds."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import dopasoft as ds  # noqa: E402
from dopasoft import analysis as an  # noqa: E402
from dopasoft.cli import main  # noqa: E402
from dopasoft.experiments.conditioning import simulate_conditioning  # noqa: E402
from dopasoft.tasks.conditioning import make_protocol  # noqa: E402

# ------------------------------------------------------------------------------------------------
# fixtures: small inputs


@pytest.fixture(scope="module")
def acquisition():
    return simulate_conditioning("acquisition", seed=0)


@pytest.fixture(scope="module")
def blocking():
    control = make_protocol("control", [("compound", {"AB+": 100}), ("test", {"A?": 5, "B?": 5})])
    return simulate_conditioning("blocking", seed=0), simulate_conditioning(control, seed=1)


@pytest.fixture(scope="module")
def partial():
    return simulate_conditioning("partial-reinforcement", seed=0)


@pytest.fixture(scope="module")
def two_step():
    return ds.experiments.simulate_two_step(6, 120, model="soft-hybrid", seed=2)


@pytest.fixture(scope="module")
def fits():
    """Synthetic fits of two models for 6 subjects (no fitting needed to draw)."""
    rng = np.random.default_rng(0)
    subjects = [str(s) for s in range(6)]
    true = pd.DataFrame(
        {
            "subject": subjects,
            "alpha": rng.uniform(0.2, 0.8, 6),
            "tau": rng.uniform(0.1, 0.4, 6),
            "lam": rng.uniform(0.2, 0.9, 6),
            "kappa": rng.uniform(-0.5, 0.5, 6),
        }
    )
    sq = true.copy()
    for p in ("alpha", "tau", "lam", "kappa"):
        sq[p] = sq[p] + rng.normal(0, 0.05, 6)
    sq["tau"] = sq["tau"].clip(0.02)
    sq["alpha"] = sq["alpha"].clip(0.01, 0.99)
    sq["lam"] = sq["lam"].clip(0.0, 1.0)
    sq = sq.assign(nll=rng.uniform(100, 120, 6), n_choices=240, converged=True, model="soft-q-lambda")
    sq["aic"], sq["bic"] = 2 * sq["nll"] + 8, 2 * sq["nll"] + 4 * np.log(240)
    hy = pd.DataFrame(
        {
            "subject": subjects,
            "alpha1": 0.5,
            "beta1": 3.0,
            "alpha2": 0.5,
            "beta2": 3.0,
            "pers": 0.2,
            "w": rng.uniform(0, 1, 6),
            "lam": 0.5,
            "nll": sq["nll"] + 5,
            "n_choices": 240,
            "model": "daw-hybrid",
        }
    )
    hy["aic"], hy["bic"] = 2 * hy["nll"] + 14, 2 * hy["nll"] + 7 * np.log(240)
    return true, {"soft-q-lambda": sq, "daw-hybrid": hy}


# ------------------------------------------------------------------------------------------------
# checks


def _main_axes(fig: Figure) -> list:
    # colour bars are axes too; they carry a '_colorbar' attribute in recent matplotlib
    return [ax for ax in fig.axes if ax.get_visible() and not hasattr(ax, "_colorbar")]


def _texts(fig: Figure) -> list:
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    items = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        cands = [ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title, ax._right_title, *ax.texts]
        # only the ticks that are drawn (labels of ticks outside the view keep stale positions)
        cands += [tick.label1 for axis in (ax.xaxis, ax.yaxis) for tick in axis._update_ticks()]
        legend = ax.get_legend()
        if legend is not None:
            cands += list(legend.get_texts())
            if legend.get_title().get_text():
                cands.append(legend.get_title())
        for t in cands:
            if t.get_visible() and t.get_text().strip():
                items.append((t.get_text(), t.get_window_extent(renderer)))
    return items


def check_figure(fig, n_axes: int, letters: bool = True) -> list:
    """Common checks; returns the main axes."""
    assert isinstance(fig, Figure)
    axes = _main_axes(fig)
    assert len(axes) == n_axes
    for ax in axes:
        shared = len(ax.get_shared_y_axes().get_siblings(ax)) > 1
        assert ax.get_ylabel().strip() or shared, "an axes without a y label"
    if letters and n_axes > 1:
        found = sorted(t.get_text() for ax in axes for t in ax.texts if len(t.get_text()) == 1)
        assert found == list("abcdefgh"[:n_axes])
    overlaps = []
    for (ta, ba), (tb, bb) in itertools.combinations(_texts(fig), 2):
        inter_w = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        inter_h = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if inter_w > 1 and inter_h > 1:
            overlaps.append((ta, tb))
    assert not overlaps, f"overlapping text: {overlaps}"
    return axes


# ------------------------------------------------------------------------------------------------
# two-step


def test_two_step_stay_figure(two_step):
    fig = an.plot_two_step_stay(two_step)
    a, b = check_figure(fig, 2)
    assert a.get_ylabel() == "P(repeat first-stage choice)"
    assert a.get_xlabel() == "Previous outcome"
    assert [t.get_text() for t in a.get_xticklabels()] == ["Rewarded", "Unrewarded"]
    assert "log-odds" in b.get_ylabel()
    assert {t.get_text() for t in a.get_legend().get_texts()} == {"Common transition", "Rare transition"}


def test_single_panel_two_step_figures(two_step):
    fig = an.plot_stay_probabilities(two_step, predicted={"model": two_step})
    (ax,) = check_figure(fig, 1)
    assert "model" in {t.get_text() for t in ax.get_legend().get_texts()}
    (ax,) = check_figure(an.plot_stay_regression(two_step), 1)
    assert ax.get_title().startswith("bars: pooled fit")


# ------------------------------------------------------------------------------------------------
# dopamine


def test_rpe_transfer_figure(acquisition):
    fig = an.plot_rpe_transfer(acquisition)
    a, b, c, d = check_figure(fig, 4)
    assert a.get_xlabel() == "Time from cue onset (s)" and "reward units" in a.get_ylabel()
    assert b.get_ylabel() == "Trial" and b.images
    assert any("reward units" in ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar"))
    assert c.get_xlabel() == "Trial"
    assert {t.get_text() for t in c.get_legend().get_texts()} == {"Cue", "Reward"}
    assert "ΔF/F" in d.get_ylabel()


def test_blocking_figure(blocking):
    fig = an.plot_blocking(*blocking)
    a, b = check_figure(fig, 2)
    assert [t.get_text() for t in b.get_xticklabels()] == ["Cue A", "Cue B"]
    assert "reward units" in b.get_ylabel()
    heights = [p.get_height() for p in b.patches]
    assert heights[1] == pytest.approx(0, abs=0.05)  # B blocked
    assert heights[3] > 0.2  # B learnt in the control


def test_probability_scaling_figure(partial):
    fig = an.plot_probability_scaling(partial)
    a, b, c = check_figure(fig, 3)
    assert a.get_xlabel() == "Reward probability p" and "reward units" in a.get_ylabel()
    assert c.get_xlabel() == "Time from cue onset (s)"
    fig2 = an.plot_probability_scaling(partial.trials)  # without steps: two panels
    check_figure(fig2, 2)


def test_single_dopamine_panels(acquisition):
    traces = an.aligned_traces(acquisition, align="reward")
    (ax,) = check_figure(an.plot_traces(traces, trials=[0, 199]), 1)
    assert ax.get_xlabel() == "Time from reward (s)"
    (ax,) = check_figure(an.plot_heatmap(traces, xlabel="Time from reward (s)"), 1)
    photo = an.convolve_photometry(traces.loc[[0, 199]])
    check_figure(an.plot_traces(photo, markers=False, ylabel="Model ΔF/F (a.u.)"), 1)
    check_figure(an.plot_rpe_across_training(acquisition, trial_types=["A+"]), 1)
    with pytest.raises(ValueError, match="unknown trial type"):
        an.plot_rpe_across_training(acquisition, trial_types=["Z+"])


# ------------------------------------------------------------------------------------------------
# fits


def test_recovery_figure(fits):
    true, f = fits
    fig = an.plot_recovery(true, f["soft-q-lambda"])
    axes = check_figure(fig, 4)
    assert [ax.get_title() for ax in axes][1] == "τ, temperature (reward units)"
    assert all(ax.get_xlabel() == "True" and ax.get_ylabel() == "Estimated" for ax in axes)
    assert all(any(t.get_text().startswith("r = ") for t in ax.texts) for ax in axes)
    assert all(len(ax.lines) == 1 for ax in axes)  # the identity line


def test_model_comparison_figure(fits):
    _, f = fits
    fig = an.plot_model_comparison(f)
    a, b = check_figure(fig, 2)
    assert [t.get_text() for t in a.get_yticklabels()] == ["soft-q-lambda", "daw-hybrid"]
    assert "Δ" in a.get_xlabel() and "BMS" in b.get_xlabel()
    assert b.get_title(loc="right").startswith("BOR = ")


def test_parameters_and_posterior_predictive_figures(fits, two_step):
    _, f = fits
    axes = check_figure(an.plot_parameters(f["daw-hybrid"]), 7)
    assert axes[1].get_ylabel().startswith("β₁") and "1/reward units" in axes[1].get_ylabel()
    data = two_step.assign(subject=two_step["subject"].astype(str))
    sims = {"soft-q-lambda": an.posterior_predictive(data, f["soft-q-lambda"], seed=0)}
    fig = an.plot_posterior_predictive(data, sims)
    a, b, c = check_figure(fig, 3)
    assert b.get_xlabel() == "Data (ΔP stay)" and c.get_title().startswith("Model-based index")


def test_save_figure_writes_vector_and_raster(tmp_path, two_step):
    fig = an.plot_stay_probabilities(two_step)
    written = an.save_figure(fig, tmp_path / "sub" / "stay")
    assert [p.suffix for p in written] == [".png", ".pdf", ".svg"]
    assert all(p.stat().st_size > 1000 for p in written)
    assert (tmp_path / "sub" / "stay.pdf").read_bytes().startswith(b"%PDF")
    one = an.plot_stay_probabilities(two_step, save=tmp_path / "one.svg")
    assert isinstance(one, Figure) and (tmp_path / "one.svg").exists() and not (tmp_path / "one.png").exists()


def test_figure_functions_reject_bad_input(fits):
    true, f = fits
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['lam'\]"):
        an.plot_parameters(f["soft-q-lambda"].drop(columns="lam"))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['state2'\]"):
        an.plot_two_step_stay(pd.DataFrame({"subject": [0], "trial": [1], "choice1": [0], "reward": [1]}))
    with pytest.raises(ValueError, match="comparison table lacks"):
        an.plot_model_comparison(pd.DataFrame({"model": ["a"]}))
    with pytest.raises(ValueError, match="no probe trials"):
        an.plot_blocking(
            SimpleNamespace(
                trials=pd.DataFrame(
                    {"trial": [0], "trial_type": ["A+"], "cue_rpe": [0.0], "reward_rpe": [1.0]}
                )
            )
        )


# ------------------------------------------------------------------------------------------------
# dopasoft figures


def test_figures_cli_detects_files(tmp_path, fits, two_step, acquisition, capsys):
    true, f = fits
    paths = {}
    for name, df in {
        "data": two_step.assign(subject=two_step["subject"].astype(str)),
        "true": true,
        "sq": f["soft-q-lambda"],
        "hy": f["daw-hybrid"],
        "acq": acquisition.trials,
        "steps": acquisition.steps,
    }.items():
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    out = tmp_path / "figs"
    code = main(
        [
            "figures",
            str(paths["data"]),
            str(paths["sq"]),
            str(paths["hy"]),
            str(paths["true"]),
            "--conditioning",
            str(paths["acq"]),
            "--steps",
            str(paths["steps"]),
            "--out",
            str(out),
            "--format",
            "png",
        ]
    )
    assert code == 0
    made = {p.name for p in out.iterdir()}
    for name in (
        "two_step_stay.png",
        "recovery.png",
        "model_comparison.png",
        "posterior_predictive.png",
        "parameters_soft-q-lambda.png",
        "rpe_transfer_acq.png",
        "model_comparison.csv",
        "stay_regression.csv",
    ):
        assert name in made
    assert str(out.resolve()) in capsys.readouterr().err  # the summary goes to stderr


def test_figures_cli_errors_name_missing_columns(tmp_path, fits, capsys):
    _, f = fits
    bad = tmp_path / "bad_fits.csv"
    f["soft-q-lambda"].drop(columns=["lam"]).to_csv(bad, index=False)
    assert main(["figures", "--fits", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "lacks column(s) ['lam']" in capsys.readouterr().err
    data = tmp_path / "data.csv"
    pd.DataFrame({"subject": [1], "trial": [1], "choice1": [0], "reward": [1.0]}).to_csv(data, index=False)
    assert main(["figures", "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    assert "lacks column(s) ['state2']" in capsys.readouterr().err
    assert main(["figures", str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cannot tell what" in err and "choice1, state2" in err
    assert main(["figures", "--out", str(tmp_path / "o")]) == 2
    assert "no input" in capsys.readouterr().err


def test_recorded_vs_model_figure():
    """Replay + synthetic recording + GLM -> the three-panel figure, with the pooled slope it states."""
    from fitting_oracles import random_two_step

    import dopasoft.fitting as F

    df = random_two_step(n_subjects=4, n_trials=60, seed=2)
    sig = F.replay(df, "soft-q-lambda", dict(alpha=0.4, tau=0.3, lam=0.6))
    rec = an.synthetic_recording(sig, {"delta": 1.5}, stage=2, noise=0.01, gain_sd=0.0, seed=1)
    assert rec["synthetic"].all() and len(rec) == 4 * 60
    glm = an.neural_glm(sig, rec, "y ~ value_rpe + action_term", stage=2)
    fig = an.plot_recorded_vs_model(sig, rec, glm, signal="delta", stage=2)
    axes = check_figure(fig, 3)
    slope = [t.get_text() for t in axes[1].texts if "slope" in t.get_text()]
    assert slope and abs(float(slope[0].split()[-1]) - 1.5) < 0.02  # noise 0.01, no gain spread
    # terms in words and symbols, not code names
    assert [t.get_text() for t in axes[2].get_xticklabels()] == [
        "state-value\nRPE",
        "action term\nτ log π/π0",
    ]
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["synthetic recording", "model δ"]


def test_convergence_experiment_and_figure():
    """Off-policy, the corrected learners end far nearer Q* than on-policy ones (which settle on a biased
    table); on the delayed-reward chain lambda = 0.9 needs fewer steps than lambda = 0."""
    from dopasoft.experiments.convergence import convergence_experiment

    res = convergence_experiment(2000, chain_steps=900, chain_seeds=2)
    last = (
        res.curves[res.curves["experiment"] == "off-policy"].groupby("learner").tail(1).set_index("learner")
    )
    corrected = last.index.str.startswith(("tree-backup", "retrace", "n-step tree"))
    on_policy = last.index.str.contains("on-policy")
    assert last.loc[corrected, "error"].max() < 0.5 * last.loc[on_policy, "error"].min()
    reach = res.steps_to_tol
    assert reach["λ = 0.9"] < reach["λ = 0"]
    fig = an.plot_convergence(res)
    axes = check_figure(fig, 2)
    assert axes[0].get_yscale() == "log" and len(axes[0].get_lines()) == 9
