//! The training schedule of both papers, scaled to Fashion-MNIST: warm-up (add-on layers and
//! prototypes only) → joint (everything) → push → last-layer-only optimisation.
//!
//! Parameter groups get their own learning rates by stepping one Adam optimiser once per group
//! with that group's gradients (`GradientsParams::from_module`); a frozen group simply gets no
//! step. The backbone is trained from scratch here (the papers start from ImageNet weights),
//! so its joint learning rate is that of plain training, with a cosine decay.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use glassbox_core::{Classifier, Error, Result};
use glassbox_data::{Augment, BatchConfig, LabeledImages};
use serde::{Deserialize, Serialize};

use crate::loss::{LossCoefficients, protopnet_loss, st_branch_loss};
use crate::model::{PrototypeNet, PrototypeNetConfig, l2_normalise};
use crate::push::{PushRecord, push};

/// Learning rates of the parameter groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LearningRates {
    /// Backbone (joint phase).
    pub backbone: f64,
    /// Add-on layers.
    pub add_on: f64,
    /// Prototype vectors.
    pub prototypes: f64,
    /// Last layer in the joint phase.
    pub last_layer_joint: f64,
    /// Last layer in the last-layer phase.
    pub last_layer: f64,
}

impl Default for LearningRates {
    fn default() -> Self {
        Self {
            backbone: 3e-3,
            add_on: 3e-3,
            prototypes: 3e-3,
            last_layer_joint: 1e-4,
            last_layer: 1e-3,
        }
    }
}

fn one() -> usize {
    1
}

/// Everything a prototype training run needs; saved next to the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrototypeTrainConfig {
    /// The architecture.
    pub model: PrototypeNetConfig,
    /// Warm-up epochs (add-on and prototypes only).
    pub warm_epochs: usize,
    /// Joint epochs (everything).
    pub joint_epochs: usize,
    /// Last-layer epochs after push.
    pub last_layer_epochs: usize,
    /// How many times the papers' cycle — joint epochs, push, last-layer epochs — runs after
    /// the warm-up (the reference pushes every 10 epochs). 1 = a single push at the end.
    #[serde(default = "one")]
    pub push_cycles: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// Learning rates per group.
    pub learning_rates: LearningRates,
    /// Loss coefficients.
    pub coefficients: LossCoefficients,
    /// Seed of initialisation and data order.
    pub seed: u64,
    /// Random shift augmentation in pixels (0 = none).
    pub augment_shift: usize,
    /// Input normalisation (mean, std).
    pub normalize: (f32, f32),
    /// Print one line per epoch to stderr.
    pub progress: bool,
    /// Start the backbone from these weights (a `model.bpk` written by `glassbox train` for the
    /// same backbone config), as the papers start from ImageNet weights. `None`: from scratch.
    #[serde(default)]
    pub backbone_weights: Option<std::path::PathBuf>,
}

impl PrototypeTrainConfig {
    /// Defaults for `model`: 1 warm-up, 7 joint and 1 last-layer epoch(s), batch 64.
    pub fn new(model: PrototypeNetConfig) -> Self {
        Self {
            model,
            warm_epochs: 1,
            joint_epochs: 7,
            last_layer_epochs: 1,
            push_cycles: 1,
            batch_size: 64,
            learning_rates: LearningRates::default(),
            coefficients: LossCoefficients::default(),
            seed: 0,
            augment_shift: 1,
            normalize: (
                glassbox_data::fashion_mnist::MEAN,
                glassbox_data::fashion_mnist::STD,
            ),
            progress: true,
            backbone_weights: None,
        }
    }

    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if self.joint_epochs == 0 || self.batch_size == 0 || self.push_cycles == 0 {
            return Err(Error::config(
                "joint_epochs, batch_size and push_cycles must be >= 1",
            ));
        }
        self.coefficients.validate()?;
        let (_, std) = self.normalize;
        if !(std.is_finite() && std > 0.0 && self.normalize.0.is_finite()) {
            return Err(Error::config(format!(
                "normalize must be a finite mean and a standard deviation > 0, got {:?}",
                self.normalize
            )));
        }
        let lr = &self.learning_rates;
        for (name, v) in [
            ("backbone", lr.backbone),
            ("add_on", lr.add_on),
            ("prototypes", lr.prototypes),
            ("last_layer_joint", lr.last_layer_joint),
            ("last_layer", lr.last_layer),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::config(format!(
                    "learning rate {name} must be > 0, got {v}"
                )));
            }
        }
        Ok(())
    }

    fn batches(&self) -> BatchConfig {
        BatchConfig::new(self.batch_size)
            .with_shuffle(self.seed)
            .with_normalize(self.normalize.0, self.normalize.1)
            .with_augment(Augment {
                max_shift: self.augment_shift,
                ..Augment::default()
            })
    }

    /// Batching for evaluation and push (no shuffle, no augmentation).
    pub fn eval_batches(&self) -> BatchConfig {
        BatchConfig::new(256).with_normalize(self.normalize.0, self.normalize.1)
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseEpoch {
    /// `warm`, `joint` or `last_layer`.
    pub phase: String,
    /// Epoch within the phase (1-based).
    pub epoch: usize,
    /// Mean total loss.
    pub loss: f64,
    /// Mean cross-entropy.
    pub cross_entropy: f64,
    /// Test accuracy after the epoch, if a test set was given.
    pub test_accuracy: Option<f64>,
    /// Seconds.
    pub seconds: f64,
}

/// Test accuracies around one push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRound {
    /// Before the push (end of the cycle's joint epochs).
    pub before: Option<f64>,
    /// Right after the push.
    pub after: Option<f64>,
    /// After the cycle's last-layer epochs.
    pub after_last_layer: Option<f64>,
}

/// What a training run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrototypeTrainReport {
    /// Per-epoch history.
    pub history: Vec<PhaseEpoch>,
    /// Test accuracy before the last push.
    pub accuracy_before_push: Option<f64>,
    /// Test accuracy right after the last push.
    pub accuracy_after_push: Option<f64>,
    /// Every push cycle, in order.
    #[serde(default)]
    pub push_rounds: Vec<PushRound>,
    /// Test accuracy after the last-layer phase (the final model).
    pub accuracy_final: Option<f64>,
    /// Where each prototype was pushed.
    pub push: Vec<PushRecord>,
    /// Total training seconds.
    pub seconds: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warm,
    Joint,
    LastLayer,
}

/// Fraction of `data` classified correctly by `model` (inference mode).
pub fn accuracy<M: Classifier + ?Sized>(
    model: &M,
    data: &LabeledImages,
    batching: &BatchConfig,
    device: &Device,
) -> Result<f64> {
    let mut correct = 0usize;
    for batch in batching.batches(data, 0, device)? {
        let pred = model.logits(batch.images).argmax(1).squeeze_dim::<1>(1);
        let hits = pred.equal(batch.labels).int().sum().into_scalar::<i64>();
        correct += hits as usize;
    }
    Ok(correct as f64 / data.len().max(1) as f64)
}

/// Train a prototype network with the papers' schedule. Returns the final model (inference
/// device) and the report.
pub fn train_prototype_net(
    config: &PrototypeTrainConfig,
    train: &LabeledImages,
    test: Option<&LabeledImages>,
    device: &Device,
) -> Result<(PrototypeNet, PrototypeTrainReport)> {
    config.validate()?;
    let [c, _, _] = train.image_shape();
    if c != config.model.backbone.in_channels() || train.num_classes() != config.model.num_classes {
        return Err(Error::config(format!(
            "model expects {} channel(s) and {} classes, data has {c} channel(s) and {} classes",
            config.model.backbone.in_channels(),
            config.model.num_classes,
            train.num_classes()
        )));
    }
    let start = Instant::now();
    let base = device.clone().inner();
    let ad = base.clone().autodiff();
    glassbox_core::seed(&ad, config.seed);
    let mut model = config.model.try_init(&ad)?;
    if let Some(path) = &config.backbone_weights {
        model.backbone = glassbox_core::checkpoint::load_weights_file(model.backbone, path)?;
    }
    let mut optim = AdamConfig::new().init();
    let mut history = Vec::new();
    let eval = config.eval_batches();
    let test_acc = |m: &PrototypeNet| -> Result<Option<f64>> {
        test.map(|t| accuracy(&m.clone().valid(), t, &eval, &base))
            .transpose()
    };
    let batching = config.batches();
    let joint_steps =
        config.push_cycles * config.joint_epochs * train.len().div_ceil(config.batch_size);
    let mut joint_step = 0usize;
    let mut rounds = Vec::with_capacity(config.push_cycles);
    let mut records = Vec::new();
    // Warm-up once, then `push_cycles` × (joint → push → last layer).
    let mut schedule = vec![(Phase::Warm, config.warm_epochs, 0)];
    for cycle in 0..config.push_cycles {
        schedule.push((Phase::Joint, config.joint_epochs, cycle));
        schedule.push((Phase::LastLayer, config.last_layer_epochs, cycle));
    }
    for (phase, epochs, cycle) in schedule {
        let name = match phase {
            Phase::Warm => "warm",
            Phase::Joint => "joint",
            Phase::LastLayer => "last_layer",
        };
        if phase == Phase::LastLayer {
            let before = test_acc(&model)?;
            let (pushed, pushed_records) = push(model, train, &eval, &ad)?;
            model = pushed;
            records = pushed_records;
            let after = test_acc(&model)?;
            if let (true, Some(b), Some(a)) = (config.progress, before, after) {
                eprintln!(
                    "push {}/{}: test {:.2} % before, {:.2} % after",
                    cycle + 1,
                    config.push_cycles,
                    100.0 * b,
                    100.0 * a
                );
            }
            rounds.push(PushRound {
                before,
                after,
                after_last_layer: None,
            });
        }
        for epoch in 1..=epochs {
            let t0 = Instant::now();
            let (mut loss_sum, mut ce_sum, mut n) = (0.0, 0.0, 0usize);
            // Every (phase, cycle, epoch) gets its own shuffle; cycle 0 keeps the single-push
            // schedule's orders, so `push_cycles = 1` reproduces earlier runs exactly.
            let order_seed = 100 * cycle
                + match phase {
                    Phase::LastLayer => 5000 + epoch,
                    _ => epoch + 1000 * (phase as usize),
                };
            for (step, batch) in batching.batches(train, order_seed, &ad)?.enumerate() {
                // Cosine decay over all joint epochs (the papers use step decay over many more).
                let decay = if phase == Phase::Joint {
                    let t = joint_step as f64 / joint_steps.max(1) as f64;
                    joint_step += 1;
                    0.5 * (1.0 + (std::f64::consts::PI * t).cos())
                } else {
                    1.0
                };
                let (next, loss, ce) = train_step(
                    model,
                    &mut optim,
                    config,
                    batch.images,
                    batch.labels,
                    phase,
                    step,
                    decay,
                )?;
                model = next;
                loss_sum += loss;
                ce_sum += ce;
                n += 1;
            }
            let test_accuracy = test_acc(&model)?;
            let e = PhaseEpoch {
                phase: name.into(),
                epoch,
                loss: loss_sum / n.max(1) as f64,
                cross_entropy: ce_sum / n.max(1) as f64,
                test_accuracy,
                seconds: t0.elapsed().as_secs_f64(),
            };
            if config.progress {
                eprintln!(
                    "{name} {epoch}/{epochs}: loss {:.4} (CE {:.4}){} in {:.1} s",
                    e.loss,
                    e.cross_entropy,
                    e.test_accuracy
                        .map_or(String::new(), |a| format!(", test {:.2} %", 100.0 * a)),
                    e.seconds
                );
            }
            history.push(e);
        }
        if phase == Phase::LastLayer {
            let round = rounds.last_mut().expect("pushed above");
            round.after_last_layer = test_acc(&model)?;
        }
    }
    let last = rounds.last().cloned().expect("push_cycles >= 1");
    let (accuracy_before_push, accuracy_after_push) = (last.before, last.after);
    let accuracy_final = test_acc(&model)?;
    Ok((
        model.valid(),
        PrototypeTrainReport {
            history,
            accuracy_before_push,
            accuracy_after_push,
            push_rounds: rounds,
            accuracy_final,
            push: records,
            seconds: start.elapsed().as_secs_f64(),
        },
    ))
}

/// One optimisation step of `phase`; returns the model and the (total, CE) loss values.
#[allow(clippy::too_many_arguments)]
fn train_step(
    mut model: PrototypeNet,
    optim: &mut ModuleOptimizer,
    config: &PrototypeTrainConfig,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    phase: Phase,
    step: usize,
    decay: f64,
) -> Result<(PrototypeNet, f64, f64)> {
    let coef = &config.coefficients;
    let (k, per) = (model.num_classes, model.per_class);
    let outs = model.branches_forward(images);
    // ST-ProtoPNet alternates branches by batch (even: trivial, odd: support); in the last-layer
    // phase both last layers learn from the summed logits.
    let (b, terms) = if phase == Phase::LastLayer {
        // Only the last layers learn: cut the graph at the similarities so the backward pass
        // does not run through the backbone and add-on layers.
        let logits = outs
            .iter()
            .zip(&model.branches)
            .map(|(o, br)| br.last_layer.forward(o.similarity.clone().detach()))
            .reduce(|a, b| a + b)
            .expect("a branch");
        let ce = burn::nn::loss::CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits, labels.clone());
        let l1 = model
            .branches
            .iter()
            .map(|br| crate::loss::wrong_class_l1(br, per))
            .reduce(|a, b| a + b)
            .expect("a branch");
        let total = ce.clone() + l1 * coef.l1;
        (None, (total, ce))
    } else if model.cosine {
        let b = step % 2;
        let t = st_branch_loss(
            &outs[b],
            &model.branches[b],
            &labels,
            k,
            per,
            coef,
            b == 1,
            true,
        );
        (Some(b), (t.total, t.cross_entropy))
    } else {
        let t = protopnet_loss(&outs[0], &model.branches[0], &labels, k, per, coef, true);
        (Some(0), (t.total, t.cross_entropy))
    };
    let (total, ce) = terms;
    let values = Tensor::cat(vec![total.clone().inner(), ce.inner()], 0)
        .into_data()
        .try_into_vec_as::<f64>()
        .map_err(|e| Error::format("loss values", format!("{e:?}")))?;
    if !values[0].is_finite() {
        return Err(Error::NonFinite {
            what: "prototype training loss".into(),
            count: 1,
        });
    }
    let mut grads = total.backward();
    let lr = &config.learning_rates;
    let branches: Vec<usize> = match b {
        Some(b) => vec![b],
        None => (0..model.branches.len()).collect(),
    };
    let mut groups: Vec<(GradientsParams, f64)> = Vec::new();
    if phase == Phase::Joint {
        groups.push((
            GradientsParams::from_module(&mut grads, &model.backbone),
            lr.backbone * decay,
        ));
    }
    for &bi in &branches {
        let br = &model.branches[bi];
        match phase {
            Phase::Warm | Phase::Joint => {
                groups.push((
                    GradientsParams::from_module(&mut grads, &br.add_on1),
                    lr.add_on * decay,
                ));
                groups.push((
                    GradientsParams::from_module(&mut grads, &br.add_on2),
                    lr.add_on * decay,
                ));
                groups.push((
                    GradientsParams::from_module(&mut grads, &br.prototypes),
                    lr.prototypes * decay,
                ));
                if phase == Phase::Joint {
                    groups.push((
                        GradientsParams::from_module(&mut grads, &br.last_layer),
                        lr.last_layer_joint * decay,
                    ));
                }
            }
            Phase::LastLayer => {
                groups.push((
                    GradientsParams::from_module(&mut grads, &br.last_layer),
                    lr.last_layer,
                ));
            }
        }
    }
    for (g, rate) in groups {
        model = optim.step(rate, model, g);
    }
    if model.cosine && phase != Phase::LastLayer {
        // Prototypes live on the unit sphere (ST-ProtoPNet re-normalises after every step).
        for &bi in &branches {
            let p = model.branches[bi].prototypes.clone();
            model.branches[bi].prototypes =
                p.map(|t| l2_normalise(t.inner(), 1).autodiff().require_grad());
        }
    }
    Ok((model, values[0], values[1]))
}
