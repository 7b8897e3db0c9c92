"""Does the see Flamingo learn to see? The learns-to-see recipe, timed, and its held-out CIDEr.

For each of --runs training runs (seed r): the recipe of ``train/see.py`` (a small ViT pretrained
contrastively on the synthetic train split, then frozen; then the ``see`` training preset: the
``see-clip`` model, frozen SmolLM2-135M + that tower, on the synthetic shapes documents), timed as a
whole (tower pretraining and Flamingo training) with the machine's load average before and after
and the process's CPU time;
then few-shot CIDEr on the held-out split, over --trials seeded trials each, for

  * the trained model with the true images,
  * the trained model with every image replaced by a grey one (what the images add),
  * the same configuration before training (once: it does not depend on the run's seed),
  * and, with the true and blank images, a set drawn by ``bench/independent_shapes.py`` (code
    that shares nothing with the project's generator; plain COCO format);

and, for each of those, how often the captions state the image's colour, shape and count
(``train.eval.attributes``): CIDEr alone pays a caption with the right colour and the wrong
shape most of its n-grams.

Prints a Markdown table and writes everything (models, predictions, results.json files, a summary
JSON) under --out. Usage (repo root): python bench/learns_to_see.py [--runs 3 | --seeds 0,1] [--steps 300]
[--tower_steps N] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def fmt(s: dict) -> str:
    return f"{s['mean']:.1f} ± {s['std']:.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / ".cache" / "learns-to-see"))
    p.add_argument("--runs", type=int, default=3, help="independent training runs (seeds 0..runs-1)")
    p.add_argument("--seeds", default="", help="comma-separated training seeds (overrides --runs)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the see preset's)")
    p.add_argument("--tower_steps", type=int, default=None, help="tower pretraining steps (default: SeeConfig's; "
                   "0 with --model see: the random-tower recipe)")
    p.add_argument("--model", default="see-clip", help="model preset")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--shots", default="4")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--queries", type=int, default=100, help="held-out queries per evaluation")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="evaluation precision")
    a = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("transformers", "PIL", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import torch

    from train.config import PRESETS
    from train.eval.attributes import run_accuracy
    from train.see import SeeConfig, measure, prepare, train_to_see

    steps = a.steps or PRESETS.get("see").steps
    shots = [int(x) for x in a.shots.split(",")]
    out = Path(a.out)
    independent = out / "independent"
    if not (independent / "captions_test.json").is_file():
        subprocess.run([sys.executable, str(ROOT / "independent_shapes.py"), str(independent)], check=True)
    summary = {"command": " ".join(sys.argv), "steps": steps, "tower_steps": a.tower_steps,
               "threads": a.threads or torch.get_num_threads(), "cpu_count": os.cpu_count(), "runs": []}
    seeds = [int(x) for x in a.seeds.split(",")] if a.seeds else list(range(a.runs))
    for run in seeds:
        cfg = SeeConfig(steps=steps, seed=run, threads=a.threads, model=a.model)
        if a.tower_steps is not None:
            cfg.tower.steps = a.tower_steps
        cfg.tower.seed = run
        run_dir = out / f"run{run}"
        ann, shards = prepare(str(out / "data"), SeeConfig(seed=0))  # one benchmark; the run's seed orders it
        load0, cpu0 = os.getloadavg(), cpu_seconds()
        trained = train_to_see(str(run_dir), cfg, shards, ann)
        load1, cpu1 = os.getloadavg(), cpu_seconds()
        kw = dict(shots=shots, trials=a.trials, max_queries=a.queries, precision=a.precision)
        scores = measure(trained.model_dir, ann, str(run_dir / "eval"), before=run == seeds[0], **kw)
        ind = measure_independent(trained.model_dir, independent, run_dir / "eval-independent", **kw)
        attrs = {name: run_accuracy(str(run_dir / "eval" / name)) for name in scores}
        attrs.update({f"independent {name}": run_accuracy(str(run_dir / "eval-independent" / name)) for name in ind})
        record = {"seed": run, "train_seconds": trained.train_seconds + trained.tower_seconds,
                  "tower_seconds": trained.tower_seconds, "flamingo_seconds": trained.train_seconds,
                  "tower_loss": trained.tower_losses[:1] + trained.tower_losses[-1:],
                  "tower_zero_shot": trained.tower_zero_shot, "train_cpu_seconds": cpu1 - cpu0,
                  "load_before": load0, "load_after": load1, "loss_first": trained.losses[0],
                  "loss_last10": sum(trained.losses[-10:]) / 10, "cider": scores, "independent": ind,
                  "attributes": attrs}
        summary["runs"].append(record)
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        logging.info("run %d: %.0f s training, CIDEr %s", run, trained.train_seconds, json.dumps(scores))
    print_table(summary, shots)


def measure_independent(model_dir: str, folder: Path, out: Path, **kw) -> dict:
    """True vs blank images on the independently drawn set (plain COCO format, two files)."""
    import torch

    from train.eval.checkpoints import eval_model, load_checkpoint
    from train.eval.config import EvalConfig
    from train.eval.results import write_results
    from train.eval.runner import evaluate
    from train.eval.tasks import Paths, load_task

    loaded = load_checkpoint(model_dir)
    data = load_task("coco", Paths(str(folder / "captions_test.json"), demo_data=str(folder / "captions_train.json")))
    res = {}
    for name, ablation in (("true", "none"), ("blank", "blank")):
        cfg = EvalConfig(task="coco", data=str(folder / "captions_test.json"), image_ablation=ablation,
                         shots=kw["shots"], trials=kw["trials"], max_queries=kw["max_queries"], precision=kw["precision"])
        em = eval_model(loaded.model, loaded.tokenizer, loaded.transform, device=torch.device("cpu"),
                        precision=kw["precision"], ablation=ablation)
        r = evaluate(cfg, em, data, out_dir=str(out / name), checkpoint=loaded.source)
        write_results(str(out / name), r)
        res[name] = r["shots"]
    return res


def print_table(summary: dict, shots: list[int]) -> None:
    before = summary["runs"][0]["cider"].get("before", {})
    print(f"\n{summary['command']}  ({summary['steps']} steps, {summary['threads']} torch threads, "
          f"{summary['cpu_count']} cores)\n")
    print("| run | train s (tower + Flamingo) | CPU s | load 1/5/15 before -> after | k | CIDEr true | blank | before | "
          "independent set: true | blank |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in summary["runs"]:
        lb = "/".join(f"{x:.1f}" for x in r["load_before"])
        la = "/".join(f"{x:.1f}" for x in r["load_after"])
        for k in map(str, shots):
            print(f"| {r['seed']} | {r['train_seconds']:.0f} ({r['tower_seconds']:.0f} + {r['flamingo_seconds']:.0f}) | "
                  f"{r['train_cpu_seconds']:.0f} | {lb} -> {la} | {k} | "
                  f"{fmt(r['cider']['true'][k])} | {fmt(r['cider']['blank'][k])} | "
                  f"{fmt(before[k]) if k in before else ''} | {fmt(r['independent']['true'][k])} | "
                  f"{fmt(r['independent']['blank'][k])} |")
    for r in summary["runs"]:
        z = r.get("tower_zero_shot")
        if z:
            print(f"\nrun {r['seed']}: the pretrained tower alone (nearest of the 36 captions) on the held-out split: "
                  f"colour {z['colour']:.0%}, shape {z['shape']:.0%}, count {z['count']:.0%}")
    print("\nAttributes the captions state rightly (all trials' captions; chance ~25% / 33% / 33%):\n")
    print("| run | images | colour | shape | count | captions |")
    print("|---|---|---|---|---|---|")
    for r in summary["runs"]:
        for name, acc in r["attributes"].items():
            print(f"| {r['seed']} | {name} | {acc['colour']:.0%} | {acc['shape']:.0%} | {acc['count']:.0%} | {acc['n']} |")


if __name__ == "__main__":
    main()
