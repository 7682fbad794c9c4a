//! Helpers shared by the parity tests: reading fixture JSON and comparing with a reference.

use serde_json::Value;

/// The numbers of a JSON array as `f32`.
pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

/// Every element within 1e-4 of the reference, relative to `1 + |reference|`.
pub fn close(name: &str, got: Vec<f32>, want: Vec<f32>) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "{name}: worst relative error {worst:e}");
}
