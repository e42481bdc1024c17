"""Models are declared once, per family: the registry, specs, command-line flags, labels and defaults all
come from the declarations, and a new family is one module (here a toy win-stay/lose-shift family written
in this file, fitted end to end and checked against its closed-form maximum-likelihood estimate)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import dopasoft.fitting as F
from dopasoft.cli import fit as cli_fit
from dopasoft.fitting import models as M
from dopasoft.fitting.models.base import ChoiceModel, ModelFamily, Option, Parameter

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

# ----------------------------------------------------------------------------------------------
# a toy family, declared as a newcomer would in dopasoft/fitting/models/wsls.py


@dataclass(frozen=True)
class WSLSModel(ChoiceModel):
    """Win-stay/lose-shift with lapse ``epsilon``: P(rule choice) = 1 - epsilon / 2 (two options)."""

    tasks: tuple[str, ...] = ("bandit",)

    def nll_pairs(self, tr, subj, theta):
        self.check_task(tr)
        out = np.empty(len(subj))
        for k, i in enumerate(subj):
            eps = self.full(theta[k])[0]
            nll, prev, prev_r = 0.0, -1, 0.0
            for t in range(tr.n_steps[i]):
                a = tr.action[i, t]
                if a < 0:
                    continue
                if prev < 0:
                    p = 0.5
                else:
                    rule = prev if prev_r > 0 else 1 - prev
                    p = 1 - eps / 2 if a == rule else eps / 2
                nll -= math.log(p) if p > 0 else -math.inf
                prev, prev_r = a, tr.reward[i, t]
            out[k] = nll
        return out

    def simulate_arrays(self, theta, probs, u):  # pragma: no cover - not used here
        raise NotImplementedError


WSLS_PARAMETERS = {
    "epsilon": Parameter("epsilon", 0.0, 1.0, (0.1, 0.9), "lapse rate", domain=(0.0, 1.0), symbol="ε")
}


def _build(name, options):
    return WSLSModel(
        name=name,
        params=(WSLS_PARAMETERS["epsilon"],),
        source=(0,),
        constant=(0.0,),
        options=dict(options),
        family=WSLS_FAMILY,
    )


WSLS_FAMILY = ModelFamily(
    title="win-stay/lose-shift",
    models={"wsls": "win-stay/lose-shift with a lapse"},
    options=(Option("verbose_toy", False, "a toy option"),),
    build=_build,
)


@pytest.fixture
def with_wsls(monkeypatch):
    families = M.FAMILIES + (WSLS_FAMILY,)
    monkeypatch.setattr(M, "FAMILIES", families)
    monkeypatch.setattr(M, "MODEL_NAMES", M.MODEL_NAMES + ("wsls",))
    # the command line reads the registry when it parses --model: nothing of it to patch
    return WSLS_FAMILY


def _bandit(seed=0, n_subjects=3, n_trials=300, eps=(0.1, 0.3, 0.6)):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_subjects):
        prev, prev_r = -1, 0.0
        for t in range(n_trials):
            if prev < 0 or rng.random() < eps[i]:
                a = int(rng.integers(2))
            else:
                a = prev if prev_r > 0 else 1 - prev
            r = float(rng.random() < (0.7 if a == 0 else 0.3))
            rows.append((f"s{i}", t, a, r))
            prev, prev_r = a, r
    return pd.DataFrame(rows, columns=["subject", "trial", "choice", "reward"])


def test_a_new_family_is_one_declaration(with_wsls):
    m = F.get_model("wsls")
    assert m.param_names == ("epsilon",) and m.spec == "wsls" and m.family is WSLS_FAMILY
    assert F.get_model("wsls+verbose_toy").spec == "wsls+verbose_toy"
    # another family's option, not at its default: refused, naming the family it belongs to
    with pytest.raises(ValueError, match="kappa applies to the soft Q models only"):
        F.get_model("wsls", kappa=True)
    data = _bandit()
    res = F.fit(data, "wsls", n_starts=3, seed=1, prior={})
    # closed form: P(rule) = 1 - eps/2 for every choice after the first -> eps_hat = 2 * (non-rule share)
    for subject, sub in data.groupby("subject"):
        a, r = sub["choice"].to_numpy(), sub["reward"].to_numpy()
        rule = np.where(r[:-1] > 0, a[:-1], 1 - a[:-1])
        eps_hat = 2 * np.mean(a[1:] != rule)
        row = res.params.set_index("subject").loc[subject]
        assert row["epsilon"] == pytest.approx(eps_hat, abs=2e-4)
        assert row["converged"]


def test_a_new_family_gets_its_command_line_spec_and_labels(with_wsls, capsys):
    p = argparse.ArgumentParser()
    cli_fit.add_model_options(p)
    args = p.parse_args(["--model", "wsls+verbose_toy"])
    model, fixed, bounds = cli_fit.model_from_args(args)
    assert model.spec == "wsls+verbose_toy" and fixed == {} and bounds == {}
    with pytest.raises(SystemExit):
        p.parse_args(["--model", "wsls+kappa"])
    assert "argument --model: model spec 'wsls+kappa': kappa applies to the soft Q models only" in (
        capsys.readouterr().err
    )
    assert M.parameter_labels()["epsilon"] == "ε, lapse rate"


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_every_option_has_a_spec_round_trip_through_the_command_line(name):
    fam = M.family_of(name)
    p = argparse.ArgumentParser()
    cli_fit.add_model_options(p)
    for opt in fam.options:
        if isinstance(opt.default, bool):
            value = True
        elif isinstance(opt.default, float):
            value = 0.5
        else:
            value = [c for c in opt.choices if c != opt.default][0]
        try:
            m = F.get_model(name, **{opt.name: value})
        except ValueError:  # an option a model of the family does not take (none today)
            continue
        assert F.get_model(m.spec) == m and m.options[opt.name] == value
        model, _, _ = cli_fit.model_from_args(p.parse_args(["--model", m.spec]))
        assert model == m


def test_parameter_tables_are_consistent():
    for fam in M.FAMILIES:
        for name in fam.models:
            for m in fam.variants(name):
                for par in m.params:
                    lo, hi = par.lower, par.upper
                    assert lo < hi and par.in_domain(par.start[0]) and par.in_domain(par.start[1])
                    assert lo <= par.start[0] < par.start[1] <= hi
                    # the default bounds lie in the domain (an open end may be reached only as a limit)
                    assert par.in_domain(lo) or (lo == par.domain[0] and par.open_ends[0])
                    assert par.in_domain(hi) or (hi == par.domain[1] and par.open_ends[1])
                    assert par.label.startswith(par.symbol or par.description[:3])
    # the default prior keys on kind: every temperature / inverse temperature gets one, nothing else
    m = F.get_model("soft-q-lambda", separate_tau=True, kappa=True)
    assert set(F.default_prior(m)) == {"tau1", "tau2"}
    assert set(F.default_prior("daw-hybrid")) == {"beta1", "beta2"}


def test_fits_tables_with_plain_names_are_read_from_their_columns():
    from dopasoft.analysis.model_fits import fits_model

    cols = ["subject", "nll", "alpha1", "alpha2", "tau", "lam", "kappa"]
    fits = pd.DataFrame([["a", 1.0, 0.1, 0.2, 0.3, 0.4, 0.5]], columns=cols).assign(model="soft-q-lambda")
    assert fits_model(fits).spec == "soft-q-lambda+kappa+separate_alpha"
    fits = fits.assign(model="soft-q-lambda+kappa+separate_alpha")
    assert fits_model(fits).param_names == ("alpha1", "alpha2", "tau", "lam", "kappa")


def test_no_module_branches_on_model_names():
    from pathlib import Path

    root = Path(F.__file__).parent.parent
    offenders = [
        str(p.relative_to(root))
        for sub in ("cli", "analysis", "fitting")
        for p in (root / sub).rglob("*.py")
        if 'startswith("daw' in p.read_text(encoding="utf-8")
        or "startswith('daw" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
