"""Contrastive LightGCN (XSimGCL / SimGCL on the shared engine) against the recorded recipe, equal wall-clock.

Both arms train the recorded Gowalla LightGCN recipe (``graphrec.recipes``: pool BPR with hard
negatives, cosine lr) under the same ``time_budget``, on train minus a 10% per-user validation
carve (seed 0); Recall/NDCG@20 on the carve are recorded after every epoch (the curve; nothing
is selected on it and the last state is kept), and test is read once, at the end. The
contrastive arm adds XSimGCL's published settings (Yu et al., TKDE 2023: lambda 0.2,
eps 0.2, tau 0.15, contrast layer 1 of 3) unless overridden.

Usage (run the arms at the same time, so both see the same machine)::

    python benchmarks/contrastive_gowalla.py --arm plain --budget 900 --json benchmarks/out/contrastive_plain.json
    python benchmarks/contrastive_gowalla.py --arm xsimgcl --budget 900 --json benchmarks/out/contrastive_xsimgcl.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import graphrec as gr
from graphrec.benchmark import curve_callback, write_json
from graphrec.recipes import settings_for

ARMS = {
    "plain": {},
    "xsimgcl": {"contrastive_weight": 0.2, "noise_eps": 0.2, "contrastive_temperature": 0.15, "contrast_layer": 1},
    "simgcl": {"contrastive_weight": 0.2, "noise_eps": 0.2, "contrastive_temperature": 0.15, "contrast_layer": None},
}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arm", choices=sorted(ARMS), default="xsimgcl")
    p.add_argument("--budget", type=float, default=900.0, help="time_budget in seconds (curve included)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    p.add_argument("--root", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    start = time.perf_counter()
    ds = gr.datasets.load("gowalla", root=args.root)
    carve = gr.splits.validation_split(ds.train, 0.1, random_state=0)
    params = settings_for("lightgcn", "gowalla") | ARMS[args.arm]
    params.update(time_budget=args.budget, random_state=args.seed)
    for item in args.set:
        key, _, value = item.partition("=")
        params[key] = None if value == "None" else json.loads(value)
    curve: list[dict] = []
    model = gr.LightGCN(**params)
    model.fit(carve.train, callbacks=[curve_callback(carve.valid, 1, start, curve)])
    test = gr.evaluate(model, ds.test, k=(20,), per_user=True)
    per_user = test.pop("per_user")
    se = {k: float(per_user[k].std(ddof=1) / len(per_user) ** 0.5) for k in ("recall@20", "ndcg@20")}
    out = {"arm": args.arm, "settings": {k: v for k, v in params.items()}, "curve": curve,
           "epochs": len(model.history_), "stopped": model.stopped_,
           "step_seconds": [h["seconds"] / max(1, h["steps"] - (model.history_[i - 1]["steps"] if i else 0))
                            for i, h in enumerate(model.history_)],
           "test": {"recall@20": test["recall@20"], "ndcg@20": test["ndcg@20"], "standard_error": se},
           "seconds": time.perf_counter() - start, "load_average": os.getloadavg()}
    print(json.dumps({k: v for k, v in out.items() if k not in ("curve", "step_seconds")}, default=str))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
