"""Epoch time of data-parallel training with 1, 2, ... ranks, and all-reduce volume per step.

Each setting runs ``python -m graphrec.distributed --nproc N`` (ranks forked on
127.0.0.1, gloo on CPU; ``--device cuda`` gives one NCCL rank per GPU) and reads the
job's result.json. A plain one-process ``model.fit`` (no DDP) is timed too.

    python benchmarks/distributed_epoch.py --dataset sample --nprocs 1 2 --epochs 4
    python benchmarks/distributed_epoch.py --dataset synthetic --n-users 20000 --n-items 5000 --nprocs 1 2 4

The epoch time reported is the median over epochs after the first (warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run_job(nproc: int, common: list[str], threads: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        cmd = [sys.executable, "-m", "graphrec.distributed", "--nproc", str(nproc), *common, "--output", tmp]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"nproc={nproc} failed:\n{proc.stderr[-3000:]}")
        res = json.loads((Path(tmp) / "result.json").read_text())
    steps = res["history"][-1]["steps"]
    return {
        "mode": f"DDP x{nproc}",
        "threads_per_rank": threads or "auto",
        "epoch_seconds": float(np.median(res["epoch_seconds"][1:] or res["epoch_seconds"])),
        "job_wall_seconds": round(wall, 2),
        "steps_per_epoch": steps // len(res["history"]),
        "allreduce_bytes_per_step": res["allreduce_bytes"] // max(res["allreduce_calls"], 1),
        "dense_grad_bytes (n_params*4)": res["n_parameters"] * 4,
        "recall@20": round(res["metrics"]["recall@20"], 4),
    }


def run_plain(a: argparse.Namespace, params: dict) -> dict:
    import torch

    import graphrec as gr
    from graphrec.models import get_model_class

    if a.threads:
        torch.set_num_threads(a.threads)
    ds = (gr.datasets.synthetic(n_users=a.n_users, n_items=a.n_items, random_state=0) if a.dataset == "synthetic"
          else gr.datasets.load(a.dataset))
    model = get_model_class(a.model)(**params, random_state=0).fit(ds.train)
    secs = [h["seconds"] for h in model.history_]
    return {"mode": "plain fit (no DDP)", "threads_per_rank": torch.get_num_threads(),
            "epoch_seconds": float(np.median(secs[1:] or secs)),
            "recall@20": round(gr.evaluate(model, ds.test, k=20)["recall@20"], 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="sample")
    p.add_argument("--n-users", type=int, default=20000)
    p.add_argument("--n-items", type=int, default=5000)
    p.add_argument("--model", default="lightgcn")
    p.add_argument("--nprocs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=2048, help="global batch (split over ranks)")
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument("--n-layers", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="threads per rank (default: CPUs / ranks)")
    p.add_argument("--output", default=None, help="write the rows as JSON here")
    a = p.parse_args()
    params = {"embedding_dim": a.embedding_dim, "epochs": a.epochs, "batch_size": a.batch_size, "device": a.device}
    if a.model.lower() == "lightgcn":
        params["n_layers"] = a.n_layers
    common = ["--dataset", a.dataset, "--model", a.model, "--n-users", str(a.n_users), "--n-items", str(a.n_items),
              "--timeout", "600"]
    for k, v in params.items():
        common += ["--param", f"{k}={json.dumps(v)}"]
    rows = [run_plain(a, params)] + [run_job(n, common, a.threads) for n in a.nprocs]
    meta = {"dataset": a.dataset, "model": a.model, **params, "cpus": len(os.sched_getaffinity(0)),
            "loadavg": os.getloadavg()}
    print(json.dumps(meta))
    for r in rows:
        print(json.dumps(r))
    if a.output:
        Path(a.output).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
