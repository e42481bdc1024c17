"""
Regress a photometry or fMRI signal on model prediction errors
==============================================================

Is a recorded response the state-value prediction error of classic TD models, or the soft learning signal
``delta``, which also carries the action term? The neural GLM regresses a per-trial measure (a photometry
peak, an fMRI beta) on the replayed model signals, subject by subject (OLS) and as a group mixed model.
Because ``delta = value_rpe - action_term``, a recording that follows ``delta`` loads the action term with
the opposite sign to ``value_rpe``; a pure state-value response loads it with 0.

The recording here is SYNTHETIC — built from ``delta`` with gain 1.5, subject baselines and noise — so that
we know the answer; with real data pass your own table (``subject``, ``trial``, ``y``).
"""

# %%
# Model signals on the subjects' choices
# --------------------------------------
import matplotlib.pyplot as plt

import dopasoft as ds

params = {"alpha": 0.5, "tau": 0.2, "lam": 0.9}
data = ds.experiments.simulate_two_step(12, 200, model="soft-q-lambda", params=params, seed=2)
signals = ds.fitting.replay(data, "soft-q-lambda", params)  # or the fitted table of each subject

# %%
# A recording, and the GLM
# ------------------------
recording = ds.analysis.synthetic_recording(signals, {"delta": 1.5}, stage=2, seed=0)
glm = ds.analysis.neural_glm(signals, recording, "y ~ value_rpe + action_term", stage=2)
group = glm.coefficients.query("level == 'group'").set_index("term")
print(group[["estimate", "ci_low", "ci_high"]].round(3))
fig = ds.analysis.plot_neural_glm(glm)
plt.show()

# %%
# The recording follows ``delta`` (gain 1.5): β(value_rpe) ≈ 1.5 and β(action_term) ≈ −1.5.
print(f"group beta value_rpe: {group.loc['value_rpe', 'estimate']:.3f}")
print(f"group beta action_term: {group.loc['action_term', 'estimate']:.3f}")
