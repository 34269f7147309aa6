"""Make the README's example pictures: neighbourhood (PNG, SVG, HTML), embedding map, curves.

    python examples/viz_gallery.py [--user 17] [--epochs 25] [--out docs/images] [--fast]

Trains LightGCN on the bundled MovieLens sample (latest-small; a few epochs on CPU) and
draws a real user's neighbourhood. PNGs go to ``--out`` (the README's docs/images); the
SVG and the interactive HTML go to examples/output/ (the HTML inlines plotly.js, ~5 MB).
``--fast`` (or GRAPHREC_FAST=1): one epoch and a PCA map instead of t-SNE (a smoke run).
"""

from __future__ import annotations

import argparse
import os
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
    p.add_argument("--fast", action="store_true", default=os.environ.get("GRAPHREC_FAST") == "1",
                   help="one epoch, PCA instead of t-SNE (smoke run)")
    args = p.parse_args()
    out, extra = Path(args.out), Path(args.output)

    ds = gr.datasets.load("sample")  # the bundled copy of MovieLens latest-small: no download
    start = time.perf_counter()
    epochs = 1 if args.fast else args.epochs
    model = gr.LightGCN(embedding_dim=64, n_layers=3, epochs=epochs, random_state=0, device="cpu")
    model.fit(ds.train, ds.valid)
    print(f"LightGCN trained in {time.perf_counter() - start:.1f} s")
    user = args.user  # the MovieLens userId: every call below takes your own ids (ids="raw")

    start = time.perf_counter()
    fig = viz.neighborhood(model, user=user, hops=2, k=10, item_info=ds.item_info, ids="raw")
    viz.save_figure(fig, out / "neighborhood.png", close=False, palette=True)
    print(f"neighbourhood drawn and saved in {time.perf_counter() - start:.1f} s")
    viz.save_figure(fig, extra / "neighborhood.svg")
    viz.neighborhood_html(
        model, user=user, k=10, item_info=ds.item_info, path=extra / "neighborhood.html", ids="raw"
    )

    fig = viz.embedding_map(
        model,
        method="pca" if args.fast else "tsne",
        color=["genre", "popularity"],
        item_info=ds.item_info,
        min_degree=5,
        max_points=500 if args.fast else 3000,
        figsize=(16, 7),
    )
    viz.save_figure(fig, out / "embedding_map.png", dpi=80, palette=True)
    fig = viz.training_curves(model)
    viz.save_figure(fig, out / "training_curves.png", dpi=90, palette=True)

    table = explain.explain_recommendations(
        model, user, k=5, top=2, level="item", item_info=ds.item_info, ids="raw"
    )
    print(table[["rec_rank", "item_label", "label", "share", "n_paths"]].to_string(index=False))
    print(f"pictures written to {out}/ and {extra}/")


if __name__ == "__main__":
    main()
