//! Helpers shared by the reference-fixture tests: nested JSON arrays flattened to numbers, and
//! tensors read back to the host.

// Each test binary includes this module and uses a subset of it.
#![allow(dead_code)]

use burn::prelude::*;
use serde_json::Value;

/// Every number of a (nested) JSON array, in order, as f64.
pub fn floats64(v: &Value) -> Vec<f64> {
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            x => out.push(x.as_f64().expect("a number")),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

/// [`floats64`] as f32.
pub fn floats(v: &Value) -> Vec<f32> {
    floats64(v).into_iter().map(|x| x as f32).collect()
}

/// A tensor's values on the host.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

/// A tensor from a fixture entry `{"shape": [...], "values": [...]}`.
pub fn tensor<const D: usize>(v: &Value, dev: &Device) -> Tensor<D> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("a shape array")
        .iter()
        .map(|s| s.as_u64().expect("a dimension") as usize)
        .collect();
    Tensor::from_data(TensorData::new(floats(&v["values"]), shape), dev)
}

/// Every element within `tol` of the reference, relative to `1 + |reference|`.
pub fn assert_close(name: &str, got: Vec<f32>, want: Vec<f32>, tol: f32) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tol,
        "{name}: worst relative error {worst:e} > {tol:e}"
    );
}

/// The fixture's per-sample target classes.
pub fn per_sample_target(v: &Value) -> glassbox_core::Target {
    let classes = v
        .as_array()
        .expect("a target array")
        .iter()
        .map(|c| c.as_u64().expect("a class index") as usize)
        .collect();
    glassbox_core::Target::PerSample(classes)
}
