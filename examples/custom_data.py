"""Your own data: a pandas DataFrame with string ids and 1-5 star ratings.

Builds a small music-listening table (two taste groups), turns ratings >= 3 into
implicit feedback, splits per user, trains, evaluates and recommends by name.

Run: python examples/custom_data.py   (GRAPHREC_FAST=1 or --fast for fewer epochs)
"""

import os
import sys

import numpy as np
import pandas as pd

import graphrec as gr

FAST = "--fast" in sys.argv or os.environ.get("GRAPHREC_FAST") == "1"

# --- a table like the one you would read with pd.read_csv("ratings.csv")
rng = np.random.default_rng(0)
songs = pd.DataFrame({
    "song_id": [f"song-{i:03d}" for i in range(60)],
    "title": [f"{'Rock' if i < 30 else 'Jazz'} tune #{i}" for i in range(60)],
})
rows = []
for u in range(200):
    taste = u % 2  # even users like rock (songs 0-29), odd users like jazz (30-59)
    liked = rng.choice(np.arange(30) + 30 * taste, size=12, replace=False)
    other = rng.choice(np.arange(30) + 30 * (1 - taste), size=3, replace=False)
    rows += [(f"user-{u}", songs.song_id[i], int(rng.integers(4, 6))) for i in liked]
    rows += [(f"user-{u}", songs.song_id[i], int(rng.integers(1, 3))) for i in other]
ratings = pd.DataFrame(rows, columns=["listener", "song_id", "stars"])

# --- graphrec: name the columns; ratings below 3 are dropped, the rest are implicit feedback
x = gr.Interactions.from_pandas(ratings, user="listener", item="song_id", rating="stars", min_rating=3)
split = gr.splits.random_holdout(x, test_size=0.2, random_state=0)
print(x, "->", split.train.nnz, "train /", split.test.nnz, "test")

# item_info: one row per internal item index (x.items maps your ids <-> indices)
item_info = songs.set_index("song_id").reindex(x.items.labels).reset_index()

model = gr.MF(embedding_dim=16, epochs=5 if FAST else 50, lr=0.05, random_state=0).fit(split.train)
print({k: round(v, 3) for k, v in gr.evaluate(model, split.test, k=10).items() if k.endswith("@10")})

recs = model.recommend_frame(["user-0", "user-1"], k=5, item_info=item_info)
print(recs)
rock_share = recs[recs.user == "user-0"].title.str.startswith("Rock").mean()
print(f"user-0 (a rock fan): {rock_share:.0%} rock in the top 5")
