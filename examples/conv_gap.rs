//! Minimal benchmark of the convolutions that dominate ResNet-18 at 64×64 (batch 16), on flex:
//! each of the network's distinct 3×3 conv shapes, forward and forward+backward, median of 9.
//! `xtask/peers/conv_gap.py` runs the same shapes in PyTorch; docs/backbones.md records both,
//! so the backend gap is tracked separately from our own code.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

#[path = "common/timing.rs"]
mod timing;

fn median(f: impl FnMut()) -> f64 {
    timing::median_seconds(9, f)
}

fn main() {
    let base = Device::flex();
    // (channels, spatial side) of ResNet-18's stages at 64×64 input.
    let shapes = [(64usize, 16usize), (128, 8), (256, 4), (512, 2)];
    let mut out = serde_json::Map::new();
    for (c, s) in shapes {
        let opts = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let x = Tensor::<4>::random([16, c, s, s], Distribution::Normal(0.0, 1.0), &base);
        let w = Tensor::<4>::random([c, c, 3, 3], Distribution::Normal(0.0, 0.05), &base);
        let fwd = median(|| {
            conv2d(x.clone(), w.clone(), None, opts()).into_data();
        });
        let xa = x.clone().autodiff().require_grad();
        let wa = w.clone().autodiff().require_grad();
        let bwd = median(|| {
            let y = conv2d(xa.clone(), wa.clone(), None, opts());
            let g = y.sum().backward();
            xa.grad(&g).unwrap().into_data();
        });
        out.insert(format!("conv3x3_c{c}_s{s}/forward"), fwd.into());
        out.insert(format!("conv3x3_c{c}_s{s}/fwd_bwd"), bwd.into());
    }
    println!("{}", serde_json::Value::Object(out));
}
