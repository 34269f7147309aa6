"""Starting local ranks, and the ``python -m graphrec.distributed`` command line.

``torchrun --nproc_per_node N -m graphrec.distributed ...`` runs one worker per
process (it sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...). Without torchrun,
``python -m graphrec.distributed --nproc N ...`` (or :func:`launch`) starts the N
ranks itself on 127.0.0.1 and ends the job when one of them fails.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch.distributed as dist

from graphrec.distributed.context import (
    DEFAULT_TIMEOUT,
    DistributedError,
    _is_comm_failure,
    free_port,
    init_distributed,
)
from graphrec.distributed.evaluation import evaluate_distributed
from graphrec.distributed.fit import fit_distributed

__all__ = ["launch", "main"]

logger = logging.getLogger(__name__)


class _Forked:
    """A forked rank with the small Popen interface :func:`launch` uses."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self._p = multiprocessing.get_context("fork").Process(target=_run_forked, args=(argv, env))
        self._p.start()

    @property
    def returncode(self) -> int | None:
        return self._p.exitcode

    def poll(self) -> int | None:
        return self._p.exitcode

    def terminate(self) -> None:
        self._p.terminate()

    def kill(self) -> None:
        self._p.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        self._p.join(timeout)
        if self._p.exitcode is None:
            raise subprocess.TimeoutExpired("rank", timeout or 0)
        return self._p.exitcode


def _run_forked(argv: list[str], env: dict[str, str]) -> None:
    import torch

    os.environ.clear()
    os.environ.update(env)
    torch.set_num_threads(int(env["OMP_NUM_THREADS"]))  # torch read it before the fork
    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def launch(args: Sequence[str], nproc: int = 2, *, port: int | None = None, timeout: float = DEFAULT_TIMEOUT,
           threads: int | None = None, grace: float = 10.0, fork: bool = False) -> int:
    """Run the ``python -m graphrec.distributed`` worker with ``args`` as ``nproc`` ranks on 127.0.0.1.

    A small stand-in for ``torchrun --nproc_per_node N`` on one machine. When a
    rank fails, the others get ``timeout + grace`` seconds to fail on their own
    (they do, through the process-group timeout) before they are terminated.

    Parameters
    ----------
    args : sequence of str
        Worker arguments (see ``python -m graphrec.distributed --help``).
    nproc : int, default 2
    port : int, optional
        Rendezvous port on 127.0.0.1 (default: a free one).
    timeout : float
        The workers' process-group timeout (pass the same ``--timeout`` in ``args``).
    threads : int, optional
        ``OMP_NUM_THREADS`` per rank (default: the CPUs available / ``nproc``).
    grace : float, default 10
    fork : bool, default False
        Fork the ranks from this process instead of starting fresh interpreters:
        no second import of torch (seconds per rank), but only safe from a process
        that has not run torch computations yet (as ``python -m graphrec.distributed``).

    Returns
    -------
    int
        0, or the exit code of the first rank that failed (128 + signal number if killed).

    Raises
    ------
    ValueError
        ``nproc < 1``.

    Examples
    --------
    Two ranks of MF on a synthetic graph, rank 0 writing ``out/``::

        code = launch(["--model", "mf", "--dataset", "synthetic", "--output", "out"], nproc=2)
    """
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port or free_port()),
               WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc))
    if sys.platform == "linux":
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # keep gloo on the loopback interface
    env.setdefault("OMP_NUM_THREADS", str(threads or max(1, cpus // nproc)))
    procs: list[Any] = []
    for r in range(nproc):
        env_r = dict(env, RANK=str(r), LOCAL_RANK=str(r))
        if fork:
            procs.append(_Forked(list(args), env_r))
        else:
            procs.append(subprocess.Popen([sys.executable, "-m", "graphrec.distributed", *args], env=env_r))
    first: tuple[int, int] | None = None
    failed_at = 0.0
    try:
        while any(p.poll() is None for p in procs):
            if first is None:
                bad = [(r, p.returncode) for r, p in enumerate(procs) if p.returncode not in (None, 0)]
                if bad:
                    first, failed_at = bad[0], time.monotonic()
                    print(f"graphrec.distributed: rank {first[0]} failed ({_describe(first[1])}); "
                          f"waiting up to {timeout + grace:g}s for the other ranks", file=sys.stderr, flush=True)
            elif time.monotonic() - failed_at > timeout + grace:
                break
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    codes = [p.returncode for p in procs]
    if first is None:
        first = next(((r, c) for r, c in enumerate(codes) if c != 0), (0, 0))
    if first[1] != 0:
        print("graphrec.distributed: job failed; " + ", ".join(
            f"rank {r}: {_describe(c)}" for r, c in enumerate(codes)), file=sys.stderr, flush=True)
    return 0 if first[1] == 0 else (128 - first[1] if first[1] < 0 else first[1])


def _describe(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


# ---------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m graphrec.distributed",
        description="Data-parallel LightGCN/MF training. Under torchrun each process is one rank; "
        "run directly, --nproc N starts N local ranks on 127.0.0.1.")
    p.add_argument("--model", default="lightgcn", help="registered model name (lightgcn, mf)")
    p.add_argument("--dataset", default="sample", help="dataset name, or 'synthetic'")
    p.add_argument("--data-root", default=None)
    p.add_argument("--n-users", type=int, default=400, help="synthetic only")
    p.add_argument("--n-items", type=int, default=200, help="synthetic only")
    p.add_argument("--n-communities", type=int, default=4, help="synthetic only")
    p.add_argument("--valid-size", type=float, default=0.0,
                   help="carve a validation split from train (per user) when the dataset has none")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="model hyperparameter (value parsed as JSON), repeatable")
    p.add_argument("--seed", type=int, default=0, help="model random_state")
    p.add_argument("--data-seed", type=int, default=0, help="synthetic data and validation split seed")
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--checkpoint-every", type=int, default=1)
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue a killed job from the newest training checkpoint in DIR (same settings)")
    p.add_argument("--output", default=None, help="rank 0 writes model/ and result.json here")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="process-group timeout, seconds")
    p.add_argument("--backend", default=None, choices=["gloo", "nccl"])
    p.add_argument("--nproc", type=int, default=1, help="local ranks to start (ignored under torchrun)")
    p.add_argument("--port", type=int, default=None, help="with --nproc: rendezvous port (default: a free one)")
    p.add_argument("--fail-at", default=None, metavar="RANK:EPOCH[:kill|hang|raise]",
                   help="testing aid: that rank dies (SIGKILL), hangs or raises after that epoch")
    return p


def _failure(spec: str, rank: int) -> Callable[[dict[str, Any]], None]:
    who, epoch, *mode = spec.split(":")
    how = mode[0] if mode else "kill"

    def fail(record: dict[str, Any]) -> None:
        if rank == int(who) and record["epoch"] == int(epoch):
            logger.error("rank %d: injected failure (%s) after epoch %d", rank, how, record["epoch"])
            if how == "hang":
                time.sleep(10**6)
            if how == "raise":
                raise RuntimeError(f"injected failure on rank {rank} after epoch {record['epoch']}")
            os.kill(os.getpid(), signal.SIGKILL)

    return fail


def _worker(a: argparse.Namespace) -> int:
    import graphrec as gr
    from graphrec.models import get_model_class

    if a.dataset == "synthetic":
        ds = gr.datasets.synthetic(n_users=a.n_users, n_items=a.n_items, n_communities=a.n_communities,
                                   random_state=a.data_seed)
    else:
        ds = gr.datasets.load(a.dataset, root=a.data_root)
    train, valid = ds.train, ds.valid
    if valid is None and a.valid_size > 0:
        sp = gr.splits.validation_split(train, a.valid_size, random_state=a.data_seed)
        train, valid = sp.train, sp.valid
    params: dict[str, Any] = {"random_state": a.seed}
    for item in a.param:
        key, _, text = item.partition("=")
        try:
            params[key] = json.loads(text)
        except json.JSONDecodeError:
            params[key] = text
    model = get_model_class(a.model)(**params)
    ctx = init_distributed(model.device, a.backend, timeout=a.timeout)
    try:
        callbacks = [_failure(a.fail_at, ctx.rank)] if a.fail_at else []
        res = fit_distributed(model, train, valid, checkpoint_dir=a.checkpoint_dir,
                              checkpoint_every=a.checkpoint_every, timeout=a.timeout, callbacks=callbacks,
                              resume=a.resume)
        metrics = evaluate_distributed(model, ds.test, k=(10, 20))  # sharded over ranks
    except RuntimeError as exc:
        if isinstance(exc, DistributedError) or not _is_comm_failure(exc):
            raise
        raise DistributedError(f"rank {ctx.rank}: evaluation failed: {exc}") from exc
    if ctx.created:
        dist.destroy_process_group()
    if a.output:  # every rank: its final embeddings, to compare across ranks
        out = Path(a.output)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / f"rank{res.rank}.npz", user=model.user_embeddings_, item=model.item_embeddings_)
    if res.rank == 0:
        full = gr.evaluate(model, ds.test, k=(10, 20))
        summary = {"world_size": res.world_size, "backend": res.backend, "metrics": metrics,
                   "full_metrics": {k: v for k, v in full.items() if isinstance(v, (int, float))},
                   "stopped": res.stopped, "best_epoch": res.best_epoch, "seconds": res.seconds,
                   "epoch_seconds": [h["seconds"] for h in res.history], "allreduce_bytes": res.allreduce_bytes,
                   "allreduce_calls": res.allreduce_calls, "n_parameters": int(sum(
                       v.size for v in (model.user_embeddings_, model.item_embeddings_))),
                   "history": res.history, "checkpoint": str(res.checkpoint) if res.checkpoint else None,
                   "resumed_from": res.resumed_from}
        logger.info("rank 0: recall@20 %.4f ndcg@20 %.4f in %.2fs (%s)", metrics["recall@20"],
                    metrics["ndcg@20"], res.seconds, res.stopped)
        if a.output:
            model.save(Path(a.output) / "model", overwrite=True)
            (Path(a.output) / "result.json").write_text(json.dumps(summary, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m graphrec.distributed``: returns 0, or ends the process with code 1.

    A failed worker calls ``os._exit(1)`` after reporting (tearing down a broken
    process group can block), so call it as a program, not from a library.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    a = _parser().parse_args(argv)
    rank = os.environ.get("RANK")
    logging.basicConfig(level=logging.INFO, format=f"[rank {rank or 0}] %(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)
    if rank is None and a.nproc > 1:
        # import once, before forking the ranks (DDP pulls in torch._dynamo lazily: seconds)
        import torch._dynamo  # noqa: F401

        import graphrec.models.lightgcn  # noqa: F401

        return launch(argv, a.nproc, port=a.port, timeout=a.timeout, fork=sys.platform == "linux")
    faulthandler.register(signal.SIGTERM, chain=True)  # a terminated (hung) rank shows where it was
    try:
        return _worker(a)
    except Exception as exc:  # noqa: BLE001  (any failure: report, then exit without destructors)
        if isinstance(exc, DistributedError):
            print(f"graphrec.distributed: {exc}", file=sys.stderr, flush=True)
        else:
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)  # skip destructors: a broken gloo group can block the exit on its pending work


