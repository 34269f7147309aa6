"""Cost curves: fit, evaluation and memory of every model as the data grows (issue 21).

Synthetic graphs (:func:`graphrec.data.synthetic.power_law`: power-law user and item
degrees, communities, seeded) at ``scale`` times Gowalla's 1,027,370 interactions,
plus the real datasets as anchor points. With ``--shape density`` (the default) users
and items both grow by ``sqrt(scale)``, so the density of the interaction matrix stays
Gowalla's and average degrees grow by ``sqrt(scale)``; ``--shape degree`` grows users
and items by ``scale`` (fixed degrees, falling density).

Every (dataset, model) runs in its own process under a
:class:`graphrec.memory.MemoryGuard` (``--memory-limit-mb``), so its peak RSS is its
own and a run past the ceiling stops with ``MemoryCeilingError`` (recorded in the row)
instead of the OS's kill. The data of each scale is generated once (by this process)
and read by the jobs from ``DIR/data/``. Trained models run one epoch (ALS one
iteration): these are cost curves, not accuracy figures.

    python benchmarks/scaling.py --scale 1,4,16 --models popularity,mf,lightgcn,graphfilter --out benchmarks/out/scaling
    python benchmarks/scaling.py --scale 0.25,1,4 --models als,puresvd,deepwalk,item2vec,ncf --out benchmarks/out/scaling
    python benchmarks/scaling.py --anchors gowalla,lastfm,ml-latest-small --models mf --out benchmarks/out/scaling
    python benchmarks/scaling.py --report --out benchmarks/out/scaling   # tables, exponents, plots
    python benchmarks/scaling.py --scale 16 --models graphfilter-pruned --out benchmarks/out/scaling
    python benchmarks/scaling.py --pruned-check gowalla --neighbors 50,100,200,400   # exact vs pruned

Rows of ``DIR/scaling.json`` (one per dataset and model; a new run replaces the row
with the same dataset and model and keeps the others): ``model``, ``dataset``,
``scale`` (None for a real dataset), ``interactions`` (train + test), ``fit_s``,
``epoch_s`` (trained models), ``eval_s`` (full-ranking Recall/NDCG@20 of every test
user), ``peak_mb`` (the job's peak RSS), ``fit_peak_mb`` / ``eval_peak_mb`` (peak RSS
during each stage, data included), ``data_mb``, ``predicted`` (True for sizes
extrapolated from the fitted curve), ``error`` and the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

GOWALLA = {"interactions": 1_027_370, "users": 29_858, "items": 40_981}
#: Settings per model: library defaults with one epoch (ALS: one iteration). "lightgcn"'s
#: global batch grows with the data (8192 * scale; ~100 steps per epoch at every size),
#: because each step propagates over the whole graph: at a fixed batch an epoch costs
#: (interactions / batch) x (one propagation ~ interactions), i.e. grows as N^2
#: ("lightgcn-b8192" measures that); "lightgcn-s10" / "lightgcn-s20" take 10 / 20 steps per epoch
#: (batch = train / 10 or / 20): the cheapest full epochs, for the largest sizes on a busy machine
#: (a larger batch costs memory: batch temporaries grow with it).
PARAMS: dict[str, dict[str, Any]] = {
    "popularity": {},
    "mf": {"epochs": 1},
    "lightgcn": {"epochs": 1, "batch_size": "8192*scale"},
    "lightgcn-b8192": {"epochs": 1, "batch_size": 8192},
    "lightgcn-s10": {"epochs": 1, "batch_size": "train/10"},
    "lightgcn-s20": {"epochs": 1, "batch_size": "train/20"},
    "graphfilter": {},
    # item_neighbors=200 (about 0.5% of Gowalla's 40,981 items, 0.1% of 16x's 163,924): the
    # pruned filter at 16x holds 163,924 x 201 entries (~260 MB) and scoring all users costs
    # 201 multiply-adds per interaction (2.6e9 at 16x) instead of the factored path's ~1e12;
    # its accuracy against the exact filter is `--pruned-check gowalla`'s table.
    "graphfilter-pruned": {"item_neighbors": 200},
    "als": {"iterations": 1},
    "puresvd": {},
    "deepwalk": {"epochs": 1},
    "item2vec": {"epochs": 1},
    "ncf": {"epochs": 1},
}
#: What to do past one machine, per model (README "Scaling" table; docs/scaling.md).
NEXT_STEP = {
    "popularity": "nothing (counts only)",
    "mf": "data-parallel (graphrec.distributed), then sharded embeddings (TorchRec)",
    "lightgcn": "data-parallel (graphrec.distributed), then PyG distributed partitioning + sharded embeddings",
    "lightgcn-b8192": "a batch that grows with the data (see lightgcn)",
    "lightgcn-s10": "as lightgcn",
    "lightgcn-s20": "as lightgcn",
    "graphfilter": "the memory-bounded factored path, then an approximate (pruned) item-item filter",
    "graphfilter-pruned": "the pruned filter's blocks are independent: build them on several machines",
    "als": "implicit's GPU ALS or Spark ALS (sharded factors)",
    "puresvd": "a distributed randomized SVD (e.g. Spark/Dask) on the sharded matrix",
    "deepwalk": "walks streamed per chunk already; then PyG/GraphStorm distributed skip-gram",
    "item2vec": "pairs streamed per chunk already; then sharded embeddings (TorchRec)",
    "ncf": "sharded embeddings (TorchRec); full ranking through two-tower retrieval + ANN",
}
MACHINE_MB = 24 * 1024  # this machine's RAM
USABLE_MB = 22 * 1024  # what one job may take of it (OS, page cache and the shell keep the rest)


# ----------------------------------------------------------------------------- data
def shape_of(scale: float, shape: str, base: int) -> tuple[int, int, int]:
    """(interactions, users, items) drawn at ``scale`` times Gowalla (``base`` interactions at scale 1)."""
    rel = scale * base / GOWALLA["interactions"]
    f = math.sqrt(rel) if shape == "density" else rel
    n = round(base * scale)
    return n, round(GOWALLA["users"] * f), round(GOWALLA["items"] * f)


def dataset_file(out: Path, scale: float, shape: str, base: int) -> tuple[Path, dict]:
    """Generate (once) and cache the synthetic data of one scale; return its path and facts."""
    from graphrec.data.synthetic import power_law

    tag = f"power_law-{shape}-x{scale:g}" + ("" if base == GOWALLA["interactions"] else f"-b{base}")
    path = out / "data" / f"{tag}.npz"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    n, n_users, n_items = shape_of(scale, shape, base)
    t0, c0 = time.perf_counter(), time.process_time()
    ds = power_law(n, n_users, n_items, min_user_degree=min(10, max(2, n // n_users // 2)), random_state=0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}-{os.getpid()}.npz")  # atomic: another run may read this scale
    np.savez(tmp, train_u=ds.train.user_idx.astype(np.int32), train_i=ds.train.item_idx.astype(np.int32),
             test_u=ds.test.user_idx.astype(np.int32), test_i=ds.test.item_idx.astype(np.int32),
             shape=np.array([n_users, n_items]))
    os.replace(tmp, path)
    meta = {"dataset": tag, "scale": scale, "shape": shape, "n_users": n_users, "n_items": n_items,
            "interactions": int(ds.train.nnz + ds.test.nnz), "train": int(ds.train.nnz),
            "generate_s": round(wall, 2), "generate_cpu_s": round(cpu, 2), "loadavg": os.getloadavg()}
    meta_path.write_text(json.dumps(meta))
    print(f"generated {tag}: {meta['interactions']:,} interactions ({n_users:,} x {n_items:,}) "
          f"in {wall:.1f} s wall / {cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f}", flush=True)
    return path, meta


def load_data(spec: dict) -> tuple[Any, Any]:
    import graphrec as gr
    from graphrec.data.ids import IdMap

    if spec.get("path"):
        z = np.load(spec["path"])
        n_users, n_items = (int(v) for v in z["shape"])
        users, items = IdMap.identity(n_users), IdMap.identity(n_items)
        train = gr.Interactions(z["train_u"], z["train_i"], users=users, items=items)
        test = gr.Interactions(z["test_u"], z["test_i"], users=users, items=items)
        return train, test
    ds = gr.datasets.load(spec["dataset"])
    return ds.train, ds.test


# ----------------------------------------------------------------------------- one job (child process)
def _cpu_s() -> float:
    """CPU seconds of this process (all threads): a steadier cost than wall time on a busy machine."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def model_params(name: str, scale: float | None, overrides: dict, n_train: int) -> dict:
    params = {}
    for key, value in {**PARAMS[name], **overrides}.items():
        if value == "8192*scale":
            value = max(8192, round(8192 * (scale or 1.0)))
        elif isinstance(value, str) and value.startswith("train/"):
            value = -(-n_train // int(value.split("/")[1]))
        params[key] = value
    return params


def run_job(spec: dict) -> dict:
    """Fit one model on one dataset and evaluate it, under the memory ceiling."""
    import graphrec as gr
    from graphrec.exceptions import MemoryCeilingError
    from graphrec.memory import MemoryGuard, reset_stage_peak, rss_mb, stage_peak_rss_mb
    from graphrec.models import get_model_class

    name = spec["model"]
    row: dict[str, Any] = {"model": name, "dataset": spec["dataset"], "scale": spec.get("scale"),
                           "interactions": spec.get("interactions"), "predicted": False,
                           "fit_s": None, "eval_s": None, "error": None}
    guard = MemoryGuard(spec["memory_limit_mb"], hard=True)
    cls = get_model_class(name.split("-")[0])
    row["base_mb"] = round(rss_mb(), 1)  # the interpreter, torch and graphrec, before any data
    stage = "data"
    try:
        with guard:
            train, test = load_data(spec)
            row.update(interactions=int(train.nnz + test.nnz), n_users=train.n_users, n_items=train.n_items,
                       train=int(train.nnz), data_mb=round(rss_mb(), 1))
            params = model_params(name, spec.get("scale"), spec.get("params", {}), train.nnz)
            row["params"] = params
            if "random_state" in cls().get_params():
                params["random_state"] = 0
            model = cls(**params)
            stage = "fit"
            reset_stage_peak()
            t0, c0 = time.perf_counter(), _cpu_s()
            model.fit(train)
            row["fit_s"] = round(time.perf_counter() - t0, 3)
            row["fit_cpu_s"] = round(_cpu_s() - c0, 3)
            row["fit_peak_mb"] = round(stage_peak_rss_mb(), 1)
            hist = getattr(model, "history_", None)
            if hist and isinstance(hist[0], dict) and "seconds" in hist[0]:
                row["epoch_s"] = [round(float(h["seconds"]), 3) for h in hist]
                if "steps" in hist[-1]:
                    row["steps"] = int(hist[-1]["steps"])
            stage = "eval"
            reset_stage_peak()
            t0, c0 = time.perf_counter(), _cpu_s()
            res = gr.evaluate(model, test, k=20)
            row["eval_s"] = round(time.perf_counter() - t0, 3)
            row["eval_cpu_s"] = round(_cpu_s() - c0, 3)
            row["eval_peak_mb"] = round(stage_peak_rss_mb(), 1)
            row["eval_users"] = res["n_users"]
            row["recall@20"] = round(res["recall@20"], 4)
    except MemoryCeilingError as exc:
        row["error"] = f"MemoryCeilingError during {stage}: {exc}"
    row["peak_mb"] = round(max(guard.peak_mb, stage_peak_rss_mb(), row.get("fit_peak_mb") or 0), 1)
    row["net_peak_mb"] = round(row["peak_mb"] - row["base_mb"], 1)
    row["stopped_at"] = stage if row["error"] else None
    row["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    return row


def launch(spec: dict, timeout: float) -> dict:
    """Run :func:`run_job` in a fresh process; a crash or timeout becomes an error row."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        load0 = os.getloadavg()[0]
        cmd = [sys.executable, __file__, "--job", json.dumps(spec), "--job-out", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {**_error_row(spec), "error": f"timeout after {timeout:.0f} s"}
        if out.exists():
            row = json.loads(out.read_text())
            row["loadavg_start"] = round(load0, 2)
            return row
        return {**_error_row(spec), "error": f"exit code {proc.returncode}: {proc.stderr[-1500:]}"}


def _error_row(spec: dict) -> dict:
    return {"model": spec["model"], "dataset": spec["dataset"], "scale": spec.get("scale"),
            "interactions": spec.get("interactions"), "predicted": False, "fit_s": None, "eval_s": None,
            "peak_mb": None}


# ----------------------------------------------------------------------------- curves and report
def measured(rows: list[dict], model: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(interactions, value) of the synthetic rows of ``model`` that ran."""
    pts = [(r["interactions"], _value(r, key)) for r in rows if r["model"] == model and r.get("scale")
           and not r.get("predicted") and not r.get("error") and _value(r, key)]
    pts.sort()
    return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)


def _value(row: dict, key: str) -> float | None:
    v = row.get(key)
    if key == "epoch_s":
        return float(np.median(v)) if v else None
    return float(v) if v is not None else None


def fit_power(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Least-squares ``log y = a + b log x``: (a, b), or None with fewer than 2 points."""
    if len(x) < 2:
        return None
    b, a = np.polyfit(np.log(x), np.log(y), 1)
    return float(a), float(b)


def curves(rows: list[dict]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for model in sorted({r["model"] for r in rows}):
        for key in ("fit_s", "fit_cpu_s", "epoch_s", "eval_s", "eval_cpu_s", "peak_mb", "net_peak_mb"):
            x, y = measured(rows, model, key)
            f = fit_power(x, y)
            if f:
                # the slope between the two largest sizes: fixed costs flatten the small end, so it
                # is the better guide to larger sizes (and the one predictions use)
                top = fit_power(x[-2:], y[-2:])
                assert top is not None
                out.setdefault(model, {})[key] = {"a": f[0], "exponent": f[1], "a_top": top[0],
                                                  "exponent_top": top[1], "points": len(x),
                                                  "range": [int(x.min()), int(x.max())]}
    return out


def add_predictions(rows: list[dict], scales: list[float], shape: str, base: int) -> list[dict]:
    """Rows for ``scales`` not measured, from each model's fitted curves (marked predicted)."""
    fits = curves(rows)
    rows = [r for r in rows if not r.get("predicted")]
    for model, f in fits.items():
        for scale in scales:
            done = any(r["model"] == model and r.get("scale") == scale and not r.get("error") for r in rows)
            if done or "net_peak_mb" not in f:
                continue
            n = shape_of(scale, shape, base)[0]
            row = {"model": model, "dataset": f"power_law-{shape}-x{scale:g}", "scale": scale,
                   "interactions": n, "predicted": True}
            for key in ("fit_s", "fit_cpu_s", "eval_s", "eval_cpu_s", "net_peak_mb"):
                row[key] = round(math.exp(f[key]["a_top"]) * n ** f[key]["exponent_top"], 1) if key in f else None
            base_mb = [r["base_mb"] for r in rows if r["model"] == model and r.get("base_mb")]
            if row.get("net_peak_mb") is not None and base_mb:
                row["peak_mb"] = round(float(np.median(base_mb)) + row["net_peak_mb"], 1)
            rows.append(row)
    return rows


def fits_up_to(f: dict) -> float | None:
    """Interactions at which memory (above the interpreter's) reaches :data:`USABLE_MB` - 500 MB.

    The smaller of two extrapolations from the largest size that ran: the curve between
    the two largest sizes, and linear growth from the largest (fixed costs make the
    measured small-size slopes sub-linear, which would promise too much).
    """
    p = f.get("net_peak_mb")
    if not p or p["exponent_top"] <= 0:
        return None
    budget = USABLE_MB - 500
    curve = math.exp((math.log(budget) - p["a_top"]) / p["exponent_top"])
    n_max = p["range"][1]
    linear = n_max * budget / (math.exp(p["a_top"]) * n_max ** p["exponent_top"])
    return min(curve, linear)


def report(rows: list[dict]) -> str:
    fits = curves(rows)
    lines = [("| model | dataset | interactions | fit s (CPU s) | epoch s | eval s (CPU s) | peak MB | "
              "fit / eval peak MB | R@20 | load | note |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["model"], r["interactions"] or 0, r["dataset"])):
        ep = _value(r, "epoch_s")
        note = "predicted" if r.get("predicted") else _short_error(r.get("error"))
        stage = (f"{r.get('fit_peak_mb', '–')} / {r.get('eval_peak_mb', '–')}"
                 if not r.get("predicted") else "–")
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['interactions'] or 0:,} | {_fmt(r.get('fit_s'))} "
            f"({_fmt(r.get('fit_cpu_s'))}) | {_fmt(ep)} | {_fmt(r.get('eval_s'))} ({_fmt(r.get('eval_cpu_s'))}) | "
            f"{_fmt(r.get('peak_mb'), 0)} | {stage} | "
            f"{r.get('recall@20', '–')} | {(r.get('loadavg') or ['–'])[0]} | {note} |")
    keys = ("fit_s", "fit_cpu_s", "epoch_s", "eval_s", "eval_cpu_s", "net_peak_mb")
    lines += ["", ("Fitted exponents b of cost ~ interactions^b over the synthetic sizes that ran, and in "
              "brackets between the two largest (CPU s = all threads; net peak = peak RSS above the "
              "interpreter's before loading data):"), "",
              "| model | fit s | fit CPU s | epoch s | eval s | eval CPU s | net peak MB | points |",
              "|---|---|---|---|---|---|---|---|"]
    for model, f in fits.items():
        cell = {k: f"{f[k]['exponent']:.2f} ({f[k]['exponent_top']:.2f})" if k in f else "–" for k in keys}
        pts = f.get("net_peak_mb", next(iter(f.values())))
        lines.append(f"| {model} | " + " | ".join(cell[k] for k in keys)
                     + f" | {pts['points']} ({pts['range'][0]:,}-{pts['range'][1]:,}) |")
    lines += ["", (f"Fits on one {MACHINE_MB // 1024} GB machine: peak RSS <= {USABLE_MB // 1024} GB, extrapolated "
              "from the largest size that ran (the smaller of its local curve and linear growth; "
              "the largest run and its peak in brackets):"), "",
              "| model | fits up to (interactions) | largest run | then use |", "|---|---|---|---|"]
    for model, f in fits.items():
        n_max = fits_up_to(f)
        ran = [r for r in rows if r["model"] == model and not r.get("predicted") and not r.get("error")]
        largest = max((r["interactions"] for r in ran), default=0)
        lines.append(f"| {model} | {_human(n_max) if n_max else '–'} | {_human(largest)} "
                     f"({max((r['peak_mb'] for r in ran if r['interactions'] == largest), default=0):,.0f} MB) | "
                     f"{NEXT_STEP.get(model, '')} |")
    return "\n".join(lines)


def _short_error(error: str | None) -> str:
    """The error's last line, without file paths (tables are committed)."""
    if not error:
        return ""
    last = error if error.startswith("MemoryCeilingError") else error.strip().splitlines()[-1]
    return re.sub(r"(/[^\s/'\"(),]+)+/", "", " ".join(last.split()))[:160]


def _fmt(v: Any, digits: int = 1) -> str:
    return "–" if v is None else f"{float(v):,.{digits}f}"


def _human(n: float) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def plot(rows: list[dict], out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    fits = curves(rows)
    paths = []
    for model in sorted({r["model"] for r in rows}):
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, key, label in zip(axes, ("fit_cpu_s", "eval_cpu_s", "net_peak_mb"),
                                  ("fit, CPU s", "evaluation of all users, CPU s", "peak RSS above the interpreter, MB")):
            mine = [r for r in rows if r["model"] == model and _value(r, key)]
            for kind, sel, style in (("synthetic", lambda r: r.get("scale") and not r.get("predicted"), "o"),
                                     ("predicted", lambda r: r.get("predicted"), "s"),
                                     ("real data", lambda r: not r.get("scale"), "x")):
                pts = [(r["interactions"], _value(r, key)) for r in mine if sel(r)]
                if pts:
                    ax.loglog(*zip(*pts), style, label=kind, fillstyle="none" if kind == "predicted" else "full")
            f = fits.get(model, {}).get(key)
            if f:
                xs = np.geomspace(f["range"][0], max(r["interactions"] for r in mine), 20)
                ax.loglog(xs, np.exp(f["a"]) * xs ** f["exponent"], "-", alpha=0.5,
                          label=f"all sizes ~ N^{f['exponent']:.2f}")
                xs = np.geomspace(f["range"][1] / 4, max(r["interactions"] for r in mine), 10)
                ax.loglog(xs, np.exp(f["a_top"]) * xs ** f["exponent_top"], "--", alpha=0.5,
                          label=f"largest two ~ N^{f['exponent_top']:.2f}")
            ax.set_xlabel("interactions")
            ax.set_title(label)
            ax.legend(fontsize=7)
        fig.suptitle(f"{model}: cost vs interactions")
        fig.tight_layout()
        path = out / f"{model}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def bounded_check(dataset: str, n_users: int, out: Path) -> dict:
    """GraphFilter's exact item-item path against its memory-bounded (factored) path, same users."""
    import graphrec as gr

    ds = gr.datasets.load(dataset)
    rng = np.random.default_rng(0)
    test = ds.test
    users = np.unique(test.user_idx)
    keep = np.isin(test.user_idx, rng.choice(users, min(n_users, len(users)), replace=False))
    sub = gr.Interactions(test.user_idx[keep], test.item_idx[keep], users=test.users, items=test.items)
    res: dict[str, Any] = {"dataset": dataset, "loadavg_start": os.getloadavg()}
    per_user = {}
    for name, budget in (("exact", 2.0), ("factored", 0.001)):
        t0 = time.perf_counter()
        m = gr.GraphFilter(random_state=0, memory_budget=budget).fit(ds.train)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = gr.evaluate(m, sub, k=20, per_user=True)
        per_user[name] = r["per_user"]["recall@20"].to_numpy()
        res[name] = {"propagation": getattr(m, "propagation_", "sparse"), "recall@20": r["recall@20"],
                     "ndcg@20": r["ndcg@20"], "fit_s": round(fit, 2), "eval_s": round(time.perf_counter() - t0, 2)}
        print(name, res[name], flush=True)
    res["users"] = len(per_user["exact"])
    res["recall_diff"] = float(per_user["factored"].mean() - per_user["exact"].mean())
    res["max_abs_user_diff"] = float(np.abs(per_user["factored"] - per_user["exact"]).max())
    res["loadavg_end"] = os.getloadavg()
    write_json(out / f"graphfilter_bounded_{dataset}.json", res)
    return res


def pruned_check(dataset: str, neighbors: list[int], n_users: int, out: Path, memory_limit_mb: float,
                 timeout: float) -> dict:
    """GraphFilter's exact item-item filter against ``item_neighbors=m`` for each m, same test users.

    Each setting fits and evaluates in its own process (so its peak RSS is its own) on the
    same ``n_users`` test users (drawn with seed 0); the table reports Recall/NDCG@20 with
    their per-user standard errors, the paired difference to the exact filter, fit and
    evaluation seconds (wall and CPU), peak RSS and the non-zeros of the filter.
    """
    res: dict[str, Any] = {"dataset": dataset, "users_seed": 0, "loadavg_start": os.getloadavg(), "runs": []}
    per_user: dict[str, dict[str, np.ndarray]] = {}
    for m in [None, *neighbors]:
        spec = {"dataset": dataset, "n_users": n_users, "item_neighbors": m, "memory_limit_mb": memory_limit_mb}
        name = "exact" if m is None else f"m={m}"
        print(f"running GraphFilter {name} on {dataset} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "row.json"
            cmd = [sys.executable, __file__, "--check-job", json.dumps(spec), "--job-out", str(path)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
                row = json.loads(path.read_text()) if path.exists() else {
                    "error": f"exit code {proc.returncode}: {proc.stderr[-1500:]}"}
            except subprocess.TimeoutExpired:
                row = {"error": f"timeout after {timeout:.0f} s"}
        row.update(name=name, item_neighbors=m)
        if "per_user" in row:
            per_user[name] = {k: np.asarray(v, float) for k, v in row.pop("per_user").items()}
        res["runs"].append(row)
        print("  " + json.dumps({k: row.get(k) for k in ("recall@20", "ndcg@20", "fit_s", "eval_s", "peak_mb",
                                                          "filter_nnz", "error")}), flush=True)
    for row in res["runs"]:
        if row["name"] in per_user and "exact" in per_user and row["name"] != "exact":
            for metric in ("recall@20", "ndcg@20"):
                d = per_user[row["name"]][metric] - per_user["exact"][metric]
                row[f"{metric}_diff"] = float(d.mean())
                row[f"{metric}_diff_se"] = float(d.std(ddof=1) / np.sqrt(len(d)))
    res["loadavg_end"] = os.getloadavg()
    write_json(out / f"graphfilter_pruned_{dataset}.json", res)
    print(pruned_table(res))
    return res


def pruned_table(res: dict) -> str:
    """The trade-off table of :func:`pruned_check` (markdown)."""
    lines = [("| filter | R@20 ± s.e. | N@20 ± s.e. | R@20 - exact ± s.e. | fit s (CPU s) | eval s (CPU s) "
              "| peak MB | filter non-zeros | load |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        if r.get("error"):
            lines.append(f"| {r['name']} | {_short_error(r['error'])} | | | | | {_fmt(r.get('peak_mb'), 0)} | | |")
            continue
        diff = (f"{r['recall@20_diff']:+.4f} ± {r['recall@20_diff_se']:.4f}" if "recall@20_diff" in r else "–")
        lines.append(
            f"| {r['name']} | {r['recall@20']:.4f} ± {r['recall@20_se']:.4f} | {r['ndcg@20']:.4f} ± "
            f"{r['ndcg@20_se']:.4f} | {diff} | {_fmt(r['fit_s'])} ({_fmt(r['fit_cpu_s'])}) | {_fmt(r['eval_s'])} "
            f"({_fmt(r['eval_cpu_s'])}) | {_fmt(r['peak_mb'], 0)} | {r['filter_nnz']:,} | {r['loadavg'][0]} |")
    return "\n".join(lines)


def check_job(spec: dict) -> dict:
    """One setting of :func:`pruned_check` (child process)."""
    import graphrec as gr
    from graphrec.exceptions import MemoryCeilingError
    from graphrec.memory import MemoryGuard, reset_stage_peak, stage_peak_rss_mb

    row: dict[str, Any] = {}
    guard = MemoryGuard(spec["memory_limit_mb"], hard=True)
    stage = "data"
    try:
        with guard:
            ds = gr.datasets.load(spec["dataset"])
            test = ds.test
            users = np.unique(test.user_idx)
            chosen = np.random.default_rng(0).choice(users, min(spec["n_users"], len(users)), replace=False)
            keep = np.isin(test.user_idx, chosen)
            sub = gr.Interactions(test.user_idx[keep], test.item_idx[keep], users=test.users, items=test.items)
            stage = "fit"
            reset_stage_peak()
            t0, c0 = time.perf_counter(), _cpu_s()
            m = gr.GraphFilter(random_state=0, item_neighbors=spec["item_neighbors"]).fit(ds.train)
            row.update(fit_s=round(time.perf_counter() - t0, 2), fit_cpu_s=round(_cpu_s() - c0, 2),
                       fit_peak_mb=round(stage_peak_rss_mb(), 1), propagation=m.propagation_,
                       filter_nnz=int(m.item_filter_.nnz))
            stage = "eval"
            reset_stage_peak()
            t0, c0 = time.perf_counter(), _cpu_s()
            r = gr.evaluate(m, sub, k=20, per_user=True)
            row.update(eval_s=round(time.perf_counter() - t0, 2), eval_cpu_s=round(_cpu_s() - c0, 2),
                       eval_peak_mb=round(stage_peak_rss_mb(), 1), users=int(r["n_users"]))
            pu = r["per_user"]
            row["per_user"] = {}
            for metric in ("recall@20", "ndcg@20"):
                v = pu[metric].to_numpy(float)
                row[metric] = float(v.mean())
                row[f"{metric}_se"] = float(v.std(ddof=1) / np.sqrt(len(v)))
                row["per_user"][metric] = v.tolist()
    except MemoryCeilingError as exc:
        row["error"] = f"MemoryCeilingError during {stage}: {exc}"
    row["peak_mb"] = round(max(guard.peak_mb, stage_peak_rss_mb(), row.get("fit_peak_mb") or 0), 1)
    row["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    return row


# ----------------------------------------------------------------------------- main
def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    key = lambda r: (r["model"], r["dataset"])
    fresh = {key(r) for r in new}
    return [r for r in old if key(r) not in fresh] + new


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="1,4,16", help="comma-separated multiples of Gowalla's interactions")
    p.add_argument("--models", default="popularity,mf,lightgcn,graphfilter")
    p.add_argument("--anchors", default="", help="real datasets to add, e.g. gowalla,lastfm,ml-latest-small")
    p.add_argument("--out", default="benchmarks/out/scaling")
    p.add_argument("--shape", choices=("density", "degree"), default="density")
    p.add_argument("--base-interactions", type=int, default=GOWALLA["interactions"],
                   help="interactions at scale 1 (smaller for a quick check)")
    p.add_argument("--predict", default="64", help="scales to extrapolate where not measured")
    p.add_argument("--memory-limit-mb", type=float, default=9000)
    p.add_argument("--timeout", type=float, default=3600, help="seconds per job")
    p.add_argument("--param", action="append", default=[], help="MODEL.KEY=JSON, e.g. graphfilter.n_components=64")
    p.add_argument("--report", action="store_true", help="only print the tables and draw the plots")
    p.add_argument("--bounded-check", metavar="DATASET",
                   help="compare GraphFilter's exact and memory-bounded paths on DATASET's test users, then exit")
    p.add_argument("--check-users", type=int, default=5000, help="test users of --bounded-check / --pruned-check")
    p.add_argument("--pruned-check", metavar="DATASET",
                   help="compare GraphFilter's exact filter with item_neighbors in --neighbors on DATASET, then exit")
    p.add_argument("--neighbors", default="50,100,200,400", help="item_neighbors of --pruned-check")
    p.add_argument("--check-job", help=argparse.SUPPRESS)
    p.add_argument("--job", help=argparse.SUPPRESS)
    p.add_argument("--job-out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.job:
        Path(a.job_out).write_text(json.dumps(run_job(json.loads(a.job))))
        return
    if a.check_job:
        Path(a.job_out).write_text(json.dumps(check_job(json.loads(a.check_job))))
        return
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.bounded_check:
        print(json.dumps(bounded_check(a.bounded_check, a.check_users, out)))
        return
    if a.pruned_check:
        neighbors = [int(v) for v in a.neighbors.split(",") if v]
        pruned_check(a.pruned_check, neighbors, a.check_users, out, a.memory_limit_mb, a.timeout)
        return
    store = out / "scaling.json"
    rows: list[dict] = json.loads(store.read_text())["rows"] if store.exists() else []
    predict = [float(s) for s in a.predict.split(",") if s]
    if not a.report:
        overrides: dict[str, dict] = {}
        for item in a.param:
            lhs, value = item.split("=", 1)
            model, key = lhs.split(".", 1)
            overrides.setdefault(model, {})[key] = json.loads(value)
        models = [m for m in a.models.split(",") if m]
        unknown = [m for m in models if m not in PARAMS]
        if unknown:
            p.error(f"unknown model(s) {unknown}; known: {sorted(PARAMS)}")
        specs = []
        for scale in [float(s) for s in a.scale.split(",") if s]:
            path, meta = dataset_file(out, scale, a.shape, a.base_interactions)
            specs += [{"model": m, "dataset": meta["dataset"], "scale": scale, "path": str(path),
                       "interactions": meta["interactions"]} for m in models]
        specs += [{"model": m, "dataset": d, "scale": None} for d in a.anchors.split(",") if d for m in models]
        for spec in specs:
            spec.update(memory_limit_mb=a.memory_limit_mb, params=overrides.get(spec["model"], {}))
            print(f"running {spec['model']} on {spec['dataset']} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
            row = launch(spec, a.timeout)
            print("  " + json.dumps({k: row.get(k) for k in ("fit_s", "epoch_s", "eval_s", "peak_mb", "error")}),
                  flush=True)
            # re-read first: another run may share DIR (e.g. small models beside the large ones)
            rows = merge(json.loads(store.read_text())["rows"] if store.exists() else [], [row])
            write_json(store, {"rows": rows})
    rows = json.loads(store.read_text())["rows"] if store.exists() else []
    rows = add_predictions(rows, predict, a.shape, a.base_interactions)
    write_json(store, {"rows": rows, "fits": curves(rows)})
    text = report(rows)
    (out / "report.md").write_text(text + "\n")
    plot(rows, out)
    print(text)


if __name__ == "__main__":
    main()
