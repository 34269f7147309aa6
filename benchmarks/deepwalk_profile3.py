import time, torch, sys
torch.set_num_threads(int(sys.argv[1]))
n, d = 70839, 64
C = torch.rand(n, d)
m = 81920
idx = torch.randint(0, n, (m,)); vals = torch.rand(m, d)
def tm(name, f, r=10):
    f(); t = time.perf_counter()
    for _ in range(r): f()
    dt = (time.perf_counter() - t) / r
    print(name, f"{dt*1e3:.2f} ms for {m} rows", flush=True)
tm("index_add alpha", lambda: C.index_add_(0, idx, vals, alpha=-1e-9))
tm("index_add", lambda: C.index_add_(0, idx, vals))
tm("index_put acc", lambda: C.index_put_((idx,), vals, accumulate=True))
sidx, order = torch.sort(idx)
tm("sort", lambda: torch.sort(idx))
sv = vals[order]
tm("index_add sorted", lambda: C.index_add_(0, sidx, sv))
tm("scatter_add", lambda: C.scatter_add_(0, idx.unsqueeze(1).expand(-1, d), vals))
import numpy as np
Cn = C.numpy(); idn = idx.numpy(); vn = vals.numpy()
tm("np.add.at", lambda: np.add.at(Cn, idn, vn), r=2)
