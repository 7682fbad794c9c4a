#!/usr/bin/env python3
"""Export torchvision's pretrained ResNet weights to a safetensors file glassbox can load.

Run on a machine that can download torchvision weights (glassbox itself never downloads):

    pip install torch torchvision safetensors
    python scripts/export_torchvision.py resnet18 resnet18.safetensors

Then in Rust:

    let model = ResNetConfig::new(ResNetDepth::ResNet18).init(&device);
    let model = glassbox_backbones::weights::load_pytorch_safetensors(model, "resnet18.safetensors")?;

Keys are torchvision's state_dict keys unchanged; glassbox maps them (and refuses files whose
keys or shapes do not match the model, listing them).
"""
import sys

import torchvision
from safetensors.torch import save_file

ARCHS = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights",
         "resnet50": "ResNet50_Weights"}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ARCHS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(ARCHS)}}} OUT.safetensors")
    arch, out = sys.argv[1], sys.argv[2]
    weights = getattr(torchvision.models, ARCHS[arch]).DEFAULT
    model = getattr(torchvision.models, arch)(weights=weights).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    print(f"wrote {out} ({weights})")


if __name__ == "__main__":
    main()
