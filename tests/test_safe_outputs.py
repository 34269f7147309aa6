"""Outputs never destroy what the user had (issue #16, data loss): save, train --out, demo, evaluate/viz --out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import graphrec as gr
from graphrec.cli import main
from graphrec.persistence import OutputExistsError, check_target


def _pop(checkerboard):
    return gr.Popularity().fit(checkerboard[0])


def _user_folder(path: Path) -> dict[str, str]:
    """A folder of the user's own files, one of them named meta.json (the issue's case)."""
    path.mkdir()
    files = {"meta.json": '{"my": "notes"}', "thesis.tex": "years of work", "data.csv": "a,b\n1,2\n"}
    for name, text in files.items():
        (path / name).write_text(text)
    return files


def _unchanged(path: Path, files: dict[str, str]) -> bool:
    return sorted(p.name for p in path.iterdir()) == sorted(files) and all(
        (path / n).read_text() == t for n, t in files.items()
    )


def _no_leftovers(parent: Path, *keep: str) -> None:
    assert sorted(p.name for p in parent.iterdir()) == sorted(keep)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--quiet", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- Recommender.save
def test_save_refuses_user_folder_with_a_meta_json(tmp_path, checkerboard):
    files = _user_folder(tmp_path / "m")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="not a graphrec model"):
            _pop(checkerboard).save(tmp_path / "m", overwrite=overwrite)
        assert _unchanged(tmp_path / "m", files)
    _no_leftovers(tmp_path, "m")


def test_save_refuses_an_existing_model_without_overwrite(tmp_path, checkerboard):
    x = checkerboard[0]
    gr.MF(epochs=1, embedding_dim=4, random_state=0, verbose=False).fit(x).save(tmp_path / "m")
    with pytest.raises(OutputExistsError, match="already holds a graphrec MF model.*overwrite=True"):
        _pop(checkerboard).save(tmp_path / "m")
    assert isinstance(gr.load(tmp_path / "m"), gr.MF)
    _pop(checkerboard).save(tmp_path / "m", overwrite=True)
    assert isinstance(gr.load(tmp_path / "m"), gr.Popularity)
    _no_leftovers(tmp_path, "m")


def test_save_never_deletes_other_files_in_a_model_folder(tmp_path, checkerboard):
    _pop(checkerboard).save(tmp_path / "m")
    (tmp_path / "m" / "my-notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="my-notes.txt"):
        _pop(checkerboard).save(tmp_path / "m", overwrite=True)
    assert (tmp_path / "m" / "my-notes.txt").read_text() == "mine"


def test_save_refuses_a_regular_file(tmp_path, checkerboard):
    (tmp_path / "ratings.csv").write_text("user,item\n1,2\n")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="existing file"):
            _pop(checkerboard).save(tmp_path / "ratings.csv", overwrite=overwrite)
    assert (tmp_path / "ratings.csv").read_text() == "user,item\n1,2\n"


def test_save_into_an_empty_folder(tmp_path, checkerboard):
    (tmp_path / "m").mkdir()
    _pop(checkerboard).save(tmp_path / "m")
    assert isinstance(gr.load(tmp_path / "m"), gr.Popularity)


def test_failed_swap_keeps_the_previous_model(tmp_path, checkerboard, monkeypatch):
    x = checkerboard[0]
    gr.MF(epochs=1, embedding_dim=4, random_state=0, verbose=False).fit(x).save(tmp_path / "m")
    from graphrec import persistence

    real = os.replace

    def failing(src, dst):
        if Path(src).name.startswith(".m.tmp-"):
            raise OSError("disk full (simulated)")
        return real(src, dst)

    monkeypatch.setattr(persistence.os, "replace", failing)
    with pytest.raises(OSError, match="simulated"):
        _pop(checkerboard).save(tmp_path / "m", overwrite=True)
    monkeypatch.undo()
    assert isinstance(gr.load(tmp_path / "m"), gr.MF)
    _no_leftovers(tmp_path, "m")


def test_check_target_kinds(tmp_path, checkerboard):
    assert check_target(tmp_path / "new") == "new"
    (tmp_path / "e").mkdir()
    assert check_target(tmp_path / "e") == "empty"
    _pop(checkerboard).save(tmp_path / "m")
    assert check_target(tmp_path / "m", overwrite=True) == "model"


# ---------------------------------------------------------------------- graphrec train --out
def test_train_refuses_user_folder_before_loading_data(capsys, tmp_path):
    files = _user_folder(tmp_path / "mine")
    # the dataset does not exist: the --out check must come first (before any data or training)
    code, _, err = run(capsys, "train", "popularity", "--dataset", str(tmp_path / "absent.csv"),
                       "--out", str(tmp_path / "mine"))
    assert code == 1 and "not a graphrec model" in err and "absent.csv" not in err
    assert _unchanged(tmp_path / "mine", files)


def test_train_refuses_regular_file_immediately(capsys, tmp_path):
    target = tmp_path / "ratings.csv"
    target.write_text("user_id,item_id\n1,2\n")
    code, _, err = run(capsys, "train", "popularity", "--dataset", "nosuch-dataset", "--out", str(target))
    assert code == 1 and "existing file" in err
    assert target.read_text() == "user_id,item_id\n1,2\n"


def test_train_replaces_a_model_only_with_force(capsys, tmp_path):
    out = tmp_path / "m"
    assert run(capsys, "train", "mf", "--dataset", "sample", "--epochs", "1", "--embedding-dim", "4",
               "--out", str(out))[0] == 0
    code, _, err = run(capsys, "train", "popularity", "--dataset", "sample", "--out", str(out))
    assert code == 1 and "already holds a graphrec MF model" in err and "--force" in err
    assert isinstance(gr.load(out), gr.MF)
    code, stdout, err = run(capsys, "train", "popularity", "--dataset", "sample", "--out", str(out), "--force")
    assert code == 0, err
    assert "replaced the model there" in stdout
    assert isinstance(gr.load(out), gr.Popularity)
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "data.json", "items.csv", "meta.json"]
    _no_leftovers(tmp_path, "m")


# ---------------------------------------------------------------------- other writers
def test_evaluate_out_does_not_replace_a_file(capsys, tmp_path):
    mine = tmp_path / "results.json"
    mine.write_text("my own results")
    code, _, err = run(capsys, "evaluate", "--model", "popularity", "--dataset", "sample", "--out", str(mine))
    assert code == 1 and "--force" in err and mine.read_text() == "my own results"
    code, _, err = run(capsys, "evaluate", "--model", "popularity", "--dataset", "sample", "--out", str(mine),
                       "--force")
    assert code == 0, err
    assert json.loads(mine.read_text())["model"] == "Popularity"


def test_demo_never_writes_into_a_user_folder(tmp_path):
    from graphrec.demo import MANIFEST, demo_folder

    lines: list[str] = []
    files = _user_folder(tmp_path / "graphrec-demo")
    fresh = demo_folder(tmp_path / "graphrec-demo", lines.append)
    assert fresh == tmp_path / "graphrec-demo-2" and "did not write" in lines[-1]
    assert _unchanged(tmp_path / "graphrec-demo", files)
    # a folder holding only an earlier demo run is reused, and the demo says what it replaces
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "report.md").write_text("old")
    (tmp_path / "run" / MANIFEST).write_text(json.dumps(["report.md", "model"]))
    assert demo_folder(tmp_path / "run", lines.append) == tmp_path / "run"
    assert "replacing the previous demo run" in lines[-1] and "report.md" in lines[-1]
    (tmp_path / "run" / "mine.txt").write_text("x")
    assert demo_folder(tmp_path / "run", lines.append) == tmp_path / "run-2"


def test_demo_run_twice_replaces_only_its_own_run(capsys, tmp_path):
    out = tmp_path / "demo"
    for _ in range(2):
        code, _, err = run(capsys, "demo", "--fast", "--models", "popularity", "--out", str(out))
        assert code == 0, err
    assert not (tmp_path / "demo-2").exists()
    (out / "keep.txt").write_text("mine")
    code, stdout, err = run(capsys, "demo", "--fast", "--models", "popularity", "--out", str(out))
    assert code == 0, err
    assert (out / "keep.txt").read_text() == "mine" and (tmp_path / "demo-2" / "report.md").is_file()
    assert "demo-2" in stdout
