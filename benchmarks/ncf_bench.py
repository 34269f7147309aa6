"""NCF (GMF, NeuMF) against MF and LightGCN at embedding size 64 under one wall-clock budget.

Commands behind benchmarks/RESULTS.md (2 shared CPU cores; the JSON records ``uptime``):

    nice -n 5 python benchmarks/ncf_bench.py --dataset lastfm --budget 60 --tune-budget 20
    nice -n 5 python benchmarks/ncf_bench.py --dataset gowalla --budget 150 --tune-budget 60 \\
        --valid-users 3000 --lrs 0.003 0.01

Protocol.
1. Tune (NCF only): a per-user 10% validation carve of train
   (``graphrec.splits.validation_split``, seed 0). GMF and NeuMF are fitted for
   ``--tune-budget`` seconds on the carve's train for each ``--lrs`` value, then NeuMF at
   its best lr with ``pretrain=True`` (GMF and MLP towers first, a third of the budget
   each); each is scored by Recall@20 on the carve's validation part (on Gowalla on
   ``--valid-users`` random users, to keep a NeuMF validation under a minute). The
   tower (64-32-16), batch size and loss (BCE, 4 negatives, the paper's) are fixed.
2. Test, once per model: each model is fitted on the full train for ``--budget``
   seconds (MF and LightGCN with ``graphrec.recipes`` settings, their ``time_budget``
   replaced by ``--budget``; NCF with the chosen settings), saved, and evaluated in a
   fresh process (``--evaluate``): Recall/NDCG@20 over all test users with standard
   errors over users, evaluation wall time, and the peak RSS of that process (data,
   model and the batched scoring of every user; NeuMF's goes through the MLP tower).
   ``--models mf-bce`` adds MF trained like GMF (BCE, 4 negatives, GMF's chosen lr):
   the dot product against NCF's scorers on equal terms (Rendle et al., RecSys 2020);
   the recorded MF recipe's schedule (InfoNCE then pool-BPR, cosine lr over 60 epochs)
   assumes far more epochs than a short budget allows.

Follow-up runs of that one model (settings chosen in the first run, passed as JSON):

    nice -n 5 python benchmarks/ncf_bench.py --dataset lastfm --budget 60 --models mf-bce \
        --chosen '{"gmf": {"lr": 0.001}}' --out benchmarks/out/ncf_lastfm_mfbce.json
    nice -n 5 python benchmarks/ncf_bench.py --dataset gowalla --budget 150 --models mf-bce \
        --chosen '{"gmf": {"lr": 0.01}}' --out benchmarks/out/ncf_gowalla_mfbce.json

Writes ``benchmarks/out/ncf_<dataset>.json`` (atomic; refuses to overwrite without
``--force``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SIZES = {"lastfm": 2048, "gowalla": 8192}  # NCF batch size (MF/LightGCN recipes use the same)


def _uptime() -> str:
    return subprocess.run(["uptime"], check=False, capture_output=True, text=True).stdout.strip()


def _ncf(scorer: str, dataset: str, **kw: Any) -> Any:
    from graphrec.models.ncf import NCF

    return NCF(scorer=scorer, embedding_dim=64, hidden_sizes=(64, 32, 16),
               batch_size=SIZES[dataset], epochs=1000, random_state=0, **kw)


def _sample_users(valid: Any, n: int | None, seed: int = 0) -> Any:
    if not n:
        return valid
    users = np.unique(valid.user_idx)
    if len(users) <= n:
        return valid
    keep = np.random.default_rng(seed).choice(users, n, replace=False)
    return valid.subset(np.isin(valid.user_idx, keep))


def tune(ds: Any, args: argparse.Namespace) -> tuple[dict[str, dict], list[dict]]:
    import graphrec as gr

    split = gr.splits.validation_split(ds.train, 0.1, random_state=0)
    valid = _sample_users(split.valid, args.valid_users)
    rows: list[dict] = []

    def trial(scorer: str, **kw: Any) -> float:
        t0 = time.perf_counter()
        m = _ncf(scorer, args.dataset, time_budget=args.tune_budget, **kw).fit(split.train)
        fit_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        r = gr.evaluate(m, valid, k=(20,))["recall@20"]
        row = {"scorer": scorer, **kw, "valid_recall@20": round(float(r), 4),
               "epochs": len(m.history_), "fit_s": round(fit_s, 1),
               "eval_s": round(time.perf_counter() - t1, 1), "uptime": _uptime()}
        rows.append(row)
        print("tune", json.dumps(row), flush=True)
        return float(r)

    chosen: dict[str, dict] = {}
    for scorer in ("gmf", "neumf"):
        scores = {lr: trial(scorer, lr=lr) for lr in args.lrs}
        best = max(scores, key=lambda lr: scores[lr])
        chosen[scorer] = {"lr": best}
        if scorer == "neumf" and trial("neumf", lr=best, pretrain=True) > scores[best]:
            chosen[scorer]["pretrain"] = True
    return chosen, rows


def fit_and_test(name: str, model: Any, ds: Any, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    model.fit(ds.train)
    fit_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "model")
        out = subprocess.run(
            [sys.executable, __file__, "--evaluate", str(Path(tmp) / "model"), "--dataset",
             args.dataset] + (["--root", args.root] if args.root else []),
            capture_output=True, text=True, check=True,
        )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(model=name, params={k: v for k, v in model.get_params().items()
                                   if k in ("lr", "pretrain", "scorer", "time_budget", "loss")},
               fit_s=round(fit_s, 1), epochs=len(model.history_), stopped=model.stopped_,
               uptime=_uptime())
    print("test", json.dumps(res), flush=True)
    return res


def evaluate_saved(path: str, dataset: str, root: str | None) -> dict:
    """Child process: load data and model, evaluate every test user, report time and peak RSS."""
    import graphrec as gr
    from graphrec.models.ncf import NCF
    from graphrec.persistence import read_state

    ds = gr.datasets.load(dataset, root=root)
    state = read_state(path)
    model = NCF._from_state(state) if state.class_name == "NCF" else gr.load(path)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    res = gr.evaluate(model, ds.test, k=(20,), per_user=True)
    eval_s = time.perf_counter() - t0
    per_user = res["per_user"]
    out: dict[str, Any] = {"eval_s": round(eval_s, 1), "n_users": len(per_user),
                           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                           "rss_before_eval_mb": round(rss_before)}
    for k in ("recall@20", "ndcg@20"):
        x = per_user[k].to_numpy()
        out[k] = round(float(x.mean()), 4)
        out[k + "_se"] = round(float(x.std(ddof=1) / np.sqrt(len(x))), 4)
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="lastfm", choices=sorted(SIZES))
    p.add_argument("--root", default=None)
    p.add_argument("--budget", type=float, default=60.0, help="fit seconds per model on test")
    p.add_argument("--tune-budget", type=float, default=20.0)
    p.add_argument("--lrs", type=float, nargs="+", default=[0.001, 0.003, 0.01])
    p.add_argument("--valid-users", type=int, default=0, help="validate on this many users (0: all)")
    p.add_argument("--models", nargs="+", default=["mf", "lightgcn", "gmf", "neumf"])
    p.add_argument("--chosen", default=None, help="JSON of NCF settings; skips tuning")
    p.add_argument("--out", default=None)
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.add_argument("--evaluate", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.evaluate:
        res = evaluate_saved(args.evaluate, args.dataset, args.root)
        print(json.dumps(res))
        return res

    import graphrec as gr
    from graphrec.models import get_model_class
    from graphrec.recipes import settings_for

    out = Path(args.out or HERE / "out" / f"ncf_{args.dataset}.json")
    if out.exists() and not args.force:
        p.error(f"{out} exists; pass --force to overwrite")
    record: dict[str, Any] = {"command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M"),
                              "uptime_start": _uptime(), "budget_s": args.budget}
    ds = gr.datasets.load(args.dataset, root=args.root)
    if args.chosen:
        chosen, rows = json.loads(args.chosen), list[dict]()
    else:
        chosen, rows = tune(ds, args)
    record.update(chosen=chosen, tuning=rows, results=[])
    for name in args.models:
        if name in ("gmf", "neumf"):
            model = _ncf(name, args.dataset, time_budget=args.budget, **chosen.get(name, {}))
        elif name == "mf-bce":  # the plain dot product under NCF's objective and GMF's chosen lr
            model = get_model_class("mf")(
                embedding_dim=64, loss="bce", n_negatives=4, batch_size=SIZES[args.dataset],
                epochs=1000, time_budget=args.budget, random_state=0, **chosen.get("gmf", {}),
            )
        else:
            params = {**settings_for(name, args.dataset), "time_budget": args.budget, "random_state": 0}
            model = get_model_class(name)(**params)
        record["results"].append(fit_and_test(name, model, ds, args))
    record["uptime_end"] = _uptime()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=1)
    os.replace(tmp, out)
    print(f"\n{args.dataset}, {args.budget:g} s fit budget per model, embedding size 64")
    print(f"{'model':10s} {'recall@20':>16s} {'ndcg@20':>16s} {'fit s':>6s} {'epochs':>6s} "
          f"{'eval s':>7s} {'peak MB':>8s}")
    for r in record["results"]:
        print(f"{r['model']:10s} {r['recall@20']:>8.4f} ± {r['recall@20_se']:.4f} "
              f"{r['ndcg@20']:>8.4f} ± {r['ndcg@20_se']:.4f} {r['fit_s']:>6.0f} {r['epochs']:>6d} "
              f"{r['eval_s']:>7.1f} {r['peak_rss_mb']:>8d}")
    print(f"wrote {out}")
    return record


if __name__ == "__main__":
    main()
