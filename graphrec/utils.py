"""Small shared helpers: device resolution, seeding, argument checks."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_index_array",
    "check_index",
    "check_positive_float",
    "check_positive_int",
    "check_unit_interval",
    "numpy_rng",
    "positive_int_arg",
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
    if random_state is not None and (not isinstance(random_state, numbers.Integral) or random_state < 0):
        raise ValueError(f"random_state must be an int >= 0, a Generator or None, got {random_state!r}")
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
    """Return ``value`` as int, or raise ValueError naming the parameter.

    The one integer check of the library (``k``, sizes, counts, ...): booleans and
    non-integers are refused, and so is anything below ``minimum`` (use
    ``minimum=0`` for a non-negative count).

    Raises
    ------
    ValueError
        ``value`` is not an integer ``>= minimum``.

    Examples
    --------
    >>> check_positive_int(3, "k")
    3
    >>> check_positive_int(0, "n_layers", minimum=0)
    0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _finite(value: object) -> float | None:
    """``value`` as a finite float, or None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def check_positive_float(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float, or raise ValueError naming the parameter.

    ``allow_zero=True`` is the non-negative check (e.g. a regularisation weight).

    Raises
    ------
    ValueError
        ``value`` is not a finite number ``> 0`` (``>= 0`` with ``allow_zero``).

    Examples
    --------
    >>> check_positive_float(0.0, "alpha", allow_zero=True)
    0.0
    """
    out = _finite(value)
    if out is None or out < 0 or (out == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return out


def check_unit_interval(value: object, name: str) -> float:
    """Return ``value`` as float if it is a number in [0, 1], else raise ValueError naming it.

    Examples
    --------
    >>> check_unit_interval(0.5, "lambda_")
    0.5
    """
    out = _finite(value)
    if out is None or not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return out


def check_index(value: object, n: int, name: str) -> int:
    """Return one internal index as int if it lies in ``[0, n)``, else raise IndexError naming it.

    (:func:`as_index_array` is the array version.)

    Raises
    ------
    IndexError
        ``value`` is None, not an integer or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) < n:
        raise IndexError(f"{name} index {value} out of range [0, {n})")
    return int(value)


def positive_int_arg(text: str) -> int:
    """``argparse`` type for options that take an integer >= 1 (``type=positive_int_arg``).

    Raises
    ------
    argparse.ArgumentTypeError
        Not an integer >= 1; argparse prints the message after the option's name.
    """
    import argparse

    try:
        value = int(text)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


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
