//! Blur IG and Guided IG against the methods' reference code (PAIR's `saliency` 0.2.1), and our
//! Gaussian blur against scipy's.
//!
//! `fixtures/blur_ig.json` and `fixtures/guided_ig.json` were written by
//! `xtask/peers/pair_saliency.py` (run by `cargo xtask compare attribution`): a closed-form model
//! f_k(x) = <W_k, x> + ½<V_k, x>² over 2×6×7 inputs with three classes, two inputs, and
//! `saliency.core.BlurIG` attributions for three parameter sets (σ_max 3 / 30 steps, the
//! defaults σ_max 50 / 100 steps, and σ_max 2 / 20 steps with sqrt spacing and grad_step 0.02)
//! plus `scipy.ndimage.gaussian_filter` blurs; `saliency.core.GuidedIG` attributions for the
//! defaults, the Affinity Explainer paper's setting and a constant baseline. The model is
//! rebuilt here from the stored W and V. Tolerance: 1e-4 of the largest |value| (the reference
//! computes in float64, our gradients are float32).

use burn::prelude::*;
use glassbox_attribution::blur_ig::gaussian_blur;
use glassbox_attribution::{Baseline, BlurIntegratedGradients, GuidedIntegratedGradients};
use glassbox_core::{Error, Target};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/blur_ig.json");
const GUIDED: &str = include_str!("fixtures/guided_ig.json");

mod common;
use common::{floats, values};

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-6);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * scale,
            "{what}, element {i}: {g} vs {w} (scale {scale})"
        );
    }
}

/// The fixture's model: logits `[N, 3]` = x·Wᵀ + ½ (x·Vᵀ)².
fn model(fixture: &Value, dev: &Device) -> impl Fn(Tensor<4>) -> Tensor<2> + use<> {
    let d = 2 * 6 * 7;
    let w = Tensor::<2>::from_data(TensorData::new(floats(&fixture["W"]), [3, d]), dev);
    let v = Tensor::<2>::from_data(TensorData::new(floats(&fixture["V"]), [3, d]), dev);
    move |x: Tensor<4>| {
        let x = x.flatten::<2>(1, 3);
        let q = x.clone().matmul(v.clone().transpose());
        x.matmul(w.clone().transpose()) + q.clone() * q * 0.5
    }
}

fn setup() -> (Value, Device, Tensor<4>) {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let dev = Device::flex();
    let x = Tensor::<4>::from_data(
        TensorData::new(floats(&fixture["inputs"]), [2, 2, 6, 7]),
        &dev,
    );
    (fixture, dev, x)
}

#[test]
fn gaussian_blur_matches_scipy() {
    let (fixture, _, x) = setup();
    let first = x.slice(s![0..1]);
    for case in fixture["blurs"].as_array().unwrap() {
        let sigma = case["sigma"].as_f64().unwrap();
        let got = values(gaussian_blur(first.clone(), sigma));
        assert_close(
            &got,
            &floats(&case["blurred"]),
            &format!("blur σ = {sigma}"),
        );
    }
}

#[test]
fn attributions_match_the_reference_code() {
    let (fixture, dev, x) = setup();
    let f = model(&fixture, &dev);
    let target = Target::PerSample(vec![2, 0]);
    for case in fixture["cases"].as_array().unwrap() {
        let method = BlurIntegratedGradients::default()
            .with_max_sigma(case["max_sigma"].as_f64().unwrap())
            .with_steps(case["steps"].as_u64().unwrap() as usize)
            .with_grad_step(case["grad_step"].as_f64().unwrap())
            .with_sqrt(case["sqrt"].as_bool().unwrap())
            .with_batch_size(16);
        let a = method.attribute(&f, x.clone(), &target).unwrap();
        assert_eq!(a.targets, vec![2, 0]);
        assert_eq!(a.method, "blur_integrated_gradients");
        assert_close(
            &values(a.relevance),
            &floats(&case["attribution"]),
            &format!("case {case:?}"),
        );
    }
}

#[test]
fn completeness_gap_shrinks_with_more_steps() {
    let (fixture, dev, x) = setup();
    let f = model(&fixture, &dev);
    let target = Target::PerSample(vec![1, 2]);
    let gap = |steps: usize| {
        let method = BlurIntegratedGradients::default()
            .with_max_sigma(4.0)
            .with_steps(steps)
            .with_grad_step(1e-3);
        let a = method.attribute(&f, x.clone(), &target).unwrap();
        let delta = method.delta(&f, x.clone(), &a).unwrap();
        delta.iter().fold(0.0f32, |m, d| m.max(d.abs()))
    };
    let (coarse, fine) = (gap(8), gap(256));
    assert!(
        fine < coarse / 4.0,
        "gap {coarse} with 8 steps, {fine} with 256"
    );
    assert!(fine < 0.05, "gap with 256 steps: {fine}");
}

#[test]
fn bad_settings_are_typed_errors() {
    let (fixture, dev, x) = setup();
    let f = model(&fixture, &dev);
    let t = Target::Class(0);
    for method in [
        BlurIntegratedGradients::default().with_steps(0),
        BlurIntegratedGradients::default().with_max_sigma(0.0),
        BlurIntegratedGradients::default().with_max_sigma(f64::NAN),
        BlurIntegratedGradients::default().with_grad_step(-1.0),
        BlurIntegratedGradients::default().with_batch_size(0),
    ] {
        assert!(matches!(
            method.attribute(&f, x.clone(), &t),
            Err(Error::Config(_))
        ));
    }
    let nan = Tensor::<4>::full([1, 2, 6, 7], f32::NAN, &dev);
    assert!(
        BlurIntegratedGradients::default()
            .attribute(&f, nan, &t)
            .is_err()
    );
}

#[test]
fn guided_ig_matches_the_reference_code() {
    let fixture: Value = serde_json::from_str(GUIDED).unwrap();
    let dev = Device::flex();
    let x = Tensor::<4>::from_data(
        TensorData::new(floats(&fixture["inputs"]), [2, 2, 6, 7]),
        &dev,
    );
    let f = model(&fixture, &dev);
    let target = Target::PerSample(vec![2, 0]);
    for case in fixture["cases"].as_array().unwrap() {
        let method = GuidedIntegratedGradients::default()
            .with_steps(case["steps"].as_u64().unwrap() as usize)
            .with_fraction(case["fraction"].as_f64().unwrap())
            .with_max_dist(case["max_dist"].as_f64().unwrap())
            .with_baseline(Baseline::Constant(case["baseline"].as_f64().unwrap() as f32));
        let a = method.attribute(&f, x.clone(), &target).unwrap();
        assert_eq!(a.method, "guided_integrated_gradients");
        let got = values(a.relevance);
        assert_close(
            &got,
            &floats(&case["attribution"]),
            &format!("case {}", case["steps"]),
        );
        // Completeness: the path ends at the input, so Σ attribution ≈ f(x) − f(baseline) up to
        // the Riemann error of a quadratic model.
        let base = Tensor::<4>::full(
            [2, 2, 6, 7],
            case["baseline"].as_f64().unwrap() as f32,
            &dev,
        );
        let fx = f(x.clone()).into_data().try_into_vec_as::<f32>().unwrap();
        let fb = f(base).into_data().try_into_vec_as::<f32>().unwrap();
        for (i, t) in [2usize, 0].into_iter().enumerate() {
            let sum: f32 = got[i * 84..(i + 1) * 84].iter().sum();
            let want = fx[i * 3 + t] - fb[i * 3 + t];
            let steps = case["steps"].as_f64().unwrap() as f32;
            assert!(
                (sum - want).abs() <= 0.1 * want.abs().max(1.0) * 25.0 / steps,
                "sample {i}: Σ {sum} vs {want}"
            );
        }
    }
    // Bad settings.
    for bad in [
        GuidedIntegratedGradients::default().with_steps(0),
        GuidedIntegratedGradients::default().with_fraction(0.0),
        GuidedIntegratedGradients::default().with_fraction(1.5),
        GuidedIntegratedGradients::default().with_max_dist(f64::NAN),
    ] {
        assert!(matches!(
            bad.attribute(&f, x.clone(), &target),
            Err(Error::Config(_))
        ));
    }
}
