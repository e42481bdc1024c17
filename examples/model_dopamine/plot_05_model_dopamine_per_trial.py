"""
Model dopamine per trial: replay fitted models through the subjects' own choices
================================================================================

To compare a recording with a model you need the model's prediction errors on the trials the subject
actually played, with the parameters fitted to that subject. ``ds.fitting.replay`` runs the fitted model
through each subject's choices and returns, per choice step, the probability the model gave the choice made
and the prediction errors: the learning signal ``delta``, its state-value part ``value_rpe`` and the soft
``action_term`` (``delta = value_rpe - action_term``). The replay is the likelihood's own loop: summing
−log ``p_choice`` over a subject gives back the fitted negative log-likelihood exactly.
"""

# %%
# Fit, then replay
# ----------------
import matplotlib.pyplot as plt
import numpy as np

import dopasoft as ds

data = ds.experiments.simulate_two_step(8, 150, model="soft-q-lambda", seed=3)
fits = ds.fitting.fit(data, "soft-q-lambda", n_starts=2, seed=0).params
signals = ds.fitting.replay(data, "soft-q-lambda", fits)
signals[["subject", "trial", "stage", "action", "reward", "p_choice", "delta", "value_rpe"]].head()

# %%
# The replay is the likelihood
# ----------------------------
replayed_nll = -np.log(signals["p_choice"]).groupby(signals["subject"]).sum()
fitted_nll = fits.set_index("subject")["nll"]
gap = np.abs(replayed_nll.to_numpy() - fitted_nll.loc[replayed_nll.index].to_numpy()).max()
print(f"max |replayed NLL - fitted NLL|: {gap:.2e}")

# %%
# Model dopamine at the outcome, trial by trial
# ---------------------------------------------
# Stage 2 is the outcome: its ``delta`` is the reward prediction error a dopamine recording at reward time
# is compared with. Rewarded trials give positive errors that shrink as the subject learns where reward is.
one = signals[(signals["subject"] == signals["subject"].iloc[0]) & (signals["stage"] == 2)]
fig, ax = plt.subplots(figsize=(7, 3))
colors = np.where(one["reward"] > 0, "#0072B2", "#D55E00")
ax.vlines(one["trial"], 0, one["delta"], colors=colors, lw=1)
ax.axhline(0, color="0.5", lw=0.8)
ax.set(xlabel="trial", ylabel="outcome δ (model dopamine)", title="One subject: rewarded (blue), not (red)")
fig.tight_layout()

mean_rewarded = one.loc[one["reward"] > 0, "delta"].mean()
print(f"mean outcome delta on rewarded trials: {mean_rewarded:.3f}")
