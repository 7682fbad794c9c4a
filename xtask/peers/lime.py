#!/usr/bin/env python3
"""Reference SLIC superpixels (scikit-image) and weighted Lasso fits (scikit-learn, the
surrogate Captum's `Lime` trains by default) for glassbox-attribution's LIME.

Run through `cargo xtask compare attribution` (which installs scikit-image into .venv from
PyPI; scikit-learn comes with it via the other peers), or directly:

    .venv/bin/python xtask/peers/lime.py OUT.json

Everything is drawn from numpy's default_rng(2) and rounded to four decimals (both sides read
the same values):
* `slic`: `skimage.segmentation.slic` labels (shifted to start at 0) of smooth random images
  (grey 28 x 28 and 64 x 64 with channel_axis=None, a 2-channel 20 x 24 image) for several
  (n_segments, compactness), other arguments at their defaults;
* `lasso`: `sklearn.linear_model.Lasso(alpha, tol=1e-12, max_iter=10**6)` fitted with
  `sample_weight` on binary designs (LIME's interpretable inputs: on/off per feature) with
  positive weights: coefficients and intercept.
"""
import json
import sys

import numpy as np
from scipy import ndimage
from skimage.segmentation import slic
from sklearn.linear_model import Lasso

rng = np.random.default_rng(2)


def smooth_image(c, h, w):
    img = ndimage.gaussian_filter(rng.random((c, h, w)), [0, 1.5, 1.5])
    return np.round(4 * img + 0.1 * rng.random((c, h, w)), 4)


slic_cases = []
for c, h, w in [(1, 28, 28), (1, 64, 64), (2, 20, 24)]:
    img = smooth_image(c, h, w)
    cases = []
    for n_segments, compactness in [(80, 10.0), (100, 10.0), (25, 1.0), (200, 30.0)]:
        if c == 1:
            labels = slic(img[0], n_segments=n_segments, compactness=compactness, channel_axis=None)
        else:
            labels = slic(
                img.transpose(1, 2, 0), n_segments=n_segments, compactness=compactness, channel_axis=-1
            )
        cases.append(
            {
                "segments": n_segments,
                "compactness": compactness,
                "labels": (labels.ravel() - labels.min()).tolist(),
            }
        )
    slic_cases.append({"image": img.tolist(), "cases": cases})

lasso_cases = []
for n, p, alpha in [(25, 12, 0.01), (60, 20, 0.05), (20, 30, 0.01), (40, 8, 0.0005)]:
    x = (rng.random((n, p)) < 0.5).astype(np.float64)
    true = np.round(rng.normal(size=p) * (rng.random(p) < 0.6), 4)
    y = np.round(x @ true + 0.3 + 0.05 * rng.normal(size=n), 4)
    weight = np.round(rng.random(n) + 0.05, 4)
    model = Lasso(alpha=alpha, tol=1e-12, max_iter=10**6).fit(x, y, sample_weight=weight)
    lasso_cases.append(
        {
            "x": x.tolist(),
            "y": y.tolist(),
            "weight": weight.tolist(),
            "alpha": alpha,
            "coef": model.coef_.tolist(),
            "intercept": float(model.intercept_),
        }
    )

json.dump(
    {
        "generator": "xtask/peers/lime.py (skimage.segmentation.slic 0.26, sklearn Lasso 1.9)",
        "slic": slic_cases,
        "lasso": lasso_cases,
    },
    open(sys.argv[1], "w"),
    separators=(",", ":"),
)
