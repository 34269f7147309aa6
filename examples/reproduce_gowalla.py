"""Reproduce LightGCN on Gowalla with the paper's protocol (He et al., SIGIR 2020).

Protocol: the authors' train/test split (29,858 users, 40,981 items), 64-dim
embeddings, 3 layers, BPR loss with one negative per positive, Adam lr 0.001, batch
2048, L2 1e-4 on the layer-0 embeddings, layer mean; full ranking with training items
masked, recall@20 and NDCG@20 over all test users. The paper reports recall@20 0.1830
and NDCG@20 0.1554 after 1000 epochs (a GPU run: ``--device cuda``).

Needs the Gowalla files (train.txt, test.txt) under a data root: --root DIR,
$GRAPHREC_DATA or ../shared/data (see ``graphrec datasets``).

Run: python examples/reproduce_gowalla.py [--epochs 1000] [--device cuda] [--fast]
(--fast or GRAPHREC_FAST=1: a smoke test, 3 seconds of training on the first 2,000 users)
"""

import argparse
import os
import sys
import time

import numpy as np

import graphrec as gr
from graphrec.exceptions import DatasetNotFoundError

PAPER = {"recall@20": 0.1830, "ndcg@20": 0.1554}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--root", help="data root holding gowalla/ (default: $GRAPHREC_DATA, ../shared/data)")
parser.add_argument("--epochs", type=int, default=1000)
parser.add_argument("--time-budget", type=float, default=None, help="stop training after this many seconds")
parser.add_argument("--device", default="auto")
parser.add_argument("--seed", type=int, default=2020)
parser.add_argument("--fast", action="store_true", default=os.environ.get("GRAPHREC_FAST") == "1")
args = parser.parse_args()

try:
    ds = gr.datasets.load("gowalla", root=args.root)
except DatasetNotFoundError:
    sys.exit("Gowalla not found: put train.txt and test.txt in <root>/gowalla/ and pass --root <root> "
             "or set GRAPHREC_DATA=<root> (`graphrec datasets` shows where graphrec looks).")
print(ds)

model = gr.LightGCN(
    embedding_dim=64, n_layers=3, loss="bpr", n_negatives=1, lr=1e-3, batch_size=2048, reg=1e-4,
    epochs=args.epochs, time_budget=3.0 if args.fast else args.time_budget,
    random_state=args.seed, device=args.device, verbose=not args.fast,
)
train, test = ds.train, ds.test
if args.fast:  # smoke test: the first 2,000 users only (same index space)
    train = train.subset(np.flatnonzero(train.user_idx < 2000))
    test = test.subset(np.flatnonzero(test.user_idx < 2000))
start = time.perf_counter()
model.fit(train)
print(f"trained {len(model.loss_history_)} epochs in {time.perf_counter() - start:.0f} s")

metrics = gr.evaluate(model, test, k=20)
for name, paper in PAPER.items():
    print(f"{name}: {metrics[name]:.4f}   (paper: {paper:.4f})")
