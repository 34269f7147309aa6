"""Cold start without retraining: a new user with three films, and a new film.

New user: ``graphrec.coldstart.recommend_new_user`` folds the user's few items into
the trained embedding space. New item: ``ContentItemMapper`` learns a map from content
(genres, title words) to item embeddings on the known films, and places a film no one
has rated yet; we list the users it would be recommended to.

Run: python examples/cold_start.py   (GRAPHREC_FAST=1 or --fast for a short training)
"""

import os
import sys

import numpy as np
import pandas as pd

import graphrec as gr
from graphrec.coldstart import ContentItemMapper, content_features, recommend_new_user

FAST = "--fast" in sys.argv or os.environ.get("GRAPHREC_FAST") == "1"

ds = gr.datasets.load("sample")
info = ds.item_info
model = gr.LightGCN(embedding_dim=64, n_layers=3, time_budget=3 if FAST else 60, random_state=0)
model.fit(ds.train, ds.valid)

# --- a new user who liked three animated films, given by their MovieLens ids (ids="raw")
liked = ["Toy Story (1995)", "Lion King, The (1994)", "Aladdin (1992)"]
movie_ids = info.loc[info["title"].isin(liked), "movieId"].to_numpy()
ids, scores = recommend_new_user(model, movie_ids, k=10, ids="raw")  # your ids in, your ids out
titles = info.set_index("movieId")["title"]
print("new user liked:", "; ".join(liked))
print(pd.DataFrame({"rank": np.arange(1, 11), "movieId": ids, "title": titles.loc[ids].to_numpy(), "score": scores}))

# --- a new film: learn content -> embedding on the known films, then place the new one
new_film = pd.DataFrame({"title": ["Toy Adventure in Space (2024)"], "genres": ["Adventure|Animation|Children"]})
features = content_features(pd.concat([info[["title", "genres"]], new_film], ignore_index=True))
known, new = features[: len(info)], features[len(info):]
mapper = ContentItemMapper(alpha=1.0).fit(known, model.item_embeddings_)
vector = mapper.transform(new)[0]

scores = model.user_embeddings_ @ vector  # how much each known user would like it
top_users = np.argsort(-scores)[:5]
print(f"\n{new_film.title[0]} would be shown first to users {model.users_.to_labels(top_users).tolist()}")
for u in top_users[:2]:
    seen = ds.train.item_idx[ds.train.user_idx == u]
    genres = info.loc[seen, "category"].value_counts().head(3)
    print(f"  user {model.users_.to_labels([u])[0]} mostly rated: {', '.join(genres.index)}")
