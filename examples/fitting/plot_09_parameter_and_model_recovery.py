"""
Parameter and model recovery before you collect data
====================================================

Before running a study, check that the design can answer its question: simulate subjects with known
parameters from the model you plan to fit, fit them, and see how well the estimates recover the truth
(parameter recovery); simulate from each candidate model, fit all of them, and see how often the generating
model wins (model recovery; Wilson & Collins 2019). Both take minutes, not the months of a study. Here we
check 150 trials of the two-step task.
"""

# %%
# Parameter recovery
# ------------------
# True parameters are drawn uniformly within each parameter's plausible range.
import matplotlib.pyplot as plt
import numpy as np

import dopasoft as ds

model = "soft-q-lambda"
rng = np.random.default_rng(0)
true = ds.fitting.sample_parameters(model, 30, rng)
true.insert(0, "subject", [f"sub{i:02d}" for i in range(len(true))])
data = ds.fitting.simulate_choices(model, true, n_trials=150, seed=rng)
fitted = ds.fitting.fit(data, model, n_starts=3, seed=0).params
recovery = ds.fitting.recovery_table(true, fitted)
print(recovery.round(3))
fig = ds.analysis.plot_recovery(true, fitted)
plt.show()

# %%
# The learning rate and the temperature are well recovered at 150 trials; λ, which only matters through
# the second-stage outcome reaching the first-stage choice, is the hardest.
r = recovery.set_index("param")["pearson_r"]
print(f"recovery r: alpha {r['alpha']:.3f}, tau {r['tau']:.3f}, lam {r['lam']:.3f}")

# %%
# Model recovery
# --------------
# Can 150 trials tell Soft Q(λ) from the Daw hybrid? Rows: the generating model; columns: the model the
# BIC picks. A diagonal near 1 means the data can tell them apart.
models = ds.fitting.model_recovery(["soft-q-lambda", "daw-hybrid-4"], 12, n_trials=150, n_starts=2, seed=0)
print(models.confusion.round(2))
fig, ax = plt.subplots(figsize=(4, 3.2))
image = ax.imshow(models.confusion.to_numpy(), vmin=0, vmax=1, cmap="Blues")
ax.set_xticks(range(2), models.confusion.columns)
ax.set_yticks(range(2), models.confusion.index)
ax.set(xlabel="best fit (BIC)", ylabel="generating model", title="Model recovery, p(fit | generated)")
for (i, j), p in np.ndenumerate(models.confusion.to_numpy()):
    ax.text(j, i, f"{p:.2f}", ha="center", va="center")
fig.colorbar(image)
fig.tight_layout()
print(f"model recovery, mean diagonal: {np.trace(models.confusion.to_numpy()) / 2:.3f}")
