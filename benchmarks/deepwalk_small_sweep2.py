import json, os, sys, time, torch
sys.path.insert(0, "/work/main")
import graphrec as gr
torch.set_num_threads(2)
for dataset in ("lastfm", "movielens-small"):
    ds = gr.datasets.load(dataset)
    for name, params in [("deepwalk", {"epochs": 2}), ("deepwalk", {"epochs": 3}), ("deepwalk", {"epochs": 3, "window": 5}),
                         ("item2vec", {"epochs": 20, "lr": 0.1, "window": 10}), ("item2vec", {"epochs": 40, "lr": 0.1})]:
        params = {"random_state": 0, **params}
        t = time.perf_counter(); m = gr.models.get_model_class(name)(**params).fit(ds.train); fit_s = time.perf_counter() - t
        r = gr.evaluate(m, ds.test, k=(20,))
        print(json.dumps({"dataset": dataset, "model": name, "params": params, "fit_s": round(fit_s, 1),
              "recall@20": round(r["recall@20"], 4), "ndcg@20": round(r["ndcg@20"], 4), "load": round(os.getloadavg()[0], 1)}), flush=True)
