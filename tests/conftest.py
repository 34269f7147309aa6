"""Shared fixtures: tiny graphs with known answers, and the real-data root."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import graphrec as gr

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path | None:
    """The real-data root (GRAPHREC_DATA, then ../shared/data), or None."""
    for cand in (os.environ.get("GRAPHREC_DATA"), REPO.parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


@pytest.fixture
def data_root() -> Path:
    root = shared_data_root()
    if root is None:
        pytest.skip("real datasets not found: set GRAPHREC_DATA or place them in ../shared/data")
    return root


@pytest.fixture
def tiny() -> gr.Interactions:
    """2 users x 2 items: user 0 - items 0, 1; user 1 - item 1."""
    return gr.Interactions.from_arrays([0, 0, 1], [0, 1, 1], n_users=2, n_items=2)


@pytest.fixture
def checkerboard() -> tuple[gr.Interactions, gr.Interactions]:
    """Two communities of 4 users x 4 items; each user holds out one own-community item.

    Users 0-3 like items 0-3, users 4-7 like items 4-7. User u misses item
    (u + 1) % 4 of its community in train; that item is its test item and must
    rank first among unseen items.
    """
    users, items, tu, ti = [], [], [], []
    for u in range(8):
        base = 0 if u < 4 else 4
        held = base + (u + 1) % 4
        for i in range(base, base + 4):
            (tu if i == held else users).append(u)
            (ti if i == held else items).append(i)
    train = gr.Interactions.from_arrays(users, items, n_users=8, n_items=8)
    test = gr.Interactions.from_arrays(tu, ti, n_users=8, n_items=8)
    return train, test


class FixedEmbeddings(gr.EmbeddingRecommender):
    """A test model whose embeddings are given: scores are U @ V.T."""

    def __init__(self, *, user_vectors=None, item_vectors=None, similarity: str = "dot") -> None:
        self.user_vectors = user_vectors
        self.item_vectors = item_vectors
        self.similarity = similarity

    def _fit(self, train, valid):
        self.user_embeddings_ = np.asarray(self.user_vectors, np.float32)
        self.item_embeddings_ = np.asarray(self.item_vectors, np.float32)


class RandomEmbeddings(gr.EmbeddingRecommender):
    """Seeded random embeddings (a stand-in for trained encoders)."""

    def __init__(self, *, embedding_dim: int = 8, similarity: str = "dot", random_state: int = 0) -> None:
        self.embedding_dim = embedding_dim
        self.similarity = similarity
        self.random_state = random_state

    def _fit(self, train, valid):
        rng = np.random.default_rng(self.random_state)
        self.user_embeddings_ = rng.normal(size=(train.n_users, self.embedding_dim)).astype(np.float32)
        self.item_embeddings_ = rng.normal(size=(train.n_items, self.embedding_dim)).astype(np.float32)
