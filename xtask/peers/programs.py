#!/usr/bin/env python3
"""Gradient parity fixture for glassbox-programs' Transformer Program, in PyTorch; and the
reference's initial parameters for the in-context (induction) task.

    .venv/bin/python xtask/peers/programs.py gradients crates/glassbox-programs/tests/fixtures/induction_gradients.json
    .venv/bin/python xtask/peers/programs.py induction-init 6 init.safetensors

`induction-init SEED OUT` writes the parameters the reference code draws under
`torch.manual_seed(SEED)` for the induction shape, under glassbox's parameter names, for
`glassbox program train --task induction --init OUT`.

A from-spec PyTorch implementation of the paper's model (spec `transformer-programs.md` §1:
frozen +/-10 one-hot token table through the sampler, one-hot positions, variable reads,
one-to-one predicates, BOS default `relu(1 - s/(s+1e-10))`, the fixed relative bias, `log(S +
1e-20)`, causal mask, attention logits / sqrt(k), linear classifier over the categorical and
numerical stream) in the induction task's shape (2 layers, 1 categorical head, no MLPs, k = 10).

The initial parameters are drawn as the reference code draws them under `torch.manual_seed(6)`,
the seed of the reference's `scripts/induction.sh`: per layer the key, query, predicate and value
selectors (`randn / sqrt(m)`, predicates `randn / sqrt(k)`), then the classifier
(`randn / sqrt(C)`). The batch is 64 induction sequences from a seeded generator of the task's
definition. For three temperatures the fixture stores the loss (mean over sequences of the mean
token cross-entropy over non-pad targets) and the gradient of every parameter, with noise-free
softmax in place of Gumbel-softmax so that both implementations compute the same numbers.
"""
import json
import random
import sys

import torch
import torch.nn.functional as F

VOCAB = ["<pad>", "0", "1", "2", "3", "<s>", "a", "b", "c", "d"]
CLASSES = ["<pad>", "0", "1", "2", "3", "<unk>"]
K = N = 10
TEMPERATURES = [3.0, 1.0, 0.05]


def induction(rng):
    """`<s>`, four (letter, number) pairs, a random number after `<s>` or a final query letter."""
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
    return [VOCAB.index(t) for t in tokens], [CLASSES.index(t) for t in targets]


def reference_init(seed):
    torch.manual_seed(seed)
    layers = []
    for layer in range(2):
        m = 2 + layer
        key = torch.randn(1, m) / m**0.5
        query = torch.randn(1, m) / m**0.5
        predicate = torch.randn(1, K, K) / K**0.5
        value = torch.randn(1, m) / m**0.5
        layers.append({"query": query, "key": key, "value": value, "predicate": predicate})
    unembed = torch.randn(4 * K + 1, len(CLASSES)) / len(CLASSES) ** 0.5
    return layers, unembed


def relative_bias(n):
    b = torch.zeros(n, n)
    for i in range(n):
        for j in range(n):
            d = j - i
            b[i, j] = -2.0 if d == 0 else (-(d - 1) / (n - 2) if d > 0 else (d + 1) / (n - 1))
    return b


def loss_and_grads(layers, unembed, x, y, tau):
    params = [dict((k, v.clone().requires_grad_(True)) for k, v in l.items()) for l in layers]
    w_u = unembed.clone().requires_grad_(True)
    soft = lambda z, dim=-1: torch.softmax(z / tau, dim)
    b = x.shape[0]
    table = soft(20 * torch.eye(K) - 10, 0)  # [k, V]: column w is token w's one-hot
    stream = [table.T[x], torch.eye(K)[:N].expand(b, N, K)]
    real = (x != 0).float()
    mask = torch.tril((real.unsqueeze(-1) @ real.unsqueeze(-2)).bool())
    bias = relative_bias(N)
    for p in params:
        st = torch.stack(stream, 2)
        read = lambda sel: torch.einsum("m,bnmk->bnk", soft(sel)[0], st)
        q = read(p["query"]) @ soft(p["predicate"][0])
        scores = q @ read(p["key"]).transpose(1, 2)
        matched = scores.masked_fill(~mask, 0).sum(-1)
        scores = scores.clone()
        scores[:, :, 0] += F.relu(1 - matched / (matched + 1e-10))
        logits = ((scores + 1e-20).log() + bias).masked_fill(~mask, -1e30)
        stream.append(soft(logits / K**0.5) @ read(p["value"]))
    logits = torch.cat(stream + [torch.ones(b, N, 1)], -1) @ w_u
    logp = logits.log_softmax(-1).gather(2, y.unsqueeze(-1)).squeeze(-1)
    keep = y != 0
    loss = -((logp * keep).sum(-1) / keep.sum(-1)).mean()
    loss.backward()
    grads = {}
    for i, p in enumerate(params):
        for name, t in p.items():
            grads[f"layer{i}.{name}"] = t.grad.flatten().tolist()
    grads["unembed"] = w_u.grad.flatten().tolist()
    return loss.item(), grads


def write_induction_init(seed, out):
    """The reference's seed-`seed` initialisation, keyed as glassbox's `TransformerProgram`."""
    from safetensors.torch import save_file

    layers, unembed = reference_init(seed)
    tensors = {"unembed": unembed.contiguous()}
    for i, layer in enumerate(layers):
        for name, t in layer.items():
            tensors[f"blocks.{i}.cat_attn.{name}"] = t.contiguous()
    save_file(tensors, out, metadata={"source": f"reference initialisation, torch.manual_seed({seed})"})
    print(f"wrote {out}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "induction-init":
        write_induction_init(int(sys.argv[2]), sys.argv[3])
        return
    if len(sys.argv) != 3 or sys.argv[1] != "gradients":
        sys.exit("usage: programs.py gradients OUT.json | programs.py induction-init SEED OUT.safetensors")
    out = sys.argv[2]
    torch.set_num_threads(1)
    rng = random.Random(2026)
    rows = [induction(rng) for _ in range(64)]
    x = torch.tensor([r[0] for r in rows])
    y = torch.tensor([r[1] for r in rows])
    layers, unembed = reference_init(6)
    fixture = {
        "how": "Gradient parity fixture (see the header of xtask/peers/programs.py), written by "
        + "`programs.py gradients`, torch "
        + torch.__version__ + ", CPU.",
        "vocab": VOCAB,
        "classes": CLASSES,
        "tokens": x.flatten().tolist(),
        "targets": y.flatten().tolist(),
        "init": {
            "layers": [{k: v.flatten().tolist() for k, v in l.items()} for l in layers],
            "unembed": unembed.flatten().tolist(),
        },
        "cases": [],
    }
    for tau in TEMPERATURES:
        loss, grads = loss_and_grads(layers, unembed, x, y, tau)
        fixture["cases"].append({"tau": tau, "loss": loss, "grads": grads})
    with open(out, "w") as f:
        json.dump(fixture, f)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
