//! Times glassbox-attribution on SmallCnn (random weights, 8 random 1×28×28 inputs) with the
//! configurations `xtask/peers/attribution.py timing` uses for Captum, and prints JSON seconds
//! per call (median of 5 after one warm-up). `cargo xtask compare attribution` prints the ratios.

use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use glassbox::attribution::{GradCam, IntegratedGradients, Occlusion, Saliency, SmoothGrad};
use glassbox::backbones::SmallCnnConfig;
use glassbox::core::Target;

fn median_seconds(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
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
    });
    println!("{json}");
}
