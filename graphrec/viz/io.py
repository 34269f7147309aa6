"""Saving pictures: figures by extension, and the neighbourhood view in one call.

:func:`save_neighborhood` draws and saves in one call, the output format following
the file name (``.png``/``.svg``/``.pdf``: matplotlib; ``.html``: interactive plotly).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from graphrec.viz.options import takes_options

__all__ = ["FIGURE_SUFFIXES", "save_figure", "save_neighborhood"]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def save_figure(
    fig: Any,
    path: str | os.PathLike,
    *,
    dpi: int | None = None,
    close: bool = True,
    palette: bool = False,
) -> str:
    """Save a figure by extension (.png, .svg, .pdf, .jpg); create the parent folder.

    Parameters
    ----------
    fig : matplotlib Figure
    path : str or PathLike
    dpi : int, optional
        Default: the figure's own (100 for :func:`neighborhood`: 1600 x 1200 pixels).
    close : bool, default True
        Free the figure afterwards (pyplot keeps it otherwise).
    palette : bool, default False
        PNG only: quantise to a 256-colour palette with Pillow, about 3x smaller (for
        images kept in a repository); text stays sharp.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        An unsupported extension.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ValueError(f"path must end in .png, .svg, .pdf or .jpg, got {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi or fig.dpi, facecolor="white")
    if palette and path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as img:
            small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)
    if close:
        plt.close(fig)
    return str(path)


@takes_options
def save_neighborhood(
    model: Any,
    path: str | os.PathLike,
    *,
    user: int | None = None,
    item: int | None = None,
    palette: bool = False,
    **options: Any,
) -> str:
    """Draw a neighbourhood and save it; the format follows the file name.

    ``.png``, ``.svg``, ``.pdf``, ``.jpg``: :func:`graphrec.viz.neighborhood` (1600 x 1200
    pixels for PNG); ``.html``: :func:`graphrec.viz.neighborhood_html` (self-contained).
    ``user``/``item`` are internal indices (``graphrec.explain.user_index`` maps an
    id). ``**options`` (``hops``, ``k``, ``max_nodes``, ...) are those of
    :class:`graphrec.viz.NeighborhoodOptions`.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        An unsupported extension (and the errors of the drawing functions).

    Examples
    --------
    >>> import tempfile, matplotlib; matplotlib.use("Agg")
    >>> from graphrec import Interactions, Popularity
    >>> x = Interactions.from_arrays([0, 0, 1, 1, 2], [0, 1, 1, 2, 3], n_users=3, n_items=4)
    >>> out = save_neighborhood(Popularity().fit(x), tempfile.mkdtemp() + "/nb.svg", user=0, k=2)
    >>> out.endswith("nb.svg")
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        from graphrec.viz.html import neighborhood_html

        neighborhood_html(model, user, item, path=path, **options)
        return str(path)
    if suffix not in FIGURE_SUFFIXES:
        raise ValueError(f"path must end in .png, .svg, .pdf, .jpg or .html, got {suffix!r}")
    from graphrec.viz.neighborhood import neighborhood

    return save_figure(neighborhood(model, user, item, **options), path, palette=palette)
