#!/usr/bin/env python3
"""Reference numbers and timings from Quantus 0.6.0 for glassbox-metrics.

Run through `cargo xtask compare metrics` (which creates .venv-metrics with torch,
quantus==0.6.0 and numpy<2 from PyPI — Quantus 0.6.0 calls np.trapz, gone in numpy 2), or:

    .venv-metrics/bin/python xtask/peers/metrics.py fixtures OUT.json
    .venv-metrics/bin/python xtask/peers/metrics.py timing

`fixtures`: a tiny CNN (conv 1->4, ReLU, conv 4->6, ReLU, global average pool, linear 6->3;
torch's default init under seed 0), six 1x16x16 inputs from randn (seed 1), targets = the
predicted classes, attributions from randn (continuous, so orderings have no ties), centre
square masks (one empty), skimage SLIC segments for IROF, recorded uniform noise for
Max/Avg-Sensitivity (which, like Random Logit, score the input-gradient explanation
"a_grad"), the off-classes Random Logit draws, and every deterministic Quantus
metric's per-sample scores with the parameters used (in "params"). Single channel and
"black"/numeric baselines make every result deterministic (spec §9).

`timing`: Quantus wall time on 256 1x28x28 images with a PyTorch copy of glassbox's
SmallCnn and on 64 3x64x64 images with torchvision's ResNet-18 (random weights, 10 classes):
Pixel-Flipping (~50 steps: 16 features per step on SmallCnn, 256 on ResNet-18), Faithfulness Correlation, Max-Sensitivity, Sparseness. Prints JSON
seconds (median of repeats) and the torch thread count.
"""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("PYTEST", "1")  # silences Quantus' warnings and progress output
import warnings

warnings.filterwarnings("ignore")

import numpy as np
import torch
import torch.nn as nn
import quantus


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(h.mean(dim=(2, 3)))


def gradient_explain(model, inputs, targets, **kwargs):
    """Signed input gradient of the target logit (the explain_func of robustness metrics)."""
    x = torch.tensor(np.asarray(inputs), dtype=torch.float32, requires_grad=True)
    t = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    out = model(x)
    out.gather(1, t[:, None]).sum().backward()
    return x.grad.detach().numpy()


def arr(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "values": a.ravel().tolist()}


def scores(v):
    return [None if (isinstance(s, float) and np.isnan(s)) else float(s)
            for s in np.asarray(v, dtype=np.float64).ravel()]


def fixtures(out):
    torch.manual_seed(0)
    model = Tiny().eval()
    torch.manual_seed(1)
    x = torch.randn(6, 1, 16, 16)
    with torch.no_grad():
        y = model(x).argmax(1).numpy()
    x = x.numpy()
    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 1, 16, 16)).astype(np.float32)
    s = np.zeros((6, 1, 16, 16), dtype=np.float32)
    s[:, :, 4:12, 4:12] = 1.0
    s[5] = 0.0  # an empty mask: NaN in glassbox, a "hit" in Quantus' Pointing Game
    kw = dict(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu")
    res, params = {}, {}

    def run(name, metric, p, **extra):
        params[name] = p
        res[name] = metric(**{**kw, **extra})

    run("pixel_flipping", quantus.PixelFlipping(features_in_step=8, return_auc_per_sample=True),
        {"features_in_step": 8})
    pf_curves = quantus.PixelFlipping(features_in_step=8)(**kw)
    run("region_perturbation", quantus.RegionPerturbation(patch_size=4, regions_evaluation=10),
        {"patch_size": 4, "regions_evaluation": 10})
    run("selectivity", quantus.Selectivity(patch_size=4), {"patch_size": 4})
    run("faithfulness_estimate", quantus.FaithfulnessEstimate(features_in_step=8),
        {"features_in_step": 8})
    run("infidelity", quantus.Infidelity(perturb_patch_sizes=[4], n_perturb_samples=1),
        {"perturb_patch_sizes": [4], "n_perturb_samples": 1})
    run("sensitivity_n", quantus.SensitivityN(features_in_step=8, return_aggregate=False),
        {"features_in_step": 8})
    run("road", quantus.ROAD(percentages=list(range(10, 100, 10)), noise=0.0),
        {"percentages": list(range(10, 100, 10)), "noise": 0.0})
    run("monotonicity", quantus.Monotonicity(features_in_step=8), {"features_in_step": 8})
    run("monotonicity_correlation",
        quantus.MonotonicityCorrelation(nr_samples=2, features_in_step=8, perturb_baseline="black"),
        {"nr_samples": 2, "features_in_step": 8, "perturb_baseline": "black"})
    run("non_sensitivity", quantus.NonSensitivity(features_in_step=1), {"features_in_step": 1})
    run("completeness", quantus.Completeness(), {})
    from skimage.segmentation import slic
    segments = np.stack([slic(np.moveaxis(xi, 0, -1).astype("double"), start_label=0)
                         for xi in x]).astype(np.float32)
    run("irof", quantus.IROF(perturb_baseline=0.0, return_aggregate=False),
        {"perturb_baseline": {"value": 0.0}})
    for name, m in [("pointing_game", quantus.PointingGame()),
                    ("attribution_localisation", quantus.AttributionLocalisation()),
                    ("top_k_intersection", quantus.TopKIntersection(k=20)),
                    ("relevance_rank_accuracy", quantus.RelevanceRankAccuracy()),
                    ("relevance_mass_accuracy", quantus.RelevanceMassAccuracy()),
                    ("auc", quantus.AUC())]:
        run(name, m, {"k": 20} if name == "top_k_intersection" else {}, s_batch=s)
    for name, m in [("sparseness", quantus.Sparseness()), ("complexity", quantus.Complexity()),
                    ("effective_complexity", quantus.EffectiveComplexity())]:
        run(name, m, {})

    # Robustness and Random Logit score the gradient explanation itself.
    a_grad = gradient_explain(model, x, y)
    kw["a_batch"] = a_grad
    # Robustness with recorded noise (Quantus' perturb_func hook).
    n_noise = 4
    noise = rng.uniform(-0.2, 0.2, size=(n_noise, 6, 256)).astype(np.float32)
    for name, cls in [("max_sensitivity", quantus.MaxSensitivity),
                      ("avg_sensitivity", quantus.AvgSensitivity)]:
        counter = iter(range(n_noise))
        m = cls(nr_samples=n_noise, perturb_func=lambda arr, indices, **k: arr + noise[next(counter)])
        run(name, m, {"nr_samples": n_noise}, explain_func=gradient_explain)

    # Random Logit: reproduce its off-class draw so the Rust side can use the same classes.
    np.random.seed(42)
    y_off_idx = np.random.randint(0, 3 - 1, 6)
    others = np.array([[c for c in range(3) if c != t] for t in y])
    off = others[np.arange(6), y_off_idx]
    run("random_logit", quantus.RandomLogit(num_classes=3), {}, explain_func=gradient_explain)

    doc = {
        "_generated_by": "xtask/peers/metrics.py fixtures "
                         f"(torch {torch.__version__}, quantus 0.6.0, numpy {np.__version__})",
        "weights": {k: arr(v.detach().numpy()) for k, v in model.state_dict().items()},
        "x": arr(x), "y": [int(v) for v in y], "a": arr(a), "a_grad": arr(a_grad), "s": arr(s),
        "segments": arr(segments), "noise": arr(noise), "random_logit_off": [int(v) for v in off],
        "pixel_flipping_curves": [scores(c) for c in pf_curves],
        "params": params,
        "quantus": {k: (({str(p): float(v) for p, v in r.items()}) if isinstance(r, dict)
                        else scores(r)) for k, r in res.items()},
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"wrote {out}")


class SmallCnn(nn.Module):
    """glassbox-backbones' SmallCnn: conv-bn-relu 32@28, pool, 2x 64@14, pool, 128@7, GAP, fc."""

    def __init__(self):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())

        self.features = nn.Sequential(block(1, 32), nn.MaxPool2d(2), block(32, 64), block(64, 64),
                                      nn.MaxPool2d(2), block(64, 128))
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def timing():
    torch.set_num_threads(int(os.environ.get("GLASSBOX_THREADS", torch.get_num_threads())))

    def t(fn, repeats=3):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    res = {"torch_threads": torch.get_num_threads()}
    import torchvision
    torch.manual_seed(0)
    cases = [("small_cnn", SmallCnn().eval(), torch.randn(256, 1, 28, 28)),
             ("resnet18", torchvision.models.resnet18(num_classes=10).eval(),
              torch.randn(64, 3, 64, 64))]
    for name, model, x in cases:
        with torch.no_grad():
            y = model(x).argmax(1).numpy()
        a = gradient_explain(model, x.numpy(), y)
        kw = dict(model=model, x_batch=x.numpy(), y_batch=y, a_batch=a, device="cpu")
        # About 50 steps; Quantus needs k to divide H·W (784 -> 16: 49 steps, 4096 -> 256: 48).
        k = 16 if name == "small_cnn" else 256
        res[f"{name}/pixel_flipping_50"] = t(lambda: quantus.PixelFlipping(features_in_step=k)(**kw))
        res[f"{name}/faithfulness_correlation"] = t(lambda: quantus.FaithfulnessCorrelation(
            nr_runs=100, subset_size=224, return_aggregate=False)(**kw))
        res[f"{name}/max_sensitivity_10"] = t(lambda: quantus.MaxSensitivity(nr_samples=10)(
            **kw, explain_func=gradient_explain), repeats=1)
        res[f"{name}/sparseness"] = t(lambda: quantus.Sparseness()(**kw))
    print(json.dumps(res))


if __name__ == "__main__":
    if sys.argv[1:2] == ["fixtures"]:
        fixtures(sys.argv[2])
    elif sys.argv[1:2] == ["timing"]:
        timing()
    else:
        sys.exit(__doc__)
