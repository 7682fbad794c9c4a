//! The model's loss and every parameter gradient against a from-spec PyTorch implementation
//! (fixtures written by `xtask/peers/programs.py gradients`; see its header), for two shapes:
//! the induction task's (the reference's seed-6 initial parameters) and a small double-hist
//! shape that has every component (categorical and numerical heads, categorical and numerical
//! MLPs, padding, a masked class). 64 sequences each, noise-free softmax sampling at τ = 3, 1
//! and 0.05. The initial parameters are read from the fixtures' safetensors files through
//! [`TransformerProgram::load_parameters`], which also checks the parameter names and layouts.
//!
//! Agreement: the loss to 1e-4 relative; each gradient to 1e-4 relative, or, for small
//! gradients that are sums of nearly cancelling terms (whose float32 rounding differs between
//! the libraries), to 1e-6 of the case's largest gradient norm. Observed: gradients of norm
//! above 1e-2 agree to 2.2e-5 relative (above 1e-3: 1.4e-5 at τ = 3 and 1, 5.6e-4 at
//! τ = 0.05); the worst small one (norm 1e-5, τ = 0.05) differs by 6 %, i.e. 7e-7 absolute.
//! Gradients below 1e-9 in norm are rounding noise and are skipped.

use std::collections::BTreeMap;

use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use glassbox_programs::train::program_loss;
use glassbox_programs::{ProgramConfig, Sampling, TransformerProgram};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture() -> Value {
    let text =
        std::fs::read_to_string(format!("{FIXTURES}/program_gradients.json")).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("integer"))
        .collect()
}

fn count(shape: &Value, key: &str) -> usize {
    shape[key].as_u64().expect("count") as usize
}

/// The case's shape as a glassbox config.
fn config(shape: &Value) -> ProgramConfig {
    ProgramConfig {
        d_var: count(shape, "k"),
        n_layers: count(shape, "layers"),
        n_heads_cat: count(shape, "hc"),
        n_heads_num: count(shape, "hn"),
        n_cat_mlps: count(shape, "mc"),
        n_num_mlps: count(shape, "mn"),
        d_mlp: count(shape, "d_mlp"),
        n_ctx: count(shape, "n"),
        vocab: serde_json::from_value(shape["vocab"].clone()).expect("vocab"),
        classes: serde_json::from_value(shape["classes"].clone()).expect("classes"),
        autoregressive: shape["causal"].as_bool().expect("causal"),
        unembed_mask: shape["masked"].as_bool().expect("masked"),
    }
}

fn initial_model(name: &str, shape: &Value) -> TransformerProgram {
    TransformerProgram::init(&config(shape), &Device::flex())
        .expect("valid config")
        .load_parameters(format!("{FIXTURES}/{name}_init.safetensors"))
        .expect("strict load of the reference initialisation")
}

/// Every float parameter's gradient, by parameter path (the module names entered on the way).
struct GradientsByPath<'a> {
    grads: &'a GradientsParams,
    path: Vec<String>,
    out: BTreeMap<String, Vec<f32>>,
}

impl ModuleVisitor for GradientsByPath<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let values = g
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32");
            self.out.insert(self.path.join("."), values);
        }
    }
}

fn relative_difference(ours: &[f32], theirs: &[f32]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let diff: f64 = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    diff / norm(theirs).max(1e-30)
}

fn norm(x: &[f32]) -> f64 {
    x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn loss_and_gradients_match_pytorch() {
    let fixture = fixture();
    let device = Device::flex().autodiff();
    for (name, case) in fixture["cases"].as_object().expect("cases") {
        let shape = &case["shape"];
        let n = count(shape, "n");
        let tokens = ints(&case["tokens"]);
        let targets = ints(&case["targets"]);
        let b = tokens.len() / n;
        for t in case["temperatures"].as_array().expect("temperatures") {
            let tau = t["tau"].as_f64().expect("tau");
            let model = initial_model(name, shape).to_device(&device).train();
            let x = Tensor::<2, Int>::from_data(TensorData::new(tokens.clone(), [b, n]), &device);
            let y = Tensor::<2, Int>::from_data(TensorData::new(targets.clone(), [b, n]), &device);
            let logits = model.forward(x, &Sampling::Softmax { tau }).logits;
            let loss = program_loss(logits, y);
            let value = loss.clone().into_scalar::<f32>() as f64;
            let expected = t["loss"].as_f64().expect("loss");
            assert!(
                (value - expected).abs() < 1e-4 * expected.abs(),
                "{name} tau {tau}: loss {value} vs {expected}"
            );
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let mut visitor = GradientsByPath {
                grads: &grads,
                path: Vec::new(),
                out: BTreeMap::new(),
            };
            model.visit(&mut visitor);
            let theirs = t["grads"].as_object().expect("gradients");
            let largest = theirs
                .values()
                .map(|g| norm(&floats(g)))
                .fold(0.0f64, f64::max);
            let mut checked = 0;
            for (path, g) in theirs {
                let g = floats(g);
                let ours = visitor.out.get(path).unwrap_or_else(|| {
                    panic!(
                        "{name}: no gradient for {path}; have {:?}",
                        visitor.out.keys().collect::<Vec<_>>()
                    )
                });
                if norm(&g) <= 1e-9 {
                    continue;
                }
                let rel = relative_difference(ours, &g);
                let slack = 1e-6 * largest / norm(&g);
                assert!(
                    rel < 1e-4 + slack,
                    "{name} tau {tau} {path}: relative difference {rel}"
                );
                checked += 1;
            }
            assert!(
                checked * 2 >= theirs.len(),
                "{name} tau {tau}: only {checked} of {} gradients checked",
                theirs.len()
            );
        }
    }
}

/// A file made for another shape is refused with the offending tensor named.
#[test]
fn initialisation_for_another_shape_is_a_typed_error() {
    let fixture = fixture();
    let mut config = config(&fixture["cases"]["induction"]["shape"]);
    config.n_layers = 3;
    let err = TransformerProgram::init(&config, &Device::flex())
        .expect("config")
        .load_parameters(format!("{FIXTURES}/induction_init.safetensors"))
        .expect_err("a 2-layer file cannot fill a 3-layer model");
    let text = err.to_string();
    assert!(
        matches!(err, glassbox_core::Error::Checkpoint { .. }) && text.contains("unembed"),
        "{text}"
    );
    let missing = TransformerProgram::init(&config, &Device::flex())
        .expect("config")
        .load_parameters("/nonexistent/init.safetensors");
    assert!(missing.is_err());
}
