"""Recorded hyperparameters per model and dataset: the settings behind RESULTS.md.

``SETTINGS[model][dataset]`` holds the constructor arguments ("*" applies to
datasets without an entry); ``QUICK[model]`` shrinks budgets for smoke tests.
Each entry says where its figures come from.
"""

from __future__ import annotations

from typing import Any

SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "popularity": {"*": {}},
}

QUICK: dict[str, dict[str, Any]] = {}


def settings_for(model: str, dataset: str, quick: bool = False) -> dict[str, Any]:
    """The recorded hyperparameters of ``model`` on ``dataset`` (quick overrides applied)."""
    per = SETTINGS.get(model, {})
    params = dict(per.get(dataset, per.get("*", {})))
    if quick:
        params.update(QUICK.get(model, {}))
    return params
