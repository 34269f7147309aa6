"""Do the re-ranking defaults visibly diversify? (issue 16)

Trains README quickstart's LightGCN on the bundled sample (or loads it from ``--model``),
then re-ranks every user's top 10 with MMR / DPP at several relevance weights and
similarities, and prints Recall@10 on the chosen split, genre diversity@10 (share of
pairs in different first genres), raw-embedding diversity@10 and how many top-5 lists
changed. Relevance weights are chosen on ``--split valid`` (the sample's validation
split); ``--split test`` reads the test split once for the chosen defaults.

Usage::

    python benchmarks/rerank_defaults.py --split valid --model DIR
    python benchmarks/rerank_defaults.py --split test --model DIR --settings 'MMR()' 'DPP()'
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import graphrec as gr
from graphrec.evaluation import evaluate_rankings
from graphrec.metrics import intra_list_diversity
from graphrec.rerank import DPP, MMR

GRID = [f"MMR(lambda_={v})" for v in (0.5, 0.6, 0.7, 0.8, 0.9)]
GRID += [f"DPP(theta={v})" for v in (0.5, 0.6, 0.7, 0.8, 0.9)]
GRID += ['MMR(lambda_=0.5, similarity="embedding")', 'DPP(theta=0.5, similarity="embedding")']


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("valid", "test"), default="valid")
    ap.add_argument("--model", type=Path, help="a saved quickstart model (trained and saved here when absent)")
    ap.add_argument("--settings", nargs="*", default=GRID, help="re-rankers, as Python expressions")
    args = ap.parse_args(argv)
    ds = gr.datasets.load("sample")
    if args.model is not None and args.model.is_dir():
        model = gr.load(args.model)
    else:
        model = gr.LightGCN(embedding_dim=64, n_layers=3, time_budget=60, random_state=0).fit(ds.train, ds.valid)
        if args.model is not None:
            model.save(args.model)
    split = ds.valid if args.split == "valid" else ds.test
    users = np.unique(split.user_idx)
    relevant = split.to_csr()[users]
    genres = ds.item_info["category"].to_numpy()
    emb = model.item_embeddings_
    plain, _ = model.recommend(users, k=10)
    base = evaluate_rankings(plain, relevant, k=10)["recall@10"]
    print(f"{args.split} split, {len(users)} users, load {os.getloadavg()[0]:.1f}")
    print("| re-ranker | Recall@10 | genre diversity@10 | raw-embedding diversity@10 | top-5 lists changed |")
    print("|---|---:|---:|---:|---:|")
    print(f"| none | {base:.4f} | {np.nanmean(intra_list_diversity(plain, genres)):.3f} | "
          f"{np.nanmean(intra_list_diversity(plain, emb)):.3f} | |")
    for spec in args.settings:
        rerank = eval(spec, {"MMR": MMR, "DPP": DPP})
        idx, _ = model.recommend(users, k=10, rerank=rerank)
        recall = evaluate_rankings(idx, relevant, k=10)["recall@10"]
        changed = (np.sort(idx[:, :5], 1) != np.sort(plain[:, :5], 1)).any(1).mean()
        print(f"| `{spec}` | {recall:.4f} | {np.nanmean(intra_list_diversity(idx, genres)):.3f} | "
              f"{np.nanmean(intra_list_diversity(idx, emb)):.3f} | {changed:.0%} |")


if __name__ == "__main__":
    main()
