"""Readers for the on-disk formats of the named datasets (used by :mod:`graphrec.data.datasets`).

Each ``read_*`` takes the dataset's folder and returns :class:`Parts`
(train, test, valid, item_info); ``datasets.load`` wraps them in a ``Dataset``.
"""

from __future__ import annotations

import io
import lzma
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from graphrec.data.interactions import Interactions, read_lightgcn_pairs
from graphrec.data.splits import leave_last_out, validation_split

__all__ = [
    "BUNDLED",
    "Parts",
    "movielens_parts",
    "read_bundled_sample",
    "read_lastfm",
    "read_lightgcn",
    "read_movielens",
    "read_sample",
]

BUNDLED = Path(__file__).resolve().parent / "bundled"


class Parts(NamedTuple):
    """What a reader returns: the split and optional per-item table."""

    train: Interactions
    test: Interactions
    valid: Interactions | None = None
    item_info: pd.DataFrame | None = None


def read_lightgcn(folder: Path) -> Parts:
    """LightGCN ``train.txt``/``test.txt``: ids used as indices; index space = max id over both + 1."""
    tr_u, tr_i = read_lightgcn_pairs(folder / "train.txt")
    te_u, te_i = read_lightgcn_pairs(folder / "test.txt")
    n_users = int(max(tr_u.max(), te_u.max())) + 1
    n_items = int(max(tr_i.max(), te_i.max())) + 1
    train = Interactions.from_arrays(tr_u, tr_i, n_users=n_users, n_items=n_items)
    test = Interactions.from_arrays(te_u, te_i, n_users=n_users, n_items=n_items)
    return Parts(train, test)


def _lastfm_table(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", header=None, names=["user", "item", "weight"])
    for col in ("user", "item"):
        if df[col].dtype.kind not in "iu":
            raise ValueError(f"{path}: column {col} holds non-integer ids")
    if df["weight"].dtype.kind not in "iuf":
        raise ValueError(f"{path}: the weight column is not numeric")
    return df


def read_lastfm(folder: Path) -> Parts:
    """Last.fm (HetRec 2011, LightGCN's split): 1-based ``user artist weight`` rows.

    Ids are shifted to 0-based and used as indices (index space = max id over both
    files). Implicit feedback: the listening weights are dropped, as in LightGCN's
    PyTorch port; every (user, artist) pair counts once.
    """
    tr = _lastfm_table(folder / "data1.txt")
    te = _lastfm_table(folder / "test1.txt")
    if min(tr["user"].min(), te["user"].min(), tr["item"].min(), te["item"].min()) < 1:
        raise ValueError(f"{folder}: lastfm ids must be 1-based")
    n_users = int(max(tr["user"].max(), te["user"].max()))
    n_items = int(max(tr["item"].max(), te["item"].max()))

    def build(df: pd.DataFrame) -> Interactions:
        u = df["user"].to_numpy(np.int64) - 1
        i = df["item"].to_numpy(np.int64) - 1
        return Interactions.from_arrays(u, i, n_users=n_users, n_items=n_items)

    return Parts(build(tr), build(te))


def movielens_parts(ratings: pd.DataFrame, movies: pd.DataFrame) -> Parts:
    """MovieLens tables -> temporal per-user split; movies -> ``item_info``.

    Ratings (0.5-5) are kept as weights and timestamps as Unix seconds; rows are put
    in canonical (user, item) order first, so the split does not depend on file order.
    Split: each user's latest 20% of ratings (by time) are the test set; the latest
    10% of each user's remaining ratings are the validation set
    (``leave_last_out(x, n=0.2)``, then ``validation_split(..., 0.1, method="last")``).
    ``item_info`` is indexed by internal item index with ``movieId``, ``title``,
    ``genres`` (``"A|B"``) and ``category`` (the first listed genre).
    """
    x = Interactions.from_pandas(ratings, "userId", "movieId", rating="rating", timestamp="timestamp")
    order = np.lexsort((x.item_idx, x.user_idx))
    if not np.array_equal(order, np.arange(x.nnz)):
        x = x.subset(order)
    split = validation_split(leave_last_out(x, n=0.2), 0.1, method="last")
    info = movies.drop_duplicates("movieId").set_index("movieId").reindex(x.items.labels)
    info = info.reset_index().rename_axis("item")
    info["category"] = info["genres"].str.split("|").str[0]
    return Parts(split.train, split.test, split.valid, info)


def read_movielens(folder: Path) -> Parts:
    """``ratings.csv`` and ``movies.csv`` of a MovieLens folder; see :func:`movielens_parts`."""
    return movielens_parts(pd.read_csv(folder / "ratings.csv"), pd.read_csv(folder / "movies.csv"))


def read_bundled_sample(folder: Path = BUNDLED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bundled MovieLens latest-small tables ``(ratings, movies)``, as in the CSVs.

    See ``tools/build_sample.py`` for the storage format.
    """
    with np.load(io.BytesIO(lzma.decompress((folder / "ratings.npz.xz").read_bytes()))) as z:
        ratings = pd.DataFrame(
            {
                "userId": z["userId"].astype(np.int64),
                "movieId": z["movieId"].astype(np.int64),
                "rating": z["rating2"].astype(np.float64) / 2,
                "timestamp": z["timestamp"].astype(np.int64),
            }
        )
    movies = pd.read_csv(io.BytesIO(lzma.decompress((folder / "movies.csv.xz").read_bytes())))
    return ratings, movies


def read_sample(folder: Path = BUNDLED) -> Parts:
    """The bundled sample, processed exactly as ``movielens-small``."""
    return movielens_parts(*read_bundled_sample(folder))
