"""Losses: hand-computed values, shapes, errors, and that each one can be minimised."""

from __future__ import annotations

import math

import pytest
import torch

from graphrec.losses import bce_loss, bpr_loss, infonce_loss, l2_regularization


def test_bpr_hand_value():
    # softplus(neg - pos) = log(1 + exp(-1)) for pos=1, neg=0
    assert float(bpr_loss(torch.tensor([1.0]), torch.tensor([0.0]))) == pytest.approx(
        math.log1p(math.exp(-1))
    )


def test_bpr_several_negatives_is_mean_over_pairs():
    pos = torch.tensor([1.0, 0.0])
    neg = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    want = (math.log1p(math.exp(-1)) + math.log(2) + 2 * math.log(2)) / 4
    assert float(bpr_loss(pos, neg)) == pytest.approx(want)


def test_bce_hand_value():
    pos, neg = torch.tensor([2.0]), torch.tensor([[1.0, -1.0]])
    want = math.log1p(math.exp(-2)) + (math.log1p(math.exp(1)) + math.log1p(math.exp(-1))) / 2
    assert float(bce_loss(pos, neg)) == pytest.approx(want)


def test_infonce_in_batch_hand_value():
    u = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # cosine makes the length irrelevant
    got = float(infonce_loss(u, u, temperature=0.5))
    # each row: logits (2, 0) -> -log(e^2 / (e^2 + 1))
    assert got == pytest.approx(math.log1p(math.exp(-2)), rel=1e-5)


def test_infonce_shared_pool_hand_value():
    u = torch.tensor([[1.0, 0.0]])
    pos = torch.tensor([[1.0, 0.0]])
    pool = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    got = float(infonce_loss(u, pos, pool, temperature=1.0))
    want = -math.log(math.e / (math.e + 1 + math.exp(-1)))
    assert got == pytest.approx(want, rel=1e-5)


def test_infonce_dot_product_option():
    u = torch.tensor([[2.0, 0.0]])
    got = float(infonce_loss(u, u, torch.tensor([[0.0, 1.0]]), temperature=1.0, cosine=False))
    assert got == pytest.approx(-math.log(math.exp(4) / (math.exp(4) + 1)), rel=1e-5)


def test_l2_hand_value():
    assert float(l2_regularization(torch.ones(2, 3), torch.ones(2, 1))) == pytest.approx(8 / 4)
    assert float(l2_regularization(torch.ones(2, 3), batch_size=3)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: infonce_loss(torch.ones(2, 2), torch.ones(2, 2), temperature=0.0),
        lambda: infonce_loss(torch.ones(2, 2), torch.ones(3, 2)),
        lambda: bpr_loss(torch.ones(2), torch.ones(3)),
        lambda: bce_loss(torch.ones(2, 1), torch.ones(2)),
        lambda: l2_regularization(),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("name", ["bpr", "bce", "infonce", "infonce_pool"])
def test_every_loss_decreases_on_a_tiny_problem(name):
    g = torch.Generator().manual_seed(0)
    users = torch.nn.Parameter(torch.randn(4, 3, generator=g))
    items = torch.nn.Parameter(torch.randn(6, 3, generator=g))
    pos_idx = torch.tensor([0, 1, 2, 3])
    neg_idx = torch.tensor([[4, 5], [5, 4], [4, 5], [5, 4]])

    def objective():
        u, p = users, items[pos_idx]
        if name == "infonce":
            return infonce_loss(u, p, temperature=0.2)
        if name == "infonce_pool":
            return infonce_loss(u, p, items[4:], temperature=0.2)
        pos = (u * p).sum(1)
        neg = torch.einsum("bd,bkd->bk", u, items[neg_idx])
        return (bpr_loss if name == "bpr" else bce_loss)(pos, neg)

    opt = torch.optim.Adam([users, items], lr=0.05)
    first = float(objective().detach())
    for _ in range(50):
        opt.zero_grad()
        objective().backward()
        opt.step()
    assert float(objective().detach()) < 0.5 * first


def test_pool_bpr_hand_value_gradient_and_hard():
    from graphrec.losses import pool_bpr_loss

    u = torch.tensor([[1.0, 0.0]])
    pool = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # pairs: d = 1 - 1 = 0 -> log 2; d = 0 - 1 -> log(1 + e^-1)
    want = (math.log(2) + math.log1p(math.exp(-1))) / 2
    assert float(pool_bpr_loss(u, u, pool)) == pytest.approx(want, rel=1e-6)
    assert float(pool_bpr_loss(u, u, pool, hard=1)) == pytest.approx(math.log(2), rel=1e-6)
    g = torch.Generator().manual_seed(0)
    args = [
        torch.randn(4, 3, dtype=torch.float64, generator=g, requires_grad=True) for _ in range(2)
    ]
    p = torch.randn(5, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: pool_bpr_loss(a, b, c), (*args, p))
    ref = bpr_loss((args[0] * args[1]).sum(1), args[0] @ p.T)
    assert float(pool_bpr_loss(*args, p).detach()) == pytest.approx(float(ref.detach()))
    with pytest.raises(ValueError, match="hard"):
        pool_bpr_loss(u, u, pool, hard=3)


@pytest.mark.parametrize("block", [None, 100])
@pytest.mark.parametrize("hard", [0, 5])
def test_pool_bpr_float32_matches_autograd_of_the_plain_formula(block, hard, monkeypatch):
    # the fused float32 forward/backward (training's dtype) against float64 autograd; with
    # block=100 the 64 x 33 score matrix is walked 3 rows at a time (last block ragged)
    import graphrec.losses
    from graphrec.losses import pool_bpr_loss

    if block is not None:
        monkeypatch.setattr(graphrec.losses, "_POOL_BLOCK", block)
    g = torch.Generator().manual_seed(1)
    leaves = [torch.randn(n, 8, generator=g, requires_grad=True) for n in (64, 64, 33)]
    loss = pool_bpr_loss(*leaves, hard=hard)
    loss.backward()
    got = [t.grad.clone() for t in leaves]
    ref_leaves = [t.detach().double().requires_grad_() for t in leaves]
    u, i, pool = ref_leaves
    neg = u @ pool.T
    if hard:
        neg = torch.topk(neg, hard, dim=1).values
    ref = bpr_loss((u * i).sum(1), neg)
    ref.backward()
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    for a, b in zip(got, ref_leaves):
        torch.testing.assert_close(a.double(), b.grad, rtol=1e-4, atol=1e-6)
