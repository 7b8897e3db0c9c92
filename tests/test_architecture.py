"""Architecture rules as tests: what may import what."""

import json
import subprocess
import sys



def imported_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def top_level(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


def test_shard_format_imports_neither_beam_nor_torch():
    mods = top_level(imported_after("import pipeline.shards.format, pipeline.shards.writer"))
    assert "apache_beam" not in mods and "torch" not in mods


def test_flamingo_imports_neither_pipeline_nor_train():
    import pkgutil

    import flamingo

    names = [m.name for m in pkgutil.walk_packages(flamingo.__path__, "flamingo.")]
    stmt = "; ".join(f"import {n}" for n in ["flamingo", *names])
    mods = top_level(imported_after(stmt))
    assert "pipeline" not in mods and "train" not in mods


def test_train_imports_only_the_format_module_from_pipeline():
    import pkgutil

    import train

    names = [m.name for m in pkgutil.walk_packages(train.__path__, "train.")]
    assert names
    stmt = "; ".join(f"import {n}" for n in ["train", *names])
    mods = imported_after(stmt)
    from_pipeline = {m for m in mods if m.startswith("pipeline.")}
    assert from_pipeline <= {"pipeline.shards.format"}, from_pipeline


def test_inspect_command_imports_neither_beam_nor_torch():
    mods = top_level(imported_after("from pipeline.cli import build_parser; build_parser()"))
    assert "apache_beam" not in mods and "torch" not in mods
