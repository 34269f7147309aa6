"""Kill-and-resume check: a training run killed part-way and resumed ends where an uninterrupted one does.

For LightGCN and MF, one process (``graphrec train``, SIGKILLed after its ``--kill-after``-th
checkpoint) and 2-process DDP on gloo (``python -m graphrec.distributed --nproc 2``, rank 1
SIGKILLed after that epoch): run uninterrupted, run and kill, resume with ``--resume``, and
compare the final embeddings (largest absolute difference). Prints a markdown table and
writes benchmarks/out/resume_check.json.

    python benchmarks/resume_check.py                      # bundled sample (MovieLens), 8 epochs
    python benchmarks/resume_check.py --epochs 4 --dataset sample
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import graphrec as gr
from graphrec.benchmark import machine, write_json
from graphrec.distributed import free_port
from graphrec.training import latest_training_checkpoint, read_training_checkpoint

OUT = Path(__file__).resolve().parent / "out"


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONWARNINGS="ignore", GLOO_SOCKET_IFNAME="lo")


def _single(model: str, a: argparse.Namespace, work: Path) -> dict[str, Any]:
    def cmd(out: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "graphrec", "--quiet", "train", model, "--dataset", a.dataset, "--out",
                str(out), "--seed", "0", "--epochs", str(a.epochs), "--embedding-dim", str(a.dim), "--device",
                "cpu", *extra]

    ckpt = work / f"{model}-ckpt"
    t0 = time.perf_counter()
    subprocess.run(cmd(work / f"{model}-full"), env=_env(), check=True, capture_output=True)
    proc = subprocess.Popen(cmd(work / f"{model}-killed", "--checkpoint-dir", str(ckpt)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        last = latest_training_checkpoint(ckpt)
        if last is not None and read_training_checkpoint(last)["epoch"] >= a.kill_after:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    killed = read_training_checkpoint(latest_training_checkpoint(ckpt))["epoch"]  # type: ignore[arg-type]
    subprocess.run(cmd(work / f"{model}-resumed", "--resume", str(ckpt)), env=_env(), check=True,
                   capture_output=True)
    full, resumed = gr.load(work / f"{model}-full"), gr.load(work / f"{model}-resumed")
    return _compare(full.user_embeddings_, full.item_embeddings_, resumed.user_embeddings_,
                    resumed.item_embeddings_, killed, proc.returncode, time.perf_counter() - t0)


def _ddp(model: str, a: argparse.Namespace, work: Path) -> dict[str, Any]:
    def cmd(*extra: str) -> list[str]:
        return [sys.executable, "-m", "graphrec.distributed", "--nproc", "2", "--port", str(free_port()),
                "--model", model, "--dataset", a.dataset, "--seed", "0", "--timeout", "60",
                "--param", f"epochs={a.epochs}", "--param", f"embedding_dim={a.dim}", "--param", "device=cpu",
                *extra]

    ckpt = work / f"{model}-ddp-ckpt"
    t0 = time.perf_counter()
    subprocess.run(cmd("--output", str(work / f"{model}-ddp-full")), env=_env(), check=True, capture_output=True)
    killed_run = subprocess.run(cmd("--checkpoint-dir", str(ckpt), "--fail-at", f"1:{a.kill_after}"), env=_env(),
                                check=False, capture_output=True)
    killed = read_training_checkpoint(latest_training_checkpoint(ckpt))["epoch"]  # type: ignore[arg-type]
    subprocess.run(cmd("--resume", str(ckpt), "--output", str(work / f"{model}-ddp-resumed")), env=_env(),
                   check=True, capture_output=True)
    full = np.load(work / f"{model}-ddp-full" / "rank0.npz")
    resumed = np.load(work / f"{model}-ddp-resumed" / "rank0.npz")
    return _compare(full["user"], full["item"], resumed["user"], resumed["item"], killed, killed_run.returncode,
                    time.perf_counter() - t0)


def _compare(u0: np.ndarray, i0: np.ndarray, u1: np.ndarray, i1: np.ndarray, killed: int, code: int | None,
             seconds: float) -> dict[str, Any]:
    diff = max(float(np.abs(u0 - u1).max()), float(np.abs(i0 - i1).max()))
    return {"resumed_from_epoch": killed, "killed_exit_code": code, "max_abs_diff": diff,
            "identical": bool(np.array_equal(u0, u1) and np.array_equal(i0, i1)), "seconds": round(seconds, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="sample")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--kill-after", type=int, default=3, help="epoch after which the run is killed")
    p.add_argument("--models", default="lightgcn,mf")
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models.split(","):
            for mode, fn in (("1 process", _single), ("2-process DDP (gloo)", _ddp)):
                r = {"model": model, "mode": mode, **fn(model, a, Path(tmp))}
                rows.append(r)
                print(r, flush=True)
    print("\n| model | training | killed after epoch | resumed from epoch | max abs diff of embeddings | seconds |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['mode']} | {a.kill_after} | {r['resumed_from_epoch']} | "
              f"{r['max_abs_diff']:.3g}{' (identical)' if r['identical'] else ''} | {r['seconds']} |")
    OUT.mkdir(parents=True, exist_ok=True)
    write_json(OUT / "resume_check.json", {"args": vars(a), "rows": rows, "machine": machine(),
                                            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})


if __name__ == "__main__":
    main()
