import time, torch
import sys; torch.set_num_threads(int(sys.argv[1]))
n, d, K = 70839, 64, 5
g = torch.Generator().manual_seed(0)
W = torch.rand(n, d) ; C = torch.rand(n, d)
cdf = torch.cumsum(torch.rand(n), 0); cdf /= cdf[-1].clone()
for B in (4096, 32768, 131072):
    ci = torch.randint(0, n, (B,)); xi = torch.randint(0, n, (B,))
    def tm(name, f, r=5):
        f(); t = time.perf_counter()
        for _ in range(r): f()
        dt = (time.perf_counter() - t) / r
        print(B, name, f"{dt*1e3:.2f} ms  {B/dt/1e6:.2f} Mpairs/s", flush=True)
    tm("neg", lambda: torch.searchsorted(cdf, torch.rand(B * K, generator=g)))
    neg = torch.searchsorted(cdf, torch.rand(B * K, generator=g)).clamp_(max=n-1)
    tm("gather", lambda: (W[ci], C[xi], C[neg]))
    ec, eo, en = W[ci], C[xi], C[neg].view(B, K, d)
    tm("bmm", lambda: torch.bmm(en, ec.unsqueeze(2)))
    tm("index_add neg", lambda: C.index_add_(0, neg, en.view(-1, d), alpha=-1e-9))
    tm("index_add c", lambda: W.index_add_(0, ci, ec, alpha=-1e-9))
