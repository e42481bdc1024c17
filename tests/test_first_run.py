"""A first run: what it compiles, and that it says so.

numba compiles a jitted function once per signature of its arguments, and an integer constant passed
from one jitted function to another is typed as a literal: every distinct constant compiles another
copy of the callee (seconds on a first run). :func:`test_no_literal_integer_arguments_between_jitted_functions`
reads the source and refuses such calls, except where one copy per call site is deliberate.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from numba import njit

from dopasoft.fitting.compilation import COMPILING_MESSAGE, is_ready

PACKAGE = Path(__file__).resolve().parents[1] / "dopasoft"

# (callee, why a literal argument is right there)
DELIBERATE = {
    "log_normaliser": "row 0 / row 1 of the step's scratch: one small copy per call site, which LLVM "
    "inlines into the step (a shared copy with a variable row is not inlined: about 17 % slower)",
    "normaliser_terms": "as log_normaliser (which it serves): row 0 / row 1 of the step's scratch",
}


def _decorated_njit(node: ast.FunctionDef) -> str | None:
    for d in node.decorator_list:
        src = ast.unparse(d)
        if src.startswith("njit"):
            return src
    return None


def _constant_int(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def literal_calls(root: Path) -> list[str]:
    """``file:line: call`` of every call from a jitted function to another (not IR-inlined) jitted
    function of the package with an integer constant among its positional arguments."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.py"))}
    jitted = {
        n.name
        for t in trees.values()
        for n in ast.walk(t)
        if isinstance(n, ast.FunctionDef) and (d := _decorated_njit(n)) and "inline" not in d
    }
    found = []
    for path, tree in trees.items():
        for fn in ast.walk(tree):
            if not (isinstance(fn, ast.FunctionDef) and _decorated_njit(fn)):
                continue
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call):
                    continue
                name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
                if name in jitted and name not in DELIBERATE and any(_constant_int(a) for a in call.args):
                    found.append(f"{path.relative_to(root.parent)}:{call.lineno}: {ast.unparse(call)}")
    return found


def test_literal_calls_finds_a_constant_argument(tmp_path):
    (tmp_path / "m.py").write_text(
        "from numba import njit\n\n@njit\ndef f(x, r):\n    return x\n\n"
        "@njit\ndef g(x):\n    return f(x, np.int64(0)) + f(x, -1)\n"
    )
    assert literal_calls(tmp_path) == [f"{tmp_path.name}/m.py:9: f(x, -1)"]


def test_no_literal_integer_arguments_between_jitted_functions():
    found = literal_calls(PACKAGE)
    assert not found, (
        "an integer constant passed between jitted functions compiles one copy of the callee per "
        "value; pass np.int64(value) (or add the callee to DELIBERATE with the reason):\n" + "\n".join(found)
    )


def test_is_ready_tells_compiled_from_not_compiled():
    @njit
    def double(x):
        return 2 * x

    assert not is_ready([double])  # not compiled, and no on-disk cache (cache=False)
    double(1.0)
    assert is_ready([double])
    assert is_ready([])


def test_first_fit_says_it_compiles_and_the_second_does_not(tmp_path):
    """An empty numba cache: the progress bar names the compilation; the next run loads the cache."""
    import dopasoft as ds

    data = ds.experiments.simulate_two_step(2, 30, seed=0)
    data.to_csv(tmp_path / "two.csv", index=False)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    cmd = [
        sys.executable,
        "-m",
        "dopasoft",
        "fit",
        "two.csv",
        "--model",
        "soft-q-lambda",
        "--out",
        "fits.csv",
    ]
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert COMPILING_MESSAGE in first.stderr
    fits = (tmp_path / "fits.csv").read_bytes()
    second = subprocess.run([*cmd, "--overwrite"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert COMPILING_MESSAGE not in second.stderr and "wrote 2 subjects' fits" in second.stderr
    assert (tmp_path / "fits.csv").read_bytes() == fits  # same process code, same bits
