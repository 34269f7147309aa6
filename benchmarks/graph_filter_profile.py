import time, numpy as np, scipy.sparse as sp, torch
from graph_filter_common import load_gowalla
torch.set_num_threads(2)
R, T = load_gowalla()
du = np.asarray(R.sum(1)).ravel(); di = np.asarray(R.sum(0)).ravel()
du_is = (du ** -0.5).astype(np.float32); di_is = (di ** -0.5).astype(np.float32)
Rn = sp.csr_array(sp.diags_array(du_is) @ R @ sp.diags_array(di_is)).astype(np.float32)
t=time.perf_counter(); G = sp.csr_array(Rn.T @ Rn).astype(np.float32); print("G", time.perf_counter()-t)
vt = np.random.rand(256, R.shape[1]).astype(np.float32)
left = torch.from_numpy(vt.T * di_is[:, None]); right = torch.from_numpy(vt / di_is[None, :])
Gt = torch.sparse_csr_tensor(torch.from_numpy(G.indptr.astype(np.int64)), torch.from_numpy(G.indices.astype(np.int64)), torch.from_numpy(G.data), size=G.shape)
b = np.arange(2048)
rb = R[b]
def tm(name, f, n=2):
    t=time.perf_counter()
    for _ in range(n): r=f()
    print(name, (time.perf_counter()-t)/n); return r
x = tm("sp@sp", lambda: rb @ G)
tm("toarray", lambda: x.toarray())
rbd = torch.from_numpy(rb.toarray())
tm("rb dense", lambda: torch.from_numpy(rb.toarray()))
tm("torch G@rb^T dense", lambda: (Gt @ rbd.T.contiguous()))
rbt = torch.sparse_csr_tensor(torch.from_numpy(rb.indptr.astype(np.int64)), torch.from_numpy(rb.indices.astype(np.int64)), torch.from_numpy(rb.data), size=rb.shape)
tm("torch sp@sp", lambda: (rbt @ Gt))
low = tm("low1", lambda: rbd @ left)
out = torch.from_numpy(x.toarray())
tm("low2 addmm", lambda: out.addmm_(low, right, alpha=0.3))
tm("topk", lambda: torch.topk(out, 20, dim=1))
tm("chain", lambda: (rb @ Rn.T @ Rn))
