"""Two-step stay analysis: hand-computed stay probabilities and regression coefficients, recovery of
the reward x transition interaction from simulated model-based data, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dopasoft as ds
from dopasoft.analysis import two_step as ts

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def events_to_data(events: list[tuple[bool, bool, bool]], subject: str = "s", first: int = 0) -> pd.DataFrame:
    """Canonical data whose stay table is exactly ``events`` = [(rewarded, common, stay), ...].

    Trial t has choice1 c_t, state2 = c_t if common else 1 - c_t, reward 1/0; the next choice repeats
    c_t if stay. The last trial has no successor.
    """
    rows, c = [], first
    for i, (rewarded, common, stay) in enumerate(events):
        rows.append(
            {
                "subject": subject,
                "trial": i + 1,
                "choice1": c,
                "state2": c if common else 1 - c,
                "choice2": 0,
                "reward": float(rewarded),
            }
        )
        c = c if stay else 1 - c
    rows.append(
        {"subject": subject, "trial": len(events) + 1, "choice1": c, "state2": c, "choice2": 0, "reward": 0.0}
    )
    return pd.DataFrame(rows)


# a small table worked by hand --------------------------------------------------------------------

HAND = pd.DataFrame(
    {
        "subject": ["A"] * 5 + ["B"] * 3,
        "trial": [1, 2, 3, 4, 5, 1, 2, 3],
        "choice1": [0, 0, 1, 1, 0, 1, 1, 0],
        "state2": [0, 1, 1, 0, 0, 1, 0, 0],
        "choice2": [0, 1, 1, 0, 1, 0, 0, 1],
        "reward": [1, 0, 1, 1, 0, 0, 1, 1],
    }
)
# A: t2 after (rew, common) stay; t3 after (unrew, rare) switch; t4 after (rew, common) stay;
#    t5 after (rew, rare) switch.  B: t2 after (unrew, common) stay; t3 after (rew, rare) switch.


def test_stay_table_by_hand():
    table = ts.stay_table(HAND)
    assert table["subject"].tolist() == ["A"] * 4 + ["B"] * 2
    assert table["trial"].tolist() == [2, 3, 4, 5, 2, 3]
    assert table["rewarded"].tolist() == [True, False, True, True, False, True]
    assert table["transition"].tolist() == ["common", "rare", "common", "rare", "common", "rare"]
    assert table["stay"].tolist() == [1, 0, 1, 0, 1, 0]


def test_stay_probabilities_per_subject_and_group_by_hand():
    per = ts.stay_probabilities(HAND).set_index(["subject", "rewarded", "transition"])
    assert per.loc[("A", True, "common"), "p_stay"] == 1.0
    assert per.loc[("A", True, "common"), "n"] == 2
    assert per.loc[("A", False, "rare"), "p_stay"] == 0.0
    assert per.loc[("A", True, "rare"), "p_stay"] == 0.0
    assert np.isnan(per.loc[("A", False, "common"), "p_stay"]) and per.loc[("A", False, "common"), "n"] == 0
    assert per.loc[("B", False, "common"), "p_stay"] == 1.0
    group = ts.group_stay_probabilities(per.reset_index()).set_index(["rewarded", "transition"])
    assert group.loc[(True, "common"), "mean"] == 1.0  # A only (B never had it)
    assert group.loc[(True, "common"), "n_subjects"] == 1
    assert np.isnan(group.loc[(True, "common"), "sem"])
    assert group.loc[(True, "rare"), "mean"] == 0.0 and group.loc[(True, "rare"), "n_subjects"] == 2


def test_group_sem_is_sd_over_sqrt_n():
    a = events_to_data([(True, True, True), (True, True, False)], "a")  # p = 0.5
    b = events_to_data([(True, True, True), (True, True, True)], "b")  # p = 1
    c = events_to_data([(True, True, False), (True, True, False)], "c")  # p = 0
    g = ts.group_stay_probabilities(pd.concat([a, b, c])).set_index(["rewarded", "transition"])
    assert g.loc[(True, "common"), "mean"] == pytest.approx(0.5)
    assert g.loc[(True, "common"), "sem"] == pytest.approx(np.std([0.5, 1, 0], ddof=1) / np.sqrt(3))


def test_missing_values_break_pairs():
    d = HAND.copy()
    d.loc[1, "choice1"] = np.nan  # A trial 2: no stay value, and trial 3 has no previous choice
    d.loc[5, "reward"] = np.nan  # B trial 1: outcome unknown -> B trial 2 skipped
    table = ts.stay_table(d)
    assert table["trial"].tolist() == [4, 5, 3]


def test_matches_the_task_module_on_one_subject():
    data = ds.experiments.simulate_two_step(1, 300, model="soft-hybrid", seed=3)
    ours = ts.stay_probabilities(data).set_index(["rewarded", "transition"])["p_stay"]
    theirs = ds.experiments.stay_probabilities(data)
    for rewarded in (True, False):
        for transition in ("common", "rare"):
            assert ours[(rewarded, transition)] == pytest.approx(theirs.loc[rewarded, transition])


def test_regression_equals_cell_logits_by_hand():
    # saturated design: the MLE reproduces each cell's log-odds exactly
    counts = {(True, True): (6, 2), (True, False): (3, 5), (False, True): (2, 4), (False, False): (5, 3)}
    events = []
    for (rew, com), (n_stay, n_switch) in counts.items():
        events += [(rew, com, True)] * n_stay + [(rew, com, False)] * n_switch
    order = np.random.default_rng(0).permutation(len(events))
    data = events_to_data([events[i] for i in order])
    L = {k: _logit(s / (s + w)) for k, (s, w) in counts.items()}
    rc, rr, uc, ur = L[(True, True)], L[(True, False)], L[(False, True)], L[(False, False)]
    expected = {
        "intercept": (rc + rr + uc + ur) / 4,
        "reward": (rc + rr - uc - ur) / 4,
        "transition": (rc - rr + uc - ur) / 4,
        "reward:transition": (rc - rr - uc + ur) / 4,
    }
    reg = ts.stay_regression(data).iloc[0]
    assert reg["converged"]
    assert reg["n_trials"] == len(events)
    for term, value in expected.items():
        assert reg[term] == pytest.approx(value, abs=1e-6)
        assert reg[f"se_{term}"] > 0
    # pooled over two copies (different subjects): same point estimates; two identical clusters have
    # identical (hence zero) score sums at the optimum, so the cluster-robust SE is zero up to round-off
    both = pd.concat([data, data.assign(subject="t")])
    pooled = ts.pooled_stay_regression(both)
    for term, value in expected.items():
        assert pooled.loc[term, "coef"] == pytest.approx(value, abs=1e-6)
        assert pooled.loc[term, "se"] == pytest.approx(0.0, abs=1e-6)
        assert pooled.loc[term, "ci_low"] <= pooled.loc[term, "coef"] <= pooled.loc[term, "ci_high"]
    # two different subjects: a CI of positive width around the pooled estimate (any statsmodels/pandas)
    other = events_to_data([events[i] for i in order[::-1]][: len(events) - 6]).assign(subject="u")
    pooled2 = ts.pooled_stay_regression(pd.concat([data, other]))
    assert (pooled2["se"] > 1e-3).all()
    assert (pooled2["ci_low"] < pooled2["coef"]).all() and (pooled2["coef"] < pooled2["ci_high"]).all()
    gee = ts.pooled_stay_regression(both, method="gee")
    assert gee.loc["reward:transition", "coef"] == pytest.approx(expected["reward:transition"], abs=1e-4)


def test_mb_mf_indices_by_hand():
    counts = {(True, True): (3, 1), (True, False): (1, 3), (False, True): (1, 1), (False, False): (3, 1)}
    events = [(r, c, True) for (r, c), (s, _) in counts.items() for _ in range(s)]
    events += [(r, c, False) for (r, c), (_, w) in counts.items() for _ in range(w)]
    idx = ts.mb_mf_indices(events_to_data(events)).iloc[0]
    p = {k: s / (s + w) for k, (s, w) in counts.items()}
    assert idx["mf_index"] == pytest.approx(
        0.5 * (p[True, True] + p[True, False] - p[False, True] - p[False, False])
    )
    assert idx["mb_index"] == pytest.approx(
        0.5 * (p[True, True] - p[True, False] - p[False, True] + p[False, False])
    )


def test_separated_subject_is_flagged_not_fitted():
    data = events_to_data([(True, True, True)] * 6 + [(False, False, True)] * 6)  # always stays
    reg = ts.stay_regression(data).iloc[0]
    assert not reg["converged"] and np.isnan(reg["reward:transition"])


@pytest.fixture(scope="module")
def model_based_cohort() -> pd.DataFrame:
    return ds.experiments.simulate_two_step(
        12, 200, model="soft-hybrid", params={"w": 1.0, "tau": 0.1}, seed=11
    )


def test_regression_recovers_model_based_interaction(model_based_cohort):
    pooled = ts.pooled_stay_regression(model_based_cohort)
    assert pooled.loc["reward:transition", "coef"] > 0.4
    assert pooled.loc["reward:transition", "p"] < 1e-4
    # a purely model-based agent has no main effect of reward on staying
    assert abs(pooled.loc["reward", "coef"]) < 0.15
    assert pooled.loc["reward:transition", "coef"] > 3 * abs(pooled.loc["reward", "coef"])
    per = ts.stay_regression(model_based_cohort)
    assert (per.loc[per["converged"], "reward:transition"] > 0).mean() > 0.9
    idx = ts.mb_mf_indices(model_based_cohort)
    assert idx["mb_index"].mean() > 0.15 and abs(idx["mf_index"].mean()) < 0.05


def test_regression_finds_model_free_reward_effect():
    data = ds.experiments.simulate_two_step(
        12, 200, model="soft-q-lambda", params={"tau": 0.15, "lam": 1.0}, seed=5
    )
    pooled = ts.pooled_stay_regression(data)
    assert pooled.loc["reward", "coef"] > 0.3 and pooled.loc["reward", "p"] < 1e-3
    assert pooled.loc["reward", "coef"] > 2 * abs(pooled.loc["reward:transition", "coef"])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['state2'\]"):
        ts.stay_probabilities(HAND.drop(columns="state2"))
    with pytest.raises(ValueError, match="'choice1' must be 0/1"):
        ts.stay_table(HAND.assign(choice1=HAND["choice1"] + 1))
    with pytest.raises(ValueError, match="at least two subjects"):
        ts.pooled_stay_regression(HAND[HAND["subject"] == "A"])
    with pytest.raises(ValueError, match="method must be"):
        ts.pooled_stay_regression(HAND, method="mixed")
    with pytest.raises(ValueError, match="DataFrame"):
        ts.stay_table([1, 2, 3])
