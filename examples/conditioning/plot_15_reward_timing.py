"""
Dopamine at uncertain reward times: belief states, CSC and semi-Markov TD
=========================================================================

When a reward comes 1.2–2.8 s after a cue, at a time drawn anew on every trial, dopamine neurons fire
less to late rewards if every trial is rewarded, but *more* to late rewards if 10 % of rewards are
omitted (Starkweather et al. 2017, *Nature Neuroscience* 20:581). A TD learner whose features are the
animal's *belief* about the hidden state (still waiting, or trial over) reproduces both; the same learner
on a complete serial compound (CSC) does not. This example simulates a cohort in both tasks with the
three models and plots the reward response against the reward delay.
"""

# %%
# The two tasks
# -------------
# ``"variable-delay"`` draws each trial's delay from nine times between 1.2 and 2.8 s (a bell-shaped
# distribution); ``p_reward=0.9`` omits 10 % of the rewards. Parameters are per second
# (``gamma_per_s``), so the bin width (0.2 s here) does not change the predictions.
import dopasoft as ds

cohort = {"n_subjects": 5, "param_sd": {"alpha": 0.02}}
belief = {
    "100 % rewarded": ds.experiments.simulate_conditioning(
        "variable-delay", p_reward=1.0, representation="belief-state", seed=1, **cohort
    ),
    "90 % rewarded": ds.experiments.simulate_conditioning(
        "variable-delay", p_reward=0.9, representation="belief-state", seed=2, **cohort
    ),
}

# %%
# Reward response against delay
# ------------------------------
# ``delay_slope`` fits a line to each animal's mean reward RPE per delay (second half of training).
# Belief-state TD: negative when every trial is rewarded (the hazard of reward rises with time),
# positive with omissions (an unrewarded late moment moves the belief towards "trial over").
for task, result in belief.items():
    slopes = ds.analysis.delay_slope(result)
    print(
        f"slope {task.split()[0]}% task: {slopes.mean():.3f} per s (belief-state, mean of {len(slopes)} animals)"
    )

# %%
# The other two models
# --------------------
# CSC TD cannot tell that the reward has not come yet, so it predicts the unconditional chance of a
# reward at each moment: reward responses stay near 1 at every delay, in both tasks. Semi-Markov TD
# (Daw, Courville & Touretzky 2006) learns one value per state, not per moment: its reward response
# falls with delay (the wait is discounted) in both tasks.
runs = {"Belief-state TD": belief}
for label, representation in (("CSC TD", "csc"), ("Semi-Markov TD", "semi-markov")):
    runs[label] = {
        task: ds.experiments.simulate_conditioning(
            "variable-delay", p_reward=p, representation=representation, seed=3
        )
        for task, p in (("100 % rewarded", 1.0), ("90 % rewarded", 0.9))
    }
    for task, result in runs[label].items():
        print(f"slope {task.split()[0]}% task: {ds.analysis.delay_slope(result).mean():.3f} per s ({label})")

# %%
# The figure
# ----------
# Mean ± SEM across the five animals for the belief-state model; ± SEM across trials for the single
# CSC and semi-Markov animals.
fig = ds.analysis.plot_reward_timing(runs)
# fig.savefig("reward_timing.png") to keep it
