"""DeepWalk research on Gowalla (scratch).  python deepwalk_gowalla.py --help"""
import argparse, time, sys, os
import numpy as np, scipy.sparse as sp, torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from graph_filter_common import load_gowalla, evaluate, peak_rss_gb
from graphrec.walks import random_walks, walk_starts, skipgram_pairs

p = argparse.ArgumentParser()
p.add_argument("--dim", type=int, default=64); p.add_argument("--walk_length", type=int, default=20)
p.add_argument("--walks_per_node", type=int, default=5); p.add_argument("--window", type=int, default=3)
p.add_argument("--negatives", type=int, default=5); p.add_argument("--epochs", type=int, default=1)
p.add_argument("--lr", type=float, default=0.025); p.add_argument("--batch", type=int, default=4096)
p.add_argument("--group", type=int, default=1); p.add_argument("--chunk", type=int, default=20000)
p.add_argument("--p", type=float, default=1.0); p.add_argument("--q", type=float, default=1.0)
p.add_argument("--neg_pow", type=float, default=0.75); p.add_argument("--odd_only", type=int, default=0)
p.add_argument("--threads", type=int, default=1); p.add_argument("--time_budget", type=float, default=540)
a = p.parse_args()
torch.set_num_threads(a.threads)
print(vars(a), "load", os.getloadavg(), flush=True)
R, T = load_gowalla()
nu, ni = R.shape; n = nu + ni
A = sp.block_array([[None, R], [R.T, None]], format="csr", dtype=np.float32); A.sort_indices()
rng = np.random.default_rng(0); g = torch.Generator().manual_seed(0)
deg = np.diff(A.indptr).astype(np.float64)
w = deg ** a.neg_pow; table = torch.from_numpy(np.repeat(np.arange(n), np.round(w / w.sum() * 20 * n).astype(np.int64)))
d, K, G = a.dim, a.negatives, a.group
W = ((torch.rand(n, d, generator=g) - 0.5) / d); C = torch.zeros(n, d)
est_pairs = int(deg.astype(bool).sum()) * a.walks_per_node * 2 * sum(a.walk_length - k for k in range(1, a.window + 1)) * a.epochs
t0 = time.perf_counter(); t_walk = 0.0; n_walks = 0; done = 0; losses = []; step = 0; stop = False
for ep in range(a.epochs):
    starts = walk_starts(A, a.walks_per_node, rng=rng)
    for s0 in range(0, len(starts), a.chunk):
        tw = time.perf_counter()
        walks = random_walks(A, starts[s0:s0 + a.chunk], a.walk_length, p=a.p, q=a.q, rng=rng)
        if a.odd_only:
            cs, xs = [], []
            for dd in range(1, a.window + 1, 2):
                l, r = walks[:, :-dd].reshape(-1), walks[:, dd:].reshape(-1); cs += [l, r]; xs += [r, l]
            c, x = np.concatenate(cs), np.concatenate(xs)
        else:
            c, x = skipgram_pairs(walks, a.window)
        perm = rng.permutation(len(c)); c = torch.from_numpy(c[perm]); x = torch.from_numpy(x[perm])
        t_walk += time.perf_counter() - tw; n_walks += len(walks)
        for s in range(0, len(c) - a.batch + 1, a.batch):
            ci, xi = c[s:s + a.batch], x[s:s + a.batch]
            B = len(ci); ng = B // G
            neg = table[torch.randint(0, len(table), (ng * K,), generator=g)]
            lr = a.lr * max(1e-4, 1 - done / est_pairs)
            ec = W.index_select(0, ci); eo = C.index_select(0, xi); en = C.index_select(0, neg).view(ng, K, d)
            sp_ = torch.sigmoid((ec * eo).sum(1))
            ecg = ec.view(ng, G, d)
            sn = torch.sigmoid(torch.bmm(ecg, en.transpose(1, 2)))  # (ng, G, K)
            if step % 500 == 0:
                losses.append(float(-(torch.log(sp_ + 1e-7).mean() + torch.log(1 - sn + 1e-7).sum(2).mean())))
            gp = ((sp_ - 1) * -lr).unsqueeze(1)
            sn.mul_(-lr)
            gc = gp * eo + torch.bmm(sn, en).view(B, d)
            W.index_add_(0, ci, gc)
            C.index_add_(0, xi, gp * ec)
            C.index_add_(0, neg, torch.bmm(sn.transpose(1, 2), ecg).view(-1, d))
            done += B; step += 1
        if time.perf_counter() - t0 > a.time_budget:
            stop = True; break
    if stop: break
tt = time.perf_counter() - t0
print(f"walks {n_walks} in {t_walk:.1f}s (incl pairs+shuffle) = {n_walks/t_walk:.0f} walks/s", flush=True)
print(f"trained {done} pairs ({done/est_pairs:.2f} of planned) in {tt:.1f}s = {done/(tt-t_walk):.0f} pairs/s (excl. walks); losses {[round(l,3) for l in losses[::max(1,len(losses)//8)]]}", flush=True)
print(f"fit total {tt:.1f}s", flush=True)
torch.set_num_threads(2)
Wn = torch.nn.functional.normalize(W, dim=1)
for name, (U, V) in {"in.in": (W[:nu], W[nu:]), "in.out": (W[:nu], C[nu:]), "cos": (Wn[:nu], Wn[nu:]), "sum": ((W+C)[:nu], (W+C)[nu:]), "out.in": (C[:nu], W[nu:])}.items():
    res = evaluate(lambda b: U[torch.from_numpy(b)] @ V.T, R, T)
    print(name, {k: round(float(v), 4) for k, v in res.items()}, flush=True)
print("peak GB", peak_rss_gb(), "load", os.getloadavg())
