"""Benchmark entry point: fit a model on a named dataset, evaluate, save, report.

Usage::

    python benchmarks/run.py --dataset gowalla --model popularity --out benchmarks/out
    python benchmarks/run.py --dataset gowalla --model lightgcn --full --out benchmarks/out

Each run prints a table, writes ``OUT/<dataset>/<model>/results.json`` (metrics,
fit/eval seconds, peak memory, settings, versions) and saves the fitted model in
``OUT/<dataset>/<model>/model`` (loadable with ``graphrec.load``). The settings per
(model, dataset) recorded here are the ones behind the figures in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
import torch

import graphrec as gr
from graphrec.datasets import load as load_dataset
from graphrec.models import get_model_class

sys.path.insert(0, str(Path(__file__).resolve().parent))
from settings import SETTINGS, settings_for  # noqa: E402

DATASETS = ("gowalla", "lastfm", "movielens-small", "sample")


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def versions() -> dict[str, str]:
    return {
        "graphrec": gr.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "cpu": _cpu_model(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_one(
    dataset: str, model_name: str, *, quick: bool, out: Path | None, root: str | None, seed: int
) -> dict[str, Any]:
    """Load, fit, evaluate and save one (dataset, model) pair; return the results dict."""
    t0 = time.perf_counter()
    ds = load_dataset(dataset, root=root)
    load_seconds = time.perf_counter() - t0
    cls = get_model_class(model_name)
    params = settings_for(model_name, dataset, quick)
    if "random_state" in cls().get_params():
        params.setdefault("random_state", seed)
    model = cls(**params)
    t0 = time.perf_counter()
    model.fit(ds.train, valid=ds.valid) if ds.valid is not None else model.fit(ds.train)
    fit_seconds = time.perf_counter() - t0
    features = None
    if ds.item_info is not None and "category" in ds.item_info.columns:
        features = ds.item_info["category"].to_numpy()
    metrics = gr.evaluate(model, ds.test, k=(10, 20), item_features=features)
    result = {
        "dataset": dataset,
        "model": model_name,
        "mode": "quick" if quick else "full",
        "settings": model.get_params(),
        "metrics": {k: v for k, v in metrics.items() if k != "seconds"},
        "load_seconds": load_seconds,
        "fit_seconds": fit_seconds,
        "eval_seconds": metrics["seconds"],
        "peak_memory_mb": peak_memory_mb(),
        "history": getattr(model, "history_", None),
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if out is not None:
        target = out / dataset / model_name
        target.mkdir(parents=True, exist_ok=True)
        model.save(target / "model")
        tmp = target / "results.json.tmp"
        tmp.write_text(json.dumps(result, indent=1, default=str))
        tmp.replace(target / "results.json")
    return result


def format_table(results: list[dict[str, Any]]) -> str:
    """A Markdown table of the headline figures."""
    cols = ["recall@20", "ndcg@20", "precision@20", "map@20", "recall@10", "ndcg@10", "coverage@20"]
    head = "| dataset | model | " + " | ".join(cols) + " | fit s | eval s | peak MB |"
    lines = [head, "|" + "---|" * (len(cols) + 5)]
    for r in results:
        m = r["metrics"]
        vals = " | ".join(f"{m.get(c, float('nan')):.4f}" for c in cols)
        lines.append(
            f"| {r['dataset']} | {r['model']} | {vals} | {r['fit_seconds']:.1f} | "
            f"{r['eval_seconds']:.1f} | {r['peak_memory_mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="gowalla", help=f"one of {DATASETS}")
    parser.add_argument("--model", default="popularity", help=f"one of {sorted(SETTINGS)}")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small budgets (smoke test)")
    mode.add_argument("--full", action="store_true", help="the recorded settings (default)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--root", default=None, help="data root (default: GRAPHREC_DATA, ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        result = run_one(args.dataset, args.model, quick=args.quick, out=args.out, root=args.root, seed=args.seed)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table([result]))
    print(f"results and model written under {args.out / args.dataset / args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
