"""The import rules of the layout, read from the code with ``ast`` (imports inside functions count).

- ``flamingo`` imports neither ``pipeline`` nor ``train``, and has no import cycle;
- only ``pipeline.beam`` and ``pipeline.jobs`` import ``apache_beam``;
- ``train`` takes from ``pipeline`` only ``pipeline.shards``;
- only ``pipeline.cli`` imports ``train`` (besides ``train`` itself);
- ``pipeline.shards`` (the format every reader and writer shares) imports no torch;
- no module imports another module's ``_private`` names.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "flamingo", "train")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            out.append((base, [a.name for a in node.names], node.lineno))
    return out


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations() -> list[str]:
    modules = all_modules()
    found, graph = [], {m: set() for m in modules}
    for mod, path in modules.items():
        where = f"{path.relative_to(ROOT)}"
        for target, names, line in imports_of(path):
            at = f"{where}:{line} imports {target}"
            # Importing a submodule by "from package import submodule" counts as importing it.
            targets = [target] + [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            if under(mod, "flamingo"):
                if any(under(t, "pipeline") or under(t, "train") for t in targets):
                    found.append(f"{at}: flamingo imports neither pipeline nor train")
                graph[mod] |= {t for t in targets if under(t, "flamingo") and t in modules and t != mod}
            if under(target, "apache_beam") and not (under(mod, "pipeline.beam") or under(mod, "pipeline.jobs")):
                found.append(f"{at}: only pipeline.beam and pipeline.jobs import apache_beam")
            if under(mod, "train") and any(under(t, "pipeline") for t in targets) and not all(
                    under(t, "pipeline.shards") or t == "pipeline" and set(names) <= {"shards"} for t in targets
                    if under(t, "pipeline")):
                found.append(f"{at}: train takes from pipeline only pipeline.shards")
            if any(under(t, "train") for t in targets) and not (under(mod, "train") or under(mod, "pipeline.cli")):
                found.append(f"{at}: only pipeline.cli imports train")
            if under(mod, "pipeline.shards") and under(target, "torch"):
                found.append(f"{at}: the shard format imports no torch")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != mod and target.split(".")[0] in PACKAGES:
                found.append(f"{at}: takes private names {private}")
    found += [f"import cycle in flamingo: {' -> '.join(c)}" for c in cycles(graph)]
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan, iterative enough)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_import_rules():
    problems = violations()
    assert not problems, "\n".join(problems)


def test_the_rules_catch_what_they_describe(tmp_path, monkeypatch):
    """The checker itself: a planted violation of each rule is reported."""
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "shards").mkdir()
    (tmp_path / "pipeline" / "shards" / "__init__.py").write_text("import torch\n")
    (tmp_path / "pipeline" / "read.py").write_text("def f():\n    import apache_beam\n")
    (tmp_path / "pipeline" / "helper.py").write_text("from pipeline.read import _hidden\nimport train.loop\n")
    (tmp_path / "flamingo" / "a.py").write_text("from flamingo import b\n")
    (tmp_path / "flamingo" / "b.py").write_text("def g():\n    from flamingo.a import x\n    import pipeline\n")
    (tmp_path / "train" / "loop.py").write_text("from pipeline.read import f\nfrom pipeline.shards import x\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    text = "\n".join(violations())
    for expected in ("only pipeline.beam and pipeline.jobs import apache_beam", "takes private names ['_hidden']",
                     "only pipeline.cli imports train", "flamingo imports neither pipeline nor train",
                     "import cycle in flamingo: flamingo.a -> flamingo.b",
                     "train takes from pipeline only pipeline.shards", "the shard format imports no torch"):
        assert expected in text, expected
    assert text.count("train takes from pipeline") == 1  # pipeline.shards is allowed
