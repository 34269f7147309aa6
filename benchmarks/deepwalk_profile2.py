import time, torch, sys
torch.set_num_threads(int(sys.argv[1]))
n, d, K = 70839, 64, 5
W = torch.rand(n, d) ; C = torch.rand(n, d)
table = torch.randint(0, n, (10_000_000,))
B = 16384
ci = torch.randint(0, n, (B,)); xi = torch.randint(0, n, (B,))
def tm(name, f, r=10):
    f(); t = time.perf_counter()
    for _ in range(r): f()
    dt = (time.perf_counter() - t) / r
    print(name, f"{dt*1e3:.2f} ms  {B/dt/1e6:.2f} Mpairs/s", flush=True)
tm("neg table", lambda: table[torch.randint(0, len(table), (B*K,))])
neg = table[torch.randint(0, len(table), (B*K,))]
tm("W[neg]", lambda: C[neg])
tm("index_select neg", lambda: C.index_select(0, neg))
tm("F.embedding neg", lambda: torch.nn.functional.embedding(neg, C))
en = C[neg]
tm("index_add neg", lambda: C.index_add_(0, neg, en, alpha=-1e-9))
pool = neg[:256]
ec = W[ci]; ep = C[pool]
def pooled():
    s = torch.sigmoid(ec @ ep.T)
    g1 = s @ ep; g2 = s.T @ ec
    return g1, g2
tm("pool256 gemms", pooled)
pool = neg[:64]; ep = C[pool]
tm("pool64 gemms", pooled)
