"""A memory ceiling for long runs: stop with :class:`MemoryCeilingError`, not the OS's kill.

Three layers, each catching what the one before cannot:

* **planned sizes**: :meth:`MemoryGuard.check` is called before a big allocation
  with its size (e.g. a score block, a dense matrix) and refuses it when current
  RSS plus the plan would pass the ceiling;
* **a watchdog thread** samples the process's RSS (``/proc/self/statm``) every
  ``interval`` seconds and, past the ceiling, interrupts the main thread, where
  :class:`MemoryCeilingError` is raised at the next Python bytecode (a long C call,
  e.g. one sparse product, finishes first);
* **an address-space limit** (``hard=True``, Linux): ``RLIMIT_AS`` is lowered to
  the ceiling plus the address space the process had mapped but not touched
  when the guard started, so an allocation past it fails inside numpy, scipy or
  torch; the guard turns that failure into :class:`MemoryCeilingError` on exit.
  Untouched mappings made after entry count against it, so it errs on the safe side.

Hand-written (no library offers a per-run ceiling that raises an exception):
``resource`` limits alone fail with whatever error the allocating library raises,
and cgroup limits end in the OS's kill.
"""

from __future__ import annotations

import _thread
import os
import resource
import threading
from types import TracebackType

from graphrec.exceptions import MemoryCeilingError
from graphrec.utils import check_positive_float

__all__ = ["MemoryCeilingError", "MemoryGuard", "peak_rss_mb", "reset_stage_peak", "rss_mb", "stage_peak_rss_mb"]

_MB = 2**20
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _statm() -> tuple[int, int]:
    """(virtual size, resident size) of this process in bytes; (0, peak RSS) off Linux."""
    try:
        with open("/proc/self/statm") as f:
            size, resident = f.read().split()[:2]
        return int(size) * _PAGE, int(resident) * _PAGE
    except OSError:
        return 0, int(peak_rss_mb() * _MB)


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux; elsewhere the peak so far).

    Examples
    --------
    >>> rss_mb() > 0
    True
    """
    return _statm()[1] / _MB


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (``ru_maxrss``; KiB on Linux).

    Examples
    --------
    >>> peak_rss_mb() >= 1
    True
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# The process's own memory figures are read from Linux's /proc/self (the kernel's interface for
# them; no package wraps VmHWM's reset), in this module only.
def stage_peak_rss_mb() -> float:
    """Peak resident memory since the last :func:`reset_stage_peak` (Linux ``VmHWM``), in MB.

    NaN where ``/proc/self/status`` has no ``VmHWM`` line; off Linux, :func:`peak_rss_mb`.

    Examples
    --------
    >>> stage_peak_rss_mb() > 0
    True
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return peak_rss_mb()
    return float("nan")


def reset_stage_peak() -> None:
    """Start a new stage for :func:`stage_peak_rss_mb`: reset ``VmHWM`` to the current RSS.

    Linux >= 4.0 (``/proc/self/clear_refs``); a no-op where it cannot be written.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _is_allocation_failure(exc: BaseException) -> bool:
    # numpy/scipy raise MemoryError; torch's CPU allocator a RuntimeError naming it.
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


class MemoryGuard:
    """Context manager that stops a run with :class:`MemoryCeilingError` at ``limit_mb``.

    Parameters
    ----------
    limit_mb : float
        Ceiling on the resident memory of this process, in MB.
    interval : float, default 0.05
        Seconds between RSS samples of the watchdog (0 disables the watchdog).
    hard : bool, default False
        Also lower ``RLIMIT_AS`` (see the module docstring); restored on exit.
        Use it in a process of its own (a benchmark job): the limit applies to
        every thread of the process.

    Attributes
    ----------
    peak_mb : float
        Largest RSS the watchdog or :meth:`check` saw.
    tripped : str or None
        What stopped the run, once it was stopped.

    Raises
    ------
    ValueError
        ``limit_mb`` not positive or ``interval`` negative.

    Examples
    --------
    >>> guard = MemoryGuard(limit_mb=1e6)
    >>> with guard:
    ...     guard.check(10 * 2**20, "a 10 MB buffer")
    >>> guard.tripped is None
    True
    """

    def __init__(self, limit_mb: float, *, interval: float = 0.05, hard: bool = False) -> None:
        self.limit_mb = check_positive_float(limit_mb, "limit_mb")
        self.interval = check_positive_float(interval, "interval", allow_zero=True)
        self.hard = hard
        self.peak_mb = 0.0
        self.tripped: str | None = None
        self._interrupted = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._old_limit: tuple[int, int] | None = None

    # ------------------------------------------------------------------ checks
    def check(self, planned_bytes: int = 0, what: str = "the next step") -> None:
        """Raise :class:`MemoryCeilingError` if RSS plus ``planned_bytes`` would pass the ceiling.

        Parameters
        ----------
        planned_bytes : int, default 0
            Size of the allocation about to be made.
        what : str
            Named in the error message.

        Raises
        ------
        MemoryCeilingError
            The plan does not fit.
        """
        now = rss_mb()
        self.peak_mb = max(self.peak_mb, now)
        planned = planned_bytes / _MB
        if now + planned > self.limit_mb:
            self.tripped = what
            raise MemoryCeilingError(
                f"{what} needs {planned:,.0f} MB with {now:,.0f} MB in use; "
                f"the memory ceiling is {self.limit_mb:,.0f} MB"
            )

    def _watch(self, main_id: int) -> None:
        while not self._stop.wait(self.interval):
            now = rss_mb()
            self.peak_mb = max(self.peak_mb, now)
            if now > self.limit_mb:
                self.tripped = f"resident memory {now:,.0f} MB"
                self._interrupted = True
                _thread.interrupt_main()  # a KeyboardInterrupt in the main thread, renamed in __exit__
                return

    # ------------------------------------------------------------------ context
    def __enter__(self) -> MemoryGuard:  # noqa: PYI034 (no typing_extensions dependency)
        self.tripped, self._interrupted = None, False
        self.check(0, "entering the guard")
        if self.hard and hasattr(resource, "RLIMIT_AS"):
            vsize, resident = _statm()
            if vsize:
                self._old_limit = resource.getrlimit(resource.RLIMIT_AS)
                cap = int(self.limit_mb * _MB) + max(0, vsize - resident)
                hard_cap = self._old_limit[1]
                if hard_cap != resource.RLIM_INFINITY:
                    cap = min(cap, hard_cap)
                resource.setrlimit(resource.RLIMIT_AS, (cap, hard_cap))
        if self.interval > 0 and threading.current_thread() is threading.main_thread():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._watch, args=(threading.get_ident(),), name="memory-guard", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._old_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, self._old_limit)
            self._old_limit = None
        if isinstance(exc, MemoryCeilingError):
            return
        if exc is None:
            if self._interrupted:  # the watchdog fired as the block ended
                raise MemoryCeilingError(
                    f"stopped: {self.tripped} passed the memory ceiling of {self.limit_mb:,.0f} MB"
                )
            return
        if isinstance(exc, KeyboardInterrupt) and self._interrupted:
            raise MemoryCeilingError(
                f"stopped: {self.tripped} passed the memory ceiling of {self.limit_mb:,.0f} MB"
            ) from None
        if _is_allocation_failure(exc):
            self.tripped = f"an allocation ({type(exc).__name__})"
            raise MemoryCeilingError(
                f"stopped: an allocation failed under the memory ceiling of {self.limit_mb:,.0f} MB "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            ) from exc

