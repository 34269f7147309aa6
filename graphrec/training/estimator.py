"""How an estimator trained by the engine exposes and uses the engine's settings.

* :func:`engine_parameters` -- a class decorator that gives a model the flat,
  keyword-only constructor scikit-learn needs (``get_params``, ``set_params``,
  ``clone``, ``repr``): the model writes ``__init__`` for its own parameters only
  and takes the engine's through ``**engine``; the decorator publishes the full
  signature (the model's parameters plus every :class:`TrainConfig` field, with
  its default) and documents the engine's fields in the class docstring.
* :class:`TrainableModel` -- the mixin every such model inherits: its
  :class:`TrainConfig`, and the two steps any driver of the engine needs from
  the model (build the trainable module, keep its trained state). One-process
  fitting and :mod:`graphrec.distributed` both go through these methods.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import torch

from graphrec.data.interactions import Interactions
from graphrec.training.config import TrainConfig, config_parameters_doc

logger = logging.getLogger(__name__)

__all__ = ["TrainableModel", "engine_parameters"]

#: the line of a model's docstring that :func:`engine_parameters` replaces by the engine's entries
DOC_MARKER = "{engine_parameters}"

_T = TypeVar("_T", bound=type)


class TrainableModel:
    """Mixin of models trained by the shared engine.

    Subclasses are decorated with :func:`engine_parameters` (which sets
    ``_config_class``) and implement :meth:`_build_module` and :meth:`_store`.
    """

    #: the settings class whose fields are this model's engine hyperparameters
    _config_class: ClassVar[type[TrainConfig]] = TrainConfig

    def _set_engine_params(self, engine: dict[str, Any]) -> None:
        """Store every engine hyperparameter: the given value, else the field's default.

        Raises
        ------
        TypeError
            A keyword that is neither the model's nor the engine's.
        """
        names = {f.name for f in dataclasses.fields(self._config_class)}
        unknown = sorted(set(engine) - names)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected keyword argument {unknown[0]!r}"
            )
        for f in dataclasses.fields(self._config_class):
            setattr(self, f.name, engine.get(f.name, f.default))

    def _train_config(self) -> TrainConfig:
        """The engine settings of this model's hyperparameters (validated).

        Raises
        ------
        ValueError
            A setting out of range, naming it.
        """
        cls = self._config_class
        return cls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(cls)})

    def _fit_config(self, train: Interactions) -> TrainConfig:
        """:meth:`_train_config` with the size-bound settings bounded by ``train`` (reported).

        ``batch_size`` above the number of interactions becomes that number (one batch
        per epoch, which the engine ran anyway), ``neg_pool`` and ``hard_negatives``
        above the number of items become that number (a larger pool only repeats
        items). What was used is stored as ``batch_size_`` and ``neg_pool_`` and
        logged (INFO) when it differs from the setting.
        """
        config = self._train_config()
        changes: dict[str, Any] = {}
        if config.batch_size > max(train.nnz, 1):
            changes["batch_size"] = max(train.nnz, 1)
        if config.neg_pool > train.n_items:
            changes["neg_pool"] = train.n_items
        if config.hard_negatives > train.n_items:
            changes["hard_negatives"] = train.n_items
        if changes:
            logger.info(
                "%s: %s bounded by the data (%d interactions, %d items)", type(self).__name__,
                ", ".join(f"{k} {getattr(config, k)} -> {v}" for k, v in changes.items()),
                train.nnz, train.n_items,
            )
            config = dataclasses.replace(config, **changes)
        self.batch_size_ = int(config.batch_size)
        self.neg_pool_ = int(config.neg_pool)
        return config

    def _build_module(
        self, train: Interactions, device: torch.device, generator: torch.Generator
    ) -> torch.nn.Module:
        """A freshly initialised trainable module for ``train`` (the engine's module protocol)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _build_module")

    def _store(self, module: torch.nn.Module) -> None:
        """Set the fitted embeddings from ``module``'s current state."""
        raise NotImplementedError(f"{type(self).__name__} must implement _store")

    def _resume_fingerprint(self) -> dict[str, Any]:
        """The hyperparameters a resumed fit must share with its checkpoint (``{"model": ...}``).

        All but those that do not change the result (``verbose``, ``device``).
        """
        params = {k: v for k, v in self.get_params(deep=False).items()  # type: ignore[attr-defined]
                  if k not in ("verbose", "device")}
        return {"model": f"{type(self).__name__}", "params": params}

    def _finish_training(
        self,
        module: torch.nn.Module,
        history: list[dict[str, Any]],
        stopped: str,
        best_epoch: int | None = None,
    ) -> None:
        """Set the fitted state a training run leaves: embeddings, history, why it stopped."""
        self._store(module)
        self.history_ = [dict(h) for h in history]
        self.loss_history_ = [h["loss"] for h in history]
        self.best_epoch_ = best_epoch
        self.stopped_ = stopped


def engine_parameters(
    *, after: str, config: type[TrainConfig] = TrainConfig
) -> Callable[[_T], _T]:
    """Class decorator: publish a model's flat constructor signature and document it.

    The model's ``__init__`` takes its own keyword-only parameters and
    ``**engine``, which it hands to ``self._set_engine_params``. The decorator
    sets ``__init__.__signature__`` to the model's parameters with every field of
    ``config`` (same name, same default) inserted after the parameter ``after``,
    and replaces the line ``{engine_parameters}`` of the class docstring by the
    fields' documentation (:func:`graphrec.training.config.config_parameters_doc`).

    Parameters
    ----------
    after : str
        The model parameter the engine's parameters follow.
    config : type, default TrainConfig
        The settings class (a :class:`TrainConfig` subclass may add fields).

    Raises
    ------
    TypeError
        ``__init__`` does not take ``**engine``, ``after`` is not one of its
        parameters, or a model parameter shadows an engine field.
    """

    def decorate(cls: _T) -> _T:
        init = cls.__init__  # type: ignore[misc]
        sig = inspect.signature(init)
        params = list(sig.parameters.values())
        if not params or params[-1].kind is not inspect.Parameter.VAR_KEYWORD:
            raise TypeError(f"{cls.__name__}.__init__ must end with **engine")
        own = params[:-1]
        names = [p.name for p in own]
        if after not in names:
            raise TypeError(f"after={after!r} is not a parameter of {cls.__name__}.__init__")
        fields = dataclasses.fields(config)
        clash = sorted(set(names) & {f.name for f in fields})
        if clash:
            raise TypeError(f"{cls.__name__} parameters {clash} shadow engine fields")
        engine = [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                              annotation=f.type)
            for f in fields
        ]
        at = names.index(after) + 1
        init.__signature__ = sig.replace(parameters=own[:at] + engine + own[at:])
        cls._config_class = config  # type: ignore[attr-defined]
        if cls.__doc__ and DOC_MARKER in cls.__doc__:
            lines = cls.__doc__.split("\n")
            block = config_parameters_doc(config)
            cls.__doc__ = "\n".join(block if line.strip() == DOC_MARKER else line for line in lines)
        return cls

    return decorate
