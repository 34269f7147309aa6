"""Choose LightGCN / MF settings on lastfm and movielens-small by validation Recall@20.

Usage: python benchmarks/lightgcn_small.py --json out.json [--datasets lastfm movielens-small]

Validation: movielens-small's own valid split; lastfm: 10% of each user's train
items carved out. The chosen config is refitted on the full train split and
scored on test (reported, not used for selection).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

from jobs import write_json

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")

BASE = {"embedding_dim": 64, "batch_size": 2048, "epochs": 60, "lr": 1e-2, "lr_decay": "cosine"}
CONFIGS = {
    "lightgcn": {
        "bpr": {"n_layers": 3},
        "hard": {"n_layers": 3, "neg_pool": 1024, "hard_negatives": 32, "hard_fraction": 0.15},
        "pool": {"n_layers": 3, "neg_pool": 1024},
    },
    "mf": {
        "bpr": {},
        "mix": {"neg_pool": 1024, "initial_loss": "infonce", "initial_fraction": 0.2},
        "hard": {"neg_pool": 1024, "hard_negatives": 32, "hard_fraction": 0.15},
    },
}


def main(argv=None):
    import graphrec as gr

    p = argparse.ArgumentParser()
    p.add_argument("--datasets", nargs="+", default=["lastfm", "movielens-small"])
    p.add_argument("--models", nargs="+", default=["lightgcn", "mf"])
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    out = {}
    for name in args.datasets:
        ds = gr.datasets.load(name)
        if ds.valid is not None:
            train, valid = ds.train, ds.valid
        else:
            sp = gr.splits.validation_split(ds.train, 0.1, random_state=0)
            train, valid = sp.train, sp.valid
        for model in args.models:
            cls = gr.LightGCN if model == "lightgcn" else gr.MF
            scores = {}
            for cname, cfg in CONFIGS[model].items():
                t = time.perf_counter()
                m = cls(**BASE, **cfg, random_state=0, device="cpu").fit(train)
                r = gr.evaluate(m, valid, k=(20,))
                scores[cname] = {
                    "valid_recall@20": round(r["recall@20"], 4),
                    "valid_ndcg@20": round(r["ndcg@20"], 4),
                    "seconds": round(time.perf_counter() - t, 1),
                }
                print(name, model, cname, scores[cname], flush=True)
            best = max(scores, key=lambda c: scores[c]["valid_recall@20"])
            t = time.perf_counter()
            m = cls(**BASE, **CONFIGS[model][best], random_state=0, device="cpu").fit(ds.train)
            r = gr.evaluate(m, ds.test, k=(20,))
            res = {
                "chosen": best,
                "params": {**BASE, **CONFIGS[model][best]},
                "valid": scores,
                "test_recall@20": round(r["recall@20"], 4),
                "test_ndcg@20": round(r["ndcg@20"], 4),
                "fit_seconds": round(time.perf_counter() - t, 1),
            }
            print(name, model, json.dumps(res), flush=True)
            out[f"{name}/{model}"] = res
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
