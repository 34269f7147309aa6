"""Start-up cost of ``import graphrec`` and of the ``graphrec`` command line (issue 15).

    python benchmarks/startup.py                          # this checkout, 7 runs per command
    python benchmarks/startup.py --runs 11 --out startup.json
    python benchmarks/startup.py --pythonpath ../old      # this checkout and an older one, side by side

Each command runs ``--runs`` times in a fresh subprocess; the table gives the
median, min and max wall time in seconds. One extra untimed run per command with
``PYTHONPROFILEIMPORTTIME=1`` (``-X importtime``) records which heavy modules
(torch, sklearn, matplotlib, plotly, torch_geometric, pandas, scipy) it imported
and their cumulative import time.

Source trees: with no ``--pythonpath`` the commands use the installed package
and the ``graphrec`` console script. Each ``--pythonpath DIR`` adds a tree whose
``DIR`` is put first on ``PYTHONPATH``; with any of them given, every tree
(this checkout included, as ``PYTHONPATH=<this checkout>``) invokes the CLI as
``python -m graphrec`` so that all columns run the same way. Runs of the trees
are interleaved (round-robin) so that a change in machine load hits all alike;
the load average is recorded beside the figures.

``--out FILE`` writes the figures as JSON, atomically (a temporary file renamed
into place, as ``benchmarks/jobs.py`` does); an existing file is overwritten.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Subprocesses start in a neutral directory: ``python -c`` and ``python -m`` put the
# working directory first on sys.path, which would shadow ``--pythonpath``.
NEUTRAL_CWD = Path(tempfile.gettempdir())
HEAVY = ("torch", "sklearn", "matplotlib", "plotly", "torch_geometric", "pandas", "scipy")


def commands(cli: list[str]) -> dict[str, list[str]]:
    """The measured commands, by name; ``cli`` is how the command line is invoked."""
    py = sys.executable
    return {
        "import graphrec": [py, "-c", "import graphrec"],
        "graphrec --version": [*cli, "--version"],
        "graphrec --help": [*cli, "--help"],
        "graphrec datasets": [*cli, "datasets"],
        "graphrec.LightGCN": [py, "-c", "import graphrec; graphrec.LightGCN"],
    }


def trees(pythonpaths: list[Path], force_module: bool) -> dict[str, tuple[dict[str, str], list[str]]]:
    """Label -> (environment, CLI invocation) for each source tree to measure."""
    base = dict(os.environ)
    base.pop("PYTHONPROFILEIMPORTTIME", None)
    base.setdefault("MPLBACKEND", "Agg")
    module_cli = [sys.executable, "-m", "graphrec"]
    if not pythonpaths:
        script = shutil.which("graphrec")
        cli = [script] if script and not force_module else module_cli
        return {"installed": (base, cli)}
    out: dict[str, tuple[dict[str, str], list[str]]] = {}
    for label, path in [("this checkout", ROOT), *((str(p), p) for p in pythonpaths)]:
        env = dict(base)
        env["PYTHONPATH"] = os.pathsep.join([str(Path(path).resolve()), base.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        out[label] = (env, module_cli)
    return out


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one run in seconds; raises ``RuntimeError`` if the command fails."""
    start = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, cwd=NEUTRAL_CWD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return elapsed


def heavy_imports(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Heavy top-level modules ``argv`` imports -> their cumulative import time in seconds."""
    env = dict(env, PYTHONPROFILEIMPORTTIME="1")
    proc = subprocess.run(
        argv, env=env, cwd=NEUTRAL_CWD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        check=False,
    )
    found: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        # "import time:       self [us] |  cumulative | imported package"
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:"):].split("|")]
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        name = parts[2]
        if name in HEAVY:  # the top-level entry (no leading spaces once stripped; nested ones are dotted)
            found[name] = max(found.get(name, 0.0), int(parts[1]) / 1e6)
    return found


def measure(runs: int, pythonpaths: list[Path], force_module: bool) -> dict[str, Any]:
    """Run every command ``runs`` times per tree, interleaved; return the figures."""
    setups = trees(pythonpaths, force_module)
    times: dict[str, dict[str, list[float]]] = {t: {} for t in setups}
    errors: dict[tuple[str, str], str] = {}
    loads = [os.getloadavg()[0]]
    for _ in range(runs):
        for label, (env, cli) in setups.items():
            for name, argv in commands(cli).items():
                if (label, name) in errors:
                    continue
                try:
                    times[label].setdefault(name, []).append(run_once(argv, env))
                except RuntimeError as exc:  # reported in the table; the other commands still run
                    errors[label, name] = str(exc)
        loads.append(os.getloadavg()[0])
    result: dict[str, Any] = {
        "runs": runs,
        "python": sys.version.split()[0],
        "load_average": {"min": round(min(loads), 2), "max": round(max(loads), 2)},
        "trees": {},
    }
    for label, (env, cli) in setups.items():
        rows: dict[str, Any] = {}
        for name, argv in commands(cli).items():
            if (label, name) in errors:
                rows[name] = {"error": errors[label, name]}
                continue
            ts = times[label][name]
            rows[name] = {
                "argv": argv[1:] if argv[0] == sys.executable else argv,
                "median_s": round(statistics.median(ts), 3),
                "min_s": round(min(ts), 3),
                "max_s": round(max(ts), 3),
                "times_s": [round(t, 3) for t in ts],
                "heavy_imports_s": {k: round(v, 3) for k, v in heavy_imports(argv, env).items()},
            }
        result["trees"][label] = rows
    return result


def table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table (one row per command and tree)."""
    lines = [
        (
            f"{result['runs']} runs per command, load average {result['load_average']['min']}"
            f"-{result['load_average']['max']}"
        ),
        "",
        "| tree | command | median s | min s | max s | heavy modules imported (cumulative s) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for label, rows in result["trees"].items():
        for name, row in rows.items():
            if "error" in row:
                lines.append(f"| {label} | `{name}` | failed | | | {row['error'].splitlines()[-1][:120]} |")
                continue
            heavy = ", ".join(f"{k} {v:.2f}" for k, v in sorted(row["heavy_imports_s"].items())) or "none"
            lines.append(
                f"| {label} | `{name}` | {row['median_s']:.3f} | {row['min_s']:.3f} | {row['max_s']:.3f} | "
                f"{heavy} |"
            )
    return "\n".join(lines)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to a temporary file first, then rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON to this file")
    parser.add_argument(
        "--pythonpath", type=Path, action="append", default=[], metavar="DIR",
        help="also measure the source tree DIR (repeatable); the CLI then runs as python -m graphrec",
    )
    parser.add_argument(
        "--module", action="store_true", help="run the CLI as python -m graphrec even without --pythonpath"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    for path in args.pythonpath:
        if not (path / "graphrec" / "__init__.py").is_file():
            parser.error(f"--pythonpath {path}: no graphrec/__init__.py there")
    result = measure(args.runs, args.pythonpath, args.module)
    print(table(result))
    if args.out is not None:
        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
