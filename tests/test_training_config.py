"""TrainConfig: the engine's settings, owned once and exposed by every model that trains."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.base import clone

import graphrec as gr
from graphrec.models import MODELS, EmbeddingRecommender
from graphrec.training import (
    TrainableModel,
    TrainConfig,
    Trainer,
    config_parameters_doc,
    engine_parameters,
    fit_embeddings,
)

TRAINABLE = [cls for cls in MODELS.values() if issubclass(cls, TrainableModel)]
FIELDS = dataclasses.fields(TrainConfig)


def test_lightgcn_and_mf_are_the_trainable_models():
    assert {cls.__name__ for cls in TRAINABLE} >= {"LightGCN", "MF"}


# Models whose objective differs from the engine's default declare it in a TrainConfig
# subclass with other defaults (never other fields); these are the only overrides allowed.
DEFAULT_OVERRIDES = {"NCF": {"loss": "bce", "n_negatives": 4}}


@pytest.mark.parametrize("cls", TRAINABLE, ids=lambda c: c.__name__)
def test_every_trainable_model_exposes_exactly_the_engine_fields_with_their_defaults(cls):
    config = cls._config_class
    assert issubclass(config, TrainConfig)
    assert [f.name for f in dataclasses.fields(config)] == [f.name for f in FIELDS]
    expected = {**dataclasses.asdict(TrainConfig()), **DEFAULT_OVERRIDES.get(cls.__name__, {})}
    params = inspect.signature(cls).parameters
    for f in FIELDS:
        assert f.name in params, f.name
        assert params[f.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[f.name].default == expected[f.name], f.name
    model = cls()
    got = model.get_params()
    assert {f.name: got[f.name] for f in FIELDS} == expected
    assert model._train_config() == config(**expected)
    # the model's own parameters are the rest of its signature: none shadows an engine field
    own = [p for p in params if p not in {f.name for f in FIELDS}]
    assert set(own) | {f.name for f in FIELDS} == set(got)
    # each engine field is documented in the model's docstring, as its config documents it
    assert config_parameters_doc(config) in cls.__doc__


@pytest.mark.parametrize("cls", TRAINABLE, ids=lambda c: c.__name__)
def test_engine_settings_round_trip_through_set_params_and_clone(cls):
    m = cls(lr=0.05, lr_decay="cosine", lr_warmup=3)
    assert m._train_config() == cls._config_class(lr=0.05, lr_decay="cosine", lr_warmup=3)
    c = clone(m).set_params(epochs=7)
    assert c._train_config().epochs == 7 and c.lr == 0.05
    assert "lr=0.05" in repr(m)
    with pytest.raises(TypeError, match="no_such_setting"):
        cls(no_such_setting=1)


def test_pool_settings_round_trip():
    m = gr.LightGCN(neg_pool=8, hard_negatives=4)
    assert m._train_config() == TrainConfig(neg_pool=8, hard_negatives=4)


def test_a_new_field_propagates_to_the_signature_params_doc_and_config():
    """What adding a TrainConfig field does: a model built with the decorator exposes it
    (signature, get_params, clone, docstring) and hands it to its config, with no other edit."""

    @dataclass(frozen=True)
    class Extended(TrainConfig):
        """Extended settings.

        Parameters
        ----------
        momentum : float, default 0.9
            A setting the engine does not have yet.
        """

        momentum: float = 0.9

    @engine_parameters(after="embedding_dim", config=Extended)
    class Toy(EmbeddingRecommender, TrainableModel):
        """Toy.

        Parameters
        ----------
        embedding_dim : int
        {engine_parameters}
        """

        def __init__(self, *, embedding_dim: int = 4, **engine: Any) -> None:
            self.embedding_dim = embedding_dim
            self._set_engine_params(engine)

    params = list(inspect.signature(Toy).parameters)
    assert params[0] == "embedding_dim" and params[-1] == "momentum"
    assert params[1:] == [f.name for f in dataclasses.fields(Extended)]
    m = Toy(momentum=0.5, lr=0.1)
    assert m.get_params()["momentum"] == 0.5 and clone(m).momentum == 0.5
    assert m._train_config() == Extended(momentum=0.5, lr=0.1)
    assert "momentum : float, default 0.9" in Toy.__doc__ and "{engine_parameters}" not in Toy.__doc__


def test_an_undocumented_field_is_refused():
    @dataclass(frozen=True)
    class Undocumented(TrainConfig):
        """Settings.

        Parameters
        ----------
        loss : str
        """

        momentum: float = 0.9

    with pytest.raises(ValueError, match="momentum"):
        config_parameters_doc(Undocumented)


def test_the_decorator_refuses_shadowing_and_a_missing_engine_catch_all():
    with pytest.raises(TypeError, match="shadow"):

        @engine_parameters(after="lr")
        class Shadow(TrainableModel):
            def __init__(self, *, lr: float = 1.0, **engine: Any) -> None:
                pass

    with pytest.raises(TypeError, match="engine"):

        @engine_parameters(after="dim")
        class NoCatchAll(TrainableModel):
            def __init__(self, *, dim: int = 1) -> None:
                pass


@pytest.mark.parametrize(
    "param, value",
    [("epochs", 0), ("batch_size", 0), ("lr", float("nan")), ("reg", -1.0), ("temperature", 0.0),
     ("loss", "hinge"), ("initial_loss", "mse"), ("lr_decay", "exp"), ("hard_fraction", 1.5),
     ("average_fraction", True), ("time_budget", -1.0), ("patience", 0), ("eval_every", 0),
     ("n_negatives", 0), ("neg_pool", -1), ("lr_warmup", -1)],
)
def test_config_rejects_bad_values_naming_them(param, value):
    with pytest.raises(ValueError, match=param):
        TrainConfig(**{param: value})


def test_hard_negatives_need_a_bpr_pool():
    assert TrainConfig(neg_pool=8, hard_negatives=8).hard_negatives == 8
    for kw in ({"hard_negatives": 2}, {"neg_pool": 4, "hard_negatives": 5},
               {"neg_pool": 8, "hard_negatives": 2, "loss": "bce"}):
        with pytest.raises(ValueError, match="hard_negatives"):
            TrainConfig(**kw)


def test_fit_embeddings_takes_a_config_and_keyword_overrides(checkerboard):
    train, _ = checkerboard

    def run(**kw):
        module = gr.MF(embedding_dim=4)._build_module(
            train, torch.device("cpu"), torch.Generator().manual_seed(0)
        )
        res = fit_embeddings(module, train, random_state=0, **kw)
        return res, module.ego.detach().clone()

    a, ea = run(config=TrainConfig(epochs=3, batch_size=8, lr=0.05))
    b, eb = run(config=TrainConfig(epochs=50, batch_size=8), epochs=3, lr=0.05)
    torch.testing.assert_close(ea, eb, rtol=0, atol=0)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    with pytest.raises(TypeError, match="no_such_setting"):
        run(no_such_setting=1)
    with pytest.raises(ValueError, match="epochs"):
        run(epochs=0)


def test_trainer_steps_compose_into_fit(checkerboard):
    """Trainer.fit is its steps: the schedule switches loss and hard negatives at the set
    shares of training, and each epoch's record carries what the step methods produce."""
    train, _ = checkerboard
    module = gr.MF(embedding_dim=4)._build_module(
        train, torch.device("cpu"), torch.Generator().manual_seed(0)
    )
    config = TrainConfig(epochs=4, batch_size=8, neg_pool=4, hard_negatives=2, hard_fraction=0.5,
                         initial_loss="infonce", initial_fraction=0.25, lr_decay="linear")
    trainer = Trainer(module, train, config, random_state=0)
    phases = []
    schedule = trainer.schedule

    def recording() -> tuple[str, int]:
        out = schedule()
        phases.append((trainer.progress(), *out))
        return out

    trainer.schedule = recording  # type: ignore[method-assign]
    res = trainer.fit()
    assert len(res.history) == 4 and res.history[-1]["steps"] == trainer.total_steps == len(phases)
    for p, loss, hard in phases:
        assert loss == ("infonce" if p < 0.25 else "bpr")
        assert hard == (2 if loss == "bpr" and p < 0.5 else 0)
    assert {"infonce", "bpr"} == {loss for _, loss, _ in phases}
    lrs = [h["lr"] for h in res.history]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < config.lr
    assert np.isfinite([h["loss"] for h in res.history]).all()
