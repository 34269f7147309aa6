#!/usr/bin/env bash
# Build graphrec's sdist and wheel, check them, and use the wheel alone.
#
#   bash tools/wheel_smoke.sh [--keep]
#
# 1. `python -m build` into a temporary folder, `twine check`, and
#    tools/check_dist.py (the bundled sample, the licences and py.typed are inside;
#    the version is graphrec.__version__).
# 2. A fresh venv outside the repository: `pip install torch==2.13.0 <wheel>`
#    (torch from local disk, the rest from pip's cache), then, from an empty
#    folder, with an empty HOME and no data root: `graphrec --version`, `demo --fast`,
#    `train` / `evaluate` / `recommend` / `similar` / `viz` on the bundled sample,
#    `datasets`, `benchmark --quick`, and README's library quickstart with small budgets.
#    A command that needs a real dataset must fail in one line (exit 1, no traceback).
# --keep leaves the temporary folder (printed) for a look afterwards.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/graphrec-wheel.XXXXXX")"
if [[ "${1:-}" != "--keep" ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "work folder: $WORK"; fi
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "build sdist and wheel"
"$PY" -m build --outdir "$WORK/dist" "$REPO" > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
ls -l "$WORK/dist"
"$PY" -m twine check --strict "$WORK"/dist/*
"$PY" "$REPO/tools/check_dist.py" "$WORK"/dist/*
WHEEL="$(ls "$WORK"/dist/graphrec-*.whl)"
VERSION="$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import graphrec; print(graphrec.__version__)' "$REPO")"

step "fresh venv outside the repository"
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q torch==2.13.0 "$WHEEL" > "$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; exit 1; }
"$VPY" -m pip list 2>/dev/null | grep -iE "^(graphrec|torch|numpy|scipy|torch.geometric) "

# an empty folder, an empty HOME (no ~/.cache/graphrec), no data root, no repository
mkdir -p "$WORK/run" "$WORK/home"
cd "$WORK/run"
export HOME="$WORK/home" MPLBACKEND=Agg PYTHONNOUSERSITE=1
unset GRAPHREC_DATA PYTHONPATH
GR="$WORK/venv/bin/graphrec"

step "graphrec is the installed wheel"
"$VPY" - "$REPO" "$VERSION" <<'EOF'
import importlib.resources as res
import sys
from pathlib import Path

import graphrec

repo, version = Path(sys.argv[1]).resolve(), sys.argv[2]
where = Path(graphrec.__file__).resolve()
assert repo not in where.parents, f"graphrec imported from the checkout: {where}"
assert graphrec.__version__ == version, (graphrec.__version__, version)
assert res.files("graphrec").joinpath("py.typed").is_file(), "py.typed missing"
print("graphrec", graphrec.__version__, "from", where.parent)
EOF
"$GR" --version | tee "$WORK/version.txt"
grep -qx "graphrec $VERSION" "$WORK/version.txt"

step "graphrec demo --fast"
"$GR" demo --fast --quiet --out demo-out > demo.log
tail -n 5 demo.log
ls demo-out

step "train / evaluate / recommend / similar / viz on the bundled sample"
"$GR" train popularity --dataset sample --out models/pop --quiet
"$GR" train graphfilter --dataset sample --out models/gf --quiet
"$GR" evaluate --model models/gf --json > eval.json
"$VPY" -c 'import json; m = json.load(open("eval.json"))["metrics"]; print(m); assert m["recall@20"] > 0.05'
"$GR" recommend --model models/gf --user 1 --k 5 --rerank mmr --explain
"$GR" similar --model models/gf --item 1 --k 3
"$GR" viz neighborhood --model models/gf --user 1 --out user1.png
"$GR" viz neighborhood --model models/gf --user 1 --out user1.html
"$GR" viz embeddings --model models/gf --out items.png
ls -l user1.png user1.html items.png

step "datasets and benchmark from the wheel"
"$GR" datasets
# the suite (peers, plots, RESULTS.md) is the repository's: the help says so in one line
"$GR" benchmark --help | tr '\n' ' ' | grep -q "needs a source checkout"
"$GR" benchmark --dataset sample --model popularity --quick

step "what needs the repository or real data says so in one line"
set +e
"$GR" train popularity --dataset gowalla --out models/g > need.out 2> need.err
rc=$?
set -e
cat need.err
[[ $rc -eq 1 ]] || { echo "expected exit 1 for a missing dataset, got $rc"; exit 1; }
[[ $(wc -l < need.err) -le 2 ]] && ! grep -q Traceback need.err \
    || { echo "a missing dataset must be a one-line error"; exit 1; }

step "README library quickstart (small budgets)"
"$VPY" - <<'EOF'
import graphrec as gr

ds = gr.datasets.load("sample")
model = gr.LightGCN(embedding_dim=16, n_layers=2, time_budget=3, random_state=0)
model.fit(ds.train, ds.valid)
print(gr.evaluate(model, ds.test, k=(10, 20)))
users = ds.train.users.to_index([1, 2])
idx, scores = model.recommend(users, k=10)
assert idx.shape == (2, 10), idx.shape
ids, scores = model.recommend([1, 2], k=10, ids="raw")
assert ids.tolist() == model.items_.to_labels(idx.ravel()).reshape(2, 10).tolist()
print(model.recommend_frame([1, 2], k=5, item_info=ds.item_info))
print(model.recommend_frame([1], k=5, item_info=ds.item_info, rerank="mmr"))
new_user, _ = gr.coldstart.recommend_new_user(model, [1, 260, 1196], k=10, ids="raw")
model.save("lightgcn-model")
model = gr.load("lightgcn-model")
fig = gr.viz.neighborhood(model, user=17, hops=2, k=10, item_info=ds.item_info, ids="raw")
gr.viz.save_figure(fig, "user17.png")
print(gr.explain.explain_recommendations(model, user=17, k=5, item_info=ds.item_info, ids="raw"))
EOF

step "wheel smoke check passed"
