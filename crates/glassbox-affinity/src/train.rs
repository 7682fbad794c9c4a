//! Episodic training of a [`MatchingSegmenter`] on one fold, and the standard few-shot
//! segmentation scores on the fold's held-out classes.
//!
//! Each step draws a batch of 1-way episodes of the training classes, segments the queries
//! from their supports and minimises the pixel-wise cross-entropy with the query masks (Adam,
//! cosine-decayed learning rate). Evaluation follows HSNet/DCAMA: intersections and unions are
//! accumulated per class over all test episodes; **mIoU** is the mean foreground IoU over the
//! held-out classes, **FB-IoU** the mean of the foreground and background IoU accumulated over
//! all episodes.

use std::path::PathBuf;
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use glassbox_core::{Error, FewShotSegmenter, Result};
use glassbox_data::fss::{EpisodeSampler, FoldRole, SceneConfig, episode_batch, fold_classes};
use glassbox_data::{LabeledImages, fashion_mnist};
use serde::{Deserialize, Serialize};

use crate::model::{MatchingSegmenter, MatchingSegmenterConfig};

/// Everything that defines a training run (saved next to the checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FssTrainConfig {
    /// The segmenter.
    pub model: MatchingSegmenterConfig,
    /// How scenes are composed.
    pub scene: SceneConfig,
    /// The class fold (its two classes are held out).
    pub fold: usize,
    /// Shots of the training episodes.
    pub shots: usize,
    /// Optimisation steps.
    pub steps: usize,
    /// Episodes per step.
    pub batch_size: usize,
    /// Peak Adam learning rate (cosine-decayed to 0).
    pub learning_rate: f64,
    /// Seed of the weights and of the training episodes.
    pub seed: u64,
    /// Optional backbone weights (a saved `ImageClassifier`, e.g. from `glassbox train`).
    pub backbone_weights: Option<PathBuf>,
    /// Epochs of classification pre-training of the backbone on the fold's **training
    /// classes** (28×28 images) before episodic training — our analogue of the ImageNet
    /// backbones FSS models start from, without ever showing a held-out class. 0 = off.
    #[serde(default)]
    pub pretrain_epochs: usize,
    /// Keep the backbone fixed during episodic training (parameters without gradients,
    /// BatchNorm in inference mode), as DCAMA and HSNet do with their pretrained backbones.
    #[serde(default)]
    pub freeze_backbone: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for FssTrainConfig {
    fn default() -> Self {
        Self {
            model: MatchingSegmenterConfig::default(),
            scene: SceneConfig::default(),
            fold: 0,
            shots: 1,
            steps: 1500,
            batch_size: 8,
            learning_rate: 1e-3,
            seed: 0,
            backbone_weights: None,
            pretrain_epochs: 0,
            freeze_backbone: false,
            progress: false,
        }
    }
}

impl FssTrainConfig {
    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.scene.validate()?;
        fold_classes(self.fold)?;
        if self.shots == 0 {
            return Err(Error::Empty("support set (shots = 0)".into()));
        }
        if self.steps == 0 || self.batch_size == 0 {
            return Err(Error::config("steps and batch_size must be >= 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::config(format!(
                "learning_rate must be > 0, got {}",
                self.learning_rate
            )));
        }
        Ok(())
    }
}

/// Few-shot segmentation scores on held-out classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationScores {
    /// The fold.
    pub fold: usize,
    /// Shots per episode.
    pub shots: usize,
    /// Episodes evaluated.
    pub episodes: usize,
    /// Mean foreground IoU over the held-out classes (accumulated per class), in `[0, 1]`.
    pub miou: f64,
    /// Mean of foreground and background IoU accumulated over all episodes.
    pub fb_iou: f64,
    /// Foreground IoU of each held-out class: `(class, IoU)`.
    pub per_class: Vec<(usize, f64)>,
    /// mIoU of predicting every visible item as foreground, on the same episodes: the score of
    /// a segmenter that finds objects but ignores the support class. A model must beat it to
    /// show it matches the class.
    pub objectness_miou: f64,
}

/// What a training run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FssTrainReport {
    /// The configuration.
    pub config: FssTrainConfig,
    /// Training wall time in seconds.
    pub train_seconds: f64,
    /// Mean loss over each block of 50 steps.
    pub loss_history: Vec<f64>,
}

/// Train a segmenter on the training classes of `config.fold` from `images` (28×28 grey
/// Fashion-MNIST-style images of ten classes). Returns the model on `device` (inference mode).
pub fn train_segmenter(
    config: &FssTrainConfig,
    images: &LabeledImages,
    device: &Device,
) -> Result<(MatchingSegmenter, FssTrainReport)> {
    config.validate()?;
    let sampler = EpisodeSampler::new(
        images,
        config.scene.clone(),
        config.fold,
        FoldRole::Train,
        config.shots,
        config.seed,
    )?;
    let start = Instant::now();
    let base = device.clone().inner();
    let ad = base.clone().autodiff();
    glassbox_core::seed(&ad, config.seed);
    let mut model = config.model.try_init(&ad)?;
    if let Some(path) = &config.backbone_weights {
        model.backbone = glassbox_core::checkpoint::load_weights_file(model.backbone, path)?;
    }
    if config.pretrain_epochs > 0 {
        model.backbone = pretrain_backbone(model.backbone, config, images, &ad)?;
    }
    if config.freeze_backbone {
        model.backbone = model.backbone.freeze();
    }
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let bar = glassbox_core::train::counter_bar(config.progress, config.steps as u64, "steps");
    let mut history = Vec::new();
    let (mut block_sum, mut block_n) = (0.0, 0usize);
    for step in 0..config.steps {
        let episodes = sampler.episodes((step * config.batch_size) as u64, config.batch_size);
        let batch = episode_batch(&episodes, [fashion_mnist::MEAN, fashion_mnist::STD], &ad)?;
        let [n, h, w] = batch.query_masks.dims();
        let logits = model.segment(
            batch.input.query,
            batch.input.support_images,
            batch.input.support_masks,
        );
        let flat = logits.permute([0, 2, 3, 1]).reshape([n * h * w, 2]);
        let targets = batch.query_masks.reshape([n * h * w]).int();
        let loss = loss_fn.forward(flat, targets);
        let value = loss.clone().into_scalar::<f32>() as f64;
        if !value.is_finite() {
            return Err(Error::NonFinite {
                what: format!(
                    "training loss at step {step} (learning rate {} too high?)",
                    config.learning_rate
                ),
                count: 1,
            });
        }
        let t = step as f64 / config.steps as f64;
        let rate = config.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(rate, model, grads);
        block_sum += value;
        block_n += 1;
        if block_n == 50 || step + 1 == config.steps {
            history.push(block_sum / block_n as f64);
            bar.set_message(format!("loss {:.4}", block_sum / block_n as f64));
            (block_sum, block_n) = (0.0, 0);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let report = FssTrainReport {
        config: config.clone(),
        train_seconds: start.elapsed().as_secs_f64(),
        loss_history: history,
    };
    Ok((model.valid(), report))
}

/// Classification pre-training of the backbone on the training classes of the fold.
fn pretrain_backbone(
    mut backbone: glassbox_backbones::ImageClassifier,
    config: &FssTrainConfig,
    images: &LabeledImages,
    device: &Device,
) -> Result<glassbox_backbones::ImageClassifier> {
    let held_out = fold_classes(config.fold)?;
    let classes = config.model.backbone.num_classes().unwrap_or(0);
    if classes < images.num_classes() {
        return Err(Error::config(format!(
            "backbone pre-training needs a classifier head of {} classes, the backbone has {classes}",
            images.num_classes()
        )));
    }
    let keep: Vec<usize> = images
        .labels()
        .iter()
        .enumerate()
        .filter(|(_, l)| !held_out.contains(&(**l as usize)))
        .map(|(i, _)| i)
        .collect();
    let base = images.select(&keep)?;
    let batching = glassbox_data::BatchConfig::new(64)
        .with_shuffle(config.seed)
        .with_normalize(fashion_mnist::MEAN, fashion_mnist::STD);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut optim = AdamConfig::new().init();
    let bar = glassbox_core::train::counter_bar(
        config.progress,
        (config.pretrain_epochs * base.len().div_ceil(64)) as u64,
        "pre-training batches",
    );
    for epoch in 0..config.pretrain_epochs {
        for batch in batching.batches(&base, epoch, device)? {
            let loss = loss_fn.forward(backbone.forward(batch.images), batch.labels);
            let grads = GradientsParams::from_grads(loss.backward(), &backbone);
            backbone = optim.step(config.learning_rate, backbone, grads);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(backbone)
}

/// mIoU and FB-IoU of `model` on `episodes` test episodes (held-out classes of `fold`,
/// `shots`-shot) drawn from `images` with `seed`, `batch_size` episodes per forward pass.
#[allow(clippy::too_many_arguments)]
pub fn evaluate<M: FewShotSegmenter + ?Sized>(
    model: &M,
    images: &LabeledImages,
    scene: &SceneConfig,
    fold: usize,
    shots: usize,
    episodes: usize,
    seed: u64,
    batch_size: usize,
    device: &Device,
) -> Result<SegmentationScores> {
    if episodes == 0 || batch_size == 0 {
        return Err(Error::config("episodes and batch_size must be >= 1"));
    }
    let sampler = EpisodeSampler::new(images, scene.clone(), fold, FoldRole::Test, shots, seed)?;
    let classes = fold_classes(fold)?;
    // [class][intersection, union] for the foreground; [fg/bg][intersection, union] overall.
    let mut per_class = [[0.0f64; 2]; 2];
    let mut fb = [[0.0f64; 2]; 2];
    let mut objectness = [[0.0f64; 2]; 2];
    let mut done = 0;
    while done < episodes {
        let count = batch_size.min(episodes - done);
        let eps = sampler.episodes(done as u64, count);
        let batch = episode_batch(&eps, [fashion_mnist::MEAN, fashion_mnist::STD], device)?;
        let logits = model.segment(
            batch.input.query,
            batch.input.support_images,
            batch.input.support_masks,
        );
        let pred = logits.argmax(1).float();
        let [n, _, h, w] = pred.dims();
        let pred = pred.reshape([n, h * w]).to_data().convert::<f32>();
        let truth = batch
            .query_masks
            .reshape([n, h * w])
            .to_data()
            .convert::<f32>();
        let (p, t) = (
            pred.as_slice::<f32>()
                .map_err(|e| Error::format("prediction", format!("{e:?}")))?,
            truth
                .as_slice::<f32>()
                .map_err(|e| Error::format("query masks", format!("{e:?}")))?,
        );
        for (i, class) in batch.classes.iter().enumerate() {
            let ci = classes
                .iter()
                .position(|c| c == class)
                .expect("held-out class");
            for (&o, &m) in eps[i].query.objects.iter().zip(&eps[i].query.mask) {
                objectness[ci][0] += f64::from(o == 1 && m == 1);
                objectness[ci][1] += f64::from(o == 1 || m == 1);
            }
            let (pi, ti) = (
                &p[i * h * w..(i + 1) * h * w],
                &t[i * h * w..(i + 1) * h * w],
            );
            for label in [0usize, 1] {
                let (mut inter, mut union) = (0.0, 0.0);
                for (&a, &b) in pi.iter().zip(ti) {
                    let (pa, tb) = ((a > 0.5) == (label == 1), (b > 0.5) == (label == 1));
                    inter += (pa && tb) as u8 as f64;
                    union += (pa || tb) as u8 as f64;
                }
                fb[label][0] += inter;
                fb[label][1] += union;
                if label == 1 {
                    per_class[ci][0] += inter;
                    per_class[ci][1] += union;
                }
            }
        }
        done += count;
    }
    let iou = |[i, u]: [f64; 2]| if u > 0.0 { i / u } else { 0.0 };
    let per: Vec<(usize, f64)> = classes
        .iter()
        .zip(per_class)
        .map(|(&c, iu)| (c, iou(iu)))
        .collect();
    Ok(SegmentationScores {
        fold,
        shots,
        episodes,
        miou: per.iter().map(|p| p.1).sum::<f64>() / per.len() as f64,
        fb_iou: (iou(fb[0]) + iou(fb[1])) / 2.0,
        per_class: per,
        objectness_miou: objectness.iter().map(|&iu| iou(iu)).sum::<f64>() / 2.0,
    })
}
