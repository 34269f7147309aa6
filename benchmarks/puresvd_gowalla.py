"""PureSVD on Gowalla (LightGCN split): rank x normalisation chosen on validation, test read once.

Usage::

    nice -n 5 python benchmarks/puresvd_gowalla.py            # writes benchmarks/out/puresvd_gowalla.json
    nice -n 5 python benchmarks/puresvd_gowalla.py --ranks 64 --cells none,item:0.25 --no-test --out OUT.json
    python benchmarks/puresvd_gowalla.py --dataset lastfm --ranks 16,32,64,128,256   # another dataset

Protocol (nothing is chosen on test):

1. ``graphrec.splits.validation_split`` carves 10% of each user's training items
   (``--valid-size``, seeded by ``--seed``) out of Gowalla's train.
2. Every cell of ranks (``--ranks``, default 64..1024) x normalisations
   (``--cells``, default ``none``, ``symmetric:0.25``, ``symmetric:0.5``: ``normalize:exponent``
   of :class:`graphrec.models.svd.PureSVD`) is fitted on what is left and scored on
   the carved part: Recall/NDCG@20 with the standard error over users, fit time,
   peak resident memory during the fit (sampled every 20 ms) and the load average.
3. The cell with the best validation Recall@20 is the recipe. It is refitted on
   the full train and the test split is read once for it.
4. Only after that, for the chosen normalisation, every other rank is fitted on
   full train and scored on test; those rows are labelled ``after_choice`` and
   were not used for choosing (the issue asks for ranks 64-1024 to be reported).

The JSON (written atomically after every cell, so a partial run keeps what it
measured) refuses to overwrite an existing file unless ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Self

import numpy as np

from graphrec.memory import rss_mb

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "puresvd_gowalla.json"


class PeakRSS:
    """Peak resident memory (MB) of this process while the ``with`` block runs (a sampling thread)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def rss_mb() -> float:
        return rss_mb()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self.start_mb = self.rss_mb()
        self.peak_mb = self.start_mb
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.rss_mb())


def parse_cell(text: str) -> tuple[str | None, float]:
    """``"none"`` -> (None, 0.0); ``"item:0.5"`` -> ("item", 0.5)."""
    if text == "none":
        return None, 0.0
    name, _, exp = text.partition(":")
    return name, float(exp or 0.5)


def metrics_with_se(model: Any, target: Any) -> dict[str, float]:
    """Recall/NDCG@20 over ``target``'s users, each with its standard error over users."""
    import graphrec as gr

    res = gr.evaluate(model, target, k=(20,), per_user=True)
    per_user = res["per_user"]
    out: dict[str, float] = {"n_users": int(res["n_users"])}
    for name in ("recall@20", "ndcg@20"):
        x = per_user[name].to_numpy()
        out[name] = float(x.mean())
        out[name + "_se"] = float(x.std(ddof=1) / np.sqrt(len(x)))
    return out


def run_cell(train: Any, target: Any, rank: int, normalize: str | None, exponent: float,
             seed: int, n_iter: int) -> dict[str, Any]:
    """Fit one PureSVD on ``train``, score it on ``target``; timings, memory and load."""
    from graphrec.models.svd import PureSVD

    load_before = os.getloadavg()[0]
    model = PureSVD(embedding_dim=rank, normalize=normalize, exponent=exponent, n_iter=n_iter,
                    random_state=seed, device="cpu")
    with PeakRSS() as mem:
        start = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - start
    start = time.perf_counter()
    res = metrics_with_se(model, target)
    eval_s = time.perf_counter() - start
    return {"rank": rank, "normalize": normalize, "exponent": exponent, **res,
            "fit_s": round(fit_s, 2), "eval_s": round(eval_s, 2),
            "fit_peak_rss_mb": round(mem.peak_mb, 1), "rss_before_fit_mb": round(mem.start_mb, 1),
            "load1_before": load_before, "load1_after": os.getloadavg()[0]}


def row_text(r: dict[str, Any]) -> str:
    norm = "none" if r["normalize"] is None else f"{r['normalize']}:{r['exponent']}"
    return (f"{r['rank']:>5} {norm:<14} {r['recall@20']:.4f}±{r['recall@20_se']:.4f} "
            f"{r['ndcg@20']:.4f}±{r['ndcg@20_se']:.4f} {r['fit_s']:>7.1f} {r['eval_s']:>6.1f} "
            f"{r['fit_peak_rss_mb']:>8.0f} {r['load1_before']:>5.1f}")


HEADER = f"{'rank':>5} {'normalize':<14} {'Recall@20±se':<15} {'NDCG@20±se':<15} {'fit s':>7} {'eval s':>6} " \
         f"{'peak MB':>8} {'load':>5}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import graphrec as gr
    from graphrec.benchmark import machine, source_revision, versions, write_json

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--root", default=None, help="data root (default: graphrec's data roots)")
    p.add_argument("--ranks", default="64,128,256,512,1024")
    p.add_argument("--cells", default="none,symmetric:0.25,symmetric:0.5",
                   help="normalisations as normalize:exponent, comma-separated ('none' for plain R)")
    p.add_argument("--valid-size", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-iter", type=int, default=4, help="power iterations of the randomized SVD")
    p.add_argument("--dataset", default="gowalla",
                   help="a named dataset (default gowalla); its train split is carved the same way")
    p.add_argument("--out", default=None,
                   help="JSON path (default benchmarks/out/puresvd_<dataset>.json)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--no-test", action="store_true",
                   help="validation grid only: never read the test split (for sizing a grid)")
    p.add_argument("--no-after-choice", action="store_true",
                   help="skip the per-rank test rows computed after the choice")
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else DEFAULT_OUT.with_name(f"puresvd_{args.dataset}.json")
    if out.exists() and not args.force:
        p.error(f"{out} exists; pass --force to overwrite it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    ranks = [int(r) for r in args.ranks.split(",")]
    cells = [parse_cell(c) for c in args.cells.split(",")]

    ds = gr.datasets.load(args.dataset, root=args.root)
    carve = gr.splits.validation_split(ds.train, args.valid_size, random_state=args.seed)
    valid = carve.valid
    if valid is None:  # pragma: no cover - validation_split always carves
        raise RuntimeError("validation_split returned no validation part")
    record: dict[str, Any] = {
        "benchmark": "puresvd_gowalla", "dataset": args.dataset, "command": " ".join(["python", *sys.argv]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "versions": versions(),
        "source": source_revision(), "load_at_start": os.getloadavg(),
        "protocol": {"valid_size": args.valid_size, "seed": args.seed, "n_iter": args.n_iter,
                     "selection": "best validation recall@20", "valid_users": None},
        "validation": [], "chosen": None, "test": None, "after_choice": [],
    }
    print(f"validation carve: {carve.train.nnz} train / {valid.nnz} valid interactions", flush=True)
    print("validation (fit on train minus the carve)\n" + HEADER, flush=True)
    for normalize, exponent in cells:
        for rank in ranks:
            row = run_cell(carve.train, valid, rank, normalize, exponent, args.seed, args.n_iter)
            record["validation"].append(row)
            record["protocol"]["valid_users"] = row["n_users"]
            print(row_text(row), flush=True)
            write_json(out, record)

    best = max(record["validation"], key=lambda r: r["recall@20"])
    record["chosen"] = {"rank": best["rank"], "normalize": best["normalize"], "exponent": best["exponent"],
                        "valid_recall@20": best["recall@20"]}
    print(f"chosen on validation: {record['chosen']}", flush=True)
    if args.no_test:
        write_json(out, record)
        print(f"--no-test: test not read; wrote {out}", flush=True)
        return record
    test = run_cell(ds.train, ds.test, best["rank"], best["normalize"], best["exponent"], args.seed, args.n_iter)
    record["test"] = test
    print("test, read once for the chosen recipe (fit on full train)\n" + HEADER + "\n" + row_text(test), flush=True)
    write_json(out, record)

    if not args.no_after_choice:
        print("test per rank, AFTER the choice (not used for choosing)\n" + HEADER, flush=True)
        for rank in ranks:
            if rank == best["rank"]:
                continue
            row = run_cell(ds.train, ds.test, rank, best["normalize"], best["exponent"], args.seed, args.n_iter)
            row["after_choice"] = True
            record["after_choice"].append(row)
            print(row_text(row), flush=True)
            write_json(out, record)
    record["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    record["load_at_end"] = os.getloadavg()
    write_json(out, record)
    print(f"wrote {out}", flush=True)
    return record


if __name__ == "__main__":
    main()
