"""The argument parser of ``graphrec``: one sub-parser per command, and the argument types.

Only the standard library is imported here, so ``graphrec --help`` and
``graphrec --version`` start without torch, pandas or the models.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["MODEL_FLAGS", "build_parser", "param_value", "positive_int"]

#: model hyperparameters that have their own flag (the rest go through --param NAME=VALUE)
MODEL_FLAGS = ("epochs", "embedding_dim", "time_budget")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1, checked by :func:`graphrec.utils.check_positive_int`.

    The validator is imported when a flag of this type is parsed (``--k``, ``--epochs``, ...),
    which only commands that load the library anyway take.

    Raises
    ------
    argparse.ArgumentTypeError
        ``text`` is not an integer >= 1; the message says what was expected.
    """
    from graphrec.utils import check_positive_int

    try:
        return check_positive_int(int(text), "value")
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None


def param_value(text: str) -> Any:
    """A --param value: TOML literal (1, 0.5, true, [1, 2], "x"), else the bare string.

    Examples
    --------
    >>> param_value("0.5"), param_value("bpr"), param_value("none")
    (0.5, 'bpr', None)
    """
    import tomllib

    if text.lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``graphrec`` (one sub-parser per command)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or progress lines")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the Python traceback on errors")
    data = argparse.ArgumentParser(add_help=False)
    g = data.add_argument_group("data (a dataset name or a CSV/TSV/Parquet file)")
    g.add_argument("--dataset", "--data", dest="dataset", metavar="NAME|PATH",
                   help="e.g. sample, movielens-small, gowalla, or ratings.csv")
    g.add_argument("--root", help="data root for named datasets (default: $GRAPHREC_DATA, ../shared/data)")
    g.add_argument("--download", action="store_true", default=None, help="fetch a missing named dataset")
    g.add_argument("--user-col", help="user id column of a file (default user_id)")
    g.add_argument("--item-col", help="item id column of a file (default item_id)")
    g.add_argument("--rating-col", help="rating/weight column")
    g.add_argument("--time-col", help="timestamp column (then the split holds out each user's latest rows)")
    g.add_argument("--title-col", help="item title column")
    g.add_argument("--min-rating", type=float, help="keep ratings >= this as implicit feedback")
    g.add_argument("--test-size", type=float, help="fraction held out per user (default 0.2)")
    hp = argparse.ArgumentParser(add_help=False)
    h = hp.add_argument_group("model hyperparameters")
    h.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="any hyperparameter (repeatable), e.g. -p n_layers=2 -p lr=0.005")
    h.add_argument("--config", metavar="TOML", help="TOML file: model = ..., data options, [params] table")
    h.add_argument("--epochs", type=positive_int)
    h.add_argument("--embedding-dim", type=positive_int)
    h.add_argument("--time-budget", type=float, metavar="SECONDS", help="stop training after this long")
    h.add_argument("--seed", type=int, help="random_state of the model and the split (default 0)")
    h.add_argument("--device", help="auto, cpu or cuda[:n] (default auto)")

    parser = argparse.ArgumentParser(prog="graphrec", description="Graph-based recommendation from the command line.")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or progress lines")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback on errors")
    from graphrec import __version__

    parser.add_argument("--version", action="version", version=f"graphrec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[common, *parents])

    p = add("demo", "train and compare models on the bundled MovieLens sample; write a report")
    p.add_argument("--out", default="graphrec-demo", help="output folder (default ./graphrec-demo)")
    p.add_argument("--fast", action="store_true", help="a few seconds of training per model (smoke run)")
    p.add_argument("--models", nargs="+", metavar="NAME", help="models to compare (default: all registered)")
    p.add_argument("--user", nargs="+", action="extend", metavar="ID", help="MovieLens user ids to show")
    p.add_argument("--rerank", choices=("mmr", "dpp"), default="mmr")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")

    p = add("datasets", "list the named datasets and where they were found")
    p.add_argument("--root", help="look only here")
    p.add_argument("--json", action="store_true")

    add("models", "list the models and their hyperparameters")

    p = add("train", "fit a model and save it (with item titles) to a folder", data, hp)
    p.add_argument("model", nargs="?", help="model name (see `graphrec models`); or model = ... in --config")
    p.add_argument("--out", required=True,
                   help="model folder to write (new or empty; checked before training starts)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing graphrec model at --out (other files are never replaced)")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel fit (LightGCN, MF) in each rank of a torchrun job: "
        "torchrun --nproc_per_node N -m graphrec train ... --distributed",
    )
    p.add_argument("--checkpoint-dir", help="save training checkpoints here (LightGCN, MF; with --distributed: rank 0)")
    p.add_argument("--resume", metavar="DIR",
                   help="continue a killed run from the newest checkpoint in DIR (same model, settings and data)")
    p.add_argument(
        "--dist-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="with --distributed: a crashed or hung rank fails the job after this long",
    )

    p = add("evaluate", "full-ranking metrics of a saved model (or of a model trained on the fly)", data, hp)
    p.add_argument("--model", required=True, metavar="DIR|NAME", help="a saved model folder, or a model name")
    p.add_argument("--k", type=positive_int, nargs="+", default=[10, 20], help="cut-offs (default 10 20)")
    p.add_argument("--out", help="write the results as JSON to this file (a new file unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("recommend", "top-k items for users of a saved model", data)
    p.add_argument("--model", required=True, metavar="DIR", help="a model folder written by `graphrec train --out`")
    p.add_argument("--user", required=True, nargs="+", action="extend", metavar="ID",
                   help="user ids as in the training data (repeatable)")
    p.add_argument("--k", type=positive_int, default=10, help="items per user (default 10)")
    p.add_argument("--rerank", choices=("mmr", "dpp"), help="diversity re-ranking")
    p.add_argument("--explain", action="store_true", help="add the user's item that leads to each one")
    p.add_argument("--json", action="store_true", help="print JSON records: user, rank, item, score, title")

    p = add("similar", "items most similar to given items (cosine of embeddings)", data)
    p.add_argument("--model", required=True, metavar="DIR", help="a model folder written by `graphrec train --out`")
    p.add_argument("--item", required=True, nargs="+", action="extend", metavar="ID",
                   help="item ids as in the training data (repeatable)")
    p.add_argument("--k", type=positive_int, default=10, help="similar items per item (default 10)")
    p.add_argument("--json", action="store_true")

    p = add("viz", "draw a user's neighbourhood or an embedding map", data)
    p.add_argument("view", choices=("neighborhood", "embeddings"))
    p.add_argument("--model", required=True, metavar="DIR", help="a model folder written by `graphrec train --out`")
    p.add_argument("--user", help="neighborhood: the user id at the centre")
    p.add_argument("--item", help="neighborhood: an item id at the centre instead")
    p.add_argument("--k", type=positive_int, default=10,
                   help="neighborhood: recommendations drawn on the outer ring (default 10)")
    p.add_argument("--hops", type=positive_int, default=2,
                   help="neighborhood: graph hops drawn around the centre (default 2)")
    p.add_argument("--kind", choices=("item", "user"), default="item", help="embeddings: which vectors")
    p.add_argument("--color", default="genre", help="embeddings: genre, popularity or community")
    p.add_argument("--method", choices=("pca", "tsne", "umap"), default="pca")
    p.add_argument("--out", help="file to write: .png, .svg, .pdf or .html (default <view>.png; "
                   "a new file unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")

    p = add("tune", "search a model's hyperparameters on validation data (graphrec.tune); write DIR/trials.csv, "
            "DIR/best.toml (for graphrec train --config) and DIR/search.png", data, hp)
    p.add_argument("model", nargs="?", help="model name (see `graphrec models`); or model = ... in --config")
    p.add_argument("--out", required=True, metavar="DIR", help="new or empty folder for the results")
    p.add_argument("--budget", type=float, metavar="SECONDS", help="wall-clock budget of the search")
    p.add_argument("--trials", type=positive_int, metavar="N", help="at most N trials")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="what --budget counts: wall-clock or this process's CPU seconds (fair on a shared machine)")
    p.add_argument("--method", choices=("auto", "tpe", "random", "grid"), default="auto",
                   help="auto: Optuna TPE when optuna is installed (graphrec[tune]), else random")
    p.add_argument("--metric", default="recall@20", help="validation metric to maximise (default recall@20)")
    p.add_argument("--cv", type=int, metavar="K", help="score by per-user K-fold cross-validation of train")
    p.add_argument("--valid-size", type=float, default=0.1,
                   help="share of each user's train rows carved off as validation when the data has none")
    p.add_argument("--space", action="append", default=[], metavar="NAME=[V1, V2]",
                   help="search NAME over these values (repeatable; replaces the model's default space)")

    p = add("benchmark", "fit and evaluate models with their recorded recipes (graphrec.recipes); the suite "
            "with peer libraries and RESULTS.md needs a source checkout: python benchmarks/run.py --full")
    p.add_argument("--dataset", nargs="+", default=["sample"], metavar="NAME",
                   help="named datasets, or synthetic (default sample)")
    p.add_argument("--model", nargs="+", default=["popularity"], metavar="NAME", help="registered models")
    p.add_argument("--quick", action="store_true", help="small budgets (smoke test)")
    p.add_argument("--time-cap", type=float, metavar="SECONDS", help="cap each model's time_budget at this")
    p.add_argument("--out", type=Path, default=None, help="write results.json and models here")
    p.add_argument("--root", help="data root (default: $GRAPHREC_DATA, ../shared/data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    return parser


