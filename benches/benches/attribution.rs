//! Attribution speed on a SmallCnn (flex), 8 Fashion-MNIST test images, predicted class:
//! IG-50, SmoothGrad-50, Occlusion (4×4 window, stride 2), Grad-CAM and Saliency.
//! These are the configurations the Captum comparison of issue 4 will time.

use burn::module::Module;
use burn::prelude::*;
use criterion::{Criterion, criterion_main};
use glassbox::attribution::{GradCam, IntegratedGradients, Occlusion, Saliency, SmoothGrad};
use glassbox::backbones::SmallCnnConfig;
use glassbox::core::Target;
use glassbox::data::{BatchConfig, FashionMnist, Split};

fn bench(c: &mut Criterion) {
    let dev = Device::flex();
    dev.seed(0);
    let data = FashionMnist::embedded(Split::Test).expect("embedded data");
    let x = BatchConfig::new(8)
        .with_normalize(0.286, 0.353)
        .batch_of(&data, &(0..8).collect::<Vec<_>>(), &dev)
        .unwrap()
        .images;
    let model = SmallCnnConfig::new().init(&dev).valid();
    let t = Target::Predicted;
    let mut g = c.benchmark_group("attribution_small_cnn_batch8");
    g.sample_size(10);
    g.bench_function("saliency", |b| {
        b.iter(|| {
            Saliency::default()
                .attribute(&model, x.clone(), &t)
                .unwrap()
        })
    });
    g.bench_function("integrated_gradients_50", |b| {
        b.iter(|| {
            IntegratedGradients::default()
                .attribute(&model, x.clone(), &t)
                .unwrap()
        })
    });
    g.bench_function("smoothgrad_50", |b| {
        b.iter(|| {
            SmoothGrad::default()
                .attribute(&model, x.clone(), &t)
                .unwrap()
        })
    });
    g.bench_function("occlusion_4x4_s2", |b| {
        b.iter(|| {
            Occlusion::default()
                .attribute(&model, x.clone(), &t)
                .unwrap()
        })
    });
    g.bench_function("grad_cam", |b| {
        b.iter(|| GradCam::default().attribute(&model, x.clone(), &t).unwrap())
    });
    g.finish();
}

// criterion's macros generate undocumented functions.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion::criterion_group!(benches, bench);
}
criterion_main!(harness::benches);
