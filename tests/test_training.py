"""The shared training engine: schedule, batches, step, budget, interrupts, restore."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import graphrec as gr
from graphrec.exceptions import TrainingError
from graphrec.models.lightgcn import PropagationModule
from graphrec.training import (
    Batch,
    batch_loss,
    fit_embeddings,
    learning_rate,
    make_batches,
    train_step,
)


def _module(x, dim=4, seed=0, layers=0):
    from graphrec.graph import normalized_adjacency, to_torch_csr

    adj = to_torch_csr(normalized_adjacency(x)) if layers else None
    return PropagationModule(
        x.n_users,
        x.n_items,
        dim,
        adj,
        tuple([1 / (layers + 1)] * (layers + 1)),
        init_std=0.1,
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
    )


def test_learning_rate_schedule():
    assert learning_rate(1.0, 0.0, 0, warmup=4) == pytest.approx(0.25)
    assert learning_rate(1.0, 0.5, 10, decay="cosine") == pytest.approx(0.5)
    assert learning_rate(1.0, 1.0, 10, decay="cosine", min_ratio=0.1) == pytest.approx(0.1)
    assert learning_rate(1.0, 0.25, 10, decay="linear") == pytest.approx(0.75)
    assert learning_rate(1.0, 0.9, 10) == 1.0


def test_make_batches_shapes_and_no_seen_negatives(checkerboard):
    train, _ = checkerboard
    batches = list(make_batches(train, 5, rng=np.random.default_rng(0), n_negatives=2))
    assert sum(len(b.users) for b in batches) == train.nnz
    seen = train.to_csr().toarray()
    for b in batches:
        assert b.negatives.shape == (len(b.users), 2) and not b.shared
        assert not seen[b.users[:, None].numpy(), b.negatives.numpy()].any()
    pooled = next(make_batches(train, 5, rng=np.random.default_rng(0), neg_pool=3))
    assert pooled.shared and pooled.negatives.shape == (3,)


def test_batch_loss_bpr_hand_value():
    final = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # one user, items 0 and 1
    batch = Batch(torch.tensor([0]), torch.tensor([0]), torch.tensor([[1]]))
    total, data = batch_loss(final, final, 1, batch, loss="bpr", reg=0.5)
    assert float(data) == pytest.approx(math.log1p(math.exp(-1)))
    # L2: (|u|^2 + |i|^2) / 2 + |j|^2 / 2 = 1 + 0.5
    assert float(total) == pytest.approx(float(data) + 0.5 * 1.5)


@pytest.mark.parametrize("pool", [0, 3])
def test_train_step_equals_the_full_table_objective(checkerboard, pool):
    """The fused row path of train_step takes the same SGD step as batch_loss on full tables."""
    train, _ = checkerboard
    batch = next(make_batches(train, 6, rng=np.random.default_rng(0), n_negatives=2, neg_pool=pool))
    fused, ref = _module(train, dim=20, layers=2), _module(train, dim=20, layers=2)
    value = train_step(fused, torch.optim.SGD(fused.parameters(), lr=0.5), batch, reg=0.1)
    total, data = batch_loss(ref(), ref.ego, ref.n_users, batch, reg=0.1)
    opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    total.backward()
    opt.step()
    assert value == pytest.approx(float(data.detach()), rel=1e-6)
    torch.testing.assert_close(fused.ego.detach(), ref.ego.detach())


def test_train_step_raises_training_error_on_nan(checkerboard):
    train, _ = checkerboard
    mod = _module(train)
    with torch.no_grad():
        mod.ego[0, 0] = float("nan")
    opt = torch.optim.Adam(mod.parameters(), lr=0.1)
    batch = Batch(torch.tensor([0]), torch.tensor([0]), torch.tensor([[4]]))
    with pytest.raises(TrainingError, match="learning rate"):
        train_step(mod, opt, batch)


def test_loss_decreases_and_history_records(checkerboard):
    train, _ = checkerboard
    mod = _module(train, layers=1)
    res = fit_embeddings(mod, train, epochs=15, batch_size=8, lr=0.05, random_state=0)
    assert len(res.history) == 15 and res.stopped == "epochs"
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert {"epoch", "loss", "seconds", "lr", "steps", "elapsed"} <= set(res.history[0])


def test_callback_stop_and_best_state_restore(checkerboard):
    train, _ = checkerboard
    mod = _module(train)
    scores = iter([0.5, 0.9, 0.1, 0.2, 0.3])
    snapshots = []

    def validate():
        snapshots.append(mod.ego.detach().clone())
        return {"recall@20": next(scores)}

    res = fit_embeddings(
        mod, train, epochs=5, batch_size=8, validate=validate, patience=2, random_state=0
    )
    assert res.best_epoch == 2 and res.stopped == "early_stopping"
    torch.testing.assert_close(mod.ego.detach(), snapshots[1])
    assert [h["metrics"]["recall@20"] for h in res.history] == [0.5, 0.9, 0.1, 0.2]

    mod2 = _module(train)
    res2 = fit_embeddings(
        mod2, train, epochs=10, batch_size=8, callbacks=[lambda r: r["epoch"] == 3]
    )
    assert res2.stopped == "callback" and len(res2.history) == 3


def test_keyboard_interrupt_keeps_the_best_state(checkerboard):
    train, _ = checkerboard
    mod = _module(train)
    best = []

    def validate():
        best.append(mod.ego.detach().clone())
        return {"recall@20": 1.0 if len(best) == 1 else 0.0}

    def interrupt(record):
        if record["epoch"] == 3:
            raise KeyboardInterrupt

    res = fit_embeddings(
        mod, train, epochs=10, batch_size=8, validate=validate, callbacks=[interrupt]
    )
    assert res.stopped == "interrupted" and res.best_epoch == 1
    torch.testing.assert_close(mod.ego.detach(), best[0])


def test_time_budget(checkerboard):
    train, _ = checkerboard
    res = fit_embeddings(_module(train), train, epochs=100_000, batch_size=4, time_budget=0.3)
    assert res.stopped == "time_budget" and len(res.history) < 100_000


def test_initial_loss_then_bpr_with_hard_negatives(checkerboard):
    train, _ = checkerboard
    m = gr.LightGCN(
        embedding_dim=8,
        epochs=20,
        batch_size=8,
        neg_pool=6,
        hard_negatives=2,
        hard_fraction=0.5,
        initial_loss="infonce",
        initial_fraction=0.25,
        lr_decay="cosine",
        random_state=0,
        device="cpu",
    ).fit(train)
    assert m._default_similarity() == "dot"
    assert np.isfinite(m.loss_history_).all()


def test_weight_averaging_keeps_the_mean_of_the_last_epochs(checkerboard):
    """average_fraction=0.5 of 4 epochs: the result is the mean of the states after epochs 2-4;
    training itself follows the same path as without averaging, and callbacks see the mean."""
    train, _ = checkerboard
    live, seen = [], []
    plain = _module(train, layers=1)
    fit_embeddings(plain, train, epochs=4, batch_size=4, lr=0.05, random_state=0,
                   callbacks=[lambda r: live.append(plain.ego.detach().clone())])
    averaged = _module(train, layers=1)
    res = fit_embeddings(averaged, train, epochs=4, batch_size=4, lr=0.05, random_state=0,
                         average_fraction=0.5,
                         callbacks=[lambda r: seen.append(averaged.ego.detach().clone())])
    assert [r.get("averaged") for r in res.history] == [None, 1, 2, 3]
    torch.testing.assert_close(seen[0], live[0])
    torch.testing.assert_close(seen[2], (live[1] + live[2]) / 2)
    torch.testing.assert_close(averaged.ego.detach(), (live[1] + live[2] + live[3]) / 3)
    assert not torch.allclose(averaged.ego.detach(), live[3])


def test_weight_averaging_validates_and_restores_the_mean(checkerboard):
    train, _ = checkerboard
    mod = _module(train, layers=1)
    states = []

    def validate():
        states.append(mod.ego.detach().clone())
        return {"recall@20": float(len(states))}  # later is better: the last one is kept

    fit_embeddings(mod, train, epochs=3, batch_size=4, lr=0.05, random_state=0,
                   average_fraction=1.0, validate=validate)
    torch.testing.assert_close(mod.ego.detach(), states[-1])
