//! Attribution speed on a SmallCnn (flex), 8 Fashion-MNIST test images, predicted class:
//! IG-50, SmoothGrad-50, Occlusion (4×4 window, stride 2), Grad-CAM and Saliency (the
//! configurations the Captum comparison of issue 4 times), and XRAI and LIME. Plus XRAI's host
//! work alone (segmenting and ranking one 64×64 image given its base attribution).

use burn::module::Module;
use burn::prelude::*;
use criterion::{Criterion, criterion_main};
use glassbox::attribution::{
    GradCam, IntegratedGradients, Lime, Occlusion, Saliency, SmoothGrad, Xrai,
};
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
    g.bench_function("xrai_ig50", |b| {
        let xrai = Xrai::default().with_steps(50);
        b.iter(|| xrai.attribute(&model, x.clone(), &t).unwrap())
    });
    g.bench_function("lime_50", |b| {
        b.iter(|| Lime::default().attribute(&model, x.clone(), &t).unwrap())
    });
    g.finish();

    // XRAI's host work for one 64×64 image: 6 Felzenszwalb scales at 224×224, dilation,
    // greedy ranking.
    let side = 64;
    let wave =
        |p: usize, a: f32, b: f32| ((p / side) as f32 * a).sin() + ((p % side) as f32 * b).cos();
    let image: Vec<f32> = (0..side * side).map(|p| wave(p, 0.21, 0.13)).collect();
    let base: Vec<f32> = (0..side * side).map(|p| wave(p, 0.05, 0.31)).collect();
    let image = Tensor::<4>::from_data(TensorData::new(image, [1, 1, side, side]), &dev);
    let base = Tensor::<4>::from_data(TensorData::new(base, [1, 1, side, side]), &dev);
    let mut g = c.benchmark_group("xrai_host_64px");
    g.sample_size(10);
    g.bench_function("segments_and_ranking", |b| {
        let xrai = Xrai::default();
        b.iter(|| xrai.regions(image.clone(), base.clone()).unwrap())
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
