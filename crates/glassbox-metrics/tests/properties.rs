//! Closed-form and invariance properties of the metrics (spec §12): known values on linear
//! models and synthetic maps, invariance to batch composition and to the engine's budget, and
//! typed errors on bad input.

use burn::prelude::*;
use glassbox_core::{Classifier, Error, HostTensor, Result};
use glassbox_metrics::*;

const H: usize = 6;
const W: usize = 6;
const D: usize = H * W;

fn dev() -> Device {
    Device::default()
}

/// A deterministic pseudo-random vector in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut g = glassbox_core::rng::SplitMix64::new(seed);
    (0..n).map(|_| g.unit() * 2.0 - 1.0).collect()
}

fn images(b: usize, seed: u64) -> HostTensor {
    HostTensor::new(vec![b, 1, H, W], values(b * D, seed)).unwrap()
}

/// Linear two-class model: logit_0 = w·x, logit_1 = 0.
struct Linear {
    w: Tensor<2>,
}

impl Linear {
    fn new(w: &[f32]) -> Self {
        let mut m = w.to_vec();
        m.extend(std::iter::repeat_n(0.0, w.len()));
        // [D, 2]: column 0 = w, column 1 = 0.
        let data: Vec<f32> = (0..w.len()).flat_map(|i| [m[i], 0.0]).collect();
        Self {
            w: Tensor::from_data(TensorData::new(data, [w.len(), 2]), &dev()),
        }
    }
}

impl Classifier for Linear {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        x.flatten::<2>(1, 3).matmul(self.w.clone())
    }
}

fn batch(x: HostTensor, a: HostTensor) -> MetricBatch {
    let b = x.shape[0];
    MetricBatch::new(x, a, vec![0; b]).unwrap()
}

#[test]
fn gini_and_entropy_closed_forms() {
    let ctx = Context::without_model(&dev());
    let mut one_hot = vec![0.0f32; 2 * D];
    one_hot[3] = 1.0;
    one_hot[D..].iter_mut().for_each(|v| *v = 0.5);
    let b = batch(
        images(2, 1),
        HostTensor::new(vec![2, 1, H, W], one_hot).unwrap(),
    );
    let g = Sparseness::default().evaluate(&ctx, &b).unwrap();
    assert!(
        (g.per_sample[0] - (D as f64 - 1.0) / D as f64).abs() < 1e-5,
        "{:?}",
        g.per_sample
    );
    assert!(g.per_sample[1].abs() < 1e-9);
    let c = Complexity::default().evaluate(&ctx, &b).unwrap();
    assert!(c.per_sample[0].abs() < 1e-9);
    assert!((c.per_sample[1] - (D as f64).ln()).abs() < 1e-9);
    let e = EffectiveComplexity::default().evaluate(&ctx, &b).unwrap();
    assert_eq!(e.per_sample, vec![1.0, D as f64]);
}

#[test]
fn localisation_on_known_masks() {
    let ctx = Context::without_model(&dev());
    let mut a = vec![0.1f32; D];
    a[7] = 1.0; // the maximum, inside the mask
    let mut mask = vec![0.0f32; D];
    for p in [7, 8, 13, 14] {
        mask[p] = 1.0;
    }
    let b = batch(images(1, 2), HostTensor::new(vec![1, 1, H, W], a).unwrap())
        .with_masks(HostTensor::new(vec![1, H, W], mask).unwrap())
        .unwrap();
    assert_eq!(
        PointingGame::default()
            .evaluate(&ctx, &b)
            .unwrap()
            .per_sample,
        vec![1.0]
    );
    // Rank accuracy: K = 4, only pixel 7 of the top 4 is inside (ties in index order).
    let rra = RelevanceRankAccuracy::default().evaluate(&ctx, &b).unwrap();
    assert_eq!(rra.per_sample, vec![0.25]);
    // Mass: (1 + 3·0.1) / (1 + 35·0.1).
    let rma = RelevanceMassAccuracy::default().evaluate(&ctx, &b).unwrap();
    assert!((rma.per_sample[0] - 1.3 / 4.5).abs() < 1e-6);
    // No mask: a typed error naming the metric.
    let no_mask = batch(images(1, 2), images(1, 3));
    let err = Auc::default().evaluate(&ctx, &no_mask).unwrap_err();
    assert!(err.to_string().contains("auc"), "{err}");
}

#[test]
fn model_ignoring_input_gives_flat_curves() {
    let constant = |x: Tensor<4>| -> Tensor<2> {
        let n = x.dims()[0];
        Tensor::from_data(
            TensorData::new([1.0f32, 2.0].repeat(n), [n, 2]),
            &x.device(),
        )
    };
    let ctx = Context::new(&constant, &dev());
    let b = batch(images(3, 4), images(3, 5));
    for result in [
        Deletion::default().evaluate(&ctx, &b).unwrap(),
        Insertion::default().evaluate(&ctx, &b).unwrap(),
        PixelFlipping::default()
            .with_features_in_step(5)
            .evaluate(&ctx, &b)
            .unwrap(),
    ] {
        for c in result.curves.unwrap() {
            assert!(
                c.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-12),
                "{}",
                result.metric
            );
        }
    }
    // Nothing to correlate with: NaN, not a panic.
    let fe = FaithfulnessEstimate::default().evaluate(&ctx, &b).unwrap();
    assert!(fe.per_sample.iter().all(|v| v.is_nan()) && fe.aggregate.is_nan());
}

#[test]
fn linear_model_axioms() {
    let w = values(D, 7);
    let model = Linear::new(&w);
    let ctx = Context::new(&model, &dev());
    let x = images(2, 8);
    // With a zero baseline, a = w ⊙ x is complete: Σa = f(x) − f(0).
    let a: Vec<f32> = x
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| v * w[i % D])
        .collect();
    let b = batch(x.clone(), HostTensor::new(vec![2, 1, H, W], a).unwrap());
    let c = Completeness {
        perturb_baseline: PerturbBaseline::Zero,
        ..Default::default()
    }
    .evaluate(&ctx, &b)
    .unwrap();
    assert_eq!(c.per_sample, vec![1.0, 1.0]);
    // Infidelity of a = w (the gradient of a linear logit) is zero: s_k = Δ_k exactly.
    let grad: Vec<f32> = (0..2).flat_map(|_| w.clone()).collect();
    let b = batch(x, HostTensor::new(vec![2, 1, H, W], grad).unwrap());
    let inf = Infidelity {
        perturb_patch_sizes: vec![2, 4],
        ..Default::default()
    }
    .evaluate(&ctx, &b)
    .unwrap();
    assert!(
        inf.per_sample.iter().all(|v| v.abs() < 1e-8),
        "{:?}",
        inf.per_sample
    );
    // With the optimal scale, a scaled gradient is just as faithful.
    let scaled = HostTensor::new(
        vec![2, 1, H, W],
        b.attributions().values.iter().map(|v| 3.0 * v).collect(),
    )
    .unwrap();
    let b3 = batch(b.inputs().clone(), scaled);
    let inf3 = Infidelity {
        optimal_scaling: true,
        ..Default::default()
    }
    .evaluate(&ctx, &b3)
    .unwrap();
    assert!(inf3.per_sample.iter().all(|v| v.abs() < 1e-8));
}

#[test]
fn monotonic_insertion_for_positive_linear_model() {
    let w: Vec<f32> = values(D, 9).iter().map(|v| v.abs() + 0.1).collect();
    let model = Linear::new(&w);
    let ctx = Context::new(&model, &dev());
    let x = images(2, 10);
    let a = HostTensor::new(vec![2, 1, H, W], values(2 * D, 11)).unwrap();
    let b = batch(x, a);
    // Inserting any x ≥ min(x) into a min-filled image never lowers w·x with w > 0.
    let m = Monotonicity {
        readout: Readout::Logit,
        features_in_step: 3,
        ..Default::default()
    }
    .evaluate(&ctx, &b)
    .unwrap();
    assert_eq!(m.per_sample, vec![1.0, 1.0]);
}

#[test]
fn scores_do_not_depend_on_batch_mates_or_budget() {
    let w = values(D, 12);
    let model = Linear::new(&w);
    let x = images(4, 13);
    let mut a = values(4 * D, 14);
    a[D..2 * D].iter_mut().for_each(|v| *v *= 50.0); // one sample of a larger magnitude
    let b = batch(x, HostTensor::new(vec![4, 1, H, W], a).unwrap());
    let metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(PixelFlipping::default().with_features_in_step(4)),
        Box::new(FaithfulnessCorrelation {
            nr_runs: 20,
            subset_size: 8,
            ..Default::default()
        }),
        Box::new(MonotonicityCorrelation {
            nr_samples: 3,
            features_in_step: 6,
            ..Default::default()
        }),
        Box::new(EffectiveComplexity {
            eps: 0.05,
            ..Default::default()
        }),
        Box::new(Road {
            percentages: vec![10, 50, 90],
            ..Default::default()
        }),
    ];
    for m in &metrics {
        let full = m
            .evaluate(
                &Context::new(&model, &dev()).with_engine(PerturbationEngine::new(1000)),
                &b,
            )
            .unwrap();
        let small = m
            .evaluate(
                &Context::new(&model, &dev()).with_engine(PerturbationEngine::new(3)),
                &b,
            )
            .unwrap();
        assert_eq!(full.per_sample.len(), 4);
        // Equal up to f32 summation order (a kernel may block a batch of 3 differently from one
        // of 1000); any algorithmic batch dependence would show far above 1e-6.
        for (x, y) in full.per_sample.iter().zip(&small.per_sample) {
            assert!(
                x.to_bits() == y.to_bits() || (x - y).abs() < 1e-6,
                "{} budget",
                m.name()
            );
        }
        // Sample 0 scored alone equals sample 0 scored with the others (per-sample
        // normalisation; random draws are seeded per image).
        let alone = m
            .evaluate(&Context::new(&model, &dev()), &b.slice(0..1).unwrap())
            .unwrap();
        assert!(
            (alone.per_sample[0] - full.per_sample[0]).abs() < 1e-6,
            "{} batch",
            m.name()
        );
    }
    // Quantus' batch-global normalisation makes Effective Complexity batch-dependent.
    let compat = EffectiveComplexity {
        eps: 0.05,
        quantus_compat: true,
        ..Default::default()
    };
    let ctx = Context::new(&model, &dev());
    let alone = compat.evaluate(&ctx, &b.slice(0..1).unwrap()).unwrap();
    let together = compat.evaluate(&ctx, &b).unwrap();
    assert_ne!(alone.per_sample[0], together.per_sample[0]);
}

#[test]
fn robustness_of_a_constant_explanation_is_zero() {
    let model = Linear::new(&values(D, 15));
    let constant = |_: &dyn Classifier, x: &HostTensor, _: &[usize]| -> Result<HostTensor> {
        HostTensor::new(x.shape.clone(), vec![1.0; x.values.len()])
    };
    let ctx = Context::new(&model, &dev()).with_explainer(&constant);
    let b = batch(
        images(2, 16),
        HostTensor::new(vec![2, 1, H, W], vec![1.0; 2 * D]).unwrap(),
    );
    for m in [
        Box::new(MaxSensitivity {
            nr_samples: 5,
            ..Default::default()
        }) as Box<dyn Metric>,
        Box::new(AvgSensitivity {
            nr_samples: 5,
            ..Default::default()
        }),
        Box::new(LocalLipschitzEstimate {
            nr_samples: 5,
            ..Default::default()
        }),
    ] {
        let r = m.evaluate(&ctx, &b).unwrap();
        assert!(
            r.per_sample.iter().all(|v| *v == 0.0),
            "{}: {:?}",
            m.name(),
            r.per_sample
        );
    }
    // The gradient of a linear model does not depend on the input shift, but
    // Input × Gradient does (Kindermans et al.).
    let w = values(D, 15);
    let grad = move |_: &dyn Classifier, x: &HostTensor, _: &[usize]| -> Result<HostTensor> {
        HostTensor::new(
            x.shape.clone(),
            (0..x.values.len()).map(|i| w[i % D]).collect(),
        )
    };
    let ctx = Context::new(&model, &dev()).with_explainer(&grad);
    assert_eq!(
        InputInvariance::default()
            .evaluate(&ctx, &b)
            .unwrap()
            .per_sample,
        vec![1.0, 1.0]
    );
    let w2 = values(D, 15);
    let ixg = move |_: &dyn Classifier, x: &HostTensor, _: &[usize]| -> Result<HostTensor> {
        HostTensor::new(
            x.shape.clone(),
            x.values
                .iter()
                .enumerate()
                .map(|(i, v)| v * w2[i % D])
                .collect(),
        )
    };
    let ctx = Context::new(&model, &dev()).with_explainer(&ixg);
    assert_eq!(
        InputInvariance::default()
            .evaluate(&ctx, &b)
            .unwrap()
            .per_sample,
        vec![0.0, 0.0]
    );
}

#[test]
fn imputation_reproduces_linear_images() {
    // The 8-neighbour weighted mean of a linear function is its value at the centre, so
    // noise-free imputation of interior pixels recovers a ramp exactly.
    let (h, w) = (7, 9);
    let ramp: Vec<f32> = (0..h * w)
        .map(|p| 0.5 * (p / w) as f32 - 0.25 * (p % w) as f32)
        .collect();
    let mut missing = vec![false; h * w];
    for r in 2..5 {
        for c in 1..7 {
            missing[r * w + c] = true;
        }
    }
    for (p, v) in glassbox_metrics::faithfulness::noisy_linear_imputation(&ramp, &missing, h, w) {
        assert!((v - ramp[p] as f64).abs() < 1e-9);
    }
}

#[test]
fn patches_tile_the_image() {
    for (h, w, size) in [(10, 10, 4), (16, 16, 4), (7, 5, 3), (3, 3, 8)] {
        let patches = glassbox_metrics::features::grid_patches(h, w, size);
        let mut seen = vec![0; h * w];
        for p in &patches {
            for px in p.pixels(w) {
                seen[px] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{h}x{w}/{size}");
        assert_eq!(patches.len(), h.div_ceil(size) * w.div_ceil(size));
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = images(2, 17);
    // Attribution of the wrong size.
    let bad = HostTensor::new(vec![2, 1, H, W + 1], vec![0.0; 2 * H * (W + 1)]).unwrap();
    assert!(matches!(
        MetricBatch::new(x.clone(), bad, vec![0, 0]),
        Err(Error::Shape { .. })
    ));
    // NaN attributions.
    let mut nan = values(2 * D, 18);
    nan[5] = f32::NAN;
    let nan = HostTensor::new(vec![2, 1, H, W], nan).unwrap();
    assert!(matches!(
        MetricBatch::new(x.clone(), nan, vec![0, 0]),
        Err(Error::NonFinite { .. })
    ));
    // Wrong number of targets, empty batch, masks of the wrong size.
    assert!(MetricBatch::new(x.clone(), images(2, 19), vec![0]).is_err());
    let empty = HostTensor::new(vec![0, 1, H, W], vec![]).unwrap();
    assert!(matches!(
        MetricBatch::new(empty.clone(), empty, vec![]),
        Err(Error::Empty(_))
    ));
    let b = batch(x, images(2, 20));
    assert!(
        b.clone()
            .with_masks(HostTensor::new(vec![2, 1, 3, 3], vec![0.0; 18]).unwrap())
            .is_err()
    );
    // Target out of the model's range.
    let model = Linear::new(&values(D, 21));
    let ctx = Context::new(&model, &dev());
    let far = MetricBatch::new(b.inputs().clone(), b.attributions().clone(), vec![0, 5]).unwrap();
    assert!(matches!(
        PixelFlipping::default().evaluate(&ctx, &far),
        Err(Error::OutOfRange { index: 5, .. })
    ));
    // Invalid configs.
    assert!(
        FaithfulnessCorrelation {
            subset_size: D,
            ..Default::default()
        }
        .evaluate(&ctx, &b)
        .is_err()
    );
    assert!(
        PixelFlipping::default()
            .with_features_in_step(0)
            .evaluate(&ctx, &b)
            .is_err()
    );
    assert!(
        TopKIntersection::default()
            .evaluate(&ctx, &b.clone().with_masks(images(2, 1)).unwrap())
            .is_err()
    );
    assert!(metric_by_name("pixel_flip").is_err());
    assert!(metric_from_config("road", serde_json::json!({ "noise": "loud" })).is_err());
    // A metric that needs an explainer says so.
    let err = MaxSensitivity::default().evaluate(&ctx, &b).unwrap_err();
    assert!(err.to_string().contains("explainer"), "{err}");
    // An all-zero attribution is accepted; metrics without a defined value give NaN.
    let zero = batch(
        b.inputs().clone(),
        HostTensor::new(vec![2, 1, H, W], vec![0.0; 2 * D]).unwrap(),
    );
    let c = Complexity::default()
        .evaluate(&Context::without_model(&dev()), &zero)
        .unwrap();
    assert!(c.per_sample.iter().all(|v| v.is_nan()));
}

#[test]
fn every_named_metric_builds_and_serialises() {
    for name in METRIC_NAMES {
        let m = metric_by_name(name).unwrap();
        assert_eq!(m.name(), *name);
        assert!(m.parameters().is_object(), "{name}");
    }
}
