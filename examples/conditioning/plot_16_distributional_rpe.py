"""
Distributional dopamine: reversal points are expectiles of the reward distribution
==================================================================================

Dopamine neurons differ in how strongly they respond to better- and worse-than-expected rewards.
Dabney et al. (2020, *Nature* 577:671) showed that this asymmetry predicts where each neuron's response
reverses sign, as distributional TD learning says: a unit that learns with rates α⁺ and α⁻ settles at
the τ-expectile of the reward distribution, τ = α⁺ / (α⁺ + α⁻). The population's reversal points then
encode the whole distribution, which can be decoded back.
"""

# %%
# A population of units on the seven juice magnitudes
# ---------------------------------------------------
# The default task is the variable-magnitude task of Dabney et al.: 0.1 to 20 µl with the frequencies
# of their experiment. Twenty units with asymmetries τ from 0.025 to 0.975.
import numpy as np

import dopasoft as ds

result = ds.experiments.distributional_rpe(n_units=20, seed=0)
units = result.units
print(units[["asymmetry", "reversal_point", "expectile"]].round(2).to_string(index=False))

# %%
# Reversal points against expectiles
# ----------------------------------
# Each unit's reversal point (where its mean RPE against magnitude crosses zero) lies on the
# τ-expectile curve of the reward distribution.
error = np.abs(units["reversal_point"] - units["expectile"]).max()
print(f"largest |reversal point - expectile|: {error:.3f} µl")

# %%
# Decoding the distribution
# -------------------------
# Expectile imputation finds samples whose expectiles match the reversal points; their mean is close
# to the true mean reward.
true_mean = float(result.rewards @ result.probabilities)
print(f"decoded mean: {result.decoded.mean():.3f} µl (true {true_mean:.3f} µl)")

# %%
# The figure
# ----------
fig = ds.analysis.plot_distributional_rpe(result)
