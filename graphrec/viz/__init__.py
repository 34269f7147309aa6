"""Pictures of the graph and the models: neighbourhood views, embedding maps, curves.

Plotting libraries (matplotlib, plotly) are imported inside the functions, so
``import graphrec`` (and ``import graphrec.viz``) never loads them.

- :func:`neighborhood` / :func:`draw_neighborhood`: the k-hop ego graph of a user or
  item with the model's recommendations and the paths that lead to them (matplotlib);
  :func:`neighborhood_graph` computes the same as tables, with positions.
- :func:`neighborhood_html`: the same view as a self-contained interactive HTML file.
- :func:`embedding_map`, :func:`project_embeddings`: 2-D maps of embeddings.
- :func:`training_curves`: loss and metrics over epochs from a model's history.
- :func:`fit_fonts`: a font with the labels' glyphs (CJK titles), or a warning.
- :func:`save_figure`: save a figure by extension (what the CLI and the demo call);
  :func:`save_neighborhood`: draw and save a neighbourhood in one call, PNG/SVG/PDF or
  HTML by extension.
- :class:`NeighborhoodOptions`: the options every neighbourhood function shares
  (``hops``, ``k``, ``max_nodes``, ``paths_per_item``, ``train``, ``item_info``,
  ``weighting``, ``label_width``), declared and documented once.
"""

from graphrec.viz.curves import training_curves
from graphrec.viz.embeddings import embedding_map, project_embeddings
from graphrec.viz.html import neighborhood_html
from graphrec.viz.io import fit_fonts, save_figure, save_neighborhood
from graphrec.viz.layout import Neighborhood, neighborhood_graph
from graphrec.viz.neighborhood import draw_neighborhood, neighborhood
from graphrec.viz.options import NeighborhoodOptions

__all__ = [
    "Neighborhood",
    "NeighborhoodOptions",
    "draw_neighborhood",
    "embedding_map",
    "fit_fonts",
    "neighborhood",
    "neighborhood_graph",
    "neighborhood_html",
    "project_embeddings",
    "save_figure",
    "save_neighborhood",
    "training_curves",
]
