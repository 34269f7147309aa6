"""Small sweep of DeepWalk / Item2Vec / GraphFilter settings on lastfm and movielens-small (scratch).

python benchmarks/deepwalk_small_sweep.py DATASET
Each line: model, params, fit seconds, Recall@20, NDCG@20 (full ranking, train items masked).
"""
import json, os, sys, time
import torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import graphrec as gr

torch.set_num_threads(2)
dataset = sys.argv[1]
ds = gr.datasets.load(dataset)
n_min = min(ds.train.n_users, ds.train.n_items)
configs = [
    ("graphfilter", {}), ("graphfilter", {"n_components": 64}), ("graphfilter", {"n_components": 128}),
    ("graphfilter", {"n_components": 64, "alpha": 1.0}),
    ("deepwalk", {"epochs": 5}), ("deepwalk", {"epochs": 10}), ("deepwalk", {"epochs": 10, "lr": 0.1}),
    ("deepwalk", {"epochs": 10, "batch_size": 1024}),
    ("item2vec", {"epochs": 10}), ("item2vec", {"epochs": 20, "lr": 0.1}),
]
for name, params in configs:
    if params.get("n_components", 256) >= n_min:
        continue
    params = {"random_state": 0, **params}
    t = time.perf_counter()
    m = gr.models.get_model_class(name)(**params).fit(ds.train)
    fit_s = time.perf_counter() - t
    r = gr.evaluate(m, ds.test, k=(20,))
    print(json.dumps({"dataset": dataset, "model": name, "params": params, "fit_s": round(fit_s, 1),
                      "eval_s": round(r["seconds"], 1), "recall@20": round(r["recall@20"], 4),
                      "ndcg@20": round(r["ndcg@20"], 4), "load": round(os.getloadavg()[0], 1)}), flush=True)
