//! Times glassbox-metrics with the configurations `xtask/peers/metrics.py timing` uses for
//! Quantus, and prints JSON seconds per call (median of 3 after one warm-up; Max-Sensitivity
//! once): SmallCnn (random weights, 256 random 1×28×28 inputs) and ResNet-18 (random weights,
//! 10 classes, 64 random 3×64×64 inputs), both explained by their signed input gradient.
//! Metrics: Pixel-Flipping with ~50 steps (16 / 256 features per step), Faithfulness Correlation (100 runs of 224 features),
//! Max-Sensitivity (10 samples), Sparseness. `cargo xtask compare metrics` prints the ratios.

use burn::module::Module;
use burn::prelude::*;
use glassbox::attribution::Saliency;
use glassbox::backbones::{ResNetConfig, ResNetDepth, SmallCnnConfig};
use glassbox::core::{Classifier, HostTensor, Result, Target};
use glassbox::metrics::{
    Context, FaithfulnessCorrelation, MaxSensitivity, Metric, MetricBatch, PerturbationEngine,
    PixelFlipping, Sparseness,
};

#[path = "common/timing.rs"]
mod timing;

fn time_case(
    name: &str,
    model: &dyn Classifier,
    x: Tensor<4>,
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    let dev = x.device();
    let gradient = |m: &dyn Classifier, x: &HostTensor, t: &[usize]| -> Result<HostTensor> {
        let a = Saliency { abs: false }.attribute(
            m,
            x.to_tensor(&dev)?,
            &Target::PerSample(t.to_vec()),
        )?;
        Ok(HostTensor::from_tensor(&a.relevance))
    };
    let targets = Target::Predicted.resolve(&model.logits(x.clone())).unwrap();
    let host = HostTensor::from_tensor(&x);
    let a = gradient(model, &host, &targets).unwrap();
    let batch = MetricBatch::new(host, a, targets).unwrap();
    let ctx = Context::new(model, &dev)
        .with_explainer(&gradient)
        .with_engine(PerturbationEngine::new(engine_batch()));
    // About 50 steps; the same features per step as the Quantus run (which needs k | H·W).
    let k = if batch.input_len() == 784 { 16 } else { 256 };
    let metrics: Vec<(&str, Box<dyn Metric>, usize)> = vec![
        (
            "pixel_flipping_50",
            Box::new(PixelFlipping::default().with_features_in_step(k)),
            3,
        ),
        (
            "faithfulness_correlation",
            Box::new(FaithfulnessCorrelation::default()),
            3,
        ),
        (
            "max_sensitivity_10",
            Box::new(MaxSensitivity {
                nr_samples: 10,
                ..Default::default()
            }),
            1,
        ),
        ("sparseness", Box::new(Sparseness::default()), 3),
    ];
    let only = std::env::args().nth(2);
    for (key, metric, repeats) in metrics {
        if only.as_deref().is_some_and(|o| !key.starts_with(o)) {
            continue;
        }
        let s = timing::median_seconds(repeats, || {
            metric.evaluate(&ctx, &batch).unwrap();
        });
        out.insert(format!("{name}/{key}"), s.into());
    }
}

/// Optional first argument: perturbed copies per forward pass (default 256). An optional
/// second argument times only the metrics whose key starts with it.
fn engine_batch() -> usize {
    std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256)
}

fn main() {
    let dev = Device::flex();
    dev.seed(0);
    let mut out = serde_json::Map::new();
    let small = SmallCnnConfig::new().init(&dev).valid();
    let x = Tensor::<4>::random(
        [256, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    time_case("small_cnn", &small, x, &mut out);
    let resnet = ResNetConfig::new(ResNetDepth::ResNet18)
        .with_num_classes(Some(10))
        .init(&dev)
        .valid();
    let x = Tensor::<4>::random(
        [64, 3, 64, 64],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    time_case("resnet18", &resnet, x, &mut out);
    println!("{}", serde_json::Value::Object(out));
}
