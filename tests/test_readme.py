"""The README and the getting-started tour as a user reads them: every ```python block runs on its own (but one
marked ``<!-- not run: reason -->`` on the line before it), every shown command parses.

Python blocks: each runs top to bottom in a fresh namespace, in a temporary working directory (the files it
writes land there), after nothing but its own imports. The package ships no hBayesDM example files (the
README downloads them with ``curl`` from hBayesDM's ``commons/extdata``), so before a block that reads
``<task>_exampleData.txt`` this test writes a small file of that name in hBayesDM's layout into the
directory: ``ts`` from a simulated two-step cohort (:func:`dopasoft.fitting.write_hbayesdm`), the other
tasks with the writer of ``tests/test_hbayesdm_tasks.py`` (hBayesDM's column names and orders).

Commands: ```bash blocks are not run (they install, download or run long jobs). Every ``dopasoft ...``
command in a ```bash block of README.md or docs/*.md is parsed by the real parser
(:func:`dopasoft.cli.build_parser`, abbreviated options refused; nothing is executed), and every inline ```dopasoft ...``` span names an
existing sub-command and only options that sub-command has (spans are often fragments such as
```dopasoft fit --ml```, so they are not parsed whole).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKDOWN = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def fenced_blocks(path: Path, language: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of each fenced block of ``language`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == language
    ]


def _heading_before(path: Path, line: int) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()[:line]
    heading = next((x for x in reversed(lines) if x.startswith("#")), "top")
    return re.sub(r"\W+", "-", heading.lstrip("#").strip().lower()).strip("-")


NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->\s*\Z", re.S)
#: pages whose python blocks run here, besides the README (the getting-started tour holds what the README
#: used to show; data_formats.md and analysis.md received its data-format and demo sections)
RUN_PAGES = [README, *(ROOT / "docs" / name for name in ("getting_started.md", "data_formats.md"))]


def runnable_blocks(path: Path) -> list[tuple[int, str]]:
    """The python blocks of ``path`` to run: all but those right after a ``<!-- not run: reason -->`` line."""
    text = path.read_text(encoding="utf-8")
    starts = [m.start() for m in FENCE.finditer(text) if m.group(1) == "python"]
    blocks = fenced_blocks(path, "python")
    return [b for b, s in zip(blocks, starts, strict=True) if not NOT_RUN.search(text[:s].rstrip() + "\n")]


PYTHON_BLOCKS = fenced_blocks(README, "python")
RUN_BLOCKS = [(path, line, code) for path in RUN_PAGES for line, code in runnable_blocks(path)]


# -- example files of hBayesDM ------------------------------------------------------------------------------
def write_example_file(name: str) -> None:
    """Write ``<task>_exampleData.txt`` in hBayesDM's layout into the working directory."""
    task = name.removesuffix("_exampleData.txt")
    if task == "ts":
        import dopasoft as ds

        data = ds.experiments.simulate_two_step(4, 200, model="daw-hybrid", params={"w": 0.5}, seed=3)
        ds.fitting.write_hbayesdm(data, name)
    else:
        from test_hbayesdm_tasks import write_task_file

        write_task_file(name, task, n_subjects=4, n_trials=100, seed=3)


def test_readme_has_python_blocks_and_the_example_writer_covers_their_files():
    assert len(PYTHON_BLOCKS) == 3  # the README's three examples; the tour is in docs/getting_started.md
    assert "ds.fitting.sample" in PYTHON_BLOCKS[-1][1]
    assert len(RUN_BLOCKS) >= 12
    names = {n for _, _, code in RUN_BLOCKS for n in re.findall(r"\w+_exampleData\.txt", code)}
    assert {"ts_exampleData.txt", "gng_exampleData.txt"} <= names


def test_not_run_marker_is_read():
    text = "a\n<!-- not run: 4 x 1000 draws -->\n"
    assert NOT_RUN.search(text) and not NOT_RUN.search(text + "more\n")


@pytest.mark.parametrize(
    ("path", "line", "code"),
    RUN_BLOCKS,
    ids=[f"{path.name}-L{line}-{_heading_before(path, line)}" for path, line, _ in RUN_BLOCKS],
)
def test_python_block_runs_on_its_own(path, line, code, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    for name in sorted(set(re.findall(r"\w+_exampleData\.txt", code))):
        write_example_file(name)
    namespace = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"{path.name}, block at line {line}", "exec"), namespace)
    finally:
        plt.close("all")


# -- commands -----------------------------------------------------------------------------------------------
def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _resolve(parser: argparse.ArgumentParser, words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The (sub-)sub-command parser ``words`` name, and the words naming it."""
    path = []
    for word in words:
        sub = _subcommands(parser).get(word)
        if sub is None:
            break
        parser, path = sub, [*path, word]
    return parser, path


def shell_commands(code: str) -> list[list[str]]:
    """The ``dopasoft`` commands of a bash block, as argument lists (``&&``, ``;``, ``|`` and line breaks
    separate commands; ``\\`` continues a line; comments and ``VAR=value`` prefixes are dropped)."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        command: list[str] = []
        for token in [*lexer, ";"]:
            if token in ("&&", "||", ";", "|", "&"):
                while command and re.fullmatch(r"\w+=.*", command[0]):
                    command.pop(0)
                if command[:1] == ["dopasoft"]:
                    out.append(command[1:])
                command = []
            else:
                command.append(token)
    return out


BASH_COMMANDS = [
    (f"{path.name}:{line}", argv)
    for path in MARKDOWN
    for line, code in fenced_blocks(path, "bash")
    for argv in shell_commands(code)
]


def test_shell_splitting():
    code = 'pip install -e . && dopasoft demo\nA=1 dopasoft fit x.csv \\\n  --out "f s.csv"  # comment\ncurl -O u'
    assert shell_commands(code) == [["demo"], ["fit", "x.csv", "--out", "f s.csv"]]
    assert {"demo", "fit", "replay"} <= {argv[0] for _, argv in BASH_COMMANDS}


def strict_parser() -> argparse.ArgumentParser:
    """The real ``dopasoft`` parser, refusing abbreviated options (docs spell every option in full)."""
    from dopasoft.cli import build_parser

    parser = build_parser()
    todo = [parser]
    while todo:
        p = todo.pop()
        p.allow_abbrev = False
        todo.extend(_subcommands(p).values())
    return parser


@pytest.mark.parametrize(("where", "argv"), BASH_COMMANDS, ids=[" ".join(a) for _, a in BASH_COMMANDS])
def test_bash_block_command_parses(where, argv):
    parser = strict_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `dopasoft {shlex.join(argv)}` does not parse: {err.getvalue().strip()}")
    assert getattr(args, "func", None) is not None, f"{where}: `dopasoft {shlex.join(argv)}` names no command"


def inline_commands(path: Path) -> list[tuple[str, str]]:
    """``(where, text)`` of every inline code span starting with ``dopasoft `` outside fenced blocks."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text(encoding="utf-8"))
    return [
        (f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}", " ".join(m.group(1).split()))
        for m in re.finditer(r"(?<!`)`(dopasoft [^`]+?)`(?!`)", text)
        if "\n\n" not in m.group(1)
    ]


INLINE_COMMANDS = [c for path in MARKDOWN for c in inline_commands(path)]


def test_inline_commands_are_found():
    texts = {t for _, t in INLINE_COMMANDS}
    assert (
        "dopasoft simulate conditioning --protocol blocking --out blocking.csv" in texts
    )  # spans a line break
    assert len(INLINE_COMMANDS) > 40


@pytest.mark.parametrize(("where", "text"), INLINE_COMMANDS, ids=[t for _, t in INLINE_COMMANDS])
def test_inline_command_names_real_options(where, text):
    from dopasoft.cli import build_parser

    words = [w.strip("[]") for w in text.split()[1:]]
    if words[0].startswith("<") or words[0].endswith(":"):  # a message: `dopasoft fit: wrote ...`
        return
    parser, path = _resolve(build_parser(), words)
    assert path, f"{where}: `{text}` names no dopasoft command"
    options = set(parser._option_string_actions)
    unknown = [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in options]
    assert not unknown, f"{where}: `{text}`: `dopasoft {' '.join(path)}` has no option {unknown}"
