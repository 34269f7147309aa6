"""The commands of ``graphrec``: one ``cmd_<name>(args) -> exit status`` per sub-command.

Each command imports the library modules it needs when it runs (torch, pandas and the
models are heavy; ``graphrec datasets`` needs only :mod:`graphrec.data.datasets`), and
raises :class:`UsageError` for a wrong command line; :func:`graphrec.cli.main` turns
errors into one line and an exit status.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphrec.cli.parser import MODEL_FLAGS, param_value

__all__ = ["COMMANDS", "UsageError", "best_toml", "dumps", "env_flag", "one_line"]


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


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


def _say(args: argparse.Namespace) -> Callable[[str], None]:
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
        params[key.strip()] = param_value(value.strip())
    try:
        return build_model(name, params, random_state=_opt(args, cfg, "seed", 0),
                           device=_opt(args, cfg, "device"), verbose=not args.quiet)
    except ValueError as exc:
        raise UsageError(f"{exc} (set them with --param NAME=VALUE)") from exc


def _saved(path: str) -> Any:
    from graphrec.workflow import load_model

    p = Path(path)
    if p.is_file():
        data = p.suffix.lower() in (".csv", ".tsv", ".txt", ".parquet", ".pq")
        hint = (f"to train on it: graphrec train MODEL --dataset {path} --out NEW_FOLDER" if data
                else "give the folder `graphrec train ... --out` wrote")
        raise FileNotFoundError(f"--model {path} is a file, not a model folder; {hint}")
    if not p.is_dir():
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


def _check_file_out(path: str | os.PathLike, force: bool) -> Path:
    """An output file path that may be written: refuse a folder, and an existing file without --force."""
    path = Path(path)
    if path.is_dir():
        raise FileExistsError(f"--out {path} is a folder; give a file name")
    if path.exists() and not force:
        raise FileExistsError(f"--out {path} already exists; pass --force to replace it, or choose another name")
    return path


def _write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it (never a half-written file)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    print(f"written to {res.files['report'].parent.resolve()}: "
          + ", ".join(sorted(p.name for p in res.files.values())))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from graphrec.data.datasets import available

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

    from graphrec.persistence import check_target
    from graphrec.workflow import save_model

    cfg = _config(args)
    name = args.model or cfg.get("model")
    if not name:
        raise UsageError("no model given: graphrec train MODEL ... (see `graphrec models`)")
    replaces = check_target(args.out, overwrite=args.force) == "model"  # before any training
    model = _build(args, cfg, name)
    ds, record = _data(args, cfg)
    _say(args)(f"training {type(model).__name__} on {ds!r}")
    start = time.perf_counter()
    if args.distributed:
        from graphrec.distributed import DistributedError, fit_distributed

        try:
            result = fit_distributed(
                model, ds.train, ds.valid, checkpoint_dir=args.checkpoint_dir, timeout=args.dist_timeout,
                resume=args.resume,
            )
        except DistributedError as exc:
            print(f"graphrec train: error: {one_line(exc)}", file=sys.stderr, flush=True)
            os._exit(1)  # a broken process group can block the interpreter's exit
        if result.rank != 0:
            return 0  # rank 0 alone writes the model
    elif args.checkpoint_dir or args.resume:
        import inspect

        if "resume" not in inspect.signature(model.fit).parameters:  # the engine's LightGCN, MF
            raise UsageError(f"--checkpoint-dir/--resume need LightGCN or MF, not {type(model).__name__}")
        model.fit(ds.train, ds.valid, checkpoint_dir=args.checkpoint_dir, resume=args.resume)
    else:
        model.fit(ds.train, ds.valid)
    seconds = time.perf_counter() - start
    stop = _stop_note(model, result.stopped if args.distributed else None)
    if stop:
        _say(args)(stop)
    save_model(model, args.out, item_info=ds.item_info, data=record, overwrite=args.force)
    user = model.users_.to_labels([0])[0]
    print(f"saved {type(model).__name__} to {args.out}{' (replaced the model there)' if replaces else ''} "
          f"(fit {seconds:.1f} s{'; ' + stop if stop else ''}); "
          f"next: graphrec recommend --model {args.out} --user {user}")
    return 0


def _stop_note(model: Any, stopped: str | None = None) -> str:
    """A line saying that a time budget ended training (empty when it did not)."""
    stopped = stopped or getattr(model, "stopped_", None)
    if stopped != "time_budget":
        return ""
    history = getattr(model, "history_", None) or []
    epochs = getattr(model, "epochs", None)
    done = f" after {len(history)}" + (f" of {epochs}" if epochs else "") + " epochs" if history else ""
    return (f"training was stopped by its time budget ({getattr(model, 'time_budget', '?')} s){done}; "
            "raise --time-budget to train longer")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from graphrec.workflow import evaluate_model, load_data

    cfg = _config(args)
    out = None if args.out is None else _check_file_out(args.out, args.force)
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
            _saved(args.model)  # raises: a file, or no such folder
        _model_class(args.model, f"{args.model!r} is not a model folder, and ")
        model = _build(args, cfg, args.model)
        ds = _data(args, cfg)[0]
        _say(args)(f"training {type(model).__name__} on {ds!r}")
        model.fit(ds.train, ds.valid)
        if _stop_note(model):
            _say(args)(_stop_note(model))
        info = ds.item_info
    metrics = evaluate_model(model, ds.test, args.k, item_info=info)
    result = {"model": type(model).__name__, "dataset": ds.name, "metrics": metrics}
    if out is not None:
        _write_text_atomic(out, dumps(result))
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
    reranker = make_reranker(args.rerank, saved.model, info)
    frame = recommend_table(saved.model, users, args.k, item_info=info, rerank=reranker, explain=args.explain)
    _print_frame(frame, args.json)
    _k_notice(args.k, frame.groupby("user", sort=False).size(), saved.model.n_items_, "items", "unseen items")
    return 0


def _k_notice(k: int, shown: Any, n: int, what: str, left: str) -> None:
    """Tell (on stderr) when ``--k`` asked for more than there is to show."""
    short = shown[shown < k]
    if k > n or len(short):
        fewest = int(short.min()) if len(short) else n
        print(f"note: --k {k} asks for more {what} than there are: the model has {n:,} {what}; "
              f"{len(short)} of {len(shown)} rows show fewer (as few as {fewest:,} {left})",
              file=sys.stderr)


def cmd_similar(args: argparse.Namespace) -> int:
    from graphrec.workflow import similar_table

    saved = _saved(args.model)
    if getattr(saved.model, "item_embeddings_", None) is None:
        raise RuntimeError(f"{type(saved.model).__name__} has no item embeddings; similar needs an "
                           "embedding model (e.g. lightgcn, mf)")
    items = _labels(saved.model, args.item, "item")
    frame = similar_table(saved.model, items, args.k, item_info=_item_info(args, saved))
    _print_frame(frame, args.json)
    _k_notice(args.k, frame.groupby("item", sort=False).size(), saved.model.n_items_, "items", "other items")
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    from graphrec import viz

    saved = _saved(args.model)
    model, info = saved.model, _item_info(args, saved)
    out = _check_file_out(args.out or f"{args.view}.png", args.force)
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
        kw = {"user": user, "item": item, "k": args.k, "hops": args.hops, "item_info": info, "ids": "index"}
        if out.suffix == ".html":
            viz.neighborhood_html(model, path=out, **kw)
        else:
            viz.save_figure(viz.neighborhood(model, **kw), out)
    print(f"wrote {out}")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from graphrec.benchmark import format_table, run_one

    for name in args.model:
        _model_class(name)
    results = []
    for dataset in args.dataset:
        for name in args.model:
            _say(args)(f"benchmark: {name} on {dataset} ({'quick' if args.quick else 'full'})")
            try:
                results.append(run_one(dataset, name, quick=args.quick, out=args.out, root=args.root,
                                       seed=args.seed, time_cap=args.time_cap))
            except KeyError as exc:
                raise UsageError(one_line(exc)) from exc
    print(dumps(results) if args.json else format_table(results))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from graphrec.tuning import tune

    cfg = _config(args)
    name = args.model or cfg.get("model")
    if not name:
        raise UsageError("no model given: graphrec tune MODEL ... (see `graphrec models`)")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out} exists and is not an empty folder; give a new folder "
                         "(graphrec tune never overwrites files)")
    if args.budget is None and args.trials is None and args.method != "grid":
        raise UsageError("give --budget SECONDS and/or --trials N (a grid search may run without them)")
    model = _build(args, cfg, name)
    ds, record = _data(args, cfg)
    seed = _opt(args, cfg, "seed", 0)
    train, valid = ds.train, ds.valid
    if args.cv is not None:
        valid = None
    elif valid is None:
        from graphrec.data.splits import validation_split

        carve = validation_split(ds.train, args.valid_size, random_state=seed)
        train, valid = carve.train, carve.valid
    space = None
    for item in args.space:
        key, eq, value = item.partition("=")
        values = param_value(value.strip()) if eq else None
        if not key.strip() or not isinstance(values, list) or not values:
            raise UsageError(f"--space takes NAME=[V1, V2, ...], got {item!r} (e.g. --space n_layers=[1, 2, 3])")
        space = {**(space or {}), key.strip(): values}
    _say(args)(f"tuning {type(model).__name__} on {ds!r}")
    try:
        res = tune(model, train, valid, space=space, budget=args.budget, n_trials=args.trials, clock=args.clock,
                   method=args.method,
                   metric=args.metric, cv=args.cv, random_state=seed, verbose=not args.quiet)
    except (ValueError, TypeError) as exc:  # bad settings of the search itself (trials' errors are caught inside)
        raise UsageError(one_line(exc)) from exc
    out.mkdir(parents=True, exist_ok=True)
    res.trials.to_csv(out / "trials.csv", index=False)
    (out / "best.toml").write_text(best_toml(name, model, res, record, seed), encoding="utf-8")
    res.plot(out / "search.png")
    print(f"best {res.metric} on validation {res.best_score:.4f} (trial {res.best_trial} of {len(res.trials)}, "
          f"{res.elapsed:.0f} s): {res.best_params}")
    print(f"wrote {out / 'trials.csv'}, {out / 'best.toml'}, {out / 'search.png'}; "
          f"next: graphrec train --config {out / 'best.toml'} --out MODEL_DIR")
    return 0


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            return repr(value)
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def best_toml(name: str, model: Any, res: Any, record: dict[str, Any], seed: int) -> str:
    """The TOML config of a search's best setting, as ``graphrec train --config`` reads it.

    Holds the model, the data options that rebuild the dataset, the seed and ``[params]``:
    the searched parameters and any fixed ones that differ from the model's defaults.
    TOML has no null: a None that differs from a non-None default is left as a comment.
    """
    defaults = type(model)().get_params()
    params = {**model.get_params(), **res.best_params}
    lines = [f"# graphrec tune {name}: best {res.metric} on validation {res.best_score:.6g}, trial "
             f"{res.best_trial} of {len(res.trials)}, {res.method} search, {res.elapsed:.0f} s"
             + (f" (budget {res.budget:.0f} s)" if res.budget else ""),
             f"model = {_toml_value(name)}", f"dataset = {_toml_value(record['source'])}"]
    data_defaults = {"user_col": "user_id", "item_col": "item_id", "test_size": 0.2, "download": False}
    for key in DATA_KEYS:
        value = record.get(key)
        if key != "dataset" and value is not None and value != data_defaults.get(key):
            lines.append(f"{key} = {_toml_value(value)}")
    lines += [f"seed = {int(seed)}", "", "[params]"]
    for key, value in params.items():
        if key in ("random_state", "device", "verbose"):
            continue
        if key not in res.best_params and value == defaults.get(key):
            continue
        if value is None:
            if defaults.get(key) is not None:
                lines.append(f"# {key} = None (TOML has no null: pass --param {key}=none)")
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    name[4:]: fn for name, fn in list(globals().items()) if name.startswith("cmd_")
}
