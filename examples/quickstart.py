"""graphrec in ~20 lines: load, train LightGCN, evaluate, recommend (with titles), save.

Run: python examples/quickstart.py   (GRAPHREC_FAST=1 or --fast: a few seconds of training)
"""

import os
import sys

import graphrec as gr

FAST = "--fast" in sys.argv or os.environ.get("GRAPHREC_FAST") == "1"

ds = gr.datasets.load("sample")  # bundled MovieLens: each user's latest 20% of ratings are the test set
model = gr.LightGCN(embedding_dim=64, n_layers=3, time_budget=3 if FAST else 60, random_state=0)
model.fit(ds.train, ds.valid)

metrics = gr.evaluate(model, ds.test, k=(10, 20))  # full ranking, training items masked
print({name: round(value, 4) for name, value in metrics.items() if name.endswith("@20")})

print(model.recommend_frame([1, 2], k=5, item_info=ds.item_info))  # your own user ids in, titles out
genres = ds.item_info["genres"].str.get_dummies("|").to_numpy()  # multi-hot genres per film
mmr = gr.rerank.MMR(lambda_=0.5, similarity=genres)  # trade relevance for genre diversity
print(model.recommend_frame([1], k=5, item_info=ds.item_info, rerank=mmr))

new_user, _ = gr.coldstart.recommend_new_user(model, [1, 260, 1196], k=5, ids="raw")  # by movieId
print("a new user who liked Toy Story and two Star Wars films:", new_user.tolist())

model.save("quickstart-model", overwrite=True)  # replaces this script's own earlier model, nothing else
print(gr.load("quickstart-model").recommend_frame([1], k=3, item_info=ds.item_info))
