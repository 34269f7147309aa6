"""graphrec.recipes: the one home of the recorded settings, read by the demo, the CLI and benchmarks/."""

from __future__ import annotations

import pytest

from graphrec import recipes
from graphrec.models import get_model_class


def test_every_recipe_names_real_hyperparameters():
    for model, per_dataset in recipes.SETTINGS.items():
        known = get_model_class(model)().get_params()
        for dataset, params in per_dataset.items():
            assert set(params) <= set(known), (model, dataset, sorted(set(params) - set(known)))
    for model, params in {**recipes.QUICK, **recipes.DEMO_BUDGETS, **recipes.DEMO_FAST}.items():
        assert set(params) <= set(get_model_class(model)().get_params()), model


def test_settings_for_falls_back_to_star_and_copies():
    assert recipes.settings_for("lightgcn", "gowalla")["batch_size"] == 8192
    assert recipes.settings_for("lightgcn", "no-such-dataset") == recipes.SETTINGS["lightgcn"]["*"]
    assert recipes.settings_for("no-such-model", "gowalla") == {}
    got = recipes.settings_for("mf", "sample", quick=True)
    assert got["epochs"] == recipes.QUICK["mf"]["epochs"]
    got["epochs"] = 999
    assert recipes.SETTINGS["mf"]["*"]["epochs"] != 999


@pytest.mark.parametrize("model", ["popularity", "mf", "graphfilter", "lightgcn"])
def test_demo_runs_the_sample_recipe_plus_its_budget(model):
    from graphrec.demo import DEMO_SETTINGS

    expected = {k: v for k, v in recipes.settings_for(model, "sample").items() if k != "random_state"}
    expected.update(recipes.DEMO_BUDGETS.get(model, {}))
    assert DEMO_SETTINGS[model] == expected == recipes.demo_settings(model)


def test_demo_graphfilter_matches_the_recorded_sample_recipe():
    """The demo once copied settings by hand (256 components); the recorded sample recipe is 128."""
    from graphrec.demo import DEMO_SETTINGS, _settings

    assert DEMO_SETTINGS["graphfilter"]["n_components"] == recipes.SETTINGS["graphfilter"]["sample"]["n_components"]
    assert _settings("graphfilter", 1.0)["n_components"] == 128
    assert _settings("graphfilter", 0.1)["n_components"] == recipes.DEMO_FAST["graphfilter"]["n_components"]
    assert _settings("lightgcn", 0.1)["time_budget"] == pytest.approx(0.1 * recipes.DEMO_BUDGETS["lightgcn"]["time_budget"])
    with pytest.raises(TypeError):
        DEMO_SETTINGS["mf"] = {}  # a derived, read-only view


def test_benchmark_uses_the_recipes():
    from graphrec.benchmark import model_params, settings_source

    params = model_params("lightgcn", "gowalla", False, 0, get_model_class("lightgcn"))
    assert {k: params[k] for k in recipes.SETTINGS["lightgcn"]["gowalla"]} == recipes.SETTINGS["lightgcn"]["gowalla"]
    assert settings_source("lightgcn", "gowalla") == "graphrec/recipes.py"
    assert settings_source("no-such-model", "gowalla").startswith("class defaults")
