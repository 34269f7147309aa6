"""PNG plots of a suite: accuracy vs fit time, accuracy vs diversity (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from report import diversity_value

__all__ = ["write_plots"]


def _panels(results: list[dict[str, Any]], x_of, xlabel: str, title: str, path: Path, *, logx: bool) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if r["status"] == "ok"]
    datasets = list(dict.fromkeys(r["dataset"] for r in ok))
    points = {d: [(x_of(r), r["metrics"].get("recall@20"), r) for r in ok if r["dataset"] == d] for d in datasets}
    points = {d: [p for p in ps if _finite(p[0]) and _finite(p[1])] for d, ps in points.items()}
    points = {d: ps for d, ps in points.items() if ps}
    if not points:
        return None
    fig, axes = plt.subplots(1, len(points), figsize=(4.6 * len(points), 4.0), squeeze=False)
    for ax, (d, ps) in zip(axes[0], points.items()):
        for x, y, r in ps:
            peer = r.get("kind") == "peer"
            ax.scatter([x], [y], marker="s" if peer else "o", color="tab:orange" if peer else "tab:blue")
            ax.annotate(r["model"], (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
        if logx:
            ax.set_xscale("log")
        ax.set_title(d)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Recall@20")
        ax.grid(alpha=0.3)
    fig.suptitle(title + " (circles: graphrec, squares: peers)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def write_plots(results: list[dict[str, Any]], directory: Path) -> list[Path]:
    """Write ``accuracy_vs_fit_time.png`` and ``accuracy_vs_diversity.png``; return the paths written."""
    directory = Path(directory)
    written = [
        _panels(results, lambda r: max(r["fit_seconds"], 1e-3), "fit seconds (log)", "Accuracy vs fit time",
                directory / "accuracy_vs_fit_time.png", logx=True),
        _panels(results, lambda r: diversity_value(r["metrics"]), "intra-list diversity@20",
                "Accuracy vs diversity", directory / "accuracy_vs_diversity.png", logx=False),
    ]
    return [p for p in written if p is not None]
