"""One name per thing, no import circles.

The import graph is built from the source with :mod:`ast`, without importing anything. Every import
statement counts, at module level *and* inside functions (a function-level import is how a circle hides:
it only runs later, but the two modules still depend on each other), and so does
``importlib.import_module("literal.name")``. An import whose target is computed at run time (an f-string)
cannot be read from the source and is not in the graph; the only such one is ``dopasoft.__getattr__``,
which loads the sub-packages on first use (``ds.fitting``, ``ds.analysis``, ...).

Edges: ``import a.b`` and ``from a.b import c`` give an edge to module ``a.b.c`` when ``c`` is a module of
the package, else to ``a.b``. The implicit import of a parent package's ``__init__`` is not an edge
(otherwise every sub-module and its package would form a circle by construction).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dopasoft"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(module: str | None, name: str | None) -> str | None:
    """The dopasoft module an import of ``name`` from ``module`` depends on (None: outside the package)."""
    if module is None:
        return None
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module if module in MODULES else None


def _imports(name: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(_target(alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..y import z
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            out.update(_target(module, alias.name) for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.add(_target(node.args[0].value, None))
    out.discard(None)
    out.discard(name)
    return out  # type: ignore[return-value]


def import_graph() -> dict[str, set[str]]:
    """``{module: the dopasoft modules it imports}`` for every module of the package."""
    return {name: _imports(name, path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of ``graph``, or None if it is acyclic (iterative depth-first search)."""
    colour = dict.fromkeys(graph, 0)  # 0 unseen, 1 on the current path, 2 done
    for root in sorted(graph):
        if colour[root]:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour.get(nxt, 2) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif colour.get(nxt, 2) == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_graph_reads_the_imports_it_should():
    graph = import_graph()
    assert len(graph) > 50
    assert "dopasoft.kernel" in graph["dopasoft.learners.calls"]  # from dopasoft.kernel import ...
    assert "dopasoft.learners.calls" in graph["dopasoft.learners.base"]  # from dopasoft.learners import calls
    assert "dopasoft.simulation" in graph["dopasoft"]  # a function-level import counts
    assert "dopasoft.agents" in graph["dopasoft"]  # importlib.import_module("dopasoft.agents")


def test_cycle_finder_names_the_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_circle_between_dopasoft_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


# -- removed names stay removed: each thing has one name, given in the comment -----------------------------
REMOVED = [
    ("dopasoft.fitting", "log_likelihood"),  # dopasoft.fitting.negative_log_likelihood
    ("dopasoft.fitting.mle", "log_likelihood"),
    ("dopasoft.kernel", "sparse_features"),  # dopasoft.learners.calls.*
    ("dopasoft.kernel", "pack_rows"),
    ("dopasoft.kernel", "tabular_learner_step"),
    ("dopasoft.kernel", "linear_learner_step"),
    ("dopasoft.tasks", "simulate_two_step"),  # dopasoft.experiments.*
    ("dopasoft.tasks", "stay_probabilities"),
    ("dopasoft.tasks", "to_canonical"),
    ("dopasoft.tasks", "HybridTwoStepAgent"),  # dopasoft.agents.HybridTwoStepAgent
    ("dopasoft.tasks.two_step", "simulate_two_step"),
    ("dopasoft.tasks.two_step", "stay_probabilities"),
    ("dopasoft.tasks.two_step", "to_canonical"),
    ("dopasoft.tasks.two_step", "HybridTwoStepAgent"),
    ("dopasoft.tasks.two_step", "StickyChoice"),  # dopasoft.agents.StickyChoice
    ("dopasoft.tasks.two_step", "TWO_STEP_MODELS"),  # dopasoft.agents.TWO_STEP_MODELS
    ("dopasoft.tasks.conditioning", "simulate_conditioning"),  # dopasoft.experiments.conditioning.*
    ("dopasoft.tasks.conditioning", "conditioning_agent"),
    ("dopasoft.tasks.conditioning", "read_session"),
    ("dopasoft.tasks.conditioning", "CONDITIONING_DEFAULTS"),
    ("dopasoft.analysis.dopamine", "plot_traces"),  # dopasoft.analysis.dopamine_figures.plot_*
    ("dopasoft.analysis.dopamine", "plot_heatmap"),
    ("dopasoft.analysis.dopamine", "plot_rpe_across_training"),
    ("dopasoft.analysis.model_fits", "plot_parameters"),  # dopasoft.analysis.model_fit_figures.plot_*
    ("dopasoft.analysis.model_fits", "plot_recovery"),
    ("dopasoft.analysis.model_fits", "plot_model_comparison"),
]


@pytest.mark.parametrize(("module", "name"), REMOVED, ids=[f"{m}.{n}" for m, n in REMOVED])
def test_removed_name_is_gone(module, name):
    assert not hasattr(importlib.import_module(module), name)


def test_fitting_simulate_is_only_the_module():
    import types

    import dopasoft as ds
    import dopasoft.fitting as F
    from dopasoft.simulation import simulate

    assert isinstance(F.simulate, types.ModuleType)  # choices from a model: F.simulate_choices
    assert "simulate" not in F.__all__ and "log_likelihood" not in F.__all__
    assert ds.simulate is simulate  # the agent-environment loop


def test_former_conditioning_runner_module_is_gone():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dopasoft.tasks.conditioning.experiment")


def test_only_the_top_level_package_has_a_module_getattr():
    """A module ``__getattr__`` is how a second path to a name (and a hidden circle) comes back; the top
    level keeps one, which loads the sub-packages lazily."""
    with_getattr = [
        name
        for name, path in MODULES.items()
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
            for node in ast.parse(path.read_text(encoding="utf-8")).body
        )
    ]
    assert with_getattr == ["dopasoft"]
