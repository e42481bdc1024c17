"""hBayesDM's models (gng_m1–m4, prl_fictitious, prl_rp, bandit2arm_delta, bandit4arm_4par) against plain
transcriptions of the ``model`` blocks of hBayesDM's Stan files, on hBayesDM's own example data.

The oracles below read the example files as hBayesDM's preprocessing does (``cue``, ``keyPressed``,
``outcome``; ``choice``, ``outcome``; ``gain``, ``-abs(loss)``) and follow the Stan code line by line,
sharing no code with dopasoft. Files: ``tests/data/hbayesdm`` (the first subjects of hBayesDM's
``commons/extdata/*_exampleData.txt``).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dopasoft as ds
import dopasoft.fitting as F
from dopasoft.cli import main
from dopasoft.fitting.simulate import four_arm_outcomes, go_nogo_outcomes, reversal_probabilities

# the tests of numbers against the transcriptions: .ci/run runs them again on numpy's baseline SIMD kernels
numerics = pytest.mark.numerics

DATA = Path(__file__).parent / "data" / "hbayesdm"
FILES = {
    "gng_m1": "gng",
    "gng_m2": "gng",
    "gng_m3": "gng",
    "gng_m4": "gng",
    "prl_fictitious": "prl",
    "prl_rp": "prl",
    "bandit2arm_delta": "bandit2arm",
    "bandit4arm_4par": "bandit4arm",
}
MODELS = list(FILES)


def example(task: str) -> Path:
    return DATA / f"{task}_exampleData_subset.txt"


def raw_subjects(task: str) -> list[pd.DataFrame]:
    """The example file split by subject in file order (hBayesDM's preprocessing)."""
    df = pd.read_csv(example(task), sep="\t")
    return [g for _, g in df.groupby("subjID", sort=False)]


# ---------------------------------------------------------------- the Stan model blocks, transcribed


def inv_logit(x):
    return 1.0 / (1.0 + math.exp(-x))


def stan_gng(g: pd.DataFrame, model: str, par: dict) -> tuple[float, dict]:
    """log_lik of one subject under gng_m1..m4 (commons/stan_files/gng_m*.stan), and its regressors."""
    xi, ep = par["xi"], par["ep"]
    b = par.get("b", 0.0)
    pi = par.get("pi", 0.0)
    rho_rew = par.get("rhoRew", par.get("rho"))
    rho_pun = par.get("rhoPun", par.get("rho"))
    wv_g, wv_ng, qv_g, qv_ng, sv = (np.zeros(4) for _ in range(5))
    log_lik = 0.0
    reg = {"Qgo": [], "Qnogo": [], "Wgo": [], "SV": [], "delta": []}
    for cue1, pressed, outcome in zip(g["cue"], g["keyPressed"], g["outcome"], strict=True):
        c = int(cue1) - 1
        if model == "gng_m1":
            wv_g[c] = qv_g[c]
        elif model == "gng_m2":
            wv_g[c] = qv_g[c] + b
        else:
            wv_g[c] = qv_g[c] + b + pi * sv[c]
        wv_ng[c] = qv_ng[c]
        p_go = inv_logit(wv_g[c] - wv_ng[c])
        p_go *= 1 - xi
        p_go += xi / 2
        log_lik += math.log(p_go) if pressed == 1 else math.log(1 - p_go)
        reg["Qgo"].append(qv_g[c])
        reg["Qnogo"].append(qv_ng[c])
        reg["Wgo"].append(wv_g[c])
        reg["SV"].append(sv[c])
        if model == "gng_m4":
            rho = rho_rew if outcome >= 0 else rho_pun
        else:
            rho = rho_rew
        reg["delta"].append(rho * outcome - (qv_g[c] if pressed else qv_ng[c]))
        if model in ("gng_m3", "gng_m4"):
            sv[c] += ep * (rho * outcome - sv[c])
        if pressed:
            qv_g[c] += ep * (rho * outcome - qv_g[c])
        else:
            qv_ng[c] += ep * (rho * outcome - qv_ng[c])
    return log_lik, reg


def stan_prl_fictitious(g: pd.DataFrame, par: dict) -> tuple[float, dict]:
    """prl_fictitious.stan: prob[1] = 1 / (1 + exp(beta (alpha - (ev1 - ev2)))), fictitious update."""
    eta, alpha, beta = par["eta"], par["alpha"], par["beta"]
    ev = np.zeros(2)
    log_lik = 0.0
    reg = {"ev_c": [], "ev_nc": [], "pe_c": [], "pe_nc": []}
    for choice, outcome in zip(g["choice"], g["outcome"], strict=True):
        prob1 = 1 / (1 + math.exp(beta * (alpha - (ev[0] - ev[1]))))
        prob = [prob1, 1 - prob1]
        ch = int(choice) - 1
        log_lik += math.log(prob[ch])
        pe = outcome - ev[ch]
        penc = -outcome - ev[1 - ch]
        reg["ev_c"].append(ev[ch])
        reg["ev_nc"].append(ev[1 - ch])
        reg["pe_c"].append(pe)
        reg["pe_nc"].append(penc)
        ev[ch] += eta * pe
        ev[1 - ch] += eta * penc
    return log_lik, reg


def categorical_logit_lpmf(k: int, logits: np.ndarray) -> float:
    m = logits.max()
    return float(logits[k] - m - math.log(np.exp(logits - m).sum()))


def stan_prl_rp(g: pd.DataFrame, par: dict) -> tuple[float, dict]:
    """prl_rp.stan: categorical_logit(ev * beta); Arew if outcome > 0 else Apun."""
    ev = np.zeros(2)
    log_lik = 0.0
    reg = {"ev_c": [], "ev_nc": [], "pe_c": []}
    for choice, outcome in zip(g["choice"], g["outcome"], strict=True):
        ch = int(choice) - 1
        log_lik += categorical_logit_lpmf(ch, ev * par["beta"])
        pe = outcome - ev[ch]
        reg["ev_c"].append(ev[ch])
        reg["ev_nc"].append(ev[1 - ch])
        reg["pe_c"].append(pe)
        ev[ch] += (par["Arew"] if outcome > 0 else par["Apun"]) * pe
    return log_lik, reg


def stan_bandit2arm_delta(g: pd.DataFrame, par: dict) -> tuple[float, dict]:
    """bandit2arm_delta.stan: categorical_logit(tau * ev); ev[choice] += A * PE."""
    ev = np.zeros(2)
    log_lik = 0.0
    reg = {"ev_c": [], "ev_nc": [], "pe_c": []}
    for choice, outcome in zip(g["choice"], g["outcome"], strict=True):
        ch = int(choice) - 1
        log_lik += categorical_logit_lpmf(ch, par["tau"] * ev)
        pe = outcome - ev[ch]
        reg["ev_c"].append(ev[ch])
        reg["ev_nc"].append(ev[1 - ch])
        reg["pe_c"].append(pe)
        ev[ch] += par["A"] * pe
    return log_lik, reg


def stan_bandit4arm_4par(g: pd.DataFrame, par: dict) -> tuple[float, dict]:
    """bandit4arm_4par.stan with hBayesDM's preprocessing rew = gain, los = -abs(loss)."""
    qr, qp, qsum = np.zeros(4), np.zeros(4), np.zeros(4)
    log_lik = 0.0
    reg = {"PEr": [], "PEp": [], "Qr_c": [], "Qp_c": []}
    for gain, loss, choice in zip(g["gain"], g["loss"], g["choice"], strict=True):
        rew, los = float(gain), -abs(float(loss))
        ch = int(choice) - 1
        log_lik += categorical_logit_lpmf(ch, qsum)
        per = par["R"] * rew - qr[ch]
        pep = par["P"] * los - qp[ch]
        per_fic, pep_fic = -qr, -qp
        qr_chosen, qp_chosen = qr[ch], qp[ch]
        reg["PEr"].append(per)
        reg["PEp"].append(pep)
        reg["Qr_c"].append(qr_chosen)
        reg["Qp_c"].append(qp_chosen)
        qr = qr + par["Arew"] * per_fic
        qp = qp + par["Apun"] * pep_fic
        qr[ch] = qr_chosen + par["Arew"] * per
        qp[ch] = qp_chosen + par["Apun"] * pep
        qsum = qr + qp
    return log_lik, reg


def stan_log_lik(model: str, g: pd.DataFrame, par: dict) -> tuple[float, dict]:
    if model.startswith("gng"):
        return stan_gng(g, model, par)
    return {
        "prl_fictitious": stan_prl_fictitious,
        "prl_rp": stan_prl_rp,
        "bandit2arm_delta": stan_bandit2arm_delta,
        "bandit4arm_4par": stan_bandit4arm_4par,
    }[model](g, par)


def random_params(model: str, n: int, seed: int) -> list[dict]:
    """Parameter sets spread over each parameter's plausible range (beyond the start ranges)."""
    rng = np.random.default_rng(seed)
    m = F.get_model(model)
    ranges = {
        "xi": (0.01, 0.5),
        "ep": (0.02, 0.9),
        "b": (-2.0, 2.0),
        "pi": (-2.0, 2.0),
        "rho": (0.5, 20.0),
        "rhoRew": (0.5, 20.0),
        "rhoPun": (0.5, 20.0),
        "alpha": (-1.0, 1.0),
        "beta": (0.2, 9.0),
        "tau": (0.2, 4.8),
        "R": (0.5, 25.0),
        "P": (0.5, 25.0),
    }
    return [{p: float(rng.uniform(*ranges.get(p, (0.02, 0.98)))) for p in m.param_names} for _ in range(n)]


# ---------------------------------------------------------------- likelihoods


@numerics
@pytest.mark.parametrize("model", MODELS)
def test_nll_is_the_stan_model_block_on_hbayesdm_example_data(model):
    task = FILES[model]
    data = F.read_hbayesdm(example(task))
    subjects = raw_subjects(task)
    for par in random_params(model, 3, seed=len(model)):
        nll = F.negative_log_likelihood(data, model, par)
        assert len(nll) == len(subjects)
        for g in subjects:
            want = -stan_log_lik(model, g, par)[0]
            got = float(nll.loc[str(g["subjID"].iloc[0])])
            assert abs(got - want) <= 1e-10 * abs(want), (model, par, got, want)


@numerics
@pytest.mark.parametrize("model", MODELS)
def test_gradient_matches_central_differences(model):
    m = F.get_model(model)
    tr = F.to_transitions(F.read_hbayesdm(example(FILES[model])))
    theta = np.array([[p[k] for k in m.param_names] for p in random_params(model, tr.n_subjects, seed=7)])
    subj = np.arange(tr.n_subjects, dtype=np.int64)
    nll, grad = m.nll_grad_pairs(tr, subj, theta)
    np.testing.assert_allclose(nll, m.nll_pairs(tr, subj, theta), rtol=1e-13)
    for j in range(m.n_params):
        h = 1e-6 * max(1.0, abs(theta[:, j]).max())
        up, down = theta.copy(), theta.copy()
        up[:, j] += h
        down[:, j] -= h
        fd = (m.nll_pairs(tr, subj, up) - m.nll_pairs(tr, subj, down)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max() + 1e-8)


@numerics
def test_gng_noise_at_its_bounds_keeps_the_likelihood_and_gradient_finite():
    """xi = 0 (a bound the optimiser snaps to) with extreme logits, and xi = 1 (pure noise)."""
    m = F.get_model("gng_m2")
    tr = F.to_transitions(F.read_hbayesdm(example("gng")))
    subj = np.arange(tr.n_subjects, dtype=np.int64)
    for xi in (0.0, 1.0):
        theta = np.tile([xi, 0.9, 8.0, 90.0], (tr.n_subjects, 1))
        nll, grad = m.nll_grad_pairs(tr, subj, theta)
        assert np.isfinite(nll).all() and np.isfinite(grad).all()
    # pure noise: every choice has probability 1/2 whatever else
    np.testing.assert_allclose(nll, tr.n_choices * math.log(2.0), rtol=1e-12)


@numerics
def test_bandit4arm_reads_losses_as_hbayesdm_does(tmp_path):
    """hBayesDM uses -abs(loss): a file with positive loss magnitudes gives the same likelihood."""
    df = pd.read_csv(example("bandit4arm"), sep="\t")
    path = tmp_path / "pos.txt"
    df.assign(loss=df["loss"].abs()).to_csv(path, sep="\t", index=False)
    par = {"Arew": 0.3, "Apun": 0.2, "R": 5.0, "P": 3.0}
    a = F.negative_log_likelihood(F.read_hbayesdm(example("bandit4arm")), "bandit4arm_4par", par)
    b = F.negative_log_likelihood(F.read_hbayesdm(path), "bandit4arm_4par", par)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-14)


@numerics
def test_bandit4arm_without_gain_and_loss_columns_splits_the_reward():
    """Plain bandit data: the reward's positive part is the gain, its negative part the loss."""
    rng = np.random.default_rng(3)
    n = 60
    gain = rng.integers(0, 2, n).astype(float)
    loss = -rng.integers(0, 2, n).astype(float)
    net = gain + loss  # a trial with both cancels: gain 0, loss 0 in the split
    choice = rng.integers(0, 4, n)
    plain = pd.DataFrame({"subject": "s", "trial": np.arange(1, n + 1), "choice": choice, "reward": net})
    par = {"Arew": 0.4, "Apun": 0.25, "R": 4.0, "P": 6.0}
    got = float(F.negative_log_likelihood(plain, "bandit4arm_4par", par).iloc[0])
    g = pd.DataFrame({"gain": np.maximum(net, 0), "loss": np.minimum(net, 0), "choice": choice + 1})
    want = -stan_bandit4arm_4par(g, par)[0]
    assert abs(got - want) <= 1e-10 * want


# ---------------------------------------------------------------- replay signals


@numerics
@pytest.mark.parametrize("model", MODELS)
def test_replay_signals_are_hbayesdms_regressors(model):
    task = FILES[model]
    data = F.read_hbayesdm(example(task))
    par = random_params(model, 1, seed=11)[0]
    rep = F.replay(data, model, par)
    nll = F.negative_log_likelihood(data, model, par)
    for g in raw_subjects(task):
        sid = str(g["subjID"].iloc[0])
        r = rep[rep["subject"].astype(str) == sid]
        ll, reg = stan_log_lik(model, g, par)
        np.testing.assert_allclose(-np.log(r["p_choice"]).sum(), nll.loc[sid], rtol=1e-10)
        if model.startswith("gng"):
            np.testing.assert_allclose(r["q_go"], reg["Qgo"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["q_nogo"], reg["Qnogo"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["w_go"], reg["Wgo"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["delta"], reg["delta"], rtol=1e-10, atol=1e-12)
            if model in ("gng_m3", "gng_m4"):
                np.testing.assert_allclose(r["sv"], reg["SV"], rtol=1e-10, atol=1e-12)
            else:
                assert r["sv"].isna().all() and r["value_rpe"].isna().all()
        elif model == "bandit4arm_4par":
            np.testing.assert_allclose(r["delta_reward"], reg["PEr"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["delta_punishment"], reg["PEp"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["q_reward"], reg["Qr_c"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["q_punishment"], reg["Qp_c"], rtol=1e-10, atol=1e-12)
        else:
            np.testing.assert_allclose(r["ev_chosen"], reg["ev_c"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["ev_unchosen"], reg["ev_nc"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(r["delta"], reg["pe_c"], rtol=1e-10, atol=1e-12)
            if model == "prl_fictitious":
                np.testing.assert_allclose(r["delta_unchosen"], reg["pe_nc"], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- generators


def test_gng_generator_is_the_likelihoods_model():
    """Each simulated press is ``u < P(go)`` with P(go) the replay's, on the generator's own trials."""
    m = F.get_model("gng_m4")
    rng = np.random.default_rng(5)
    n, t = 3, 120
    cues, outcome_if = go_nogo_outcomes(n, t, rng)
    u = rng.uniform(size=(n, t))
    theta = np.array(
        [[0.1, 0.3, 0.4, 0.8, 6.0, 3.0], [0.05, 0.5, -0.5, -0.3, 2.0, 9.0], [0.3, 0.1, 0.0, 1.5, 10.0, 1.0]]
    )
    press, outcome = m.simulate_arrays(theta, outcome_if, u, state=cues)
    np.testing.assert_array_equal(outcome, np.take_along_axis(outcome_if, press[..., None], 2)[..., 0])
    data = pd.DataFrame(
        {
            "subject": np.repeat([f"s{i}" for i in range(n)], t),
            "trial": np.tile(np.arange(1, t + 1), n),
            "state": cues.ravel(),
            "choice": press.ravel(),
            "reward": outcome.ravel(),
        }
    )
    params = pd.DataFrame(theta, columns=m.param_names).assign(subject=[f"s{i}" for i in range(n)])
    rep = F.replay(data, m, params)
    np.testing.assert_array_equal(press.ravel(), (u.ravel() < rep["p_go"].to_numpy()).astype(int))


def test_delta_rule_and_bandit4arm_generators_are_the_likelihoods_models():
    rng = np.random.default_rng(9)
    n, t = 2, 150
    # two-armed: choice 0 iff u < P(option 0)
    m = F.get_model("prl_fictitious")
    probs = reversal_probabilities(n, t)
    u = rng.uniform(size=(n, t, 2))
    theta = np.array([[0.4, 0.2, 3.0], [0.7, -0.3, 6.0]])
    ch, r = m.simulate_arrays(theta, probs, u)
    assert set(np.unique(r)) <= {-1.0, 1.0}
    data = pd.DataFrame(
        {
            "subject": np.repeat(["a", "b"], t),
            "trial": np.tile(np.arange(1, t + 1), n),
            "choice": ch.ravel(),
            "reward": r.ravel(),
        }
    )
    rep = F.replay(data, m, pd.DataFrame(theta, columns=m.param_names).assign(subject=["a", "b"]))
    p0 = np.where(rep["action"] == 0, rep["p_choice"], 1 - rep["p_choice"]).reshape(n, t)
    np.testing.assert_array_equal(ch == 0, u[..., 0] < p0)
    # four arms: the choice is the inverse CDF of the replay's policy at u
    m4 = F.get_model("bandit4arm_4par")
    _, outcome_if = four_arm_outcomes(n, t, rng)
    u4 = rng.uniform(size=(n, t))
    theta4 = np.array([[0.3, 0.2, 5.0, 4.0], [0.6, 0.5, 2.0, 8.0]])
    ch4, gain, loss = m4.simulate_arrays(theta4, outcome_if, u4)
    data4 = pd.DataFrame(
        {
            "subject": np.repeat(["a", "b"], t),
            "trial": np.tile(np.arange(1, t + 1), n),
            "choice": ch4.ravel(),
            "reward": (gain + loss).ravel(),
            "gain": gain.ravel(),
            "loss": loss.ravel(),
        }
    )
    par4 = pd.DataFrame(theta4, columns=m4.param_names).assign(subject=["a", "b"])
    nll = F.negative_log_likelihood(data4, m4, par4)
    g = data4[data4["subject"] == "a"].assign(choice=lambda d: d["choice"] + 1)
    want = -stan_bandit4arm_4par(g, dict(zip(m4.param_names, theta4[0], strict=True)))[0]
    assert abs(nll.loc["a"] - want) <= 1e-10 * want


def test_simulate_choices_uses_each_models_own_task_and_refuses_others():
    gng = F.simulate_choices(
        "gng_m3", {"xi": 0.1, "ep": 0.2, "b": 0.3, "pi": 0.5, "rho": 5.0}, n_trials=40, seed=1
    )
    assert sorted(gng["state"].unique().tolist()) == [0, 1, 2, 3]
    assert F.simulate_choices(
        "gng_m3", {"xi": 0.1, "ep": 0.2, "b": 0.3, "pi": 0.5, "rho": 5.0}, n_trials=40, seed=1
    ).equals(gng)
    four = F.simulate_choices(
        "bandit4arm_4par", {"Arew": 0.3, "Apun": 0.3, "R": 5.0, "P": 5.0}, n_trials=30, seed=2
    )
    assert {"gain", "loss"} <= set(four.columns) and (four["reward"] == four["gain"] + four["loss"]).all()
    prl = F.simulate_choices("prl_rp", {"Apun": 0.3, "Arew": 0.3, "beta": 3.0}, n_trials=30, seed=3)
    assert set(prl["reward"].unique()) <= {-1.0, 1.0}
    with pytest.raises(ValueError, match="cannot simulate the 'two-step' task; it simulates 'gng'"):
        F.simulate_choices("gng_m1", {"xi": 0.1, "ep": 0.2, "rho": 5.0}, task="two-step")
    with pytest.raises(ValueError, match="task must be one of"):
        F.simulate_choices("gng_m1", {"xi": 0.1, "ep": 0.2, "rho": 5.0}, task="igt")


def test_two_step_simulators_refuse_the_hbayesdm_models(tmp_path, capsys):
    with pytest.raises(ValueError, match="'gng_m2' is not a two-step model; .*simulate_choices"):
        ds.experiments.simulate_two_step(2, 5, model="gng_m2", seed=0)
    out = tmp_path / "x.csv"
    args = [
        "simulate",
        "two-step",
        "--model",
        "prl_rp",
        "--n-subjects",
        "2",
        "--n-trials",
        "5",
        "--out",
        str(out),
    ]
    assert main(args) == 2
    assert "'prl_rp' is not a two-step model" in capsys.readouterr().err


def test_models_refuse_data_of_another_task():
    two_step = F.read_hbayesdm(example("gng"))
    with pytest.raises(ValueError, match="'prl_rp' needs a two-armed task without states .* 4 state"):
        F.negative_log_likelihood(two_step, "prl_rp", {"Apun": 0.2, "Arew": 0.3, "beta": 2.0})
    four = F.read_hbayesdm(example("bandit4arm"))
    with pytest.raises(ValueError, match="got 1 state\\(s\\) and 4 options"):
        F.negative_log_likelihood(four, "bandit2arm_delta", {"A": 0.2, "tau": 2.0})
    with pytest.raises(ValueError, match="'gng_m1' needs two actions \\(0 = no-go, 1 = go\\), got 4"):
        F.negative_log_likelihood(four, "gng_m1", {"xi": 0.1, "ep": 0.2, "rho": 5.0})
    steps = pd.DataFrame(
        {
            "subject": "s",
            "trial": [1, 1],
            "state": [0, 1],
            "choice": [0, 1],
            "reward": [0.0, 1.0],
            "terminal": [False, True],
        }
    )
    with pytest.raises(ValueError, match="'prl_rp' needs a two-armed task without states"):
        F.negative_log_likelihood(steps, "prl_rp", {"Apun": 0.2, "Arew": 0.3, "beta": 2.0})
    with pytest.raises(ValueError, match="'gng_m2' needs one step per trial"):
        F.negative_log_likelihood(steps, "gng_m2", {"xi": 0.1, "ep": 0.2, "b": 0.0, "rho": 5.0})
    with pytest.raises(ValueError, match="gng_m1.* needs steps or bandit data, got two-step data"):
        two_step = pd.DataFrame(
            {
                "subject": "s",
                "trial": [1, 2],
                "choice1": [0, 1],
                "state2": [0, 1],
                "choice2": [1, 0],
                "reward": [1.0, 0.0],
            }
        )
        F.negative_log_likelihood(two_step, "gng_m1", {"xi": 0.1, "ep": 0.2, "rho": 5.0})


# ---------------------------------------------------------------- end to end


def test_fit_and_cli_on_hbayesdm_gng_file(tmp_path):
    path = example("gng")
    res = F.fit(F.read_hbayesdm(path), "gng_m2", n_starts=2, seed=0)
    assert list(res.params.columns[:5]) == ["subject", "xi", "ep", "b", "rho"]
    assert res.params["converged"].all()
    out = tmp_path / "fits.csv"
    assert main(["fit", str(path), "--model", "gng_m2", "--n-starts", "2", "--out", str(out), "--quiet"]) == 0
    fits = pd.read_csv(out)
    np.testing.assert_allclose(fits["nll"], res.params["nll"], rtol=1e-8)
    sig = tmp_path / "signals.csv"
    assert main(["replay", str(path), "--fits", str(out), "--out", str(sig), "--quiet"]) == 0
    assert {"q_go", "q_nogo", "w_go", "p_go"} <= set(pd.read_csv(sig).columns)


# ---------------------------------------------------------------- hierarchical Bayes: the whole Stan model

# per model, in the Stan file's order: (parameter, transform, mu_pr prior sd, sigma prior, its scale)
STAN_PRIORS = {
    "gng_m1": [
        ("xi", "phi", 1, "normal", 0.2),
        ("ep", "phi", 1, "normal", 0.2),
        ("rho", "exp", 1, "normal", 0.2),
    ],
    "gng_m2": [
        ("xi", "phi", 1, "normal", 0.2),
        ("ep", "phi", 1, "normal", 0.2),
        ("b", "id", 10, "cauchy", 1.0),
        ("rho", "exp", 1, "normal", 0.2),
    ],
    "gng_m3": [
        ("xi", "phi", 1, "normal", 0.2),
        ("ep", "phi", 1, "normal", 0.2),
        ("b", "id", 10, "cauchy", 1.0),
        ("pi", "id", 10, "cauchy", 1.0),
        ("rho", "exp", 1, "normal", 0.2),
    ],
    "gng_m4": [
        ("xi", "phi", 1, "normal", 0.2),
        ("ep", "phi", 1, "normal", 0.2),
        ("b", "id", 10, "cauchy", 1.0),
        ("pi", "id", 10, "cauchy", 1.0),
        ("rhoRew", "exp", 1, "normal", 0.2),
        ("rhoPun", "exp", 1, "normal", 0.2),
    ],
    "prl_fictitious": [
        ("eta", "phi", 1, "normal", 0.2),
        ("alpha", "id", 1, "cauchy", 1.0),
        ("beta", "phi10", 1, "normal", 0.2),
    ],
    "prl_rp": [
        ("Apun", "phi", 1, "normal", 0.2),
        ("Arew", "phi", 1, "normal", 0.2),
        ("beta", "phi10", 1, "normal", 0.2),
    ],
    "bandit4arm_4par": [
        ("Arew", "phi", 1, "normal", 0.2),
        ("Apun", "phi", 1, "normal", 0.2),
        ("R", "phi30", 1, "normal", 0.2),
        ("P", "phi30", 1, "normal", 0.2),
    ],
}


def stan_phi_approx(x):
    return 1.0 / (1.0 + math.exp(-(0.07056 * x**3 + 1.5976 * x)))


def stan_joint(model: str, x: np.ndarray, subjects: list[pd.DataFrame]) -> float:
    """The Stan model block with its normalising constants, on the sampler's scale: mu_pr, log sigma
    (Jacobian log sigma), the raw subject effects (subject-major), then every subject's log_lik."""
    spec = STAN_PRIORS[model]
    p, n = len(spec), len(subjects)
    mu, log_sigma, raw = x[:p], x[p : 2 * p], x[2 * p :].reshape(n, p)
    sigma = np.exp(log_sigma)
    lp = 0.0
    for j, (_, _, mu_sd, fam, scale) in enumerate(spec):
        lp += -0.5 * (mu[j] / mu_sd) ** 2 - math.log(mu_sd) - 0.5 * math.log(2 * math.pi)
        if fam == "normal":  # sigma ~ normal(0, scale), sigma >= 0: twice the normal density
            lp += (
                math.log(2.0) - 0.5 * (sigma[j] / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)
            )
        else:  # sigma ~ cauchy(0, scale), sigma >= 0
            lp += math.log(2.0) - math.log(math.pi * scale) - math.log1p((sigma[j] / scale) ** 2)
        lp += log_sigma[j]
    lp += float(np.sum(-0.5 * raw**2 - 0.5 * math.log(2 * math.pi)))
    for i, g in enumerate(subjects):
        par = {}
        for j, (name, how, *_) in enumerate(spec):
            z = mu[j] + sigma[j] * raw[i, j]
            par[name] = {
                "phi": stan_phi_approx(z),
                "phi10": 10 * stan_phi_approx(z),
                "phi30": 30 * stan_phi_approx(z),
                "exp": math.exp(z),
                "id": z,
            }[how]
        lp += stan_log_lik(model, g, par)[0]
    return lp


HIER = [m for m in MODELS if m != "bandit2arm_delta"]  # bandit2arm_delta: tests/test_bayes.py


@numerics
@pytest.mark.parametrize("model", HIER)
def test_hierarchical_log_density_is_the_stan_model(model):
    from dopasoft.fitting.bayes import LogDensity, hierarchical_model

    task = FILES[model]
    subjects = raw_subjects(task)
    d = LogDensity(hierarchical_model(model), F.to_transitions(F.read_hbayesdm(example(task))))
    assert d.hmodel.names == tuple(s[0] for s in STAN_PRIORS[model])
    rng = np.random.default_rng(len(model))
    for _ in range(3):
        x = rng.normal(0.0, 0.6, d.n_dim)
        lp, grad = d.logp_grad(x)
        want = stan_joint(model, x, subjects)
        assert abs(lp - want) <= 1e-10 * abs(want), (model, lp, want)
        # the compiled path (transforms, the model's block, chain rule) against numpy around nll_grad_pairs
        assert d._block is not None
        lp_np, grad_np = d.logp_grad_numpy(x)
        assert abs(lp - lp_np) <= 1e-12 * abs(lp_np)
        np.testing.assert_allclose(grad, grad_np, rtol=1e-10, atol=1e-10 * np.abs(grad_np).max())
    h = 1e-6
    fd = np.array([(d.logp_grad(x + e)[0] - d.logp_grad(x - e)[0]) / (2 * h) for e in np.eye(d.n_dim) * h])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_sample_reports_a_gng_posterior_under_hbayesdms_names():
    data = F.read_hbayesdm(example("gng"))
    with warnings.catch_warnings():  # 30 draws: the sampler's R-hat and ESS warnings are expected
        warnings.simplefilter("ignore", UserWarning)
        post = F.sample(data, "gng_m2", chains=2, draws=30, tune=30, seed=3)
    names = set(post.idata.posterior.data_vars)
    assert {"mu_pr", "sigma", "mu_xi", "mu_ep", "mu_b", "mu_rho", "xi", "ep", "b", "rho"} <= names
    assert list(post.idata.posterior["mu_pr"].coords["parameter"].values) == ["xi", "ep", "b", "rho"]
    # mu_b is mu_pr[b] (identity), mu_rho = exp(mu_pr[rho]); subjects' xi in (0, 1), rho > 0
    np.testing.assert_allclose(post.idata.posterior["mu_b"], post.idata.posterior["mu_pr"].sel(parameter="b"))
    np.testing.assert_allclose(
        post.idata.posterior["mu_rho"], np.exp(post.idata.posterior["mu_pr"].sel(parameter="rho")), rtol=1e-12
    )
    assert float(post.idata.posterior["xi"].min()) > 0 and float(post.idata.posterior["xi"].max()) < 1
    assert float(post.idata.posterior["rho"].min()) > 0


@numerics
@pytest.mark.parametrize("model", ["gng_m3", "prl_fictitious", "bandit4arm_4par"])
def test_a_trial_without_a_choice_is_skipped(model, tmp_path):
    """A blank choice (keyPressed) is neither counted nor learned from: the same NLL as without the row."""
    task = FILES[model]
    df = pd.read_csv(example(task), sep="\t")
    col = "keyPressed" if task == "gng" else "choice"
    blank = np.zeros(len(df), bool)
    blank[[3, 50, 51, 130]] = True
    with_blanks = df.astype({col: object})
    with_blanks.loc[blank, col] = ""
    with_blanks.to_csv(tmp_path / "blanks.txt", sep="\t", index=False)
    kept = df[~blank]
    kept.to_csv(tmp_path / "kept.txt", sep="\t", index=False)
    par = random_params(model, 1, seed=2)[0]
    a = F.negative_log_likelihood(F.read_hbayesdm(tmp_path / "blanks.txt"), model, par)
    b = F.negative_log_likelihood(F.read_hbayesdm(tmp_path / "kept.txt"), model, par)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-13)
    want = [-stan_log_lik(model, g, par)[0] for _, g in kept.groupby("subjID", sort=False)]
    np.testing.assert_allclose(a.to_numpy(), want, rtol=1e-10)


def test_gain_and_loss_columns_must_be_numbers_where_a_choice_was_made():
    data = pd.DataFrame(
        {
            "subject": ["a"] * 4,
            "trial": [1, 2, 3, 4],
            "choice": [0, 1, 2, 3],
            "reward": [1.0, 0.0, -1.0, 0.0],
            "gain": [1.0, 0.0, 0.0, "x"],
            "loss": [0.0, 0.0, -1.0, 0.0],
        }
    )
    with pytest.raises(ValueError, match="subject 'a', row 3, column 'gain': 'x' is not a number"):
        F.to_transitions(data)


def test_cli_recover_simulates_the_models_own_task(tmp_path, capsys):
    assert (
        main(
            [
                "recover",
                "--model",
                "prl_rp",
                "--n-subjects",
                "3",
                "--n-trials",
                "40",
                "--n-starts",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    data = pd.read_csv(tmp_path / "data.csv")
    assert set(data["reward"].unique()) <= {-1.0, 1.0}  # the prl models' outcomes
    assert "(bandit)" in capsys.readouterr().err


@numerics
def test_bandit2arm_delta_is_soft_q_at_the_reciprocal_temperature():
    """Two code paths, one model: the delta rule with inverse temperature tau is one-step soft Q-learning at
    temperature 1/tau (what the hierarchical bandit2arm_delta of tests/test_bayes.py samples)."""
    data = F.read_hbayesdm(example("bandit2arm"))
    for par in random_params("bandit2arm_delta", 3, seed=4):
        a = F.negative_log_likelihood(data, "bandit2arm_delta", par)
        b = F.negative_log_likelihood(data, "soft-q", {"alpha": par["A"], "tau": 1.0 / par["tau"]})
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-10)
