"""MF: the shared engine without propagation."""

from __future__ import annotations

import numpy as np
import pytest

import graphrec as gr


def test_mf_beats_popularity_on_planted_communities():
    ds = gr.datasets.synthetic(random_state=0)
    m = gr.MF(embedding_dim=16, epochs=25, batch_size=256, random_state=0, device="cpu").fit(
        ds.train
    )
    ours = gr.evaluate(m, ds.test, k=(20,))["recall@20"]
    base = gr.evaluate(gr.Popularity().fit(ds.train), ds.test, k=(20,))["recall@20"]
    assert ours > base + 0.3, (ours, base)


def test_mf_is_registered_seeded_and_validates(tiny, tmp_path):
    kw = {"embedding_dim": 4, "epochs": 2, "batch_size": 2, "device": "cpu"}
    a = gr.MF(**kw, random_state=0).fit(tiny)
    b = gr.MF(**kw, random_state=0).fit(tiny)
    np.testing.assert_array_equal(a.user_embeddings_, b.user_embeddings_)
    assert "MF" in gr.MODELS
    a.save(tmp_path / "mf")
    np.testing.assert_array_equal(gr.load(tmp_path / "mf").item_embeddings_, a.item_embeddings_)
    with pytest.raises(ValueError, match="embedding_dim"):
        gr.MF(embedding_dim=-1).fit(tiny)
    with pytest.raises(ValueError, match="initial_loss"):
        gr.MF(initial_loss="mse").fit(tiny)
