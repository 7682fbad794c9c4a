//! Attribution methods against closed-form answers on models whose gradients are known.

use burn::prelude::*;
use glassbox_attribution::quadrature::gauss_legendre;
use glassbox_attribution::{
    Baseline, GradCam, InputXGradient, IntegratedGradients, IntegrationRule, NoiseStatistic,
    Occlusion, Saliency, SmoothGrad,
};
use glassbox_core::{Classifier, Error, FeatureClassifier, Target};

fn dev() -> Device {
    Device::flex()
}

mod common;
use common::values;

fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

/// f(x) = W · vec(x) + b with K = 3 classes over 1×2×3 inputs.
fn linear(dev: &Device) -> (impl Fn(Tensor<4>) -> Tensor<2>, Vec<f32>) {
    let w: Vec<f32> = (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [3, 6]), dev);
    let b = Tensor::<2>::from_floats([[0.5, -1.0, 2.0]], dev);
    (
        move |x: Tensor<4>| x.flatten::<2>(1, 3).matmul(wt.clone().transpose()) + b.clone(),
        w,
    )
}

fn inputs(dev: &Device) -> (Tensor<4>, Vec<f32>) {
    let x: Vec<f32> = vec![
        0.3, -1.2, 2.0, 0.7, -0.4, 1.1, 1.5, 0.2, -0.9, -2.0, 0.6, 0.05,
    ];
    (
        Tensor::from_data(TensorData::new(x.clone(), [2, 1, 2, 3]), dev),
        x,
    )
}

fn row(w: &[f32], c: usize) -> &[f32] {
    &w[c * 6..(c + 1) * 6]
}

#[test]
fn gradient_methods_on_a_linear_model() {
    let dev = dev();
    let (model, w) = linear(&dev);
    let (x, xv) = inputs(&dev);
    let target = Target::PerSample(vec![2, 0]);
    let want_grad: Vec<f32> = [row(&w, 2), row(&w, 0)].concat();
    let want_ixg: Vec<f32> = xv.iter().zip(&want_grad).map(|(a, b)| a * b).collect();

    let sal = Saliency::new(false)
        .attribute(&model, x.clone(), &target)
        .unwrap();
    assert_eq!(sal.targets, vec![2, 0]);
    assert_close(&values(sal.relevance), &want_grad, 1e-6);
    let abs = Saliency::default()
        .attribute(&model, x.clone(), &target)
        .unwrap();
    let want_abs: Vec<f32> = want_grad.iter().map(|v| v.abs()).collect();
    assert_close(&values(abs.relevance), &want_abs, 1e-6);

    let ixg = InputXGradient
        .attribute(&model, x.clone(), &target)
        .unwrap();
    assert_close(&values(ixg.relevance), &want_ixg, 1e-6);

    // IG from a zero baseline of a linear model is exactly x ⊙ w, for every rule.
    for rule in [
        IntegrationRule::GaussLegendre,
        IntegrationRule::RiemannLeft,
        IntegrationRule::RiemannTrapezoid,
    ] {
        let ig = IntegratedGradients::default().with_rule(rule).with_steps(7);
        let out = ig.attribute_with_delta(&model, x.clone(), &target).unwrap();
        assert_close(&values(out.attribution.relevance), &want_ixg, 1e-5);
        assert!(
            out.delta.iter().all(|d| d.abs() < 1e-4),
            "{rule:?} delta {:?}",
            out.delta
        );
    }

    // Occlusion with a 1×1 window and zero baseline removes exactly w_i x_i.
    let occ = Occlusion {
        batch_size: Some(5),
        ..Occlusion::new([1, 1], [1, 1])
    };
    let occ = occ.attribute(&model, x.clone(), &target).unwrap();
    assert_close(&values(occ.relevance), &want_ixg, 1e-5);

    // The gradient of a linear model is constant: SmoothGrad returns it, VarGrad returns 0.
    let sg = SmoothGrad {
        samples: 8,
        ..SmoothGrad::default()
    };
    assert_close(
        &values(sg.attribute(&model, x.clone(), &target).unwrap().relevance),
        &want_grad,
        1e-5,
    );
    let vg = SmoothGrad {
        statistic: NoiseStatistic::VarGrad,
        ..sg
    };
    assert!(
        values(vg.attribute(&model, x, &target).unwrap().relevance)
            .iter()
            .all(|v| v.abs() < 1e-5)
    );
}

/// f_k(x) = (k + 1) Σ x³: ∂f/∂x = 3(k + 1)x², and IG from 0 is exactly (k + 1) x³.
fn cubic(x: Tensor<4>) -> Tensor<2> {
    let s = x.powi_scalar(3).sum_dims(&[1, 2, 3]).reshape([-1, 1]);
    Tensor::cat(vec![s.clone(), s.clone() * 2.0, s * 3.0], 1)
}

#[test]
fn integrated_gradients_completeness_and_convergence() {
    let dev = dev();
    let (x, xv) = inputs(&dev);
    let target = Target::Class(1);
    // Gauss–Legendre with n nodes integrates the quadratic path integrand exactly for n >= 2.
    let out = IntegratedGradients::default()
        .with_steps(2)
        .attribute_with_delta(&cubic, x.clone(), &target)
        .unwrap();
    let want: Vec<f32> = xv.iter().map(|v| 2.0 * v.powi(3)).collect();
    assert_close(&values(out.attribution.relevance), &want, 1e-5);
    assert!(out.delta.iter().all(|d| d.abs() < 1e-4), "{:?}", out.delta);

    // A left Riemann sum is first-order: its delta must shrink like 1/steps.
    let delta = |steps| {
        let ig = IntegratedGradients::default()
            .with_rule(IntegrationRule::RiemannLeft)
            .with_steps(steps);
        let d = ig
            .attribute_with_delta(&cubic, x.clone(), &target)
            .unwrap()
            .delta;
        d.iter().map(|v| v.abs()).sum::<f32>()
    };
    let (d4, d16, d64) = (delta(4), delta(16), delta(64));
    assert!(d4 > d16 && d16 > d64, "{d4} {d16} {d64}");
    for ratio in [d16 / d4, d64 / d16] {
        assert!(
            (0.2..0.35).contains(&ratio),
            "expected ~1/4 per 4x steps: {d4} {d16} {d64}"
        );
    }

    // A constant baseline equal to the input gives zero attribution and zero delta.
    let ig = IntegratedGradients::default().with_baseline(Baseline::Tensor(Box::new(x.clone())));
    let out = ig.attribute_with_delta(&cubic, x.clone(), &target).unwrap();
    assert!(
        values(out.attribution.relevance)
            .iter()
            .all(|v| v.abs() < 1e-6)
    );

    // Internal batching does not change the result.
    let all = IntegratedGradients::default()
        .attribute(&cubic, x.clone(), &target)
        .unwrap();
    let chunked = IntegratedGradients::default()
        .with_batch_size(7)
        .attribute(&cubic, x, &target)
        .unwrap();
    assert_close(&values(chunked.relevance), &values(all.relevance), 1e-6);
    assert_eq!(chunked.parameters["steps"], 50);
}

#[test]
fn gauss_legendre_matches_known_nodes_and_is_exact() {
    let (x, w) = gauss_legendre(3);
    let r = (0.6f64).sqrt();
    assert!((x[0] + r).abs() < 1e-14 && x[1].abs() < 1e-14 && (x[2] - r).abs() < 1e-14);
    assert!((w[0] - 5.0 / 9.0).abs() < 1e-14 && (w[1] - 8.0 / 9.0).abs() < 1e-14);
    // n nodes integrate x^(2n-1) and x^(2n-2) exactly on [0, 1] after the affine map.
    for n in [1, 4, 10, 50] {
        let (a, wt) = IntegrationRule::GaussLegendre.steps(n).unwrap();
        let p = (2 * n - 2) as i32;
        let q: f64 = a.iter().zip(&wt).map(|(a, w)| w * a.powi(p)).sum();
        assert!((q - 1.0 / (p as f64 + 1.0)).abs() < 1e-12, "n={n}: {q}");
        assert!((wt.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert!(IntegrationRule::RiemannTrapezoid.steps(1).is_err());
}

/// Features are the input itself; the head is global average pooling and a known linear map,
/// so Grad-CAM has the closed form relu(Σ_k W_ck A_k) / (H·W).
struct GapLinear {
    w: Tensor<2>, // [K, C]
}

impl Classifier for GapLinear {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify_features(self.features(images))
    }
}

impl FeatureClassifier for GapLinear {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        images
    }
    fn classify_features(&self, f: Tensor<4>) -> Tensor<2> {
        f.mean_dims(&[2, 3])
            .flatten::<2>(1, 3)
            .matmul(self.w.clone().transpose())
    }
}

#[test]
fn grad_cam_and_grad_cam_pp_closed_forms() {
    let dev = dev();
    let w = [[1.0f32, -2.0], [0.5, 0.25]];
    let model = GapLinear {
        w: Tensor::from_floats(w, &dev),
    };
    let a: Vec<f32> = vec![0.2, 1.0, 0.0, 3.0, 0.5, 0.5, 2.0, 0.1];
    let x = Tensor::<4>::from_data(TensorData::new(a.clone(), [1, 2, 2, 2]), &dev);
    let cam = GradCam {
        plus_plus: false,
        upsample: false,
    };
    let got = values(
        cam.attribute(&model, x.clone(), &Target::Class(0))
            .unwrap()
            .relevance,
    );
    let want: Vec<f32> = (0..4)
        .map(|p| ((w[0][0] * a[p] + w[0][1] * a[4 + p]) / 4.0).max(0.0))
        .collect();
    assert_close(&got, &want, 1e-6);

    // Grad-CAM++ with constant gradients g_k = W_ck / 4: α_k = g² / (2g² + S_k g³).
    let got = values(
        GradCam {
            plus_plus: true,
            upsample: false,
        }
        .attribute(&model, x.clone(), &Target::Class(1))
        .unwrap()
        .relevance,
    );
    let s = [a[..4].iter().sum::<f32>(), a[4..].iter().sum::<f32>()];
    let weight = |k: usize| {
        let g = w[1][k] / 4.0;
        let alpha = g * g / (2.0 * g * g + s[k] * g * g * g + 1e-6);
        4.0 * alpha * g.max(0.0)
    };
    let want: Vec<f32> = (0..4)
        .map(|p| (weight(0) * a[p] + weight(1) * a[4 + p]).max(0.0))
        .collect();
    assert_close(&got, &want, 1e-5);

    // Upsampling returns an input-sized map.
    let up = GradCam::default()
        .attribute(&model, x, &Target::Predicted)
        .unwrap();
    assert_eq!(up.relevance.dims(), [1, 1, 2, 2]);
    assert_eq!(up.method, "grad_cam");
}

#[test]
fn bad_inputs_are_typed_errors() {
    let dev = dev();
    let (model, _) = linear(&dev);
    let (x, _) = inputs(&dev);
    let err = Saliency::default()
        .attribute(&model, x.clone(), &Target::Class(3))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                index: 3,
                bound: 3,
                ..
            }
        ),
        "{err}"
    );
    let nan = x.clone() / 0.0;
    assert!(matches!(
        IntegratedGradients::default().attribute(&model, nan, &Target::Predicted),
        Err(Error::NonFinite { .. })
    ));
    let empty = Tensor::<4>::zeros([0, 1, 2, 3], &dev);
    assert!(matches!(
        Saliency::default().attribute(&model, empty, &Target::Predicted),
        Err(Error::Empty(_))
    ));
    assert!(matches!(
        IntegratedGradients::default().with_steps(0).attribute(
            &model,
            x.clone(),
            &Target::Predicted
        ),
        Err(Error::Config(_))
    ));
    let bad_base = Baseline::Tensor(Box::new(Tensor::zeros([1, 1, 3, 2], &dev)));
    assert!(matches!(
        IntegratedGradients::default()
            .with_baseline(bad_base)
            .attribute(&model, x.clone(), &Target::Predicted),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        Occlusion::new([3, 3], [1, 1]).attribute(&model, x.clone(), &Target::Predicted),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        SmoothGrad {
            stdev: -1.0,
            ..SmoothGrad::default()
        }
        .attribute(&model, x.clone(), &Target::Predicted),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Saliency::default().attribute(&model, x, &Target::PerSample(vec![0])),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn every_method_is_an_explainer() {
    use glassbox_attribution::Rise;
    use glassbox_core::Explainer;
    fn run<M, E: Explainer<M, Input = Tensor<4>, Output = glassbox_core::Attribution>>(
        e: &E,
        m: &M,
        x: Tensor<4>,
    ) -> String {
        e.explain(m, x, &Target::Class(1)).unwrap().method
    }
    let dev = dev();
    let (model, _) = linear(&dev);
    let (x, _) = inputs(&dev);
    let names = [
        run(&Saliency::default(), &model, x.clone()),
        run(&InputXGradient, &model, x.clone()),
        run(&IntegratedGradients::default(), &model, x.clone()),
        run(&SmoothGrad::default(), &model, x.clone()),
        run(&Occlusion::new([1, 1], [1, 1]), &model, x.clone()),
        run(
            &Rise {
                masks: 4,
                ..Rise::default()
            },
            &model,
            x.clone(),
        ),
    ];
    assert_eq!(
        names,
        [
            "saliency",
            "input_x_gradient",
            "integrated_gradients",
            "smoothgrad",
            "occlusion",
            "rise"
        ]
    );
    let gap = GapLinear {
        w: Tensor::from_floats([[1.0f32, -2.0], [0.5, 0.25]], &dev),
    };
    assert_eq!(
        run(&GradCam::default(), &gap, Tensor::ones([1, 2, 2, 2], &dev)),
        "grad_cam"
    );
}
