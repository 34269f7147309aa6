"""Interactive, self-contained HTML neighbourhood view (plotly).

Why plotly: it is already in the ``viz`` extra, its ``write_html(include_plotlyjs=True)``
inlines the whole plotly.js bundle (about 4.6 MB) so the file opens offline with no
CDN or network access, and it gives hover labels, zoom and pan with no custom
JavaScript. pyvis/vis.js loads its JS from a CDN by default and bokeh needs its own
resources mode; both would be a new dependency. The layout is the same seeded ring
layout as the static view (:func:`graphrec.viz.neighborhood_graph`), so both views
show the same picture.
"""

from __future__ import annotations

import html as _html
import os
from typing import Any

import numpy as np
import pandas as pd

from graphrec.viz.layout import Neighborhood, _centre_ids, neighborhood_graph
from graphrec.viz.neighborhood import COLORS
from graphrec.viz.options import takes_options

__all__ = ["neighborhood_html", "neighborhood_plotly"]


def _lines(xy: pd.DataFrame, edges: pd.DataFrame) -> tuple[list, list]:
    """Edge coordinates for one plotly line trace (segments separated by None)."""
    n = len(edges)
    xs = np.full(3 * n, np.nan)
    ys = np.full(3 * n, np.nan)
    xs[0::3], ys[0::3] = xy.loc[edges["src"], "x"].to_numpy(), xy.loc[edges["src"], "y"].to_numpy()
    xs[1::3], ys[1::3] = xy.loc[edges["dst"], "x"].to_numpy(), xy.loc[edges["dst"], "y"].to_numpy()
    return [None if np.isnan(v) else float(v) for v in xs], [
        None if np.isnan(v) else float(v) for v in ys
    ]


def neighborhood_plotly(nb: Neighborhood) -> Any:
    """A plotly Figure of a :class:`~graphrec.viz.layout.Neighborhood` (hover labels,
    node size by degree, walks to recommendations emphasised)."""
    import plotly.graph_objects as go

    t = nb.nodes
    fig = go.Figure()
    plain = nb.edges[~nb.edges["on_path"]]
    onpath = nb.edges[nb.edges["on_path"]]
    xs, ys = _lines(t, plain)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": COLORS["edge"], "width": 0.7},
            opacity=0.5,
            hoverinfo="skip",
            name="interaction",
        )
    )
    if len(onpath):
        xs, ys = _lines(t, onpath)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": COLORS["path"], "width": 3},
                hoverinfo="skip",
                name="path to a recommendation",
            )
        )
    size = 8 + 22 * np.log1p(t["degree"].to_numpy()) / max(np.log1p(t["degree"].max()), 1e-9)
    why: dict[int, list[str]] = {}
    for _, w in nb.paths.iterrows():
        mid = " \u2192 ".join(
            t.at[n, "label"] if n in t.index else str(n) for n in w["nodes"][1:-1]
        )
        why.setdefault(w["item"], []).append(
            f"via {_html.escape(mid)} ({w['share']:.1%} of the path weight)"
        )
    groups = [
        ("centre", t["role"] == "centre", COLORS["centre"], "circle"),
        ("user", (t["kind"] == "user") & (t["role"] != "centre"), COLORS["user"], "circle"),
        (
            "item",
            (t["kind"] == "item") & ~t["role"].isin(["centre", "recommended"]),
            COLORS["item"],
            "square",
        ),
        ("recommended", t["role"] == "recommended", COLORS["recommended"], "star"),
    ]
    for name, mask, color, symbol in groups:
        sub = t[mask.to_numpy()]
        if sub.empty:
            continue
        hover = []
        for node, r in sub.iterrows():
            h = f"<b>{_html.escape(str(r['title']))}</b><br>{r['kind']} (internal index {r['index']})"
            h += f", degree {r['degree']}"
            h += f", hop {r['hop']}" if r["hop"] >= 0 else ""
            if r["rec_rank"]:
                h += f"<br>recommendation #{r['rec_rank']}<br>" + (
                    "<br>".join(why.get(r["index"], []))
                    or (
                        "no path within 3 hops"
                        if r["n_walks"] == 0
                        else "path not shown (node cap)"
                    )
                )
            hover.append(h)
        show_text = (sub["role"].isin(["centre", "recommended"]) | sub["on_path"]).to_numpy()
        text = [
            (f"#{r} " if r else "") + str(lab) if s else ""
            for lab, r, s in zip(sub["label"], sub["rec_rank"], show_text)
        ]
        fig.add_trace(
            go.Scatter(
                x=sub["x"],
                y=sub["y"],
                mode="markers+text",
                name=name,
                text=text,
                textposition="top center",
                textfont={"size": 10},
                hovertext=hover,
                hoverinfo="text",
                marker={
                    "size": size[mask.to_numpy()]
                    * (1.6 if name in ("centre", "recommended") else 1),
                    "color": color,
                    "symbol": symbol,
                    "line": {"color": "white", "width": 1},
                },
            )
        )
    fig.update_layout(
        title=nb.title,
        showlegend=True,
        hovermode="closest",
        template="plotly_white",
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        width=1200,
        height=900,
        legend={"x": 0, "y": 1},
    )
    return fig


@takes_options
def neighborhood_html(
    model: Any = None,
    user: int | None = None,
    item: int | None = None,
    *,
    ids: str | None = None,
    path: str | os.PathLike | None = None,
    **options: Any,
) -> str:
    """Interactive neighbourhood view as one self-contained HTML document.

    All JavaScript (plotly.js) is inlined: the file makes no network request. Hover
    shows each node's label, kind, degree and hop, and for a recommendation the walks
    that lead to it; node size follows degree.

    Parameters
    ----------
    model, user, item, ids
        As in :func:`graphrec.viz.neighborhood` (``ids="raw"``: your own id).
    path : str or PathLike, optional
        Write the document here (parent folders created).
    **options
        ``hops``, ``k``, ``max_nodes``, ``paths_per_item``, ``train``, ``item_info``,
        ``weighting``, ``label_width``: see :class:`graphrec.viz.NeighborhoodOptions`.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ImportError
        plotly is not installed (it is a dependency of graphrec: ``pip install plotly``).
    """
    try:
        import plotly  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("neighborhood_html needs plotly: pip install plotly") from exc
    ids = _centre_ids(ids, model, user, options.get("train"))
    nb = neighborhood_graph(model, user, item, ids=ids, **options)
    fig = neighborhood_plotly(nb)
    doc = fig.to_html(
        include_plotlyjs=True, full_html=True, include_mathjax=False, config={"displaylogo": False}
    )
    if path is not None:
        from pathlib import Path

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(doc, encoding="utf-8")
    return doc
