"""
Habits and action prediction errors
===================================

In the soft theory the agent's policy is relative to a default policy π0. When π0 is itself learned from
the actions taken, at a slow rate α_π, it becomes a habit, and the agent emits a value-free *action
prediction error* ``action_pe = 1 − π0(a|s)``: large for an unusual action, falling as an action becomes
habitual, and blind to reward (Greenstreet et al. 2025 report such a signal in tail-of-striatum dopamine).
Here an agent learns an auditory two-choice discrimination; a novel cue joins at trial 300.
"""

# %%
# Run the experiment
# ------------------
import matplotlib.pyplot as plt

import dopasoft as ds
from dopasoft.experiments import discrimination_experiment

table = discrimination_experiment(400, novel_at=300, prior_rate=0.05, seed=0)
table[["trial", "cue", "action", "correct", "action_pe", "reward_rpe"]].head()

# %%
# Blind to reward
# ---------------
# Replay the same actions with the outcomes swapped (errors rewarded, correct choices not): the reward
# prediction error changes, the action prediction error does not.
swapped = discrimination_experiment(
    400, novel_at=300, seed=0, actions=table["action"], reward=0.0, error_reward=1.0
)
print(f"identical action_pe under swapped rewards: {(swapped['action_pe'] == table['action_pe']).all()}")
fig = ds.analysis.plot_action_prediction_errors(table, replay=swapped)
plt.show()

# %%
# Numbers: early, late, and at the first novel-cue trial
# ------------------------------------------------------
early = table["action_pe"].iloc[:20].mean()
late = table.loc[(table["trial"] > 250) & (table["trial"] <= 300), "action_pe"].mean()
first_novel = table.loc[table["novel"].astype(bool), "action_pe"].iloc[0]
print(f"action_pe early: {early:.3f}, late: {late:.4f}")
print(f"action_pe at the first novel cue: {first_novel:.3f}")
