"""The import graph of a package, read from its source (the AST, nothing is imported).

Every ``import`` and ``from ... import`` counts, at module level or inside a function (a lazy
import runs as surely as a top-level one, only later). Imports under ``if TYPE_CHECKING:`` are left
out: they never run, so they cannot make a cycle (``--type-checking`` counts them too). An arrow
goes to the module named: ``from xolver.graph import nodes`` is an arrow to ``xolver.graph.nodes``
when that is a module, else to ``xolver.graph``; the parent packages Python initialises on the way
are not counted as arrows of their own.

It prints, per package (``xolver/<subpackage>``, and the top-level modules as one row): modules,
lines, arrows inside the package and arrows out of it (module to module, each pair once), then the
modules over ``--max-lines``, then every import cycle between modules and between packages.

    python benchmarks/import_graph.py                       # the xolver package in this checkout
    python benchmarks/import_graph.py --root /tmp/old-tree  # another checkout
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TOP = "(top-level modules)"


@dataclass
class Graph:
    """Modules of one package, their line counts and their import arrows."""

    package: str
    lines: dict[str, int] = field(default_factory=dict)
    arrows: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    packages: set[str] = field(default_factory=set)
    """The modules that are packages (an ``__init__.py``)."""

    def group(self, module: str) -> str:
        """The package row a module belongs to: ``xolver/<sub>``, or the top-level modules."""
        parts = module.split(".")
        if len(parts) > 1 and f"{self.package}.{parts[1]}" in self.packages:
            return f"{self.package}/{parts[1]}"
        return TOP


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, *, type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in `tree`, function bodies included."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def build(root: Path, package: str, *, type_checking: bool = False) -> Graph:
    """The import graph of `package` under `root` (the folder holding the package)."""
    graph = Graph(package)
    files = sorted((root / package).rglob("*.py"))
    names = {_module_name(f, root): f for f in files}
    graph.lines = {name: len(f.read_text(encoding="utf-8").splitlines()) for name, f in names.items()}
    graph.packages = {name for name, f in names.items() if f.name == "__init__.py"}
    for name, path in names.items():
        is_init = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree, type_checking=type_checking):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_init else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in names else base)
            for target in targets:
                while target and target not in names:  # `import a.b.c` of a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != name and target.split(".")[0] == package:
                    graph.arrows[name].add(target)
    return graph


def _cycles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    nodes = sorted(set(arrows) | {t for ts in arrows.values() for t in ts})
    sys.setrecursionlimit(max(1000, 4 * len(nodes)))

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(arrows.get(v, ())):
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
                out.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return sorted(out)


def report(graph: Graph, *, max_lines: int) -> str:
    """The tables and the cycles, as text."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: {"modules": 0, "lines": 0, "inside": 0, "out": 0})
    package_arrows: dict[str, set[str]] = defaultdict(set)
    for module, lines in graph.lines.items():
        row = rows[graph.group(module)]
        row["modules"] += 1
        row["lines"] += lines
    for source, targets in graph.arrows.items():
        g = graph.group(source)
        for target in targets:
            h = graph.group(target)
            rows[g]["inside" if g == h else "out"] += 1
            if g != h:
                package_arrows[g].add(h)
    out = [f"{'package':<22} {'modules':>7} {'lines':>7} {'arrows in':>9} {'arrows out':>10}  imports"]
    for name in sorted(rows, key=lambda n: (n == TOP, n)):
        r = rows[name]
        to = ", ".join(sorted(t.removeprefix(graph.package + "/") for t in package_arrows[name]))
        out.append(f"{name:<22} {r['modules']:>7} {r['lines']:>7} {r['inside']:>9} {r['out']:>10}  {to}")
    total = {k: sum(r[k] for r in rows.values()) for k in ("modules", "lines", "inside", "out")}
    out.append(f"{'total':<22} {total['modules']:>7} {total['lines']:>7} {total['inside']:>9} {total['out']:>10}")
    big = sorted(((n, c) for n, c in graph.lines.items() if c > max_lines), key=lambda x: -x[1])
    out.append("")
    out.append(f"modules over {max_lines} lines: " + (", ".join(f"{n} ({c})" for n, c in big) or "none"))
    largest = max(graph.lines.items(), key=lambda x: x[1])
    out.append(f"largest module: {largest[0]} ({largest[1]} lines)")
    out.append("")
    module_cycles = _cycles(graph.arrows)
    out.append(f"import cycles between modules: {len(module_cycles) or 'none'}")
    for cycle in module_cycles:
        members = set(cycle)
        edges = [f"{s} -> {t}" for s in cycle for t in sorted(graph.arrows.get(s, ())) if t in members]
        out.append("  " + "; ".join(edges))

    # Between packages, each top-level module is a node of its own: lumped together, `config`
    # (imported by nearly everything) and `cli` (which imports the surfaces) would make one knot.
    def node(module: str) -> str:
        g = graph.group(module)
        return module if g == TOP else g

    layer_arrows: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph.arrows.items():
        layer_arrows[node(source)].update(node(t) for t in targets if node(t) != node(source))
    package_cycles = _cycles(layer_arrows)
    out.append(f"import cycles between packages and top-level modules: {len(package_cycles) or 'none'}")
    for cycle in package_cycles:
        members = set(cycle)
        edges = [f"{s} -> {t}" for s in cycle for t in sorted(layer_arrows.get(s, ())) if t in members]
        out.append("  " + "; ".join(edges))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="the checkout")
    parser.add_argument("--package", default="xolver")
    parser.add_argument("--max-lines", type=int, default=500)
    parser.add_argument("--type-checking", action="store_true", help="count imports under TYPE_CHECKING too")
    args = parser.parse_args(argv)
    graph = build(args.root, args.package, type_checking=args.type_checking)
    print(report(graph, max_lines=args.max_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
