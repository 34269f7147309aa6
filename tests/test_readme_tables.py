"""README's figure tables are what tools/readme_tables.py renders from the recorded runs (issue 16)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import readme_tables


@pytest.mark.parametrize("name", sorted(readme_tables.RENDER))
def test_readme_table_is_the_rendering_of_its_json(name):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_tables.readme_block(name, text) == readme_tables.render(name), (
        f"README.md's {name} table was edited by hand or docs/results/{name}.json changed: "
        "run python tools/readme_tables.py --write"
    )


def test_check_flags_a_hand_edit(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme_tables.readme_block("demo", text)
    edited = tmp_path / "README.md"
    edited.write_text(text.replace(block, block.replace("|", "| 0.071 |", 1)), encoding="utf-8")
    monkeypatch.setattr(readme_tables, "README", edited)
    assert readme_tables.main(["--check"]) == 1
    assert readme_tables.main(["--write"]) == 0
    assert readme_tables.main(["--check"]) == 0 and edited.read_text(encoding="utf-8") == text


def test_demo_run_json_renders_and_only_full_runs_are_recorded(tmp_path):
    from graphrec.demo import run_demo

    run_demo(tmp_path / "d", models=["popularity", "mf"], budget_scale=0.05, n_users=1)
    rec = json.loads((tmp_path / "d" / "run.json").read_text())
    assert rec["models"]["mf"]["epochs"] >= 1 and "recall@20" in rec["models"]["mf"]["metrics"]
    table = readme_tables.render_demo(rec)
    assert f"| Popularity | {rec['models']['popularity']['metrics']['recall@20']:.3f} |" in table
    assert "| MF (BPR) (" in table
    with pytest.raises(SystemExit, match="not a full demo run"):
        readme_tables.record_demo(tmp_path / "d", results=tmp_path)
