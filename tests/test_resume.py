"""Resumable training: kill a run part-way, resume it, get the uninterrupted run's embeddings.

Single process (a callback raising, and a ``graphrec train`` subprocess SIGKILLed
after a checkpoint) and atomic checkpoint writes. The 2-process DDP cases are in
tests/test_resume_distributed.py.

Resumed runs are compared to uninterrupted ones *exactly* (``assert_array_equal``):
a checkpoint restores every input of the remaining epochs bit for bit (parameters,
Adam's moments and step counts, the sampler's generator, the schedule's step), and
a one-process CPU fit with a fixed thread count is deterministic, so any difference
would be a missing piece of state, not rounding.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import graphrec as gr
from graphrec.training import (
    CheckpointError,
    TrainConfig,
    Trainer,
    latest_training_checkpoint,
    read_training_checkpoint,
)
from graphrec.training import checkpoint as ckpt_mod

MODELS = {"LightGCN": (gr.LightGCN, {"n_layers": 2}), "MF": (gr.MF, {})}
BASE = {"embedding_dim": 8, "epochs": 6, "batch_size": 64, "lr": 0.05, "lr_decay": "cosine", "neg_pool": 16,
        "random_state": 3, "device": "cpu"}


class Killed(Exception):
    """Stands for the process dying after an epoch."""


def _kill_at(epoch: int) -> Any:
    def cb(model: Any, record: dict[str, Any]) -> None:
        if record["epoch"] == epoch:
            raise Killed

    return cb


@pytest.fixture(scope="module")
def data() -> gr.Dataset:
    return gr.datasets.synthetic(n_users=100, n_items=150, random_state=0)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize(
    "extra",
    [{}, {"average_fraction": 0.5, "hard_negatives": 4, "lr_warmup": 3}, {"patience": 2, "eval_every": 1}],
    ids=["plain", "averaging", "validation"],
)
def test_killed_fit_resumes_to_the_uninterrupted_embeddings(name: str, extra: dict, data: gr.Dataset,
                                                            tmp_path: Path) -> None:
    cls, own = MODELS[name]
    params = {**BASE, **own, **extra}
    valid = data.test if "patience" in extra else None
    full = cls(**params).fit(data.train, valid)
    with pytest.raises(Killed):
        cls(**params).fit(data.train, valid, callbacks=[_kill_at(4)], checkpoint_dir=tmp_path)
    # the epoch-4 checkpoint was never written: the run died in that epoch's callbacks
    assert latest_training_checkpoint(tmp_path) == tmp_path / "train-state-0003.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-state-0002.pt", "train-state-0003.pt"]
    resumed = cls(**params).fit(data.train, valid, resume=tmp_path)
    np.testing.assert_array_equal(resumed.user_embeddings_, full.user_embeddings_)
    np.testing.assert_array_equal(resumed.item_embeddings_, full.item_embeddings_)
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in full.history_]
    assert resumed.best_epoch_ == full.best_epoch_ and resumed.stopped_ == full.stopped_
    # the finished run's checkpoint says so: resuming it again trains nothing and ends the same
    last = read_training_checkpoint(latest_training_checkpoint(tmp_path))
    assert last["finished"] and last["epoch"] == len(full.history_)
    again = cls(**params).fit(data.train, valid, resume=tmp_path)
    np.testing.assert_array_equal(again.item_embeddings_, full.item_embeddings_)


def test_resume_of_an_empty_directory_starts_afresh(data: gr.Dataset, tmp_path: Path) -> None:
    params = {**BASE, "epochs": 2}
    full = gr.MF(**params).fit(data.train)
    m = gr.MF(**params).fit(data.train, resume=tmp_path / "new")
    np.testing.assert_array_equal(m.user_embeddings_, full.user_embeddings_)
    assert latest_training_checkpoint(tmp_path / "new") == tmp_path / "new" / "train-state-0002.pt"


@pytest.mark.parametrize(
    "change, field",
    [({"lr": 0.01}, "lr"), ({"embedding_dim": 4}, "embedding_dim"), ({"random_state": 4}, "random_state")],
)
def test_resume_refuses_a_checkpoint_of_other_settings(change: dict, field: str, data: gr.Dataset,
                                                        tmp_path: Path) -> None:
    with pytest.raises(Killed):
        gr.MF(**BASE).fit(data.train, callbacks=[_kill_at(2)], checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=f"cannot resume from .*{field}"):
        gr.MF(**{**BASE, **change}).fit(data.train, resume=tmp_path)
    other = gr.datasets.synthetic(n_users=100, n_items=150, random_state=1).train
    with pytest.raises(CheckpointError, match="data"):
        gr.MF(**BASE).fit(other, resume=tmp_path)
    with pytest.raises(CheckpointError, match="model"):
        gr.LightGCN(**BASE).fit(data.train, resume=tmp_path)


def test_corrupt_or_foreign_checkpoint_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "train-state-0009.pt"
    bad.write_bytes(b"PK\x03\x04 not a whole file")
    with pytest.raises(CheckpointError, match="train-state-0009.pt is unreadable or corrupt"):
        read_training_checkpoint(bad)
    torch.save({"format": 99}, bad)
    with pytest.raises(CheckpointError, match="format"):
        read_training_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no training checkpoint"):
        read_training_checkpoint(tmp_path / "missing.pt")


def test_a_write_killed_half_way_leaves_the_previous_checkpoint(data: gr.Dataset, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Killed):
        gr.MF(**BASE).fit(data.train, callbacks=[_kill_at(3)], checkpoint_dir=tmp_path)
    good = latest_training_checkpoint(tmp_path)
    real_save = torch.save

    def dying_save(obj: Any, fh: Any) -> None:  # half the bytes reach the disk, then the process "dies"
        real_save(obj, fh)
        fh.truncate(fh.tell() // 2)
        raise Killed

    monkeypatch.setattr(ckpt_mod.torch, "save", dying_save)
    with pytest.raises(Killed):
        ckpt_mod.write_training_checkpoint(tmp_path, {"format": 1}, 7)
    monkeypatch.undo()
    assert latest_training_checkpoint(tmp_path) == good  # no train-state-0007.pt, no temp file
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # a temp file left by a SIGKILL mid-write is ignored by readers and removed by the next write
    (tmp_path / ".train-state-0008.pt.tmp-12345").write_bytes(b"half")
    assert latest_training_checkpoint(tmp_path) == good
    ckpt_mod.write_training_checkpoint(tmp_path, {"format": 1}, 8, keep=5)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_time_budget_carries_over_and_the_schedule_follows_it(data: gr.Dataset, tmp_path: Path) -> None:
    # a budget that binds long before the epochs end: the cosine schedule is driven by elapsed/budget
    # and reaches its end (lr -> lr_min) exactly when the budget stops the run
    module = gr.MF(embedding_dim=8)._build_module(data.train, torch.device("cpu"), torch.Generator().manual_seed(0))
    fake = {"t": 0.0}

    def clock() -> float:  # one second per reading: deterministic "wall time"
        fake["t"] += 1.0
        return fake["t"]

    cfg = TrainConfig(epochs=1000, batch_size=64, lr=0.1, lr_decay="cosine", lr_min_ratio=0.01, time_budget=40)
    trainer = Trainer(module, data.train, cfg, random_state=0, clock=clock, checkpoint_dir=tmp_path,
                      checkpoint_every=2)
    res = trainer.fit()
    assert res.stopped == "time_budget"
    assert len(res.history) < 10  # far from 1000 epochs
    lrs = [h["lr"] for h in res.history]
    assert lrs == sorted(lrs, reverse=True)
    assert res.history[-1]["progress"] == 1.0
    assert res.history[-1]["lr"] < 0.002  # the schedule's end (0.001), not mid-way (~0.05)
    assert res.history[-1]["elapsed"] >= 40
    # a resumed budget run counts the earlier seconds: resuming the finished run trains nothing
    t2 = Trainer(module, data.train, cfg, random_state=0, clock=clock, resume=tmp_path)
    assert t2.fit().history == res.history


def test_budget_stop_reaches_the_saved_model_and_results(data: gr.Dataset, tmp_path: Path) -> None:
    m = gr.LightGCN(**{**BASE, "epochs": 10_000, "time_budget": 0.5}).fit(data.train)
    assert m.stopped_ == "time_budget" and len(m.history_) < 10_000
    assert m.history_[-1]["progress"] == 1.0
    m.save(tmp_path / "m")
    import json

    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["attributes"]["stopped_"] == "time_budget"
    assert gr.load(tmp_path / "m").stopped_ == "time_budget"


# ---------------------------------------------------------------------- a real process, SIGKILLed
def _train_cmd(csv: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "graphrec", "--quiet", "train", "lightgcn", "--dataset", str(csv),
            "--out", str(out), "--seed", "0", "--epochs", "20", "-p", "embedding_dim=8", "-p", "n_layers=2",
            "-p", "batch_size=64", "-p", "neg_pool=16", "-p", "lr_decay=cosine", "--device", "cpu", *extra]


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x = gr.datasets.synthetic(n_users=150, n_items=60, random_state=0).train.to_pandas()
    path = tmp_path_factory.mktemp("csv") / "ratings.csv"
    x.rename(columns={"user": "user_id", "item": "item_id"}).to_csv(path, index=False)
    return path


def test_graphrec_train_killed_by_sigkill_resumes_to_the_same_model(csv: Path, tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    ckpt = tmp_path / "ckpt"
    # kill the process at an arbitrary moment after its 3rd checkpoint (possibly mid-write of a later one)
    proc = subprocess.Popen(_train_cmd(csv, tmp_path / "killed", "--checkpoint-dir", str(ckpt)), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        last = latest_training_checkpoint(ckpt)
        if last is not None and int(last.stem.split("-")[-1]) >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()[0][-2000:]  # still training: 20 epochs take longer
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert not (tmp_path / "killed").exists()
    killed_at = read_training_checkpoint(latest_training_checkpoint(ckpt))["epoch"]
    assert 3 <= killed_at < 20
    # resume (the same command plus --resume) and run the same command uninterrupted meanwhile
    resumed = subprocess.Popen(_train_cmd(csv, tmp_path / "resumed", "--resume", str(ckpt)), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    full = subprocess.run(_train_cmd(csv, tmp_path / "full"), check=False, env=env, capture_output=True, text=True, timeout=300)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0 and full.returncode == 0, (out, full.stderr)
    a, b = gr.load(tmp_path / "resumed"), gr.load(tmp_path / "full")
    np.testing.assert_array_equal(a.user_embeddings_, b.user_embeddings_)
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    assert len(a.history_) == 20 and a.history_[killed_at]["epoch"] == killed_at + 1


def test_graphrec_train_resume_refuses_models_without_checkpoints(csv: Path, tmp_path: Path, capsys) -> None:
    from graphrec.cli import main

    code = main(["--quiet", "train", "popularity", "--dataset", str(csv), "--out", str(tmp_path / "m"),
                 "--resume", str(tmp_path / "ck")])
    assert code == 2
    assert "--checkpoint-dir/--resume need LightGCN or MF" in capsys.readouterr().err


def test_checkpoint_round_trip_of_the_pieces(data: gr.Dataset) -> None:
    # what a checkpoint holds, read back: parameters, Adam state, generator, history
    module = gr.MF(embedding_dim=4)._build_module(data.train, torch.device("cpu"), torch.Generator().manual_seed(0))
    t = Trainer(module, data.train, TrainConfig(epochs=2, batch_size=64), random_state=0)
    t.fit()
    state = t.state_dict()
    assert set(state["optimizer"]["state"]) == {0}
    assert state["step"] == t.step > 0 and state["epoch"] == 2
    assert state["rng"] == t.rng.bit_generator.state
    assert len(state["history"]) == 2 and state["fingerprint"]["world_size"] == 1
    assert pd.Series(state["module"]["ego"].flatten().numpy()).notna().all()
