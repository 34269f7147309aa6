"""The process group: joining it with a timeout, this rank's device, small collectives."""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["DEFAULT_TIMEOUT", "DistributedContext", "DistributedError", "free_port", "init_distributed"]

DEFAULT_TIMEOUT = 300.0


class DistributedError(RuntimeError):
    """A collective failed: another rank crashed or hung past the timeout, or ranks diverged."""


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
    """A TCP port that is free on ``host`` right now (the OS picks it).

    Examples
    --------
    >>> 1024 <= free_port() <= 65535
    True
    """
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


def _is_comm_failure(exc: BaseException) -> bool:
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return any(w in text for w in ("gloo", "nccl", "connection", "timed out", "timeout", "peer"))
