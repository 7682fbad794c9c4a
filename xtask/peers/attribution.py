#!/usr/bin/env python3
"""Reference numbers and timings from Captum / pytorch-grad-cam for glassbox-attribution.

Run through `cargo xtask compare attribution` (which creates .venv with torch, captum,
grad-cam and numpy from PyPI), or directly:

    .venv/bin/python xtask/peers/attribution.py fixtures OUT.json
    .venv/bin/python xtask/peers/attribution.py deeplift OUT.json
    .venv/bin/python xtask/peers/attribution.py timing

`fixtures` builds a tiny CNN (conv 1->4, ReLU, conv 4->6, ReLU, global average pool,
linear 6->3) with torch's default init under seed 0, four 1x8x8 inputs from randn, and writes
its weights, the inputs and Captum's attributions to OUT.json; the Rust test
`captum_fixtures.rs` rebuilds the same network with burn ops and compares.

`deeplift` does the same for Captum's DeepLift on a three-layer conv-ReLU network (seed 1),
against zeros and against a random reference; the Rust test is `captum_deeplift.rs`.

`timing` times Captum on a PyTorch copy of SmallCnn (same layers as glassbox's) for 8 inputs
of 1x28x28, and on torchvision's ResNet-18 (10 classes) for 4 inputs of 3x64x64, and prints
JSON seconds per call (median of repeats). Needs torchvision for the ResNet part.
"""
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import captum
from captum.attr import (DeepLift, IntegratedGradients, InputXGradient, LayerGradCam,
                         NoiseTunnel, Occlusion, Saliency)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.fc = nn.Linear(6, 3)
        self.act2 = nn.ReLU()  # a module, so Grad-CAM can hook the post-ReLU feature map

    def features(self, x):
        return self.act2(self.conv2(torch.relu(self.conv1(x))))

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def tolist(t):
    return t.detach().cpu().numpy().astype(np.float64).ravel().tolist()


def fixture_header(command, model, x, target):
    """What every fixture starts with: its generator and versions, the weights, the inputs and
    the targets."""
    return {
        "_generated_by": f"xtask/peers/attribution.py {command} "
                         f"(torch {torch.__version__}, captum {captum.__version__})",
        "weights": {k: {"shape": list(v.shape), "values": tolist(v)}
                    for k, v in model.state_dict().items()},
        "input": {"shape": list(x.shape), "values": tolist(x)},
        "target": target,
    }


def fixtures(out):
    torch.manual_seed(0)
    model = Tiny().eval()
    x = torch.randn(4, 1, 8, 8)
    target = [0, 1, 2, 0]
    res = fixture_header("fixtures", model, x, target)
    res["logits"] = tolist(model(x))
    res["saliency_abs"] = tolist(Saliency(model).attribute(x, target=target, abs=True))
    res["saliency_signed"] = tolist(Saliency(model).attribute(x, target=target, abs=False))
    res["input_x_gradient"] = tolist(InputXGradient(model).attribute(x, target=target))
    ig = IntegratedGradients(model)
    a, d = ig.attribute(x, target=target, n_steps=50, method="gausslegendre",
                        return_convergence_delta=True)
    res["ig_gausslegendre_50"] = tolist(a)
    res["ig_gausslegendre_50_delta"] = tolist(d)
    a = ig.attribute(x, target=target, n_steps=20, method="riemann_trapezoid")
    res["ig_trapezoid_20"] = tolist(a)
    a = ig.attribute(x, target=target, n_steps=20, method="riemann_left",
                     baselines=0.5)
    res["ig_left_20_baseline_0.5"] = tolist(a)
    occ = Occlusion(model).attribute(x, target=target, sliding_window_shapes=(1, 4, 4),
                                     strides=(1, 2, 2), baselines=0.0)
    res["occlusion_4x4_s2"] = tolist(occ)
    gc = LayerGradCam(model, model.act2).attribute(x, target=target, relu_attributions=True)
    res["grad_cam_relu2"] = tolist(gc)
    try:
        from pytorch_grad_cam import GradCAMPlusPlus
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        with GradCAMPlusPlus(model=model, target_layers=[model.act2]) as cam:
            maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(t) for t in target])
        res["grad_cam_pp_normalised"] = np.asarray(maps, dtype=np.float64).ravel().tolist()
    except ImportError:
        pass
    with open(out, "w") as f:
        json.dump(res, f)
    print(f"wrote {out}")


class ReluNet(nn.Module):
    """DeepLift's test network: three conv-ReLU layers, every ReLU its own module (Captum
    hooks modules, each used once), global average pooling, linear. No max-pooling: Captum
    0.9.0's max-pool rule is not what DeepLift specifies (see `captum_deeplift.rs`)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(6, 5, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(self.relu3(self.conv3(x)).mean(dim=(2, 3)))


def deeplift_fixtures(out):
    torch.manual_seed(1)
    model = ReluNet().eval()
    x = torch.randn(4, 1, 8, 8)
    reference = 0.5 * torch.randn(1, 1, 8, 8)
    target = [0, 1, 2, 0]
    res = fixture_header("deeplift", model, x, target)
    res["reference"] = {"shape": list(reference.shape), "values": tolist(reference)}
    dl = DeepLift(model)
    a, d = dl.attribute(x, target=target, return_convergence_delta=True)
    res["deeplift_zeros"] = tolist(a)
    res["deeplift_zeros_delta"] = tolist(d)
    a, d = dl.attribute(x, baselines=reference.expand_as(x), target=target,
                        return_convergence_delta=True)
    res["deeplift_reference"] = tolist(a)
    res["deeplift_reference_delta"] = tolist(d)
    with open(out, "w") as f:
        json.dump(res, f)
    print(f"wrote {out}")


class SmallCnn(nn.Module):
    """glassbox-backbones' SmallCnn: [32, 64, 128] widths, conv-BN-ReLU blocks."""

    def __init__(self):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o),
                                 nn.ReLU())
        self.stage1 = block(1, 32)
        self.stage2 = nn.Sequential(block(32, 64), block(64, 64))
        self.stage3 = block(64, 128)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(self.stage1(x))
        x = self.pool(self.stage2(x))
        x = self.stage3(x)
        return self.fc(x.mean(dim=(2, 3)))


def separate_pools(model):
    """`model` with its shared max-pool replaced by one module per use (for Captum's DeepLift)."""
    import copy
    twin = copy.deepcopy(model)
    twin.pool2 = nn.MaxPool2d(2)
    twin.forward = lambda x: twin.fc(twin.stage3(twin.pool2(twin.stage2(
        twin.pool(twin.stage1(x))))).mean(dim=(2, 3)))
    return twin


def timing():
    torch.manual_seed(0)
    model = SmallCnn().eval()
    x = torch.randn(8, 1, 28, 28)
    target = model(x).argmax(1)

    def t(fn, repeats=5):
        fn()
        times = []
        for _ in range(repeats):
            s = time.perf_counter()
            fn()
            times.append(time.perf_counter() - s)
        return statistics.median(times)

    res = {
        "torch_threads": torch.get_num_threads(),
        "saliency": t(lambda: Saliency(model).attribute(x, target=target)),
        "integrated_gradients_50": t(lambda: IntegratedGradients(model).attribute(
            x, target=target, n_steps=50)),
        "smoothgrad_50": t(lambda: NoiseTunnel(Saliency(model)).attribute(
            x, target=target, nt_type="smoothgrad", nt_samples=50, stdevs=0.15, abs=False)),
        "occlusion_4x4_s2": t(lambda: Occlusion(model).attribute(
            x, target=target, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2))),
        "grad_cam": t(lambda: LayerGradCam(model, model.stage3).attribute(x, target=target)),
        # Captum hooks modules and needs each used once: the same network with one pooling
        # module per use (same weights, same work).
        "deep_lift": t(lambda: DeepLift(separate_pools(model)).attribute(x, target=target)),
    }
    import torchvision
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=10).eval()
    xr = torch.randn(4, 3, 64, 64)
    tr = resnet(xr).argmax(1)
    res["resnet18/integrated_gradients_50"] = t(lambda: IntegratedGradients(resnet).attribute(
        xr, target=tr, n_steps=50), repeats=3)
    res["resnet18/smoothgrad_50"] = t(lambda: NoiseTunnel(Saliency(resnet)).attribute(
        xr, target=tr, nt_type="smoothgrad", nt_samples=50, stdevs=0.15, abs=False), repeats=3)
    res["resnet18/occlusion_8x8_s4"] = t(lambda: Occlusion(resnet).attribute(
        xr, target=tr, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4)), repeats=3)
    res["resnet18/grad_cam"] = t(lambda: LayerGradCam(resnet, resnet.layer4).attribute(
        xr, target=tr), repeats=3)
    print(json.dumps(res))


if __name__ == "__main__":
    if sys.argv[1] == "fixtures":
        fixtures(sys.argv[2])
    elif sys.argv[1] == "deeplift":
        deeplift_fixtures(sys.argv[2])
    else:
        timing()
