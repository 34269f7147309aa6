"""Scratch lab for the LightGCN recipe on Gowalla (standalone, no graphrec import).

Usage: python benchmarks/lightgcn_lab.py --loss bpr --minutes 8 --out /tmp/x.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import scipy.sparse as sp
import torch

torch.set_num_threads(2)
DATA = os.environ.get("GOWALLA", "/work/shared/data/gowalla")


def read_txt(path):
    us, its = [], []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 2:
                continue
            u = int(p[0])
            items = np.asarray(p[1:], dtype=np.int64)
            us.append(np.full(len(items), u, dtype=np.int64))
            its.append(items)
    return np.concatenate(us), np.concatenate(its)


def load():
    tu, ti = read_txt(f"{DATA}/train.txt")
    su, si = read_txt(f"{DATA}/test.txt")
    n_u = int(max(tu.max(), su.max()) + 1)
    n_i = int(max(ti.max(), si.max()) + 1)
    return tu, ti, su, si, n_u, n_i


def norm_adj(tu, ti, n_u, n_i):
    r = sp.csr_array((np.ones(len(tu), np.float32), (tu, ti)), shape=(n_u, n_i))
    r.sum_duplicates()
    r.data[:] = 1.0
    a = sp.block_array([[None, r], [r.T, None]], format="csr").astype(np.float32)
    d = np.asarray(a.sum(axis=1)).ravel()
    dinv = np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1e-12)), 0.0).astype(np.float32)
    a = sp.diags_array(dinv) @ a @ sp.diags_array(dinv)
    a = sp.csr_array(a)
    a.sort_indices()
    return torch.sparse_csr_tensor(
        torch.from_numpy(a.indptr.astype(np.int32)),
        torch.from_numpy(a.indices.astype(np.int32)),
        torch.from_numpy(a.data.astype(np.float32)),
        size=a.shape,
    )


class SymProp(torch.autograd.Function):
    """LightGCN layer-mean propagation; backward reuses the symmetric A."""

    @staticmethod
    def forward(ctx, x, a, n_layers):
        ctx.a, ctx.n = a, n_layers
        out, h = x.clone(), x
        for _ in range(n_layers):
            h = a @ h
            out += h
        return out / (n_layers + 1)

    @staticmethod
    def backward(ctx, g):
        out, h = g.clone(), g
        for _ in range(ctx.n):
            h = ctx.a @ h
            out += h
        return out / (ctx.n + 1), None, None


class PoolBPR(torch.autograd.Function):
    """mean_{b,j} softplus(u_b.j_j - u_b.i_b) with a hand-written backward (2 GEMMs, one pass)."""

    @staticmethod
    def forward(ctx, ue, ie, je):
        pos = (ue * ie).sum(1, keepdim=True)
        d = torch.addmm(-pos, ue, je.T)
        sp = torch.nn.functional.softplus(d)
        loss = sp.mean()
        g = sp.neg_().exp_().neg_().add_(1.0).mul_(1.0 / sp.numel())  # sigmoid(d) / N
        ctx.save_for_backward(ue, ie, je, g)
        return loss

    @staticmethod
    def backward(ctx, go):
        ue, ie, je, g = ctx.saved_tensors
        rs = g.sum(1, keepdim=True)
        gu = torch.addmm(-rs * ie, g, je) * go
        gi = -rs * ue * go
        gj = (g.T @ ue) * go
        return gu, gi, gj


class Evaluator:
    def __init__(self, tu, ti, su, si, n_u, n_i):
        self.n_u, self.n_i = n_u, n_i
        self.train = sp.csr_array((np.ones(len(tu), bool), (tu, ti)), shape=(n_u, n_i))
        self.test = sp.csr_array((np.ones(len(su), bool), (su, si)), shape=(n_u, n_i))
        self.users = np.unique(su)
        tc = np.diff(self.test.indptr)
        self.n_test = torch.from_numpy(tc.astype(np.float32))
        disc = 1.0 / np.log2(np.arange(2, 22))
        self.disc = torch.from_numpy(disc.astype(np.float32))
        self.idcg = torch.from_numpy(np.cumsum(disc)[np.minimum(tc, 20) - 1].astype(np.float32))

    @torch.no_grad()
    def __call__(self, ue, ie, k=20, chunk=4096, cosine=False):
        dev = ue.device
        if cosine:
            ue = torch.nn.functional.normalize(ue, dim=1)
            ie = torch.nn.functional.normalize(ie, dim=1)
        rec = ndcg = 0.0
        users = self.users
        for s in range(0, len(users), chunk):
            ub = users[s : s + chunk]
            sc = ue[torch.from_numpy(ub).to(dev)] @ ie.T
            tr = self.train[ub]
            rows = np.repeat(np.arange(len(ub)), np.diff(tr.indptr))
            sc[torch.from_numpy(rows).to(dev), torch.from_numpy(tr.indices.astype(np.int64)).to(dev)] = -torch.inf
            top = torch.topk(sc, k, dim=1, sorted=True).indices.cpu().numpy()
            te = self.test[ub]
            # hits: membership of top items in test rows via sorted keys
            keys = (np.repeat(np.arange(len(ub)), np.diff(te.indptr)) * self.n_i + te.indices).astype(np.int64)
            q = (np.arange(len(ub))[:, None] * self.n_i + top).ravel()
            pos = np.searchsorted(keys, q)
            pos[pos >= len(keys)] = 0
            hit = torch.from_numpy((keys[pos] == q).reshape(len(ub), k).astype(np.float32))
            ut = torch.from_numpy(ub)
            rec += (hit.sum(1) / self.n_test[ut]).sum().item()
            ndcg += ((hit * self.disc[:k]).sum(1) / self.idcg[ut]).sum().item()
        return rec / len(users), ndcg / len(users)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--loss", default="bpr")  # bpr | bpr_pool | softmax | mix
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--lr_end", type=float, default=None)  # cosine decay to this over minutes
    p.add_argument("--warmup", type=float, default=0.0)  # seconds
    p.add_argument("--reg", type=float, default=1e-4)
    p.add_argument("--n_neg", type=int, default=1)
    p.add_argument("--pool", type=int, default=2048)
    p.add_argument("--tau", type=float, default=0.1)
    p.add_argument("--minutes", type=float, default=8)
    p.add_argument("--eval_every", type=float, default=60)
    p.add_argument("--steps", type=int, default=0)  # budget in steps (overrides minutes)
    p.add_argument("--eval_steps", type=int, default=300)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--init", type=float, default=0.1)
    p.add_argument("--hand_min", type=float, default=0)  # softmax until this minute, then bpr
    p.add_argument("--hard", type=int, default=0)  # take top-h hardest of pool per row (bpr_pool)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--max_seconds", type=float, default=1e9)
    p.add_argument("--no_eval", action="store_true")
    p.add_argument("--name", default="")
    p.add_argument("--cosine_eval", action="store_true")
    args = p.parse_args()

    t0 = time.time()
    tu, ti, su, si, n_u, n_i = load()
    dev = torch.device(args.device)
    a = norm_adj(tu, ti, n_u, n_i)
    if dev.type == "cuda":
        a = torch.sparse_csr_tensor(a.crow_indices().long(), a.col_indices().long(), a.values(), size=a.shape)
    a = a.to(dev)
    ev = Evaluator(tu, ti, su, si, n_u, n_i)
    print(f"load {time.time()-t0:.1f}s load={os.getloadavg()}", flush=True)
    g = torch.Generator(device=dev).manual_seed(args.seed)
    n = n_u + n_i
    emb = torch.nn.Parameter(torch.randn(n, args.dim, generator=g, device=dev) * args.init)
    wall0 = time.time()
    outf = open(args.out, "a") if args.out else None
    opt = torch.optim.Adam([emb], lr=args.lr)
    eu = torch.from_numpy(tu).to(dev)
    ei = torch.from_numpy(ti).to(dev) + n_u
    m = len(tu)
    budget = args.minutes * 60
    train_t = 0.0
    next_eval = args.eval_every
    curve = []
    steps = 0
    losses = []
    use_steps = args.steps > 0

    def progress():
        return steps / args.steps if use_steps else train_t / budget

    def due():
        return (steps % args.eval_steps == 0) if use_steps else train_t >= next_eval

    while progress() < 1 and time.time() - wall0 <= args.max_seconds:
        perm = torch.randperm(m, generator=g, device=dev)
        for s in range(0, m, args.batch):
            ts = time.time()
            frac = progress()
            lr = args.lr
            if args.warmup and steps < args.warmup:
                lr = args.lr * max(steps / args.warmup, 0.05)
            elif args.lr_end is not None:
                lr = args.lr_end + 0.5 * (args.lr - args.lr_end) * (1 + math.cos(math.pi * frac))
            for pg in opt.param_groups:
                pg["lr"] = lr
            idx = perm[s : s + args.batch]
            u, i = eu[idx], ei[idx]
            b = len(idx)
            out = SymProp.apply(emb, a, args.layers)
            loss_kind = args.loss
            if args.loss == "mix":
                loss_kind = "softmax" if frac < args.hand_min else "bpr_pool"
            if args.loss == "mixf":
                loss_kind = "softmax" if frac < args.hand_min else "fused"
            if args.loss == "hardmix":
                loss_kind = "bpr_pool" if frac < args.hand_min else "fused"
            hard = args.hard if args.loss != "hardmix" else (args.hard if frac < args.hand_min else 0)
            ue, ie = out[u], out[i]
            if loss_kind == "bpr":
                j = torch.randint(n_u, n, (b, args.n_neg), generator=g, device=dev)
                je = out[j]  # b, k, d
                pos = (ue * ie).sum(-1, keepdim=True)
                neg = torch.einsum("bd,bkd->bk", ue, je)
                loss = torch.nn.functional.softplus(neg - pos).mean()
                reg = (emb[u].square().sum() + emb[i].square().sum() + emb[j].square().sum() / args.n_neg) / (2 * b)
            elif loss_kind == "bpr_pool":
                j = torch.randint(n_u, n, (args.pool,), generator=g, device=dev)
                je = out[j]
                pos = (ue * ie).sum(-1, keepdim=True)
                neg = ue @ je.T
                d = neg - pos
                if hard:
                    d = torch.topk(d, hard, dim=1).values
                loss = torch.nn.functional.softplus(d).mean()
                reg = (emb[u].square().sum() + emb[i].square().sum()) / (2 * b) + emb[j].square().sum() / (2 * args.pool)
            elif loss_kind == "fused":
                j = torch.randint(n_u, n, (args.pool,), generator=g, device=dev)
                loss = PoolBPR.apply(ue, ie, out[j])
                reg = (emb[u].square().sum() + emb[i].square().sum()) / (2 * b) + emb[j].square().sum() / (2 * args.pool)
            elif loss_kind == "softmax":
                j = torch.randint(n_u, n, (args.pool,), generator=g, device=dev)
                un = torch.nn.functional.normalize(ue, dim=1)
                inn = torch.nn.functional.normalize(ie, dim=1)
                jn = torch.nn.functional.normalize(out[j], dim=1)
                pos = (un * inn).sum(-1, keepdim=True) / args.tau
                neg = un @ jn.T / args.tau
                loss = (torch.logsumexp(torch.cat([pos, neg], 1), 1) - pos[:, 0]).mean()
                reg = (emb[u].square().sum() + emb[i].square().sum()) / (2 * b) + emb[j].square().sum() / (2 * args.pool)
            tot = loss + args.reg * reg
            opt.zero_grad(set_to_none=True)
            tot.backward()
            opt.step()
            steps += 1
            losses.append(loss.item())
            train_t += time.time() - ts
            if time.time() - wall0 > args.max_seconds:
                break
            if args.no_eval:
                if progress() >= 1:
                    break
                continue
            if due() or progress() >= 1:
                with torch.no_grad():
                    fin = SymProp.apply(emb.detach(), a, args.layers)
                te = time.time()
                r, nd = ev(fin[:n_u], fin[n_u:], cosine=args.cosine_eval)
                rec = dict(min=round(train_t / 60, 2), cpu=round(time.process_time() / 60, 2), steps=steps, recall=round(r, 4), ndcg=round(nd, 4),
                           loss=round(float(np.mean(losses[-50:])), 4), lr=lr, eval_s=round(time.time() - te, 2),
                           load=os.getloadavg()[0], norm=round(fin.norm(dim=1).mean().item(), 3))
                rec["name"] = args.name
                print(json.dumps(rec), flush=True)
                if outf:
                    outf.write(json.dumps(rec) + "\n")
                    outf.flush()
                curve.append(rec)
                next_eval += args.eval_every
                if progress() >= 1:
                    break
    if not args.no_eval and (not curve or curve[-1]["steps"] != steps):
        with torch.no_grad():
            fin = SymProp.apply(emb.detach(), a, args.layers)
        r, nd = ev(fin[:n_u], fin[n_u:], cosine=args.cosine_eval)
        rec = dict(min=round(train_t / 60, 2), steps=steps, recall=round(r, 4), ndcg=round(nd, 4), name=args.name)
        print(json.dumps(rec), flush=True)
        if outf:
            outf.write(json.dumps(rec) + "\n")
    fin = dict(name=args.name, final=True, steps=steps, train_s=round(train_t, 2),
               step_s=round(train_t / max(steps, 1), 4), args=vars(args))
    print(json.dumps(fin), flush=True)
    if outf:
        outf.write(json.dumps(fin) + "\n")
        outf.close()


if __name__ == "__main__":
    main()
