//! SmallCnn speed on flex: inference on a batch, and one full training step (forward,
//! backward, AdamW update) — the unit that dominates `glassbox train`.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use glassbox::backbones::SmallCnnConfig;
use glassbox::data::{BatchConfig, FashionMnist, Split};

fn bench(c: &mut Criterion) {
    let base = Device::flex();
    let ad = base.clone().autodiff();
    let data = FashionMnist::embedded(Split::Test).expect("embedded data");
    let indices: Vec<usize> = (0..64).collect();
    let batching = BatchConfig::new(64).with_normalize(0.286, 0.353);

    let model = SmallCnnConfig::new().init(&base).valid();
    let batch = batching.batch_of(&data, &indices, &base).unwrap();
    c.bench_function("small_cnn/inference_batch64", |b| {
        b.iter(|| {
            let logits = model.forward(batch.images.clone());
            logits.into_data()
        })
    });

    let mut model = SmallCnnConfig::new().init(&ad);
    let mut optim = AdamWConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let batch = batching.batch_of(&data, &indices, &ad).unwrap();
    let mut group = c.benchmark_group("small_cnn");
    group.sample_size(20);
    group.bench_function("train_step_batch64", |b| {
        b.iter(|| {
            let loss = loss_fn.forward(model.forward(batch.images.clone()), batch.labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-3, model.clone(), grads);
        })
    });
    group.finish();
}

// criterion's macros generate undocumented functions.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, bench);
}
criterion_main!(harness::benches);
