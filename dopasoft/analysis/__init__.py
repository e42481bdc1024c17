"""Analysis and paper figures: two-step stay analysis, model dopamine, action prediction errors, fitted
models, model comparison.

Bayesian model selection itself (``bms``) lives in :mod:`dopasoft.fitting.model_selection` and is
exported once, as ``dopasoft.fitting.bms``; :func:`compare_models` runs it on fits tables.

Every ``plot_*`` function takes data (DataFrames or simulation results) and returns a
:class:`matplotlib.figure.Figure` drawn in the house style (:mod:`dopasoft.analysis.style`); pass
``save="path/name"`` to write PNG, PDF and SVG. See ``docs/analysis.md``.
"""

from dopasoft.analysis import (
    action_prediction,
    composition,
    convergence,
    distributional,
    dopamine,
    dopamine_figures,
    model_fit_figures,
    model_fits,
    recorded_dopamine,
    regressors,
    style,
    two_step,
)
from dopasoft.analysis.action_prediction import (
    plot_action_prediction_errors,
    plot_policy_compression,
    plot_timed_prediction_errors,
)
from dopasoft.analysis.composition import plot_composition
from dopasoft.analysis.convergence import plot_convergence
from dopasoft.analysis.distributional import plot_distributional_rpe
from dopasoft.analysis.dopamine import (
    aligned_traces,
    cohort_mean,
    convolve_photometry,
    delay_slope,
    photometry_kernel,
    probability_scaling,
    rpe_by_delay,
    rpe_by_trial_type,
)
from dopasoft.analysis.dopamine_figures import (
    plot_blocking,
    plot_heatmap,
    plot_probability_scaling,
    plot_reward_timing,
    plot_rpe_across_training,
    plot_rpe_transfer,
    plot_traces,
)
from dopasoft.analysis.model_fit_figures import (
    plot_model_comparison,
    plot_parameters,
    plot_posterior_predictive,
    plot_recovery,
)
from dopasoft.analysis.model_fits import (
    check_fits,
    compare_models,
    fits_model,
    parameter_table,
    posterior_predictive,
    posterior_predictive_table,
    recovery_table,
)
from dopasoft.analysis.neural_glm import NeuralGLMResult, neural_glm, plot_neural_glm
from dopasoft.analysis.recorded_dopamine import plot_recorded_vs_model, synthetic_recording
from dopasoft.analysis.regressors import Regressor, canonical_hrf, trial_regressors
from dopasoft.analysis.style import COLORS, OKABE_ITO, PALETTE, panel_letters, save_figure, style_context
from dopasoft.analysis.two_step import (
    group_stay_probabilities,
    mb_mf_indices,
    plot_stay_probabilities,
    plot_stay_regression,
    plot_two_step_stay,
    pooled_stay_regression,
    stay_probabilities,
    stay_regression,
    stay_table,
)

__all__ = [
    "plot_convergence",
    "convergence",
    "plot_recorded_vs_model",
    "synthetic_recording",
    "recorded_dopamine",
    "COLORS",
    "NeuralGLMResult",
    "OKABE_ITO",
    "PALETTE",
    "Regressor",
    "action_prediction",
    "aligned_traces",
    "canonical_hrf",
    "check_fits",
    "compare_models",
    "composition",
    "convolve_photometry",
    "dopamine",
    "dopamine_figures",
    "distributional",
    "plot_distributional_rpe",
    "plot_reward_timing",
    "rpe_by_delay",
    "delay_slope",
    "cohort_mean",
    "model_fit_figures",
    "fits_model",
    "group_stay_probabilities",
    "mb_mf_indices",
    "model_fits",
    "neural_glm",
    "panel_letters",
    "parameter_table",
    "photometry_kernel",
    "plot_action_prediction_errors",
    "plot_policy_compression",
    "plot_timed_prediction_errors",
    "plot_blocking",
    "plot_composition",
    "plot_heatmap",
    "plot_model_comparison",
    "plot_neural_glm",
    "plot_parameters",
    "plot_posterior_predictive",
    "plot_probability_scaling",
    "plot_recovery",
    "plot_rpe_across_training",
    "plot_rpe_transfer",
    "plot_stay_probabilities",
    "plot_stay_regression",
    "plot_traces",
    "plot_two_step_stay",
    "pooled_stay_regression",
    "posterior_predictive",
    "posterior_predictive_table",
    "probability_scaling",
    "recovery_table",
    "regressors",
    "rpe_by_trial_type",
    "save_figure",
    "stay_probabilities",
    "stay_regression",
    "stay_table",
    "style",
    "style_context",
    "trial_regressors",
    "two_step",
]
