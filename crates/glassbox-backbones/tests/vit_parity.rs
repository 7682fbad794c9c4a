//! VisionTransformer against timm: same weights, same input, same logits and block tokens.
//!
//! Fixture from `xtask/peers/backbones.py` (`vit_fixture`): timm's `VisionTransformer` reduced
//! to 32×32 inputs, patch 8, width 16, depth 3, 2 heads, MLP ratio 2, 5 classes, every
//! parameter randomised (σ = 0.3), exported as safetensors. Tolerance 1e-4.

use burn::prelude::*;
use glassbox_backbones::weights::load_pytorch_safetensors;
use glassbox_backbones::{MultiLevelBackbone, VisionTransformerConfig};
use glassbox_core::{Classifier, Error};
use serde_json::Value;

mod common;
use common::{close, floats};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn reduced() -> VisionTransformerConfig {
    VisionTransformerConfig::new()
        .with_image_size(32)
        .with_patch_size(8)
        .with_num_classes(Some(5))
        .with_embed_dim(16)
        .with_depth(3)
        .with_num_heads(2)
        .with_mlp_ratio(2)
}

#[test]
fn vit_matches_timm() {
    let dev = Device::flex();
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/vit_tiny.json")).unwrap(),
    )
    .unwrap();
    let model = load_pytorch_safetensors(
        reduced().init(&dev),
        format!("{FIXTURES}/vit_tiny.safetensors"),
    )
    .unwrap();
    let x = Tensor::<4>::from_data(
        TensorData::new(floats(&fx["input"]["values"]), [2, 3, 32, 32]),
        &dev,
    );
    close(
        "logits",
        model
            .logits(x.clone())
            .into_data()
            .try_into_vec_as()
            .unwrap(),
        floats(&fx["logits"]),
    );
    for (i, (t, want)) in model
        .forward_tokens(x.clone())
        .into_iter()
        .zip(fx["blocks"].as_array().unwrap())
        .enumerate()
    {
        assert_eq!(t.dims(), [2, 17, 16]);
        close(
            &format!("block {i}"),
            t.into_data().try_into_vec_as().unwrap(),
            floats(&want["values"]),
        );
    }
    // Levels: patch tokens as 4×4 maps.
    let levels = model.forward_levels(x);
    assert_eq!(levels.len(), 3);
    assert_eq!(levels[2].dims(), [2, 16, 4, 4]);
    assert_eq!(model.feature_levels()[0].stride, 8);
}

#[test]
fn vit_configs_and_weights_are_checked() {
    let dev = Device::flex();
    assert!(matches!(
        reduced().with_patch_size(7).try_init(&dev),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        reduced().with_num_heads(3).try_init(&dev),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        reduced().with_feature_blocks(Some(vec![3])).try_init(&dev),
        Err(Error::Config(_))
    ));
    let err = load_pytorch_safetensors(
        reduced().with_embed_dim(32).init(&dev),
        format!("{FIXTURES}/vit_tiny.safetensors"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("pos_embed"), "{err}");
    // Default ViT-Tiny/16 shapes.
    let vit = VisionTransformerConfig::new()
        .with_image_size(64)
        .init(&dev);
    let levels = vit.forward_levels(Tensor::zeros([1, 3, 64, 64], &dev));
    assert_eq!(levels.len(), 4);
    assert_eq!(levels[0].dims(), [1, 192, 4, 4]);
    assert_eq!(
        vit.feature_levels()
            .iter()
            .map(|l| l.name.clone())
            .collect::<Vec<_>>(),
        ["blocks.2", "blocks.5", "blocks.8", "blocks.11"]
    );
}
