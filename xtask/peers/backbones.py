#!/usr/bin/env python3
"""Parity fixtures for glassbox-backbones' ResNet, built from torchvision's own classes.

    .venv/bin/python xtask/peers/backbones.py fixtures crates/glassbox-backbones/tests/fixtures

Builds reduced-width ResNet-18 (BasicBlock x [2,2,2,2]) and ResNet-50 (Bottleneck x
[3,4,6,3]) with torchvision's `ResNet._make_layer`, `BasicBlock` and `Bottleneck` (stem width
8, stage widths [4, 8, 16, 32], 3 input channels, 5 classes), randomises every parameter and
batch-norm running statistic under seed 0 (torchvision's own init leaves BN at identity, which
would hide mistakes), and writes for each: the state dict as safetensors (the file format
users export) and, in one JSON, a 2x3x32x32 randn input with the eval-mode logits and the four
stage outputs (layer1..layer4).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision
from safetensors.torch import save_file
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet


class ReducedResNet(ResNet):
    """torchvision's ResNet with configurable widths (its constructor hard-codes 64..512)."""

    def __init__(self, block, layers, widths, stem, num_classes, in_channels):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = stem, 1, 1, 64
        self.conv1 = nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)


def values(t):
    return t.detach().double().ravel().tolist()


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    report = {
        "_generated_by": f"xtask/peers/backbones.py (torch {torch.__version__}, "
                         f"torchvision {torchvision.__version__}); see its docstring",
        "input": {"shape": list(x.shape), "values": values(x)},
    }
    for name, block, layers in [("resnet18", BasicBlock, [2, 2, 2, 2]),
                                ("resnet50", Bottleneck, [3, 4, 6, 3])]:
        m = ReducedResNet(block, layers, [4, 8, 16, 32], 8, 5, 3)
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, nn.BatchNorm2d):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.2, 0.2)
                    mod.running_mean.uniform_(-0.2, 0.2)
                    mod.running_var.uniform_(0.5, 1.5)
        m.eval()
        save_file({k: v.contiguous() for k, v in m.state_dict().items()},
                  os.path.join(out_dir, f"{name}_tiny.safetensors"))
        with torch.no_grad():
            h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
            stages = []
            for layer in [m.layer1, m.layer2, m.layer3, m.layer4]:
                h = layer(h)
                stages.append({"shape": list(h.shape), "values": values(h)})
            report[name] = {"logits": values(m(x)), "stages": stages}
    with open(os.path.join(out_dir, "resnet_tiny.json"), "w") as f:
        json.dump(report, f)
    vit_fixture(out_dir)
    print(f"wrote fixtures to {out_dir}")


def vit_fixture(out_dir):
    """timm's VisionTransformer, reduced: 32x32 input, patch 8, width 16, depth 3, 2 heads,
    MLP ratio 2, 5 classes; every parameter (LayerNorms included) randomised under seed 1."""
    import timm
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(1)
    m = VisionTransformer(img_size=32, patch_size=8, in_chans=3, num_classes=5, embed_dim=16,
                          depth=3, num_heads=2, mlp_ratio=2.0).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    x = torch.randn(2, 3, 32, 32)
    save_file({k: v.contiguous() for k, v in m.state_dict().items()},
              os.path.join(out_dir, "vit_tiny.safetensors"))
    with torch.no_grad():
        h = m._pos_embed(m.patch_embed(x))
        blocks = []
        for blk in m.blocks:
            h = blk(h)
            blocks.append({"shape": list(h.shape), "values": values(h)})
        logits = m(x)
    report = {
        "_generated_by": f"xtask/peers/backbones.py (torch {torch.__version__}, timm "
                         f"{timm.__version__}); see vit_fixture's docstring",
        "input": {"shape": list(x.shape), "values": values(x)},
        "logits": values(logits),
        "blocks": blocks,
    }
    with open(os.path.join(out_dir, "vit_tiny.json"), "w") as f:
        json.dump(report, f)


def timing():
    """Same models, batches and thread count as examples/backbone_timing.rs, in PyTorch."""
    import statistics
    import time
    sys.path.insert(0, os.path.dirname(__file__))
    from attribution import SmallCnn

    def median(f, repeats=7):
        f()
        ts = []
        for _ in range(repeats):
            s = time.perf_counter()
            f()
            ts.append(time.perf_counter() - s)
        return statistics.median(ts)

    res = {"torch_threads": torch.get_num_threads()}
    torch.manual_seed(0)
    for name, model, shape in [("small_cnn_b64_28", SmallCnn(), (64, 1, 28, 28)),
                               ("resnet18_b16_64", torchvision.models.resnet18(num_classes=10),
                                (16, 3, 64, 64))]:
        x = torch.randn(*shape)
        y = torch.ones(shape[0], dtype=torch.long)
        model.eval()
        with torch.no_grad():
            res[f"{name}/forward"] = median(lambda: model(x))
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        res[f"{name}/train_step"] = median(step)
    print(json.dumps(res))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "timing":
        timing()
    else:
        main(sys.argv[2] if len(sys.argv) > 2 else "crates/glassbox-backbones/tests/fixtures")
