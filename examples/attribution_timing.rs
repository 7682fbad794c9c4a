//! Times glassbox-attribution with the configurations `xtask/peers/attribution.py timing`
//! uses for Captum, and prints JSON seconds per call (median of 5 after one warm-up):
//! SmallCnn (random weights, 8 random 1×28×28 inputs) and ResNet-18 (random weights, 10
//! classes, 4 random 3×64×64 inputs; keys prefixed `resnet18/`).
//! `cargo xtask compare attribution` prints the ratios.

use burn::module::Module;
use burn::prelude::*;
use glassbox::attribution::{
    DeepLift, GradCam, IntegratedGradients, Occlusion, Saliency, SmoothGrad,
};
use glassbox::backbones::{ResNetConfig, ResNetDepth, SmallCnnConfig};
use glassbox::core::Target;

#[path = "common/timing.rs"]
mod timing;

fn median_seconds(f: impl FnMut()) -> f64 {
    timing::median_seconds(5, f)
}

fn main() {
    let dev = Device::flex();
    dev.seed(0);
    let model = SmallCnnConfig::new().init(&dev).valid();
    let x = Tensor::<4>::random(
        [8, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let t = Target::Predicted;
    // Optional first argument: rows per forward/backward pass for IG and SmoothGrad.
    let batch: Option<usize> = std::env::args().nth(1).and_then(|a| a.parse().ok());
    let occlusion = Occlusion::new([4, 4], [2, 2]);
    let smoothgrad = SmoothGrad {
        stdev: 0.15,
        samples: 50,
        batch_size: batch,
        ..SmoothGrad::default()
    };
    let ig = IntegratedGradients {
        batch_size: batch,
        ..IntegratedGradients::default()
    };
    let run = |f: &dyn Fn()| median_seconds(f);
    let json = serde_json::json!({
        "saliency": run(&|| { Saliency::default().attribute(&model, x.clone(), &t).unwrap(); }),
        "integrated_gradients_50": run(&|| { ig.attribute(&model, x.clone(), &t).unwrap(); }),
        "smoothgrad_50": run(&|| { smoothgrad.attribute(&model, x.clone(), &t).unwrap(); }),
        "occlusion_4x4_s2": run(&|| { occlusion.attribute(&model, x.clone(), &t).unwrap(); }),
        "grad_cam": run(&|| { GradCam::default().attribute(&model, x.clone(), &t).unwrap(); }),
        "deep_lift": run(&|| { DeepLift::default().attribute(&model, x.clone(), &t).unwrap(); }),
    });
    let mut json = json;
    let resnet = ResNetConfig::new(ResNetDepth::ResNet18)
        .with_num_classes(Some(10))
        .init(&dev)
        .valid();
    let xr = Tensor::<4>::random(
        [4, 3, 64, 64],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let timings = [
        (
            "resnet18/integrated_gradients_50",
            run(&|| {
                ig.attribute(&resnet, xr.clone(), &t).unwrap();
            }),
        ),
        (
            "resnet18/smoothgrad_50",
            run(&|| {
                smoothgrad.attribute(&resnet, xr.clone(), &t).unwrap();
            }),
        ),
        (
            "resnet18/occlusion_8x8_s4",
            run(&|| {
                Occlusion::new([8, 8], [4, 4])
                    .attribute(&resnet, xr.clone(), &t)
                    .unwrap();
            }),
        ),
        (
            "resnet18/grad_cam",
            run(&|| {
                GradCam::default()
                    .attribute(&resnet, xr.clone(), &t)
                    .unwrap();
            }),
        ),
    ];
    for (k, v) in timings {
        json[k] = serde_json::json!(v);
    }
    println!("{json}");
}
