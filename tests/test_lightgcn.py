"""LightGCN: hand-worked propagation, accuracy on planted communities, determinism, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import graphrec as gr
from graphrec.exceptions import TrainingError
from graphrec.graph import normalized_adjacency, to_torch_csr
from graphrec.models.lightgcn import LightGCN, propagate

FAST = {"embedding_dim": 8, "epochs": 3, "batch_size": 4, "random_state": 0, "device": "cpu"}


def test_two_by_two_normalised_adjacency_and_one_layer_by_hand(tiny):
    # user 0 - items 0, 1; user 1 - item 1. Degrees: u0 2, u1 1, i0 1, i1 2.
    a = normalized_adjacency(tiny).toarray()
    s2 = 1 / math.sqrt(2)
    want = np.array(
        [
            [0, 0, s2, 0.5],  # u0: i0 = 1/sqrt(2*1), i1 = 1/sqrt(2*2)
            [0, 0, 0, s2],  # u1: i1 = 1/sqrt(1*2)
            [s2, 0, 0, 0],
            [0.5, s2, 0, 0],
        ]
    )
    np.testing.assert_allclose(a, want, atol=1e-6)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])  # u0, u1, i0, i1
    one_layer = propagate(x, to_torch_csr(normalized_adjacency(tiny)), (0.0, 1.0))
    by_hand = torch.tensor(
        [
            [s2 * 1 + 0.5 * 2, s2 * 1],  # u0 = s2*i0 + 0.5*i1
            [s2 * 2, 0.0],  # u1 = s2*i1
            [s2 * 1, 0.0],  # i0 = s2*u0
            [0.5 * 1, s2 * 1],  # i1 = 0.5*u0 + s2*u1
        ]
    )
    torch.testing.assert_close(one_layer, by_hand)
    mean = propagate(x, to_torch_csr(normalized_adjacency(tiny)), (0.5, 0.5))
    torch.testing.assert_close(mean, 0.5 * (x + by_hand))


def test_custom_backward_matches_dense_autograd(tiny):
    a = normalized_adjacency(tiny)
    dense = torch.tensor(a.toarray(), dtype=torch.float64)
    sparse = torch.sparse_csr_tensor(
        torch.tensor(a.indptr, dtype=torch.int64),
        torch.tensor(a.indices, dtype=torch.int64),
        torch.tensor(a.data, dtype=torch.float64),
        size=a.shape,
    )
    w = (0.25, 0.25, 0.25, 0.25)
    x = torch.randn(
        4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True
    )
    g = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (propagate(x, sparse, w) * g).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    ref = sum(wk * torch.linalg.matrix_power(dense, k) @ x for k, wk in enumerate(w))
    (ref * g).sum().backward()
    torch.testing.assert_close(ours, x.grad)


def _float64_csr(a) -> torch.Tensor:
    return torch.sparse_csr_tensor(
        torch.tensor(a.indptr, dtype=torch.int64),
        torch.tensor(a.indices, dtype=torch.int64),
        torch.tensor(a.data, dtype=torch.float64),
        size=a.shape,
    )


def test_row_output_and_penalty_match_dense_autograd():
    """forward(rows, reg_weights): rows of the propagation plus the weighted L2, and its fused
    backward, against a dense float64 reference. 37 columns exercise the CPU column blocks
    (two full blocks of 16 and a remainder); rows repeat, as users and items do in a batch."""
    from graphrec.models.lightgcn import PropagationModule

    x = gr.datasets.synthetic(n_users=30, n_items=20, random_state=0).train
    a = normalized_adjacency(x)
    dense = torch.tensor(a.toarray(), dtype=torch.float64)
    w = (0.4, 0.3, 0.2, 0.1)
    mod = PropagationModule(
        x.n_users, x.n_items, 37, _float64_csr(a), w, init_std=0.1,
        generator=torch.Generator().manual_seed(0), device=torch.device("cpu"),
    )
    with torch.no_grad():
        mod.ego.data = mod.ego.data.double()
    gen = torch.Generator().manual_seed(1)
    rows = torch.randint(0, x.n_users + x.n_items, (60,), generator=gen)
    rows[:5] = rows[5]  # repeats
    reg_w = torch.rand(60, dtype=torch.float64, generator=gen)
    g = torch.randn(60, 37, dtype=torch.float64, generator=gen)

    out, penalty = mod(rows, reg_w)
    (3.0 * penalty + (out * g).sum()).backward()
    ours = mod.ego.grad.clone()

    ego = mod.ego.detach().clone().requires_grad_(True)
    full = sum(wk * torch.linalg.matrix_power(dense, k) @ ego for k, wk in enumerate(w))
    ref_pen = (ego[rows].square().sum(1) * reg_w).sum()
    torch.testing.assert_close(out, full[rows])
    torch.testing.assert_close(penalty, ref_pen)
    torch.testing.assert_close(mod().detach(), full.detach())
    (3.0 * ref_pen + (full[rows] * g).sum()).backward()
    torch.testing.assert_close(ours, ego.grad)


def test_beats_popularity_on_planted_communities():
    ds = gr.datasets.synthetic(random_state=0)
    m = LightGCN(embedding_dim=16, epochs=25, batch_size=256, random_state=0, device="cpu").fit(
        ds.train
    )
    pop = gr.Popularity().fit(ds.train)
    ours = gr.evaluate(m, ds.test, k=(20,))["recall@20"]
    base = gr.evaluate(pop, ds.test, k=(20,))["recall@20"]
    assert ours > base + 0.3, (ours, base)


def test_fitted_state_shapes_and_history(tiny):
    m = LightGCN(**FAST).fit(tiny)
    assert m.user_embeddings_.shape == (2, 8) and m.user_embeddings_.dtype == np.float32
    assert m.item_embeddings_.shape == (2, 8) and m.item_embeddings_.dtype == np.float32
    assert [h["epoch"] for h in m.history_] == [1, 2, 3]
    assert set(m.history_[0]) >= {"epoch", "loss", "seconds"}
    assert m.loss_history_ == [h["loss"] for h in m.history_]


def test_same_seed_same_embeddings_other_seed_differs():
    ds = gr.datasets.synthetic(n_users=30, n_items=20, random_state=1)
    kw = {"embedding_dim": 8, "epochs": 2, "batch_size": 32, "neg_pool": 16, "device": "cpu"}
    a = LightGCN(**kw, random_state=3).fit(ds.train).user_embeddings_
    b = LightGCN(**kw, random_state=3).fit(ds.train).user_embeddings_
    c = LightGCN(**kw, random_state=4).fit(ds.train).user_embeddings_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_scoring_follows_the_loss(tiny):
    dot = LightGCN(**FAST).fit(tiny)
    cos = LightGCN(**FAST, loss="infonce").fit(tiny)
    assert dot._default_similarity() == "dot"
    assert cos._default_similarity() == "cosine"
    s = cos.score([0, 1])
    assert np.all(np.abs(s) <= 1 + 1e-6)
    assert LightGCN(**FAST, loss="infonce", similarity="dot")._default_similarity() == "dot"


@pytest.mark.parametrize("loss", ["bpr", "bce", "infonce"])
def test_every_loss_trains(loss, checkerboard):
    train, _ = checkerboard
    m = LightGCN(
        embedding_dim=8, epochs=30, batch_size=8, lr=0.05, loss=loss, random_state=0, device="cpu"
    )
    m.fit(train)
    assert m.loss_history_[-1] < m.loss_history_[0]


def test_hard_negative_pool_recipe_runs(checkerboard):
    train, test = checkerboard
    m = LightGCN(
        embedding_dim=8,
        epochs=20,
        batch_size=8,
        neg_pool=6,
        hard_negatives=2,
        hard_fraction=0.5,
        lr_decay="cosine",
        random_state=0,
        device="cpu",
    ).fit(train)
    assert gr.evaluate(m, test, k=(1,))["recall@1"] >= 0.5


def test_nan_loss_raises_training_error_naming_lr(tiny):
    with pytest.raises(TrainingError, match="lr"):
        LightGCN(**{**FAST, "epochs": 20}, lr=1e30).fit(tiny)


@pytest.mark.parametrize(
    "param, value",
    [
        ("embedding_dim", 0),
        ("n_layers", -1),
        ("layer_weights", [1.0, 2.0]),
        ("loss", "hinge"),
        ("lr", -1.0),
        ("lr", float("nan")),
        ("batch_size", 0),
        ("epochs", 0),
        ("temperature", 0.0),
        ("lr_decay", "exp"),
        ("similarity", "l1"),
        ("reg", -1e-4),
        ("neg_pool", -1),
        ("hard_negatives", 4),
        ("hard_fraction", 1.5),
        ("average_fraction", -0.5),
        ("lr_min_ratio", 2.0),
        ("time_budget", -1.0),
        ("patience", 0),
    ],
)
def test_bad_hyperparameters_raise_value_error_naming_them(tiny, param, value):
    with pytest.raises(ValueError, match=param):
        LightGCN(**{**FAST, param: value}).fit(tiny)


def test_early_stopping_restores_best_and_records_metrics():
    ds = gr.datasets.synthetic(n_users=60, n_items=40, random_state=2)
    sp = gr.splits.validation_split(ds.train, 0.2, random_state=0)
    m = LightGCN(
        embedding_dim=8, epochs=40, batch_size=64, patience=2, random_state=0, device="cpu"
    )
    m.fit(sp.train, sp.valid)
    validated = [h for h in m.history_ if "metrics" in h]
    assert validated and "recall@20" in validated[0]["metrics"]
    best = max(h["metrics"]["recall@20"] for h in validated)
    assert m.history_[m.best_epoch_ - 1]["metrics"]["recall@20"] == best
    assert m.stopped_ in ("early_stopping", "epochs")


def test_time_budget_stops_training(tiny):
    m = LightGCN(**{**FAST, "epochs": 10_000}, time_budget=0.2).fit(tiny)
    assert m.stopped_ == "time_budget" and len(m.history_) < 10_000


def test_layer_weights_zero_layers_is_mf(tiny):
    a = LightGCN(**FAST, n_layers=0).fit(tiny)
    b = gr.MF(**FAST).fit(tiny)
    np.testing.assert_allclose(a.user_embeddings_, b.user_embeddings_, rtol=1e-5, atol=1e-6)


def test_save_load_round_trip(tiny, tmp_path):
    m = LightGCN(**FAST).fit(tiny)
    m.save(tmp_path / "m")
    m2 = gr.load(tmp_path / "m")
    np.testing.assert_array_equal(m.item_embeddings_, m2.item_embeddings_)
    np.testing.assert_array_equal(m.recommend([0, 1], k=2)[0], m2.recommend([0, 1], k=2)[0])
