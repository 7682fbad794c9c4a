#!/usr/bin/env python3
"""Gradient parity fixtures for glassbox-programs' Transformer Program, in PyTorch; and the
reference's initial parameters for any task shape.

    .venv/bin/python xtask/peers/programs.py gradients crates/glassbox-programs/tests/fixtures
    .venv/bin/python xtask/peers/programs.py init induction 6 init.safetensors
    .venv/bin/python xtask/peers/programs.py init double_hist 0 init.safetensors

`gradients DIR` writes, for two shapes, the initial parameters as safetensors under glassbox's
parameter names (`<case>_init.safetensors`) and one JSON (`program_gradients.json`) with a
batch, and for three temperatures the loss and the gradient of every parameter:

* `induction`: the in-context task's shape (2 layers, 1 categorical head, no MLPs, k = 10,
  causal), 64 sequences, initial parameters drawn as the reference draws them under
  `torch.manual_seed(6)` (the seed of its `scripts/induction.sh`);
* `double_hist_small`: every component (3 layers, 2 categorical + 2 numerical heads, one
  categorical and one numerical MLP of width 8, k = 8, padding, `<pad>` class masked), 64
  double-hist sequences, seed 0.

The model is a from-spec PyTorch implementation (spec `transformer-programs.md` §1): frozen
+/-10 one-hot token table through the sampler, one-hot positions, variable reads, one-to-one
predicates, BOS default `relu(1 - s/(s+1e-10))`, the fixed relative bias, `log(S + 1e-20)`,
attention logits / sqrt(k), numerical heads summing a numerical value over matching keys,
MLPs whose output goes through `log_softmax` and the sampler, and a linear classifier over the
categorical then numerical stream. Noise-free softmax stands in for Gumbel-softmax so both
implementations compute the same numbers. The loss is the mean over sequences of the mean
token cross-entropy over non-pad targets.

`init TASK SEED OUT` writes the parameters the reference code draws under
`torch.manual_seed(SEED)` for TASK's Table 1 shape (the reference's creation order: per layer
the categorical heads' key, query, predicate and value selectors, the numerical heads' likewise,
then each categorical and each numerical MLP's read, W_in and W_out, then the classifier), for
`glassbox program train --init OUT`. torch keeps W_in as [d_mlp, inputs] and W_out as
[k, d_mlp]; glassbox stores their transposes.
"""
import json
import os
import random
import sys
from collections import Counter

import torch
import torch.nn.functional as F

# name: layers, cat heads, num heads, cat MLPs, num MLPs, d_mlp, k, n_ctx, vocab, classes,
# causal, masked classes.
SHAPES = {
    "induction": dict(
        layers=2, hc=1, hn=0, mc=0, mn=0, d_mlp=64, k=10, n=10,
        vocab=["<pad>", "0", "1", "2", "3", "<s>", "a", "b", "c", "d"],
        classes=["<pad>", "0", "1", "2", "3", "<unk>"], causal=True, masked=False,
    ),
    # glassbox's default double-hist shape (the released program's 4+4 heads).
    "double_hist": dict(
        layers=3, hc=4, hn=4, mc=1, mn=1, d_mlp=64, k=8, n=8,
        vocab=["<pad>", "0", "1", "2", "3", "4", "5", "<s>"],
        classes=["<pad>", "1", "2", "3", "4", "5", "6"], causal=False, masked=True,
    ),
}
# The paper's Table 1 double-hist shape (H = 4: 2 categorical + 2 numerical heads).
SHAPES["double_hist_table1"] = dict(SHAPES["double_hist"], hc=2, hn=2)
# The grid's (paper B.2) other three-layer double-hist shape with H = 8: 4+4 heads, M = 4
# (2 categorical + 2 numerical MLPs).
SHAPES["double_hist_m4"] = dict(SHAPES["double_hist"], mc=2, mn=2)
# ... and the grid's H = 4, M = 4 shape: 2+2 heads, 2+2 MLPs.
SHAPES["double_hist_h4m4"] = dict(SHAPES["double_hist"], hc=2, hn=2, mc=2, mn=2)
# ... and its two-layer shapes with M = 2: 4+4 and 2+2 heads.
SHAPES["double_hist_l2"] = dict(SHAPES["double_hist"], layers=2)
SHAPES["double_hist_l2h4"] = dict(SHAPES["double_hist"], layers=2, hc=2, hn=2)
# ... and its two-layer shapes with M = 4, which complete the grid's eight.
SHAPES["double_hist_l2m4"] = dict(SHAPES["double_hist"], layers=2, mc=2, mn=2)
SHAPES["double_hist_l2h4m4"] = dict(SHAPES["double_hist"], layers=2, hc=2, hn=2, mc=2, mn=2)
SHAPES["double_hist_small"] = dict(SHAPES["double_hist"], hc=2, hn=2, d_mlp=8, classes=[
    "<pad>", "1", "2", "3", "4", "5", "6", "7"])
TEMPERATURES = [3.0, 1.0, 0.05]


def cat_vars(s, layer):
    return 2 + layer * (s["hc"] + s["mc"] + s["mn"])


def num_vars(s, layer):
    return 1 + layer * s["hn"]


def reference_init(s, seed):
    """The reference's draws, in its order, under glassbox's names and layouts."""
    torch.manual_seed(seed)
    k, p = s["k"], {}

    def heads(prefix, h, m, m_value):
        p[f"{prefix}.key"] = torch.randn(h, m) / m**0.5
        p[f"{prefix}.query"] = torch.randn(h, m) / m**0.5
        p[f"{prefix}.predicate"] = torch.randn(h, k, k) / k**0.5
        p[f"{prefix}.value"] = torch.randn(h, m_value) / m_value**0.5

    def mlp(prefix, m, width):
        p[f"{prefix}.read"] = torch.randn(2, m) / m**0.5
        p[f"{prefix}.w_in"] = (torch.randn(s["d_mlp"], 2 * width) / s["d_mlp"] ** 0.5).T
        p[f"{prefix}.b_in"] = torch.zeros(s["d_mlp"])
        p[f"{prefix}.w_out"] = (torch.randn(k, s["d_mlp"]) / k**0.5).T
        p[f"{prefix}.b_out"] = torch.zeros(k)

    for l in range(s["layers"]):
        m, mn = cat_vars(s, l), num_vars(s, l)
        if s["hc"]:
            heads(f"blocks.{l}.cat_attn", s["hc"], m, m)
        if s["hn"]:
            heads(f"blocks.{l}.num_attn", s["hn"], m, mn)
        for i in range(s["mc"]):
            mlp(f"blocks.{l}.cat_mlps.{i}", m + s["hc"], k)
        for i in range(s["mn"]):
            mlp(f"blocks.{l}.num_mlps.{i}", mn + s["hn"], 1)
    width = cat_vars(s, s["layers"]) * k + num_vars(s, s["layers"])
    c = len(s["classes"])
    p["unembed"] = torch.randn(width, c) / c**0.5
    return {name: t.contiguous() for name, t in p.items()}


def relative_bias(n):
    b = torch.zeros(n, n)
    for i in range(n):
        for j in range(n):
            d = j - i
            b[i, j] = -2.0 if d == 0 else (-(d - 1) / (n - 2) if d > 0 else (d + 1) / (n - 1))
    return b


def forward(s, p, x, tau):
    k, n, b = s["k"], s["n"], x.shape[0]
    soft = lambda z, dim=-1: torch.softmax(z / tau, dim)
    table = soft(20 * torch.eye(k)[:, : len(s["vocab"])] - 10, 0)  # column w: token w
    cat = [table.T[x], torch.eye(k)[:n].expand(b, n, k)]
    num = [torch.ones(b, n)]
    real = (x != 0).float()
    mask = (real.unsqueeze(-1) @ real.unsqueeze(-2)).bool()
    if s["causal"]:
        mask = torch.tril(mask)
    bias = relative_bias(n)
    for l in range(s["layers"]):
        st, ns = torch.stack(cat, 2), torch.stack(num, 2)
        read = lambda sel: torch.einsum("m,bnmk->bnk", soft(sel), st)
        new_cat, new_num = [], []
        for h in range(s["hc"]):
            a = f"blocks.{l}.cat_attn"
            q = read(p[f"{a}.query"][h]) @ soft(p[f"{a}.predicate"][h])
            scores = q @ read(p[f"{a}.key"][h]).transpose(1, 2)
            matched = scores.masked_fill(~mask, 0).sum(-1)
            scores = scores.clone()
            scores[:, :, 0] += F.relu(1 - matched / (matched + 1e-10))
            logits = ((scores + 1e-20).log() + bias).masked_fill(~mask, -1e30)
            new_cat.append(soft(logits / k**0.5) @ read(p[f"{a}.value"][h]))
        for h in range(s["hn"]):
            a = f"blocks.{l}.num_attn"
            q = read(p[f"{a}.query"][h]) @ soft(p[f"{a}.predicate"][h])
            scores = (q @ read(p[f"{a}.key"][h]).transpose(1, 2)).masked_fill(~mask, 0)
            value = ns @ soft(p[f"{a}.value"][h])
            new_num.append((scores @ value.unsqueeze(-1)).squeeze(-1))
        cat, num = cat + new_cat, num + new_num
        st, ns = torch.stack(cat, 2), torch.stack(num, 2)

        def mlp(prefix, inputs):
            hidden = F.relu(inputs @ p[f"{prefix}.w_in"] + p[f"{prefix}.b_in"])
            out = hidden @ p[f"{prefix}.w_out"] + p[f"{prefix}.b_out"]
            return soft(out.log_softmax(-1))

        outs = []
        for i in range(s["mc"]):
            pi = soft(p[f"blocks.{l}.cat_mlps.{i}.read"])
            u = torch.cat([torch.einsum("m,bnmk->bnk", pi[r], st) for r in range(2)], -1)
            outs.append(mlp(f"blocks.{l}.cat_mlps.{i}", u))
        for i in range(s["mn"]):
            pi = soft(p[f"blocks.{l}.num_mlps.{i}.read"])
            u = torch.stack([ns @ pi[r] for r in range(2)], -1)
            outs.append(mlp(f"blocks.{l}.num_mlps.{i}", u))
        cat = cat + outs
    features = torch.cat([torch.stack(cat, 2).reshape(b, n, -1), torch.stack(num, 2)], -1)
    logits = features @ p["unembed"]
    if s["masked"]:
        drop = torch.tensor([c in ("<pad>", "<unk>") for c in s["classes"]])
        logits = logits.masked_fill(drop, -1e30)
    return logits


def loss_and_grads(s, init, x, y, tau):
    p = {name: t.clone().requires_grad_(True) for name, t in init.items()}
    logp = forward(s, p, x, tau).log_softmax(-1).gather(2, y.unsqueeze(-1)).squeeze(-1)
    keep = y != 0
    loss = -((logp * keep).sum(-1) / keep.sum(-1)).mean()
    loss.backward()
    grads = {}
    for name, t in p.items():
        if t.grad is not None:
            grads[name] = t.grad.flatten().tolist()
    return loss.item(), grads


def induction_batch(s, rng, count):
    rows = []
    for _ in range(count):
        mapping = [rng.randrange(4) for _ in range(4)]
        tokens, targets, seen = ["<s>"], ["<pad>"], set()
        insert = rng.random() < 0.5
        if insert:
            tokens.append(str(rng.randrange(4)))
            targets.append("<pad>")
        letters = [rng.randrange(4) for _ in range(4)] + ([] if insert else [rng.randrange(4)])
        for i, c in enumerate(letters):
            tokens.append("abcd"[c])
            targets.append(str(mapping[c]) if c in seen else "<unk>")
            seen.add(c)
            if i < 4:
                tokens.append(str(mapping[c]))
                targets.append("<pad>")
        rows.append((tokens, targets))
    return rows


def double_hist_batch(s, rng, count):
    rows = []
    for _ in range(count):
        sent = [str(rng.randrange(6)) for _ in range(rng.randrange(1, s["n"]))]
        counts = Counter(sent)
        doubles = Counter(counts.values())
        rows.append((["<s>"] + sent, ["<pad>"] + [str(doubles[counts[c]]) for c in sent]))
    return rows


def encode(s, rows):
    pad = lambda r: r + ["<pad>"] * (s["n"] - len(r))
    x = torch.tensor([[s["vocab"].index(t) for t in pad(r[0])] for r in rows])
    y = torch.tensor([[s["classes"].index(t) for t in pad(r[1])] for r in rows])
    return x, y


def save_init(init, out, source):
    from safetensors.torch import save_file

    save_file(init, out, metadata={"source": source})


def write_gradients(directory):
    torch.set_num_threads(1)
    cases = {}
    for name, seed, batch in [
        ("induction", 6, induction_batch),
        ("double_hist_small", 0, double_hist_batch),
    ]:
        s = SHAPES[name]
        x, y = encode(s, batch(s, random.Random(2026), 64))
        init = reference_init(s, seed)
        save_init(init, os.path.join(directory, f"{name}_init.safetensors"),
                  f"reference initialisation of the {name} shape, torch.manual_seed({seed})")
        case = {"shape": s, "tokens": x.flatten().tolist(), "targets": y.flatten().tolist(),
                "temperatures": []}
        for tau in TEMPERATURES:
            loss, grads = loss_and_grads(s, init, x, y, tau)
            case["temperatures"].append({"tau": tau, "loss": loss, "grads": grads})
        cases[name] = case
    fixture = {
        "how": "Gradient parity fixture (see the header of xtask/peers/programs.py), written by "
        + "`programs.py gradients`, torch " + torch.__version__ + ", CPU.",
        "cases": cases,
    }
    out = os.path.join(directory, "program_gradients.json")
    with open(out, "w") as f:
        json.dump(fixture, f)
    print(f"wrote {out}")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "init" and sys.argv[2] in SHAPES:
        task, seed, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        save_init(reference_init(SHAPES[task], seed), out,
                  f"reference initialisation of the {task} shape, torch.manual_seed({seed})")
        print(f"wrote {out}")
    elif len(sys.argv) == 3 and sys.argv[1] == "gradients":
        write_gradients(sys.argv[2])
    else:
        sys.exit(f"usage: programs.py gradients DIR | programs.py init {'|'.join(SHAPES)} SEED OUT")


if __name__ == "__main__":
    main()
