"""Saving pictures: figures by extension, and the neighbourhood view in one call.

:func:`save_neighborhood` draws and saves in one call, the output format following
the file name (``.png``/``.svg``/``.pdf``: matplotlib; ``.html``: interactive plotly).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from graphrec.viz.options import takes_options

__all__ = ["FIGURE_SUFFIXES", "fit_fonts", "save_figure", "save_neighborhood"]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def _charmap(fname: str) -> set[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return set(FT2Font(fname).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return set()


def fit_fonts(fig: Any) -> str | None:
    """Give the figure's texts a font that has their glyphs (CJK titles, say), if one is installed.

    matplotlib's default font (DejaVu Sans) has no Chinese, Japanese or Korean
    glyphs: such labels render as boxes. This looks through the installed fonts
    (matplotlib's font manager) for one that has every character the default lacks,
    and sets it, with the default as fallback, on the texts that need it. When none
    has them, it warns (``UserWarning``) and leaves the figure as it is.
    :func:`save_figure`, :func:`graphrec.viz.neighborhood` and
    :func:`graphrec.viz.embedding_map` call it.

    Parameters
    ----------
    fig : matplotlib Figure

    Returns
    -------
    str or None
        The font family chosen, or None (nothing missing, or no font has the glyphs).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig = plt.figure(); _ = fig.text(0.5, 0.5, "Toy Story (1995)")
    >>> fit_fonts(fig) is None   # the default font has every glyph
    True
    """
    import warnings

    from matplotlib import font_manager
    from matplotlib.text import Text

    texts = [t for t in fig.findobj(Text) if t.get_text()]
    by_font: dict[str, list[Any]] = {}
    for t in texts:
        by_font.setdefault(font_manager.findfont(t.get_fontproperties()), []).append(t)
    needy, missing = [], set()
    for fname, group in by_font.items():
        have = _charmap(fname)
        for t in group:
            lack = {ord(c) for c in t.get_text() if not c.isspace() and ord(c) > 0x7F} - have
            if lack:
                needy.append(t)
                missing |= lack
    if not missing:
        return None
    for entry in sorted(font_manager.fontManager.ttflist, key=lambda f: f.name):
        if "last resort" in entry.name.lower():  # maps every code point to a placeholder box
            continue
        if missing <= _charmap(entry.fname):
            for t in needy:
                t.set_fontfamily([entry.name, *font_manager.FontProperties(family=t.get_fontfamily()).get_family()])
            return str(entry.name)
    sample = "".join(sorted(chr(c) for c in missing)[:5])
    if getattr(fig, "_graphrec_missing_glyphs", None) == missing:
        return None  # already warned for this figure (drawn, then saved)
    fig._graphrec_missing_glyphs = missing
    warnings.warn(
        f"no installed font has the characters {sample!r} used in the figure's labels: they will "
        "show as boxes; install a font with them (for CJK: Noto Sans CJK, e.g. `apt install "
        "fonts-noto-cjk`), then clear matplotlib's font cache",
        UserWarning,
        stacklevel=2,
    )
    return None


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
    fit_fonts(fig)
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
    ids: str | None = None,
    **options: Any,
) -> str:
    """Draw a neighbourhood and save it; the format follows the file name.

    ``.png``, ``.svg``, ``.pdf``, ``.jpg``: :func:`graphrec.viz.neighborhood` (1600 x 1200
    pixels for PNG); ``.html``: :func:`graphrec.viz.neighborhood_html` (self-contained).
    ``user``/``item`` are your own ids with ``ids="raw"``, internal indices with
    ``ids="index"`` (see :func:`graphrec.viz.neighborhood_graph`). ``**options`` (``hops``, ``k``, ``max_nodes``, ...) are those of
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
    from graphrec.viz.layout import _centre_ids

    path = Path(path)
    suffix = path.suffix.lower()
    ids = _centre_ids(ids, model, user, options.get("train"))
    if suffix in (".html", ".htm"):
        from graphrec.viz.html import neighborhood_html

        neighborhood_html(model, user, item, path=path, ids=ids, **options)
        return str(path)
    if suffix not in FIGURE_SUFFIXES:
        raise ValueError(f"path must end in .png, .svg, .pdf, .jpg or .html, got {suffix!r}")
    from graphrec.viz.neighborhood import neighborhood

    return save_figure(neighborhood(model, user, item, ids=ids, **options), path, palette=palette)
