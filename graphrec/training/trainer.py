"""The engine's loop: :class:`Trainer` and the functional door :func:`fit_embeddings`.

One :class:`Trainer` runs one fit of a module under a :class:`TrainConfig`. Its
steps are separate methods, so a driver or a subclass can change one without
copying the loop:

* :meth:`Trainer.run_epoch` -- one pass over the (sharded) training edges;
* :meth:`Trainer.schedule` -- learning rate, loss switching and hard negatives
  for the next step;
* :meth:`Trainer.average_epoch` -- stochastic weight averaging at epoch end;
* :meth:`Trainer.validate_epoch` -- validation and the best-state snapshot;
* :meth:`Trainer.restore` -- the state the fit leaves: best, averaged or last;
* :meth:`Trainer.state_dict` / :meth:`Trainer.load_state_dict` -- everything a
  killed run needs to continue exactly (written as checkpoints every
  ``checkpoint_every`` epochs, see :mod:`graphrec.training.checkpoint`);

and :meth:`Trainer.fit` strings them together with the wall-clock budget, early
stopping, callbacks, checkpoints, the progress bar and Ctrl-C handling.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphrec.data.interactions import Interactions
from graphrec.sampling import make_batches, seen_keys
from graphrec.training.checkpoint import (
    latest_training_checkpoint,
    load_trainer_state,
    read_training_checkpoint,
    run_fingerprint,
    trainer_state,
    write_training_checkpoint,
)
from graphrec.training.config import TrainConfig
from graphrec.training.steps import _SMALL, _unwrap, adam, cpu_threads, learning_rate, train_step
from graphrec.utils import numpy_rng

__all__ = ["TrainResult", "Trainer", "fit_embeddings"]

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`fit_embeddings` returns (the module itself is updated in place).

    Attributes
    ----------
    history : list of dict
        Per epoch: ``epoch``, ``loss`` (mean), ``seconds`` (epoch), ``elapsed``,
        ``lr`` (at epoch end), ``steps``, and ``metrics`` (dict, when validated).
    best_epoch : int or None
        Epoch whose state was restored (None without validation).
    best_metrics : dict
    stopped : str
        "epochs", "time_budget", "early_stopping", "callback" or "interrupted".
        "time_budget" means the budget bound before the epochs ended (the
        learning-rate schedule then followed the budget and ended with it).
    resumed_from : int or None
        The epoch of the checkpoint this fit continued from (None: a fresh start).
    checkpoint : Path or None
        The last checkpoint file written (None without ``checkpoint_dir``).
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    stopped: str = "epochs"
    resumed_from: int | None = None
    checkpoint: Path | None = None


class Trainer:
    """One fit of ``module`` on ``train``'s edges with Adam (the module is updated in place).

    Parameters
    ----------
    module : torch.nn.Module
        ``forward()`` -> final node embeddings; ``forward(rows, reg_weights)`` ->
        their rows and L2 penalty; ``ego`` -> layer-0 parameter; ``n_users``
        attribute. May be DDP-wrapped.
    train : Interactions
    config : TrainConfig, optional
        The engine's settings (default ``TrainConfig()``).
    validate : callable, optional
        Returns a metrics dict for the current module state (e.g. Recall@20 on a
        validation split). Enables best-state restore and early stopping
        (``config.patience``), every ``config.eval_every`` epochs and after the last.
    monitor : str, default "recall@20"
        The metric of ``validate`` that decides the best state.
    random_state : int or numpy Generator, optional
        Seeds the shuffling and negative sampling.
    verbose : bool
        Show a tqdm progress bar (rank 0 only).
    callbacks : sequence of callables
        Called with each epoch record; a callback returning True stops training.
    rank, world_size : int
        Data-parallel shard of every epoch.
    optimizer : torch.optim.Optimizer, optional
        Defaults to Adam over ``module.parameters()``.
    desc : str, optional
        Label of the progress bar.
    checkpoint_dir : path, optional
        Write a checkpoint (:meth:`state_dict`) here every ``checkpoint_every``
        epochs and when training ends, atomically (rank 0 only); the newest
        ``keep_checkpoints`` are kept.
    checkpoint_every : int, default 1
    keep_checkpoints : int, default 2
    resume : path, optional
        A checkpoint directory (or file): continue from its newest checkpoint, which
        must come from a run with the same settings, data and ``world_size``
        (:class:`~graphrec.training.checkpoint.CheckpointError` otherwise). With the
        same seed the resumed run ends with the same parameters as an uninterrupted
        one (``time_budget`` aside, which reads the clock). Elapsed time carries
        over, so ``time_budget`` counts the whole run. A directory without
        checkpoints starts afresh. Checkpoints go on into ``checkpoint_dir``, by
        default the ``resume`` directory.
    fingerprint : mapping, optional
        Further JSON values a resumed run must match (e.g. the model's hyperparameters).
    clock : callable, optional
        Returns the time in seconds (default ``time.perf_counter``). Data-parallel
        training passes rank 0's clock so all ranks follow one schedule and stop at
        the same step.

    Examples
    --------
    >>> import graphrec as gr
    >>> from graphrec.training import TrainConfig, Trainer
    >>> m = gr.MF(embedding_dim=4, random_state=0)
    >>> x = gr.datasets.synthetic(n_users=20, n_items=10, random_state=0).train
    >>> module = m._build_module(x, torch.device("cpu"), torch.Generator().manual_seed(0))
    >>> res = Trainer(module, x, TrainConfig(epochs=2, batch_size=32), random_state=0).fit()
    >>> (len(res.history), res.stopped)
    (2, 'epochs')
    """

    def __init__(
        self,
        module: torch.nn.Module,
        train: Interactions,
        config: TrainConfig | None = None,
        *,
        validate: Callable[[], dict[str, float]] | None = None,
        monitor: str = "recall@20",
        random_state: int | np.random.Generator | None = None,
        verbose: bool = False,
        callbacks: Sequence[Callable[[dict[str, Any]], bool | None]] = (),
        rank: int = 0,
        world_size: int = 1,
        optimizer: torch.optim.Optimizer | None = None,
        desc: str | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        keep_checkpoints: int = 2,
        resume: str | os.PathLike | None = None,
        fingerprint: Mapping[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        from graphrec.utils import check_positive_int

        self.config = c = config if config is not None else TrainConfig()
        self.module, self.train = module, train
        self.inner = _unwrap(module)
        self.validate, self.monitor = validate, monitor
        self.rng = numpy_rng(random_state)
        self.verbose, self.desc = verbose, desc
        self.callbacks = tuple(callbacks)
        self.rank, self.world_size = rank, world_size
        self.optimizer = optimizer or adam(module, c.lr)
        self.device = self.inner.ego.device
        self.keys = seen_keys(train.to_csr())
        steps_per_epoch = max(1, math.ceil((train.nnz // world_size) / c.batch_size))
        self.total_steps = c.epochs * steps_per_epoch
        self.result = TrainResult()
        self.step = 0
        self.lr = c.lr
        self.best_score, self.waited = -math.inf, 0
        self.best_state: dict[str, Any] | None = None
        self.average = _WeightAverage(self.inner.ego) if c.average_fraction > 0 else None
        self.clock = clock or time.perf_counter
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.resume = Path(resume) if resume is not None else None
        if self.checkpoint_dir is None and self.resume is not None:
            self.checkpoint_dir = self.resume if not self.resume.is_file() else self.resume.parent
        self.checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
        self.keep_checkpoints = check_positive_int(keep_checkpoints, "keep_checkpoints")
        self.extra_fingerprint = dict(fingerprint or {})
        self.epoch = 0  # epochs completed
        self.offset = 0.0  # seconds trained before this process (resumed runs)
        self.start = self.clock()
        self.now = 0.0  # elapsed seconds at the last clock reading
        self._finished = False  # a resumed checkpoint's run had already ended

    def elapsed(self) -> float:
        """Seconds of training so far (of this run, earlier processes included); reads the clock."""
        self.now = self.offset + self.clock() - self.start
        return self.now

    def progress(self) -> float:
        """Share of training done: of the steps, or of ``time_budget`` when that is further.

        The time share uses the last clock reading (:meth:`elapsed`), taken once per
        step, so the learning rate, the loss switch and the hard-negative phase of a
        step agree and data-parallel ranks read the same value.
        """
        p = self.step / self.total_steps
        if self.config.time_budget:
            p = max(p, self.now / self.config.time_budget)
        return p

    def schedule(self) -> tuple[str, int]:
        """Set the learning rate of the next step; return its loss and hard-negative count."""
        c = self.config
        p = self.progress()
        self.lr = learning_rate(
            c.lr, p, self.step, warmup=c.lr_warmup, decay=c.lr_decay, min_ratio=c.lr_min_ratio,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        loss = c.initial_loss if c.initial_loss and p < c.initial_fraction else c.loss
        hard = c.hard_negatives if loss == "bpr" and p < c.hard_fraction else 0
        return loss, hard

    def run_epoch(self, epoch: int) -> tuple[dict[str, Any], bool]:
        """One pass over the training edges; returns the epoch's record and whether time ran out."""
        c = self.config
        t0, losses = time.perf_counter(), []
        self.module.train()
        out_of_time = False
        if c.time_budget is not None:
            self.elapsed()  # validation and checkpoints since the last step count too
        for batch in make_batches(
            self.train,
            c.batch_size,
            rng=self.rng,
            n_negatives=c.n_negatives,
            neg_pool=c.neg_pool,
            keys=self.keys,
            rank=self.rank,
            world_size=self.world_size,
            device=self.device,
        ):
            loss, hard = self.schedule()
            losses.append(
                train_step(
                    self.module, self.optimizer, batch, loss=loss, reg=c.reg,
                    temperature=c.temperature, hard=hard,
                    contrast={"weight": c.contrastive_weight, "eps": c.noise_eps,
                              "temperature": c.contrastive_temperature, "layer": c.contrast_layer},
                )
            )
            self.step += 1
            if c.time_budget is not None and self.elapsed() >= c.time_budget:
                out_of_time = True
                break
        record: dict[str, Any] = {
            "epoch": epoch,
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "seconds": round(time.perf_counter() - t0, 4),
            "lr": self.lr,
            "steps": self.step,
            "progress": round(min(self.progress(), 1.0), 6),
        }
        return record, out_of_time

    def average_epoch(self, record: dict[str, Any]) -> None:
        """Add the epoch's state to the running mean once in the averaged share of training."""
        if self.average is not None and self.progress() >= 1 - self.config.average_fraction:
            record["averaged"] = self.average.add()

    def validate_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        """Validate (the running mean once averaging) and snapshot the best state so far.

        Does nothing without a ``validate`` callable.
        """
        if self.validate is None:
            return
        self.module.eval()
        with torch.no_grad(), _maybe_swapped(self.average):
            metrics = {k: float(v) for k, v in self.validate().items()}
            score = metrics[self.monitor]
            if score > self.best_score:  # the state validated: the mean once averaging
                self.best_score, self.waited = score, 0
                self.best_state = copy.deepcopy(self.inner.state_dict())
                self.result.best_epoch, self.result.best_metrics = epoch, metrics
            else:
                self.waited += 1
        record["metrics"] = metrics

    def restore(self) -> None:
        """Leave the module in the best validated state, else the running mean, else the last."""
        if self.best_state is not None:
            self.inner.load_state_dict(self.best_state)
        elif self.average is not None:
            self.average.install()
        self.module.eval()

    def fit(self) -> TrainResult:
        """Run the epochs; returns the :class:`TrainResult` (the module is updated in place).

        With ``resume``, first loads the newest checkpoint there and continues after
        its epoch (a checkpoint of a finished run just restores its end state).

        Raises
        ------
        TrainingError
            Non-finite loss.
        CheckpointError
            ``resume`` holds a checkpoint that is unreadable or from another run.
        """
        c = self.config
        self.start = self.clock()
        if self.resume is not None:
            path = self.resume if self.resume.is_file() else latest_training_checkpoint(self.resume)
            if path is not None:
                self.load_state_dict(read_training_checkpoint(path), path)
        finished = self.result.resumed_from is not None and self._finished
        bar = None
        if self.verbose and self.rank == 0 and not finished:
            from tqdm.auto import tqdm

            bar = tqdm(total=c.epochs, initial=self.epoch,
                       desc=self.desc or type(self.inner).__name__, unit="epoch")
        try:
            with cpu_threads(1 if self.inner.ego.numel() < _SMALL else None):
                for epoch in range(self.epoch + 1, c.epochs + 1):
                    if finished:
                        break
                    record, out_of_time = self.run_epoch(epoch)
                    self.average_epoch(record)
                    last = epoch == c.epochs or out_of_time
                    if self.validate is not None and (epoch % c.eval_every == 0 or last):
                        self.validate_epoch(epoch, record)
                    record["elapsed"] = round(self.elapsed(), 4)
                    self.result.history.append(record)
                    if bar is not None:
                        bar.update(1)
                        metrics = record.get("metrics", {})
                        shown = {k: f"{v:.4f}" for k, v in metrics.items() if k == self.monitor}
                        bar.set_postfix(loss=f"{record['loss']:.4f}", **shown)
                    logger.debug("epoch %s", record)
                    with _maybe_swapped(self.average):
                        stop = any(cb(record) for cb in self.callbacks)
                    if stop:
                        self.result.stopped = "callback"
                    elif out_of_time:
                        self.result.stopped = "time_budget"
                    elif c.patience is not None and self.waited >= c.patience:
                        self.result.stopped = "early_stopping"
                    self.epoch = epoch
                    finished = stop or out_of_time or self.result.stopped != "epochs" or last
                    if self.checkpoint_dir is not None and (finished or epoch % self.checkpoint_every == 0):
                        self.save_checkpoint(finished)
        except KeyboardInterrupt:
            logger.warning(
                "training interrupted at step %d; keeping the best state so far", self.step
            )
            self.result.stopped = "interrupted"
        finally:
            if bar is not None:
                bar.close()
        self.restore()
        return self.result

    # ------------------------------------------------------------------ checkpoints
    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the checkpoint's: settings, data, processes.

        See :func:`graphrec.training.checkpoint.run_fingerprint`.
        """
        return run_fingerprint(self)

    def state_dict(self, finished: bool = False) -> dict[str, Any]:
        """Everything needed to continue this run after the current epoch.

        See :func:`graphrec.training.checkpoint.trainer_state`.
        """
        return trainer_state(self, finished)

    def load_state_dict(self, state: Mapping[str, Any], path: str | os.PathLike = "checkpoint") -> None:
        """Continue from ``state`` (:meth:`state_dict` of an earlier run with the same settings).

        Raises
        ------
        CheckpointError
            ``state`` comes from a run with other settings, data or world size.
        """
        load_trainer_state(self, state, path)

    def save_checkpoint(self, finished: bool = False) -> Path | None:
        """Write :meth:`state_dict` to ``checkpoint_dir`` atomically (rank 0; None elsewhere)."""
        if self.checkpoint_dir is None:
            return None
        self.elapsed()  # on every rank: a data-parallel clock is a collective
        if self.rank != 0:
            return None
        state = self.state_dict(finished)
        self.result.checkpoint = write_training_checkpoint(
            self.checkpoint_dir, state, self.epoch, keep=self.keep_checkpoints
        )
        return self.result.checkpoint


def fit_embeddings(
    module: torch.nn.Module,
    train: Interactions,
    config: TrainConfig | None = None,
    *,
    validate: Callable[[], dict[str, float]] | None = None,
    monitor: str = "recall@20",
    random_state: int | np.random.Generator | None = None,
    verbose: bool = False,
    callbacks: Sequence[Callable[[dict[str, Any]], bool | None]] = (),
    rank: int = 0,
    world_size: int = 1,
    optimizer: torch.optim.Optimizer | None = None,
    desc: str | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    keep_checkpoints: int = 2,
    resume: str | os.PathLike | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    clock: Callable[[], float] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train ``module`` on ``train``'s edges with Adam; the module is updated in place.

    A thin door over :class:`Trainer`: ``Trainer(module, train, config, ...).fit()``.

    Parameters
    ----------
    module : torch.nn.Module
        The engine's module protocol (see :class:`Trainer`).
    train : Interactions
    config : TrainConfig, optional
        The engine's settings (default ``TrainConfig()``).
    validate, monitor, random_state, verbose, callbacks, rank, world_size, optimizer, desc
        See :class:`Trainer`.
    checkpoint_dir, checkpoint_every, keep_checkpoints, resume, fingerprint, clock
        See :class:`Trainer`.
    **overrides
        :class:`TrainConfig` fields that replace those of ``config``
        (e.g. ``fit_embeddings(module, train, epochs=5, lr=0.05)``).

    Returns
    -------
    TrainResult

    Raises
    ------
    TypeError
        An override that is not a :class:`TrainConfig` field.
    ValueError
        A setting out of range.
    TrainingError
        Non-finite loss.

    Examples
    --------
    >>> import graphrec as gr
    >>> import torch
    >>> from graphrec.training import fit_embeddings
    >>> x = gr.datasets.synthetic(n_users=20, n_items=10, random_state=0).train
    >>> module = gr.MF(embedding_dim=4)._build_module(x, torch.device("cpu"), torch.Generator())
    >>> fit_embeddings(module, x, epochs=3, batch_size=64, random_state=0).stopped
    'epochs'
    """
    config = config if config is not None else TrainConfig()
    if overrides:
        config = dataclasses.replace(config, **overrides)
    return Trainer(
        module, train, config, validate=validate, monitor=monitor, random_state=random_state,
        verbose=verbose, callbacks=callbacks, rank=rank, world_size=world_size, optimizer=optimizer,
        desc=desc, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints, resume=resume, fingerprint=fingerprint, clock=clock,
    ).fit()


class _WeightAverage:
    """Running mean of a parameter's states (stochastic weight averaging).

    Written by hand rather than with ``torch.optim.swa_utils.AveragedModel``: that
    deep-copies the whole module (the adjacency buffers included) and averages every
    parameter, where only the ego table is trained and needs one extra tensor.
    """

    def __init__(self, param: torch.Tensor) -> None:
        self.param = param
        self.mean: torch.Tensor | None = None
        self.count = 0

    def add(self) -> int:
        with torch.no_grad():
            if self.mean is None:
                self.mean = self.param.detach().clone()
            else:
                self.mean.lerp_(self.param.detach(), 1.0 / (self.count + 1))
        self.count += 1
        return self.count

    def install(self) -> None:
        """Replace the parameter's values by the mean (no-op before the first state)."""
        if self.mean is not None:
            with torch.no_grad():
                self.param.copy_(self.mean)


@contextlib.contextmanager
def _maybe_swapped(average: _WeightAverage | None) -> Iterator[None]:
    """Let the parameter hold the running mean inside the block, the live state after."""
    if average is None or average.mean is None:
        yield
        return
    live = average.param.detach().clone()
    average.install()
    try:
        yield
    finally:
        with torch.no_grad():
            average.param.copy_(live)
