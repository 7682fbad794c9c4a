//! LIME: SLIC against scikit-image 0.26, the Lasso surrogate against scikit-learn 1.9, and the
//! whole method on a linear model, where the surrogate is exact.
//!
//! `fixtures/lime.json` was written by `xtask/peers/lime.py` (run by `cargo xtask compare
//! attribution`), inputs from numpy's `default_rng(2)` rounded to four decimals:
//! `skimage.segmentation.slic` labels of three smooth random images (grey 28×28 and 64×64,
//! a 2-channel 20×24) at four (n_segments, compactness) settings, and
//! `sklearn.linear_model.Lasso(alpha, tol=1e-12)` fits with `sample_weight` on binary designs.
//! Labels must agree exactly; Lasso coefficients and intercepts to 1e-7.

use burn::prelude::*;
use glassbox_attribution::surrogate::lasso;
use glassbox_attribution::{Baseline, Lime, Slic};
use glassbox_core::Target;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/lime.json");

mod common;
use common::floats64 as floats;

#[test]
fn slic_matches_scikit_image() {
    let f: Value = serde_json::from_str(FIXTURE).unwrap();
    for entry in f["slic"].as_array().unwrap() {
        let c = entry["image"].as_array().unwrap();
        let rows = c[0].as_array().unwrap();
        let dims = [c.len(), rows.len(), rows[0].as_array().unwrap().len()];
        let image = floats(&entry["image"]);
        for case in entry["cases"].as_array().unwrap() {
            let slic = Slic::default()
                .with_segments(case["segments"].as_u64().unwrap() as usize)
                .with_compactness(case["compactness"].as_f64().unwrap());
            let got = slic.segment(&image, dims).unwrap();
            let want: Vec<usize> = floats(&case["labels"])
                .iter()
                .map(|v| *v as usize)
                .collect();
            let mismatches = got.labels.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(mismatches, 0, "{slic:?} on {dims:?}");
            assert_eq!(got.count, want.iter().max().unwrap() + 1);
        }
    }
}

#[test]
fn lasso_matches_scikit_learn() {
    let f: Value = serde_json::from_str(FIXTURE).unwrap();
    for case in f["lasso"].as_array().unwrap() {
        let x = floats(&case["x"]);
        let y = floats(&case["y"]);
        let w = floats(&case["weight"]);
        let p = x.len() / y.len();
        let alpha = case["alpha"].as_f64().unwrap();
        let fit = lasso(&x, &y, &w, p, alpha).unwrap();
        let coef = floats(&case["coef"]);
        for (j, (a, b)) in fit.coef.iter().zip(&coef).enumerate() {
            assert!((a - b).abs() < 1e-7, "alpha {alpha}, coef {j}: {a} vs {b}");
        }
        let intercept = case["intercept"].as_f64().unwrap();
        assert!((fit.intercept - intercept).abs() < 1e-7, "alpha {alpha}");
    }
}

/// f_k(x) = Σ_p W_kp x_p over 1×6×6 inputs, three classes.
fn linear_model(dev: &Device) -> (impl Fn(Tensor<4>) -> Tensor<2> + use<>, Vec<f32>) {
    let wv: Vec<f32> = (0..3 * 36)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
        .collect();
    let w = Tensor::<2>::from_data(TensorData::new(wv.clone(), [3, 36]), dev);
    (
        move |x: Tensor<4>| x.flatten::<2>(1, 3).matmul(w.clone().transpose()),
        wv,
    )
}

#[test]
fn lime_is_exact_on_a_linear_model() {
    // Quadrant features: the score is linear in the on/off states, so the unpenalised
    // surrogate recovers each quadrant's contribution Σ_p W_p (x_p − b_p) exactly.
    let dev = Device::flex();
    let (model, wv) = linear_model(&dev);
    let xv: Vec<f32> = (0..2 * 36)
        .map(|i| ((i * 5 % 13) as f32) / 13.0 - 0.3)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(xv.clone(), [2, 1, 6, 6]), &dev);
    let quadrants: Vec<usize> = (0..36).map(|p| (p / 6 / 3) * 2 + (p % 6) / 3).collect();
    let baseline = 0.25f32;
    let lime = Lime::default()
        .with_alpha(0.0)
        .with_features(quadrants.clone())
        .with_baseline(Baseline::Constant(baseline))
        .with_batch_size(7);
    let targets = vec![2, 0];
    let a = lime
        .attribute(&model, x, &Target::PerSample(targets.clone()))
        .unwrap();
    assert_eq!(a.relevance.dims(), [2, 1, 6, 6]);
    let got = a.relevance.into_data().try_into_vec_as::<f32>().unwrap();
    for (i, &t) in targets.iter().enumerate() {
        let mut want = [0.0f32; 4];
        for p in 0..36 {
            want[quadrants[p]] += wv[t * 36 + p] * (xv[i * 36 + p] - baseline);
        }
        for p in 0..36 {
            let g = got[i * 36 + p];
            assert!(
                (g - want[quadrants[p]]).abs() < 1e-4,
                "input {i} pixel {p}: {g}"
            );
        }
    }
}

#[test]
fn lime_is_seeded_and_rejects_bad_settings() {
    let dev = Device::flex();
    let (model, _) = linear_model(&dev);
    let x = Tensor::<4>::from_data(
        TensorData::new(
            (0..36).map(|i| (i % 7) as f32).collect::<Vec<_>>(),
            [1, 1, 6, 6],
        ),
        &dev,
    );
    let lime = Lime::default().with_superpixels(Slic::default().with_segments(9));
    let run = |l: &Lime| {
        l.attribute(&model, x.clone(), &Target::Class(1))
            .unwrap()
            .relevance
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap()
    };
    assert_eq!(run(&lime), run(&lime));
    assert_ne!(run(&lime), run(&lime.clone().with_seed(9).with_alpha(0.0)));
    assert!(run(&lime).iter().any(|v| *v != 0.0));
    assert!(
        lime.clone()
            .with_samples(0)
            .attribute(&model, x.clone(), &Target::Class(1))
            .is_err()
    );
    assert!(
        lime.clone()
            .with_features(vec![0; 5])
            .attribute(&model, x.clone(), &Target::Class(1))
            .is_err()
    );
    assert!(lime.attribute(&model, x, &Target::Class(3)).is_err());
}
