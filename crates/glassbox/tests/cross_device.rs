//! The same model and input give the same logits on every compiled backend.
//!
//! With only `flex` compiled this checks flex against itself through a weight round trip;
//! build with `--features ndarray` (or `wgpu`/`cuda` on a machine that has them) to compare
//! real backends: `cargo test -p glassbox --features ndarray --test cross_device`.

use burn::module::Module;
use burn::prelude::*;
use glassbox::backbones::SmallCnnConfig;
use glassbox::device::{compiled_backends, parse_device};

#[test]
fn small_cnn_logits_agree_across_backends() {
    let reference_device = Device::flex();
    reference_device.seed(3);
    let model = SmallCnnConfig::new()
        .with_widths([4, 8, 16])
        .init(&reference_device)
        .valid();
    let input: Vec<f32> = (0..2 * 28 * 28)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let x = |d: &Device| Tensor::<4>::from_data(TensorData::new(input.clone(), [2, 1, 28, 28]), d);
    let reference: Vec<f32> = model
        .forward(x(&reference_device))
        .into_data()
        .try_into_vec_as()
        .unwrap();
    let bytes = model.clone().into_record().into_bytes().unwrap();

    for name in compiled_backends() {
        let device = parse_device(name).unwrap();
        let record = burn::store::ModuleRecord::from_bytes(bytes.clone()).unwrap();
        let on_device = SmallCnnConfig::new()
            .with_widths([4, 8, 16])
            .init(&device)
            .load_record(record);
        let got: Vec<f32> = on_device
            .forward(x(&device))
            .into_data()
            .try_into_vec_as()
            .unwrap();
        let max_diff = got
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "{name}: max |Δlogit| = {max_diff}");
    }
}
