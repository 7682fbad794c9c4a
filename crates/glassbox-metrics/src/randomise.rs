//! Re-initialising layers of any burn module, for Model Parameter Randomisation.
//!
//! A "layer" is a module that owns parameters directly (a convolution, a linear layer, a
//! batch norm), named by its path (`blocks.0.conv`), in definition order — the modules Quantus
//! finds by `reset_parameters`. Re-initialisation follows PyTorch's defaults in spirit:
//! weights of rank ≥ 2 from `U(−1/√fan_in, 1/√fan_in)`, rank-1 `weight`s (norm scales) to 1,
//! other rank-1 parameters (biases, norm shifts) to 0. Values are drawn on the host from a seed
//! and the layer's index, so a cascade is reproducible on every device. Batch-norm running
//! statistics are not parameters and are kept.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use glassbox_core::rng::SplitMix64;

struct Layers {
    path: Vec<String>,
    found: Vec<String>,
}

impl Layers {
    fn owner(&self) -> String {
        // The innermost entered name is the parameter itself; its owner is the rest.
        self.path[..self.path.len().saturating_sub(1)].join(".")
    }
}

impl ModuleVisitor for Layers {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<D>>) {
        let owner = self.owner();
        if self.found.last() != Some(&owner) && !self.found.contains(&owner) {
            self.found.push(owner);
        }
    }
}

/// The parameter-owning layers of `model`, in definition order (bottom-up).
pub fn parameter_layers<M: Module>(model: &M) -> Vec<String> {
    let mut v = Layers {
        path: Vec::new(),
        found: Vec::new(),
    };
    model.visit(&mut v);
    v.found
}

struct Randomiser<'a> {
    path: Vec<String>,
    layers: &'a [String],
    all: Vec<String>,
    seed: u64,
}

impl ModuleMapper for Randomiser<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let owner = self.path[..self.path.len().saturating_sub(1)].join(".");
        if !self.layers.contains(&owner) {
            return param;
        }
        let name = self.path.last().cloned().unwrap_or_default();
        let index = self.all.iter().position(|l| *l == owner).unwrap_or(0);
        let stream = (index as u64) << 8 | name.len() as u64;
        let seed = self.seed;
        param.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let values: Vec<f32> = if D >= 2 {
                let fan_in: usize = dims[1..].iter().product();
                let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
                let mut rng = SplitMix64::derive(seed, stream);
                (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect()
            } else if name == "weight" || name == "gamma" {
                vec![1.0; n]
            } else {
                vec![0.0; n]
            };
            Tensor::from_data(TensorData::new(values, dims.to_vec()), &t.device())
        })
    }
}

/// `model` with the parameters of `layers` (paths from [`parameter_layers`]) re-initialised.
pub fn randomise_layers<M: Module>(model: M, layers: &[String], seed: u64) -> M {
    let all = parameter_layers(&model);
    let mut r = Randomiser {
        path: Vec::new(),
        layers,
        all,
        seed,
    };
    model.map(&mut r)
}

/// Quantus' cascading randomisation (top-down by default): the k-th model has the last k
/// layers (or, `bottom_up`, the first k) re-initialised. Returns (layer name, model) pairs for
/// [`crate::Context::with_randomised`].
pub fn cascade<M: Module + Clone>(model: &M, bottom_up: bool, seed: u64) -> Vec<(String, M)> {
    let mut layers = parameter_layers(model);
    if !bottom_up {
        layers.reverse();
    }
    (1..=layers.len())
        .map(|k| {
            (
                layers[k - 1].clone(),
                randomise_layers(model.clone(), &layers[..k], seed),
            )
        })
        .collect()
}
