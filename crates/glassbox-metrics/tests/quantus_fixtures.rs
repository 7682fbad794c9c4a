//! glassbox-metrics against Quantus 0.6.0 on the same network, weights, inputs and
//! attributions.
//!
//! `fixtures/quantus_tiny.json` was written by `cargo xtask compare metrics`
//! (`xtask/peers/metrics.py fixtures`; versions in its `_generated_by` field): a tiny CNN
//! (conv 1→4, ReLU, conv 4→6, ReLU, global average pooling, linear 6→3, torch's default init
//! under seed 0), six 1×16×16 `randn` inputs, random-normal attributions (no ties, so orders
//! agree), centre-square masks (the last one empty), scikit-image SLIC segments, recorded
//! noise for the sensitivity metrics and Quantus' per-sample scores. Every metric runs with
//! `quantus_compat = true` and the parameters stored next to Quantus' result.
//! Tolerance: 1e-4 relative + 1e-6 absolute (Quantus runs the model in f32 through NumPy).

use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use glassbox_core::{Classifier, HostTensor, Result};
use glassbox_metrics::*;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/quantus_tiny.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

fn host(v: &Value) -> HostTensor {
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() as usize)
        .collect();
    let values = v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    HostTensor::new(shape, values).unwrap()
}

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
        let t = |k: &str| host(&w[k]);
        Self {
            w1: t("conv1.weight").to_tensor(dev).unwrap(),
            b1: t("conv1.bias").to_tensor(dev).unwrap(),
            w2: t("conv2.weight").to_tensor(dev).unwrap(),
            b2: t("conv2.bias").to_tensor(dev).unwrap(),
            fw: t("fc.weight").to_tensor(dev).unwrap(),
            fb: t("fc.bias").to_tensor(dev).unwrap(),
        }
    }
}

impl Classifier for Tiny {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let same = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let h = relu(conv2d(x, self.w1.clone(), Some(self.b1.clone()), same()));
        let h = relu(conv2d(h, self.w2.clone(), Some(self.b2.clone()), same()));
        let pooled = h.mean_dims(&[2, 3]).flatten::<2>(1, 3);
        pooled.matmul(self.fw.clone().transpose()) + self.fb.clone().unsqueeze_dim::<2>(0)
    }
}

/// Signed input gradient of the target logit, as the fixture's `gradient_explain`.
fn gradient(model: &dyn Classifier, x: &HostTensor, targets: &[usize]) -> Result<HostTensor> {
    let dev = Device::default();
    let xt = x.to_tensor::<4>(&dev)?.autodiff().require_grad();
    let logits = model.logits(xt.clone());
    let k = logits.dims()[1];
    let idx: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
    let sel = Tensor::<1, Int>::from_data(TensorData::new(idx, [targets.len()]), &logits.device())
        .one_hot::<2>(k)
        .float();
    let grads = (logits * sel).sum().backward();
    let g = xt.grad(&grads).expect("input gradient");
    Ok(HostTensor::from_tensor(&g))
}

fn close(ours: f64, theirs: Option<f64>, what: &str) {
    close_to(ours, theirs, 1e-4, what)
}

fn close_to(ours: f64, theirs: Option<f64>, rtol: f64, what: &str) {
    match theirs {
        None => assert!(ours.is_nan(), "{what}: Quantus NaN, ours {ours}"),
        Some(t) => assert!(
            (ours - t).abs() <= 1e-6 + rtol * t.abs(),
            "{what}: ours {ours}, Quantus {t}"
        ),
    }
}

fn quantus(fx: &Value, name: &str) -> Vec<Option<f64>> {
    fx["quantus"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::as_f64)
        .collect()
}

struct Setup {
    fx: Value,
    model: Tiny,
    batch: MetricBatch,
    dev: Device,
}

fn setup(attr: &str) -> Setup {
    let fx = fixture();
    let dev = Device::default();
    let model = Tiny::load(&fx, &dev);
    let y: Vec<usize> = fx["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let batch = MetricBatch::new(host(&fx["x"]), host(&fx[attr]), y)
        .unwrap()
        .with_masks(host(&fx["s"]))
        .unwrap();
    Setup {
        fx,
        model,
        batch,
        dev,
    }
}

/// The metric `name` with the fixture's parameters and `quantus_compat` on.
fn configured(fx: &Value, name: &str, extra: Value) -> Box<dyn Metric> {
    let mut cfg = fx["params"][name].clone();
    cfg["quantus_compat"] = json!(true);
    if let Value::Object(e) = extra {
        for (k, v) in e {
            cfg[k] = v;
        }
    }
    metric_from_config(name, cfg).unwrap()
}

fn evaluate(s: &Setup, name: &str, extra: Value) -> MetricResult {
    let ctx = Context::new(&s.model, &s.dev).with_engine(PerturbationEngine::new(37));
    configured(&s.fx, name, extra)
        .evaluate(&ctx, &s.batch)
        .unwrap()
}

#[test]
fn per_sample_scores_match_quantus() {
    let s = setup("a");
    for name in [
        "pixel_flipping",
        "faithfulness_estimate",
        "infidelity",
        "monotonicity",
        "monotonicity_correlation",
        "non_sensitivity",
        "completeness",
        "pointing_game",
        "attribution_localisation",
        "top_k_intersection",
        "relevance_rank_accuracy",
        "relevance_mass_accuracy",
        "auc",
        "sparseness",
        "complexity",
        "effective_complexity",
    ] {
        let r = evaluate(&s, name, json!({}));
        let q = quantus(&s.fx, name);
        assert_eq!(r.per_sample.len(), q.len(), "{name}");
        for (i, (o, t)) in r.per_sample.iter().zip(q).enumerate() {
            close(*o, t, &format!("{name}[{i}]"));
        }
    }
}

#[test]
fn curves_match_quantus() {
    let s = setup("a");
    let pf = evaluate(&s, "pixel_flipping", json!({}));
    for (i, (ours, theirs)) in pf
        .curves
        .unwrap()
        .iter()
        .zip(s.fx["pixel_flipping_curves"].as_array().unwrap())
        .enumerate()
    {
        let theirs = theirs.as_array().unwrap();
        assert_eq!(ours.len(), theirs.len());
        for (o, t) in ours.iter().zip(theirs) {
            close(*o, t.as_f64(), &format!("pixel flipping curve {i}"));
        }
    }
    for name in ["region_perturbation", "selectivity"] {
        let r = evaluate(&s, name, json!({}));
        let flat: Vec<f64> = r.curves.unwrap().concat();
        let q = quantus(&s.fx, name);
        assert_eq!(flat.len(), q.len(), "{name}");
        for (o, t) in flat.iter().zip(q) {
            close(*o, t, name);
        }
    }
}

#[test]
fn batch_level_metrics_match_quantus() {
    let s = setup("a");
    let sn = evaluate(&s, "sensitivity_n", json!({}));
    let per_step: Vec<f64> =
        serde_json::from_value(sn.details["correlation_per_step"].clone()).unwrap();
    let q = quantus(&s.fx, "sensitivity_n");
    assert_eq!(per_step.len(), q.len());
    // Quantus takes softmax differences of ~1e-4 in f32 (cancellation leaves ~3 digits);
    // glassbox reads softmax in f64, so these correlations agree to 2e-3 relative.
    for (o, t) in per_step.iter().zip(q) {
        close_to(*o, t, 2e-3, "sensitivity_n");
    }

    let road = evaluate(&s, "road", json!({}));
    let ours: Vec<(u32, f64)> =
        serde_json::from_value(road.details["accuracy_per_percentage"].clone()).unwrap();
    for (p, acc) in ours {
        close(
            acc,
            s.fx["quantus"]["road"][p.to_string()].as_f64(),
            &format!("road {p}%"),
        );
    }

    let irof = evaluate(
        &s,
        "irof",
        json!({ "segmentation": { "labels": s.fx["segments"] } }),
    );
    for (o, t) in irof.per_sample.iter().zip(quantus(&s.fx, "irof")) {
        close(*o, t, "irof");
    }
}

/// Recorded noise: copy `j` of image `i` adds `noise[j][i]`.
struct Recorded(HostTensor);

impl Perturbation for Recorded {
    fn copies(&self, _: usize) -> usize {
        self.0.shape[0]
    }
    fn fill(&self, sample: usize, copy: usize, original: &[f32], out: &mut [f32]) {
        let (b, d) = (self.0.shape[1], self.0.shape[2]);
        let noise = &self.0.values[(copy * b + sample) * d..(copy * b + sample + 1) * d];
        for ((o, x), n) in out.iter_mut().zip(original).zip(noise) {
            *o = x + n;
        }
    }
}

#[test]
fn robustness_and_random_logit_match_quantus() {
    let s = setup("a_grad");
    let explain = |m: &dyn Classifier, x: &HostTensor, t: &[usize]| gradient(m, x, t);
    let ctx = Context::new(&s.model, &s.dev)
        .with_explainer(&explain)
        .with_engine(PerturbationEngine::new(5));
    let noise = Recorded(host(&s.fx["noise"]));
    let max = MaxSensitivity {
        nr_samples: 4,
        ..Default::default()
    }
    .evaluate_with(&ctx, &s.batch, &noise)
    .unwrap();
    let avg = AvgSensitivity {
        nr_samples: 4,
        ..Default::default()
    }
    .evaluate_with(&ctx, &s.batch, &noise)
    .unwrap();
    for (r, name) in [(max, "max_sensitivity"), (avg, "avg_sensitivity")] {
        for (o, t) in r.per_sample.iter().zip(quantus(&s.fx, name)) {
            close(*o, t, name);
        }
    }
    let off: Vec<usize> = s.fx["random_logit_off"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let rl = RandomLogit {
        quantus_compat: true,
        ..Default::default()
    }
    .evaluate_with_classes(&ctx, &s.batch, &off)
    .unwrap();
    for (o, t) in rl.per_sample.iter().zip(quantus(&s.fx, "random_logit")) {
        close(*o, t, "random_logit");
    }
}

#[test]
fn correct_mode_differs_where_quantus_is_defective() {
    let s = setup("a");
    let ctx = Context::new(&s.model, &s.dev);
    // Empty mask: NaN by default, a hit in Quantus.
    let pg = PointingGame::default().evaluate(&ctx, &s.batch).unwrap();
    assert!(pg.per_sample[5].is_nan());
    assert_eq!(quantus(&s.fx, "pointing_game")[5], Some(1.0));
    // Monotonicity: Quantus' curve is constant (always 1); the real insertion curve is not.
    let m = Monotonicity {
        features_in_step: 8,
        ..Default::default()
    }
    .evaluate(&ctx, &s.batch)
    .unwrap();
    let curves = m.curves.unwrap();
    assert!(curves.iter().any(|c| c.windows(2).any(|w| w[0] != w[1])));
    let compat = Monotonicity {
        features_in_step: 8,
        quantus_compat: true,
        ..Default::default()
    }
    .evaluate(&ctx, &s.batch)
    .unwrap();
    assert!(
        compat
            .curves
            .unwrap()
            .iter()
            .all(|c| c.windows(2).all(|w| w[0] == w[1]))
    );
}
