"""Does overlapping the sparse (scipy) and low-rank (torch) parts of GraphFilter._score help? (scratch)"""
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import graphrec as gr
from graphrec.models.graph_filter import _binary
torch.set_num_threads(2)
ds = gr.datasets.load("gowalla")
t = time.perf_counter(); m = gr.GraphFilter(random_state=0).fit(ds.train); print("fit", round(time.perf_counter() - t, 1), os.getloadavg(), flush=True)
users = np.arange(0, 8192)
def serial(b): return m._score(b)
pool = ThreadPoolExecutor(1)
def overlapped(b):
    fut = pool.submit(lambda: (_binary(m.seen_[b]) @ m.item_filter_).toarray())
    u, v = m._low_rank_tensors(torch.device("cpu"))
    low = u[torch.from_numpy(b)] @ v.T
    low.mul_(m.alpha).add_(torch.from_numpy(fut.result()))
    return low
for name, f in (("serial", serial), ("overlapped", overlapped), ("serial", serial), ("overlapped", overlapped)):
    t = time.perf_counter()
    for s in range(0, len(users), 2048):
        f(users[s:s + 2048])
    print(name, round(time.perf_counter() - t, 2), "s for 8192 users", os.getloadavg(), flush=True)
