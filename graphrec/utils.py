"""Small shared helpers: device resolution, seeding, argument checks."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_index_array",
    "check_positive_float",
    "check_positive_int",
    "numpy_rng",
    "resolve_device",
    "torch_generator",
]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or None) -> CUDA when available, else CPU; anything else as given.

    Raises
    ------
    ValueError
        CUDA asked for but not available, or an unknown device string.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available")
    return dev


def numpy_rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed (or a Generator, passed through)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and not isinstance(random_state, numbers.Integral):
        raise ValueError(f"random_state must be an int, a Generator or None, got {random_state!r}")
    return np.random.default_rng(random_state)


def torch_generator(random_state: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A seeded torch Generator (fresh entropy when random_state is None)."""
    g = torch.Generator(device=device)
    if random_state is None:
        g.seed()
    else:
        g.manual_seed(int(random_state))
    return g


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as int, or raise ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float, or raise ValueError naming the parameter."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def as_index_array(values: ArrayLike, n: int, name: str) -> NDArray[np.int64]:
    """Validate internal indices: integers in ``[0, n)``.

    Raises
    ------
    TypeError
        Non-integer values.
    IndexError
        Values out of range (the first few are named).
    """
    arr = np.atleast_1d(np.asarray(values))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be internal integer indices, got dtype {arr.dtype}; "
            "map your own ids with x.users.to_index(...) or use the *_frame methods"
        )
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise IndexError(f"{name} out of range [0, {n}): {arr[bad][:5].tolist()}")
    return arr.astype(np.int64)
