"""Spectral filters (issue 17): one command per recipe; fit, evaluate twice, print a table, write JSON.

Usage::

    # a recorded recipe (graphrec/recipes.py): fit on train, test read once, both evaluators
    python benchmarks/spectral.py --dataset gowalla --method chebycf --out benchmarks/out/spectral
    python benchmarks/spectral.py --dataset gowalla --method bspm --out benchmarks/out/spectral
    python benchmarks/spectral.py --dataset gowalla --method turbocf --out benchmarks/out/spectral

    # choose settings on a validation carve of train (10% of each user's train items, seed 0),
    # then read test once for the chosen cell (how the Last.fm / MovieLens recipes were chosen)
    python benchmarks/spectral.py --dataset lastfm --method chebycf --select --out benchmarks/out/spectral

    # issue 21's check: factored vs materialised P (and the low-rank tail) on a sample of test users
    python benchmarks/spectral.py --dataset gowalla --method chebycf --compare-paths 3000 --out benchmarks/out/spectral

Methods: ``chebycf``, ``bspm``, ``turbocf`` (settings: ``graphrec.recipes.SETTINGS[method][dataset]``;
Gowalla holds the authors' published settings). Timings: wall clock and this process's CPU
time for the fit and for scoring + ranking all test users with ``graphrec.evaluate``; the
independent evaluator (benchmarks/independent_eval.py, no graphrec code) scores every user
again and is timed apart. The load average is recorded beside each time (the machine is
shared). The JSON refuses to overwrite an existing file unless ``--force``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")

METHODS = ("chebycf", "bspm", "turbocf")

# Validation grids for datasets without published settings (small: Last.fm, MovieLens).
GRIDS: dict[str, dict[str, list[Any]]] = {
    "chebycf": {"degree_exponent": [0.2, 0.4], "ideal_weight": [0.0, 0.2], "n_components": [64, 256]},
    "bspm": {"sharpen_time": [1.0, 2.5], "ideal_weight": [0.2, 0.5], "n_components": [64, 256]},
    "turbocf": {"user_exponent": [0.5, 0.6], "hadamard_power": [0.7, 1.0],
                "coefficients": [(0.0, 1.0), (0.0, 2.0, -1.0)]},
}


def recipe(method: str, dataset: str) -> dict[str, Any]:
    from graphrec.recipes import SETTINGS

    if method not in SETTINGS or dataset not in SETTINGS[method]:
        raise KeyError(f"no recorded {method} recipe for {dataset!r}; run with --select to choose one")
    return dict(SETTINGS[method][dataset])


def with_se(per_user: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in ("recall@20", "ndcg@20"):
        x = per_user[name].to_numpy()
        out[name] = float(x.mean())
        out[name + "_se"] = float(x.std(ddof=1) / np.sqrt(len(x)))
    return out


class ScoreCapture:
    """Keeps, per scored user, the top ``20 + |train items|`` scores of the model's scoring pass.

    The independent evaluator masks the user's train items and takes its top 20, so those
    entries (the rest set to -inf) give it exactly what the full row would: both evaluators
    then read one scoring pass (scoring all Gowalla users twice costs minutes on this machine).
    """

    def __init__(self, model: Any, k: int = 20) -> None:
        self.model, self.k = model, k
        self.deg = np.diff(model.seen_.indptr)
        self.parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._orig = model._score

    def __enter__(self) -> Self:
        def capture(users: np.ndarray, similarity: str | None = None) -> torch.Tensor:
            scores = self._orig(users, similarity)
            width = min(scores.shape[1], self.k + int(self.deg[users].max()))
            vals, idx = torch.topk(scores, width, dim=1)
            vals, idx = vals.cpu().numpy(), idx.cpu().numpy().astype(np.int32)
            for j, u in enumerate(np.asarray(users)):
                self.parts[int(u)] = (idx[j], vals[j])
            return scores

        self.model._score = capture
        return self

    def __exit__(self, *exc: object) -> None:
        del self.model._score

    def rows(self, users: np.ndarray, n_items: int) -> torch.Tensor:
        """(len(users), n_items) scores: the kept entries, -inf elsewhere (model.score for users not kept)."""
        out = torch.full((len(users), n_items), -np.inf)
        missing = [j for j, u in enumerate(users) if int(u) not in self.parts]
        if missing:
            out[missing] = torch.from_numpy(self.model.score(np.asarray(users)[missing]))
        for j, u in enumerate(users):
            if int(u) in self.parts:
                idx, vals = self.parts[int(u)]
                out[j, torch.from_numpy(idx.astype(np.int64))] = torch.from_numpy(vals)
        return out


def fit_eval(params: dict[str, Any], train: Any, target: Any,
             capture: bool = False) -> tuple[dict[str, Any], Any, ScoreCapture | None]:
    """Fit a SpectralFilter on ``train``, evaluate on ``target``: metrics with standard errors, times, load."""
    import graphrec as gr

    load0 = os.getloadavg()[0]
    model = gr.SpectralFilter(**params)
    w0, c0 = time.perf_counter(), time.process_time()
    model.fit(train)
    fit_s, fit_cpu = time.perf_counter() - w0, time.process_time() - c0
    cap = ScoreCapture(model) if capture else None
    w0, c0 = time.perf_counter(), time.process_time()
    if cap is not None:
        with cap:
            res = gr.evaluate(model, target, k=(20,), per_user=True)
    else:
        res = gr.evaluate(model, target, k=(20,), per_user=True)
    eval_s, eval_cpu = time.perf_counter() - w0, time.process_time() - c0
    row = {**with_se(res["per_user"]), "n_users": int(res["n_users"]), "fit_s": round(fit_s, 1),
           "eval_s": round(eval_s, 1), "total_s": round(fit_s + eval_s, 1), "fit_cpu_s": round(fit_cpu, 1),
           "eval_cpu_s": round(eval_cpu, 1), "total_cpu_s": round(fit_cpu + eval_cpu, 1),
           "propagation": model.propagation_, "n_components": model.n_components_,
           "load1_before": round(load0, 2), "load1_after": round(os.getloadavg()[0], 2)}
    return row, model, cap


def independent(model: Any, ds: Any, dataset: str, root: str | None,
                cap: ScoreCapture | None = None) -> dict[str, Any]:
    """Recall/NDCG@20 by benchmarks/independent_eval.py. Gowalla: its raw train.txt/test.txt in raw ids;
    elsewhere the split's matrices (graphrec's reader made the split; the metric code is independent)."""
    from independent_eval import evaluate as plain_evaluate
    from independent_eval import load_gowalla

    import graphrec as gr

    w0 = time.perf_counter()
    if dataset == "gowalla":
        folder = gr.datasets.available(root).loc["gowalla", "path"]
        train, test = load_gowalla(folder)
        user_of = np.full(train.shape[0], -1, np.int64)
        user_of[model.users_.labels.astype(np.int64)] = np.arange(model.n_users_)
        item_labels = torch.from_numpy(model.items_.labels.astype(np.int64))
        n_raw_items = train.shape[1]

        def score_fn(raw_users: np.ndarray) -> torch.Tensor:
            internal = user_of[raw_users]
            scores = (cap.rows(internal, model.n_items_) if cap is not None
                      else torch.from_numpy(model.score(internal)))
            out = torch.full((len(raw_users), n_raw_items), -np.inf)
            out[:, item_labels] = scores
            return out
    else:
        train, test = ds.train.to_csr(), ds.test.to_csr()

        def score_fn(users: np.ndarray) -> torch.Tensor:
            return cap.rows(users, model.n_items_) if cap is not None else torch.from_numpy(model.score(users))
    res = plain_evaluate(score_fn, sp.csr_array(train), sp.csr_array(test))
    return {**{k: float(v) for k, v in res.items()}, "seconds": round(time.perf_counter() - w0, 1)}


def select(method: str, train: Any, seed: int, valid_size: float, base: dict[str, Any]) -> dict[str, Any]:
    """Grid on a validation carve of ``train``; returns the record with the chosen cell."""
    import graphrec as gr

    carve = gr.splits.validation_split(train, valid_size, random_state=seed)
    grid = GRIDS[method]
    rows = []
    for values in itertools.product(*grid.values()):
        cell = dict(zip(grid, values, strict=True))
        if method == "turbocf":
            cell["item_exponent"] = round(1.0 - cell["user_exponent"], 6)
        params = {**base, **cell}
        row, _, _ = fit_eval(params, carve.train, carve.valid)
        rows.append({"cell": cell, **row})
        print(f"  valid {cell}: Recall@20 {row['recall@20']:.4f} NDCG@20 {row['ndcg@20']:.4f}", flush=True)
    best = max(rows, key=lambda r: r["recall@20"])
    return {"valid_size": valid_size, "seed": seed, "grid": {k: [list(v) if isinstance(v, tuple) else v for v in vs]
                                                               for k, vs in grid.items()},
            "rows": rows, "chosen": best["cell"], "chosen_valid_recall@20": best["recall@20"]}


def compare_paths(params: dict[str, Any], ds: Any, n_users: int, seed: int,
                  skip_exact: bool = False, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Exact factored vs exact materialised P (and the low-rank tail) on ``n_users`` random test users."""
    from independent_eval import evaluate as plain_evaluate
    from puresvd_gowalla import PeakRSS

    import graphrec as gr

    rng = np.random.default_rng(seed)
    test = ds.test.to_csr()
    with_test = np.flatnonzero(np.diff(test.indptr) > 0)
    users = np.sort(rng.choice(with_test, size=min(n_users, len(with_test)), replace=False))
    keep = np.zeros(test.shape[0], np.float32)
    keep[users] = 1
    test_sub = sp.csr_array(sp.diags_array(keep) @ test)
    test_sub.eliminate_zeros()
    rows = []
    variants = [("sparse", {"propagation": "sparse", "tail": "exact"}),
                ("factored", {"propagation": "factored", "tail": "exact"})]
    if skip_exact:
        variants = []
    if params.get("hadamard_power", 1.0) == 1.0 and params.get("n_components", 1):
        variants.append(("tail linear", {"propagation": "factored", "tail": "linear"}))
        variants.append(("tail quadratic", {"propagation": "factored", "tail": "quadratic"}))
    if only:
        variants = [v for v in variants if v[0] in only]
    for name, extra in variants:
        if params.get("hadamard_power", 1.0) != 1.0 and extra.get("propagation") == "factored":
            continue
        load0 = os.getloadavg()[0]
        model = gr.SpectralFilter(**{**params, **extra})
        with PeakRSS() as mem:
            w0 = time.perf_counter()
            model.fit(ds.train)
            fit_s = time.perf_counter() - w0
            w0 = time.perf_counter()
            res = plain_evaluate(lambda b, m=model: torch.from_numpy(m.score(b)), ds.train.to_csr(), test_sub)
            eval_s = time.perf_counter() - w0
        row = {"path": name, "recall@20": res["recall@20"], "ndcg@20": res["ndcg@20"], "n_users": res["n_users"],
               "fit_s": round(fit_s, 1), "eval_s": round(eval_s, 1), "peak_rss_mb": round(mem.peak_mb),
               "load1": round(load0, 2)}
        rows.append(row)
        print(f"  {name:<14} Recall@20 {row['recall@20']:.4f} NDCG@20 {row['ndcg@20']:.4f} fit {fit_s:.1f} s "
              f"score {eval_s:.1f} s peak {mem.peak_mb:.0f} MB load {load0:.1f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import graphrec as gr
    from graphrec.benchmark import machine, source_revision, versions, write_json

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--method", choices=METHODS, required=True)
    p.add_argument("--out", type=Path, default=HERE / "out" / "spectral")
    p.add_argument("--root", default=None, help="data root (default: graphrec's data roots)")
    p.add_argument("--select", action="store_true", help="choose the settings on a validation carve of train")
    p.add_argument("--valid-size", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare-paths", type=int, default=None, metavar="USERS",
                   help="compare the exact factored and materialised paths (and the low-rank tail) on USERS test users")
    p.add_argument("--tails-only", action="store_true", help="--compare-paths: only the low-rank tails")
    p.add_argument("--paths", default=None,
                   help="--compare-paths: a comma list of 'sparse', 'factored', 'tail linear', 'tail quadratic'")
    p.add_argument("--tail", choices=("exact", "linear", "quadratic"), default=None,
                   help="override the recipe's tail (exact polynomial or a low-rank approximation)")
    p.add_argument("--memory-budget", type=float, default=None,
                   help="override the recipe's memory_budget (GiB: the sparse P and the scoring buffers)")
    p.add_argument("--n-iter", type=int, default=None, help="override the randomized SVD's power iterations")
    p.add_argument("--no-independent", action="store_true", help="skip the independent evaluator")
    p.add_argument("--force", action="store_true", help="overwrite the JSON if it exists")
    args = p.parse_args(argv)
    suffix = "_paths" if args.compare_paths else ("_select" if args.select else "")
    suffix += f"_{args.tail}" if args.tail else ""
    suffix += f"_iter{args.n_iter}" if args.n_iter is not None else ""
    out = args.out / f"spectral_{args.dataset}_{args.method}{suffix}.json"
    if out.exists() and not args.force:
        p.error(f"{out} exists; pass --force to overwrite it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)

    ds = gr.datasets.load(args.dataset, root=args.root)
    record: dict[str, Any] = {
        "benchmark": "spectral", "dataset": args.dataset, "method": args.method,
        "command": " ".join(["python benchmarks/spectral.py", *(sys.argv[1:] if argv is None else argv)]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "machine": machine(),
        "versions": versions(), "source": source_revision(), "load_at_start": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
    }
    if args.select:
        base = {"random_state": args.seed, "device": "cpu"}
        try:
            base.update(recipe(args.method, "gowalla"))  # the method's family; the grid overrides its knobs
        except KeyError:
            pass
        print(f"{args.method} on {args.dataset}: grid on a {args.valid_size:.0%} validation carve of train", flush=True)
        record["selection"] = select(args.method, ds.train, args.seed, args.valid_size, base)
        params = {**base, **record["selection"]["chosen"]}
        record["source_of_settings"] = "chosen on a validation carve of train (this run)"
    else:
        params = recipe(args.method, args.dataset)
        record["source_of_settings"] = "graphrec/recipes.py"
    if args.tail is not None:
        params["tail"] = args.tail
    if args.memory_budget is not None:
        params["memory_budget"] = args.memory_budget
    if args.n_iter is not None:
        params["n_iter"] = args.n_iter
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
    record["settings"] = params
    params = {k: (tuple(v) if k == "coefficients" else v) for k, v in params.items()}
    if args.compare_paths:
        print(f"paths on {args.compare_paths} random test users ({args.method}, {args.dataset})", flush=True)
        record["paths"] = compare_paths(params, ds, args.compare_paths, args.seed, args.tails_only,
                                        args.paths.split(",") if args.paths else None)
        write_json(out, record)
        print(f"wrote {out}")
        return record

    row, model, cap = fit_eval(params, ds.train, ds.test, capture=not args.no_independent)  # test read once
    record["test"] = row
    write_json(out, record)
    if not args.no_independent:
        record["independent"] = independent(model, ds, args.dataset, args.root, cap)
        record["independent"]["scores"] = ("each user's top 20 + |train items| scores of the evaluated pass "
                                           "(the rest -inf): what its masked top-20 reads")
    record["finished"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    record["load_at_end"] = os.getloadavg()
    write_json(out, record)
    ind = record.get("independent", {})
    print(f"\n| dataset | method | Recall@20 ± se | NDCG@20 ± se | independent R / N | fit s | score s | "
          f"total s (CPU s) | load |\n|---|---|---|---|---|---|---|---|---|\n"
          f"| {args.dataset} | {args.method} | {row['recall@20']:.4f} ± {row['recall@20_se']:.4f} | "
          f"{row['ndcg@20']:.4f} ± {row['ndcg@20_se']:.4f} | "
          f"{ind.get('recall@20', float('nan')):.4f} / {ind.get('ndcg@20', float('nan')):.4f} | {row['fit_s']} | "
          f"{row['eval_s']} | {row['total_s']} ({row['total_cpu_s']}) | {row['load1_before']}-{row['load1_after']} |")
    print(f"wrote {out}")
    return record


if __name__ == "__main__":
    main()
