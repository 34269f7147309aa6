"""graphrec.ALS against implicit's ALS on Gowalla: tuned on validation, tested once, timed in turns.

(a) A validation split is carved from Gowalla's train (``--valid-size`` of each user's
rows, seeded); both implementations are fitted on the rest over the same grid
(``--alphas`` x ``--regs`` at ``--tune-dim`` factors, ``--iterations`` sweeps) and scored
by Recall@20 on the carved rows. (b) With each one's best validation setting, each is
fitted on the full train and evaluated on test once (Recall/NDCG@20 with standard
errors over users), at every ``--dims`` size; fit times are measured in turns in one
run (``--repeats`` alternations, median reported), both on ``--threads`` threads
(implicit's OpenMP pool with single-threaded BLAS, as implicit advises; ours its block
pool). The grid is tuned once at ``--tune-dim`` and its winners reused at the other
sizes (say so when quoting the 64-factor row).

Confidences: ours is ``1 + alpha * r`` (Hu et al.); implicit's fit multiplies the
matrix by ``alpha`` and treats the product as the confidence, i.e. ``alpha * r`` on
observed pairs. Both are given the binarised train matrix and the same nominal grid.

Command (as run for benchmarks/RESULTS.md; ~25 min on the shared 2-core machine)::

    nice -n 5 python benchmarks/als_gowalla.py --out benchmarks/out/als_gowalla.json

Timing only, reusing the tuned settings (each fit repeated in turns; the figures are
the same deterministic fits)::

    nice -n 5 python benchmarks/als_gowalla.py --best-from benchmarks/out/als_gowalla.json \
        --repeats 3 --out benchmarks/out/als_gowalla_timing.json

Writes JSON atomically and refuses to overwrite an existing ``--out`` without ``--force``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KINDS = ("graphrec", "implicit")
sys.path.insert(0, str(HERE))


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return f"loadavg {os.getloadavg()}"


def _binary(train: Any) -> Any:
    import graphrec as gr

    return gr.Interactions.from_arrays(train.user_idx, train.item_idx, n_users=train.n_users,
                                       n_items=train.n_items)


def _model(kind: str, dim: int, alpha: float, reg: float, iterations: int, threads: int, seed: int) -> Any:
    if kind == "graphrec":
        from graphrec.models.als import ALS

        return ALS(embedding_dim=dim, alpha=alpha, regularization=reg, iterations=iterations,
                   n_threads=threads, random_state=seed)
    from peers import ImplicitALS

    return ImplicitALS(factors=dim, alpha=alpha, regularization=reg, iterations=iterations,
                       num_threads=threads, random_state=seed)


def _fit(model: Any, train: Any) -> float:
    t0 = time.perf_counter()
    model.fit(train)
    return time.perf_counter() - t0


def _uncertainty(model: Any, test: Any) -> dict[str, Any]:
    import numpy as np

    import graphrec as gr

    per_user = gr.evaluate(model, test, k=(20,), per_user=True)["per_user"]
    out: dict[str, Any] = {"n_users": len(per_user)}
    for name in ("recall@20", "ndcg@20"):
        x = per_user[name].to_numpy()
        out[name] = float(x.mean())
        out[f"{name}_se"] = float(x.std(ddof=1) / np.sqrt(len(x)))
    return out


def _tune(args: argparse.Namespace, train: Any, result: dict[str, Any],
          best: dict[str, tuple[float, float, float]], out: Path) -> None:
    """(a): both implementations over the grid on a validation carve; fills ``best``."""
    import graphrec as gr
    from graphrec.benchmark import write_json

    carve = gr.splits.validation_split(train, args.valid_size, random_state=args.seed)
    assert carve.valid is not None  # validation_split always carves one (for mypy)
    print(f"validation carve: {carve.train.nnz:,} train / {carve.valid.nnz:,} valid rows; {_uptime()}", flush=True)
    for alpha, reg in itertools.product(args.alphas, args.regs):
        for kind in KINDS:
            model = _model(kind, args.tune_dim, alpha, reg, args.iterations, args.threads, args.seed)
            seconds = _fit(model, carve.train)
            recall = gr.evaluate(model, carve.valid, k=(20,))["recall@20"]
            row = {"impl": kind, "dim": args.tune_dim, "alpha": alpha, "regularization": reg,
                   "valid_recall@20": recall, "fit_seconds": seconds}
            result["tuning"].append(row)
            print(f"valid {kind:8s} d={args.tune_dim} alpha={alpha:g} reg={reg:g}: "
                  f"Recall@20 {recall:.4f} fit {seconds:.1f}s", flush=True)
            if kind not in best or recall > best[kind][0]:
                best[kind] = (recall, alpha, reg)
        write_json(out, result)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from peers import peer_versions

    import graphrec as gr
    from graphrec.benchmark import write_json

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--root", default=None, help="data root (default: $GRAPHREC_DATA or ../shared/data)")
    p.add_argument("--dims", type=int, nargs="+", default=[128, 64])
    p.add_argument("--tune-dim", type=int, default=128)
    p.add_argument("--alphas", type=float, nargs="+", default=[10.0, 20.0, 40.0])
    p.add_argument("--regs", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1, help="timed alternations of the two fits per size")
    p.add_argument("--best-from", default=None, metavar="JSON",
                   help="skip (a): take each implementation's best setting from an earlier output")
    p.add_argument("--valid-size", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(HERE / "out" / "als_gowalla.json"))
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise SystemExit(f"{out} exists; pass --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    kinds = KINDS
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/als_gowalla.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "uptime_start": _uptime(), "host": platform.node(), "versions": peer_versions(),
        "args": vars(args), "tuning": [], "test": [],
    }
    ds = gr.datasets.load("gowalla", root=args.root)
    train, test = _binary(ds.train), ds.test
    best: dict[str, tuple[float, float, float]] = {}
    if args.best_from:
        earlier = json.loads(Path(args.best_from).read_text())["best"]
        best = {k: (v["valid_recall@20"], v["alpha"], v["regularization"]) for k, v in earlier.items()}
    else:
        _tune(args, train, result, best, out)
    result["best"] = {k: {"valid_recall@20": v[0], "alpha": v[1], "regularization": v[2]} for k, v in best.items()}
    for dim in args.dims:
        times: dict[str, list[float]] = {k: [] for k in kinds}
        fitted: dict[str, Any] = {}
        for _ in range(max(1, args.repeats)):  # in turns: ours, implicit, ours, ...
            for kind in kinds:
                _, alpha, reg = best[kind]
                fitted[kind] = _model(kind, dim, alpha, reg, args.iterations, args.threads, args.seed)
                times[kind].append(_fit(fitted[kind], train))
        load = _uptime()
        for kind in KINDS:
            metrics = _uncertainty(fitted[kind], test)  # the test split, read once per recipe
            row = {"impl": kind, "dim": dim, "alpha": best[kind][1], "regularization": best[kind][2],
                   "iterations": args.iterations, "threads": args.threads,
                   "fit_seconds": statistics.median(times[kind]), "fit_seconds_all": times[kind],
                   "uptime": load, **metrics}
            result["test"].append(row)
        ratio = statistics.median(times["graphrec"]) / statistics.median(times["implicit"])
        result.setdefault("time_ratio", {})[str(dim)] = ratio
        write_json(out, result)
    result["uptime_end"] = _uptime()
    write_json(out, result)
    print(f"\n{'impl':9s} {'dim':>4s} {'alpha':>6s} {'reg':>6s} {'Recall@20':>16s} {'NDCG@20':>16s} {'fit s':>7s}")
    for r in result["test"]:
        print(f"{r['impl']:9s} {r['dim']:4d} {r['alpha']:6g} {r['regularization']:6g} "
              f"{r['recall@20']:.4f} +- {r['recall@20_se']:.4f} {r['ndcg@20']:.4f} +- {r['ndcg@20_se']:.4f} "
              f"{r['fit_seconds']:7.1f}")
    print("fit-time ratio graphrec/implicit:", {k: round(v, 2) for k, v in result["time_ratio"].items()})
    print(f"wrote {out}; {result['uptime_end']}")
    return result


if __name__ == "__main__":
    main()
