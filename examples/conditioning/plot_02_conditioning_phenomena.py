"""
Classic conditioning phenomena: transfer, omission, blocking, probability scaling
=================================================================================

The dopamine findings every temporal-difference model must reproduce, each from one shipped protocol:
the prediction error moves from the reward to the cue with training (Schultz et al. 1997); an omitted reward
gives a dip at the time it was due; a cue added to an already-predicted reward learns nothing (blocking,
Kamin 1969; Waelti et al. 2001); and the cue response rises, the reward response falls with the reward's
probability (Fiorillo et al. 2003). ``dopasoft.tasks.PROTOCOLS`` lists the ten shipped protocols.
"""

# %%
# Transfer of the prediction error from reward to cue
# ---------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

import dopasoft as ds
from dopasoft.experiments import simulate_conditioning
from dopasoft.tasks import make_protocol

acquisition = simulate_conditioning("acquisition", seed=0)
fig = ds.analysis.plot_rpe_transfer(acquisition)

# %%
# Omission: a dip when the reward is due
# --------------------------------------
# After training, the ``omission`` protocol leaves out the reward on some trials. The per-trial table
# has the error at the reward time of every trial; on omitted trials it is negative.
omission = simulate_conditioning("omission", seed=0)
trials = omission.trials
late = trials[trials["phase"] == trials["phase"].iloc[-1]]
print(late.groupby("rewarded")["reward_rpe"].mean().round(3))
omitted_dip = late.loc[late["rewarded"] == 0, "reward_rpe"].mean()
print(f"omission dip: {omitted_dip:.3f}")

# %%
# Blocking, against a control group
# ---------------------------------
# The blocking group learns A+ before the compound AB+; the control group gets AB+ only. Probe trials
# then present B alone: its cue response is the value B acquired.
blocking = simulate_conditioning("blocking", seed=1)
control = make_protocol(
    "blocking-control",
    [("compound", {"AB+": 200}), ("test", {"A?": 10, "B?": 10})],
    description="AB+ without A+ pretraining",
)
control_run = simulate_conditioning(control, seed=1)
fig = ds.analysis.plot_blocking(blocking, control_run)


def probe_b(result):
    t = result.trials
    return t.loc[t["trial_type"] == "B?", "cue_rpe"].mean()


print(f"B probe, blocked: {probe_b(blocking):.3f}; control: {probe_b(control_run):.3f}")
print(f"blocking ratio: {probe_b(blocking) / probe_b(control_run):.3f}")

# %%
# Probability scaling
# -------------------
# Five cues rewarded with probability 0, 0.25, 0.5, 0.75 and 1. The cue response grows with the
# probability, the response to a delivered reward shrinks.
partial = simulate_conditioning("partial-reinforcement", seed=0)
scaling = ds.analysis.probability_scaling(partial)
print(scaling[["p", "cue_rpe", "rpe_rewarded"]].round(3))
fig = ds.analysis.plot_probability_scaling(partial)

slope = np.polyfit(scaling["p"], scaling["cue_rpe"], 1)[0]
print(f"cue RPE slope per unit probability: {slope:.3f}")
plt.show()
