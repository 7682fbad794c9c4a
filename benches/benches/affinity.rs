//! The Affinity Explainer's cost against a plain forward pass and against IG-50 over the
//! support images, on a `MatchingSegmenter` (SmallCnn backbone, flex), one FSS-Fashion test
//! episode of 64×64 scenes, 1-shot and 5-shot. Issue 7's goals: explain / forward ≤ 1.2 and
//! IG-50 / explain ≥ 30.
//!
//! Every timed call reads its result back to the host, so lazy device work is included.

use burn::prelude::*;
use criterion::{Criterion, criterion_main};
use glassbox::affinity::{
    AffinityExplainer, AffinityExplainerConfig, Aggregation, MatchingSegmenterConfig, Region,
    Variant,
};
use glassbox::attribution::{SupportAttributor, SupportMethod};
use glassbox::core::{FewShotSegmenter, HostTensor};
use glassbox::data::fashion_mnist::{MEAN, STD};
use glassbox::data::fss::{EpisodeSampler, FoldRole, SceneConfig, episode_batch};
use glassbox::data::{FashionMnist, Split};

fn bench(c: &mut Criterion) {
    let dev = Device::flex();
    dev.seed(0);
    let model = MatchingSegmenterConfig::default().init(&dev).valid();
    let test = FashionMnist::embedded(Split::Test).expect("embedded data");
    for shots in [1usize, 5] {
        let sampler =
            EpisodeSampler::new(&test, SceneConfig::default(), 0, FoldRole::Test, shots, 7)
                .expect("sampler");
        let input = episode_batch(&sampler.episodes(0, 1), [MEAN, STD], &dev)
            .expect("episode")
            .input;
        let mut g = c.benchmark_group(format!("affinity_{shots}shot"));
        g.sample_size(10);
        g.bench_function("forward", |b| {
            b.iter(|| {
                HostTensor::from_tensor(&model.segment(
                    input.query.clone(),
                    input.support_images.clone(),
                    input.support_masks.clone(),
                ))
            })
        });
        for variant in [Variant::Unmasked, Variant::Masked] {
            let explainer = AffinityExplainer::new(AffinityExplainerConfig::new(variant));
            g.bench_function(format!("explain_{}", variant.method_name()), |b| {
                b.iter(|| {
                    let out = explainer
                        .explain(&model, &input, &Region::Predicted)
                        .unwrap();
                    HostTensor::from_tensor(&out.attribution.support)
                })
            });
        }
        // Without the feature-ablation decoder re-runs (uniform layer weights).
        let mean = AffinityExplainer::new(
            AffinityExplainerConfig::new(Variant::Masked).with_aggregation(Aggregation::Mean),
        );
        g.bench_function("explain_affinity_masked_mean_weights", |b| {
            b.iter(|| {
                let out = mean.explain(&model, &input, &Region::Predicted).unwrap();
                HostTensor::from_tensor(&out.attribution.support)
            })
        });
        let ig = SupportAttributor::new(SupportMethod::IntegratedGradients { steps: 50 });
        g.bench_function("integrated_gradients_50", |b| {
            b.iter(|| HostTensor::from_tensor(&ig.attribute(&model, &input, None).unwrap().support))
        });
        g.finish();
    }
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
