//! Training helpers: a transparent fit loop with a progress bar and per-epoch metrics.
//!
//! We use a hand-written loop rather than burn-train's `Learner` so that library crates do
//! not pull in ratatui/sysinfo, and so that every model family (prototype push phases,
//! concept-bottleneck stages, Gumbel temperature schedules) can drive its own steps through
//! the same small function. See `docs/architecture.md`.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Hyper-parameters of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Number of passes over the training data.
    pub epochs: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Learning-rate schedule over the whole run.
    pub schedule: LrSchedule,
    /// Show an `indicatif` progress bar (drawn only when stderr is a terminal) and print a
    /// summary line per epoch.
    pub progress: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            learning_rate: 1e-3,
            schedule: LrSchedule::Cosine,
            progress: true,
        }
    }
}

impl FitConfig {
    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::config("epochs must be >= 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::config(format!(
                "learning rate must be finite and > 0, got {}",
                self.learning_rate
            )));
        }
        Ok(())
    }
}

/// Learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant,
    /// Cosine annealing from the peak to zero over all steps (Loshchilov & Hutter, 2017).
    #[default]
    Cosine,
}

impl LrSchedule {
    /// Rate at `step` of `total` steps for peak rate `peak`.
    pub fn rate(self, peak: f64, step: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => peak,
            LrSchedule::Cosine => {
                let t = step as f64 / total.max(1) as f64;
                0.5 * peak * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// What one training step reports back to [`fit`].
#[derive(Debug)]
pub struct StepOutput {
    /// The scalar loss to differentiate (shape `[1]`).
    pub loss: Tensor<1>,
    /// Number of correct predictions in the batch as a `[1]` tensor left on the device (for
    /// running accuracy); `None` if not a classifier. [`fit`] reads it back together with
    /// the loss, in one transfer per step.
    pub correct: Option<Tensor<1>>,
    /// Batch size.
    pub count: usize,
}

/// Metrics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (weighted by batch size).
    pub train_loss: f64,
    /// Running training accuracy, if the step reported correct counts.
    pub train_accuracy: Option<f64>,
    /// Result of the evaluation callback after the epoch, if any.
    pub eval_accuracy: Option<f64>,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
    /// Wall-clock seconds spent in the epoch (training and evaluation).
    pub seconds: f64,
}

/// An optional per-epoch evaluation callback for [`fit`]: returns an accuracy in `[0, 1]`.
pub type EvalFn<'a, M> = &'a mut dyn FnMut(&M) -> Result<f64>;

/// Train `model` with `optimizer`.
///
/// * `batches(epoch)` yields the epoch's training batches (so shuffling can depend on the
///   epoch); it must yield the same number of batches every epoch.
/// * `step(&model, batch)` runs the forward pass and returns the loss; the loop does the
///   backward pass and the optimiser step.
/// * `evaluate(&model)` (optional) returns an accuracy after each epoch.
///
/// Fails if the loss becomes non-finite, naming the epoch and step, instead of silently
/// training on NaN.
pub fn fit<M, B, I>(
    mut model: M,
    optimizer: &mut ModuleOptimizer,
    config: &FitConfig,
    mut batches: impl FnMut(usize) -> I,
    mut step: impl FnMut(&M, B) -> StepOutput,
    mut evaluate: Option<EvalFn<'_, M>>,
) -> Result<(M, Vec<EpochMetrics>)>
where
    M: Module,
    I: ExactSizeIterator<Item = B>,
{
    config.validate()?;
    let mut history = Vec::with_capacity(config.epochs);
    let mut global_step = 0usize;
    let mut total_steps = None;
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        let iter = batches(epoch);
        let per_epoch = iter.len();
        if per_epoch == 0 {
            return Err(Error::Empty(format!("training batches of epoch {epoch}")));
        }
        let total = *total_steps.get_or_insert(per_epoch * config.epochs);
        let bar = progress_bar(config.progress, per_epoch as u64, epoch, config.epochs);
        let (mut loss_sum, mut seen, mut correct, mut has_correct) = (0.0, 0usize, 0usize, false);
        let mut lr = config.learning_rate;
        for (i, batch) in iter.enumerate() {
            lr = config
                .schedule
                .rate(config.learning_rate, global_step, total);
            let out = step(&model, batch);
            // One host read per step for both the loss and the correct count.
            let mut stats = vec![out.loss.clone().inner()];
            stats.extend(out.correct.iter().map(|c| c.clone().inner()));
            let stats = Tensor::cat(stats, 0)
                .into_data()
                .try_into_vec_as::<f64>()
                .map_err(|e| Error::format("training step statistics", format!("{e:?}")))?;
            let loss_value = stats[0];
            if !loss_value.is_finite() {
                bar.abandon();
                return Err(Error::NonFinite {
                    what: format!("training loss at epoch {epoch}, step {}", i + 1),
                    count: 1,
                });
            }
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            loss_sum += loss_value * out.count as f64;
            seen += out.count;
            if let Some(&c) = stats.get(1) {
                correct += c.round() as usize;
                has_correct = true;
            }
            global_step += 1;
            bar.set_message(format!("loss {:.4}", loss_sum / seen.max(1) as f64));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let eval_accuracy = match evaluate.as_mut() {
            Some(f) => Some(f(&model)?),
            None => None,
        };
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: has_correct.then(|| correct as f64 / seen.max(1) as f64),
            eval_accuracy,
            learning_rate: lr,
            seconds: start.elapsed().as_secs_f64(),
        };
        if config.progress {
            eprintln!("{}", format_epoch(&metrics, config.epochs));
        }
        history.push(metrics);
    }
    Ok((model, history))
}

/// A counting progress bar over `len` items named `unit` (`{bar} pos/len unit msg eta`), or a
/// hidden one when `enabled` is false — the bar every long loop in glassbox shows.
pub fn counter_bar(enabled: bool, len: u64, unit: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{bar:30}} {{pos}}/{{len}} {unit} {{msg}} {{eta}}"
    )) {
        bar.set_style(style);
    }
    bar
}

fn progress_bar(enabled: bool, len: u64, epoch: usize, epochs: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} batches {msg} ({elapsed}, eta {eta})",
    )
    .expect("static progress template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    bar
}

/// One human-readable line summarising an epoch.
pub fn format_epoch(m: &EpochMetrics, epochs: usize) -> String {
    let mut line = format!("epoch {}/{}: loss {:.4}", m.epoch, epochs, m.train_loss);
    if let Some(a) = m.train_accuracy {
        line.push_str(&format!(", train acc {:.2}%", 100.0 * a));
    }
    if let Some(a) = m.eval_accuracy {
        line.push_str(&format!(", eval acc {:.2}%", 100.0 * a));
    }
    line.push_str(&format!(", lr {:.2e}, {:.1}s", m.learning_rate, m.seconds));
    line
}
