"""Training curves: loss and validation metrics over epochs, from a model's history.

matplotlib is imported inside the function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["training_curves"]

_ACCURACY = ("recall", "ndcg", "precision", "map", "hit", "mrr")


def training_curves(
    model_or_history: Any,
    *,
    metrics: list[str] | None = None,
    ax: Any = None,
    figsize: tuple[float, float] = (11, 4.5),
) -> Any:
    """Loss and validation metrics over epochs.

    Parameters
    ----------
    model_or_history : Recommender, list of dict or list of float
        A fitted model with ``history_`` (list of dicts with ``epoch``, ``loss``,
        ``seconds`` and metric keys such as ``"recall@20"``, at the top level or in a
        nested ``"metrics"`` dict) and/or ``loss_history_`` (list of float); or such a
        list itself. A model's ``best_epoch_`` is marked.
    metrics : list of str, optional
        Metric keys to plot; default the accuracy metrics present (recall, ndcg,
        precision, map, hit, mrr at any k), else any "@" metric within [0, 1] or auc.

    Returns
    -------
    matplotlib.figure.Figure
        Loss on the left (log scale when it spans > 10x), metrics on the right when any.

    Raises
    ------
    ValueError
        No history to draw.
    """
    import matplotlib.pyplot as plt

    hist = model_or_history
    if not isinstance(hist, (list, tuple)):
        hist = getattr(model_or_history, "history_", None) or getattr(
            model_or_history, "loss_history_", None
        )
    if not hist:
        raise ValueError("no training history: the model has neither history_ nor loss_history_")
    if not isinstance(hist[0], dict):
        hist = [{"epoch": e + 1, "loss": float(v)} for e, v in enumerate(hist)]
    # metrics may sit at the top level ({"recall@20": ...}) or nested ({"metrics": {...}})
    rows = [
        {**{k: v for k, v in h.items() if k != "metrics"}, **(h.get("metrics") or {})} for h in hist
    ]
    frame = pd.DataFrame(rows)
    if "epoch" not in frame:
        frame["epoch"] = np.arange(1, len(frame) + 1)
    if metrics is None:
        numeric = [
            c
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()
        ]
        metrics = [c for c in numeric if str(c).split("@")[0] in _ACCURACY and "@" in str(c)]
        metrics = metrics or [
            c for c in numeric if c == "auc" or ("@" in str(c) and frame[c].between(0, 1).all())
        ]
    n_panels = 1 + bool(metrics)
    if ax is None:
        fig, axes = plt.subplots(
            1, n_panels, figsize=figsize if n_panels == 2 else (6, 4.5), squeeze=False
        )
        axes = axes[0]
    else:
        fig, axes = ax.figure, np.array([ax] * n_panels)
    if "loss" in frame:
        loss = frame["loss"].astype(float)
        axes[0].plot(frame["epoch"], loss, color="#1f77b4", marker="." if len(frame) < 60 else None)
        axes[0].set_ylabel("training loss")
        if loss.gt(0).all() and loss.max() / loss.min() > 10:
            axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    title = "training loss"
    if "seconds" in frame and frame["seconds"].notna().any():
        title += f" ({frame['seconds'].sum():.0f} s total)"
    axes[0].set_title(title)
    axes[0].grid(alpha=0.3)
    if metrics:
        for m in metrics:
            s = frame[["epoch", m]].dropna()
            axes[-1].plot(s["epoch"], s[m], marker="o", ms=3, label=m)
        best = getattr(model_or_history, "best_epoch_", None)
        if isinstance(best, (int, np.integer)):
            axes[-1].axvline(best, color="#888888", ls="--", lw=1, label=f"restored epoch {best}")
        axes[-1].set_xlabel("epoch")
        axes[-1].set_title("validation metrics")
        axes[-1].legend(fontsize=9)
        axes[-1].grid(alpha=0.3)
    fig.tight_layout()
    return fig
