//! Model Parameter Randomisation on a real backbone: the layer cascade and the MPRT metric.

use burn::module::Module;
use burn::prelude::*;
use glassbox_backbones::SmallCnnConfig;
use glassbox_core::{Classifier, FeatureClassifier, HostTensor, Result};
use glassbox_metrics::*;

fn gradient(m: &dyn Classifier, x: &HostTensor, t: &[usize]) -> Result<HostTensor> {
    let dev = Device::default();
    let xt = x.to_tensor::<4>(&dev)?.autodiff().require_grad();
    let logits = m.logits(xt.clone());
    let k = logits.dims()[1];
    let idx: Vec<i64> = t.iter().map(|&c| c as i64).collect();
    let sel = Tensor::<1, Int>::from_data(TensorData::new(idx, [t.len()]), &logits.device())
        .one_hot::<2>(k)
        .float();
    let g = xt.grad(&(logits * sel).sum().backward()).expect("gradient");
    Ok(HostTensor::from_tensor(&g))
}

#[test]
fn cascade_randomises_one_more_layer_each_step() {
    let dev = Device::default();
    dev.seed(1);
    let model = SmallCnnConfig::new().init(&dev).valid();
    let layers = parameter_layers(&model);
    assert!(layers.len() >= 5, "{layers:?}");
    let fc = layers.last().unwrap().clone();
    let models = cascade(&model, false, 7);
    assert_eq!(models.len(), layers.len());
    assert_eq!(models[0].0, fc);
    // Only the named layer changed in the first model of the cascade: a forward pass differs,
    // but the features before the head do not.
    let x = Tensor::<4>::random(
        [2, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let (_, top) = &models[0];
    let same = model
        .features(x.clone())
        .sub(top.features(x.clone()))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert_eq!(same, 0.0);
    let diff = model
        .logits(x.clone())
        .sub(top.logits(x.clone()))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(diff > 1e-4);
    // Reproducible from the seed.
    let again = cascade(&model, false, 7);
    let d = again[2]
        .1
        .logits(x.clone())
        .sub(models[2].1.logits(x))
        .abs()
        .max()
        .into_scalar::<f32>();
    assert_eq!(d, 0.0);
}

#[test]
fn mprt_correlations_drop_as_layers_are_randomised() {
    let dev = Device::default();
    dev.seed(2);
    let model = SmallCnnConfig::new().init(&dev).valid();
    let x = HostTensor::from_tensor(&Tensor::<4>::random(
        [3, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    ));
    let a = gradient(&model, &x, &[0, 1, 2]).unwrap();
    let batch = MetricBatch::new(x, a, vec![0, 1, 2]).unwrap();
    let models = cascade(&model, false, 3);
    let refs: Vec<(String, &dyn Classifier)> = models
        .iter()
        .map(|(n, m)| (n.clone(), m as &dyn Classifier))
        .collect();
    let explain = gradient;
    let ctx = Context::new(&model, &dev)
        .with_explainer(&explain)
        .with_randomised(refs);
    let r = Mprt::default().evaluate(&ctx, &batch).unwrap();
    let original: Vec<f64> = serde_json::from_value(r.details["original"].clone()).unwrap();
    // A fresh explanation of the same model: rank correlation 1 up to the order in which the
    // multi-threaded kernels sum (which can swap a few near-equal gradient ranks).
    assert!(
        original.iter().all(|c| (c - 1.0).abs() < 1e-3),
        "{original:?}"
    );
    assert!(r.per_sample.iter().all(|c| (-1.0..=1.0).contains(c)));
    assert!(
        r.aggregate < 0.9,
        "randomising every layer should decorrelate: {}",
        r.aggregate
    );
    // Without a cascade: a typed error.
    let bare = Context::new(&model, &dev).with_explainer(&explain);
    assert!(Mprt::default().evaluate(&bare, &batch).is_err());
}
