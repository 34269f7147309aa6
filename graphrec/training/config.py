"""The training engine's settings, owned once: :class:`TrainConfig`.

Every setting of the engine (objective, negatives, schedule, averaging, length,
validation cadence) is one field here, with its default, its check and its
documentation. Models trained by the engine expose these fields as flat
scikit-learn hyperparameters without restating them
(:func:`graphrec.training.estimator.engine_parameters`), so a new setting is one
new field.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass

from graphrec.losses import LOSSES
from graphrec.utils import check_positive_float, check_positive_int

__all__ = ["LR_DECAYS", "TrainConfig", "config_parameters_doc"]

#: learning-rate decays understood by :func:`graphrec.training.learning_rate`
LR_DECAYS = (None, "cosine", "linear")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the training engine (validated on construction).

    Parameters
    ----------
    loss : {"bpr", "bce", "infonce"}, default "bpr"
        Training objective (:mod:`graphrec.losses`). BPR/BCE score by dot product,
        InfoNCE by cosine over ``temperature``.
    n_negatives : int, default 1
        Negatives per positive, rejecting the user's seen items.
    neg_pool : int, default 0
        If > 0, score each batch against one shared pool of this many uniform
        items instead (cheap many-negative BPR/InfoNCE).
    hard_negatives : int, default 0
        With BPR and ``neg_pool``: keep only each user's hardest pool items
        (highest scores) in the loss, during the first ``hard_fraction`` of training.
    hard_fraction : float, default 1.0
        Share of training (of ``epochs`` or ``time_budget``) with hard negatives.
    initial_loss : {None, "bpr", "bce", "infonce"}, default None
        Loss for the first ``initial_fraction`` of training, before ``loss``
        (InfoNCE then BPR trains MF well on Gowalla).
    initial_fraction : float, default 0.0
    temperature : float, default 0.1
        InfoNCE temperature.
    reg : float, default 1e-4
        Weight of the L2 penalty on the batch's ego embeddings.
    lr : float, default 1e-2
        Adam learning rate.
    lr_warmup : int, default 0
        Linear warm-up steps.
    lr_decay : {None, "cosine", "linear"}, default None
        Decay over ``epochs`` or ``time_budget``, whichever binds: the schedule (and
        ``hard_fraction``, ``initial_fraction``, ``average_fraction``) reads the
        training progress ``max(step / total_steps, elapsed / time_budget)``,
        evaluated before every step; training stops when it reaches 1. A run that
        its budget stops before its epochs end thus still ends its schedule (the
        history's ``progress`` reaches 1 and ``stopped`` is "time_budget").
    lr_min_ratio : float, default 0.0
        Where the decay ends, as a fraction of ``lr``.
    average_fraction : float, default 0.0
        Stochastic weight averaging: the fitted embeddings come from the mean of
        the ego embeddings at the end of every epoch in the last
        ``average_fraction`` of training (0 keeps the last state).
    epochs : int, default 100
        Maximum passes over the training edges.
    batch_size : int, default 8192
    time_budget : float, optional
        Wall-clock seconds for the whole fit (validation included; a resumed run
        counts the seconds before it was killed). Checked after every step.
    patience : int, optional
        With ``fit(train, valid)``: stop after this many validations without a
        better Recall@20; the best state is restored in any case.
    eval_every : int, default 1
        Validate every this many epochs.
    contrastive_weight : float, default 0.0
        ``lambda`` of the contrastive term (SimGCL / XSimGCL, Yu et al. SIGIR 2022 and
        TKDE 2023); 0 switches it off. With it, every step propagates the ego
        embeddings with uniform noise added after each layer,
        ``E_k = A E_(k-1) + noise_eps * sign(A E_(k-1)) * normalize(U_k)``
        (``U_k ~ U[0, 1)`` per entry, rows normalised), and adds
        ``lambda * graphrec.losses.cross_view_loss`` over the batch's distinct users
        and items. Modules that propagate (LightGCN, MF) only.
    noise_eps : float, default 0.1
        ``eps``, the norm of each layer's noise.
    contrastive_temperature : float, default 0.2
        ``tau`` of the contrastive loss.
    contrast_layer : int or None, default 1
        XSimGCL (an int ``l``): one perturbed propagation serves the main loss, and its
        final embeddings are contrasted with its layer-``l`` embeddings. None: SimGCL,
        the main loss on the clean propagation and two more perturbed propagations
        contrasted with each other.

    Raises
    ------
    ValueError
        A setting out of range, naming it and the value it got.

    Examples
    --------
    >>> from graphrec.training import TrainConfig
    >>> TrainConfig(lr=0.05, lr_decay="cosine").lr
    0.05
    >>> TrainConfig(epochs=0)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be an integer >= 1, got 0
    """

    loss: str = "bpr"
    n_negatives: int = 1
    neg_pool: int = 0
    hard_negatives: int = 0
    hard_fraction: float = 1.0
    initial_loss: str | None = None
    initial_fraction: float = 0.0
    temperature: float = 0.1
    reg: float = 1e-4
    lr: float = 1e-2
    lr_warmup: int = 0
    lr_decay: str | None = None
    lr_min_ratio: float = 0.0
    average_fraction: float = 0.0
    epochs: int = 100
    batch_size: int = 8192
    time_budget: float | None = None
    patience: int | None = None
    eval_every: int = 1
    contrastive_weight: float = 0.0
    noise_eps: float = 0.1
    contrastive_temperature: float = 0.2
    contrast_layer: int | None = 1

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.n_negatives, "n_negatives")
        check_positive_int(self.neg_pool, "neg_pool", minimum=0)
        check_positive_int(self.lr_warmup, "lr_warmup", minimum=0)
        check_positive_int(self.eval_every, "eval_every")
        check_positive_float(self.lr, "lr")
        check_positive_float(self.reg, "reg", allow_zero=True)
        check_positive_float(self.temperature, "temperature")
        check_positive_int(self.hard_negatives, "hard_negatives", minimum=0)
        if self.hard_negatives and (
            self.loss != "bpr" or not self.neg_pool or self.hard_negatives > self.neg_pool
        ):
            raise ValueError(
                f"hard_negatives={self.hard_negatives!r} needs loss='bpr' and 0 < hard_negatives "
                f"<= neg_pool (got loss={self.loss!r}, neg_pool={self.neg_pool!r})"
            )
        for name in ("hard_fraction", "initial_fraction", "lr_min_ratio", "average_fraction"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
        if self.initial_loss is not None and self.initial_loss not in LOSSES:
            raise ValueError(
                f"initial_loss must be None or one of {LOSSES}, got {self.initial_loss!r}"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")
        if self.time_budget is not None:
            check_positive_float(self.time_budget, "time_budget")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        check_positive_float(self.contrastive_weight, "contrastive_weight", allow_zero=True)
        check_positive_float(self.noise_eps, "noise_eps", allow_zero=True)
        check_positive_float(self.contrastive_temperature, "contrastive_temperature")
        if self.contrast_layer is not None:
            check_positive_int(self.contrast_layer, "contrast_layer", minimum=0)


def config_parameters_doc(config: type[TrainConfig] = TrainConfig) -> str:
    """The numpydoc entries of ``config``'s fields, in field order.

    Each class in ``config``'s lineage documents the fields it adds in its own
    Parameters section. Lines keep a class docstring's four-space indentation, so
    the block drops into another class's Parameters section unchanged.

    Raises
    ------
    ValueError
        A field of ``config`` is documented nowhere in its lineage.
    """
    entries: dict[str, list[str]] = {}
    for klass in reversed(config.__mro__):
        doc = klass.__dict__.get("__doc__") if dataclasses.is_dataclass(klass) else None
        if not doc or "Parameters\n----------\n" not in inspect.cleandoc(doc):
            continue
        block = inspect.cleandoc(doc).split("Parameters\n----------\n", 1)[1].split("\n\n", 1)[0]
        for line in block.splitlines():
            if not line.startswith(" "):
                current = entries[line.split(" : ")[0]] = []
            current.append(line)
    names = [f.name for f in dataclasses.fields(config)]
    missing = [n for n in names if n not in entries]
    if missing:
        raise ValueError(f"{config.__name__} does not document the fields {missing}")
    return "\n".join("    " + line for n in names for line in entries[n])
