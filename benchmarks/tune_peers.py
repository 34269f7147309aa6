"""Peers at their best: tune every peer of ``peers.py`` with ``gr.tune`` at the budget our models get.

Usage::

    python benchmarks/tune_peers.py [--budget 600] [--max-trials 50] [--clock wall|cpu] [--threads N]
        [--datasets lastfm movielens-small gowalla] [--peers implicit-als implicit-bpr pyg-lightgcn lightfm]
        [--json benchmarks/out/tune_peers.json] [--defaults-only]
        [--record-defaults docs/results/peer_defaults.json [--from-json RUN.json]]

The same search as ``benchmarks/tune_check.py`` runs for our models: ``gr.tune`` (Optuna TPE,
median pruning through the per-epoch callback where the peer trains by epochs), the same
wall-clock budget per (model, dataset), on validation only (the dataset's own validation
split, or a 10% per-user carve of train, seed 0), over each peer's ``search_space()``
(``peers.py``: the space of the matching graphrec model in the peer's parameter names; PyG's
layers/batch/epochs sized so a trial finishes inside 600 s on one core; LightFM's around its
documented settings). Fast
peers are also capped at ``--max-trials`` trials (a cap our searches never reach in the same
wall clock: see the JSON of tune_check). The chosen setting is fitted on the whole train split
(with the dataset's validation split where it has one, as the suite does) and scored on test
once, beside the peer's default recipe (the library's defaults / PyG's example recipe, as the
suite ran them before issue 20; LightFM's README quickstart). PyG's LightGCN on Gowalla is skipped: one epoch takes ~205 s
at batch 8,192 (RESULTS.md), so no setting of the space finishes inside a 600 s budget.

``--threads N`` pins the whole run to N threads (the thread environment before numpy/torch
load, torch's threads, threadpoolctl's limit, and implicit's and LightFM's ``num_threads``;
recorded in the JSON), so two 1-thread searches can run side by side on a 2-core machine
with ``--clock cpu``. ``--defaults-only`` skips the searches and only fits and scores each
peer's default recipe. ``--record-defaults PATH`` merges the measured default-recipe figures
into ``PATH`` (``docs/results/peer_defaults.json``, which the suite's report shows beside
each peer's row), from this run or, with ``--from-json``, from an earlier run's JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from pin_threads import pin_from_argv, pin_threads

if __name__ == "__main__":
    pin_from_argv()  # before numpy/torch load (tune_check imports numpy)

from tune_check import add_search_arguments, fit_like_suite, test_figures

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")

DATASETS = ("lastfm", "movielens-small", "gowalla")
PEER_ORDER = ("implicit-als", "implicit-bpr", "pyg-lightgcn", "lightfm")
#: peers with their own thread argument (``num_threads``), set by ``--threads``
THREADED_PEERS = ("implicit-als", "implicit-bpr", "lightfm")
ROOT = HERE.parent
PEER_DEFAULTS_JSON = ROOT / "docs" / "results" / "peer_defaults.json"
#: (dataset, peer) pairs not run, and why
SKIP = {("gowalla", "pyg-lightgcn"): "one epoch takes ~205 s (2.07 s/step x 99 steps at batch 8,192), so no "
        "setting of the space (10-30 epochs) finishes inside the 600 s budget"}


def base_params(peer: str, dataset: str, seed: int, threads: int | None = None) -> dict[str, Any]:
    """What a search starts from (the parameters it does not search)."""
    if peer == "pyg-lightgcn":
        return {"embedding_dim": 64, "n_layers": 3, "batch_size": 2048, "epochs": 60, "random_state": seed}
    if threads is not None and peer in THREADED_PEERS:
        return {"random_state": seed, "num_threads": threads}
    return {"random_state": seed}


def default_params(peer: str, dataset: str, seed: int, threads: int | None = None) -> dict[str, Any]:
    """The default recipe the suite ran before issue 20 (the comparison the issue called flattering)."""
    from peers import PEER_DEFAULTS

    params = {**base_params(peer, dataset, seed, threads), **PEER_DEFAULTS[peer]}
    if peer == "pyg-lightgcn":
        params["time_budget"] = 120.0 if dataset == "gowalla" else 45.0
        params["batch_size"] = 8192 if dataset == "gowalla" else 2048
    return params


def _fit_and_score(cls: Any, params: dict[str, Any], ds: Any) -> tuple[dict[str, Any], float]:
    t = time.perf_counter()
    model = fit_like_suite(cls(**params), ds)
    return test_figures(model, ds), time.perf_counter() - t


def tune_peer(dataset: str, peer: str, budget: float, max_trials: int, seed: int = 0,
              clock: str = "wall", threads: int | None = None, defaults_only: bool = False) -> dict[str, Any]:
    """Search ``peer`` on ``dataset``'s validation data; score the chosen setting and the default on test.

    With ``defaults_only`` only the default recipe is fitted and scored.
    """
    from peers import PEERS

    import graphrec as gr

    cls = PEERS[peer]
    ds = gr.datasets.load(dataset)
    default = default_params(peer, dataset, seed, threads)
    job: dict[str, Any] = {"dataset": dataset, "peer": peer, "threads": threads}
    load_before = os.getloadavg()
    if not defaults_only:
        if ds.valid is not None:
            train, valid, where = ds.train, ds.valid, "the dataset's validation split"
        else:
            carve = gr.splits.validation_split(ds.train, 0.1, random_state=seed)
            train, valid, where = carve.train, carve.valid, "a 10% per-user carve of train (seed 0)"
        base = base_params(peer, dataset, seed, threads)
        res = gr.tune(cls(**base), train, valid, budget=budget, n_trials=max_trials, clock=clock,
                      random_state=seed, verbose=True)
        print(f"{dataset}/{peer}: {len(res.trials)} trials in {res.elapsed:.0f} s ({res.cpu_seconds:.0f} CPU-s), "
              f"best valid {res.metric} {res.best_score:.4f}: {res.best_params}", flush=True)
        tuned_test, tuned_fit = _fit_and_score(cls, {**base, **res.best_params}, ds)
        job.update({
            "budget_s": budget, "clock": clock, "max_trials": max_trials, "validation": where,
            "search": {"method": res.method, "metric": res.metric, "n_trials": len(res.trials),
                       "states": res.trials["state"].value_counts().to_dict(), "elapsed_s": res.elapsed,
                       "cpu_s": res.cpu_seconds, "best_valid": res.best_score, "best_trial": res.best_trial,
                       "best_params": res.best_params},
            "tuned_params": {**base, **res.best_params}, "tuned_test": tuned_test, "tuned_fit_s": tuned_fit,
            "trials": json.loads(res.trials.to_json(orient="records")),
        })
    default_test, default_fit = _fit_and_score(cls, default, ds)
    job.update({"default_params": default, "default_test": default_test, "default_fit_s": default_fit,
                "load_before": load_before, "load_after": os.getloadavg()})
    tuned_note = "" if defaults_only else (f"tuned {job['tuned_test']['recall@20']:.4f} ± "
                                           f"{job['tuned_test']['recall@20_se']:.4f} (fit {job['tuned_fit_s']:.1f} s) vs ")
    print(f"{dataset}/{peer}: test recall@20 {tuned_note}default {default_test['recall@20']:.4f} ± "
          f"{default_test['recall@20_se']:.4f} (fit {default_fit:.1f} s)", flush=True)
    return job


def record_defaults(run: dict[str, Any], path: Path) -> int:
    """Merge the default-recipe test figures of a tune_peers run into ``path``; return rows written.

    One row per (dataset, peer), replaced when recorded again; ``path`` keeps the rows of
    other (dataset, peer) pairs. Read by ``benchmarks/report.py`` for the suite's peer rows.
    """
    path = Path(path)
    old = json.loads(path.read_text()) if path.is_file() else {}
    rows = {(r["dataset"], r["peer"]): r for r in old.get("rows", [])}
    n = 0
    for job in run.get("jobs", {}).values():
        test = job.get("default_test")
        if not test:
            continue
        rows[(job["dataset"], job["peer"])] = {
            "dataset": job["dataset"], "peer": job["peer"], "params": job["default_params"],
            "recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"], "recall@20_se": test.get("recall@20_se"),
            "ndcg@20_se": test.get("ndcg@20_se"), "n_users": test.get("n_users"),
            "fit_s": round(float(job["default_fit_s"]), 2), "threads": job.get("threads"),
            "load_before": job.get("load_before"), "measured": run.get("started"),
            "source": "benchmarks/tune_peers.py" + (" --defaults-only" if "search" not in job else ""),
        }
        n += 1
    out = {"about": ("Default-recipe test figures of each peer (benchmarks/peers.py PEER_DEFAULTS: the "
                     "library's defaults / PyG's example recipe / LightFM's quickstart), fitted and scored "
                     "by benchmarks/tune_peers.py (test split read once, full ranking with train items "
                     "masked, as the suite); recorded with --record-defaults, never typed by hand. "
                     "benchmarks/report.py shows them beside each peer's row."),
           "rows": sorted(rows.values(), key=lambda r: (r["dataset"], r["peer"]))}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(out, indent=1, default=str) + "\n")
    tmp.replace(path)
    return n


def main(argv: list[str] | None = None) -> int:
    from jobs import write_json

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=600.0, help="search budget per (peer, dataset), seconds (--clock)")
    p.add_argument("--max-trials", type=int, default=50)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--peers", nargs="+", default=list(PEER_ORDER), choices=list(PEER_ORDER))
    p.add_argument("--json", type=Path, default=HERE / "out" / "tune_peers.json")
    add_search_arguments(p, "BLAS/OpenMP env, torch, implicit/LightFM num_threads")
    p.add_argument("--defaults-only", action="store_true", help="no search: fit and score the default recipes")
    p.add_argument("--record-defaults", type=Path, metavar="PATH",
                   help=f"merge the default-recipe figures into PATH (e.g. {PEER_DEFAULTS_JSON.relative_to(ROOT)})")
    p.add_argument("--from-json", type=Path, metavar="RUN",
                   help="with --record-defaults: record from this earlier run's JSON instead of running")
    args = p.parse_args(argv)
    if args.from_json is not None:
        if args.record_defaults is None:
            p.error("--from-json needs --record-defaults")
        n = record_defaults(json.loads(args.from_json.read_text()), args.record_defaults)
        print(f"recorded {n} default-recipe rows from {args.from_json} into {args.record_defaults}")
        return 0
    pinned = pin_threads(args.threads) if args.threads is not None else None
    from peers import peer_status

    out: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.gmtime()), "budget_s": args.budget,
                           "clock": args.clock, "max_trials": args.max_trials, "threads": args.threads,
                           "pinned": pinned, "defaults_only": args.defaults_only, "jobs": {}}
    for dataset in args.datasets:
        for peer in args.peers:
            key = f"{dataset}:{peer}"
            ok, why = peer_status(peer)
            skip = None if args.defaults_only else SKIP.get((dataset, peer))
            if skip is not None or not ok:
                out["jobs"][key] = {"dataset": dataset, "peer": peer, "skipped": skip or why}
                print(f"{key}: skipped: {out['jobs'][key]['skipped']}", flush=True)
            else:
                try:
                    out["jobs"][key] = tune_peer(dataset, peer, args.budget, args.max_trials, args.seed, args.clock,
                                                 args.threads, args.defaults_only)
                except Exception as exc:  # noqa: BLE001 - one failed job must not lose the others
                    out["jobs"][key] = {"dataset": dataset, "peer": peer, "failed": f"{type(exc).__name__}: {exc}"}
                    print(f"{key}: failed: {exc}", flush=True)
            out["ended"] = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.gmtime())
            write_json(args.json, out)
    if args.record_defaults is not None:
        n = record_defaults(out, args.record_defaults)
        print(f"recorded {n} default-recipe rows into {args.record_defaults}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
