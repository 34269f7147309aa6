"""Data-parallel fitting of LightGCN and MF: DDP around the shared training engine.

Every process (rank) holds the whole model and the whole graph. Each epoch the
training edges are shuffled with a seed shared by all ranks and rank ``r``
trains on slice ``r`` (``graphrec.sampling.make_batches``); gradients are
averaged by :class:`~torch.nn.parallel.DistributedDataParallel`; validation is
sharded by users and the per-user metric sums are gathered; rank 0 alone writes
checkpoints. All ranks end with bit-identical parameters (checked). The
learning-rate schedule and ``time_budget`` read rank 0's clock (broadcast), so
every rank follows one schedule and stops at the same step; a killed job
continues from its last checkpoint with ``resume``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.distributed as dist

from graphrec.data.interactions import Interactions
from graphrec.distributed.checkpoints import _write_checkpoint
from graphrec.distributed.context import (
    DEFAULT_TIMEOUT,
    DistributedContext,
    DistributedError,
    _gather_sum,
    _is_comm_failure,
    init_distributed,
)
from graphrec.distributed.evaluation import evaluate_distributed
from graphrec.training import TrainableModel

__all__ = ["DistributedResult", "fit_distributed"]

logger = logging.getLogger(__name__)


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
    resumed_from : int or None
        Epoch of the training checkpoint the fit continued from (None: a fresh start).
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
    resumed_from: int | None = None


def _counting_allreduce(state: dict[str, int], bucket):  # type: ignore[no-untyped-def]
    """DDP comm hook: the default all-reduce, counting the bytes it sends.

    (``bucket`` and the return stay unannotated: DDP rejects string annotations.)
    """
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    buf = bucket.buffer()
    state["bytes"] += buf.numel() * buf.element_size()
    state["calls"] += 1
    return allreduce_hook(None, bucket)  # type: ignore[arg-type]  # None: the default group


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
    resume: str | os.PathLike | None = None,
) -> DistributedResult:
    """Fit a LightGCN or MF model data-parallel; call it on every rank (e.g. under torchrun).

    Joins the default process group if one exists, else creates it from the
    torchrun environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``;
    a lone process gets a one-rank group) with ``timeout``, and destroys what it
    created. ``model.batch_size`` is the *global* batch: each rank takes
    ``ceil(batch_size / world_size)`` of its shard per step, so the number of
    steps and the effective batch match a one-process fit. ``model.time_budget``
    is checked after each step on rank 0's clock, which also drives the
    learning-rate schedule (all ranks decay and stop together).

    Parameters
    ----------
    model : LightGCN or MF (any :class:`graphrec.training.TrainableModel`)
        Unfitted or fitted; refitted in place on every rank, with its whole
        :class:`~graphrec.training.TrainConfig` (``batch_size`` made per-rank).
    train, valid : Interactions
        The full data on every rank; ``valid`` enables early stopping (``model.patience``).
    checkpoint_dir : path, optional
        Rank 0 saves ``epoch-NNNN`` model directories (atomically) every
        ``checkpoint_every`` epochs and ``final`` at the end, keeps the newest
        ``keep_checkpoints``, and points ``LATEST`` at the newest
        (see :func:`latest_checkpoint`); beside them, the engine's training
        checkpoints ``train-state-NNNN.pt`` (optimiser, schedule and sampler state,
        :mod:`graphrec.training.checkpoint`) that ``resume`` continues from.
    timeout : float, default 300
        Seconds a collective may wait: a crashed or hung rank makes the others
        fail with :class:`DistributedError` after at most this long.
    backend : {"gloo", "nccl"}, optional
        Default: NCCL when the model's device is CUDA, else gloo.
    callbacks : sequence of callables
        Called on every rank with each epoch record; returning True stops training
        (must agree on all ranks).
    resume : path, optional
        A ``checkpoint_dir`` of an earlier job with the same model, settings, data
        and number of ranks: continue from its newest training checkpoint (a
        directory without one starts afresh); checkpoints go on into
        ``checkpoint_dir``, by default this directory. With the same seed the job
        ends with the same parameters as an uninterrupted one.

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
        ``model`` is not a :class:`graphrec.training.TrainableModel`.

    Examples
    --------
    One process (a one-rank group); under torchrun every rank runs the same call.

    >>> import graphrec as gr
    >>> from graphrec.models.lightgcn import LightGCN
    >>> ds = gr.datasets.synthetic(n_users=40, n_items=20, random_state=0)
    >>> m = LightGCN(embedding_dim=8, epochs=2, batch_size=64, device="cpu", random_state=0)
    >>> res = fit_distributed(m, ds.train, timeout=30)
    >>> (res.world_size, len(m.history_), m.user_embeddings_.shape)
    (1, 2, (40, 8))
    """
    _check_trainable(model)
    ctx = init_distributed(getattr(model, "device", "auto"), backend, timeout=timeout)
    try:
        if checkpoint_dir is None and resume is not None:
            checkpoint_dir = resume
        result = _fit(model, train, valid, ctx, Path(checkpoint_dir) if checkpoint_dir else None,
                      checkpoint_every, keep_checkpoints, callbacks, resume)
    except BaseException as exc:
        model._clear_fitted()  # as Recommender.fit: no half-fitted model
        if not isinstance(exc, RuntimeError) or not _is_comm_failure(exc):  # gloo/NCCL: DistError or RuntimeError
            raise
        raise DistributedError(
            f"rank {ctx.rank}/{ctx.world_size}: a collective failed; another rank probably crashed "
            f"or hung (timeout {timeout:g}s): {exc}") from exc
    # only on success: tearing down a broken group can block on its pending work
    if ctx.created:
        dist.destroy_process_group()
    return result


def _check_trainable(model: Any) -> None:
    if not isinstance(model, TrainableModel):
        raise TypeError(f"fit_distributed trains LightGCN or MF (a graphrec.training.TrainableModel), "
                        f"got {type(model).__name__}")


def _fit(model: Any, train: Interactions, valid: Interactions | None, ctx: DistributedContext, ckpt: Path | None,
         every: int, keep: int, callbacks: Sequence[Callable[[dict[str, Any]], bool | None]],
         resume: str | os.PathLike | None = None) -> DistributedResult:
    from torch.nn.parallel import DistributedDataParallel

    from graphrec import training
    from graphrec.training.checkpoint import latest_training_checkpoint, read_training_checkpoint
    from graphrec.utils import torch_generator

    model._begin_fit(train, valid)  # Recommender.fit's checks, reset and bookkeeping
    config = model._train_config()
    seed = model.random_state
    if seed is None:  # one fresh seed, shared
        entropy = cast(int, np.random.SeedSequence().entropy)  # an int when drawn from the OS
        seed = int(_gather_sum([entropy % 2**52 if ctx.rank == 0 else 0], ctx)[0])
    module = model._build_module(train, ctx.device, torch_generator(int(seed)))
    ddp = DistributedDataParallel(module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    comm = {"bytes": 0, "calls": 0}
    ddp.register_comm_hook(comm, _counting_allreduce)
    records: list[dict[str, Any]] = []
    if resume is not None:  # the model-directory checkpoints carry the whole history
        state = latest_training_checkpoint(resume)
        if state is not None:
            records = list(read_training_checkpoint(state)["history"])
    start = time.perf_counter()
    written: Path | None = None

    def sync_loss(record: dict[str, Any]) -> None:
        record["loss"] = float(_gather_sum([record["loss"]], ctx)[0] / ctx.world_size)
        records.append(dict(record))

    def checkpoint(record: dict[str, Any]) -> None:
        nonlocal written
        if ckpt is not None and ctx.rank == 0 and record["epoch"] % every == 0:
            model._finish_training(module, records, "checkpoint")
            written = _write_checkpoint(model, ckpt, f"epoch-{record['epoch']:04d}", keep)

    def clock() -> float:  # rank 0's: one schedule and one budget stop for all ranks
        now = torch.tensor([time.perf_counter()], dtype=torch.float64, device=ctx.comm_device)
        if ctx.world_size > 1:
            dist.broadcast(now, src=0)
        return float(now.item())

    validate = None
    if valid is not None and valid.nnz > 0:
        def validate() -> dict[str, float]:
            model._store(module)
            return {k: v for k, v in evaluate_distributed(model, valid, k=(20,)).items() if "@" in k}

    cbs = [sync_loss, checkpoint, *callbacks]
    # batch_size is the global batch; time is rank 0's (clock)
    local = dataclasses.replace(config, batch_size=max(1, math.ceil(config.batch_size / ctx.world_size)))
    result = training.fit_embeddings(
        ddp, train, local, validate=validate, random_state=np.random.default_rng(int(seed)),
        verbose=bool(model.verbose) and ctx.rank == 0, callbacks=cbs, rank=ctx.rank, world_size=ctx.world_size,
        desc=type(model).__name__, checkpoint_dir=ckpt, checkpoint_every=every, keep_checkpoints=keep,
        resume=resume, fingerprint=model._resume_fingerprint(), clock=clock)
    stopped = result.stopped
    digests = _digest(module.ego, ctx)
    if len(set(digests)) != 1:
        raise DistributedError(f"ranks ended with different parameters (sha256 per rank: {digests})")
    model._finish_training(module, result.history, stopped, result.best_epoch)
    if ckpt is not None and ctx.rank == 0:
        written = _write_checkpoint(model, ckpt, "final", keep + 1)
    dist.barrier()
    return DistributedResult(ctx.rank, ctx.world_size, ctx.backend, result.history, result.best_epoch, stopped,
                             time.perf_counter() - start, comm["bytes"], comm["calls"], written,
                             result.resumed_from)
