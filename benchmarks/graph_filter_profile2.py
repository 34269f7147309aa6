import time, numpy as np, scipy.sparse as sp, torch
from concurrent.futures import ThreadPoolExecutor
from graph_filter_common import load_gowalla
torch.set_num_threads(2)
R, T = load_gowalla()
du = np.asarray(R.sum(1)).ravel(); di = np.asarray(R.sum(0)).ravel()
du_is = (du ** -0.5).astype(np.float32); di_is = (di ** -0.5).astype(np.float32)
Rn = sp.csr_array(sp.diags_array(du_is) @ R @ sp.diags_array(di_is)).astype(np.float32)
G = sp.csr_array(Rn.T @ Rn).astype(np.float32)
b = np.arange(4096, 4096+2048)
rb = R[b]
def tm(name, f, n=2):
    t=time.perf_counter()
    for _ in range(n): r=f()
    print(name, (time.perf_counter()-t)/n, flush=True); return r
x = tm("sp@sp", lambda: rb @ G)
print("density", x.nnz / (x.shape[0]*x.shape[1]))
pool = ThreadPoolExecutor(2)
def par():
    h = len(b)//2
    parts = list(pool.map(lambda r: (r @ G).toarray(), [rb[:h], rb[h:]]))
    return np.vstack(parts)
tm("sp@sp 2 threads + toarray", par)
tm("sp@sp 1 thread + toarray", lambda: (rb @ G).toarray())
# dense intermediate chain via torch
RnT_t = torch.sparse_csr_tensor(*(torch.from_numpy(a) for a in (sp.csr_array(Rn.T).indptr.astype(np.int64), sp.csr_array(Rn.T).indices.astype(np.int64), sp.csr_array(Rn.T).data)), size=(R.shape[1], R.shape[0]))
def chain():
    y = (rb @ Rn.T).toarray()  # B x n_users
    return (RnT_t @ torch.from_numpy(y).T.contiguous()).T
tm("chain dense torch", chain)
