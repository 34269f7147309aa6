"""Embedding maps: 2-D projections of user or item embeddings, coloured and labelled.

matplotlib and scikit-learn's manifold code are imported inside the functions.
Training curves live in :mod:`graphrec.viz.curves`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["METHODS", "embedding_map", "project_embeddings"]

METHODS = ("pca", "tsne", "umap")


def project_embeddings(
    vectors: NDArray, method: str = "pca", *, random_state: int | None = 0, **kwargs: Any
) -> NDArray[np.float32]:
    """Project embeddings to 2-D.

    Parameters
    ----------
    vectors : ndarray, shape (n, d)
    method : {"pca", "tsne", "umap"}
        scikit-learn PCA or t-SNE (``init="pca"``, perplexity capped for small n);
        UMAP needs the ``umap-learn`` package.
    random_state : int, default 0
    **kwargs
        Passed to the projector.

    Returns
    -------
    ndarray of float32, shape (n, 2)

    Raises
    ------
    ValueError
        Unknown method, fewer than 3 rows, non-2-D or non-finite input.
    ImportError
        ``method="umap"`` without umap-learn.

    Examples
    --------
    >>> project_embeddings(np.eye(4, 3), "pca").shape
    (4, 2)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    v = np.asarray(vectors, np.float32)
    if v.ndim != 2 or len(v) < 3:
        raise ValueError(f"vectors must be 2-D with at least 3 rows, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("vectors contain NaN or inf")
    if v.shape[1] <= 2 and method == "pca":
        return np.pad(v, ((0, 0), (0, 2 - v.shape[1]))).astype(np.float32)
    if method == "pca":
        from sklearn.decomposition import PCA

        out = PCA(n_components=2, random_state=random_state, **kwargs).fit_transform(v)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        kwargs.setdefault("perplexity", min(30.0, (len(v) - 1) / 3))
        kwargs.setdefault("init", "pca")
        out = TSNE(n_components=2, random_state=random_state, **kwargs).fit_transform(v)
    else:
        try:
            import umap
        except ImportError as exc:
            raise ImportError("method='umap' needs umap-learn: pip install umap-learn") from exc
        out = umap.UMAP(n_components=2, random_state=random_state, **kwargs).fit_transform(v)
    return np.asarray(out, np.float32)


def _degrees(model: Any, kind: str) -> NDArray[np.int64]:
    """Training interactions per item (or user): counts, not summed ratings."""
    import scipy.sparse as sp

    seen = sp.csr_array(model.seen_)
    if kind == "item":
        return np.bincount(seen.indices, minlength=seen.shape[1])
    return np.diff(seen.indptr)


def _colours(model: Any, kind: str, color: Any, item_info, vectors, random_state, n_clusters):
    """(values, is_categorical, name) for the points."""
    n = len(vectors)
    if color is None:
        return None, False, None
    if not isinstance(color, str):
        vals = np.asarray(color)
        if len(vals) != n:
            raise ValueError(f"color has {len(vals)} values for {n} points")
        return vals, vals.dtype.kind in "OUSb", "value"
    if color == "popularity":
        if model is None:
            raise ValueError("color='popularity' needs a fitted model (its seen_ matrix)")
        return np.log1p(_degrees(model, kind)), False, "log(1 + interactions)"
    if color in ("genre", "category"):
        if kind != "item" or item_info is None:
            raise ValueError(f"color={color!r} needs item embeddings and item_info")
        if "category" in item_info.columns:
            cat = item_info["category"]
        elif "genres" in item_info.columns:
            cat = item_info["genres"].astype(str).str.split("|").str[0]
        else:
            raise ValueError("item_info has neither a 'category' nor a 'genres' column")
        return cat.reindex(np.arange(n)).fillna("unknown").astype(str).to_numpy(), True, "genre"
    if color == "community":
        if item_info is not None and kind == "item" and "community" in item_info.columns:
            return (
                item_info["community"].reindex(np.arange(n)).astype(str).to_numpy(),
                True,
                "community",
            )
        from sklearn.cluster import KMeans

        lab = KMeans(
            n_clusters=min(n_clusters, n), n_init=3, random_state=random_state
        ).fit_predict(vectors)
        return np.array([f"cluster {c}" for c in lab]), True, "k-means cluster"
    raise ValueError(
        f"color must be 'genre', 'popularity', 'community', an array or None, got {color!r}"
    )


def embedding_map(
    model: Any = None,
    *,
    kind: str = "item",
    vectors: NDArray | None = None,
    method: str = "pca",
    color: Any = "popularity",
    item_info: pd.DataFrame | None = None,
    min_degree: int = 0,
    max_points: int = 5000,
    max_categories: int = 10,
    n_clusters: int = 8,
    label_top: int = 12,
    random_state: int | None = 0,
    ax: Any = None,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """A 2-D map of item (or user) embeddings, coloured by genre, popularity or community.

    Parameters
    ----------
    model : EmbeddingRecommender, optional
        Fitted; its ``item_embeddings_`` / ``user_embeddings_`` are drawn.
    kind : {"item", "user"}
    vectors : ndarray, optional
        Embeddings to draw instead of the model's.
    method : {"pca", "tsne", "umap"}
    color : str, array, None, or a list of these
        "genre": ``item_info``'s ``category`` (else first of ``genres``), the
        ``max_categories`` most frequent kept, the rest "other"; "popularity": log
        training degree (needs a model); "community": ``item_info["community"]`` when
        present, else k-means clusters of the embeddings; an array: one value per row.
        A list draws one panel per colouring side by side, on one shared projection.
    item_info : DataFrame, optional
        Also labels up to ``label_top`` popular items by title (skipping labels that
        would land on one already drawn).
    min_degree : int, default 0
        Drop rows with fewer training interactions (needs a model): embeddings of
        rarely seen items stay near their random start and form a meaningless blob.
    max_points : int, default 5000
        Draw a seeded random sample of at most this many points (t-SNE is O(n log n)).
    random_state : int, default 0
    ax : matplotlib Axes, optional
        Draw here (a single colouring only).
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Bad ``kind``/``color``/``method``, or nothing left to draw.
    """
    import matplotlib.pyplot as plt

    if kind not in ("item", "user"):
        raise ValueError(f"kind must be 'item' or 'user', got {kind!r}")
    if vectors is None:
        if model is None:
            raise ValueError("give a fitted model or vectors")
        vectors = getattr(model, f"{kind}_embeddings_", None)
        if vectors is None:
            raise AttributeError(f"{type(model).__name__} has no {kind}_embeddings_")
    vectors = np.asarray(vectors, np.float32)
    colors = list(color) if isinstance(color, list) else [color]
    if ax is not None and len(colors) > 1:
        raise ValueError("ax takes a single colouring; pass one color or no ax")
    degree = None
    if model is not None and getattr(model, "seen_", None) is not None:
        degree = _degrees(model, kind)
    rows = np.arange(len(vectors))
    if min_degree > 0:
        if degree is None:
            raise ValueError("min_degree needs a fitted model (its seen_ matrix)")
        rows = rows[degree >= min_degree]
    if len(rows) < 3:
        raise ValueError(f"only {len(rows)} rows left to draw (min_degree={min_degree})")
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, max_points, replace=False))
    xy = project_embeddings(vectors[rows], method, random_state=random_state)
    if ax is None:
        size = figsize or (9 * len(colors), 7.5)
        fig, axes = plt.subplots(1, len(colors), figsize=size, squeeze=False)
        axes = axes[0]
    else:
        fig, axes = ax.figure, np.array([ax])
    name = type(model).__name__ if model is not None else "embeddings"
    shown = "PCA" if method == "pca" else "t-SNE" if method == "tsne" else "UMAP"
    for a, col in zip(axes, colors):
        values, categorical, cname = _colours(
            model, kind, col, item_info, vectors, random_state, n_clusters
        )
        _scatter(
            a, xy, None if values is None else values[rows], categorical, cname, max_categories
        )
        if label_top and kind == "item" and degree is not None and item_info is not None:
            _label_popular(a, xy, rows, degree, item_info, label_top)
        a.set_title(
            f"{name} {kind} embeddings by {cname or 'position'}\n({shown}, {len(rows)} of "
            f"{len(vectors)} {kind}s"
            + (f" with >= {min_degree} interactions" if min_degree else "")
            + ")",
            fontsize=11,
        )
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    from graphrec.viz.io import fit_fonts

    fit_fonts(fig)
    return fig


def _scatter(
    ax: Any, xy: NDArray, values: Any, categorical: bool, cname: str | None, max_categories: int
) -> None:
    import matplotlib.pyplot as plt

    if values is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.6, lw=0)
    elif categorical:
        vals = np.asarray(values).astype(str)
        top = pd.Series(vals).value_counts().index[:max_categories].tolist()
        vals = np.where(np.isin(vals, top), vals, "other")
        cmap = plt.get_cmap("tab10" if len(top) <= 10 else "tab20")
        order = top + (["other"] if (vals == "other").any() else [])
        for j, cat in enumerate(order):
            m = vals == cat
            c = "#cccccc" if cat == "other" else cmap(j % cmap.N)
            ax.scatter(
                xy[m, 0], xy[m, 1], s=7, alpha=0.7, lw=0, color=c, label=f"{cat} ({m.sum()})"
            )
        # outside the axes, so it hides no point and no label
        ax.legend(
            title=cname,
            fontsize=8,
            markerscale=2.5,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            framealpha=0.85,
            borderaxespad=0.0,
        )
    else:
        order = np.argsort(values, kind="stable")  # popular points on top
        sc = ax.scatter(
            xy[order, 0],
            xy[order, 1],
            s=6,
            alpha=0.7,
            lw=0,
            c=np.asarray(values)[order],
            cmap="viridis",
        )
        ax.figure.colorbar(sc, ax=ax, label=cname, shrink=0.8)


def _label_popular(
    ax: Any, xy: NDArray, rows: NDArray, degree: NDArray, item_info: pd.DataFrame, label_top: int
) -> None:
    """Label the most popular points, skipping any too close to a label already placed."""
    if "title" not in item_info.columns:
        return
    span = np.ptp(xy, axis=0).max() or 1.0
    placed: list[NDArray] = []
    for j in np.argsort(-degree[rows], kind="stable"):
        if len(placed) >= label_top:
            break
        if placed:  # labels run to the right: keep them apart more in x than in y
            d = np.abs(np.asarray(placed) - xy[j])
            if ((d[:, 0] < 0.25 * span) & (d[:, 1] < 0.035 * span)).any():
                continue
        placed.append(xy[j])
        right_half = xy[j, 0] > xy[:, 0].min() + 0.6 * np.ptp(xy[:, 0])  # labels run inwards
        ax.annotate(
            str(item_info["title"].get(rows[j], rows[j]))[:28],
            xy[j],
            fontsize=7.5,
            xytext=(-3 if right_half else 3, 3),
            textcoords="offset points",
            ha="right" if right_half else "left",
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
        )
