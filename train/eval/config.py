"""Evaluation options: one typed config shared by ``flamingo eval`` and the trainer's eval hook.

``EvalConfig`` says what to evaluate and how (task, data, shots, trials, demonstrations,
decoding). ``EvalCommandConfig`` adds what the command needs (the checkpoint, the output folder,
the device); ``TrainEvalConfig`` adds how often the trainer runs it (``every``), with cheaper
defaults. The paper's protocol is the default: shots 0,4,8,16,32, three trials, random
demonstrations from a 2048-example pool, beam search with 3 beams, at most 20 new tokens for a
caption and 5 for a VQA answer.
"""

from __future__ import annotations

from flamingo.typedconfig import config, opt, require
from train.eval.metrics.ptb import BACKENDS
from train.eval.tasks import TASKS

MAX_NEW_TOKENS = {"captioning": 20, "vqa": 5}


@config
class EvalConfig:
    task: str = opt("captioning", "benchmark: its file format, prompt and metric", choices=tuple(TASKS))
    data: str = opt("", "the queries: caption JSON (Karpathy or COCO), VQA questions JSON, class folder, "
                    "or HatefulMemes JSONL")
    images: str = opt("", "the queries' image folder; '' = the folder of --data")
    annotations: str = opt("", "VQA: the queries' annotations (answers) JSON")
    split: str = opt("test", "Karpathy JSON: the split whose images are the queries")
    demo_data: str = opt("", "the demonstrations' file or folder; '' = the train/restval splits of a Karpathy "
                         "JSON, train.jsonl beside HatefulMemes' file")
    demo_images: str = opt("", "the demonstrations' image folder; '' = as --images")
    demo_annotations: str = opt("", "VQA: the demonstrations' annotations JSON")
    class_names: str = opt("", "classification: folder name -> class name file (JSON object or 'folder name' "
                           "lines); '' = classnames.txt beside --data")
    shots: list[int] = opt(help="demonstrations per query; 0 = two text-only demonstrations, as the paper",
                           factory=lambda: [0, 4, 8, 16, 32], min=0, max=128)
    trials: int = opt(3, "trials per shot count, each with its own seed (mean and std are reported)", min=1)
    seed: int = opt(42, "seed of trial 0; trial t uses seed + t", min=0)
    demos: str = opt("random", "how demonstrations are chosen", choices=("random", "rices"))
    pool_size: int = opt(2048, "demonstration pool drawn per trial from the training split (0 = all)", min=0)
    max_queries: int = opt(0, "evaluate a seeded sample of this many queries (0 = all)", min=0)
    batch_size: int = opt(8, "queries per forward pass", min=1)
    num_beams: int = opt(3, "beam search width for captions and answers", min=1, max=32)
    max_new_tokens: int = opt(0, "most tokens generated; 0 = the task's (captions 20, VQA answers 5)", min=0)
    length_normalize: bool = opt(False, "classification: rank classes by mean instead of summed log-likelihood")
    tokenizer: str = opt("auto", "CIDEr's tokenisation: the PTB jar (java), its Python port, or java when "
                         "available", choices=BACKENDS)
    image_ablation: str = opt("none", "blank: every image replaced by a grey one (measures what the images add)",
                              choices=("none", "blank"))
    precision: str = opt("fp32", "fp32, or bf16 autocast (faster on GPUs and bf16 CPUs)", choices=("fp32", "bf16"))
    cache_dir: str = opt("", "RICES embedding cache; '' = $XDG_CACHE_HOME or ~/.cache, /flamingo-kit/rices")

    def new_tokens(self, kind: str) -> int:
        return self.max_new_tokens or MAX_NEW_TOKENS.get(kind, 0)


@config
class EvalCommandConfig(EvalConfig):
    checkpoint: str = opt("", "a saved model (save_pretrained), a trainer checkpoint step_XXXXXXXX/, or a "
                          "trainer's checkpoint folder (its latest complete step)")
    out: str = opt("eval-out", "folder for results.json, results.md and the predictions")
    device: str = opt("", "'' picks cuda when available, else cpu")

    def validate_launch(self) -> None:
        """What a run needs beyond valid values (defaults leave them out): a model and data."""
        require(self.checkpoint != "", "checkpoint", "which model?", "give --checkpoint DIR")
        require(self.data != "", "data", "which benchmark files?", "give --data PATH")


@config
class TrainEvalConfig(EvalConfig):
    every: int = opt(0, "evaluate every N optimiser steps, logged beside the loss (0: never)", min=0)
    shots: list[int] = opt(help="demonstrations per query", factory=lambda: [0, 4], min=0, max=128)
    trials: int = opt(1, "trials per shot count", min=1)
    max_queries: int = opt(100, "queries per evaluation (a seeded sample; 0 = all)", min=0)

    def validate(self) -> None:
        require(self.every == 0 or self.data != "", "data", "evaluation during training needs benchmark files",
                "set eval.data (or eval.every=0)")
