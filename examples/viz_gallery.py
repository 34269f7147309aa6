"""Make the README's example pictures: neighbourhood (PNG, SVG, HTML), embedding map, curves.

    python examples/viz_gallery.py [--user 17] [--epochs 25] [--out docs/images]

Trains LightGCN on MovieLens latest-small (a few epochs on CPU) and draws a real
user's neighbourhood. PNGs go to ``--out`` (the README's docs/images); the SVG and
the interactive HTML go to examples/output/ (the HTML inlines plotly.js, ~5 MB).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import graphrec as gr
from graphrec import explain, viz


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--user", default=17, type=int, help="MovieLens userId (external id)")
    p.add_argument("--epochs", default=25, type=int)
    p.add_argument("--out", default="docs/images")
    p.add_argument("--output", default="examples/output", help="SVG and HTML folder")
    args = p.parse_args()
    out, extra = Path(args.out), Path(args.output)

    ds = gr.datasets.load("movielens-small")
    start = time.perf_counter()
    model = gr.LightGCN(embedding_dim=64, n_layers=3, epochs=args.epochs, random_state=0, device="cpu")
    model.fit(ds.train, ds.valid)
    print(f"LightGCN trained in {time.perf_counter() - start:.1f} s")
    user = int(model.users_.to_index([args.user])[0])

    start = time.perf_counter()
    fig = viz.neighborhood(model, user=user, hops=2, k=10, item_info=ds.item_info)
    viz.save_figure(fig, out / "neighborhood.png", close=False, palette=True)
    print(f"neighbourhood drawn and saved in {time.perf_counter() - start:.1f} s")
    viz.save_figure(fig, extra / "neighborhood.svg")
    viz.neighborhood_html(
        model, user=user, k=10, item_info=ds.item_info, path=extra / "neighborhood.html"
    )

    fig = viz.embedding_map(
        model,
        method="tsne",
        color=["genre", "popularity"],
        item_info=ds.item_info,
        min_degree=5,
        max_points=3000,
        figsize=(16, 7),
    )
    viz.save_figure(fig, out / "embedding_map.png", dpi=80, palette=True)
    fig = viz.training_curves(model)
    viz.save_figure(fig, out / "training_curves.png", dpi=90, palette=True)

    table = explain.explain_recommendations(
        model, user, k=5, top=2, level="item", item_info=ds.item_info
    )
    print(table[["rec_rank", "item_label", "label", "share", "n_paths"]].to_string(index=False))


if __name__ == "__main__":
    main()
