"""Static (matplotlib) neighbourhood view of a user or item and its recommendations.

matplotlib is imported inside the functions, so importing graphrec never loads it.
One piece (about 400 lines) on purpose: it only draws a :class:`Neighborhood` (node
selection and layout live in :mod:`graphrec.viz.layout`), and the graph, its labels and
the "because of" side panel share one figure, one axis scale and one colour key.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from graphrec.viz.layout import Neighborhood, _centre_ids, neighborhood_graph
from graphrec.viz.options import takes_options

__all__ = ["draw_neighborhood", "neighborhood"]

COLORS = {
    "centre": "#d62728",
    "user": "#1f77b4",
    "item": "#2ca02c",
    "recommended": "#ff7f0e",
    "path": "#ff7f0e",
    "edge": "#b0b0b0",
}


@takes_options
def neighborhood(
    model: Any = None,
    user: int | None = None,
    item: int | None = None,
    *,
    ids: str | None = None,
    figsize: tuple[float, float] = (16, 12),
    dpi: int = 100,
    explain_panel: bool = True,
    **options: Any,
) -> Any:
    """Draw the k-hop neighbourhood of a user (or item) with the model's recommendations.

    Users and items are styled differently (circles / squares, colours), sized by
    degree. The ``k`` recommended items sit on the outer ring, labelled with their
    rank; the strongest walks from the centre to each recommendation (see
    :mod:`graphrec.explain`) are drawn in orange, thicker for larger contributions. A
    recommendation with no walk drawn is hollow and marked "(no path)" (unreachable in
    3 hops) or "(path not shown)" (the node cap left no room). Item
    labels are titles when ``item_info`` has a ``title`` column, external ids otherwise.
    With ``explain_panel`` a side panel lists each recommendation and the items that
    lead to it ("because of ...").

    Parameters
    ----------
    model, user, item, ids
        As in :func:`graphrec.viz.neighborhood_graph` (node selection, cap and layout
        live there); ``ids="raw"`` takes your own user or item id.
    figsize, dpi : default (16, 12), 100
        Figure size in inches; the default saves at 1600 x 1200 pixels.
    explain_panel : bool, default True
    **options
        ``hops``, ``k``, ``max_nodes``, ``paths_per_item``, ``train``, ``item_info``,
        ``weighting``, ``label_width``: see :class:`graphrec.viz.NeighborhoodOptions`.
        ``train`` defaults to the model's training data (``model.seen_``).

    Returns
    -------
    matplotlib.figure.Figure
        Save with :func:`graphrec.viz.save_figure` (PNG, SVG, PDF by extension) or
        ``fig.savefig``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from graphrec import Interactions, Popularity
    >>> x = Interactions.from_arrays([0, 0, 1, 1, 2], [0, 1, 1, 2, 3], n_users=3, n_items=4)
    >>> fig = neighborhood(Popularity().fit(x), user=0, k=2)
    >>> len(fig.axes) >= 1
    True
    """
    ids = _centre_ids(ids, model, user, options.get("train"))
    nb = neighborhood_graph(model, user, item, ids=ids, **options)
    return draw_neighborhood(
        nb, figsize=figsize, dpi=dpi, explain_panel=explain_panel, item_info=options.get("item_info")
    )


def _no_path_note(has_path: bool, n_walks: int) -> str:
    if has_path:
        return ""
    return "\n(no path)" if n_walks == 0 else "\n(path not shown)"


def _sizes(degree: np.ndarray, lo: float = 30.0, hi: float = 300.0) -> np.ndarray:
    d = np.log1p(degree.astype(float))
    top = d.max() if len(d) and d.max() > 0 else 1.0
    return lo + (hi - lo) * d / top


def draw_neighborhood(
    nb: Neighborhood,
    *,
    ax: Any = None,
    figsize: tuple[float, float] = (16, 12),
    dpi: int = 100,
    explain_panel: bool = True,
    item_info: pd.DataFrame | None = None,
) -> Any:
    """Draw a :class:`~graphrec.viz.layout.Neighborhood` (see :func:`neighborhood`).

    ``ax``: draw into this axes (no side panel); otherwise a new figure is made.
    Returns the figure.
    """
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    t = nb.nodes
    if ax is None:
        fig = plt.figure(figsize=figsize, dpi=dpi)
        if explain_panel and len(nb.recommendations):
            ax = fig.add_axes((0.0, 0.0, 0.74, 0.95))
            side = fig.add_axes((0.745, 0.0, 0.255, 0.95))
        else:
            ax, side = fig.add_axes((0.0, 0.0, 1.0, 0.95)), None
    else:
        fig, side = ax.figure, None
    ax.set_axis_off()
    ax.set_aspect("equal")
    xy = t[["x", "y"]]

    # edges: the induced subgraph faint, the walks to recommendations emphasised
    e = nb.edges
    seg = np.stack([xy.loc[e["src"]].to_numpy(), xy.loc[e["dst"]].to_numpy()], axis=1)
    plain = ~e["on_path"].to_numpy()
    ax.add_collection(
        LineCollection(seg[plain], colors=COLORS["edge"], linewidths=0.5, alpha=0.35, zorder=1)
    )
    if (~plain).any():
        pw = e["path_weight"].to_numpy()[~plain]
        widths = 1.0 + 4.0 * np.sqrt(pw / pw.max())
        ax.add_collection(
            LineCollection(
                seg[~plain], colors=COLORS["path"], linewidths=widths, alpha=0.85, zorder=2
            )
        )

    # nodes: users circles, items squares, recommendations stars
    size = _sizes(t["degree"].to_numpy())
    groups = [
        ((t["role"] == "centre"), COLORS["centre"], "o", 3.0),
        ((t["kind"] == "user") & (t["role"] != "centre"), COLORS["user"], "o", 1.0),
        (
            (t["kind"] == "item") & (t["role"] != "recommended") & (t["role"] != "centre"),
            COLORS["item"],
            "s",
            1.0,
        ),
    ]
    for mask, color, marker, scale in groups:
        m = mask.to_numpy()
        if m.any():
            edge = np.where(t["on_path"].to_numpy()[m], COLORS["path"], "white")
            ax.scatter(
                t["x"][m],
                t["y"][m],
                s=size[m] * scale,
                c=color,
                marker=marker,
                edgecolors=edge,
                linewidths=1.5,
                zorder=3,
            )
    rec = (t["role"] == "recommended").to_numpy()
    for has, face in ((True, COLORS["recommended"]), (False, "white")):
        m = rec & (t["has_path"].to_numpy() == has)
        if m.any():
            ax.scatter(
                t["x"][m],
                t["y"][m],
                s=420,
                c=face,
                marker="*",
                edgecolors=COLORS["recommended"],
                linewidths=1.5,
                zorder=4,
            )

    # labels: radial, outside the node, flipped on the left half so text reads left to right
    for node, row in t.iterrows():
        if row["role"] == "centre":
            ax.annotate(
                row["label"],
                (row["x"], row["y"]),
                xytext=(0, -22),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=13,
                fontweight="bold",
                zorder=6,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
            )
            continue
        text, fs, weight = row["label"], 8, "normal"
        if row["kind"] == "user":
            if not row["on_path"]:
                continue  # user ids say little; hover them in the HTML view
            text, fs = text.replace("user ", "u"), 7
        if row["role"] == "recommended":
            # few and important: horizontal text, left or right of the star
            text = f"#{row['rec_rank']} {row['title']}"
            text = "\n".join(textwrap.wrap(text, 24, max_lines=2, placeholder="\u2026"))
            text += _no_path_note(row["has_path"], row["n_walks"])
            right = np.cos(row["angle"]) >= -1e-9
            ax.annotate(
                text,
                (row["x"], row["y"]),
                xytext=(11 if right else -11, 0),
                textcoords="offset points",
                ha="left" if right else "right",
                va="center",
                fontsize=10,
                fontweight="bold",
                color="#a04000",
                zorder=5,
            )
            continue
        if row["on_path"]:
            weight = "bold"
        deg = np.degrees(row["angle"])
        left = 90 < deg < 270
        ax.annotate(
            text,
            (row["x"], row["y"]),
            xytext=(8 * np.cos(row["angle"]), 8 * np.sin(row["angle"])),
            textcoords="offset points",
            rotation=deg - 180 if left else deg,
            rotation_mode="anchor",
            ha="right" if left else "left",
            va="center",
            fontsize=fs,
            fontweight=weight,
            zorder=5,
            color="#333333",
        )
    r_max = float(np.hypot(t["x"], t["y"]).max()) if len(t) else 1.0
    _fit_limits(ax, r_max)
    fig.suptitle(nb.title, fontsize=14, y=0.985)

    centre_kind = "user" if nb.centre < nb.x.n_users else "item"
    ring_names = {
        1: "items" if centre_kind == "user" else "users",
        2: "users" if centre_kind == "user" else "items",
    }
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            ms=11,
            mfc=COLORS["centre"],
            mec="white",
            label=f"centre {centre_kind}",
        ),
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            ms=8,
            mfc=COLORS["user"],
            mec="white",
            label="user (size: degree)",
        ),
        Line2D(
            [],
            [],
            marker="s",
            ls="",
            ms=8,
            mfc=COLORS["item"],
            mec="white",
            label="item (size: degree)",
        ),
        Line2D(
            [],
            [],
            marker="*",
            ls="",
            ms=14,
            mfc=COLORS["recommended"],
            mec=COLORS["recommended"],
            label="recommended (#rank)",
        ),
        Line2D(
            [],
            [],
            color=COLORS["path"],
            lw=3,
            label="path to a recommendation\n(width: contribution)",
        ),
        Line2D([], [], color=COLORS["edge"], lw=1, label="interaction"),
    ]
    if (rec & ~t["has_path"].to_numpy()).any():
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                ls="",
                ms=14,
                mfc="white",
                mec=COLORS["recommended"],
                label="recommended, no path drawn",
            )
        )
    (side or ax).legend(
        handles=handles,
        loc="lower left",
        fontsize=10,
        frameon=True,
        framealpha=0.9,
        title=f"rings: hop 1 {ring_names[1]}, hop 2 {ring_names[2]},\nrecommendations outside",
        title_fontsize=9,
    )
    if side is not None:
        _explain_panel(side, nb, item_info)
    from graphrec.viz.io import fit_fonts

    fit_fonts(fig)
    return fig


def _fit_limits(ax: Any, r_max: float) -> None:
    """Symmetric limits that keep every label inside the axes (labels have a fixed size
    in points, so the data scale is solved for by a few fixed-point steps)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    half_w = half_h = r_max * 1.1
    for _ in range(4):
        ratio = box.height / box.width
        half_w = max(half_w, half_h / ratio)
        half_h = half_w * ratio
        ax.set_xlim(-half_w, half_w)
        ax.set_ylim(-half_h, half_h)
        scale = box.width / (2 * half_w)  # pixels per data unit
        need_w, need_h = half_w, half_h
        for text in ax.texts:
            bb = text.get_window_extent(renderer)
            # distance of the text's far edges from the centre, converted to data units
            cx, cy = box.x0 + box.width / 2, box.y0 + box.height / 2
            need_w = max(need_w, (max(abs(bb.x0 - cx), abs(bb.x1 - cx)) + 6) / scale)
            need_h = max(need_h, (max(abs(bb.y0 - cy), abs(bb.y1 - cy)) + 6) / scale)
        if need_w <= half_w * 1.001 and need_h <= half_h * 1.001:
            return
        half_w, half_h = need_w, need_h
    half_w = max(half_w, half_h / ratio)
    ax.set_xlim(-half_w, half_w)
    ax.set_ylim(-half_w * ratio, half_w * ratio)


def _explain_panel(side: Any, nb: Neighborhood, item_info: pd.DataFrame | None) -> None:
    """Text panel: each recommendation and the items whose walks lead to it."""
    import textwrap

    from graphrec.explain import node_labels

    side.set_axis_off()
    by_user = nb.centre < nb.x.n_users
    lines: list[tuple[str, float, str, str]] = [
        ("Why these recommendations?", 12, "bold", "#000000"),
        (
            "share of the path weight through each of your items"
            if by_user
            else "share of the path weight through each user",
            8,
            "normal",
            "#555555",
        ),
    ]
    p = nb.paths
    for _, r in nb.recommendations.iterrows():
        lines.append((textwrap.shorten(f"#{r['rank']} {r['label']}", 40), 10, "bold", "#a04000"))
        walks = p[p["rec_rank"] == r["rank"]]
        if walks.empty:
            note = "no path within 3 hops" if r["n_walks"] == 0 else "path not shown (node cap)"
            lines.append((f"    {note}", 8.5, "normal", "#555555"))
            continue
        for _, w in walks.iterrows():
            via = node_labels(nb.x, np.asarray(w["nodes"][1:2]), item_info, width=32)[0]
            word = "because of" if by_user else "via"
            share = f"{w['share']:.0%}" if w["share"] >= 0.095 else f"{w['share']:.1%}"
            lines.append((f"    {share:>5}  {word} {via}", 8.5, "normal", "#333333"))
    y, step = 0.98, min(0.022, 0.62 / max(len(lines), 1))
    for text, fs, weight, color in lines:
        side.text(
            0.0,
            y,
            text,
            fontsize=fs,
            fontweight=weight,
            color=color,
            va="top",
            transform=side.transAxes,
        )
        y -= step
