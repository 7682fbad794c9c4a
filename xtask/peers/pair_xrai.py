#!/usr/bin/env python3
"""Reference XRAI numbers from PAIR's `saliency` package (the method's reference code) and
Felzenszwalb segmentations from scikit-image (which XRAI segments with).

Run through `cargo xtask compare attribution` (which installs `saliency` and `scikit-image`
into .venv from PyPI), or directly:

    .venv/bin/python xtask/peers/pair_xrai.py OUT.json

Everything is drawn from numpy's default_rng(1):
* `felzenszwalb`: `skimage.segmentation.felzenszwalb` labels of smooth random images (grey
  and 3-channel, a few sizes) for several (scale, sigma, min_size);
* `segments`: saliency's `_get_segments_felzenszwalb(image, resize_image=False)` — the
  six-scale segmentation, value normalisation to [-1, 1] and disk dilation that XRAI uses,
  without the resize to 224 x 224 (skimage's cubic-spline resize is not reproduced);
* `ranking`: `XRAI.GetMaskWithDetails` given a base attribution (2 channels, max-merged)
  and 25 random rectangles as segments (so the model is not called), for several area thresholds and min_pixel_diff values: the saliency map and
  the integer region ranks (the map is constant on each region, so it is stored as one value
  per rank);
* `full`: the whole method on a closed-form model f_k(x) = <W_k, x> + 0.5 <V_k, x>^2 over
  1 x 32 x 34 inputs (its gradient W_k + <V_k, x> V_k), default baselines (each input's min
  and max), 20 IG steps, segments as above, default area threshold and min_pixel_diff.
Images go to saliency as H x W x C and come back transposed; masks are stored as flat 0/1
strings in row-major order.
"""
import json
import sys

import numpy as np
from scipy import ndimage
import saliency.core as saliency
from saliency.core.xrai import XRAI, XRAIParameters, _get_segments_felzenszwalb
from skimage.segmentation import felzenszwalb

rng = np.random.default_rng(1)


def smooth_image(c, h, w, contrast):
    img = ndimage.gaussian_filter(rng.random((c, h, w)), [0, 1.5, 1.5])
    # Four decimals keep the fixture small; both sides read the same rounded values.
    return np.round(contrast * img + 0.1 * rng.random((c, h, w)), 4)


def by_rank(out):
    """The saliency map is constant on each ranked region: store one value per rank."""
    ranks = out.segments.ravel()
    sal = out.attribution_mask.ravel()
    values = [float(f"{sal[ranks == r][0]:.9g}") for r in range(1, ranks.max() + 1)]
    assert all(np.allclose(sal[ranks == r], v) for r, v in zip(range(1, ranks.max() + 1), values))
    return {"ranks": ranks.tolist(), "rank_values": values}


def bits(mask):
    return "".join("1" if b else "0" for b in mask.ravel())


felz = []
for c, h, w, contrast in [(1, 24, 20, 4.0), (3, 19, 23, 4.0), (1, 30, 30, 1.0)]:
    img = smooth_image(c, h, w, contrast)
    hwc = img.transpose(1, 2, 0)
    cases = []
    for scale, sigma, min_size in [(5, 0.8, 10), (20, 0.5, 40), (50, 1.2, 5), (1, 0.8, 1)]:
        labels = felzenszwalb(hwc, scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1)
        cases.append(
            {"scale": scale, "sigma": sigma, "min_size": min_size, "labels": labels.ravel().tolist()}
        )
    felz.append({"image": img.tolist(), "cases": cases})

segments = []
for c, h, w in [(1, 40, 44), (3, 36, 36)]:
    img = smooth_image(c, h, w, 4.0)
    masks = _get_segments_felzenszwalb(img.transpose(1, 2, 0), resize_image=False)
    segments.append({"image": img.tolist(), "masks": [bits(m) for m in masks]})

ranking = []
h, w = 30, 28
for case in range(3):
    attr = np.round(rng.normal(size=(h, w, 2)), 4)
    # Any boolean masks are valid XRAI segments: random overlapping rectangles.
    masks = []
    for _ in range(25):
        y0, x0 = rng.integers(0, h - 3), rng.integers(0, w - 3)
        y1, x1 = y0 + rng.integers(3, h // 2), x0 + rng.integers(3, w // 2)
        m = np.zeros((h, w), dtype=bool)
        m[y0:y1, x0:x1] = True
        masks.append(m)
    cases = []
    for area, min_diff in [(1.0, 50), (0.3, 50), (1.0, 1), (0.6, 20)]:
        p = XRAIParameters(area_threshold=area, return_xrai_segments=True)
        p.experimental_params["min_pixel_diff"] = min_diff
        out = XRAI().GetMaskWithDetails(
            np.zeros((h, w, 2)), None, segments=masks, base_attribution=attr, extra_parameters=p
        )
        cases.append(
            {"area_threshold": area, "min_pixel_diff": min_diff, **by_rank(out)}
        )
    ranking.append(
        {
            "attribution": attr.transpose(2, 0, 1).tolist(),
            "masks": [bits(m) for m in masks],
            "cases": cases,
        }
    )

C, H, W, K = 1, 32, 34, 3
Wk = np.round(rng.normal(size=(K, C, H, W)) * 0.5, 4)
Vk = np.round(rng.normal(size=(K, C, H, W)) * 0.05, 4)
inputs = np.round(np.stack([smooth_image(C, H, W, 3.0) - 1.0 for _ in range(2)]), 4)
targets = [1, 2]


def call_model(target):
    def f(batch_hwc, call_model_args=None, expected_keys=None):
        grads = []
        for x in batch_hwc:
            chw = x.transpose(2, 0, 1)
            grads.append((Wk[target] + (Vk[target] * chw).sum() * Vk[target]).transpose(1, 2, 0))
        return {saliency.INPUT_OUTPUT_GRADIENTS: np.stack(grads, 0)}

    return f


full = []
for x, t in zip(inputs, targets):
    hwc = x.transpose(1, 2, 0)
    masks = _get_segments_felzenszwalb(hwc, resize_image=False)
    p = XRAIParameters(steps=20, return_xrai_segments=True)
    out = XRAI().GetMaskWithDetails(hwc, call_model(t), segments=masks, extra_parameters=p)
    full.append(by_rank(out))

json.dump(
    {
        "generator": "xtask/peers/pair_xrai.py (saliency.core.XRAI 0.2.1, skimage felzenszwalb)",
        "felzenszwalb": felz,
        "segments": segments,
        "ranking": ranking,
        "full": {
            "shape": [C, H, W],
            "W": Wk.tolist(),
            "V": Vk.tolist(),
            "inputs": inputs.tolist(),
            "targets": targets,
            "steps": 20,
            "results": full,
        },
    },
    open(sys.argv[1], "w"),
    separators=(",", ":"),
)
