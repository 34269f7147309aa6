"""Item2Vec learning-rate check on lastfm, movielens-small and gowalla (scratch)."""
import json, os, sys, time, torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import graphrec as gr
torch.set_num_threads(2)
for dataset, runs in (("lastfm", [{"lr": 0.2}, {"lr": 0.2, "epochs": 40}]),
                      ("movielens-small", [{"lr": 0.2}, {"lr": 0.2, "epochs": 40}]),
                      ("gowalla", [{"lr": 0.2}])):
    ds = gr.datasets.load(dataset)
    for params in runs:
        params = {"random_state": 0, **params}
        t = time.perf_counter(); m = gr.Item2Vec(**params).fit(ds.train); fit_s = time.perf_counter() - t
        r = gr.evaluate(m, ds.test, k=(20,))
        print(json.dumps({"dataset": dataset, "model": "item2vec", "params": params, "fit_s": round(fit_s, 1),
              "recall@20": round(r["recall@20"], 4), "ndcg@20": round(r["ndcg@20"], 4),
              "load": round(os.getloadavg()[0], 1)}), flush=True)
