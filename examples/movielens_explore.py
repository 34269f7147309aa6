"""Explore MovieLens with titles: a user's history, recommendations, why, and pictures.

Trains LightGCN on the bundled sample, then for one user prints the films they
rated, the top-10 recommendations with titles, the films that lead to each
recommendation through the graph ("because you watched ..."), the films most similar
to Toy Story, and writes a neighbourhood picture (PNG + interactive HTML) and an
embedding map coloured by genre to ./movielens-explore/.

Run: python examples/movielens_explore.py [--user 1] [--fast]   (or GRAPHREC_FAST=1)
"""

import argparse
import os
from pathlib import Path

import graphrec as gr
from graphrec import explain, viz

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--user", type=int, default=1, help="MovieLens user id")
parser.add_argument("--out", default="movielens-explore")
parser.add_argument("--fast", action="store_true", default=os.environ.get("GRAPHREC_FAST") == "1")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(exist_ok=True)

ds = gr.datasets.load("sample")
info = ds.item_info  # one row per internal item index: movieId, title, genres, category
model = gr.LightGCN(embedding_dim=64, n_layers=3, time_budget=3 if args.fast else 60, random_state=0)
model.fit(ds.train, ds.valid)

u = int(ds.train.users.to_index([args.user])[0])  # your id -> internal index (for the arrays)
history = ds.train.item_idx[ds.train.user_idx == u]
print(f"user {args.user} rated {len(history)} films in train, e.g.:")
print(info.loc[history[:8], ["title", "genres"]].to_string(index=False))

print("\nrecommended:")
print(model.recommend_frame([args.user], k=10, item_info=info).to_string(index=False))

print("\nwhy (the user's films that lead to each recommendation through the graph):")
why = explain.explain_recommendations(model, args.user, k=5, top=2, level="item", item_info=info, ids="raw")
print(why[["rec_rank", "item_label", "label", "share"]].to_string(index=False))

titles = info.set_index("movieId")["title"]
similar, scores = model.similar_items([1], k=5, ids="raw")  # movieId 1 is Toy Story
print("\nmost similar to Toy Story:", "; ".join(titles.loc[similar[0]]))

viz.save_figure(viz.neighborhood(model, user=args.user, k=10, item_info=info, ids="raw"), out / "neighborhood.png")
viz.neighborhood_html(model, user=args.user, k=10, item_info=info, path=out / "neighborhood.html", ids="raw")
viz.save_figure(viz.embedding_map(model, color="genre", item_info=info), out / "embeddings.png")
print(f"\npictures written to {out}/: neighborhood.png, neighborhood.html, embeddings.png")
