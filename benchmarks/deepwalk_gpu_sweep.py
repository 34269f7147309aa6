"""DeepWalk / Item2Vec / GraphFilter sweep on one GPU (scratch): each config fit + evaluate on Gowalla.

GRAPHREC_DATA=out/data_dw python benchmarks/deepwalk_gpu_sweep.py [budget_s]
"""
import json, os, sys, time
import torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import graphrec as gr

budget = float(sys.argv[1]) if len(sys.argv) > 1 else 400
start = time.perf_counter()
ds = gr.datasets.load("gowalla")
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "", flush=True)
configs = [
    ("graphfilter", {}),
    ("deepwalk", {}),
    ("deepwalk", {"epochs": 5}),
    ("deepwalk", {"epochs": 5, "lr": 0.1}),
    ("deepwalk", {"epochs": 5, "lr": 0.2}),
    ("deepwalk", {"epochs": 5, "neg_share": 1}),
    ("deepwalk", {"epochs": 5, "neg_exponent": 0.75}),
    ("deepwalk", {"epochs": 5, "window": 5, "walk_length": 40}),
    ("deepwalk", {"epochs": 5, "embedding_dim": 128}),
    ("deepwalk", {"epochs": 5, "item_vectors": "node"}),
    ("item2vec", {"epochs": 5}),
    ("item2vec", {"epochs": 20, "lr": 0.1}),
    ("deepwalk", {"epochs": 10, "lr": 0.1, "window": 5, "walk_length": 40}),
    ("deepwalk", {"epochs": 5, "batch_size": 16384, "lr": 0.2}),
]
for name, params in configs:
    if time.perf_counter() - start > budget:
        print("budget reached; skipped", name, params, flush=True)
        continue
    params = {"random_state": 0, **params}
    m = gr.models.get_model_class(name)(**params)
    t = time.perf_counter()
    m.fit(ds.train)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - t
    r = gr.evaluate(m, ds.test, k=(20,))
    print(json.dumps({"model": name, "params": params, "fit_s": round(fit_s, 1), "eval_s": round(r["seconds"], 1),
                      "recall@20": round(r["recall@20"], 4), "ndcg@20": round(r["ndcg@20"], 4),
                      "loss": [round(x, 3) for x in getattr(m, "loss_history_", [])]}), flush=True)
