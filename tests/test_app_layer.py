"""The application layer (cli, workflow, demo, recipes, benchmark) sits on top of the library.

No library module imports it, the CLI imports only the standard library up front
(heavy modules load inside the command that needs them), and no tracked file points
at a folder of one machine (an absolute path under work, home, tmp, ...).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "graphrec"
APP = ("graphrec.cli", "graphrec.workflow", "graphrec.demo", "graphrec.recipes", "graphrec.benchmark",
       "graphrec.__main__")


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _is_app(name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in APP)


def test_no_library_module_imports_the_application_layer():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if _is_app(_module(path)):
            continue
        bad = sorted(n for n in _imports(path) if _is_app(n))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert not offenders, offenders


def test_cli_imports_only_the_standard_library_up_front():
    """Heavy modules (torch, pandas, numpy, the models, matplotlib) load inside the commands."""
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for name in _imports(path, top_level_only=True):
            root = name.split(".")[0]
            assert root in stdlib or root == "__future__" or name.startswith("graphrec.cli"), (path.name, name)


def test_cli_help_and_version_import_no_heavy_module():
    """Whatever ``import graphrec`` costs, the CLI's own parser adds nothing heavy to it."""
    code = (
        "import sys; before = set(sys.modules)\n"
        "import graphrec; base = set(sys.modules)\n"
        "from graphrec.cli import build_parser; build_parser()\n"
        "added = set(sys.modules) - base\n"
        "heavy = sorted(m for m in added if m.split('.')[0] in "
        "('torch', 'pandas', 'numpy', 'scipy', 'sklearn', 'matplotlib', 'plotly') or m.startswith('graphrec.models'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# ---------------------------------------------------------------------- no machine's folders
ABSOLUTE = re.compile(r"(?<![\w.~$-])/(?:work|home|root|tmp|Users|mnt|scratch)/")


def _tracked_text_files() -> list[Path]:
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                               timeout=60).stdout.split(b"\0")
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    files = []
    for name in filter(None, names):
        path = ROOT / name.decode()
        if path.is_file() and path.suffix not in (".png", ".jpg", ".gif", ".npz", ".npy", ".pt", ".gz", ".zip"):
            files.append(path)
    return files


def test_no_absolute_paths_in_tracked_files():
    """Data and outputs are found through $GRAPHREC_DATA, ../shared/data or arguments, never a fixed folder."""
    hits = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if ABSOLUTE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:120]}")
    assert not hits, "absolute paths:\n" + "\n".join(hits)


@pytest.mark.parametrize("line, found", [
    # split literals, so that this file itself holds no absolute path
    ('DATA = Path("/' + 'work/shared/data/gowalla")', True),
    ("--out /" + "tmp/x.json", True),
    ("sys.path.insert(0, '/" + "home/me/graphrec')", True),
    ("$GRAPHREC_DATA or ../shared/data/gowalla", False),
    ("~/.cache/graphrec", False),
    ("graphrec/data/bundled/README.txt", False),
])
def test_absolute_path_pattern(line, found):
    assert bool(ABSOLUTE.search(line)) is found
