"""The one training engine shared by every trainable embedding model.

Split along its seams; every name is importable from ``graphrec.training``:

* :mod:`~graphrec.training.config` -- :class:`TrainConfig`, the engine's settings
  (defaults, checks and documentation, once);
* :mod:`~graphrec.training.steps` -- the per-step pieces (:func:`batch_rows`,
  :func:`batch_objective`, :func:`batch_loss`, :func:`train_step`, :func:`adam`,
  :func:`learning_rate`, :func:`cpu_threads`); batches come from
  :func:`graphrec.sampling.make_batches`;
* :mod:`~graphrec.training.trainer` -- :class:`Trainer` (epoch, schedule,
  averaging, validation and restore as separate methods) and the functional door
  :func:`fit_embeddings`;
* :mod:`~graphrec.training.checkpoint` -- resumable training: atomic checkpoint
  files of a run's whole state (:func:`write_training_checkpoint`,
  :func:`read_training_checkpoint`, :func:`latest_training_checkpoint`,
  :class:`CheckpointError`);
* :mod:`~graphrec.training.estimator` -- how a model exposes the settings as flat
  scikit-learn hyperparameters (:func:`engine_parameters`) and what a driver of
  the engine asks of it (:class:`TrainableModel`), used by one-process fitting
  and :mod:`graphrec.distributed` alike.
"""

from __future__ import annotations

from graphrec.sampling import Batch, make_batches
from graphrec.training.checkpoint import (
    CheckpointError,
    latest_training_checkpoint,
    read_training_checkpoint,
    write_training_checkpoint,
)
from graphrec.training.config import LR_DECAYS, TrainConfig, config_parameters_doc
from graphrec.training.estimator import TrainableModel, engine_parameters
from graphrec.training.steps import (
    adam,
    batch_loss,
    batch_objective,
    batch_rows,
    cpu_threads,
    learning_rate,
    train_step,
)
from graphrec.training.trainer import Trainer, TrainResult, fit_embeddings

__all__ = [
    "LR_DECAYS",
    "Batch",
    "CheckpointError",
    "TrainConfig",
    "TrainResult",
    "TrainableModel",
    "Trainer",
    "adam",
    "batch_loss",
    "batch_objective",
    "batch_rows",
    "config_parameters_doc",
    "cpu_threads",
    "engine_parameters",
    "fit_embeddings",
    "latest_training_checkpoint",
    "learning_rate",
    "make_batches",
    "read_training_checkpoint",
    "train_step",
    "write_training_checkpoint",
]
