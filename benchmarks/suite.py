"""The benchmark suite: every (dataset, model) job in a fresh subprocess, then the report.

Each job is ``python benchmarks/run.py --dataset D --model M --out OUT`` in its own
process, so its peak memory (ru_maxrss) is its own and a crash, an out-of-memory
kill or a timeout costs only that job. Models missing from graphrec's registry,
peers whose package is not installed and datasets not on disk are reported as
skipped with the reason. After every job the JSON, the Markdown, the plots and
(when asked) RESULTS.md are rewritten, so an interrupted suite still leaves its
finished results behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from jobs import (
    FULL_DATASETS,
    QUICK_DATASETS,
    QUICK_TIME_CAP,
    UNRECORDED_BUDGET,
    has_recorded_settings,
    machine,
    model_params,
    pyg_budget_cap,
    source_revision,
    versions,
)

from graphrec.recipes import settings_for

__all__ = ["GRAPHREC_MODELS", "PEER_NAMES", "graphrec_models", "plan", "print_plan", "run_suite", "skip_reason"]

#: graphrec models in report order (a name missing from the registry is skipped, not fatal)
GRAPHREC_MODELS = ("popularity", "lightgcn", "graphfilter", "mf", "deepwalk")
PEER_NAMES = ("pyg-lightgcn", "implicit-als", "implicit-bpr", "lightfm")
#: seconds a job may take beyond its recorded time budget (loading, evaluation, saving)
JOB_MARGIN = {"quick": 60.0, "full": 600.0}
#: full mode: a graphrec model whose recorded settings have no time budget (e.g. a fixed number
#: of epochs), or a pyg-lightgcn setting recorded in peers.py without one, may train this long
#: before its job is stopped (the suite deadline still applies)
NO_BUDGET_TIMEOUT = 900.0
#: full mode: the suite caps these jobs' time_budget (seconds) so that the whole suite fits in
#: ~45 min on 2 cores; the recorded Gowalla recipes (40 / 60 epochs) take ~80 / ~70 min here.
#: The report states each cap; run one job alone (run.py --dataset D --model M) for the recipe.
SUITE_TIME_CAPS = {("gowalla", "lightgcn"): 600.0, ("gowalla", "mf"): 240.0}


def graphrec_models() -> list[str]:
    """GRAPHREC_MODELS, then any other model in graphrec's registry (lower-case class names)."""
    import graphrec as gr

    extra = [name.lower() for name in gr.MODELS if name.lower() not in GRAPHREC_MODELS]
    return list(GRAPHREC_MODELS) + extra


def plan(datasets: list[str] | None, models: list[str] | None, *, quick: bool, peers: bool) -> list[tuple[str, str]]:
    """The (dataset, model) jobs, small datasets first."""
    datasets = list(datasets or (QUICK_DATASETS if quick else FULL_DATASETS))
    if models is None:
        models = graphrec_models() + (list(PEER_NAMES) if peers else [])
    return [(d, m) for d in datasets for m in models]


def skip_reason(dataset: str, model: str, root: str | None, cache: dict[Any, Any]) -> str | None:
    """Why a job cannot run here (missing model, peer package or data), or None."""
    from peers import PEERS, peer_status

    if "available" not in cache:
        import graphrec as gr

        cache["available"] = gr.datasets.available(root)
    avail = cache["available"]
    if dataset != "synthetic":
        if dataset not in avail.index:
            return f"unknown dataset {dataset!r}"
        if not bool(avail.loc[dataset, "found"]):
            return f"dataset {dataset!r} not found under the data roots (see graphrec.datasets.data_roots)"
    needed = [model] if model not in PEERS else ["lightgcn"] if model == "pyg-lightgcn" else []
    if model in PEERS:
        ok, why = cache.setdefault(("peer", model), peer_status(model))
        if not ok:
            return why
    from graphrec.models import get_model_class

    for name in needed:
        try:
            get_model_class(name)
        except KeyError:
            extra = " (needed for the comparison)" if name != model else ""
            return f"{name!r} is not in graphrec.models.MODELS yet{extra}"
    return None


def print_plan(datasets: list[str] | None, models: list[str] | None, *, quick: bool, peers: bool,
               root: str | None = None) -> None:
    """Print each job with its recorded time budget, its timeout, or why it would be skipped."""
    cache: dict[str, Any] = {}
    total = 0.0
    for dataset, model in plan(datasets, models, quick=quick, peers=peers):
        reason = skip_reason(dataset, model, root, cache)
        if reason is not None:
            print(f"{dataset:16} {model:14} skip: {reason}")
            continue
        if model == "pyg-lightgcn":
            budget, shown = 2 * pyg_budget_cap(dataset, quick), "peers.py (+ our lightgcn, same budget)"
            tuned = _pyg_tuned(dataset)
            if tuned is not None:
                budget += float(tuned.get("time_budget") or 0.0)
                shown = (f"peers.py, recorded for {dataset}: {tuned}, by its epochs (+ the example-recipe "
                         "comparison with our lightgcn, same budget)")
        elif model in PEER_NAMES:
            budget, shown = 0.0, "peers.py"
        else:
            from graphrec.models import get_model_class

            cap = None if quick else SUITE_TIME_CAPS.get((dataset, model))
            params = model_params(model, dataset, quick, 0, get_model_class(model), cap)
            budget = float(params.get("time_budget") or 0.0)
            shown = str(params) if has_recorded_settings(model, dataset) else f"NONE RECORDED: class defaults {params}"
        total += budget
        print(f"{dataset:16} {model:14} budget {budget:6.0f} s  timeout {_job_timeout(dataset, model, quick):6.0f} s"
              f"  settings {shown}")
    print(f"sum of training budgets: {total / 60:.1f} min (plus loading and evaluation)")


def _job_timeout(dataset: str, model: str, quick: bool) -> float:
    mode = "quick" if quick else "full"
    if model == "pyg-lightgcn":
        budget = 3 * pyg_budget_cap(dataset, quick)  # the example-recipe comparison
        tuned = _pyg_tuned(dataset)
        if tuned is not None:  # and the recorded setting's own fit, by its epochs
            own = tuned.get("time_budget")
            if quick:
                own = pyg_budget_cap(dataset, quick)
            budget += float(own) if own is not None else NO_BUDGET_TIMEOUT
    elif quick:
        budget = QUICK_TIME_CAP
    elif model in PEER_NAMES:
        budget = 0.0
    elif not has_recorded_settings(model, dataset):
        budget = UNRECORDED_BUDGET
    elif (dataset, model) in SUITE_TIME_CAPS:
        budget = SUITE_TIME_CAPS[(dataset, model)]
    else:
        budget = float(settings_for(model, dataset).get("time_budget") or 0.0)
        if budget == 0.0 and dataset in FULL_DATASETS:
            return NO_BUDGET_TIMEOUT
    return budget * 1.25 + JOB_MARGIN[mode]


def _pyg_tuned(dataset: str) -> dict[str, Any] | None:
    from peers import pyg_tuned_settings

    return pyg_tuned_settings(dataset)


def _run_subprocess(dataset: str, model: str, *, quick: bool, out: Path, root: str | None, seed: int,
                    timeout: float) -> dict[str, Any]:
    target = out / dataset / model
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").unlink(missing_ok=True)
    cmd = [sys.executable, str(HERE / "run.py"), "--dataset", dataset, "--model", model,
           "--quick" if quick else "--full", "--out", str(out), "--seed", str(seed)]
    if root is not None:
        cmd += ["--root", str(root)]
    cap = None if quick else SUITE_TIME_CAPS.get((dataset, model))
    if cap is not None:
        cmd += ["--time-cap", str(cap)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    with open(target / "log.txt", "w") as log:
        try:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, env=env,
                                  check=False)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    wall = time.perf_counter() - start
    base = {"dataset": dataset, "model": model, "job_seconds": wall, "log": str(target / "log.txt")}
    if rc is None:
        return {**base, "status": "failed", "reason": f"timed out after {timeout:.0f} s"}
    results = target / "results.json"
    if rc == 0 and results.is_file():
        return {**json.loads(results.read_text()), "job_seconds": wall}
    tail = (target / "log.txt").read_text(errors="replace").strip().splitlines()[-3:]
    return {**base, "status": "failed", "reason": f"exit code {rc}: " + " / ".join(tail)[-400:]}


def run_suite(*, datasets: list[str] | None, models: list[str] | None, quick: bool, out: Path,
              root: str | None = None, seed: int = 0, peers: bool = True, resume: bool = False,
              deadline_minutes: float | None = None, results_md: Path | None = None,
              plots_dir: Path | None = None, command: str = "") -> dict[str, Any]:
    """Run every job, rewriting the report after each; return the suite dict (also OUT/suite.json)."""
    from report import write_reports

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    deadline = None if deadline_minutes is None else start + 60 * deadline_minutes
    jobs = plan(datasets, models, quick=quick, peers=peers)
    suite: dict[str, Any] = {
        "mode": "quick" if quick else "full", "command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(), "versions": versions(), "n_jobs": len(jobs), "results": [], "finished": False,
        "seed": seed, "revision": source_revision(), "graphrec_path": _graphrec_path(),
    }
    cache: dict[str, Any] = {}
    for i, (dataset, model) in enumerate(jobs, 1):
        label = f"[{i}/{len(jobs)}] {dataset} / {model}"
        previous = out / dataset / model / "results.json"
        reason = skip_reason(dataset, model, root, cache)
        if reason is not None:
            record: dict[str, Any] = {"dataset": dataset, "model": model, "status": "skipped", "reason": reason}
        elif resume and previous.is_file() and _ok(previous, suite["mode"]):
            record = {**json.loads(previous.read_text()), "resumed": True}
        elif deadline is not None and time.perf_counter() >= deadline:
            record = {"dataset": dataset, "model": model, "status": "not run",
                      "reason": f"suite deadline ({deadline_minutes} min) reached"}
        else:
            timeout = _job_timeout(dataset, model, quick)
            if deadline is not None:
                timeout = min(timeout, max(deadline - time.perf_counter(), 1.0))
            print(f"{label}: running (timeout {timeout:.0f} s)", flush=True)
            record = _run_subprocess(dataset, model, quick=quick, out=out, root=root, seed=seed, timeout=timeout)
        record.pop("history", None)  # per-epoch histories stay in each job's results.json
        suite["results"].append(record)
        _print_status(label, record)
        suite["elapsed_seconds"] = time.perf_counter() - start
        write_reports(suite, out, results_md=results_md, plots_dir=plots_dir)
    suite["finished"] = True
    suite["n_ok"] = sum(r["status"] == "ok" for r in suite["results"])
    suite["elapsed_seconds"] = time.perf_counter() - start
    suite["ended"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write_reports(suite, out, results_md=results_md, plots_dir=plots_dir)
    print(f"suite done: {suite['n_ok']} of {len(jobs)} jobs ok in {suite['elapsed_seconds'] / 60:.1f} min; "
          f"report in {out / 'suite.md'}" + (f" and {results_md}" if results_md else ""), flush=True)
    return suite


def _graphrec_path() -> str:
    import graphrec

    return str(Path(graphrec.__file__).resolve().parent)


def _ok(path: Path, mode: str) -> bool:
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return old.get("status") == "ok" and old.get("mode") == mode


def _print_status(label: str, r: dict[str, Any]) -> None:
    if r["status"] == "ok":
        m = r["metrics"]
        print(f"{label}: ok  recall@20 {m.get('recall@20', float('nan')):.4f}  ndcg@20 "
              f"{m.get('ndcg@20', float('nan')):.4f}  fit {r['fit_seconds']:.1f} s  "
              f"peak {r['peak_memory_mb']:.0f} MB" + ("  (resumed)" if r.get("resumed") else ""), flush=True)
    else:
        print(f"{label}: {r['status']}: {r['reason']}", flush=True)
