"""Benchmark entry point: one (dataset, model) run, or the whole suite with peers and a report.

Usage::

    # one run, in this process: OUT/<dataset>/<model>/results.json and the saved model
    python benchmarks/run.py --dataset gowalla --model popularity --out benchmarks/out
    # the best graphrec model (an Ensemble, graphrec.recipes.BEST; see benchmarks/best.py)
    python benchmarks/run.py --dataset gowalla --model best --out benchmarks/out

    # the suite: every graphrec model and every installed peer on every dataset, each
    # (dataset, model) in a fresh subprocess; Markdown + JSON + PNG plots under OUT
    python benchmarks/run.py --quick                  # bundled sample + synthetic, seconds
    python benchmarks/run.py --full                   # gowalla, lastfm, movielens-small;
                                                      # also rewrites benchmarks/RESULTS.md
    python benchmarks/run.py --full --dataset lastfm  # the suite restricted to some datasets/models
    python benchmarks/run.py --full --resume          # rerun only jobs without an ok result

Settings per (model, dataset) come from graphrec/recipes.py; peer recipes from
benchmarks/peers.py. A single run of a graphrec model is :func:`graphrec.benchmark.run_one`
(what ``graphrec benchmark`` runs, also from an installed package); this script adds the
peers, the PyG step comparison and the suite.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from jobs import run_job

from graphrec import benchmark
from graphrec.benchmark import format_curve, format_table

__all__ = ["format_table", "main", "run_one"]

DATASETS = ("gowalla", "lastfm", "movielens-small", "sample", "synthetic")


def run_one(dataset: str, model_name: str, *, quick: bool, out: Path | None, root: str | None,
            seed: int = 0, time_cap: float | None = None, curve_every: int | None = None,
            compare_pyg_steps: int | None = None) -> dict[str, Any]:
    """Load, fit, evaluate and save one (dataset, model) pair; return the results dict.

    Writes ``out/<dataset>/<model>/results.json`` and, for graphrec models, the fitted
    model in ``out/<dataset>/<model>/model`` (``graphrec.load`` reads it back; peers
    are not in graphrec's registry, so only their results are written).
    ``curve_every`` records the test Recall@20-vs-minutes curve (``result["curve"]``);
    ``compare_pyg_steps`` (LightGCN only) times that many training steps of ours and
    of PyG's ``LightGCN`` at the recorded batch size, dim and layers
    (``result["pyg_step_comparison"]``).
    """
    if compare_pyg_steps and model_name != "lightgcn":
        raise ValueError(f"--compare-pyg applies to --model lightgcn, not {model_name!r}")

    def job(*args: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        if model_name == "best":  # the best model: an Ensemble of recorded members (benchmarks/best.py)
            from best import run_best_job

            return run_best_job(*args, **kwargs)
        result, model = run_job(*args, **kwargs)
        if compare_pyg_steps:
            result["pyg_step_comparison"] = compare_pyg(dataset, result["settings"], compare_pyg_steps, root)
        return result, model

    return benchmark.run_one(dataset, model_name, quick=quick, out=out, root=root, seed=seed, time_cap=time_cap,
                             curve_every=curve_every, job=job)


def compare_pyg(dataset: str, settings: dict[str, Any], steps: int, root: str | None) -> dict[str, Any]:
    """Median seconds per training step of our LightGCN and PyG's, in this process.

    Same batch size, dim and layers (``settings``), BPR with uniform negatives for
    PyG (its ``recommendation_loss``), on a pre-normalised sparse adjacency and on
    ``edge_index``; the three run in turns (``lightgcn_speed.time_steps``). Prints
    the table and returns it.
    """
    from jobs import load_bench_dataset
    from lightgcn_speed import graphrec_stepper, pyg_stepper, time_steps

    ds = load_bench_dataset(dataset, root)
    shape = {"batch": settings["batch_size"], "dim": settings["embedding_dim"], "layers": settings["n_layers"]}
    steppers = {"graphrec": graphrec_stepper(ds, **shape)}
    for mode in ("sparse", "edge_index"):
        steppers[f"pyg_{mode}"] = pyg_stepper(ds, mode=mode, **shape)
    timed = time_steps(steppers, steps)
    ours = timed["graphrec_step_s"]
    out: dict[str, Any] = {**shape, "steps": steps, "graphrec_step_s": ours}
    print(f"per-step time, {steps} steps each in turns, batch {shape['batch']}, dim {shape['dim']}, "
          f"{shape['layers']} layers")
    print("| implementation | s/step (median) | PyG / ours | per-round PyG / ours (median) |\n|---|---|---|---|\n"
          f"| graphrec LightGCN | {ours:.3f} | 1.00 | 1.00 |")
    for mode in ("sparse", "edge_index"):
        theirs, paired = timed[f"pyg_{mode}_step_s"], timed[f"pyg_{mode}_paired_ratio"]
        out[f"pyg_{mode}_step_s"], out[f"ratio_vs_pyg_{mode}"] = theirs, theirs / ours
        out[f"paired_ratio_vs_pyg_{mode}"] = paired
        print(f"| PyG LightGCN ({mode}) | {theirs:.3f} | {theirs / ours:.2f} | {paired:.2f} |")
    return out


def _names(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphrec benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", help=f"one of {DATASETS}, or a comma list (suite)")
    parser.add_argument("--model", help="a graphrec model or peer name, or a comma list (suite)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small budgets; the suite uses sample + synthetic")
    mode.add_argument("--full", action="store_true", help="the recorded settings (default)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default benchmarks/out, or benchmarks/out/quick with --quick)")
    parser.add_argument("--root", default=None, help="data root (default: GRAPHREC_DATA, ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-cap", type=float, default=None,
                        help="one run: cap the model's time_budget at this many seconds (the suite sets it "
                             "for the jobs in suite.SUITE_TIME_CAPS)")
    parser.add_argument("--curve-every", type=int, default=None, metavar="EPOCHS",
                        help="one run: print the test Recall@20-vs-minutes curve every EPOCHS epochs "
                             "(for the record; nothing is selected on it)")
    parser.add_argument("--compare-pyg", type=int, nargs="?", const=20, default=None, metavar="STEPS",
                        help="one LightGCN run: then time STEPS (default 20) training steps of ours and of "
                             "PyG's LightGCN at the same batch size, dim and layers, and print the ratio")
    parser.add_argument("--suite", action="store_true", help="run as a suite even for one dataset and model")
    parser.add_argument("--no-peers", action="store_true", help="suite without the peer libraries")
    parser.add_argument("--resume", action="store_true", help="suite: keep jobs that already have an ok result")
    parser.add_argument("--deadline", type=float, default=None,
                        help="suite: minutes after which no job starts and running ones are stopped")
    parser.add_argument("--plan", action="store_true",
                        help="suite: print the jobs, their recorded time budgets and timeouts, and exit")
    parser.add_argument("--results-md", type=Path, default=None,
                        help="suite: Markdown file whose generated section is rewritten "
                             "(default benchmarks/RESULTS.md with --full, none with --quick)")
    parser.add_argument("--plots-dir", type=Path, default=None,
                        help="suite: where PNG plots go (default benchmarks/plots with --full, OUT/plots otherwise)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python benchmarks/run.py`` and ``graphrec benchmark``); returns the exit code."""
    args = build_parser().parse_args(argv)
    quick = bool(args.quick)
    out = args.out or (HERE / "out" / "quick" if quick else HERE / "out")
    datasets, models = _names(args.dataset), _names(args.model)
    if datasets is not None and models is not None and len(datasets) == len(models) == 1 and not args.suite:
        try:
            result = run_one(datasets[0], models[0], quick=quick, out=out, root=args.root, seed=args.seed,
                             time_cap=args.time_cap, curve_every=args.curve_every,
                             compare_pyg_steps=args.compare_pyg)
        except (KeyError, FileNotFoundError, ValueError, ImportError) as exc:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(format_table([result]))
        if "curve" in result:
            print(format_curve(result["curve"]))
        print(f"results written under {out / datasets[0] / models[0]}")
        return 0
    from suite import print_plan, run_suite

    if args.plan:
        print_plan(datasets, models, quick=quick, peers=not args.no_peers, root=args.root)
        return 0
    results_md = args.results_md if args.results_md is not None else (None if quick else HERE / "RESULTS.md")
    suite = run_suite(
        datasets=datasets, models=models, quick=quick, out=Path(out), root=args.root, seed=args.seed,
        peers=not args.no_peers, resume=args.resume, deadline_minutes=args.deadline,
        results_md=results_md,
        plots_dir=args.plots_dir or (Path(out) / "plots" if quick else HERE / "plots"),
        command=_command(argv),
    )
    return 0 if suite["n_ok"] > 0 else 1


def _command(argv: list[str] | None) -> str:
    """The command line as recorded in the report: paths inside the checkout relative to it, and
    absolute paths outside it shortened to their last part (no machine's folders in RESULTS.md)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python benchmarks/run.py", *map(_portable, args)])


def _portable(arg: str) -> str:
    if not os.path.isabs(arg):
        return arg
    path = Path(arg).resolve()
    try:
        return str(path.relative_to(HERE.parent))
    except ValueError:
        return f"<{path.name}>"


if __name__ == "__main__":
    sys.exit(main())
