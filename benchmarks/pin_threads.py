"""``--threads N`` for the tuning studies: pin a search to N threads, and say what was pinned.

Imports only the standard library at module level, so a script can call
:func:`pin_from_argv` before numpy or torch is imported: OpenBLAS, MKL and OpenMP read
their thread counts from the environment once, when they load. :func:`pin_threads` then
also sets torch's intra-op threads and caps any BLAS/OpenMP pool already loaded
(threadpoolctl), which is what a caller that imported numpy first (a test calling
``main(argv)``) gets. Libraries with their own thread argument (implicit's and LightFM's
``num_threads``) are passed N by the scripts.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["THREAD_ENV", "parse_threads", "pin_from_argv", "pin_threads"]

#: the environment variables the native thread pools read when they load
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS")

_LIMITS: list[Any] = []  # keeps the threadpoolctl limiter alive for the process
_EARLY: dict[str, int] = {}  # what pin_from_argv set while numpy was not yet loaded


def parse_threads(value: str) -> int:
    """``--threads`` as a positive integer (an ``argparse`` type).

    Raises
    ------
    argparse.ArgumentTypeError
        Not an integer >= 1.
    """
    import argparse

    try:
        n = int(value)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"--threads must be an integer >= 1, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--threads must be an integer >= 1, got {value!r}")
    return n


def pin_from_argv(argv: list[str] | None = None) -> int | None:
    """Set the thread environment from ``--threads N`` / ``--threads=N`` in ``argv`` (default
    ``sys.argv``) before numpy/torch load; return N, or None when absent or malformed (argparse
    reports a malformed value later)."""
    args = sys.argv[1:] if argv is None else list(argv)
    value = None
    for i, arg in enumerate(args):
        if arg == "--threads" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        return None
    if n < 1:
        return None
    if "numpy" not in sys.modules and "torch" not in sys.modules:
        _EARLY["threads"] = n
    for var in THREAD_ENV:
        os.environ[var] = str(n)
    return n


def pin_threads(n: int) -> dict[str, Any]:
    """Pin this process to ``n`` threads now; return what was pinned, for the JSON.

    Sets the environment (effective for pools not yet loaded), ``torch.set_num_threads(n)``
    and ``torch.set_num_interop_threads(n)`` (the latter only before torch's first parallel
    work; skipped otherwise) and threadpoolctl's limit on every loaded BLAS/OpenMP pool.
    """
    early = _EARLY.get("threads") == n or ("numpy" not in sys.modules and "torch" not in sys.modules)
    for var in THREAD_ENV:
        os.environ[var] = str(n)
    record: dict[str, Any] = {"threads": n, "env": {var: os.environ[var] for var in THREAD_ENV},
                              "env_set_before_numpy": early}
    try:
        import torch

        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # torch allows it once, before any inter-op work
            pass
        record["torch_threads"] = torch.get_num_threads()
        record["torch_interop_threads"] = torch.get_num_interop_threads()
    except ImportError:
        record["torch_threads"] = None
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        _LIMITS.append(threadpool_limits(limits=n))
        record["threadpools"] = [{"api": p.get("internal_api"), "num_threads": p.get("num_threads")}
                                 for p in threadpool_info()]
    except ImportError:
        record["threadpools"] = None
    return record
