"""A picture of a search: each trial's validation metric over the search's wall clock."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["plot_search"]

_STYLE: dict[str, dict[str, Any]] = {
    "complete": {"color": "tab:blue", "marker": "o"},
    "pruned": {"color": "tab:gray", "marker": "x"},
    "stopped": {"color": "tab:orange", "marker": "s"},
}


def plot_search(result: Any, path: str | os.PathLike | None = None) -> Any:
    """Plot a :class:`~graphrec.tuning.TuneResult`: trials by state and the best so far.

    Pruned and stopped trials are drawn at the last metric they reported (when they
    reported one); failed trials are left out.

    Parameters
    ----------
    result : TuneResult
    path : str or path-like, optional
        Save the figure here (.png, .svg, .pdf).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    if path is not None and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result.trials
    fig, ax = plt.subplots(figsize=(7, 4))
    for state, style in _STYLE.items():
        part = t[t["state"] == state]
        if state == "complete":
            y = part["value"].to_numpy(float)
        else:  # the last value the trial reported, if any
            y = np.array([float(s.split()[-1]) if isinstance(s, str) and s else np.nan
                          for s in part["fold_values"]])
        keep = np.isfinite(y)
        if keep.any():
            ax.scatter(part["elapsed"].to_numpy(float)[keep], y[keep], label=f"{state} ({len(part)})",
                       alpha=0.8, **style)
    done = t[t["state"] == "complete"].sort_values("elapsed")
    if len(done):
        ax.step(done["elapsed"], np.maximum.accumulate(done["value"].to_numpy(float)), where="post",
                color="tab:red", label=f"best so far ({result.best_score:.4f})")
    ax.set_xlabel("search wall clock (s)")
    ax.set_ylabel(f"validation {result.metric}")
    budget = f", budget {result.budget:.0f} s" if result.budget else ""
    ax.set_title(f"{result.method} search: {len(t)} trials in {result.elapsed:.0f} s{budget}")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
