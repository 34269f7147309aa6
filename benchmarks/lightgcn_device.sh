#!/bin/bash
# One-shot device run (3rd): graphrec library recipe on GPU (test curve, validation budget), MF,
# recipe variants in the lab, and the library's per-epoch CPU time on 2 pinned cores.
export PYTHONUNBUFFERED=1 GOWALLA=$PWD/.gowalla_data/gowalla PYTHONPATH=$PWD
G="timeout 250 python3 benchmarks/lightgcn_gowalla.py --root .gowalla_data --device cuda"
taskset -c 2,3 $G --model lightgcn --curve-every 3 > $OUT/lib_test.log 2>&1 &
taskset -c 4,5 $G --model lightgcn --valid --curve-every 3 > $OUT/lib_val30.log 2>&1 &
taskset -c 6,7 $G --model lightgcn --valid --epochs 45 --curve-every 5 > $OUT/lib_val45.log 2>&1 &
taskset -c 8,9 $G --model mf --curve-every 5 > $OUT/lib_mf.log 2>&1 &
L="python3 benchmarks/lightgcn_lab.py --device cuda --eval_steps 1000 --max_seconds 220 --lr_end 0 --out $OUT/lab.jsonl"
run() { c=$1; shift; taskset -c $c $L "$@" >> $OUT/lab.log 2>&1 & }
run 10,11 --name hm15_h128_4k --loss hardmix --hand_min 0.15 --hard 128 --steps 4000
run 12,13 --name hm15_reg1e3_4k --loss hardmix --hand_min 0.15 --hard 64 --reg 1e-3 --steps 4000
run 14,15 --name hm15_4k --loss hardmix --hand_min 0.15 --hard 64 --steps 4000
run 14,15 --name hm30_h128_3k --loss hardmix --hand_min 0.3 --hard 128 --steps 3000
taskset -c 0,1 timeout 240 python3 benchmarks/lightgcn_gowalla.py --root .gowalla_data --device cpu --threads 2 --epochs 2 --curve-every 1 > $OUT/cpu.log 2>&1
wait
grep -h '{' $OUT/cpu.log $OUT/lib_*.log | cut -c1-300
python3 - <<'PY'
import json, os, collections
d = collections.defaultdict(list)
for l in open(os.environ["OUT"] + "/lab.jsonl"):
    r = json.loads(l)
    if "recall" in r: d[r["name"]].append((r["steps"], r["recall"], r["ndcg"]))
for k, v in d.items(): print(k, " ".join(f"{s}:{r:.4f}/{n:.4f}" for s, r, n in v))
PY
