"""Library-level benchmark of DeepWalk / Item2Vec / GraphFilter on a named dataset.

python benchmarks/deepwalk_bench.py MODEL DATASET [key=value ...]
e.g. python benchmarks/deepwalk_bench.py deepwalk gowalla epochs=3 verbose=True
Prints fit seconds, evaluate() seconds and metrics, walks/s and skip-gram pairs/s
(DeepWalk), peak RSS, and the load average.
"""
import ast
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import graphrec as gr
from graphrec.graph import bipartite_adjacency
from graphrec.walks import random_walks, walk_starts

name, dataset, *rest = sys.argv[1:]
params = {}
for kv in rest:
    k, v = kv.split("=", 1)
    try:
        params[k] = ast.literal_eval(v)
    except (ValueError, SyntaxError):
        params[k] = v
torch.set_num_threads(2)
ds = gr.datasets.load(dataset)
cls = gr.models.get_model_class(name)
model = cls(**params)
load0 = os.getloadavg()
t0 = time.perf_counter()
model.fit(ds.train)
fit_s = time.perf_counter() - t0
res = gr.evaluate(model, ds.test, k=(20,))
out = {"model": name, "dataset": dataset, "params": params, "fit_s": round(fit_s, 1),
       "eval_s": round(res["seconds"], 1), "total_s": round(fit_s + res["seconds"], 1),
       "recall@20": round(res["recall@20"], 4), "ndcg@20": round(res["ndcg@20"], 4),
       "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
       "load_before": [round(x, 1) for x in load0], "load_after": [round(x, 1) for x in os.getloadavg()],
       "loss_history": [round(x, 3) for x in getattr(model, "loss_history_", [])]}
if isinstance(model, gr.DeepWalk):
    adj = bipartite_adjacency(ds.train)
    rng = np.random.default_rng(0)
    starts = walk_starts(adj, model.walks_per_node, rng=rng)
    t = time.perf_counter()
    random_walks(adj, starts, model.walk_length, p=model.p, q=model.q, rng=rng)
    walk_s = time.perf_counter() - t
    w = min(model.window, model.walk_length - 1)
    pairs = len(starts) * 2 * sum(model.walk_length - d for d in range(1, w + 1)) * model.epochs
    out.update(walks_per_s=int(len(starts) / walk_s), pairs=pairs,
               pairs_per_s_fit=int(pairs / fit_s))
print(json.dumps(out), flush=True)
