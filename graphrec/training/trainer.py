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

and :meth:`Trainer.fit` strings them together with the wall-clock budget, early
stopping, callbacks, the progress bar and Ctrl-C handling.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from graphrec.data.interactions import Interactions
from graphrec.sampling import make_batches, seen_keys
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
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    stopped: str = "epochs"


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
    ) -> None:
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
        self.best_score, self.best_state, self.waited = -math.inf, None, 0
        self.average = _WeightAverage(self.inner.ego) if c.average_fraction > 0 else None
        self.start = time.perf_counter()

    def progress(self) -> float:
        """Share of training done: of the steps, or of ``time_budget`` when that is further."""
        p = self.step / self.total_steps
        if self.config.time_budget:
            p = max(p, (time.perf_counter() - self.start) / self.config.time_budget)
        return p

    def schedule(self) -> tuple[str, int]:
        """Set the learning rate of the next step; return its loss and hard-negative count."""
        c = self.config
        self.lr = learning_rate(
            c.lr, self.progress(), self.step, warmup=c.lr_warmup, decay=c.lr_decay,
            min_ratio=c.lr_min_ratio,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        p = self.progress()
        loss = c.initial_loss if c.initial_loss and p < c.initial_fraction else c.loss
        hard = c.hard_negatives if loss == "bpr" and p < c.hard_fraction else 0
        return loss, hard

    def run_epoch(self, epoch: int) -> tuple[dict[str, Any], bool]:
        """One pass over the training edges; returns the epoch's record and whether time ran out."""
        c = self.config
        t0, losses = time.perf_counter(), []
        self.module.train()
        out_of_time = False
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
            if c.time_budget is not None and time.perf_counter() - self.start >= c.time_budget:
                out_of_time = True
                break
        record: dict[str, Any] = {
            "epoch": epoch,
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "seconds": round(time.perf_counter() - t0, 4),
            "lr": self.lr,
            "steps": self.step,
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

        Raises
        ------
        TrainingError
            Non-finite loss.
        """
        c = self.config
        self.start = time.perf_counter()
        bar = None
        if self.verbose and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=c.epochs, desc=self.desc or type(self.inner).__name__, unit="epoch")
        try:
            with cpu_threads(1 if self.inner.ego.numel() < _SMALL else None):
                for epoch in range(1, c.epochs + 1):
                    record, out_of_time = self.run_epoch(epoch)
                    self.average_epoch(record)
                    last = epoch == c.epochs or out_of_time
                    if self.validate is not None and (epoch % c.eval_every == 0 or last):
                        self.validate_epoch(epoch, record)
                    record["elapsed"] = round(time.perf_counter() - self.start, 4)
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
                        break
                    if out_of_time:
                        self.result.stopped = "time_budget"
                        break
                    if c.patience is not None and self.waited >= c.patience:
                        self.result.stopped = "early_stopping"
                        break
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
        desc=desc,
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
