"""Rank 0's checkpoints: a new model directory per save (atomic rename), then an atomic LATEST pointer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["LATEST_FILE", "latest_checkpoint"]

LATEST_FILE = "LATEST"


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint under ``checkpoint_dir`` (load it with ``graphrec.load``).

    Follows the ``LATEST`` pointer (replaced atomically after each checkpoint);
    falls back to the last ``epoch-*`` directory that holds a model.

    Examples
    --------
    >>> latest_checkpoint("no-checkpoints-here") is None
    True
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
    model.save(path, overwrite=True)  # graphrec's own checkpoint folder (a resumed run rewrites it)
    tmp = root / f".{LATEST_FILE}.tmp-{os.getpid()}"
    tmp.write_text(name + "\n")
    os.replace(tmp, root / LATEST_FILE)
    older = sorted(p for p in root.glob("epoch-*") if p.name != name)
    for p in older[: max(0, len(older) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return path
