"""Resumable data-parallel training: a 2-rank gloo job SIGKILLed part-way, resumed, compared.

Each model runs three 2-rank jobs on 127.0.0.1 (``python -m graphrec.distributed --nproc 2``):
uninterrupted; killed (rank 1 SIGKILLed after epoch 3, which ends the job); resumed from
the killed job's checkpoint directory. The resumed job must end with the uninterrupted
job's embeddings *exactly*: a checkpoint restores parameters, Adam state, the shared
sampler generator and the schedule's step, and a 2-rank gloo all-reduce adds the same
two numbers in the same way every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch.distributed as dist

from graphrec.distributed import free_port
from graphrec.training import latest_training_checkpoint, read_training_checkpoint

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is unavailable"
)

DATA = ["--dataset", "synthetic", "--n-users", "300", "--n-items", "100", "--n-communities", "4",
        "--data-seed", "0", "--valid-size", "0.1"]
PARAMS = {"embedding_dim": 8, "batch_size": 128, "lr": 0.05, "lr_decay": "cosine", "epochs": 6, "eval_every": 2,
          "device": "cpu"}
MODELS = {"lightgcn": {"n_layers": 2}, "mf": {}}
JOB_TIMEOUT = 20


def _cmd(model: str, port: int, *extra: str) -> list[str]:
    out = [sys.executable, "-m", "graphrec.distributed", "--nproc", "2", "--port", str(port), "--model", model,
           *DATA, "--seed", "0", "--timeout", str(JOB_TIMEOUT)]
    for k, v in {**PARAMS, **MODELS[model]}.items():
        out += ["--param", f"{k}={json.dumps(v)}"]
    return out + list(extra)


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", PYTHONWARNINGS="ignore")


def _ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Uninterrupted and killed jobs of both models at once, then both resumed jobs."""
    root = tmp_path_factory.mktemp("ddp-resume")
    procs: dict[str, subprocess.Popen] = {}
    first: dict[str, list[str]] = {}
    ports = iter(_ports(3 * len(MODELS)))
    for model in MODELS:
        first[f"{model}-full"] = _cmd(model, next(ports), "--output", str(root / model / "full"))
        first[f"{model}-killed"] = _cmd(model, next(ports), "--checkpoint-dir", str(root / model / "ckpt"),
                                        "--fail-at", "1:3")
    for name, cmd in first.items():
        procs[name] = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs = {}
    try:
        for name, proc in procs.items():
            logs[name] = (proc.communicate(timeout=240)[0], proc.returncode)
        killed = {}
        for model in MODELS:  # the killed job's last checkpoint (resuming writes more there)
            last = latest_training_checkpoint(root / model / "ckpt")
            killed[model] = None if last is None else read_training_checkpoint(last)
        for model in MODELS:
            cmd = _cmd(model, next(ports), "--resume", str(root / model / "ckpt"),
                       "--output", str(root / model / "resumed"))
            done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=240, check=False)
            logs[f"{model}-resumed"] = (done.stdout + done.stderr, done.returncode)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return {"root": root, "logs": logs, "killed": killed}


@pytest.mark.parametrize("model", list(MODELS))
def test_killed_two_rank_job_resumes_to_the_uninterrupted_embeddings(model: str, runs: dict[str, Any]) -> None:
    root, logs = runs["root"], runs["logs"]
    text, code = logs[f"{model}-killed"]
    assert code != 0 and "rank 1: killed by SIGKILL" in text, text[-3000:]
    for name in ("full", "resumed"):
        text, code = logs[f"{model}-{name}"]
        assert code == 0, text[-3000:]
    state = runs["killed"][model]
    assert state is not None and 2 <= state["epoch"] <= 3 and not state["finished"]  # killed after epoch 3
    last = read_training_checkpoint(latest_training_checkpoint(root / model / "ckpt"))
    assert last["finished"] and last["epoch"] == PARAMS["epochs"]  # the resumed job went on writing there
    full = np.load(root / model / "full" / "rank0.npz")
    resumed = [np.load(root / model / "resumed" / f"rank{r}.npz") for r in (0, 1)]
    for r in resumed:
        np.testing.assert_array_equal(r["user"], full["user"])
        np.testing.assert_array_equal(r["item"], full["item"])
    result = json.loads((root / model / "resumed" / "result.json").read_text())
    expect = json.loads((root / model / "full" / "result.json").read_text())
    assert result["resumed_from"] == state["epoch"] and expect["resumed_from"] is None
    assert [h["loss"] for h in result["history"]] == [h["loss"] for h in expect["history"]]
    assert result["metrics"] == expect["metrics"]
