//! Training as in the reference (spec §2): per-token cross-entropy over non-pad targets,
//! Adam at a constant rate, one Gumbel sample per step with the temperature annealed
//! geometrically from 3.0 to 0.01, then every choice discretised with argmax. The accuracy
//! reported is the *discretised* model's.

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, Result};
use glassbox_data::rasp::{EncodedSplit, TaskData};
use serde::{Deserialize, Serialize};

use crate::config::{ProgramConfig, TrainConfig};
use crate::model::TransformerProgram;
use crate::sampling::Sampling;

/// What training measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// Model settings.
    pub model: ProgramConfig,
    /// Training settings.
    pub train: TrainConfig,
    /// Discretised token accuracy on the training split.
    pub train_accuracy: f64,
    /// Discretised token accuracy on the validation split.
    pub val_accuracy: f64,
    /// Discretised token accuracy on the test split.
    pub test_accuracy: f64,
    /// Mean training loss per epoch (of the stochastic relaxed model).
    pub loss_history: Vec<f64>,
    /// Wall time of training, seconds.
    pub train_seconds: f64,
}

/// Rows `rows` of a row-major `[len, n]` id table as an `[rows, n]` Int tensor.
fn id_tensor(ids: &[u32], n: usize, rows: &[usize], device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = rows
        .iter()
        .flat_map(|&r| ids[r * n..(r + 1) * n].iter().map(|&t| t as i64))
        .collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), n]), device)
}

/// Token ids of rows `rows` of a split as an `[len, n_ctx]` tensor.
pub fn token_tensor(split: &EncodedSplit, rows: &[usize], device: &Device) -> Tensor<2, Int> {
    id_tensor(&split.tokens, split.n_ctx, rows, device)
}

fn target_tensor(split: &EncodedSplit, rows: &[usize], device: &Device) -> Tensor<2, Int> {
    id_tensor(&split.targets, split.n_ctx, rows, device)
}

/// Per-token cross-entropy averaged over each sequence's non-pad targets, then over the batch.
pub fn program_loss(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let [b, n, _] = logits.dims();
    let logp = log_softmax(logits, 2)
        .gather(2, targets.clone().reshape([b, n, 1]))
        .reshape([b, n]);
    let weight = targets.not_equal_elem(0).float();
    let per_seq = (logp * weight.clone()).sum_dim(1) / weight.sum_dim(1).clamp_min(1.0);
    per_seq.mean().neg()
}

/// Argmax class per position of the discretised model, row-major `[len, n_ctx]`.
pub fn predict(
    model: &TransformerProgram,
    split: &EncodedSplit,
    batch_size: usize,
    device: &Device,
) -> Vec<u32> {
    let mut out = Vec::with_capacity(split.len * split.n_ctx);
    let rows: Vec<usize> = (0..split.len).collect();
    for chunk in rows.chunks(batch_size.max(1)) {
        let tokens = token_tensor(split, chunk, device);
        let logits = model.forward(tokens, &Sampling::Argmax).logits;
        let pred = logits.argmax(2).into_data();
        out.extend(pred.iter::<i64>().map(|v| v as u32));
    }
    out
}

/// Token accuracy of `predictions` over the non-pad targets of `split`.
pub fn token_accuracy(predictions: &[u32], split: &EncodedSplit) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (p, t) in predictions.iter().zip(&split.targets) {
        if *t != 0 {
            total += 1;
            hit += usize::from(p == t);
        }
    }
    if total == 0 {
        0.0
    } else {
        hit as f64 / total as f64
    }
}

/// Discretised token accuracy on a split.
pub fn accuracy(model: &TransformerProgram, split: &EncodedSplit, device: &Device) -> f64 {
    token_accuracy(&predict(model, split, 2048, device), split)
}

/// Train a program on `data` and evaluate its discretised form on every split.
pub fn train_program(
    model_config: &ProgramConfig,
    config: &TrainConfig,
    data: &TaskData,
    device: &Device,
) -> Result<(TransformerProgram, TrainReport)> {
    let initial = match &config.init {
        Some(path) => Some(
            TransformerProgram::init(model_config, &device.clone().inner())?
                .load_parameters(path)?,
        ),
        None => None,
    };
    train_program_from(initial, model_config, config, data, device)
}

/// [`train_program`] from given initial parameters instead of a random initialisation (for
/// example another implementation's, to separate the effect of the initialisation from that
/// of the training). `initial` must have been built from `model_config`.
pub fn train_program_from(
    initial: Option<TransformerProgram>,
    model_config: &ProgramConfig,
    config: &TrainConfig,
    data: &TaskData,
    device: &Device,
) -> Result<(TransformerProgram, TrainReport)> {
    config.validate()?;
    model_config.validate()?;
    if data.n_ctx != model_config.n_ctx || data.input_vocab != model_config.vocab {
        return Err(Error::Config(
            "the program config was made for another dataset (vocabulary or n_ctx differ)".into(),
        ));
    }
    let train = data.encode(&data.train)?;
    let val = data.encode(&data.val)?;
    let test = data.encode(&data.test)?;
    if train.len == 0 {
        return Err(Error::Empty("training split".into()));
    }
    let start = Instant::now();
    let base = device.clone().inner();
    let ad = base.clone().autodiff();
    glassbox_core::seed(&ad, config.seed);
    let mut model = match initial {
        Some(model) => model.to_device(&ad).train(),
        None => TransformerProgram::init(model_config, &ad)?,
    };
    // torch's Adam epsilon (burn defaults to 1e-5, which swamps the tiny selector gradients).
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let steps_per_epoch = train.len.div_ceil(config.batch_size);
    let temps = config.temperatures(steps_per_epoch);
    let bar = glassbox_core::train::counter_bar(config.progress, temps.len() as u64, "steps");
    let mut history = Vec::new();
    let mut step = 0;
    for epoch in 0..config.epochs {
        let mut order: Vec<usize> = (0..train.len).collect();
        let mut rng = SplitMix64::derive(config.seed, epoch as u64 + 1);
        rng.shuffle(&mut order);
        let mut sum = 0.0;
        for rows in order.chunks(config.batch_size) {
            let sampling = Sampling::Gumbel { tau: temps[step] };
            let tokens = token_tensor(&train, rows, &ad);
            let targets = target_tensor(&train, rows, &ad);
            let logits = model.forward(tokens, &sampling).logits;
            let loss = program_loss(logits, targets);
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    what: format!("training loss at epoch {epoch}"),
                    count: 1,
                });
            }
            sum += value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
            step += 1;
            bar.inc(1);
        }
        let mean = sum / steps_per_epoch as f64;
        history.push(mean);
        bar.set_message(format!("epoch {epoch} loss {mean:.4}"));
    }
    bar.finish_and_clear();
    let train_seconds = start.elapsed().as_secs_f64();
    let model = model.valid();
    let report = TrainReport {
        model: model_config.clone(),
        train: config.clone(),
        train_accuracy: accuracy(&model, &train, &base),
        val_accuracy: accuracy(&model, &val, &base),
        test_accuracy: accuracy(&model, &test, &base),
        loss_history: history,
        train_seconds,
    };
    Ok((model, report))
}
