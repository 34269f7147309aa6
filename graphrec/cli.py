"""The ``graphrec`` command line: argparse over :mod:`graphrec.workflow` and :mod:`graphrec.demo`.

Exit codes: 0 success, 1 a runtime error (missing file or column, unknown user, ...),
2 a usage error (bad flags, unknown model or dataset name, ``--k 0``). Errors print one
line naming the problem and the fix; ``--debug`` shows the traceback instead.
See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

__all__ = ["UsageError", "build_parser", "main"]

MODEL_FLAGS = ("epochs", "embedding_dim", "time_budget")


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _param_value(text: str) -> Any:
    """A --param value: TOML literal (1, 0.5, true, [1, 2], "x"), else the bare string."""
    import tomllib

    if text.lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# ---------------------------------------------------------------------- parser
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
    h.add_argument("--epochs", type=_positive_int)
    h.add_argument("--embedding-dim", type=_positive_int)
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
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel fit (LightGCN, MF) in each rank of a torchrun job: "
        "torchrun --nproc_per_node N -m graphrec train ... --distributed",
    )
    p.add_argument("--checkpoint-dir", help="with --distributed: rank 0 saves epoch checkpoints here")
    p.add_argument(
        "--dist-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="with --distributed: a crashed or hung rank fails the job after this long",
    )

    p = add("evaluate", "full-ranking metrics of a saved model (or of a model trained on the fly)", data, hp)
    p.add_argument("--model", required=True, metavar="DIR|NAME", help="a saved model folder, or a model name")
    p.add_argument("--k", type=_positive_int, nargs="+", default=[10, 20], help="cut-offs (default 10 20)")
    p.add_argument("--out", help="write the results as JSON to this file")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("recommend", "top-k items for users of a saved model", data)
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--user", required=True, nargs="+", action="extend", metavar="ID")
    p.add_argument("--k", type=_positive_int, default=10)
    p.add_argument("--rerank", choices=("mmr", "dpp"), help="diversity re-ranking")
    p.add_argument("--explain", action="store_true", help="add the user's item that leads to each one")
    p.add_argument("--json", action="store_true", help="print JSON records: user, rank, item, score, title")

    p = add("similar", "items most similar to given items (cosine of embeddings)", data)
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--item", required=True, nargs="+", action="extend", metavar="ID")
    p.add_argument("--k", type=_positive_int, default=10)
    p.add_argument("--json", action="store_true")

    p = add("viz", "draw a user's neighbourhood or an embedding map", data)
    p.add_argument("view", choices=("neighborhood", "embeddings"))
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--user", help="neighborhood: the user id at the centre")
    p.add_argument("--item", help="neighborhood: an item id at the centre instead")
    p.add_argument("--k", type=_positive_int, default=10, help="recommendations drawn")
    p.add_argument("--hops", type=_positive_int, default=2)
    p.add_argument("--kind", choices=("item", "user"), default="item", help="embeddings: which vectors")
    p.add_argument("--color", default="genre", help="embeddings: genre, popularity or community")
    p.add_argument("--method", choices=("pca", "tsne", "umap"), default="pca")
    p.add_argument("--out", help="file to write: .png, .svg, .pdf or .html (default <view>.png)")

    p = add("benchmark", "run benchmarks/run.py: recorded settings per (model, dataset)")
    p.add_argument("--dataset", nargs="+", default=["sample"], metavar="NAME")
    p.add_argument("--model", nargs="+", default=["popularity"], metavar="NAME")
    p.add_argument("--quick", action="store_true", help="small budgets (smoke test)")
    p.add_argument("--out", type=Path, default=None, help="write results.json and models here")
    p.add_argument("--root")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    return parser


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Run ``graphrec`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if not args.debug:  # torch's notes on its beta sparse CSR tensors are noise on a command line
        warnings.filterwarnings("ignore", message="Sparse (invariant checks|CSR tensor support)")
    try:
        return int(COMMANDS[args.command](args) or 0)
    except KeyboardInterrupt:
        print("graphrec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        if args.debug:
            traceback.print_exc()
        code = 2 if isinstance(exc, UsageError) else 1
        kind = "usage error" if code == 2 else "error"
        print(f"graphrec {args.command}: {kind}: {one_line(exc)}", file=sys.stderr)
        return code


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (KeyError quotes removed, lines joined)."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    msg = "; ".join(line.strip() for line in str(msg).splitlines() if line.strip())
    return msg or type(exc).__name__


def env_flag(name: str) -> bool:
    """True when environment variable ``name`` is set to a true-ish value."""
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def dumps(obj: Any) -> str:
    """JSON text with NaN/inf as null and numpy scalars as numbers."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return json.dumps(clean(obj), indent=1, ensure_ascii=False)


# ---------------------------------------------------------------------- helpers
DATA_KEYS = ("dataset", "root", "download", "user_col", "item_col", "rating_col", "time_col",
             "title_col", "min_rating", "test_size")
CONFIG_KEYS = {"model", "params", "seed", "device", *MODEL_FLAGS, *DATA_KEYS}


def _say(args: argparse.Namespace):
    return (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if not getattr(args, "config", None):
        return {}
    import tomllib

    path = Path(args.config)
    if not path.is_file():
        raise FileNotFoundError(f"no such config file: {path}")
    try:
        cfg = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(cfg) - CONFIG_KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown keys {unknown}; allowed: {sorted(CONFIG_KEYS)}")
    return cfg


def _opt(args: argparse.Namespace, cfg: dict[str, Any], key: str, default: Any = None) -> Any:
    value = getattr(args, key, None)
    return cfg.get(key, default) if value is None else value


def _data(args: argparse.Namespace, cfg: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The Dataset named by --dataset (or the config) and the options that rebuild it."""
    from graphrec.exceptions import DatasetNotFoundError
    from graphrec.workflow import load_data

    source = _opt(args, cfg, "dataset")
    if source is None:
        raise UsageError("no data given: pass --dataset NAME (see `graphrec datasets`) or --dataset FILE.csv")
    defaults = {"user_col": "user_id", "item_col": "item_id", "test_size": 0.2, "download": False}
    opts = {k: _opt(args, cfg, k, defaults.get(k)) for k in DATA_KEYS if k != "dataset"}
    opts["random_state"] = _opt(args, cfg, "seed", 0)
    if os.path.exists(source):
        source = os.path.abspath(source)
    try:
        return load_data(source, **opts), {"source": source, **opts}
    except DatasetNotFoundError as exc:
        raise DatasetNotFoundError(f"{one_line(exc)} On the command line: --root DIR or --download.") from exc
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}; check the path, or give a dataset name (`graphrec datasets`)") from exc
    except KeyError as exc:
        msg = one_line(exc)
        if msg.startswith("unknown dataset"):
            raise UsageError(f"{msg}; or pass a CSV/Parquet file path") from exc
        raise KeyError(f"{msg}; name the columns with --user-col/--item-col/--rating-col/--time-col") from exc


def _model_class(name: str, prefix: str = "") -> Any:
    from graphrec.models import get_model_class

    try:
        return get_model_class(name)
    except KeyError as exc:
        raise UsageError(f"{prefix}{one_line(exc)} (`graphrec models` lists them)") from exc


def _build(args: argparse.Namespace, cfg: dict[str, Any], name: str) -> Any:
    from graphrec.workflow import build_model

    _model_class(name)
    params = dict(cfg.get("params", {}))
    params.update({k: cfg[k] for k in MODEL_FLAGS if k in cfg})
    params.update({k: getattr(args, k) for k in MODEL_FLAGS if getattr(args, k, None) is not None})
    for item in args.param:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--param takes NAME=VALUE, got {item!r} (e.g. --param n_layers=2)")
        params[key.strip()] = _param_value(value.strip())
    try:
        return build_model(name, params, random_state=_opt(args, cfg, "seed", 0),
                           device=_opt(args, cfg, "device"), verbose=not args.quiet)
    except ValueError as exc:
        raise UsageError(f"{exc} (set them with --param NAME=VALUE)") from exc


def _saved(path: str) -> Any:
    from graphrec.workflow import load_model

    if not Path(path).is_dir():
        raise FileNotFoundError(f"no model folder at {path}; train one with `graphrec train MODEL --out {path}`")
    return load_model(path)


def _item_info(args: argparse.Namespace, saved: Any) -> Any:
    if not getattr(args, "dataset", None):
        return saved.item_info
    from graphrec.workflow import item_info_for

    return item_info_for(saved.model.items_, _data(args, {})[0])


def _labels(model: Any, raw: list[str], role: str) -> Any:
    from graphrec.workflow import parse_labels

    idmap = model.users_ if role == "user" else model.items_
    try:
        return parse_labels(idmap, raw, role)
    except KeyError as exc:
        raise KeyError(f"{one_line(exc)}; use ids as they appear in the training data") from exc


def _print_frame(frame: Any, as_json: bool) -> None:
    if as_json:
        print(dumps(json.loads(frame.to_json(orient="records", force_ascii=False))))
    else:
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}", max_colwidth=60))


# ---------------------------------------------------------------------- commands
def cmd_demo(args: argparse.Namespace) -> int:
    from graphrec.demo import DEMO_MODELS, run_demo

    fast = args.fast or env_flag("GRAPHREC_FAST")
    for name in args.models or ():
        _model_class(name)
    res = run_demo(args.out, models=args.models or DEMO_MODELS, users=args.user, rerank=args.rerank,
                   budget_scale=0.1 if fast else 1.0, random_state=args.seed, device=args.device,
                   verbose=not args.quiet, echo=_say(args))
    print(res.files["report"].read_text(encoding="utf-8"))
    print(f"written to {Path(args.out).resolve()}: " + ", ".join(sorted(p.name for p in res.files.values())))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from graphrec.datasets import available

    table = available(args.root)
    if args.json:
        print(dumps(table.reset_index().to_dict(orient="records")))
        return 0
    for name, row in table.iterrows():
        where = row["path"] if row["found"] else "not found (add --download to a command to fetch it)"
        print(f"{name:16} {where}\n{'':16} {row['description']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from graphrec.models import MODELS

    for name, cls in MODELS.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items())
        print(f"{name.lower():12} {doc}\n{'':12} {params or '(no hyperparameters)'}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import time

    from graphrec.workflow import save_model

    cfg = _config(args)
    name = args.model or cfg.get("model")
    if not name:
        raise UsageError("no model given: graphrec train MODEL ... (see `graphrec models`)")
    model = _build(args, cfg, name)
    ds, record = _data(args, cfg)
    _say(args)(f"training {type(model).__name__} on {ds!r}")
    start = time.perf_counter()
    if args.distributed:
        from graphrec.distributed import DistributedError, fit_distributed

        try:
            result = fit_distributed(
                model, ds.train, ds.valid, checkpoint_dir=args.checkpoint_dir, timeout=args.dist_timeout
            )
        except DistributedError as exc:
            print(f"graphrec train: error: {one_line(exc)}", file=sys.stderr, flush=True)
            os._exit(1)  # a broken process group can block the interpreter's exit
        if result.rank != 0:
            return 0  # rank 0 alone writes the model
    else:
        model.fit(ds.train, ds.valid)
    seconds = time.perf_counter() - start
    save_model(model, args.out, item_info=ds.item_info, data=record)
    user = model.users_.to_labels([0])[0]
    print(f"saved {type(model).__name__} to {args.out} (fit {seconds:.1f} s); "
          f"next: graphrec recommend --model {args.out} --user {user}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from graphrec.workflow import evaluate_model, load_data

    cfg = _config(args)
    if Path(args.model).is_dir():
        saved = _saved(args.model)
        model, info = saved.model, saved.item_info
        if args.dataset or cfg.get("dataset"):
            ds = _data(args, cfg)[0]
        elif saved.data:
            ds = load_data(**saved.data)
        else:
            raise UsageError(f"{args.model} does not record its data: pass --dataset")
    else:
        if os.sep in args.model or os.path.exists(args.model):
            raise FileNotFoundError(f"no model folder at {args.model}")
        _model_class(args.model, f"{args.model!r} is not a model folder, and ")
        model = _build(args, cfg, args.model)
        ds = _data(args, cfg)[0]
        _say(args)(f"training {type(model).__name__} on {ds!r}")
        model.fit(ds.train, ds.valid)
        info = ds.item_info
    metrics = evaluate_model(model, ds.test, args.k, item_info=info)
    result = {"model": type(model).__name__, "dataset": ds.name, "metrics": metrics}
    if args.out:
        Path(args.out).write_text(dumps(result))
    if args.json:
        print(dumps(result))
    else:
        for key, value in metrics.items():
            print(f"{key:20} {value:.4f}" if isinstance(value, float) else f"{key:20} {value}")
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from graphrec.workflow import make_reranker, recommend_table

    saved = _saved(args.model)
    info = _item_info(args, saved)
    users = _labels(saved.model, args.user, "user")
    try:
        reranker = make_reranker(args.rerank, saved.model, info)
    except ImportError as exc:
        raise RuntimeError(f"re-ranking is not available in this graphrec ({exc})") from exc
    frame = recommend_table(saved.model, users, args.k, item_info=info, rerank=reranker, explain=args.explain)
    _print_frame(frame, args.json)
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    from graphrec.workflow import similar_table

    saved = _saved(args.model)
    if getattr(saved.model, "item_embeddings_", None) is None:
        raise RuntimeError(f"{type(saved.model).__name__} has no item embeddings; similar needs an "
                           "embedding model (e.g. lightgcn, mf)")
    items = _labels(saved.model, args.item, "item")
    _print_frame(similar_table(saved.model, items, args.k, item_info=_item_info(args, saved)), args.json)
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    try:
        from graphrec import viz
    except ImportError as exc:
        raise RuntimeError(f"visualisation is not available in this graphrec ({exc})") from exc
    saved = _saved(args.model)
    model, info = saved.model, _item_info(args, saved)
    out = Path(args.out or f"{args.view}.png")
    if args.view == "embeddings":
        if out.suffix == ".html":
            raise UsageError("the embedding map is written as .png, .svg or .pdf")
        fig = viz.embedding_map(model, kind=args.kind, method=args.method, color=args.color, item_info=info)
        viz.save_figure(getattr(fig, "figure", fig), out)
    else:
        if (args.user is None) == (args.item is None):
            raise UsageError("viz neighborhood needs --user ID or --item ID")
        user = None if args.user is None else int(model.users_.to_index(_labels(model, [args.user], "user"))[0])
        item = None if args.item is None else int(model.items_.to_index(_labels(model, [args.item], "item"))[0])
        kw = {"user": user, "item": item, "k": args.k, "hops": args.hops, "item_info": info}
        if out.suffix == ".html":
            viz.neighborhood_html(model, path=out, **kw)
        else:
            viz.save_figure(viz.neighborhood(model, **kw), out)
    print(f"wrote {out}")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    import runpy

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    if not script.is_file():
        raise RuntimeError(f"graphrec benchmark needs a source checkout: {script} not found")
    for name in args.model:
        _model_class(name)
    bench = runpy.run_path(str(script), run_name="graphrec_benchmark")
    results = []
    for dataset in args.dataset:
        for name in args.model:
            _say(args)(f"benchmark: {name} on {dataset} ({'quick' if args.quick else 'full'})")
            try:
                results.append(bench["run_one"](dataset, name, quick=args.quick, out=args.out,
                                                root=args.root, seed=args.seed))
            except KeyError as exc:
                raise UsageError(one_line(exc)) from exc
    print(dumps(results) if args.json else bench["format_table"](results))
    return 0


COMMANDS = {name[4:]: fn for name, fn in list(globals().items()) if name.startswith("cmd_")}
