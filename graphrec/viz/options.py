"""What a neighbourhood view shows: the options shared by every neighbourhood function.

:func:`graphrec.viz.neighborhood_graph`, :func:`graphrec.viz.neighborhood`,
:func:`graphrec.viz.neighborhood_html` and :func:`graphrec.viz.save_neighborhood`
take the same keyword arguments (``hops``, ``k``, ``max_nodes``, ...). They are
declared, defaulted, documented and checked once, in :class:`NeighborhoodOptions`;
each function accepts them as ``**options`` and :func:`takes_options` gives it the
flat signature (for ``help()``, ``inspect.signature`` and IDEs) generated from the
dataclass. Adding an option touches this module only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    from graphrec.data.interactions import Interactions

__all__ = ["NeighborhoodOptions", "takes_options"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class NeighborhoodOptions:
    """Which nodes a neighbourhood view selects and how it labels them.

    Parameters
    ----------
    hops : int, default 2
        Rings of the ego graph around the centre.
    k : int, default 10
        Recommendations to add (0: none).
    max_nodes : int, default 60
        Cap on drawn nodes, centre and recommendations included.
    paths_per_item : int, default 2
        Walks drawn from the centre to each recommendation (length 3 from a user,
        length 2 from an item).
    train : Interactions, optional
        The training interactions (the model's, ``model.seen_``, by default).
    item_info : DataFrame, optional
        Indexed by internal item index; ``title`` labels the items.
    weighting : {"auto", "normalized", "count"}, default "auto"
        How walks are weighted (see :mod:`graphrec.explain`).
    label_width : int or None, default 28
        Truncate labels to this many characters.

    Raises
    ------
    ValueError
        ``hops < 1``; ``k < 0``; ``max_nodes <= k``.

    Examples
    --------
    >>> NeighborhoodOptions(k=5).max_nodes
    60
    >>> NeighborhoodOptions(k=60)
    Traceback (most recent call last):
    ...
    ValueError: max_nodes must exceed k (centre + 60 recommendations), got 60
    """

    hops: int = 2
    k: int = 10
    max_nodes: int = 60
    paths_per_item: int = 2
    train: Interactions | None = None
    item_info: pd.DataFrame | None = None
    weighting: str = "auto"
    label_width: int | None = 28

    def __post_init__(self) -> None:
        if self.hops < 1:
            raise ValueError(f"hops must be >= 1, got {self.hops}")
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")
        if self.max_nodes <= self.k:
            raise ValueError(
                f"max_nodes must exceed k (centre + {self.k} recommendations), got {self.max_nodes}"
            )


def takes_options(func: F) -> F:
    """Show :class:`NeighborhoodOptions`' fields as keyword-only parameters of ``func``.

    ``func`` ends in ``**options``; its ``__signature__`` becomes the flat one, with
    each option's default, so ``help(func)`` and ``inspect.signature(func)`` list
    them. Calls are unchanged: an unknown keyword still raises ``TypeError`` (from
    :class:`NeighborhoodOptions`).
    """
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    taken = {p.name for p in params}
    for f in fields(NeighborhoodOptions):
        if f.name in taken:
            continue
        default = f.default if f.default is not MISSING else inspect.Parameter.empty
        params.append(
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=f.type)
        )
    # keyword-only parameters after the options keep their place at the end
    params.sort(key=lambda p: p.kind)
    func.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return func
