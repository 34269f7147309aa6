"""GF-CF research on Gowalla: python graph_filter_gowalla.py [--svd randomized|svds] [--k 256] [--alpha 0.3] [--mode sparse|chain]"""
import argparse, time
import numpy as np, scipy.sparse as sp, torch
from graph_filter_common import load_gowalla, evaluate, peak_rss_gb

p = argparse.ArgumentParser()
p.add_argument("--svd", default="randomized"); p.add_argument("--k", type=int, default=256)
p.add_argument("--alpha", type=float, default=0.3); p.add_argument("--mode", default="sparse")
p.add_argument("--n_iter", type=int, default=4); p.add_argument("--batch", type=int, default=2048)
a = p.parse_args()
torch.set_num_threads(2)
R, T = load_gowalla()
t0 = time.perf_counter()
du = np.asarray(R.sum(1)).ravel(); di = np.asarray(R.sum(0)).ravel()
du_is = np.where(du > 0, du ** -0.5, 0).astype(np.float32); di_is = np.where(di > 0, di ** -0.5, 0).astype(np.float32)
Rn = sp.csr_array(sp.diags_array(du_is) @ R @ sp.diags_array(di_is)).astype(np.float32)
if a.svd == "randomized":
    from sklearn.utils.extmath import randomized_svd
    _, s, vt = randomized_svd(Rn, a.k, n_iter=a.n_iter, random_state=0)
else:
    _, s, vt = sp.linalg.svds(Rn, k=a.k, random_state=0)
vt = np.ascontiguousarray(vt, dtype=np.float32)
t_svd = time.perf_counter() - t0
if a.mode == "sparse":
    G = sp.csr_array(Rn.T @ Rn).astype(np.float32)
    print("G nnz", G.nnz)
t_fit = time.perf_counter() - t0
print(f"svd {t_svd:.1f}s fit {t_fit:.1f}s s[:3]={s[:3]} s[-3:]={s[-3:]}")
left = torch.from_numpy(vt.T * di_is[:, None])           # Di^-1/2 V
right = torch.from_numpy(vt / np.where(di_is > 0, di_is, 1)[None, :])  # V^T Di^1/2
RnT = sp.csr_array(Rn.T)
def score(b):
    rb = R[b]
    if a.mode == "sparse":
        lin = (rb @ G).toarray()
    else:
        lin = (rb @ RnT @ Rn).toarray()
    out = torch.from_numpy(lin)
    if a.alpha:
        low = torch.from_numpy(rb.toarray()) @ left
        out.addmm_(low, right, alpha=a.alpha)
    return out
t1 = time.perf_counter()
res = evaluate(score, R, T, batch_size=a.batch)
t_eval = time.perf_counter() - t1
print(vars(a), res, f"fit {t_fit:.1f}s eval {t_eval:.1f}s total {t_fit+t_eval:.1f}s peak {peak_rss_gb():.2f}GB")
