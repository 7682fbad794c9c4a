//! DeepLift against Captum, closed-form max-pooling cases, and summation-to-delta on the
//! glassbox backbones.
//!
//! `fixtures/captum_deeplift.json` was written by `cargo xtask compare attribution`
//! (`xtask/peers/attribution.py deeplift`, versions in its `_generated_by` field): a network of
//! three 3×3 conv + ReLU layers (1→4→6→5 channels), global average pooling and a linear 5→3
//! layer, torch's default initialisation under seed 1; four 1×8×8 `randn` inputs, targets
//! [0, 1, 2, 0], a `0.5·randn` 1×1×8×8 reference; Captum's `DeepLift` against zeros and
//! against that reference. Tolerance: 1e-4 relative + absolute.
//!
//! The fixture has no max-pooling because Captum 0.9.0's max-pool rule is not DeepLift's:
//! where the input change is zero it falls back to the gradient of the batch's *first* sample
//! (captum#1276), it routes overlapping windows with `max_unpool`, which overwrites instead of
//! adding, and a ReLU feeding a max-pool records the pool's plain gradient before the pool's
//! hook rewrites it, so the rule has no effect there. Its attributions then miss
//! summation-to-delta by up to 2e-2 on small conv-ReLU-pool networks. Ours is checked by hand
//! below and by summation-to-delta, which it meets to float precision.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use glassbox_attribution::{Baseline, DeepLift};
use glassbox_backbones::{ResNetConfig, ResNetDepth, SmallCnnConfig};
use glassbox_core::rescale;
use glassbox_core::{Classifier, Target};
use serde_json::Value;

mod common;
use common::{assert_close, floats, per_sample_target, tensor, values};

const FIXTURE: &str = include_str!("fixtures/captum_deeplift.json");

struct ReluNet {
    convs: Vec<(Tensor<4>, Tensor<1>)>,
    fw: Tensor<2>,
    fb: Tensor<1>,
}

impl Classifier for ReluNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let same = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let h = self.convs.iter().fold(x, |h, (w, b)| {
            rescale::relu(conv2d(h, w.clone(), Some(b.clone()), same()))
        });
        let pooled = h.mean_dims(&[2, 3]).flatten::<2>(1, 3);
        pooled.matmul(self.fw.clone().transpose()) + self.fb.clone().unsqueeze_dim::<2>(0)
    }
}

#[test]
fn deep_lift_matches_captum_on_a_relu_network() {
    let dev = Device::flex();
    let fx: Value = serde_json::from_str(FIXTURE).unwrap();
    let w = &fx["weights"];
    let conv = |i: usize| {
        (
            tensor::<4>(&w[format!("conv{i}.weight")], &dev),
            tensor::<1>(&w[format!("conv{i}.bias")], &dev),
        )
    };
    let model = ReluNet {
        convs: vec![conv(1), conv(2), conv(3)],
        fw: tensor(&w["fc.weight"], &dev),
        fb: tensor(&w["fc.bias"], &dev),
    };
    let x = tensor::<4>(&fx["input"], &dev);
    let target = per_sample_target(&fx["target"]);
    let zeros = DeepLift::default()
        .attribute(&model, x.clone(), &target)
        .unwrap();
    assert_close(
        "zeros",
        values(zeros.relevance),
        floats(&fx["deeplift_zeros"]),
        1e-4,
    );
    let reference = tensor::<4>(&fx["reference"], &dev);
    let against = DeepLift::default()
        .with_baseline(Baseline::Tensor(Box::new(reference)))
        .attribute_with_delta(&model, x, &target)
        .unwrap();
    assert_close(
        "reference",
        values(against.attribution.relevance),
        floats(&fx["deeplift_reference"]),
        1e-4,
    );
    // Captum's convergence deltas are ~1e-8 here; so must ours be, up to f32 rounding.
    assert_close(
        "delta",
        against.delta,
        floats(&fx["deeplift_reference_delta"]),
        1e-5,
    );
}

/// A single max-pool summed into one logit (and its negation as a second class).
fn pool_model(options: MaxPoolOptions<2>) -> impl Fn(Tensor<4>) -> Tensor<2> {
    move |x: Tensor<4>| {
        let s = rescale::max_pool2d(x, options.clone())
            .flatten::<2>(1, 3)
            .sum_dim(1);
        Tensor::cat(vec![s.clone(), -s], 1)
    }
}

/// DeepLift of [`pool_model`] on `x` against `x0`, both shaped `shape`.
fn deep_lift_pool(
    options: MaxPoolOptions<2>,
    x: &[f32],
    x0: &[f32],
    shape: [usize; 4],
) -> Vec<f32> {
    let dev = Device::flex();
    let input = Tensor::<1>::from_floats(x, &dev).reshape(shape);
    let reference = Tensor::<1>::from_floats(x0, &dev).reshape(shape);
    let a = DeepLift::default()
        .with_baseline(Baseline::Tensor(Box::new(reference)))
        .attribute(&pool_model(options), input, &Target::Class(0))
        .unwrap();
    values(a.relevance)
}

#[test]
fn max_pool_rule_by_hand() {
    let window = MaxPoolOptions::new([2, 2]).with_stride([2, 2]);
    // The output falls from the reference's 4 to 3: the change goes to the reference's arg-max
    // (position 0, Δx = −3), whose multiplier is −1 / −3.
    let a = deep_lift_pool(
        window.clone(),
        &[1.0, 3.0, 2.0, 0.0],
        &[4.0, 0.0, 0.0, 0.0],
        [1, 1, 2, 2],
    );
    assert_close("falling", a, vec![-1.0, 0.0, 0.0, 0.0], 1e-6);
    // It rises from 4 to 5: the change goes to the input's arg-max (position 1, Δx = 5).
    let a = deep_lift_pool(
        window,
        &[1.0, 5.0, 2.0, 0.0],
        &[4.0, 0.0, 0.0, 0.0],
        [1, 1, 2, 2],
    );
    assert_close("rising", a, vec![0.0, 1.0, 0.0, 0.0], 1e-6);
    // Overlapping windows (1×2, stride 1) over [0, 2, 1]: position 1 wins both windows and
    // receives both changes (2 + 2), where `max_unpool` would keep one.
    let overlapping = MaxPoolOptions::new([1, 2]).with_stride([1, 1]);
    let a = deep_lift_pool(overlapping, &[0.0, 2.0, 1.0], &[0.0; 3], [1, 1, 1, 3]);
    assert_close("overlapping", a, vec![0.0, 4.0, 0.0], 1e-6);
}

/// `Σ attribution = f_c(x) − f_c(x₀)` for every sample.
fn assert_summation_to_delta<M: Classifier>(model: &M, x: Tensor<4>, x0: Tensor<4>, name: &str) {
    let n = x.dims()[0];
    let target = Target::Class(1);
    let a = DeepLift::default()
        .with_baseline(Baseline::Tensor(Box::new(x0.clone())))
        .attribute(model, x.clone(), &target)
        .unwrap();
    let sums = values(a.relevance.flatten::<2>(1, 3).sum_dim(1));
    let f = values(model.logits(x).slice(s![.., 1..2]));
    let f0 = values(model.logits(x0).slice(s![.., 1..2]));
    for i in 0..n {
        let want = f[i] - f0[i];
        assert!(
            (sums[i] - want).abs() <= 1e-3 * (1.0 + want.abs()),
            "{name} sample {i}: attributions sum to {} but f(x) − f(x0) = {want}",
            sums[i]
        );
    }
}

#[test]
fn summation_to_delta_on_small_cnn_and_resnet18() {
    let dev = Device::flex();
    glassbox_core::seed(&dev, 3);
    let cnn = SmallCnnConfig::new().init(&dev).valid();
    let x = Tensor::<4>::random(
        [3, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let x0 = Tensor::<4>::random(
        [3, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 0.3),
        &dev,
    );
    assert_summation_to_delta(
        &cnn,
        x.clone(),
        Tensor::zeros([3, 1, 28, 28], &dev),
        "SmallCnn, zeros",
    );
    assert_summation_to_delta(&cnn, x, x0, "SmallCnn, reference");
    // ResNet-18's layout (overlapping 3×3/2 stem pool, residual additions) at small widths.
    let resnet = ResNetConfig::new(ResNetDepth::ResNet18)
        .with_in_channels(1)
        .with_num_classes(Some(3))
        .with_widths([8, 16, 32, 64])
        .with_stem_width(8)
        .init(&dev)
        .valid();
    let x = Tensor::<4>::random(
        [2, 1, 32, 32],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    assert_summation_to_delta(
        &resnet,
        x,
        Tensor::zeros([2, 1, 32, 32], &dev),
        "ResNet-18, zeros",
    );
}

#[test]
fn mismatched_passes_and_bad_settings_are_errors() {
    let dev = Device::flex();
    // A model whose second call takes a different path: the replay cannot line up.
    let calls = std::cell::Cell::new(0);
    let model = |x: Tensor<4>| {
        calls.set(calls.get() + 1);
        let h = if calls.get() == 1 {
            rescale::relu(x)
        } else {
            rescale::relu(rescale::relu(x))
        };
        h.flatten::<2>(1, 3).sum_dim(1).repeat_dim(1, 2)
    };
    let x = Tensor::<4>::ones([1, 1, 2, 2], &dev);
    let err = DeepLift::default()
        .attribute(&model, x.clone(), &Target::Class(0))
        .unwrap_err();
    assert!(err.to_string().contains("DeepLift"), "{err}");
    // A relu outside any pass is burn's relu, and the failed pass left no state behind.
    let plain = values(rescale::relu(Tensor::<1>::from_floats([-1.0, 2.0], &dev)));
    assert_eq!(plain, vec![0.0, 2.0]);
    let err = DeepLift::default()
        .with_eps(f32::NAN)
        .attribute(
            &|x: Tensor<4>| x.sum_dim(1).reshape([1, -1]),
            x.clone(),
            &Target::Class(0),
        )
        .unwrap_err();
    assert!(err.to_string().contains("eps"), "{err}");
    // Nested passes are refused.
    let nested = rescale::record(|| rescale::record(|| ()).is_err()).unwrap();
    assert!(nested.0);
}
