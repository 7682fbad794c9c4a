#!/usr/bin/env python3
"""PyTorch counterpart of examples/conv_gap.rs: ResNet-18's 3x3 conv shapes at 64x64, batch 16,
forward and forward+backward (input and weight gradients), median of 9; prints JSON seconds."""
import json
import statistics
import time

import torch
import torch.nn.functional as F


def median(f, repeats=9):
    f()
    ts = []
    for _ in range(repeats):
        s = time.perf_counter()
        f()
        ts.append(time.perf_counter() - s)
    return statistics.median(ts)


def main():
    res = {"torch_threads": torch.get_num_threads()}
    for c, s in [(64, 16), (128, 8), (256, 4), (512, 2)]:
        x = torch.randn(16, c, s, s)
        w = torch.randn(c, c, 3, 3) * 0.05
        with torch.no_grad():
            res[f"conv3x3_c{c}_s{s}/forward"] = median(lambda: F.conv2d(x, w, padding=1))
        xa = x.clone().requires_grad_()
        wa = w.clone().requires_grad_()

        def fb():
            xa.grad = None
            wa.grad = None
            F.conv2d(xa, wa, padding=1).sum().backward()
        res[f"conv3x3_c{c}_s{s}/fwd_bwd"] = median(fb)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
