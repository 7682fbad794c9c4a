//! ResNet against torchvision: same weights, same input, same logits and stage outputs.
//!
//! Fixtures from `xtask/peers/backbones.py` (its docstring says how they were made):
//! reduced-width ResNet-18 and ResNet-50 built from torchvision's own `ResNet._make_layer`,
//! `BasicBlock` and `Bottleneck`, every parameter and BN statistic randomised, exported with
//! `safetensors.torch.save_file(model.state_dict())`. Tolerance 1e-4 (relative + absolute).

use burn::prelude::*;
use glassbox_backbones::weights::load_pytorch_safetensors;
use glassbox_backbones::{MultiLevelBackbone, ResNetConfig, ResNetDepth};
use glassbox_core::{Classifier, Error};
use serde_json::Value;

mod common;
use common::{close, floats};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn reduced(depth: ResNetDepth) -> ResNetConfig {
    ResNetConfig::new(depth)
        .with_num_classes(Some(5))
        .with_widths([4, 8, 16, 32])
        .with_stem_width(8)
}

fn check(depth: ResNetDepth, key: &str) {
    let dev = Device::flex();
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/resnet_tiny.json")).unwrap(),
    )
    .unwrap();
    let model = load_pytorch_safetensors(
        reduced(depth).init(&dev),
        format!("{FIXTURES}/{key}_tiny.safetensors"),
    )
    .unwrap();
    let x = Tensor::<4>::from_data(
        TensorData::new(floats(&fx["input"]["values"]), [2, 3, 32, 32]),
        &dev,
    );
    close(
        &format!("{key} logits"),
        model
            .logits(x.clone())
            .into_data()
            .try_into_vec_as()
            .unwrap(),
        floats(&fx[key]["logits"]),
    );
    let levels = model.forward_levels(x);
    for (i, (t, want)) in levels
        .into_iter()
        .zip(fx[key]["stages"].as_array().unwrap())
        .enumerate()
    {
        let shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(t.dims().to_vec(), shape, "{key} stage{}", i + 1);
        close(
            &format!("{key} stage{}", i + 1),
            t.into_data().try_into_vec_as().unwrap(),
            floats(&want["values"]),
        );
    }
}

#[test]
fn resnet18_matches_torchvision() {
    check(ResNetDepth::ResNet18, "resnet18");
}

#[test]
fn resnet50_matches_torchvision() {
    check(ResNetDepth::ResNet50, "resnet50");
}

#[test]
fn mismatched_weights_are_refused_with_the_keys() {
    let dev = Device::flex();
    // ResNet-50 weights into a ResNet-18: shapes differ, and the error names the tensors.
    let err = load_pytorch_safetensors(
        reduced(ResNetDepth::ResNet18).init(&dev),
        format!("{FIXTURES}/resnet50_tiny.safetensors"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("layer1.0.conv1.weight") && msg.contains("[4, 8, 1, 1]"),
        "{msg}"
    );
    // A model with a different head: fc shape mismatch.
    let err = load_pytorch_safetensors(
        reduced(ResNetDepth::ResNet18)
            .with_num_classes(Some(7))
            .init(&dev),
        format!("{FIXTURES}/resnet18_tiny.safetensors"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("fc"), "{err}");
    // Missing file.
    assert!(matches!(
        load_pytorch_safetensors(
            reduced(ResNetDepth::ResNet18).init(&dev),
            "/nonexistent.safetensors"
        ),
        Err(Error::Io { .. })
    ));
    // A feature extractor (no fc) refuses a checkpoint with a head rather than ignoring it.
    let err = load_pytorch_safetensors(
        reduced(ResNetDepth::ResNet18)
            .with_num_classes(None)
            .init(&dev),
        format!("{FIXTURES}/resnet18_tiny.safetensors"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("fc.weight"), "{err}");
}

#[test]
fn full_size_shapes_and_levels() {
    let dev = Device::flex();
    let m = ResNetConfig::new(ResNetDepth::ResNet18)
        .with_num_classes(Some(10))
        .with_in_channels(1)
        .init(&dev);
    let x = Tensor::<4>::zeros([1, 1, 64, 64], &dev);
    let levels = m.forward_levels(x.clone());
    let described = m.feature_levels();
    for (t, l) in levels.iter().zip(&described) {
        assert_eq!(
            t.dims(),
            [1, l.channels, 64 / l.stride, 64 / l.stride],
            "{}",
            l.name
        );
    }
    assert_eq!(
        described.iter().map(|l| l.channels).collect::<Vec<_>>(),
        vec![64, 128, 256, 512]
    );
    assert_eq!(m.forward(x).dims(), [1, 10]);
    let m50 = ResNetConfig::new(ResNetDepth::ResNet50).init(&dev);
    assert_eq!(m50.feature_levels()[3].channels, 2048);
    assert!(
        ResNetConfig::new(ResNetDepth::ResNet34)
            .with_widths([0, 1, 1, 1])
            .try_init(&dev)
            .is_err()
    );
}
