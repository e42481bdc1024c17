"""
A Bayesian hierarchical fit with group covariates
=================================================

Do patients learn faster than controls? Rather than fitting each subject and then running a t-test on the
estimates (which ignores how uncertain each estimate is), put the group difference into the model: the
group mean of the learning rate becomes a regression on the subject's group, and the posterior of the
regression coefficient answers the question. ``ds.fitting.sample`` draws the joint posterior by NUTS
(nutpie; ``pip install -e ".[bayes]"``). Here hBayesDM's two-armed bandit model ``bandit2arm_delta``, on a
simulated study with 12 controls and 12 patients whose learning rate is higher. The chains are kept short
so that the example runs in seconds; a real analysis uses the defaults (4 chains × 1000 draws).
"""

# %%
# A study with two groups
# -----------------------
import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import norm

import dopasoft as ds

n = 12
params = pd.DataFrame(
    {
        "subject": [f"s{i:02d}" for i in range(2 * n)],
        "alpha": np.r_[np.full(n, 0.15), np.full(n, 0.6)],  # controls, then patients
        "tau": 0.3,  # temperature; hBayesDM's tau is the inverse temperature, 1 / 0.3
    }
)
data = ds.fitting.simulate_choices("soft-q", params, task="bandit", n_trials=120, seed=5)
covariates = pd.DataFrame({"subject": params["subject"], "patient": np.r_[np.zeros(n), np.ones(n)]})

# %%
# Sample
# ------
# ``covariate_params=["A"]`` gives only the learning rate ``A`` a regression on ``patient``; its
# coefficient ``beta_A`` lives on the unconstrained (probit) scale, so its sign and its interval are what
# to read.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # short chains fail the ESS check; the warning says so
    post = ds.fitting.sample(
        data,
        "bandit2arm_delta",
        chains=2,
        draws=300,
        tune=300,
        seed=0,
        progress=False,
        covariates=covariates,
        covariate_params=["A"],
    )
summary = post.summary()
print(
    summary.loc[summary.index.str.startswith(("mu_", "beta_")), ["mean", "sd", "hdi_3%", "hdi_97%", "r_hat"]]
)

# %%
# The answer: the posterior of the group difference
# -------------------------------------------------
beta = post.idata.posterior["beta_A"].to_numpy().ravel()
fig, ax = plt.subplots(figsize=(5, 3))
az.plot_posterior(post.idata, var_names=["beta_A"], ax=ax, hdi_prob=0.95, ref_val=0, textsize=9)
ax.set_title("Patients − controls, learning rate (probit scale)")
fig.tight_layout()
# the truth, on the probit scale of A: Phi^-1(0.6) - Phi^-1(0.15)
true_beta = float(np.diff(norm.ppf([0.15, 0.6]))[0])
print(f"true beta_A: {true_beta:.3f}")
print(f"posterior mean beta_A: {beta.mean():.3f}")
print(f"P(beta_A > 0): {(beta > 0).mean():.3f}")
