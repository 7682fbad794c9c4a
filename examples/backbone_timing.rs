//! Times backbone forward passes and training steps (forward, backward, AdamW) on flex and
//! prints JSON seconds per call (median of 7 after a warm-up): SmallCnn at batch 64 on 1×28×28
//! and ResNet-18 (10 classes) at batch 16 on 3×64×64. `cargo xtask compare backbones` runs the
//! same in PyTorch and prints the ratios.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use glassbox::backbones::{ResNet, ResNetConfig, ResNetDepth, SmallCnn, SmallCnnConfig};

#[path = "common/timing.rs"]
mod timing;

fn median(f: impl FnMut()) -> f64 {
    timing::median_seconds(7, f)
}

/// Forward + training-step timings for one model type.
fn time_model<M: Module + Clone>(
    name: &str,
    build: impl Fn(&Device) -> M,
    forward: impl Fn(&M, Tensor<4>) -> Tensor<2>,
    shape: [usize; 4],
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    let base = Device::flex();
    base.seed(0);
    let ad = base.clone().autodiff();
    let valid = build(&base).valid();
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &base);
    let fwd = median(|| {
        forward(&valid, x.clone()).into_data();
    });
    let mut model = build(&ad);
    let mut optim = AdamWConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let xa = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad);
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64; shape[0]], [shape[0]]), &ad);
    let step = median(|| {
        let loss = loss_fn.forward(forward(&model, xa.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
    });
    out.insert(format!("{name}/forward"), fwd.into());
    out.insert(format!("{name}/train_step"), step.into());
}

fn main() {
    let mut out = serde_json::Map::new();
    time_model(
        "small_cnn_b64_28",
        |d| SmallCnnConfig::new().init(d),
        |m: &SmallCnn, x| m.forward(x),
        [64, 1, 28, 28],
        &mut out,
    );
    time_model(
        "resnet18_b16_64",
        |d| {
            ResNetConfig::new(ResNetDepth::ResNet18)
                .with_num_classes(Some(10))
                .init(d)
        },
        |m: &ResNet, x| m.forward(x),
        [16, 3, 64, 64],
        &mut out,
    );
    println!("{}", serde_json::Value::Object(out));
}
