#!/usr/bin/env python3
"""Reference Blur IG and Guided IG numbers from PAIR's `saliency` package (the methods'
reference code).

Run through `cargo xtask compare attribution` (which installs `saliency` and
`scikit-image` into .venv from PyPI), or directly:

    .venv/bin/python xtask/peers/pair_saliency.py BLUR_OUT.json GUIDED_OUT.json

The model is closed-form so the Rust test can rebuild it exactly: for inputs x of 2x6x7
(C x H x W) and K = 3 classes, f_k(x) = <W_k, x> + 0.5 * <V_k, x>^2, whose input gradient is
W_k + <V_k, x> V_k. W, V and two inputs come from numpy's default_rng(0). saliency's
`BlurIG.GetMask` is called per input (it takes H x W x C images, so we transpose in and out)
with the parameters of each case; the fixture stores W, V, the inputs (C x H x W), the
targets, each case's parameters and attributions, and scipy's Gaussian blur of the first input
at a few scales (the blur Blur IG is built on). The Guided IG fixture uses the same model and
inputs with `saliency.core.GuidedIG.GetMask` for the defaults (200 steps, fraction 0.25,
max_dist 0.02, zero baseline), the Affinity Explainer paper's setting (25 steps, fraction 0.5,
max_dist 1.0) and a constant baseline of 0.3.
"""
import json
import sys

import numpy as np
from scipy import ndimage
import saliency.core as saliency

# saliency 0.2.1's Guided IG calls np.quantile(..., interpolation=...), a keyword numpy 2
# renamed to `method`; forward it so the reference runs unchanged on either numpy.
_quantile = np.quantile


def _quantile_compat(a, q, *args, interpolation=None, **kwargs):
    if interpolation is not None:
        kwargs["method"] = interpolation
    return _quantile(a, q, *args, **kwargs)


np.quantile = _quantile_compat

C, H, W, K = 2, 6, 7, 3
rng = np.random.default_rng(0)
Wk = rng.normal(size=(K, C, H, W)).astype(np.float64) * 0.5
Vk = rng.normal(size=(K, C, H, W)).astype(np.float64) * 0.2
inputs = rng.normal(size=(2, C, H, W))
targets = [2, 0]


def gradient(x_chw, k):
    return Wk[k] + (Vk[k] * x_chw).sum() * Vk[k]


def call_model(target):
    def f(batch_hwc, call_model_args=None, expected_keys=None):
        grads = [gradient(x.transpose(2, 0, 1), target).transpose(1, 2, 0) for x in batch_hwc]
        return {saliency.INPUT_OUTPUT_GRADIENTS: np.stack(grads, 0)}

    return f


cases = [
    {"max_sigma": 3.0, "steps": 30, "grad_step": 0.01, "sqrt": False},
    {"max_sigma": 50.0, "steps": 100, "grad_step": 0.01, "sqrt": False},
    {"max_sigma": 2.0, "steps": 20, "grad_step": 0.02, "sqrt": True},
]
out_cases = []
for case in cases:
    maps = []
    for x, t in zip(inputs, targets):
        # batch_size=1: the reference weights a whole batch by its last step's width, which
        # only differs for sqrt spacing; one step per batch is the method as published.
        m = saliency.BlurIG().GetMask(
            x.transpose(1, 2, 0), call_model(t), batch_size=1, **case
        )
        maps.append(m.transpose(2, 0, 1).tolist())
    out_cases.append({**case, "attribution": maps})

blurs = []
for sigma in [0.5, 1.3, 4.0]:
    b = ndimage.gaussian_filter(inputs[0], sigma=[0, sigma, sigma], mode="constant")
    blurs.append({"sigma": sigma, "blurred": b.tolist()})

json.dump(
    {
        "generator": "xtask/peers/pair_saliency.py (saliency.core.BlurIG, scipy.ndimage)",
        "shape": [C, H, W],
        "W": Wk.tolist(),
        "V": Vk.tolist(),
        "inputs": inputs.tolist(),
        "targets": targets,
        "cases": out_cases,
        "blurs": blurs,
    },
    open(sys.argv[1], "w"),
)


guided_cases = [
    {"steps": 200, "fraction": 0.25, "max_dist": 0.02, "baseline": 0.0},
    {"steps": 25, "fraction": 0.5, "max_dist": 1.0, "baseline": 0.0},
    {"steps": 40, "fraction": 0.1, "max_dist": 0.1, "baseline": 0.3},
]
out_guided = []
for case in guided_cases:
    maps = []
    for x, t in zip(inputs, targets):
        hwc = x.transpose(1, 2, 0)
        m = saliency.GuidedIG().GetMask(
            hwc,
            call_model(t),
            x_baseline=np.full_like(hwc, case["baseline"]),
            x_steps=case["steps"],
            fraction=case["fraction"],
            max_dist=case["max_dist"],
        )
        maps.append(m.transpose(2, 0, 1).tolist())
    out_guided.append({**case, "attribution": maps})

json.dump(
    {
        "generator": "xtask/peers/pair_saliency.py (saliency.core.GuidedIG)",
        "shape": [C, H, W],
        "W": Wk.tolist(),
        "V": Vk.tolist(),
        "inputs": inputs.tolist(),
        "targets": targets,
        "cases": out_guided,
    },
    open(sys.argv[2], "w"),
)
