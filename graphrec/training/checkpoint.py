"""Resumable training: the engine's checkpoint files, written atomically.

A checkpoint is everything a :class:`~graphrec.training.Trainer` needs to continue
a run as if it had never stopped: the module's trained tensors, the optimiser's
state (Adam's moments and step counts), the schedule's position (step, epoch,
elapsed seconds, learning rate), the sampler's random generator, the history,
the best validated state, the weight average, and a *fingerprint* of the run
(settings, data, world size) that a resumed run must match.

Files are ``train-state-NNNN.pt`` (``NNNN`` the epoch) in the checkpoint
directory, written with ``torch.save`` to a hidden temporary file in the same
directory, flushed and fsynced, then renamed into place (``os.replace`` is
atomic on POSIX and Windows), so a process killed mid-write leaves the previous
checkpoints intact and at most a hidden ``.tmp`` file, which readers ignore and
the next write removes. Files are read with ``torch.load(weights_only=True)``:
loading a checkpoint never runs code.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from graphrec.training.trainer import Trainer

__all__ = [
    "CHECKPOINT_PREFIX",
    "CheckpointError",
    "dense_state",
    "latest_training_checkpoint",
    "load_trainer_state",
    "read_training_checkpoint",
    "run_fingerprint",
    "trainer_state",
    "write_training_checkpoint",
]

logger = logging.getLogger(__name__)

#: file name prefix of the engine's checkpoints (``train-state-0007.pt``)
CHECKPOINT_PREFIX = "train-state-"
#: version of the checkpoint layout; a file of another version is refused
CHECKPOINT_FORMAT = 1
_NAME = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)\.pt$")


class CheckpointError(ValueError):
    """A training checkpoint cannot be used: missing, unreadable, or from a different run.

    The message names the file and, for a different run, the settings that differ.
    """


def _checkpoints(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_training_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The newest checkpoint file in ``directory`` (None when there is none).

    Examples
    --------
    >>> latest_training_checkpoint("no-checkpoints-here") is None
    True
    """
    found = _checkpoints(Path(directory))
    return found[-1][1] if found else None


def write_training_checkpoint(
    directory: str | os.PathLike, state: Mapping[str, Any], epoch: int, *, keep: int = 2
) -> Path:
    """Write ``state`` as ``train-state-{epoch:04d}.pt`` atomically; keep the newest ``keep``.

    Parameters
    ----------
    directory : path
        Created if missing.
    state : mapping
        Tensors, numbers, strings, lists and dicts (what ``torch.load(weights_only=True)`` reads).
    epoch : int
    keep : int, default 2
        Older checkpoint files beyond the newest ``keep`` are deleted (after the new
        one is in place).

    Returns
    -------
    Path
        The written file.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{CHECKPOINT_PREFIX}{epoch:04d}.pt"
    for stale in root.glob(f".{CHECKPOINT_PREFIX}*.tmp-*"):  # left by a process killed mid-write
        stale.unlink(missing_ok=True)
    tmp = root / f".{path.name}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            torch.save(dict(state), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(root)
    for _, old in _checkpoints(root)[: -max(1, keep)]:
        old.unlink(missing_ok=True)
    return path


def _fsync_dir(root: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(root, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without directory fsync
        pass
    finally:
        os.close(fd)


def read_training_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`write_training_checkpoint` (tensors on the CPU).

    Raises
    ------
    CheckpointError
        The file is missing, unreadable or truncated, or has another layout version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no training checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, pickle/zip errors, EOFError...
        raise CheckpointError(f"training checkpoint {path} is unreadable or corrupt: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} is not a graphrec training checkpoint of format {CHECKPOINT_FORMAT} (found {found!r})"
        )
    return state


def check_fingerprint(saved: Mapping[str, Any], current: Mapping[str, Any], path: Path) -> None:
    """Raise :class:`CheckpointError` naming every setting in which two runs differ."""
    keys = sorted(set(saved) | set(current))
    differ = [k for k in keys if saved.get(k) != current.get(k)]
    if differ:
        parts = ", ".join(f"{k}: checkpoint {saved.get(k)!r}, now {current.get(k)!r}" for k in differ[:6])
        more = f" (and {len(differ) - 6} more)" if len(differ) > 6 else ""
        raise CheckpointError(
            f"cannot resume from {path}: it belongs to a run with other settings or data ({parts}{more}); "
            "resume with the same model, settings, data and number of processes, or start afresh"
        )


def dense_state(module_or_state: Any) -> dict[str, torch.Tensor]:
    """A module's (or state dict's) dense tensors, as detached copies on the CPU.

    Sparse buffers (LightGCN's normalised adjacency) are left out: they are fixed
    by the data and rebuilt from it.
    """
    state = module_or_state if isinstance(module_or_state, Mapping) else module_or_state.state_dict()
    return {
        k: v.detach().cpu().clone()
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and v.layout == torch.strided
    }


def run_fingerprint(trainer: Trainer) -> dict[str, Any]:
    """What a resumed run must share with the checkpoint's run (JSON values).

    The :class:`~graphrec.training.TrainConfig`, the training edges (sizes and
    SHA-256 of the index and weight arrays), the module's class and tensor shapes,
    ``world_size``, and the trainer's extra ``fingerprint`` (the model's
    hyperparameters when a model fits).
    """
    train = trainer.train
    h = hashlib.sha256()
    for arr in (train.user_idx, train.item_idx, train.weights):
        h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes())
    shapes = {k: list(v.shape) for k, v in trainer.inner.state_dict().items()}
    out = {
        "config": dataclasses.asdict(trainer.config),
        "data": f"{train.n_users}x{train.n_items}:{train.nnz}:{h.hexdigest()}",
        "module": f"{type(trainer.inner).__name__}{shapes}",
        "world_size": trainer.world_size,
        **trainer.extra_fingerprint,
    }
    return dict(json.loads(json.dumps(out, default=str)))  # tuples -> lists, as they come back


def trainer_state(trainer: Trainer, finished: bool = False) -> dict[str, Any]:
    """Everything a :class:`~graphrec.training.Trainer` needs to continue after its current epoch.

    Module tensors (dense state), optimiser state, the sampler's random generator
    and torch's, step, epoch, elapsed seconds (the last clock reading), learning
    rate, history, why it stopped, the best validated state, the weight average,
    whether the run has finished, and :func:`run_fingerprint`.
    """
    avg = trainer.average
    return {
        "format": CHECKPOINT_FORMAT,
        "fingerprint": run_fingerprint(trainer),
        "epoch": trainer.epoch,
        "step": trainer.step,
        "elapsed": trainer.now,
        "lr": trainer.lr,
        "finished": bool(finished),
        "module": dense_state(trainer.inner),
        "optimizer": trainer.optimizer.state_dict(),
        "rng": trainer.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "history": copy.deepcopy(trainer.result.history),
        "stopped": trainer.result.stopped,
        "best_epoch": trainer.result.best_epoch,
        "best_metrics": dict(trainer.result.best_metrics),
        "best_score": trainer.best_score,
        "best_state": None if trainer.best_state is None else dense_state(trainer.best_state),
        "waited": trainer.waited,
        "average": None if avg is None else {"mean": avg.mean, "count": avg.count},
    }


def load_trainer_state(
    trainer: Trainer, state: Mapping[str, Any], path: str | os.PathLike = "checkpoint"
) -> None:
    """Put ``trainer`` where :func:`trainer_state` left an earlier run with the same settings.

    Raises
    ------
    CheckpointError
        ``state`` comes from a run with other settings, data or world size, or its
        tensors do not fit the module.
    """
    path = Path(path)
    check_fingerprint(state["fingerprint"], run_fingerprint(trainer), path)
    inner, device = trainer.inner, trainer.device
    try:
        inner.load_state_dict({**inner.state_dict(), **state["module"]})
        trainer.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"cannot resume from {path}: {exc}") from exc
    trainer.rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    trainer.epoch, trainer.step, trainer.lr = int(state["epoch"]), int(state["step"]), float(state["lr"])
    trainer.offset = trainer.now = float(state["elapsed"])
    trainer.start = trainer.clock()
    res = trainer.result
    res.history = [dict(h) for h in state["history"]]
    res.stopped = str(state["stopped"])
    res.best_epoch, res.best_metrics = state["best_epoch"], dict(state["best_metrics"])
    res.resumed_from = trainer.epoch
    trainer.best_score, trainer.waited = float(state["best_score"]), int(state["waited"])
    trainer.best_state = None
    if state["best_state"] is not None:
        best = {k: v.to(device) for k, v in state["best_state"].items()}
        trainer.best_state = {**inner.state_dict(), **best}
    if trainer.average is not None and state["average"] is not None:
        mean = state["average"]["mean"]
        trainer.average.mean = None if mean is None else mean.to(device)
        trainer.average.count = int(state["average"]["count"])
    trainer._finished = bool(state["finished"])
    logger.info("resumed from %s (epoch %d, step %d)", path, trainer.epoch, trainer.step)
