//! Model and training settings, with the paper's Table 1 configuration per task.

use glassbox_core::{Error, Result};
use glassbox_data::rasp::{PAD, Task, TaskData, UNK};
use serde::{Deserialize, Serialize};

/// Architecture of a Transformer Program (the reference's `--d_var`, `--n_layers`, ...). The
/// embedding is the fixed one-hot token table, positions are one-hot and the only numerical
/// input is the constant `ones` (the RASP settings `--one_hot_embed --count_only`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramConfig {
    /// Cardinality `k` of every categorical variable (also the head width).
    pub d_var: usize,
    /// Number of layers.
    pub n_layers: usize,
    /// Categorical attention heads per layer.
    pub n_heads_cat: usize,
    /// Numerical attention heads per layer.
    pub n_heads_num: usize,
    /// Categorical MLPs per layer.
    pub n_cat_mlps: usize,
    /// Numerical MLPs per layer.
    pub n_num_mlps: usize,
    /// Hidden width of every MLP.
    pub d_mlp: usize,
    /// Padded sequence length (positions are one-hot in `d_var` dims, so `n_ctx <= d_var`).
    pub n_ctx: usize,
    /// Input vocabulary, `<pad>` first.
    pub vocab: Vec<String>,
    /// Output classes, `<pad>` first.
    pub classes: Vec<String>,
    /// Causal attention (Dyck, induction).
    pub autoregressive: bool,
    /// Never predict `<pad>` / `<unk>` (the reference's `--unembed_mask 1`).
    pub unembed_mask: bool,
}

/// How many layers, heads and MLPs a program has: the part of [`ProgramConfig`] a user
/// chooses (the paper's grid, B.2), the rest follows from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramShape {
    /// Number of layers.
    pub layers: usize,
    /// Categorical attention heads per layer.
    pub heads_cat: usize,
    /// Numerical attention heads per layer.
    pub heads_num: usize,
    /// Categorical MLPs per layer.
    pub cat_mlps: usize,
    /// Numerical MLPs per layer.
    pub num_mlps: usize,
}

impl ProgramShape {
    /// The paper's Table 1 shape for `task`. Heads and MLPs per layer are split evenly between
    /// categorical and numerical, as in the released programs; double-hist uses the released
    /// program's 4+4 heads (the table says 4 in all).
    pub fn for_task(task: Task) -> Self {
        let (layers, heads_cat, heads_num, cat_mlps, num_mlps) = match task {
            Task::Reverse => (3, 4, 4, 1, 1),
            Task::Hist => (1, 2, 2, 1, 1),
            Task::DoubleHist => (3, 4, 4, 1, 1),
            Task::Sort => (3, 4, 4, 2, 2),
            Task::MostFreq => (3, 4, 4, 2, 2),
            Task::Dyck1 => (3, 4, 4, 1, 1),
            Task::Dyck2 => (3, 2, 2, 2, 2),
            Task::Induction => (2, 1, 0, 0, 0),
        };
        Self {
            layers,
            heads_cat,
            heads_num,
            cat_mlps,
            num_mlps,
        }
    }
}

impl ProgramConfig {
    /// The paper's Table 1 configuration for `task` ([`ProgramShape::for_task`]), sized to
    /// `data`'s vocabularies.
    pub fn for_task(task: Task, data: &TaskData) -> Self {
        Self::with_shape(task, data, ProgramShape::for_task(task))
    }

    /// A program of the given shape for `task`, sized to `data`'s vocabularies (`d_var` is the
    /// reference's default: the larger of the vocabulary and the padded length; 16 for Dyck).
    pub fn with_shape(task: Task, data: &TaskData, shape: ProgramShape) -> Self {
        let ProgramShape {
            layers: l,
            heads_cat: hc,
            heads_num: hn,
            cat_mlps: mc,
            num_mlps: mn,
        } = shape;
        let d_var = match task {
            Task::Dyck1 | Task::Dyck2 => 16,
            _ => data
                .config
                .max_len
                .max(data.n_ctx)
                .max(data.input_vocab.len()),
        };
        Self {
            d_var: d_var.max(data.input_vocab.len()).max(data.n_ctx),
            n_layers: l,
            n_heads_cat: hc,
            n_heads_num: hn,
            n_cat_mlps: mc,
            n_num_mlps: mn,
            d_mlp: 64,
            n_ctx: data.n_ctx,
            vocab: data.input_vocab.clone(),
            classes: data.classes.clone(),
            autoregressive: task.autoregressive(),
            unembed_mask: task != Task::Induction,
        }
    }

    /// Categorical variables at the input of layer `l` (tokens, positions, then per earlier
    /// layer its heads, categorical MLPs and numerical MLPs).
    pub fn cat_vars_at(&self, layer: usize) -> usize {
        2 + layer * (self.n_heads_cat + self.n_cat_mlps + self.n_num_mlps)
    }

    /// Numerical variables at the input of layer `l` (`ones`, then earlier numerical heads).
    pub fn num_vars_at(&self, layer: usize) -> usize {
        1 + layer * self.n_heads_num
    }

    /// Width of the classifier input.
    pub fn classifier_width(&self) -> usize {
        self.cat_vars_at(self.n_layers) * self.d_var + self.num_vars_at(self.n_layers)
    }

    /// Class indices the classifier never predicts.
    pub fn masked_classes(&self) -> Vec<usize> {
        if !self.unembed_mask {
            return Vec::new();
        }
        (0..self.classes.len())
            .filter(|&c| self.classes[c] == PAD || self.classes[c] == UNK)
            .collect()
    }

    /// Check the configuration can be built.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Config(format!("program config: {why}")));
        if self.d_var < 2 || self.n_layers == 0 || self.d_mlp == 0 {
            return bad(format!(
                "d_var >= 2, n_layers >= 1 and d_mlp >= 1 are required (got {}, {}, {})",
                self.d_var, self.n_layers, self.d_mlp
            ));
        }
        if self.d_var > 255 {
            return bad(format!(
                "d_var {} is above 255 (generated programs carry values as u8)",
                self.d_var
            ));
        }
        if self.vocab.len() > self.d_var {
            return bad(format!(
                "the one-hot token embedding needs vocab size {} <= d_var {}",
                self.vocab.len(),
                self.d_var
            ));
        }
        if self.n_ctx < 3 || self.n_ctx > self.d_var {
            return bad(format!(
                "positions are one-hot in d_var dims: need 3 <= n_ctx <= d_var (got n_ctx {}, d_var {})",
                self.n_ctx, self.d_var
            ));
        }
        if self.n_ctx > 128 {
            return bad(format!(
                "n_ctx {} is above 128 (generated programs carry sets of positions as u128)",
                self.n_ctx
            ));
        }
        if self.classes.len() < 2 || self.vocab.first().map(String::as_str) != Some(PAD) {
            return bad("vocab must start with <pad> and there must be at least 2 classes".into());
        }
        Ok(())
    }
}

/// Training settings (the reference's defaults for the RASP tasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs over the training split (250 in the paper, 500 for induction in the script).
    pub epochs: usize,
    /// Sequences per step.
    pub batch_size: usize,
    /// Adam learning rate (constant).
    pub learning_rate: f64,
    /// Initial Gumbel temperature.
    pub tau_init: f64,
    /// Final Gumbel temperature.
    pub tau_end: f64,
    /// Seed of initialisation, noise and data order.
    pub seed: u64,
    /// Start from the parameters in this safetensors file (keys as
    /// [`crate::TransformerProgram::load_parameters`] expects) instead of a random
    /// initialisation; the seed still drives the noise and the data order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<std::path::PathBuf>,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 250,
            batch_size: 512,
            learning_rate: 0.05,
            tau_init: 3.0,
            tau_end: 0.01,
            seed: 0,
            init: None,
            progress: false,
        }
    }
}

impl TrainConfig {
    /// The reference settings for `task` (500 epochs for induction, as its script).
    pub fn for_task(task: Task) -> Self {
        Self {
            epochs: if task == Task::Induction { 500 } else { 250 },
            ..Self::default()
        }
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<()> {
        let ok = self.epochs > 0
            && self.batch_size > 0
            && self.learning_rate > 0.0
            && self.learning_rate.is_finite()
            && self.tau_init >= self.tau_end
            && self.tau_end > 0.0;
        if ok {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "train config needs epochs, batch_size, learning_rate > 0 and tau_init >= tau_end > 0: {self:?}"
            )))
        }
    }

    /// Temperature at every step: geometric from `tau_init` to `tau_end` over the epochs,
    /// each epoch geometric between its end points step by step, the last epoch constant.
    pub fn temperatures(&self, steps_per_epoch: usize) -> Vec<f64> {
        let geom = |a: f64, b: f64, n: usize| -> Vec<f64> {
            if n == 1 {
                return vec![a];
            }
            (0..n)
                .map(|i| (a.ln() + (b.ln() - a.ln()) * i as f64 / (n - 1) as f64).exp())
                .collect()
        };
        let epochs = geom(self.tau_init, self.tau_end, self.epochs);
        let mut out = Vec::with_capacity(self.epochs * steps_per_epoch);
        for e in 0..self.epochs {
            if e + 1 < self.epochs {
                out.extend(geom(epochs[e], epochs[e + 1], steps_per_epoch));
            } else {
                out.extend(std::iter::repeat_n(epochs[e], steps_per_epoch));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_schedule_is_the_reference_geomspace() {
        let t = TrainConfig {
            epochs: 4,
            ..TrainConfig::default()
        }
        .temperatures(3);
        assert_eq!(t.len(), 12);
        assert!((t[0] - 3.0).abs() < 1e-12);
        // Epoch boundaries follow geomspace(3.0, 0.01, 4): 3.0, 0.4481, 0.0669, 0.01.
        let ratio = (0.01f64 / 3.0).powf(1.0 / 3.0);
        assert!((t[3] - 3.0 * ratio).abs() < 1e-9 && (t[2] - 3.0 * ratio).abs() < 1e-9);
        assert!(t.windows(2).all(|w| w[1] <= w[0] + 1e-15));
        assert!(
            t[9..].iter().all(|&x| (x - 0.01).abs() < 1e-12),
            "last epoch constant"
        );
    }

    #[test]
    fn invalid_configs_are_typed_errors() {
        let bad = TrainConfig {
            tau_end: 0.0,
            ..TrainConfig::default()
        };
        assert!(bad.validate().is_err());
        let cfg = ProgramConfig {
            d_var: 4,
            n_layers: 1,
            n_heads_cat: 1,
            n_heads_num: 1,
            n_cat_mlps: 1,
            n_num_mlps: 1,
            d_mlp: 8,
            n_ctx: 8,
            vocab: vec!["<pad>".into(), "a".into()],
            classes: vec!["<pad>".into(), "x".into()],
            autoregressive: false,
            unembed_mask: true,
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("n_ctx"), "{err}");
        assert!(
            ProgramConfig {
                n_ctx: 4,
                ..cfg.clone()
            }
            .validate()
            .is_ok()
        );
        let long = ProgramConfig {
            d_var: 200,
            n_ctx: 129,
            ..cfg.clone()
        };
        let err = long.validate().unwrap_err().to_string();
        assert!(err.contains("n_ctx 129 is above 128"), "{err}");
        assert!(ProgramConfig { n_ctx: 128, ..long }.validate().is_ok());
        assert_eq!(
            ProgramConfig { n_ctx: 4, ..cfg }.classifier_width(),
            (2 + 3) * 4 + 2
        );
    }
}
