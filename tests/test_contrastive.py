"""Contrastive LightGCN (SimGCL / XSimGCL) on the shared training engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphrec as gr
from graphrec.graph import normalized_adjacency, to_torch_csr
from graphrec.losses import cross_view_loss
from graphrec.models.lightgcn import PropagationModule, perturbed_propagate, propagate
from graphrec.sampling import Batch
from graphrec.training.steps import contrastive_loss


def _infonce_by_hand(a: np.ndarray, b: np.ndarray, tau: float) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    total = 0.0
    for r in range(len(a)):  # written out row by row on purpose: the reference
        logits = [float(a[r] @ b[c]) / tau for c in range(len(b))]
        total += -(logits[r] - np.log(np.sum(np.exp(logits))))
    return total / len(a)


def test_cross_view_loss_equals_hand_computation():
    rng = np.random.default_rng(0)
    ua, ub, ia, ib = (rng.normal(size=(n, 4)).astype(np.float32) for n in (3, 3, 2, 2))
    got = cross_view_loss(*map(torch.from_numpy, (ua, ub, ia, ib)), temperature=0.15)
    expect = _infonce_by_hand(ua, ub, 0.15) + _infonce_by_hand(ia, ib, 0.15)
    assert float(got) == pytest.approx(expect, rel=1e-5)


@pytest.fixture(scope="module")
def graph():
    x = gr.datasets.synthetic(n_users=30, n_items=20, n_communities=3, random_state=0).train
    return x, to_torch_csr(normalized_adjacency(x))


def test_perturbed_propagation_without_noise_is_propagate(graph):
    x, adj = graph
    ego = torch.randn(x.n_users + x.n_items, 8, generator=torch.Generator().manual_seed(0))
    w = (0.25, 0.25, 0.25, 0.25)
    final, first = perturbed_propagate(ego, adj, w, eps=0.0, layer=1, generator=torch.Generator())
    torch.testing.assert_close(final, propagate(ego, adj, w))
    torch.testing.assert_close(first, adj @ ego)


def test_perturbed_propagation_forward_and_gradient_match_a_reference(graph):
    x, adj = graph
    dense = adj.to_dense()
    ego = torch.randn(x.n_users + x.n_items, 8, generator=torch.Generator().manual_seed(1))
    w, eps = (0.25, 0.25, 0.25, 0.25), 0.2
    e1 = ego.clone().requires_grad_(True)
    final, at2 = perturbed_propagate(e1, adj, w, eps=eps, layer=2, generator=torch.Generator().manual_seed(5))
    (final.square().sum() + 3 * at2.sum()).backward()
    # reference: the same noise drawn from the same seed, autograd through dense products
    gen = torch.Generator().manual_seed(5)
    e2 = ego.clone().requires_grad_(True)
    h, out, keep = e2, e2 * w[0], None
    for k in range(1, 4):
        h = dense @ h
        noise = torch.rand(h.shape, generator=gen)
        h = h + torch.sign(h).detach() * torch.nn.functional.normalize(noise, dim=1) * eps
        out = out + h * w[k]
        if k == 2:
            keep = h
    (out.square().sum() + 3 * keep.sum()).backward()
    torch.testing.assert_close(final, out.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(at2, keep.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(e1.grad, e2.grad, rtol=1e-4, atol=1e-5)


def test_step_term_equals_hand_computation(graph):
    x, adj = graph
    module = PropagationModule(x.n_users, x.n_items, 4, adj, (0.5, 0.5), init_std=0.1,
                               generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    batch = Batch(users=torch.tensor([0, 1, 1]), items=torch.tensor([2, 3, 3]),
                  negatives=torch.tensor([[4], [5], [6]]))
    final, term = contrastive_loss(module, batch, eps=0.0, temperature=0.2, layer=1)
    ego = module.ego.detach().numpy()
    a = 0.5 * ego + 0.5 * (adj.to_dense().numpy() @ ego)
    b = adj.to_dense().numpy() @ ego
    users, items = np.array([0, 1]), np.array([2, 3]) + x.n_users
    expect = _infonce_by_hand(a[users], b[users], 0.2) + _infonce_by_hand(a[items], b[items], 0.2)
    assert float(term.detach()) == pytest.approx(expect, rel=1e-4)
    np.testing.assert_allclose(final.detach().numpy(), a, rtol=1e-5, atol=1e-6)


FAST = {"embedding_dim": 16, "n_layers": 2, "epochs": 4, "batch_size": 128, "lr": 0.02, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    return gr.datasets.synthetic(n_users=80, n_items=50, n_communities=4, random_state=2)


def test_lambda_zero_is_plain_lightgcn_exactly(data):
    plain = gr.LightGCN(**FAST).fit(data.train)
    off = gr.LightGCN(**FAST, contrastive_weight=0.0, noise_eps=0.3, contrastive_temperature=0.5,
                      contrast_layer=2).fit(data.train)
    np.testing.assert_array_equal(off.user_embeddings_, plain.user_embeddings_)
    np.testing.assert_array_equal(off.item_embeddings_, plain.item_embeddings_)


@pytest.mark.parametrize("layer", [1, None])
def test_contrastive_training_is_seeded_and_changes_the_fit(data, layer):
    plain = gr.LightGCN(**FAST).fit(data.train)
    params = {**FAST, "contrastive_weight": 0.2, "noise_eps": 0.2, "contrastive_temperature": 0.15,
              "contrast_layer": layer}
    a = gr.LightGCN(**params).fit(data.train)
    b = gr.LightGCN(**params).fit(data.train)
    np.testing.assert_array_equal(a.user_embeddings_, b.user_embeddings_)
    assert not np.allclose(a.user_embeddings_, plain.user_embeddings_)
    assert np.isfinite(a.loss_history_).all()


def test_bad_contrastive_settings(data):
    with pytest.raises(ValueError, match="contrast_layer"):
        gr.LightGCN(**FAST, contrastive_weight=0.1, contrast_layer=3).fit(data.train)
    with pytest.raises(ValueError, match="noise_eps"):
        gr.LightGCN(**FAST, noise_eps=-1).fit(data.train)
    with pytest.raises(ValueError, match="contrastive_temperature"):
        gr.LightGCN(**FAST, contrastive_temperature=0).fit(data.train)
    with pytest.raises(ValueError, match="propagation module"):
        gr.NCF(embedding_dim=8, hidden_sizes=(8,), epochs=1, contrastive_weight=0.1).fit(data.train)
