"""The shape of the package: the algorithm apart from the model zoo and the benchmark."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import inverse_set

PACKAGE = Path(inverse_set.__file__).parent
FORBIDDEN = ("generators", "benchmarks", "harness")


def _imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ""
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value


def test_inverse_set_imports_nothing_from_the_zoo_or_the_benchmark():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _imported_names(ast.parse(path.read_text())):
            if name.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not offenders, offenders


def test_inverse_set_samples_the_slab_with_the_zoo_unimportable():
    code = textwrap.dedent("""
        import sys
        for name in ("generators", "benchmarks", "harness"):
            sys.modules[name] = None  # any import of them now raises ImportError
        import jax
        from inverse_set import initialization, sample_inverse_set
        w = jax.numpy.array([1.0, -2.0, 0.5])
        res = sample_inverse_set(lambda x: jax.nn.sigmoid(w @ x), 0.4, 0.6, n=30, generator=jax.nn.sigmoid,
                                 encoder=lambda x: x, init=initialization.gaussian(3, 0.1), rng_key=0)
        assert len(res) == 30 and ((res.activations >= 0.4) & (res.activations <= 0.6)).all()
        loaded = [m for m in sys.modules if m.split(".")[0] in ("generators", "benchmarks", "harness")
                  and sys.modules[m] is not None]
        assert not loaded, loaded
        import inverse_set.frameworks  # the optional extra (torch, torchax) is imported only when used
        assert "torch" not in sys.modules and "torchax" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _internal_imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it (type-only and deferred imports included).

    ``from a.b import c`` counts as importing ``a.b.c`` where that is a module, else ``a.b``; a package's
    ``__init__`` is not counted for the modules inside it, which Python imports first anyway.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    paths = {(_module_name(p)): p for p in PACKAGE.rglob("*.py")}
    return {name: _internal_imports(path, set(paths)) - {name} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_imports_another_that_imports_it_back():
    graph = import_graph()
    assert graph.get("inverse_set.particles.ladder"), "the graph is empty"
    assert not cycles(graph), cycles(graph)
