"""Data-parallel training with ``torch.distributed`` (DDP; gloo on CPU, NCCL on GPU).

:func:`fit_distributed` fits a LightGCN or MF model inside each rank of a
torchrun job; :func:`launch` (or ``python -m graphrec.distributed --nproc N``)
starts the ranks on one machine. See docs/scaling.md for what this covers and
the path to larger graphs.

Examples
--------
Two local ranks on the bundled sample, checkpoints from rank 0::

    torchrun --nproc_per_node 2 -m graphrec.distributed --dataset sample \\
        --model lightgcn --param epochs=20 --checkpoint-dir ckpt --output out
    python -m graphrec.distributed --nproc 2 --dataset sample --output out
"""

from graphrec.distributed.checkpoints import latest_checkpoint
from graphrec.distributed.context import (
    DEFAULT_TIMEOUT,
    DistributedContext,
    DistributedError,
    free_port,
    init_distributed,
)
from graphrec.distributed.evaluation import evaluate_distributed
from graphrec.distributed.fit import DistributedResult, fit_distributed
from graphrec.distributed.launch import launch, main

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
    "launch",
    "main",
]
