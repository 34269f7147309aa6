"""Accuracy against diversity: MMR and DPP re-ranking on MovieLens.

For each trade-off value, re-ranks the top-100 candidates down to 20 items per user
(item similarity: cosine of multi-hot genre vectors; leave ``similarity`` out to use the
model's item embeddings) and reports recall@20 and NDCG@20 (accuracy), intra-list genre
diversity and catalogue coverage. MMR's ``lambda_`` and DPP's ``theta`` are the relevance weights: 1 keeps the
plain ranking, lower values buy diversity with accuracy.

Run: python examples/diversity.py   (GRAPHREC_FAST=1 or --fast for a short training)
"""

import os
import sys

import numpy as np
import pandas as pd

import graphrec as gr
from graphrec.evaluation import evaluate_rankings
from graphrec.rerank import DPP, MMR

FAST = "--fast" in sys.argv or os.environ.get("GRAPHREC_FAST") == "1"

ds = gr.datasets.load("sample")
genres = ds.item_info["category"].to_numpy()  # one genre per film, for the diversity metric
multi_hot = ds.item_info["genres"].str.get_dummies("|").to_numpy(np.float32)  # all genres: the similarity
model = gr.LightGCN(embedding_dim=64, n_layers=3, time_budget=3 if FAST else 60, random_state=0)
model.fit(ds.train, ds.valid)

users = np.unique(ds.test.user_idx)
relevant = ds.test.to_csr()[users]
rows = []
settings = [("none", None, 1.0)]
settings += [("MMR", MMR(lambda_=v, similarity=multi_hot), v) for v in (0.9, 0.7, 0.5, 0.3)]
settings += [("DPP", DPP(theta=v, similarity=multi_hot), v) for v in (0.9, 0.7, 0.5, 0.3)]
for name, reranker, weight in settings:
    ranked, _ = model.recommend(users, k=20, rerank=reranker)
    m = evaluate_rankings(ranked, relevant, k=20, item_features=genres, n_items=ds.n_items)
    rows.append({"rerank": name, "relevance weight": weight, "recall@20": m["recall@20"],
                 "ndcg@20": m["ndcg@20"], "genre diversity@20": m["category_diversity@20"],
                 "coverage@20": m["coverage@20"]})
print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
