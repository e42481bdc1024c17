"""Every public name is documented, with an example, and appears in the API reference of the site.

The public names are the ``__all__`` of ``dopasoft``, ``dopasoft.tasks``, ``dopasoft.fitting``,
``dopasoft.analysis`` and ``dopasoft.experiments`` (plus ``dopasoft.simulate``, the one simulation loop).
For each function and class the numpydoc docstring must have

* a summary line;
* a ``Parameters`` section naming every parameter of the signature, when it takes any (a class whose
  instances the package builds, such as a result, may list its fields under ``Attributes`` instead);
* an ``Examples`` section with at least one ``>>>`` line (pytest runs them, ``--doctest-modules``).

Modules in an ``__all__`` need a module docstring; constants are described in the API pages. Every public
name must be listed in ``docs/api/<package>.rst`` (an autosummary entry or a ``py:data`` directive under
that package's ``currentmodule``), so that a new name cannot be left out of the reference.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from pathlib import Path

import pytest
from numpydoc.docscrape import NumpyDocString

ROOT = Path(__file__).resolve().parents[1]
API_PAGES = {
    "dopasoft": ROOT / "docs" / "api" / "dopasoft.rst",
    "dopasoft.tasks": ROOT / "docs" / "api" / "tasks.rst",
    "dopasoft.fitting": ROOT / "docs" / "api" / "fitting.rst",
    "dopasoft.analysis": ROOT / "docs" / "api" / "analysis.rst",
    "dopasoft.experiments": ROOT / "docs" / "api" / "experiments.rst",
}
EXTRA = {"dopasoft": ["simulate"]}  # public through the package's lazy attributes, not in __all__


def public_names() -> list[tuple[str, str]]:
    out = []
    for package in API_PAGES:
        module = importlib.import_module(package)
        out += [(package, name) for name in [*module.__all__, *EXTRA.get(package, [])]]
    return out


PUBLIC = public_names()


def _id(item: tuple[str, str]) -> str:
    return f"{item[0]}.{item[1]}"


def _parameters(obj) -> list[str]:
    """Names of the parameters a caller passes (``self``, ``*args``, ``**kwargs`` left out)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [
        p.name
        for p in sig.parameters.values()
        if p.kind not in skip and p.name != "self" and not p.name.startswith("_")
    ]


def _documented(section) -> set[str]:
    """Names in a numpydoc Parameters/Attributes section; ``a, b : int`` documents both."""
    names: set[str] = set()
    for p in section:
        names.update(n.strip().lstrip("*") for n in p.name.split(","))
    return names


def docstring_problems(obj) -> list[str]:
    """What the docstring of ``obj`` lacks, in words (empty when it is complete)."""
    doc = inspect.getdoc(obj)
    if isinstance(obj, types.ModuleType):
        return [] if doc else ["no module docstring"]
    if not doc:
        return ["no docstring"]
    parsed = NumpyDocString(doc)
    problems = []
    if not parsed["Summary"]:
        problems.append("no summary line")
    wanted = _parameters(obj)
    if wanted:
        documented = _documented(parsed["Parameters"])
        if inspect.isclass(obj) and not documented:
            documented = _documented(parsed["Attributes"])
        if not documented:
            problems.append("no Parameters section")
        else:
            missing = [n for n in wanted if n not in documented]
            if missing:
                problems.append(f"Parameters does not name {missing}")
    if not any(line.lstrip().startswith(">>>") for line in parsed["Examples"]):
        problems.append("no Examples section with a >>> line")
    return problems


# -- the checker itself ------------------------------------------------------------------------------------
def _complete(x: int, y: str = "a") -> int:
    """Add.

    Parameters
    ----------
    x : int
    y : str

    Examples
    --------
    >>> _complete(1)
    1
    """
    return x


def _no_example(x: int) -> int:
    """Add.

    Parameters
    ----------
    x : int
    """
    return x


def _half(x: int, y: int) -> int:
    """Add.

    Parameters
    ----------
    x : int

    Examples
    --------
    >>> 1
    1
    """
    return x


class _Result:
    """A result.

    Attributes
    ----------
    a, b : float

    Examples
    --------
    >>> _Result(1.0, 2.0).a
    1.0
    """

    def __init__(self, a: float, b: float) -> None:
        self.a, self.b = a, b


def test_checker_finds_what_a_docstring_lacks():
    assert docstring_problems(_complete) == []
    assert docstring_problems(_Result) == []
    assert docstring_problems(_no_example) == ["no Examples section with a >>> line"]
    assert docstring_problems(_half) == ["Parameters does not name ['y']"]
    assert docstring_problems(lambda x: x) == ["no docstring"]
    assert docstring_problems(types.ModuleType("m")) == ["no module docstring"]


# -- every public name -------------------------------------------------------------------------------------
@pytest.mark.parametrize("item", PUBLIC, ids=_id)
def test_public_name_has_a_complete_docstring(item):
    package, name = item
    obj = getattr(importlib.import_module(package), name)
    if not (callable(obj) or isinstance(obj, types.ModuleType)):
        return  # a constant: described in the API page (next test)
    problems = docstring_problems(obj)
    assert not problems, f"{package}.{name}: " + "; ".join(problems)


def _listed(page: Path) -> set[str]:
    """Names an API page lists: autosummary entries and ``py:data`` directives (under its currentmodule)."""
    text = page.read_text(encoding="utf-8")
    names = set(re.findall(r"^\.\. py:data:: (\w+)", text, re.M))
    for block in re.findall(r"^\.\. autosummary::\n((?:\n|   .*\n)+)", text, re.M):
        names.update(n for n in re.findall(r"^   ([A-Za-z_][\w.]*)\s*$", block, re.M))
    return names


def test_api_page_parser_reads_entries():
    listed = _listed(API_PAGES["dopasoft.fitting"])
    assert {"fit", "MODEL_NAMES", "sample"} <= listed
    assert not any(n.startswith(":") for n in listed)  # options such as :toctree: are not names


@pytest.mark.parametrize("package", list(API_PAGES))
def test_every_public_name_is_in_the_api_reference(package):
    page = API_PAGES[package]
    text = page.read_text(encoding="utf-8")
    assert f".. currentmodule:: {package}\n" in text, f"{page.name} documents {package}"
    listed = _listed(page)
    missing = [name for pkg, name in PUBLIC if pkg == package and name not in listed]
    assert not missing, f"{page.relative_to(ROOT)} does not list {missing}"
    module = importlib.import_module(package)
    unknown = sorted(n for n in listed if not hasattr(module, n))
    assert not unknown, f"{page.relative_to(ROOT)} lists names {package} does not have: {unknown}"
