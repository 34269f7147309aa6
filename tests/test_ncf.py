"""NCF (GMF, MLP, NeuMF): training, the pair and grid scorers, pretrained NeuMF, checks, persistence."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone

import graphrec as gr
import graphrec.models.ncf as ncf_module
from graphrec.models.ncf import NCF
from graphrec.persistence import read_state
from graphrec.sampling import Batch
from graphrec.training import batch_objective

FAST = {"embedding_dim": 16, "hidden_sizes": (32, 16), "epochs": 20, "batch_size": 128, "lr": 0.03}


@pytest.fixture(scope="module")
def data():
    return gr.datasets.synthetic(n_users=60, n_items=40, n_communities=3, random_state=0)


@pytest.fixture(scope="module")
def towers(data):
    gmf = NCF(scorer="gmf", random_state=1, **FAST).fit(data.train)
    mlp = NCF(scorer="mlp", random_state=2, **FAST).fit(data.train)
    return gmf, mlp


@pytest.fixture(scope="module", params=["gmf", "mlp", "neumf"])
def fitted(request, data):
    return NCF(scorer=request.param, random_state=0, dropout=0.1, **FAST).fit(data.train)


def test_loss_decreases_and_beats_random(fitted, data):
    m = fitted
    assert m.loss_history_[-1] < 0.7 * m.loss_history_[0]
    assert gr.evaluate(m, data.test, k=10)["recall@10"] > 2 * 10 / data.train.n_items
    assert m.user_embeddings_.dtype == np.float32 and m.user_embeddings_.shape == (60, 16)


def test_grid_scores_equal_pair_scores(fitted, monkeypatch):
    """Full ranking (split first layer, item blocks; no dropout) equals the training pair scorer."""
    m = fitted
    users = np.arange(7)
    full = m.score(users)
    module = m._scoring_module()
    u = module.ego[torch.from_numpy(users)]
    i = module.ego[m.n_users_ :]
    pairs = module.score_pairs(u[:, None, :], i[None, :, :]).numpy()
    np.testing.assert_allclose(full, pairs, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(ncf_module, "_GRID_FLOATS", 50)  # many small item blocks
    np.testing.assert_allclose(m.score(users), full, rtol=1e-5, atol=1e-6)
    batches = [s.clone().numpy() for _, _, s in m._score_batches(users, None, 3)]
    np.testing.assert_allclose(np.vstack(batches), full, rtol=1e-5, atol=1e-6)


def test_dot_retrieval_uses_gmf_part(data):
    m = NCF(scorer="gmf", random_state=0, **FAST).fit(data.train)
    dot = m.user_embeddings_[:5] @ m.item_embeddings_.T
    np.testing.assert_allclose(m.score(np.arange(5), similarity="dot"), dot, rtol=1e-5, atol=1e-6)
    # GMF's own scorer is that dot product plus the output bias
    np.testing.assert_allclose(m.score(np.arange(5)), dot + m.output_bias_, rtol=1e-5, atol=1e-5)
    idx, _ = m.recommend(np.arange(5), k=5, similarity="cosine")
    assert idx.shape == (5, 5)


def test_neumf_starts_at_the_towers_mix(data, towers):
    gmf, mlp = towers
    users = np.arange(10)
    # one Adam step of 1e-9 leaves the pretrained initialisation as it was (to float precision)
    m = NCF(scorer="neumf", alpha=0.3, random_state=0, **{**FAST, "epochs": 1, "lr": 1e-9})
    m.fit(data.train, pretrained=(gmf, mlp))
    expected = 0.3 * gmf.score(users) + 0.7 * mlp.score(users)
    np.testing.assert_allclose(m.score(users), expected, rtol=1e-4, atol=1e-4)
    towers_recall = [gr.evaluate(t, data.test, k=10)["recall@10"] for t in towers]
    assert gr.evaluate(m, data.test, k=10)["recall@10"] >= min(towers_recall)


def test_pretrain_true_is_fitting_the_towers_first(data):
    params = {**FAST, "epochs": 3, "random_state": 4}
    auto = NCF(scorer="neumf", pretrain=True, **params).fit(data.train)
    gmf = NCF(scorer="gmf", **params).fit(data.train)
    mlp = NCF(scorer="mlp", **params).fit(data.train)
    manual = NCF(scorer="neumf", **params).fit(data.train, pretrained=(gmf, mlp))
    np.testing.assert_array_equal(auto.score(np.arange(5)), manual.score(np.arange(5)))


def test_bad_pretrained_towers(data, towers):
    gmf, mlp = towers
    with pytest.raises(ValueError, match="pretrained"):
        NCF(scorer="neumf", **FAST).fit(data.train, pretrained=(mlp, gmf))
    with pytest.raises(ValueError, match="pretrained"):
        NCF(scorer="neumf", **{**FAST, "embedding_dim": 8}).fit(data.train, pretrained=(gmf, mlp))
    with pytest.raises(ValueError, match="scorer"):
        NCF(scorer="gmf", **FAST).fit(data.train, pretrained=(gmf, mlp))


@pytest.mark.parametrize(
    "params, name",
    [
        ({"scorer": "deep"}, "scorer"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"hidden_sizes": (8, 0)}, "hidden_sizes"),
        ({"dropout": 1.0}, "dropout"),
        ({"alpha": 1.5}, "alpha"),
        ({"pretrain": True, "scorer": "gmf"}, "pretrain"),
        ({"init_std": -1.0}, "init_std"),
        ({"loss": "infonce"}, "loss"),
        ({"initial_loss": "infonce"}, "initial_loss"),
        ({"neg_pool": 64}, "neg_pool"),
        ({"average_fraction": 0.5}, "average_fraction"),
        ({"lr": -1.0}, "lr"),
        ({"n_negatives": 0}, "n_negatives"),
    ],
)
def test_bad_hyperparameters_name_the_parameter(params, name, data):
    with pytest.raises(ValueError, match=name):
        NCF(**params).fit(data.train)


def test_defaults_follow_the_paper():
    p = NCF().get_params()
    assert (p["loss"], p["n_negatives"], p["scorer"], p["init_std"]) == ("bce", 4, "neumf", 0.01)
    assert "time_budget" in p and "patience" in p  # every engine field is a hyperparameter


def test_same_seed_same_result_and_persistence(data, tmp_path):
    a = NCF(scorer="neumf", random_state=3, **FAST).fit(data.train)
    b = NCF(scorer="neumf", random_state=3, **FAST).fit(data.train)
    users = np.arange(8)
    np.testing.assert_array_equal(a.score(users), b.score(users))
    again = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(again.recommend(users, 5)[0], a.recommend(users, 5)[0])
    assert clone(a).get_params() == a.get_params()
    a.save(tmp_path / "m")
    loaded = NCF._from_state(read_state(tmp_path / "m"))  # gr.load once registered
    assert isinstance(loaded, NCF) and loaded.get_params() == a.get_params()
    np.testing.assert_allclose(loaded.score(users), a.score(users), rtol=1e-6)
    np.testing.assert_array_equal(loaded.tower_weights_, a.tower_weights_)


def test_recommend_contract(fitted, data):
    m = fitted
    users = np.arange(data.train.n_users)
    idx, scores = m.recommend(users, k=10)
    seen = data.train.to_csr()
    for u in users:
        assert not set(idx[u]) & set(seen.indices[seen.indptr[u] : seen.indptr[u + 1]])
        assert np.all(np.diff(scores[u]) <= 1e-6)
        _, s1 = m.recommend([u], k=10)
        np.testing.assert_allclose(s1[0], scores[u], rtol=1e-5, atol=1e-5)  # BLAS rounding


def test_validation_and_cold_start(data):
    split = gr.splits.validation_split(data.train, 0.2, random_state=0)
    m = NCF(scorer="neumf", random_state=0, eval_every=5, **FAST).fit(split.train, split.valid)
    assert m.best_epoch_ is not None and "metrics" in m.history_[-1]
    rows = sp.csr_array(np.eye(3, data.train.n_items, dtype=np.float32))
    assert m.fold_in(rows).shape == (3, 16)  # GMF-part vectors
    assert m.score_new_users(rows).shape == (3, data.train.n_items)


@pytest.mark.parametrize("loss", ["bpr", "bce"])
def test_engine_pair_scorer_hook_equals_dot_path(loss):
    """The engine's scorer hook with a dot-product scorer is the plain dot-product objective."""
    g = torch.Generator().manual_seed(0)
    scored = torch.randn(4 + 4 + 4 * 3, 5, generator=g)
    batch = Batch(torch.arange(4), torch.arange(4), torch.zeros(4, 3, dtype=torch.long))
    plain = batch_objective(scored, batch, loss=loss)
    hooked = batch_objective(scored, batch, loss=loss, scorer=lambda u, i: (u * i).sum(-1))
    torch.testing.assert_close(plain, hooked)
    with pytest.raises(ValueError, match="loss"):
        batch_objective(scored, batch, loss="infonce", scorer=lambda u, i: (u * i).sum(-1))
