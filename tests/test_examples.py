"""Every example runs as is, in fast mode (GRAPHREC_FAST=1), in its own process.

The processes start together (one fixture) so the test file takes about as long as
the slowest example rather than the sum; each test then waits for its own. Each
example costs ~6 CPU-seconds in fast mode (mostly importing torch), ~40 in all.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import graphrec as gr

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TIMEOUT = 300  # wall seconds per example; generous because the examples run together on shared cores

# example -> (models it needs, optional modules it needs, words its output must contain)
CASES = {
    "quickstart.py": (["LightGCN"], [], ["recall@20", "rank", "title"]),
    "custom_data.py": (["MF"], [], ["user-0", "rock in the top 5"]),
    "movielens_explore.py": (["LightGCN"], ["plotly"], ["recommended", "because of", "pictures written"]),
    "cold_start.py": (["LightGCN"], [], ["new user liked", "would be shown first"]),
    "diversity.py": (["LightGCN"], [], ["MMR", "DPP", "genre diversity@20"]),
    "reproduce_gowalla.py": (["LightGCN"], [], ["recall@20", "paper"]),
    "viz_gallery.py": (["LightGCN"], ["plotly"], ["trained in", "neighbourhood drawn", "pictures written"]),
}


def _gowalla_present() -> bool:
    try:
        return bool(gr.datasets.available().loc["gowalla", "found"])
    except Exception:  # noqa: BLE001 - any failure means "not usable here"
        return False


def _skip_reason(name: str) -> str | None:
    models, modules, _ = CASES[name]
    missing = [m for m in models if m not in gr.MODELS]
    if missing:
        return f"{', '.join(missing)} not registered in graphrec.MODELS yet"
    for mod in modules:
        try:
            __import__(mod)
        except ImportError:
            return f"{mod} is not installed"
    if name == "reproduce_gowalla.py" and not _gowalla_present():
        return "Gowalla data not found (../shared/data/gowalla or $GRAPHREC_DATA)"
    return None


@pytest.fixture(scope="module")
def launched(tmp_path_factory) -> dict[str, tuple[subprocess.Popen, Path]]:
    env = {**os.environ, "GRAPHREC_FAST": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    procs = {}
    for name in CASES:
        if _skip_reason(name) is None:
            cwd = tmp_path_factory.mktemp(name.removesuffix(".py"))
            log = cwd / "output.txt"
            with open(log, "w") as fh:
                procs[name] = (subprocess.Popen([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env,
                                                stdout=fh, stderr=subprocess.STDOUT), log)
    yield procs
    for proc, _ in procs.values():
        if proc.poll() is None:
            proc.kill()


def test_every_example_is_listed():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(CASES)


def test_readme_own_data_snippet_on_a_100_user_csv(tmp_path):
    """README's "Your own data" snippet, verbatim, on a 100-user CSV read with pandas."""
    import re

    import numpy as np
    import pandas as pd

    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Your own data"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    rng = np.random.default_rng(0)
    rows = [(u, int(i), int(rng.integers(1, 6)), 1_600_000_000 + 60 * t)
            for u in range(100) for t, i in enumerate(rng.choice(150, size=15, replace=False))]
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"]).to_csv(tmp_path / "ratings.csv", index=False)
    df = pd.read_csv(tmp_path / "ratings.csv")
    scope = {"gr": gr, "df": df}
    exec(compile(snippet, "README.md: Your own data", "exec"), scope)  # noqa: S102 - our own README
    assert scope["model"].n_users_ <= 100 and scope["split"].test.nnz > 0
    assert type(scope["model"]).__name__ in re.findall(r"gr\.(\w+)\(", snippet)  # the model it names


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs(name, launched):
    reason = _skip_reason(name)
    if reason:
        pytest.skip(reason)
    proc, log = launched[name]
    try:
        code = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{name} took over {TIMEOUT} s in fast mode")
    output = log.read_text()
    assert code == 0, output[-3000:]
    for word in CASES[name][2]:
        assert word in output, f"{word!r} missing from the output of {name}:\n{output[-2000:]}"


def test_gowalla_without_data_exits_with_message(monkeypatch, tmp_path, capsys):
    # in-process (runpy): the script stops before any training, so a process is not worth it
    if "LightGCN" not in gr.MODELS:
        pytest.skip("LightGCN not registered in graphrec.MODELS yet")
    script = str(EXAMPLES / "reproduce_gowalla.py")
    monkeypatch.setattr(sys, "argv", [script, "--root", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(script, run_name="__main__")
    assert "Gowalla not found" in str(exc.value.code) and "--root" in str(exc.value.code)
