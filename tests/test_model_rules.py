"""Architecture rules for the model package, checked in a fresh interpreter."""

import json
import subprocess
import sys

MODULES = [
    "config",
    "tokens",
    "masking",
    "perceiver",
    "xattn",
    "vision",
    "lm",
    "model",
    "generation",
    "factory",
]


def _loaded_after(code: str) -> set[str]:
    script = code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_flamingo_imports_neither_pipeline_nor_train():
    loaded = _loaded_after("\n".join(f"import flamingo.{m}" for m in MODULES))
    assert not {m for m in loaded if m.split(".")[0] in ("pipeline", "train")}


def test_package_config_and_tokens_import_without_torch():
    loaded = _loaded_after("import flamingo, flamingo.config, flamingo.tokens")
    assert "torch" not in loaded and "transformers" not in loaded
