"""LightGCN speed: training step vs PyG, full-ranking evaluation time, peak memory.

Usage::

    python benchmarks/lightgcn_speed.py --dataset gowalla --steps 20 --compare-pyg --json out.json

Per step: full-graph propagation (n_layers, layer mean) + BPR on a batch of
``--batch`` training edges with one sampled negative each + L2 + Adam. graphrec
uses torch sparse CSR (int32) in 16-column blocks with a backward that reuses the
symmetric matrix and scatters the batch's row gradients once;
PyG's ``torch_geometric.nn.models.LightGCN`` is run (a) on the same pre-normalised
adjacency as a torch sparse tensor (``normalize=False``) and (b) on ``edge_index``
(normalisation inside every forward, as in PyG's example). Same batch, dim, layers
and number of steps for all, run in turns (one step of each per round, after 3
warm-up steps each), so that all see the same machine conditions. Evaluation: propagation of the ego embeddings plus
full ranking of every test user with train items masked (graphrec.evaluate).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch
from jobs import peak_memory_mb, write_json

warnings.filterwarnings("ignore", message=".*[Ss]parse.*")


def graphrec_stepper(ds, batch: int, dim: int, layers: int, neg_pool: int = 0, hard: int = 0):
    """One training step of our LightGCN (the engine's ``train_step`` and optimiser).

    ``neg_pool`` > 0 times the pool-BPR step of the recorded Gowalla recipe instead of
    BPR with one negative per positive (``hard``: its hard-negative phase).
    """
    from graphrec.graph import normalized_adjacency, to_torch_csr
    from graphrec.models.lightgcn import PropagationModule
    from graphrec.training import adam, make_batches, train_step

    x = ds.train
    adj = to_torch_csr(normalized_adjacency(x))
    mod = PropagationModule(
        x.n_users,
        x.n_items,
        dim,
        adj,
        tuple([1 / (layers + 1)] * (layers + 1)),
        init_std=0.1,
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
    )
    opt = adam(mod, lr=1e-3)
    rng = np.random.default_rng(0)
    state = {"it": make_batches(x, batch, rng=rng, neg_pool=neg_pool)}

    def step() -> None:
        b = next(state["it"], None)
        if b is None:  # next epoch
            state["it"] = make_batches(x, batch, rng=rng, neg_pool=neg_pool)
            b = next(state["it"])
        train_step(mod, opt, b, hard=hard)

    step.module = mod  # type: ignore[attr-defined]  # the timed module, for time_eval
    return step


def time_steps(steppers: dict, steps: int, warmup: int = 3) -> dict:
    """Seconds per step of each stepper, run in turns (one step of each per round).

    Turns expose all implementations to the same machine conditions, so their ratio
    is stable on a shared machine even when absolute step times drift. Returns the
    median s/step of each and, for every pair with the first, the median per-round ratio.
    """
    for step in steppers.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(steps):
        for name, step in steppers.items():
            t = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t)
    first = next(iter(steppers))
    out = {f"{name}_step_s": float(np.median(v)) for name, v in times.items()}
    for name in list(steppers)[1:]:
        paired = np.asarray(times[name]) / np.asarray(times[first])
        out[f"{name}_paired_ratio"] = float(np.median(paired))
    return out


def time_eval(ds, mod) -> dict:
    import graphrec as gr
    from graphrec.models.lightgcn import LightGCN

    m = LightGCN()
    t = time.perf_counter()
    with torch.no_grad():
        final = mod()
    m.user_embeddings_ = final[: ds.train.n_users].numpy().copy()
    m.item_embeddings_ = final[ds.train.n_users :].numpy().copy()
    m.seen_ = ds.train.to_csr()
    m.n_users_, m.n_items_ = ds.train.n_users, ds.train.n_items
    m.users_, m.items_ = ds.train.users, ds.train.items
    t_prop = time.perf_counter() - t
    res = gr.evaluate(m, ds.test, k=(20,))
    total = time.perf_counter() - t
    return {"eval_s": total, "propagation_s": t_prop, "n_users": res.get("n_users")}


def pyg_stepper(ds, batch: int, dim: int, layers: int, mode: str):
    """One training step of PyG's LightGCN (its example recipe: Adam, recommendation_loss)."""
    from torch_geometric.nn.models import LightGCN as PygLightGCN

    from graphrec.graph import normalized_adjacency, to_edge_index

    x = ds.train
    n = x.n_users + x.n_items
    if mode == "sparse":
        a = normalized_adjacency(x).tocoo()
        adj = torch.sparse_coo_tensor(torch.from_numpy(np.vstack([a.row, a.col]).astype(np.int64)),
                                      torch.from_numpy(a.data), size=a.shape).coalesce()
        adj = adj.to_sparse_csr()
        model = PygLightGCN(n, dim, layers, normalize=False)
    else:
        adj = to_edge_index(x)
        model = PygLightGCN(n, dim, layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    users = torch.from_numpy(np.array(x.user_idx))
    items = torch.from_numpy(np.array(x.item_idx)) + x.n_users

    def step():
        idx = torch.randint(0, x.nnz, (batch,), generator=g)
        neg = torch.randint(x.n_users, n, (batch,), generator=g)
        u = users[idx]
        eli = torch.stack([torch.cat([u, u]), torch.cat([items[idx], neg])])
        rank = model(adj, eli)
        pos, negr = rank.chunk(2)
        loss = model.recommendation_loss(pos, negr, node_id=eli.unique())
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--root", default=None)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--compare-pyg", action="store_true")
    p.add_argument("--neg-pool", type=int, default=0,
                   help="time our pool-BPR step with this pool (the Gowalla recipe: 2048)")
    p.add_argument("--hard", type=int, default=0, help="with --neg-pool: hardest pool items per user")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.compare_pyg and args.neg_pool:
        p.error("--compare-pyg times equal work (BPR, one negative per positive): drop --neg-pool")
    if args.threads:
        torch.set_num_threads(args.threads)
    import graphrec as gr

    ds = gr.datasets.load(args.dataset, root=args.root)
    out = {
        "dataset": args.dataset,
        "batch": args.batch,
        "dim": args.dim,
        "layers": args.layers,
        "neg_pool": args.neg_pool,
        "hard": args.hard,
        "steps": args.steps,
        "threads": torch.get_num_threads(),
        "load_before": os.getloadavg(),
    }
    ours = graphrec_stepper(ds, args.batch, args.dim, args.layers, args.neg_pool, args.hard)
    steppers = {"graphrec": ours}
    if args.compare_pyg:
        for mode in ("sparse", "edge_index"):
            steppers[f"pyg_{mode}"] = pyg_stepper(ds, args.batch, args.dim, args.layers, mode)
    timed = time_steps(steppers, args.steps)
    out["graphrec_step_s"] = timed["graphrec_step_s"]
    for mode in ("sparse", "edge_index") if args.compare_pyg else ():
        out[f"pyg_{mode}_step_s"] = timed[f"pyg_{mode}_step_s"]
        out[f"ratio_vs_pyg_{mode}"] = timed[f"pyg_{mode}_step_s"] / timed["graphrec_step_s"]
        out[f"paired_ratio_vs_pyg_{mode}"] = timed[f"pyg_{mode}_paired_ratio"]
    out.update(time_eval(ds, ours.module))
    out["peak_rss_mb"] = peak_memory_mb()
    out["load_after"] = os.getloadavg()
    print(f"{'what':34s} {'value':>10s}")
    for k, v in out.items():
        if isinstance(v, float):
            print(f"{k:34s} {v:10.4f}")
        else:
            print(f"{k:34s} {v!s:>10s}")
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
