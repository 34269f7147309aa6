"""Can ``gr.tune`` with a model's default space find the hand-found recipe within a 10-minute budget?

Usage::

    python benchmarks/tune_check.py [--budget 600] [--clock wall|cpu] [--threads N] [--jobs lastfm:lightgcn
        movielens-small:lightgcn gowalla:graphfilter] [--json benchmarks/out/tune_check.json]

For each (dataset, model): ``gr.tune(Model(random_state=0), train, valid, budget=B)`` with the
model's default search space (TPE with pruning), on validation only: the dataset's own
validation split (MovieLens) or a 10% per-user carve of train (seed 0). The chosen setting is
then fitted the way the suite fits the recorded recipe (on the whole train split, early-stopping
on the dataset's validation split where it has one) and scored on test once; the recorded
recipe (:mod:`graphrec.recipes`) is fitted and scored the same way in the same process, so both
test figures come from one machine state. Writes JSON with every trial, the wall-clock and CPU
seconds of the search and the load average (the machine may be shared: a wall-clock budget
buys fewer trials under load, so the CPU seconds are reported beside it). ``--threads N``
pins the run to N threads (thread environment set before numpy/torch load, torch's threads,
threadpoolctl's limit; recorded in the JSON under "pinned"), e.g. two ``--threads 1 --clock
cpu`` searches side by side on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from pin_threads import parse_threads, pin_from_argv, pin_threads

if __name__ == "__main__":
    pin_from_argv()  # before numpy/torch load

import numpy as np

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")

#: tolerance of the acceptance check per model (relative test Recall@20 below the recipe)
TOLERANCE = {"lightgcn": 0.02, "graphfilter": 0.01}
DEFAULT_JOBS = ("lastfm:lightgcn", "movielens-small:lightgcn", "gowalla:graphfilter")


def add_search_arguments(p: argparse.ArgumentParser, pinned: str) -> None:
    """``--seed``, ``--clock`` and ``--threads``, shared with tune_peers.py (same search, same budget)."""
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="what the budget counts (cpu: this process's CPU seconds, fair on a shared machine)")
    p.add_argument("--threads", type=parse_threads, default=None, help=f"pin the run to N threads ({pinned})")


def fit_like_suite(model: Any, ds: Any) -> Any:
    """Fit as the suite does (graphrec.benchmark.fit_evaluate): with ds.valid when the dataset has one."""
    if ds.valid is not None:
        return model.fit(ds.train, valid=ds.valid)
    return model.fit(ds.train)


def test_figures(model: Any, ds: Any) -> dict[str, float]:
    """Test Recall@20 / NDCG@20 with the per-user standard error."""
    import graphrec as gr

    r = gr.evaluate(model, ds.test, k=(20,), per_user=True)
    per = r["per_user"]
    n = len(per)
    out = {"recall@20": r["recall@20"], "ndcg@20": r["ndcg@20"], "n_users": n}
    for key in ("recall", "ndcg"):
        col = f"{key}@20" if f"{key}@20" in per else key
        out[f"{key}@20_se"] = float(np.std(per[col].to_numpy(float), ddof=1) / np.sqrt(n))
    return out


def check(dataset: str, model_name: str, budget: float, seed: int = 0, clock: str = "wall") -> dict[str, Any]:
    """Tune ``model_name`` on ``dataset``'s validation data, then score tuned and recipe on test."""
    import graphrec as gr
    from graphrec.models import get_model_class
    from graphrec.recipes import settings_for

    cls = get_model_class(model_name)
    ds = gr.datasets.load(dataset)
    if ds.valid is not None:
        train, valid, where = ds.train, ds.valid, "the dataset's validation split"
    else:
        carve = gr.splits.validation_split(ds.train, 0.1, random_state=seed)
        train, valid, where = carve.train, carve.valid, "a 10% per-user carve of train (seed 0)"
    load_before = os.getloadavg()
    res = gr.tune(cls(random_state=seed, device="cpu"), train, valid, budget=budget, clock=clock,
                  random_state=seed, verbose=True)
    load_after = os.getloadavg()
    print(f"{dataset}/{model_name}: {len(res.trials)} trials in {res.elapsed:.0f} s "
          f"({res.cpu_seconds:.0f} CPU-s), best valid {res.metric} {res.best_score:.4f}: {res.best_params}",
          flush=True)

    t = time.perf_counter()
    tuned = fit_like_suite(cls(**{**res.best_params, "random_state": seed, "device": "cpu"}), ds)
    tuned_fit = time.perf_counter() - t
    tuned_test = test_figures(tuned, ds)
    recipe = {**settings_for(model_name, dataset), "random_state": seed, "device": "cpu"}
    t = time.perf_counter()
    ref = fit_like_suite(cls(**recipe), ds)
    recipe_fit = time.perf_counter() - t
    recipe_test = test_figures(ref, ds)
    recipe_valid = None
    if ds.valid is None:  # the recipe on the same validation carve, for the record
        recipe_valid = gr.evaluate(cls(**recipe).fit(train), valid, k=(20,))["recall@20"]
    else:
        recipe_valid = gr.evaluate(ref, valid, k=(20,))["recall@20"]
    rel = tuned_test["recall@20"] / recipe_test["recall@20"] - 1
    tol = TOLERANCE.get(model_name, 0.02)
    out = {
        "dataset": dataset, "model": model_name, "budget_s": budget, "clock": clock, "validation": where,
        "search": {"method": res.method, "metric": res.metric, "n_trials": len(res.trials),
                   "states": res.trials["state"].value_counts().to_dict(), "elapsed_s": res.elapsed,
                   "cpu_s": res.cpu_seconds, "best_valid": res.best_score, "best_trial": res.best_trial,
                   "best_params": res.best_params, "recipe_valid_recall@20": recipe_valid},
        "tuned_test": tuned_test, "tuned_fit_s": tuned_fit, "recipe": recipe, "recipe_test": recipe_test,
        "recipe_fit_s": recipe_fit, "relative_recall_diff": rel, "tolerance": tol, "within": rel >= -tol,
        "load_before": load_before, "load_after": load_after,
        "trials": json.loads(res.trials.to_json(orient="records")),
    }
    print(f"{dataset}/{model_name}: test recall@20 tuned {tuned_test['recall@20']:.4f} ± "
          f"{tuned_test['recall@20_se']:.4f} vs recipe {recipe_test['recall@20']:.4f} ± "
          f"{recipe_test['recall@20_se']:.4f} ({100 * rel:+.2f}%, tolerance -{100 * tol:.0f}%): "
          f"{'within' if out['within'] else 'NOT within'}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    import logging

    from jobs import write_json

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=600.0, help="search wall clock per job, seconds")
    p.add_argument("--jobs", nargs="+", default=list(DEFAULT_JOBS), metavar="DATASET:MODEL")
    p.add_argument("--json", type=Path, default=HERE / "out" / "tune_check.json")
    add_search_arguments(p, "BLAS/OpenMP env before numpy/torch load, torch, threadpoolctl")
    args = p.parse_args(argv)
    pinned = pin_threads(args.threads) if args.threads is not None else None
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.gmtime()),
                               "budget_s": args.budget, "clock": args.clock, "threads": args.threads,
                               "pinned": pinned, "jobs": {}}
    for job in args.jobs:
        dataset, _, model = job.partition(":")
        try:
            results["jobs"][job] = check(dataset, model, args.budget, args.seed, args.clock)
        except Exception as exc:  # noqa: BLE001 - e.g. TuningError: no trial finished; keep the other jobs
            results["jobs"][job] = {"dataset": dataset, "model": model, "failed": f"{type(exc).__name__}: {exc}"}
            print(f"{job}: failed: {exc}", flush=True)
        results["ended"] = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.gmtime())
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
