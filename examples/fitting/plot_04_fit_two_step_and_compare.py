"""
Fit your lab's two-step data and compare models
===============================================

The question most two-step studies ask: how model-based are the subjects, and which model describes their
choices best? Here a simulated cohort stands in for the lab's file (replace the first line by
``ds.fitting.read_choices("data.csv")`` or ``ds.fitting.read_hbayesdm("ts_exampleData.txt")``). We fit the
Daw et al. (2011) hybrid and the Soft Q(λ) model with stickiness, then compare them by AIC, BIC and
random-effects Bayesian model selection.
"""

# %%
# Data: 20 subjects × 150 trials from the hybrid model with w = 0.7
# -----------------------------------------------------------------
import matplotlib.pyplot as plt

import dopasoft as ds

data = ds.experiments.simulate_two_step(20, 150, model="daw-hybrid", params={"w": 0.7}, seed=1)
data.head()

# %%
# The model-free look first: stay probabilities
# ---------------------------------------------
# Model-based subjects repeat a rewarded first-stage choice after a common transition and switch after a
# rare one (the reward × transition interaction).
print(ds.analysis.pooled_stay_regression(data)[["coef", "se", "p"]].round(3))
fig = ds.analysis.plot_two_step_stay(data)

# %%
# Fit both models
# ---------------
# ``n_starts`` random starts per subject guard against local optima; ``converged`` and ``at_bound`` say
# how far to trust each subject's estimate.
fits = {
    "daw-hybrid": ds.fitting.fit(data, "daw-hybrid", n_starts=2, seed=0).params,
    "soft-q-lambda+kappa": ds.fitting.fit(data, "soft-q-lambda+kappa", n_starts=2, seed=0).params,
}
hybrid = fits["daw-hybrid"]
print(ds.analysis.parameter_table(hybrid, model="daw-hybrid")[["param", "median", "q25", "q75"]])
print(f"median w: {hybrid['w'].median():.3f}")

# %%
# Compare
# -------
# AIC and BIC can disagree (BIC charges more per parameter); random-effects BMS asks which model is most
# frequent in the population. Report them all.
table, bms = ds.analysis.compare_models(fits)
print(table[["model", "delta_aic", "delta_bic", "protected_exceedance"]])
fig = ds.analysis.plot_model_comparison(fits)
best_aic = table.loc[table["delta_aic"].idxmin(), "model"]
print(f"best by AIC: {best_aic}")
plt.show()
