"""Layout checks a reviewer would make, on every figure ``dopasoft demo`` writes and the README shows.

Each figure is drawn from small inputs built the way the demo builds them (same public functions), then,
after ``fig.canvas.draw()``:

* no legend box overlaps a data artist: the points of lines (vertices and the segments between them,
  sampled every 2 px), scatter offsets, line and polygon collections (error bars, bands), bar patches and
  images, all in display coordinates through each artist's own transform (``ax.transData`` for data
  artists; the blended transform for ``axvline``/``axhline``), and only where they are drawn (inside the
  axes for clipped artists). A point strictly inside a legend's box, or a patch/image whose box
  intersects it with positive area, is an overlap. Legends of an axes and of the figure are checked
  against every axes of the figure;
* no text (tick labels, axis labels, titles, legend entries, annotations) is a code name: a snake_case
  identifier (``value_rpe``, ``action_term``) or a subject ID such as ``sub000``;
* every axes with error bars has a text saying what they are (``± SEM``, ``95 % CI``, "error bars: ...")
  in the axes or the figure, and no error bar is drawn with zero length everywhere;
* every axes with markers of more than one style has a legend (its own or the figure's) or a figure
  text drawing the marker glyphs.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, PolyCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from dopasoft.analysis.action_prediction import (  # noqa: E402
    plot_action_prediction_errors,
    plot_policy_compression,
    plot_timed_prediction_errors,
)
from dopasoft.analysis.composition import plot_composition  # noqa: E402
from dopasoft.analysis.convergence import plot_convergence  # noqa: E402
from dopasoft.analysis.dopamine_figures import (  # noqa: E402
    plot_blocking,
    plot_probability_scaling,
    plot_rpe_transfer,
)
from dopasoft.analysis.model_fit_figures import (  # noqa: E402
    plot_model_comparison,
    plot_parameters,
    plot_posterior_predictive,
    plot_recovery,
)
from dopasoft.analysis.model_fits import compare_models, posterior_predictive  # noqa: E402
from dopasoft.analysis.neural_glm import neural_glm, plot_neural_glm  # noqa: E402
from dopasoft.analysis.recorded_dopamine import plot_recorded_vs_model, synthetic_recording  # noqa: E402
from dopasoft.analysis.two_step import plot_two_step_stay  # noqa: E402
from dopasoft.experiments.conditioning import simulate_conditioning  # noqa: E402
from dopasoft.tasks.conditioning import make_protocol  # noqa: E402

# ------------------------------------------------------------------------------------------------
# inputs: small versions of the demo's (dopasoft/cli/demo.py), no fitting


@pytest.fixture(scope="module")
def cohort():
    """A demo-like two-step cohort from soft-q-lambda+kappa (8 subjects x 100 trials), its true
    parameters standing in for the fits, and synthetic fits of three more models."""
    from dopasoft.fitting import sample_parameters, simulate_choices

    rng = np.random.default_rng(0)
    gen = "soft-q-lambda+kappa"
    n = 8
    true = sample_parameters(gen, n, rng)
    true.insert(0, "subject", [f"sub{i:03d}" for i in range(n)])
    data = simulate_choices(gen, true, n_trials=100, seed=rng)
    data = data[["subject", "trial", "choice1", "state2", "choice2", "reward"]]
    n_choices = 200

    def fits_of(model: str, params: pd.DataFrame, nll: np.ndarray, k: int) -> pd.DataFrame:
        out = params.assign(nll=nll, n_choices=n_choices, model=model)
        if "converged" not in out.columns:
            out["converged"] = True
        out["aic"] = 2 * out["nll"] + 2 * k
        out["bic"] = 2 * out["nll"] + k * np.log(n_choices)
        return out

    nll = rng.uniform(100, 120, n)
    sq = true.copy()
    for p, sd in (("alpha", 0.05), ("tau", 0.03), ("lam", 0.1), ("kappa", 0.1)):
        sq[p] = sq[p] + rng.normal(0, sd, n)
    sq["alpha"] = sq["alpha"].clip(0.01, 0.99)
    sq["tau"] = sq["tau"].clip(0.02)
    sq["lam"] = sq["lam"].clip(0.0, 1.0)
    # as real fits do: one estimate far off (drawn at the axis edge), one fit not converged
    sq.loc[1, "tau"] = 5.0
    sq["converged"] = True
    sq.loc[2, "converged"] = False
    hybrid = pd.DataFrame(
        {
            "subject": true["subject"],
            "alpha1": rng.uniform(0.2, 0.8, n),
            "beta1": rng.uniform(1, 8, n),
            "alpha2": rng.uniform(0.2, 0.8, n),
            "beta2": rng.uniform(1, 8, n),
            "pers": rng.uniform(-0.3, 0.5, n),
            "w": rng.uniform(0, 1, n),
            "lam": 1.0,  # as the demo's daw-hybrid fits: every subject at the bound
        }
    )
    fits = {
        gen: fits_of(gen, sq, nll, 4),
        # nearly as good: the BMS bars of the second row are long (the quick demo's comparison)
        "soft-q-lambda-uncorrected+kappa": fits_of(
            "soft-q-lambda-uncorrected+kappa", sq, nll + rng.uniform(-0.5, 1.5, n), 4
        ),
        "soft-q-lambda-on-policy+kappa": fits_of("soft-q-lambda-on-policy+kappa", sq, nll + 2.0, 4),
        # 3 more parameters, 7 fewer units of NLL: better by AIC, worse by BIC, so the best model by BIC
        # (top row) has the longest ΔAIC bar, as in the reviewer's two-model comparison
        "daw-hybrid": fits_of("daw-hybrid", hybrid, nll - 7.0, 7),
    }
    return data, true.assign(model=gen), fits


def _acquisition():
    return plot_rpe_transfer(simulate_conditioning("acquisition", seed=np.random.default_rng(1)))


def _blocking():
    blk = simulate_conditioning("blocking", seed=np.random.default_rng(2))
    control = make_protocol(
        "blocking-control",
        [("compound", {"AB+": 200}), ("test", {"A?": 10, "B?": 10})],
        description="control for blocking: AB+ without A+ pretraining",
    )
    return plot_blocking(blk, simulate_conditioning(control, seed=np.random.default_rng(3)))


def _probability_scaling():
    return plot_probability_scaling(
        simulate_conditioning("partial-reinforcement", seed=np.random.default_rng(4))
    )


def _action_prediction():
    from dopasoft.experiments.discrimination import discrimination_experiment

    run = discrimination_experiment(200, novel_at=150, seed=5)
    replayed = discrimination_experiment(
        200, novel_at=150, seed=5, actions=run["action"], reward=0.0, error_reward=1.0
    )
    return plot_action_prediction_errors(run, replay=replayed)


def _policy_compression():
    from dopasoft.experiments.discrimination import discrimination_experiment

    return plot_policy_compression(
        *(discrimination_experiment(200, prior_scope=scope, seed=5) for scope in ("per-state", "marginal"))
    )


def _timed_prediction_errors():
    from dopasoft.experiments.discrimination import timed_discrimination_experiment

    return plot_timed_prediction_errors(timed_discrimination_experiment(300, seed=5))


def _composition():
    from dopasoft.experiments.composition import composition_experiment

    return plot_composition(composition_experiment(n_steps=3000, seed=6))


def _convergence():
    from dopasoft.experiments.convergence import convergence_experiment

    return plot_convergence(convergence_experiment(3000, chain_seeds=2))


def _cohort_figures(cohort) -> dict:
    data, true, fits = cohort
    gen = "soft-q-lambda+kappa"
    names = list(fits)

    def recorded(neural_only: bool = False):
        from dopasoft.fitting import replay

        signals = replay(data, gen, true)
        recording = synthetic_recording(signals, {"delta": 1.5}, stage=2, seed=np.random.default_rng(7))
        glm = neural_glm(signals, recording, "y ~ value_rpe + action_term", stage=2)
        if neural_only:
            return plot_neural_glm(glm)
        return plot_recorded_vs_model(signals, recording, glm, signal="delta", stage=2)

    def predictive():
        rng = np.random.default_rng(8)
        sims = {m: posterior_predictive(data, fits[m], n_sims=2, seed=rng) for m in (gen, "daw-hybrid")}
        return plot_posterior_predictive(data, sims)

    return {
        "two_step_stay": lambda: plot_two_step_stay(data),
        "recovery": lambda: plot_recovery(true, fits[gen], ["alpha", "tau", "lam", "kappa"]),
        "model_comparison_2": lambda: plot_model_comparison(
            compare_models({m: fits[m] for m in (gen, "daw-hybrid")})[0]
        ),
        "model_comparison_2_quick": lambda: plot_model_comparison(
            compare_models({m: fits[m] for m in names[:2]})[0]
        ),
        "model_comparison_4": lambda: plot_model_comparison(compare_models(fits)[0]),
        "posterior_predictive": predictive,
        "parameters_daw-hybrid": lambda: plot_parameters(fits["daw-hybrid"]),
        "parameters_soft-q-lambda": lambda: plot_parameters(fits[gen]),
        "recorded_vs_model": recorded,
        "neural_glm": lambda: recorded(neural_only=True),
    }


def _reward_timing():
    from dopasoft.analysis.dopamine_figures import plot_reward_timing

    def run(representation, p, **cohort):
        return simulate_conditioning(
            "variable-delay", p_reward=p, representation=representation, n_trials=150, seed=9, **cohort
        )

    cohort = {"n_subjects": 3, "param_sd": {"alpha": 0.02}}
    return plot_reward_timing(
        {
            "Belief-state TD": {
                "100 % rewarded": run("belief-state", 1.0, **cohort),
                "90 %": run("belief-state", 0.9, **cohort),
            },
            "CSC TD": {"100 % rewarded": run("csc", 1.0), "90 %": run("csc", 0.9)},
        }
    )


def _reward_timing_demo():
    """The demo's version: belief-state TD only, one animal per task (one panel)."""
    from dopasoft.analysis.dopamine_figures import plot_reward_timing

    runs = {
        task: simulate_conditioning(
            "variable-delay", p_reward=p, representation="belief-state", n_trials=300, seed=13
        )
        for task, p in (("100 % rewarded", 1.0), ("90 % rewarded", 0.9))
    }
    return plot_reward_timing({"Belief-state TD": runs})


def _distributional():
    from dopasoft.analysis.distributional import plot_distributional_rpe
    from dopasoft.experiments import distributional_rpe

    return plot_distributional_rpe(distributional_rpe(n_units=8, n_trials=2000, seed=10))


def _probability_scaling_cohort():
    cohort = simulate_conditioning("partial-reinforcement", n_subjects=3, param_sd={"alpha": 0.03}, seed=11)
    return plot_probability_scaling(cohort)


def _training_cohort():
    from dopasoft.analysis.dopamine_figures import plot_rpe_across_training

    protocol = make_protocol("two", [("training", {"A+": 40, "B+ p=0.5": 40})])
    return plot_rpe_across_training(
        simulate_conditioning(protocol, n_subjects=3, param_sd={"alpha": 0.05}, seed=12)
    )


SIMPLE = {
    "rpe_training_cohort": _training_cohort,
    "probability_scaling_cohort": _probability_scaling_cohort,
    "reward_timing": _reward_timing,
    "reward_timing_demo": _reward_timing_demo,
    "distributional_rpe": _distributional,
    "rpe_transfer": _acquisition,
    "blocking": _blocking,
    "probability_scaling": _probability_scaling,
    "action_prediction": _action_prediction,
    "policy_compression": _policy_compression,
    "timed_prediction_errors": _timed_prediction_errors,
    "composition": _composition,
    "convergence": _convergence,
}
COHORT = [
    "two_step_stay",
    "recovery",
    "model_comparison_2",
    "model_comparison_2_quick",
    "model_comparison_4",
    "posterior_predictive",
    "parameters_daw-hybrid",
    "parameters_soft-q-lambda",
    "recorded_vs_model",
    "neural_glm",
]


@pytest.fixture(scope="module")
def figures(cohort):
    made: dict[str, Figure] = {}
    builders = {**SIMPLE, **_cohort_figures(cohort)}

    def get(name: str) -> Figure:
        if name not in made:
            fig = builders[name]()
            FigureCanvasAgg(fig).draw()
            made[name] = fig
        return made[name]

    return get


# ------------------------------------------------------------------------------------------------
# geometry


def _main_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and not hasattr(ax, "_colorbar")]


def _densify(xy: np.ndarray, step: float = 2.0) -> np.ndarray:
    """Vertices of a polyline plus points every ``step`` px along its finite segments."""
    xy = np.asarray(xy, float).reshape(-1, 2)
    out = [xy[np.isfinite(xy).all(axis=1)]]
    if len(xy) > 1:
        a, b = xy[:-1], xy[1:]
        ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        a, b = a[ok], b[ok]
        n = np.ceil(np.hypot(*(b - a).T) / step).astype(int)
        if len(n) and n.max() > 1:
            seg = np.repeat(np.arange(len(a)), n)
            frac = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
            out.append(a[seg] + frac[:, None] * (b[seg] - a[seg]))
    return np.concatenate(out)


def _data_geometry(ax, renderer) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, Bbox]]]:
    """(name, display points) and (name, display box) of every data artist of ``ax``."""
    points: list[tuple[str, np.ndarray]] = []
    boxes: list[tuple[str, Bbox]] = []
    axbox = ax.bbox

    def clip(artist, xy: np.ndarray) -> np.ndarray:
        if not artist.get_clip_on():
            return xy
        inside = (
            (xy[:, 0] >= axbox.x0 - 0.5)
            & (xy[:, 0] <= axbox.x1 + 0.5)
            & (xy[:, 1] >= axbox.y0 - 0.5)
            & (xy[:, 1] <= axbox.y1 + 0.5)
        )
        return xy[inside]

    for line in ax.get_lines():
        if not line.get_visible():
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), float))
        if line.get_linestyle() not in ("None", "", " ", "none") and len(xy) > 1:
            xy = _densify(xy)
        name = f"line {line.get_label()!r}"
        points.append((name, clip(line, xy[np.isfinite(xy).all(axis=1)])))
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        name = f"{type(coll).__name__} {coll.get_label()!r}"
        offsets = np.asarray(coll.get_offsets(), float).reshape(-1, 2)
        if isinstance(coll, PathCollection) or (len(offsets) > 1 and not coll.get_paths()):
            xy = coll.get_offset_transform().transform(offsets)
            points.append((name, clip(coll, xy[np.isfinite(xy).all(axis=1)])))
        elif isinstance(coll, LineCollection | PolyCollection) or coll.get_paths():
            tr = coll.get_transform()
            for path in coll.get_paths():
                xy = tr.transform(path.vertices)
                points.append((name, clip(coll, _densify(xy))))
                if isinstance(coll, PolyCollection) and len(xy) > 2:
                    ext = Bbox.from_extents(*xy.min(axis=0), *xy.max(axis=0))
                    boxes.append((f"{name} (band)", ext))
    for patch in ax.patches:
        if not patch.get_visible():
            continue
        box = patch.get_window_extent(renderer)
        if box.width > 0.5 and box.height > 0.5:
            if patch.get_clip_on():
                box = Bbox.intersection(box, axbox) or Bbox.null()
            boxes.append((f"patch {patch.get_label()!r}", box))
    for im in ax.images:
        if im.get_visible():
            boxes.append(("image", im.get_window_extent(renderer)))
    return points, boxes


def _band_contains(box: Bbox, legend: Bbox) -> bool:
    w = min(box.x1, legend.x1) - max(box.x0, legend.x0)
    h = min(box.y1, legend.y1) - max(box.y0, legend.y0)
    return w > 0 and h > 0


def legend_overlaps(fig: Figure) -> list[str]:
    """Descriptions of every (legend, data artist) pair that overlap."""
    renderer = fig.canvas.get_renderer()
    legends = [(f"legend of axes {i}", ax.get_legend()) for i, ax in enumerate(_main_axes(fig))]
    legends += [(f"figure legend {i}", lg) for i, lg in enumerate(fig.legends)]
    geometry = [(i, _data_geometry(ax, renderer)) for i, ax in enumerate(_main_axes(fig))]
    found = []
    for where, legend in legends:
        if legend is None or not legend.get_visible():
            continue
        lb = legend.get_window_extent(renderer)
        for i, (points, boxes) in geometry:
            for name, xy in points:
                inside = (xy[:, 0] > lb.x0) & (xy[:, 0] < lb.x1) & (xy[:, 1] > lb.y0) & (xy[:, 1] < lb.y1)
                if inside.any():
                    found.append(f"{where} covers {int(inside.sum())} point(s) of {name} in axes {i}")
            for name, box in boxes:
                if box.width > 0 and box.height > 0 and _band_contains(box, lb):
                    found.append(f"{where} covers {name} in axes {i}")
    return found


# ------------------------------------------------------------------------------------------------
# texts

CODE_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\bsub\d+\b")
DEFINES_ERRORBARS = re.compile(
    r"(±|error ?bars?|whiskers?|bars?:|band).{0,60}?(SEM|CI\b|SD\b|confidence|standard (error|deviation))",
    re.IGNORECASE | re.DOTALL,
)
MARKER_GLYPHS = set("●○•◦▲△▼▽◆◇■□×✕+")


def _axes_texts(ax) -> list[str]:
    texts = [ax.get_xlabel(), ax.get_ylabel(), *(ax.get_title(loc=k) for k in ("left", "center", "right"))]
    texts += [t.get_text() for t in ax.texts if t.get_visible()]
    for axis in (ax.xaxis, ax.yaxis):
        texts += [tick.label1.get_text() for tick in axis._update_ticks() if tick.label1.get_visible()]
    legend = ax.get_legend()
    if legend is not None:
        texts += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    return [t for t in texts if t and t.strip()]


def _figure_texts(fig: Figure) -> list[str]:
    texts = [t.get_text() for t in fig.texts if t.get_visible()]
    for lg in fig.legends:
        texts += [t.get_text() for t in lg.get_texts()] + [lg.get_title().get_text()]
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        t = getattr(fig, name, None)
        if t is not None:
            texts.append(t.get_text())
    return [t for t in texts if t and t.strip()]


def code_names(fig: Figure) -> list[str]:
    texts = [t for ax in fig.axes if ax.get_visible() for t in _axes_texts(ax)] + _figure_texts(fig)
    return sorted({m.group(0) for t in texts for m in CODE_NAME.finditer(t)})


def _marker_styles(ax) -> set:
    caps = {id(c) for cont in ax.containers if isinstance(cont, ErrorbarContainer) for c in cont[1]}
    styles = set()
    for line in ax.get_lines():
        m = line.get_marker()
        if id(line) in caps or not line.get_visible() or m in (None, "None", "", " ", "none"):
            continue
        if len(line.get_xydata()) == 0:
            continue
        styles.add(("line", str(m), str(line.get_markerfacecolor()) == "none"))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_visible() and len(coll.get_offsets()):
            path = coll.get_paths()[0]
            shape = tuple(np.round(path.vertices, 2).ravel())
            hollow = len(coll.get_facecolor()) == 0 or np.all(np.asarray(coll.get_facecolor())[:, 3] == 0)
            styles.add(("scatter", shape, bool(hollow)))
    return styles


def undefined_marks(fig: Figure) -> list[str]:
    """Axes whose error bars or mixed markers nothing in the figure defines; error bars of zero length."""
    problems = []
    fig_texts = _figure_texts(fig)
    for i, ax in enumerate(_main_axes(fig)):
        texts = _axes_texts(ax) + fig_texts
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        if bars and not any(DEFINES_ERRORBARS.search(t) for t in texts):
            problems.append(f"axes {i}: error bars, but no text says what they are (± SEM, 95 % CI...)")
        for cont in bars:
            segments = [
                s for coll in cont[2] if isinstance(coll, LineCollection) for s in coll.get_segments()
            ]
            lengths = [float(np.hypot(*(np.asarray(s)[-1] - np.asarray(s)[0]))) for s in segments]
            if lengths and max(lengths) == 0:
                problems.append(f"axes {i}: error bars of zero length ({cont.get_label()!r})")
        if len(_marker_styles(ax)) > 1:
            has_legend = ax.get_legend() is not None or bool(fig.legends)
            glyphs = any(set(t) & MARKER_GLYPHS for t in fig_texts + [t.get_text() for t in ax.texts])
            if not (has_legend or glyphs):
                problems.append(f"axes {i}: {len(_marker_styles(ax))} marker styles and no legend")
    return problems


# ------------------------------------------------------------------------------------------------
# tests

ALL = [*SIMPLE, *COHORT]


@pytest.mark.parametrize("name", ALL)
def test_no_legend_covers_data(figures, name):
    overlaps = legend_overlaps(figures(name))
    assert not overlaps, f"{name}: " + "; ".join(overlaps)


@pytest.mark.parametrize("name", ALL)
def test_no_code_names_in_texts(figures, name):
    found = code_names(figures(name))
    assert not found, f"{name}: code names in the figure's text: {found}"


@pytest.mark.parametrize("name", ALL)
def test_error_bars_and_markers_are_defined(figures, name):
    problems = undefined_marks(figures(name))
    assert not problems, f"{name}: " + "; ".join(problems)


# points of the brief that the general checks do not see


def test_action_prediction_mean_is_centred_not_trailing():
    """On a linear ramp a centred mean lies on the dots; a trailing one would lag by (window − 1) / 2."""
    n = 60
    ramp = np.arange(n) / n
    table = pd.DataFrame({"trial": np.arange(n), "novel": False, "action_pe": ramp, "reward_rpe": 0.0})
    fig = plot_action_prediction_errors(table, window=10)
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "familiar cues"]
    y = np.asarray(line.get_ydata(), float)
    np.testing.assert_allclose(y[5:-5], ramp[5:-5], atol=1e-12)


def test_equal_parameter_values_get_the_bounds_as_axis(cohort):
    _, _, fits = cohort
    fig = plot_parameters(fits["daw-hybrid"])
    lam = fig.axes[6]
    lo, hi = lam.get_ylim()
    assert lo <= 0.0 and hi >= 1.0  # the fitting bounds, not 1 ± 5 %
    assert lam.get_title().startswith("all 8 subjects at 1")
    assert not fig.axes[0].get_title()  # a spread parameter keeps its own axis


# the checks themselves catch what they are for


def test_overlap_check_catches_a_legend_on_a_bar():
    fig = Figure(figsize=(3, 2))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.barh([0, 1], [5, 5], label="bars")
    ax.legend(loc="upper right")
    fig.canvas.draw()
    assert legend_overlaps(fig)
    fig = Figure(figsize=(3, 2))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, 0, 0], label="a line under the legend")
    ax.set_ylim(-1, 1)
    ax.legend(loc="center")
    fig.canvas.draw()
    assert legend_overlaps(fig)
    ax.get_legend().remove()
    ax.legend(loc="upper right")
    fig.canvas.draw()
    assert not legend_overlaps(fig)


def test_text_checks_catch_code_names_and_undefined_bars():
    fig = Figure(figsize=(3, 2))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.errorbar([0, 1], [1, 2], yerr=[0.1, 0.2], fmt="o")
    ax.scatter([0.5], [1.5], marker="^")
    ax.set_xticks([0, 1], ["value_rpe", "sub000"])
    fig.canvas.draw()
    assert code_names(fig) == ["sub000", "value_rpe"]
    problems = undefined_marks(fig)
    assert any("error bars" in p for p in problems) and any("marker styles" in p for p in problems)
    ax.set_title("error bars: 95 % CI across subjects")
    ax.legend(["coefficient", "outlier"])
    fig.canvas.draw()
    assert not undefined_marks(fig)
