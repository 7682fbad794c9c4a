//! Metric speed on a SmallCnn (flex, random weights), 32 Fashion-MNIST test images explained by
//! their signed input gradient: Pixel-Flipping with 49 steps (16 features each), Faithfulness
//! Correlation (100 runs), Max-Sensitivity (10 samples), Sparseness. `cargo xtask compare
//! metrics` times the same metrics against Quantus on larger batches.

use burn::module::Module;
use burn::prelude::*;
use criterion::{Criterion, criterion_main};
use glassbox::attribution::Saliency;
use glassbox::backbones::SmallCnnConfig;
use glassbox::core::{Classifier, HostTensor, Result, Target};
use glassbox::data::{BatchConfig, FashionMnist, Split};
use glassbox::metrics::{
    Context, FaithfulnessCorrelation, MaxSensitivity, Metric, MetricBatch, PixelFlipping,
    Sparseness,
};

fn bench(c: &mut Criterion) {
    let dev = Device::flex();
    dev.seed(0);
    let data = FashionMnist::embedded(Split::Test).expect("embedded data");
    let x = BatchConfig::new(32)
        .with_normalize(0.286, 0.353)
        .batch_of(&data, &(0..32).collect::<Vec<_>>(), &dev)
        .unwrap()
        .images;
    let model = SmallCnnConfig::new().init(&dev).valid();
    let gradient = |m: &dyn Classifier, x: &HostTensor, t: &[usize]| -> Result<HostTensor> {
        let a = Saliency { abs: false }.attribute(
            m,
            x.to_tensor(&Device::flex())?,
            &Target::PerSample(t.to_vec()),
        )?;
        Ok(HostTensor::from_tensor(&a.relevance))
    };
    let targets = Target::Predicted.resolve(&model.logits(x.clone())).unwrap();
    let host = HostTensor::from_tensor(&x);
    let a = gradient(&model, &host, &targets).unwrap();
    let batch = MetricBatch::new(host, a, targets).unwrap();
    let ctx = Context::new(&model, &dev).with_explainer(&gradient);
    let metrics: Vec<(&str, Box<dyn Metric>)> = vec![
        (
            "pixel_flipping_49",
            Box::new(PixelFlipping::default().with_features_in_step(16)),
        ),
        (
            "faithfulness_correlation",
            Box::new(FaithfulnessCorrelation::default()),
        ),
        (
            "max_sensitivity_10",
            Box::new(MaxSensitivity {
                nr_samples: 10,
                ..Default::default()
            }),
        ),
        ("sparseness", Box::new(Sparseness::default())),
    ];
    let mut g = c.benchmark_group("metrics_small_cnn_batch32");
    g.sample_size(10);
    for (name, m) in &metrics {
        g.bench_function(*name, |b| b.iter(|| m.evaluate(&ctx, &batch).unwrap()));
    }
    g.finish();
}

// criterion's macros generate undocumented functions.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion::criterion_group!(benches, bench);
}
criterion_main!(harness::benches);
