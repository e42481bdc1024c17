"""README.md and docs/*.md describe the software as it is, and their links lead somewhere.

* No development-log language: issue numbers, comparisons with "the former copy", "stop N" of a plan.
* Every relative link ``[text](path#anchor)`` (and image ``![alt](path)``) points at an existing file, and
  every ``#anchor`` is a heading of the target, slugged as GitHub slugs headings.
* docs/analysis.md lists every figure and table ``dopasoft demo`` writes.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[ \t]*$", re.S | re.M)


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code spans (line numbers kept)."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# -- development-log language ---------------------------------------------------------------------------------
LOG_PHRASES = re.compile(
    r"\bissues? #?\d+|\bformer cop(?:y|ies)\b|\bstop \d+\b|\bthe session that\b|\bPR #?\d+", re.IGNORECASE
)


def test_phrase_pattern_catches_log_language():
    for bad in ("see issue 9", "(issue #12)", "the former copy", "former copies", "since stop 3", "PR #40"):
        assert LOG_PHRASES.search(bad), bad
    for fine in ("an issue with NaN", "stops 10 s before the reward", "copy of the data"):
        assert not LOG_PHRASES.search(fine), fine


@pytest.mark.parametrize("path", MARKDOWN, ids=_rel)
def test_no_development_log_language(path):
    text = path.read_text(encoding="utf-8")
    found = [f"{_rel(path)}:{_line(text, m.start())}: {m.group(0)!r}" for m in LOG_PHRASES.finditer(text)]
    assert not found, "development-log language in the docs:\n" + "\n".join(found)


# -- links and anchors ----------------------------------------------------------------------------------------
def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-cased; letters, marks, digits, ``_``, ``-``
    and spaces kept, every other character (punctuation such as ``§``, symbols such as ``×``) dropped;
    each space becomes ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    kept = (c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of ``path`` (repeated headings get ``-1``, ``-2``, ... as on GitHub) and every
    explicit ``id``/``name`` anchor."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    out: set[str] = set()
    seen: dict[str, int] = {}
    for m in re.finditer(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", text, re.M):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    out.update(re.findall(r"""<a\s+(?:name|id)=["']([^"']+)["']""", text))
    return out


def test_slugs_as_github_makes_them():
    assert slug("Large cohorts (`python benchmarks/large_cohort.py`)") == (
        "large-cohorts-python-benchmarkslarge_cohortpy"
    )
    assert slug("4. Soft Q(λ) (backward view; `dopasoft/kernel.py`, `SoftQLambda`)") == (
        "4-soft-qλ-backward-view-dopasoftkernelpy-softqlambda"
    )
    assert slug("6. Clusters and large cohorts") == "6-clusters-and-large-cohorts"
    assert slug("Model dopamine for your own data: regressors and the neural GLM") == (
        "model-dopamine-for-your-own-data-regressors-and-the-neural-glm"
    )
    assert slug("§2 — ΔAIC × *BIC*") == "2--δaic--bic"


LINK = re.compile(r"(!?)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.M)


def links(path: Path) -> list[tuple[int, bool, str]]:
    """``(line, is_image, target)`` of every link of ``path`` outside code."""
    text = _prose(path.read_text(encoding="utf-8"))
    out = [(_line(text, m.start()), m.group(1) == "!", m.group(2)) for m in LINK.finditer(text)]
    out += [(_line(text, m.start()), False, m.group(1)) for m in REFERENCE.finditer(text)]
    return out


def test_links_are_found():
    found = [target for path in MARKDOWN for _, _, target in links(path)]
    assert "figures/rpe_transfer.png" in found  # the demo figures, in docs/analysis.md
    assert any(t.startswith("fitting.md#") for t in found)
    assert len(found) > 30


@pytest.mark.parametrize("path", MARKDOWN, ids=_rel)
def test_relative_links_and_anchors_exist(path):
    broken = []
    for line, is_image, target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ... not checked here
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{_rel(path)}:{line}: {target}"
        if not dest.exists():
            broken.append(f"{where} (no such {'image' if is_image else 'file'})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{where} (no heading #{anchor} in {dest.name})")
    assert not broken, "broken links:\n" + "\n".join(broken)


# -- the demo's outputs are documented ---------------------------------------------------------------------
def _demo_outputs() -> tuple[list[str], list[str]]:
    """Names passed to the demo's ``figure(fig, name)`` and ``table(df, name)`` (f-string fields as ``*``)."""
    tree = ast.parse((ROOT / "dopasoft" / "cli" / "demo.py").read_text(encoding="utf-8"))
    names: dict[str, list[str]] = {"figure": [], "table": []}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            arg = node.args[1]
            if isinstance(arg, ast.Constant):
                names[node.func.id].append(arg.value)
            elif isinstance(arg, ast.JoinedStr):
                parts = [v.value if isinstance(v, ast.Constant) else "*" for v in arg.values]
                names[node.func.id].append("".join(parts))
    return names["figure"], names["table"]


def test_analysis_md_lists_every_figure_and_table_of_the_demo():
    figures, tables = _demo_outputs()
    assert len(figures) == 13 and {"convergence", "reward_timing", "distributional_rpe"} <= set(figures)
    text = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    section = text[text.index("## `dopasoft demo`") :]
    section = section[: section.index("\n## ", 1)]
    listed = set(re.findall(r"`([\w*<>]+)(?:\.csv)?`", section))
    listed |= {re.sub(r"<\w+>", "*", name) for name in listed}
    assert not [f for f in figures if f not in listed], "figures the demo writes, missing in docs/analysis.md"
    missing = [
        t
        for t in tables
        if t not in listed and not any(re.fullmatch(p.replace("*", r"\w+"), t) for p in listed)
    ]
    assert not missing, f"tables the demo writes, missing in docs/analysis.md: {missing}"


SOURCES = sorted(
    p
    for folder in ("dopasoft", "docs", "examples", "benchmarks", "tests")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in (".py", ".md", ".rst") and "_build" not in p.parts and "auto_examples" not in p.parts
) + [ROOT / "README.md"]


def test_no_control_characters_in_sources():
    """A backslash escape written into a non-raw string (``"\\alpha"`` is BEL + ``lpha``) leaves control
    characters that break the equations of a docstring without any error at import."""
    bad = []
    for path in SOURCES:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", line):
                bad.append(f"{path.relative_to(ROOT)}:{n}")
    assert not bad, bad
