"""What OpenFlamingo's own MMC4 preprocessing keeps of our export, and why it drops the rest.

    python bench/openflamingo_mmc4.py [--seed 0]

Sample crawl -> corpus job -> ``flamingo export --format mmc4`` -> open_flamingo 2.0.1's
``preprocess_interleaved`` (installed with ``pip install --no-deps open-flamingo==2.0.1``) on
every exported sample, with its defaults (threshold 30, 1-6 images, 256 tokens) and the
sample crawl's tokenizer given ``<image>`` and ``<|endofchunk|>``. Prints the samples accepted
and each rejection reason, and how many images fall under its ~10 KB floor.
"""

from __future__ import annotations

import argparse
import base64
import functools
import importlib.util
import json
import os
import random
import sys
import tempfile
from collections import Counter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0, help="OpenFlamingo drops single-image samples at random")
    seed = ap.parse_args().seed
    import torchvision.transforms as T
    import webdataset as wds
    from transformers import AutoTokenizer

    from pipeline.export.openflamingo import OpenFlamingoTokenizer
    from pipeline.jobs import corpus, export
    from pipeline.samplecrawl.build import build_sample_crawl
    from pipeline.sequences.tokenizer import default_tokenizer_files

    spec = importlib.util.find_spec("open_flamingo")
    if spec is None:
        print("skipped: pip install --no-deps open-flamingo==2.0.1")
        return
    sys.path.insert(0, os.path.join(spec.submodule_search_locations[0], "train"))
    import data  # open_flamingo/train/data.py, imported as its train.py does

    runner = ["--runner", "FnApiRunner"]
    with tempfile.TemporaryDirectory() as tmp:
        build_sample_crawl(f"{tmp}/sample.warc.gz")
        corpus.run(["--input", f"{tmp}/sample.warc.gz", "--output", f"{tmp}/out", "--samples_per_shard", "4", *runner])
        export.run(["--format", "mmc4", "--input", f"{tmp}/out", "--output", f"{tmp}/mmc4", *runner])
        tok = OpenFlamingoTokenizer(AutoTokenizer.from_pretrained(os.path.dirname(default_tokenizer_files()[0])))
        pre = functools.partial(data.preprocess_interleaved, tokenizer=tok,
                                clip_processor=T.Compose([T.Resize((224, 224)), T.ToTensor()]),
                                sim_threshold=30, min_num_images=1, max_num_images=6)
        tars = sorted(f"{tmp}/mmc4/{n}" for n in os.listdir(f"{tmp}/mmc4") if n.endswith(".tar"))
        random.seed(seed)
        samples = images = small = accepted = 0
        rejected: Counter = Counter()
        for (raw,) in wds.WebDataset(tars, shardshuffle=False).to_tuple("json"):
            samples += 1
            for info in json.loads(raw)["image_info"]:
                images += 1
                small += len(base64.b64decode(info["image_base64"])) // 1000 <= data.MIN_KB
            try:
                pre([raw])
                accepted += 1
            except ValueError as e:
                rejected[str(e)] += 1
    print(f"samples {samples}, images {images} ({small} under OpenFlamingo's {data.MIN_KB} KB floor)")
    print(f"OpenFlamingo accepted {accepted} of {samples}; rejected: {dict(rejected)}")


if __name__ == "__main__":
    main()
