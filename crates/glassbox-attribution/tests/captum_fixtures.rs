//! glassbox-attribution against Captum and pytorch-grad-cam on the same network, weights and
//! inputs.
//!
//! The fixture `fixtures/captum_tiny.json` was written by `cargo xtask compare attribution`
//! (`xtask/peers/attribution.py fixtures`, versions in its `_generated_by` field): a tiny CNN
//! (conv 1→4, ReLU, conv 4→6, ReLU, global average pooling, linear 6→3) with torch's default
//! initialisation under seed 0, four 1×8×8 `randn` inputs, targets [0, 1, 2, 0], and Captum's
//! attributions. Here the same network is rebuilt from the stored weights with burn's
//! functional ops. Tolerance: 1e-4 relative + absolute (f32 arithmetic in different orders).

use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use glassbox_attribution::{
    Baseline, GradCam, InputXGradient, IntegratedGradients, IntegrationRule, Occlusion, Saliency,
};
use glassbox_core::{Classifier, FeatureClassifier, Target};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/captum_tiny.json");

mod common;
use common::{assert_close, floats, per_sample_target, tensor, values};

struct Tiny {
    w1: Tensor<4>,
    b1: Tensor<1>,
    w2: Tensor<4>,
    b2: Tensor<1>,
    fw: Tensor<2>,
    fb: Tensor<1>,
}

impl Tiny {
    fn load(fx: &Value, dev: &Device) -> Self {
        let w = &fx["weights"];
        Self {
            w1: tensor(&w["conv1.weight"], dev),
            b1: tensor(&w["conv1.bias"], dev),
            w2: tensor(&w["conv2.weight"], dev),
            b2: tensor(&w["conv2.bias"], dev),
            fw: tensor(&w["fc.weight"], dev),
            fb: tensor(&w["fc.bias"], dev),
        }
    }
}

impl Classifier for Tiny {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.classify_features(self.features(x))
    }
}

impl FeatureClassifier for Tiny {
    fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let same = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let h = relu(conv2d(x, self.w1.clone(), Some(self.b1.clone()), same()));
        relu(conv2d(h, self.w2.clone(), Some(self.b2.clone()), same()))
    }
    fn classify_features(&self, f: Tensor<4>) -> Tensor<2> {
        let pooled = f.mean_dims(&[2, 3]).flatten::<2>(1, 3);
        pooled.matmul(self.fw.clone().transpose()) + self.fb.clone().unsqueeze_dim::<2>(0)
    }
    fn feature_layer(&self) -> &str {
        "conv2"
    }
}

fn setup() -> (Value, Tiny, Tensor<4>, Target) {
    let dev = Device::flex();
    let fx: Value = serde_json::from_str(FIXTURE).unwrap();
    let model = Tiny::load(&fx, &dev);
    let x = tensor::<4>(&fx["input"], &dev);
    let target = per_sample_target(&fx["target"]);
    (fx, model, x, target)
}

#[test]
fn the_rebuilt_network_matches_pytorch() {
    let (fx, model, x, _) = setup();
    assert_close(
        "logits",
        values(model.logits(x)),
        floats(&fx["logits"]),
        1e-5,
    );
}

#[test]
fn gradient_methods_match_captum() {
    let (fx, model, x, t) = setup();
    let sal = Saliency::default()
        .attribute(&model, x.clone(), &t)
        .unwrap();
    assert_close(
        "saliency abs",
        values(sal.relevance),
        floats(&fx["saliency_abs"]),
        1e-4,
    );
    let sal = Saliency::new(false)
        .attribute(&model, x.clone(), &t)
        .unwrap();
    assert_close(
        "saliency signed",
        values(sal.relevance),
        floats(&fx["saliency_signed"]),
        1e-4,
    );
    let ixg = InputXGradient.attribute(&model, x, &t).unwrap();
    assert_close(
        "input x gradient",
        values(ixg.relevance),
        floats(&fx["input_x_gradient"]),
        1e-4,
    );
}

#[test]
fn integrated_gradients_match_captum() {
    let (fx, model, x, t) = setup();
    let out = IntegratedGradients::default()
        .attribute_with_delta(&model, x.clone(), &t)
        .unwrap();
    assert_close(
        "IG gauss-legendre 50",
        values(out.attribution.relevance),
        floats(&fx["ig_gausslegendre_50"]),
        1e-4,
    );
    assert_close(
        "IG delta",
        out.delta,
        floats(&fx["ig_gausslegendre_50_delta"]),
        1e-4,
    );
    // Captum's trapezoid rule uses step 1/n with halved ends, so its weights sum to (n-1)/n;
    // ours use 1/(n-1) and sum to 1. Same nodes, so Captum's result is ours times 19/20.
    let ig = IntegratedGradients::default()
        .with_rule(IntegrationRule::RiemannTrapezoid)
        .with_steps(20);
    let ours: Vec<f32> = values(ig.attribute(&model, x.clone(), &t).unwrap().relevance)
        .iter()
        .map(|v| v * 19.0 / 20.0)
        .collect();
    assert_close(
        "IG trapezoid 20 (Captum weights)",
        ours,
        floats(&fx["ig_trapezoid_20"]),
        1e-4,
    );
    let ig = IntegratedGradients::default()
        .with_rule(IntegrationRule::RiemannLeft)
        .with_steps(20)
        .with_baseline(Baseline::Constant(0.5))
        .with_batch_size(13);
    assert_close(
        "IG left 20, baseline 0.5",
        values(ig.attribute(&model, x, &t).unwrap().relevance),
        floats(&fx["ig_left_20_baseline_0.5"]),
        1e-4,
    );
}

#[test]
fn occlusion_matches_captum() {
    let (fx, model, x, t) = setup();
    let occ = Occlusion {
        batch_size: Some(7),
        ..Occlusion::new([4, 4], [2, 2])
    };
    assert_close(
        "occlusion",
        values(occ.attribute(&model, x, &t).unwrap().relevance),
        floats(&fx["occlusion_4x4_s2"]),
        1e-4,
    );
}

#[test]
fn grad_cam_matches_captum_and_grad_cam_pp_matches_pytorch_grad_cam() {
    let (fx, model, x, t) = setup();
    let cam = GradCam {
        plus_plus: false,
        upsample: false,
    }
    .attribute(&model, x.clone(), &t)
    .unwrap();
    assert_close(
        "grad-cam",
        values(cam.relevance),
        floats(&fx["grad_cam_relu2"]),
        1e-4,
    );
    // pytorch-grad-cam min-max normalises each map to [0, 1]; compare after doing the same.
    if let Some(want) = fx.get("grad_cam_pp_normalised") {
        let cam = GradCam {
            plus_plus: true,
            upsample: false,
        }
        .attribute(&model, x, &t)
        .unwrap();
        let maps = values(cam.relevance);
        let mut got = Vec::new();
        for m in maps.chunks(64) {
            let (lo, hi) = m
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            got.extend(m.iter().map(|v| (v - lo) / (hi - lo + 1e-7)));
        }
        assert_close("grad-cam++", got, floats(want), 1e-3);
    }
}
