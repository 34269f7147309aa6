"""Data-parallel fitting of LightGCN and MF: process group, DDP, sharded evaluation, checkpoints.

Every process (rank) holds the whole model and the whole graph. Each epoch the
training edges are shuffled with a seed shared by all ranks and rank ``r``
trains on slice ``r`` (:func:`graphrec.training.make_batches`); gradients are
averaged by :class:`~torch.nn.parallel.DistributedDataParallel`; validation is
sharded by users and the per-user metric sums are gathered; rank 0 alone writes
checkpoints. All ranks end with bit-identical parameters (checked).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.metrics import RANKING_METRICS, hit_matrix, metrics_from_hits

__all__ = [
    "DEFAULT_TIMEOUT",
    "DistributedContext",
    "DistributedError",
    "DistributedResult",
    "evaluate_distributed",
    "fit_distributed",
    "free_port",
    "init_distributed",
    "latest_checkpoint",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
LATEST_FILE = "LATEST"


class DistributedError(RuntimeError):
    """A collective failed: another rank crashed or hung past the timeout, or ranks diverged."""


@dataclass
class DistributedResult:
    """What :func:`fit_distributed` returns (the model is fitted in place).

    Attributes
    ----------
    rank, world_size : int
    backend : str
        "gloo" or "nccl".
    history : list of dict
        Per epoch, as :class:`graphrec.training.TrainResult` (``loss`` averaged over ranks).
    best_epoch : int or None
    stopped : str
    seconds : float
        Wall-clock time of training (validation and checkpoints included).
    allreduce_bytes : int
        Gradient bytes this rank handed to all-reduce (measured by a DDP comm hook).
    allreduce_calls : int
    checkpoint : Path or None
        Last checkpoint written (rank 0; None elsewhere).
    """

    rank: int
    world_size: int
    backend: str
    history: list[dict[str, Any]]
    best_epoch: int | None
    stopped: str
    seconds: float
    allreduce_bytes: int
    allreduce_calls: int
    checkpoint: Path | None = None


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the default process group (see :func:`init_distributed`).

    Attributes
    ----------
    rank, world_size : int
    device : torch.device
        Where this rank computes (``cuda:LOCAL_RANK`` with NCCL, else CPU).
    backend : str
    created : bool
        Whether :func:`init_distributed` created the group (and so should destroy it).
    """

    rank: int
    world_size: int
    device: torch.device
    backend: str
    created: bool

    @property
    def comm_device(self) -> torch.device:  # NCCL collectives need CUDA tensors
        return self.device if self.backend == "nccl" else torch.device("cpu")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def init_distributed(device: str | torch.device | None = "auto", backend: str | None = None, *,
                     timeout: float = DEFAULT_TIMEOUT) -> DistributedContext:
    """Join the default process group, creating it if needed, with a collective ``timeout``.

    Under torchrun the group comes from the environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``); a lone process gets a one-rank group on
    127.0.0.1. With a CUDA ``device`` each rank uses ``cuda:LOCAL_RANK`` and NCCL.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, default "auto"
    backend : {"gloo", "nccl"}, optional
        Default: NCCL for CUDA, gloo for CPU.
    timeout : float, default 300
        Seconds any collective may wait before failing (a crashed or hung peer).

    Returns
    -------
    DistributedContext
        Call ``torch.distributed.destroy_process_group()`` at the end when ``created``.

    Examples
    --------
    >>> ctx = init_distributed("cpu", timeout=30)
    >>> (ctx.rank, ctx.world_size, ctx.backend)
    (0, 1, 'gloo')
    >>> torch.distributed.destroy_process_group()
    """
    from graphrec.utils import resolve_device

    created = False
    if not dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        dev = resolve_device(device)
        backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
        if dev.type == "cuda":
            torch.cuda.set_device(local % torch.cuda.device_count())
        kwargs: dict[str, Any] = {}
        if "RANK" not in os.environ:  # a lone process: a one-rank group on loopback
            kwargs = {"init_method": f"tcp://127.0.0.1:{free_port()}", "rank": 0, "world_size": 1}
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout), **kwargs)
        created = True
    ctx = _current()
    return DistributedContext(ctx.rank, ctx.world_size, ctx.device, ctx.backend, created)


def _current() -> DistributedContext:
    """The default group's rank, size and collective device (one rank without a group)."""
    if not dist.is_initialized():
        return DistributedContext(0, 1, torch.device("cpu"), "none", False)
    backend = str(dist.get_backend())
    dev = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
    return DistributedContext(dist.get_rank(), dist.get_world_size(), dev, backend, False)


def _gather_sum(values: Sequence[float], ctx: DistributedContext) -> np.ndarray:
    """Sum a vector over ranks with all_gather, adding in rank order (identical on every rank)."""
    t = torch.tensor(list(values), dtype=torch.float64, device=ctx.comm_device)
    if ctx.world_size == 1:
        return t.cpu().numpy()
    parts = [torch.empty_like(t) for _ in range(ctx.world_size)]
    dist.all_gather(parts, t)
    return torch.stack(parts).sum(0).cpu().numpy()


def evaluate_distributed(model: Any, test: Interactions, k: int | Sequence[int] = (10, 20), *,
                         batch_size: int = 2048) -> dict[str, float]:
    """Full-ranking ranking metrics, each rank scoring every ``world_size``-th test user.

    Per-user metric sums and user counts are all-gathered, so every rank returns
    the same means as :func:`graphrec.evaluate` would (its ranking metrics only:
    coverage, novelty and diversity are not sums over users). Works without a
    process group too (one rank).

    Parameters
    ----------
    model : fitted Recommender
    test : Interactions
        On the model's IdMaps.
    k : int or sequence of int
    batch_size : int
        Users scored at once.

    Returns
    -------
    dict
        ``"recall@K"``, ``"ndcg@K"``, ``"precision@K"``, ``"map@K"``, ``"hit@K"``,
        ``"mrr@K"`` for each K, and ``"n_users"``.

    Raises
    ------
    ValueError
        ``k < 1`` or ``test`` on other IdMaps.

    Examples
    --------
    >>> import graphrec as gr
    >>> ds = gr.datasets.synthetic(n_users=40, n_items=20, random_state=0)
    >>> m = gr.Popularity().fit(ds.train)
    >>> evaluate_distributed(m, ds.test, k=5)["n_users"]
    40.0
    """
    from graphrec.evaluation import rank_all

    check_is_fitted(model)
    ks = sorted({int(v) for v in np.atleast_1d(k)})
    if not ks or ks[0] < 1:
        raise ValueError(f"k must hold integers >= 1, got {k!r}")
    if test.n_users != model.n_users_ or test.n_items != model.n_items_:
        raise ValueError("test must share the model's IdMaps (same users and items)")
    ctx = _current()
    rank, world = ctx.rank, ctx.world_size
    relevant = test.to_csr()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)[rank::world]
    sums = [float(len(users))]
    if len(users):
        hits, n_rel = hit_matrix(rank_all(model, users, ks[-1], batch_size=batch_size), relevant[users])
        for kk in ks:
            per = metrics_from_hits(hits, n_rel, kk)
            sums += [float(np.sum(per[name])) for name in RANKING_METRICS]
    else:
        sums += [0.0] * (len(ks) * len(RANKING_METRICS))
    total = _gather_sum(sums, ctx)
    n = total[0]
    names = [f"{name}@{kk}" for kk in ks for name in RANKING_METRICS]
    out = {key: float(v / n) if n else float("nan") for key, v in zip(names, total[1:])}
    out["n_users"] = float(n)
    return out


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint under ``checkpoint_dir`` (load it with ``graphrec.load``).

    Follows the ``LATEST`` pointer (replaced atomically after each checkpoint);
    falls back to the last ``epoch-*`` directory that holds a model.
    """
    root = Path(checkpoint_dir)
    pointer = root / LATEST_FILE
    if pointer.exists():
        target = root / pointer.read_text().strip()
        if (target / "meta.json").exists():
            return target
    done = sorted(p for p in root.glob("epoch-*") if (p / "meta.json").exists())
    return done[-1] if done else None


def _write_checkpoint(model: Any, root: Path, name: str, keep: int) -> Path:
    """``model.save`` (temp dir + rename) into a new directory, then move the pointer atomically."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    model.save(path)
    tmp = root / f".{LATEST_FILE}.tmp-{os.getpid()}"
    tmp.write_text(name + "\n")
    os.replace(tmp, root / LATEST_FILE)
    older = sorted(p for p in root.glob("epoch-*") if p.name != name)
    for p in older[: max(0, len(older) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return path


def _counting_allreduce(state: dict[str, int], bucket):  # type: ignore[no-untyped-def]
    """DDP comm hook: the default all-reduce, counting the bytes it sends.

    (``bucket`` and the return stay unannotated: DDP rejects string annotations.)
    """
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    buf = bucket.buffer()
    state["bytes"] += buf.numel() * buf.element_size()
    state["calls"] += 1
    return allreduce_hook(None, bucket)


def _digest(t: torch.Tensor, ctx: DistributedContext) -> list[str]:
    """SHA-256 of ``t``'s bytes on every rank (all-gathered)."""
    h = hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).digest()
    mine = torch.tensor(list(h), dtype=torch.int64, device=ctx.comm_device)
    parts = [torch.empty_like(mine) for _ in range(ctx.world_size)]
    dist.all_gather(parts, mine)
    return [bytes(p.cpu().tolist()).hex() for p in parts]


def fit_distributed(
    model: Any,
    train: Interactions,
    valid: Interactions | None = None,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    keep_checkpoints: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    backend: str | None = None,
    callbacks: Sequence[Callable[[dict[str, Any]], bool | None]] = (),
) -> DistributedResult:
    """Fit a LightGCN or MF model data-parallel; call it on every rank (e.g. under torchrun).

    Joins the default process group if one exists, else creates it from the
    torchrun environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``;
    a lone process gets a one-rank group) with ``timeout``, and destroys what it
    created. ``model.batch_size`` is the *global* batch: each rank takes
    ``ceil(batch_size / world_size)`` of its shard per step, so the number of
    steps and the effective batch match a one-process fit. ``model.time_budget``
    is checked after each epoch on rank 0's clock (all ranks stop together).

    Parameters
    ----------
    model : LightGCN or MF
        Unfitted or fitted; refitted in place on every rank.
    train, valid : Interactions
        The full data on every rank; ``valid`` enables early stopping (``model.patience``).
    checkpoint_dir : path, optional
        Rank 0 saves ``epoch-NNNN`` model directories (atomically) every
        ``checkpoint_every`` epochs and ``final`` at the end, keeps the newest
        ``keep_checkpoints``, and points ``LATEST`` at the newest
        (see :func:`latest_checkpoint`).
    timeout : float, default 300
        Seconds a collective may wait: a crashed or hung rank makes the others
        fail with :class:`DistributedError` after at most this long.
    backend : {"gloo", "nccl"}, optional
        Default: NCCL when the model's device is CUDA, else gloo.
    callbacks : sequence of callables
        Called on every rank with each epoch record; returning True stops training
        (must agree on all ranks).

    Returns
    -------
    DistributedResult

    Raises
    ------
    DistributedError
        A collective failed or timed out, or the ranks' parameters differ. The
        group is then broken and left as is (tearing it down can block): end the
        process, e.g. ``os._exit(1)`` as ``python -m graphrec.distributed`` does.
    TypeError
        ``model`` is not a LightGCN/MF-style model.
    """
    if not all(hasattr(model, a) for a in ("_layer_weights", "_store", "_adjacency")):
        raise TypeError(f"fit_distributed trains LightGCN or MF, got {type(model).__name__}")
    ctx = init_distributed(getattr(model, "device", "auto"), backend, timeout=timeout)
    try:
        result = _fit(model, train, valid, ctx, Path(checkpoint_dir) if checkpoint_dir else None,
                      checkpoint_every, keep_checkpoints, callbacks)
    except RuntimeError as exc:  # gloo/NCCL failures surface as DistError or plain RuntimeError
        if not _is_comm_failure(exc):
            raise
        raise DistributedError(
            f"rank {ctx.rank}/{ctx.world_size}: a collective failed; another rank probably crashed "
            f"or hung (timeout {timeout:g}s): {exc}") from exc
    # only on success: tearing down a broken group can block on its pending work
    if ctx.created:
        dist.destroy_process_group()
    return result


def _fit(model: Any, train: Interactions, valid: Interactions | None, ctx: DistributedContext, ckpt: Path | None,
         every: int, keep: int, callbacks: Sequence[Callable[[dict[str, Any]], bool | None]]) -> DistributedResult:
    from torch.nn.parallel import DistributedDataParallel

    from graphrec.models.lightgcn import PropagationModule
    from graphrec.training import fit_embeddings
    from graphrec.utils import torch_generator

    model._check_params()
    # what Recommender.fit sets before _fit
    for name in [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]:
        delattr(model, name)
    model.users_, model.items_ = train.users, train.items
    model.n_users_, model.n_items_ = train.n_users, train.n_items
    model.seen_ = train.to_csr()
    seed = model.random_state
    if seed is None:  # one fresh seed, shared
        seed = int(_gather_sum([np.random.SeedSequence().entropy % 2**52 if ctx.rank == 0 else 0], ctx)[0])
    weights = model._layer_weights()
    adjacency = model._adjacency(train, ctx.device) if len(weights) > 1 else None
    module = PropagationModule(train.n_users, train.n_items, model.embedding_dim, adjacency, weights,
                               init_std=model.init_std, generator=torch_generator(int(seed)), device=ctx.device)
    ddp = DistributedDataParallel(module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    comm = {"bytes": 0, "calls": 0}
    ddp.register_comm_hook(comm, _counting_allreduce)
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    state = {"out_of_time": False, "checkpoint": None}

    def sync_loss(record: dict[str, Any]) -> None:
        record["loss"] = float(_gather_sum([record["loss"]], ctx)[0] / ctx.world_size)
        records.append(dict(record))

    def checkpoint(record: dict[str, Any]) -> None:
        if ckpt is not None and ctx.rank == 0 and record["epoch"] % every == 0:
            _snapshot(model, module, records, "checkpoint")
            state["checkpoint"] = _write_checkpoint(model, ckpt, f"epoch-{record['epoch']:04d}", keep)

    def budget(record: dict[str, Any]) -> bool:
        flag = float(time.perf_counter() - start >= model.time_budget) if ctx.rank == 0 else 0.0
        state["out_of_time"] = bool(_gather_sum([flag], ctx)[0])
        return state["out_of_time"]

    validate = None
    if valid is not None and valid.nnz > 0:
        def validate() -> dict[str, float]:
            model._store(module)
            return {k: v for k, v in evaluate_distributed(model, valid, k=(20,)).items() if "@" in k}

    cbs = [sync_loss, checkpoint] + ([budget] if model.time_budget else []) + list(callbacks)
    result = fit_embeddings(
        ddp, train, loss=model.loss, epochs=model.epochs, batch_size=max(1, math.ceil(model.batch_size / ctx.world_size)),
        n_negatives=model.n_negatives, neg_pool=model.neg_pool, lr=model.lr, reg=model.reg,
        temperature=model.temperature, lr_warmup=model.lr_warmup, lr_decay=model.lr_decay, time_budget=None,
        validate=validate, eval_every=model.eval_every, patience=model.patience,
        random_state=np.random.default_rng(int(seed)), verbose=bool(model.verbose) and ctx.rank == 0,
        callbacks=cbs, rank=ctx.rank, world_size=ctx.world_size,
    )
    stopped = "time_budget" if state["out_of_time"] else result.stopped
    digests = _digest(module.ego, ctx)
    if len(set(digests)) != 1:
        raise DistributedError(f"ranks ended with different parameters (sha256 per rank: {digests})")
    _snapshot(model, module, result.history, stopped, result.best_epoch)
    if ckpt is not None and ctx.rank == 0:
        state["checkpoint"] = _write_checkpoint(model, ckpt, "final", keep + 1)
    dist.barrier()
    return DistributedResult(ctx.rank, ctx.world_size, ctx.backend, result.history, result.best_epoch, stopped,
                             time.perf_counter() - start, comm["bytes"], comm["calls"], state["checkpoint"])


def _is_comm_failure(exc: BaseException) -> bool:
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return any(w in text for w in ("gloo", "nccl", "connection", "timed out", "timeout", "peer"))


def _snapshot(model: Any, module: torch.nn.Module, history: list[dict[str, Any]], stopped: str,
              best_epoch: int | None = None) -> None:
    """Set the fitted attributes a one-process fit sets (embeddings, history)."""
    model._store(module)
    model.history_ = [dict(h) for h in history]
    model.loss_history_ = [h["loss"] for h in history]
    model.best_epoch_ = best_epoch
    model.stopped_ = stopped
