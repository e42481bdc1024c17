"""Rules every sub-command of ``dopasoft`` keeps, checked on the real parser (so a new command cannot
break them), and end-to-end checks of the one-line summaries and of the CSV quoting."""

from __future__ import annotations

import argparse
import re

import pandas as pd
import pytest

import dopasoft
from dopasoft.cli import build_parser, main
from dopasoft.experiments import simulate_two_step

# reST that must not reach a terminal: roles, double back-quotes, table rules
REST = re.compile(r":(func|class|meth|mod|data|attr|ref|doc):|``|^\s*={3,}(\s+={3,})*\s*$", re.MULTILINE)
# one spelling per meaning: the divergent spelling -> the rule
SPELLINGS = {
    "--trials": "--n-trials",
    "--ntrials": "--n-trials",
    "--subjects": "--n-subjects",
    "--nsubjects": "--n-subjects",
    "--output": "--out",
    "--output-dir": "--out",
    "--outdir": "--out",
    "--random-seed": "--seed",
    "--rng-seed": "--seed",
    "--models-spec": "--model",
}
SOFT_Q_SPEC = "soft-q-lambda+kappa"


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Yield (command path, parser) for the parser and every sub-parser, recursively."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


PARSERS = list(walk(build_parser()))
COMMANDS = [p for p in PARSERS if p[0]]


def _name(item) -> str:
    return " ".join(item[0]) or "dopasoft"


def test_every_command_is_walked():
    names = {_name(p) for p in PARSERS}
    assert {
        "demo",
        "fit",
        "replay",
        "recover",
        "figures",
        "simulate conditioning",
        "simulate two-step",
    } <= names
    assert "simulate discrimination" in names


@pytest.mark.parametrize("item", PARSERS, ids=_name)
def test_every_option_has_help(item):
    _, parser = item
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help and choice.help.strip(), f"sub-command {choice.dest} has no help"
            continue
        assert action.help and action.help.strip() and action.help != argparse.SUPPRESS, (
            f"{_name(item)}: {'/'.join(action.option_strings) or action.dest} has no help text"
        )


@pytest.mark.parametrize("item", PARSERS, ids=_name)
def test_help_is_plain_text(item):
    _, parser = item
    texts = [parser.description or "", parser.epilog or ""]
    texts += [a.help or "" for a in parser._actions]
    texts.append(parser.format_help())
    for text in texts:
        match = REST.search(text)
        assert match is None, f"{_name(item)}: reST markup {match.group(0)!r} in its help:\n{text}"


@pytest.mark.parametrize("item", PARSERS, ids=_name)
def test_option_spellings_are_from_one_vocabulary(item):
    _, parser = item
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag not in SPELLINGS, f"{_name(item)}: {flag} should be spelt {SPELLINGS[flag]}"
            if flag.startswith("--"):
                assert re.fullmatch(r"--[a-z0-9]+(-[a-z0-9]+)*", flag), (
                    f"{_name(item)}: {flag} is not kebab-case"
                )


def _option(parser: argparse.ArgumentParser, flag: str):
    return next((a for a in parser._actions if flag in a.option_strings), None)


@pytest.mark.parametrize("item", COMMANDS, ids=_name)
def test_shared_options_are_checked_alike(item):
    _, parser = item
    for flag in ("--seed", "--n-trials", "--n-subjects"):
        action = _option(parser, flag)
        if action is None:
            continue
        with pytest.raises(argparse.ArgumentTypeError):
            action.type("-1")
        with pytest.raises(argparse.ArgumentTypeError):
            action.type("1.5")
        assert action.type("3") == 3
    seed = _option(parser, "--seed")
    if seed is not None:
        assert seed.type("0") == 0 and seed.default == 0


@pytest.mark.parametrize("item", COMMANDS, ids=_name)
def test_every_model_option_takes_a_spec_string(item):
    _, parser = item
    action = _option(parser, "--model")
    if action is None:
        return
    assert action.choices is None  # a spec, not a fixed list of names
    assert action.type(SOFT_Q_SPEC) == SOFT_Q_SPEC
    assert action.type("soft-q-lambda+kappa+habit") == "soft-q-lambda+kappa+habit"
    if parser.prog.endswith(" sample"):  # hierarchical models: hBayesDM's by their names, Soft Q specs
        assert action.type("ts_par7") == "ts_par7" and action.type("bandit2arm_delta") == "bandit2arm_delta"
        with pytest.raises(argparse.ArgumentTypeError, match="ts_par7"):
            action.type("daw-hybrid")  # the hybrid's hierarchical model is hBayesDM's ts_par7
        with pytest.raises(argparse.ArgumentTypeError, match="unknown model 'nope'"):
            action.type("nope")
        return
    assert action.type("daw-hybrid+trans_prob=0.8") == "daw-hybrid+trans_prob=0.8"
    with pytest.raises(argparse.ArgumentTypeError, match="unknown model 'nope'.*soft-q-lambda.*daw-hybrid"):
        action.type("nope")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown option 'foo'; options are kappa"):
        action.type("soft-q-lambda+foo")


@pytest.mark.parametrize("command", ["fit", "replay", "recover", "simulate two-step", "figures"])
def test_model_spec_parses_on_the_command_line(command, capsys):
    parser = build_parser()
    argv = [*command.split(), "--model", SOFT_Q_SPEC, "--out", "x.csv"]
    if command in ("fit", "replay"):
        argv.insert(1, "data.csv")
    if command == "recover":
        argv += ["--n-subjects", "4"]
    assert parser.parse_args(argv).model == SOFT_Q_SPEC
    with pytest.raises(SystemExit) as stop:
        parser.parse_args([*argv[: argv.index("--model")], "--model", "soft-q-lambda+foo"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --model: model spec 'soft-q-lambda+foo': unknown option 'foo'" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"dopasoft {dopasoft.__version__}"


def test_figure_names_in_the_help_are_the_files_written():
    from dopasoft.cli.figures import EPILOG

    assert "blocking," not in EPILOG and "probes_<file>" in EPILOG
    for name in (
        "two_step_stay",
        "parameters_<model>",
        "model_comparison",
        "posterior_predictive",
        "recovery",
    ):
        assert name in EPILOG
    for name in ("rpe_training_<file>", "probability_scaling_<file>", "rpe_transfer_<file>", "rpe_heatmap"):
        assert name in EPILOG


# ---------------------------------------------------------------------------------------------------
# end to end: each command's one-line summary on stderr, nothing on stdout; CSVs quoted alike


@pytest.fixture(scope="module")
def two_step_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "two_step.csv"
    simulate_two_step(3, 40, seed=1).assign(subject=lambda d: "s" + d["subject"].astype(str)).to_csv(
        path, index=False
    )
    return path


def _summary(capsys, command: str) -> str:
    out, err = capsys.readouterr()
    assert out == "", f"{command} wrote to stdout: {out!r}"
    lines = [line for line in err.splitlines() if line.startswith(f"dopasoft {command}: ")]
    assert len(lines) == 1, err
    assert " wrote " in lines[0] or lines[0].startswith(f"dopasoft {command}: wrote "), lines[0]
    return lines[0]


def test_simulate_commands_print_one_summary_line(tmp_path, capsys):
    out = tmp_path / "ts.csv"
    argv = ["simulate", "two-step", "--n-subjects", "2", "--n-trials", "20", "--model", "daw-hybrid"]
    assert main([*argv, "--param", "w=0.9", "--out", str(out)]) == 0
    line = _summary(capsys, "simulate two-step")
    assert "2 subjects x 20 trials" in line and str(out) in line and "daw-hybrid" in line
    assert main(["simulate", "discrimination", "--n-trials", "30", "--out", str(tmp_path / "d.csv")]) == 0
    assert "wrote 30 trials" in _summary(capsys, "simulate discrimination")
    cond = ["simulate", "conditioning", "--protocol", "acquisition", "--out", str(tmp_path / "c.csv")]
    assert main(cond) == 0
    assert "trials to" in _summary(capsys, "simulate conditioning")
    assert main([*cond, "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_fit_replay_recover_print_one_summary_line(two_step_file, tmp_path, capsys):
    fits, signals = tmp_path / "fits.csv", tmp_path / "signals.csv"
    common = ["--n-starts", "1", "--model", SOFT_Q_SPEC]
    assert main(["fit", str(two_step_file), *common, "--out", str(fits)]) == 0
    line = _summary(capsys, "fit")
    assert "wrote 3 subjects' fits to" in line and SOFT_Q_SPEC in line
    assert main(["replay", str(two_step_file), "--fits", str(fits), "--out", str(signals)]) == 0
    assert "steps of 3 subjects to" in _summary(capsys, "replay")
    rec = ["recover", "--n-subjects", "3", "--n-trials", "30", "--out", str(tmp_path / "rec")]
    assert main([*rec, "--model", "soft-q", "--n-starts", "1"]) == 0
    assert "wrote parameter recovery of model soft-q" in _summary(capsys, "recover")
    # replay's CSV quotes like every other: pandas' minimal quoting, no quoted header or identifiers
    text = signals.read_text().splitlines()
    assert text[0].startswith("subject,trial,stage,state,action,reward,p_choice,delta")
    assert '"' not in "\n".join(text)
    assert text[1].startswith("s0,")
    for written in (fits, signals, tmp_path / "rec" / "recovery.csv"):
        table = pd.read_csv(written)
        assert written.read_text().splitlines()[0] == ",".join(table.columns)


def test_a_value_that_needs_quotes_is_quoted_minimally(tmp_path):
    from dopasoft.cli.outputs import write_csv

    table = pd.DataFrame({"subject": ["a", "b,c"], "x": [1.5, 2.0], "ok": [True, False]})
    write_csv(table, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == table.to_csv(index=False)
    plain = pd.DataFrame({"subject": ["a", "b"], "x": [1.5, 2.25], "ok": [True, False]})
    write_csv(plain, tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_text() == plain.to_csv(index=False)
