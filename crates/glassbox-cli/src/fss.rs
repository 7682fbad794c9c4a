//! `glassbox fss train|explain|evaluate`: matching-based few-shot segmentation on FSS-Fashion
//! and its Affinity Explainer.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use burn::prelude::*;
use clap::{Args, Subcommand, ValueEnum};
use glassbox::affinity::{
    AffinityExplainer, AffinityExplainerConfig, FssTrainConfig, MatchingSegmenter,
    MatchingSegmenterConfig, Region, Variant, evaluate, support_sheet, train_segmenter,
};
use glassbox::core::checkpoint::{
    load_checkpoint_config, load_checkpoint_weights, save_checkpoint,
};
use glassbox::core::io::write_new;
use glassbox::core::npy::{read_npy, write_npy};
use glassbox::core::render::save_png;
use glassbox::core::{FewShotInput, HostTensor};
use glassbox::data::Split;
use glassbox::data::fashion_mnist::{MEAN, STD};
use glassbox::data::fss::{EpisodeSampler, FoldRole, episode_batch, fold_classes};
use glassbox::device::parse_device;
use glassbox::fss::{FssEvaluationConfig, FssMethod, evaluate_fss_methods};
use serde_json::json;

use crate::load_split;

/// `glassbox fss …`
#[derive(Subcommand, Debug)]
pub enum FssCommand {
    /// Train a matching segmenter on a fold's training classes; write the checkpoint and
    /// report.json with mIoU / FB-IoU on the held-out classes (1- and 5-shot).
    Train(TrainArgs),
    /// Explain segmentations with the Affinity Explainer: sheet.png, maps.npy, explanation.json.
    Explain(ExplainArgs),
    /// Score the Affinity Explainer against support-image baselines: report.json and report.md.
    Evaluate(EvaluateArgs),
}

/// Backbones for the segmenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FssArch {
    /// SmallCnn, widths 16/32/64.
    SmallCnn,
    /// ResNet-18 (grey input).
    Resnet18,
}

/// Options of `glassbox fss train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Class fold (0..5); its two classes are held out.
    #[arg(long, default_value_t = 0)]
    fold: usize,
    /// Shots of the training episodes.
    #[arg(long, default_value_t = 1)]
    shots: usize,
    /// Backbone.
    #[arg(long, value_enum, default_value = "small-cnn")]
    arch: FssArch,
    /// Optimisation steps.
    #[arg(long, default_value_t = 1500)]
    steps: usize,
    /// Episodes per step.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Test episodes per shot setting.
    #[arg(long, default_value_t = 500)]
    eval_episodes: usize,
    /// Epochs of classification pre-training of the backbone on the fold's training classes
    /// before episodic training (0 = train from scratch episodically).
    #[arg(long, default_value_t = 0)]
    pretrain_epochs: usize,
    /// Freeze the backbone during episodic training (after any pre-training).
    #[arg(long)]
    freeze_backbone: bool,
    /// Full Fashion-MNIST directory (default: the embedded subset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Device.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Output directory.
    #[arg(long, default_value = "runs/fss")]
    out: PathBuf,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Which Affinity Explainer variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// The affinity map alone.
    Unmasked,
    /// Times the blurred support mask.
    Masked,
    /// Times 2·blur(mask) − 1.
    Signed,
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Unmasked => Variant::Unmasked,
            VariantArg::Masked => Variant::Masked,
            VariantArg::Signed => Variant::Signed,
        }
    }
}

/// Options of `glassbox fss explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Directory written by `glassbox fss train`.
    #[arg(long)]
    model: PathBuf,
    /// Explainer variant.
    #[arg(long, value_enum, default_value = "masked")]
    variant: VariantArg,
    /// Shots per episode (generated episodes).
    #[arg(long, default_value_t = 1)]
    shots: usize,
    /// Number of generated test episodes of the model's fold.
    #[arg(long, default_value_t = 4)]
    episodes: usize,
    /// Seed of the generated episodes.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Your own query images `.npy` `[N, 1, H, W]` (model-ready, normalised); needs
    /// --support and --support-masks.
    #[arg(long)]
    query: Option<PathBuf>,
    /// Support images `.npy` `[N, K, 1, H, W]`.
    #[arg(long)]
    support: Option<PathBuf>,
    /// Binary support masks `.npy` `[N, K, H, W]`.
    #[arg(long)]
    support_masks: Option<PathBuf>,
    /// Device.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Output directory.
    #[arg(long, default_value = "runs/fss-explain")]
    out: PathBuf,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
}

/// Options of `glassbox fss evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Directory written by `glassbox fss train`.
    #[arg(long)]
    model: PathBuf,
    /// Comma-separated methods: random, mask_prior, saliency, igN, blurigN, guidedigN, xraiN, limeN, deep_lift, grad_cam, riseN, affinity,
    /// affinity_unmasked, affinity_masked, affinity_signed (default: all of them).
    #[arg(long)]
    methods: Option<String>,
    /// Shots per episode.
    #[arg(long, default_value_t = 1)]
    shots: usize,
    /// Test episodes.
    #[arg(long, default_value_t = 100)]
    episodes: usize,
    /// Steps of the IAUC / DAUC curves.
    #[arg(long, default_value_t = 75)]
    curve_steps: usize,
    /// Seed of the episodes and random methods.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Device.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Output path stem: writes STEM.json and STEM.md.
    #[arg(long, default_value = "runs/fss-report")]
    out: PathBuf,
    /// Replace existing reports.
    #[arg(long)]
    force: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Run an `fss` subcommand.
pub fn run(cmd: FssCommand) -> Result<()> {
    match cmd {
        FssCommand::Train(a) => train(a),
        FssCommand::Explain(a) => explain(a),
        FssCommand::Evaluate(a) => evaluate_methods(a),
    }
}

/// Refuse to overwrite any of `paths` unless `force`: nothing a user saved is replaced silently.
pub(crate) fn refuse_existing(paths: &[&Path], force: bool) -> Result<()> {
    if !force {
        for p in paths {
            if p.exists() {
                bail!(
                    "{} already exists; choose another output or pass --force",
                    p.display()
                );
            }
        }
    }
    Ok(())
}

fn train(args: TrainArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    fold_classes(args.fold)?;
    let config = FssTrainConfig {
        model: match args.arch {
            FssArch::SmallCnn => MatchingSegmenterConfig::small_cnn(),
            FssArch::Resnet18 => MatchingSegmenterConfig::resnet18(),
        },
        fold: args.fold,
        shots: args.shots,
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.seed,
        pretrain_epochs: args.pretrain_epochs,
        freeze_backbone: args.freeze_backbone,
        progress: !args.quiet,
        ..FssTrainConfig::default()
    };
    config.validate()?;
    let report_path = args.out.join("report.json");
    refuse_existing(&[&report_path], args.force)?;
    let train_set = load_split(args.data_dir.as_deref(), Split::Train)?;
    let test_set = load_split(args.data_dir.as_deref(), Split::Test)?;
    let (model, report) = train_segmenter(&config, &train_set, &device)?;
    save_checkpoint(&model, &config, &args.out, args.force)?;
    let mut scores = Vec::new();
    for shots in [1, 5] {
        let s = evaluate(
            &model,
            &test_set,
            &config.scene,
            config.fold,
            shots,
            args.eval_episodes,
            1234,
            16,
            &device,
        )?;
        println!(
            "fold {} {shots}-shot ({} test episodes): mIoU {:.2}  FB-IoU {:.2}  (objectness baseline mIoU {:.2})",
            config.fold,
            s.episodes,
            100.0 * s.miou,
            100.0 * s.fb_iou,
            100.0 * s.objectness_miou
        );
        scores.push(s);
    }
    let out = json!({ "report": report, "scores": scores, "data_dir": args.data_dir });
    write_new(
        &report_path,
        serde_json::to_string_pretty(&out)?.as_bytes(),
        args.force,
    )?;
    println!(
        "trained in {:.0} s -> {}",
        report.train_seconds,
        args.out.display()
    );
    Ok(())
}

fn load_model(dir: &Path, device: &Device) -> Result<(MatchingSegmenter, FssTrainConfig)> {
    let config: FssTrainConfig = load_checkpoint_config(dir)?;
    config.validate()?;
    let model = load_checkpoint_weights(config.model.try_init(device)?, dir)?;
    Ok((model, config))
}

fn user_input(args: &ExplainArgs, device: &Device) -> Result<Option<FewShotInput>> {
    match (&args.query, &args.support, &args.support_masks) {
        (None, None, None) => Ok(None),
        (Some(q), Some(s), Some(m)) => {
            let q = read_npy(q)?;
            let s = read_npy(s)?;
            let m = read_npy(m)?;
            let shape = |t: &HostTensor, d: usize, what: &str| -> Result<()> {
                if t.shape.len() != d {
                    bail!("{what} must have {d} dimensions, got shape {:?}", t.shape);
                }
                Ok(())
            };
            shape(&q, 4, "--query")?;
            shape(&s, 5, "--support")?;
            shape(&m, 4, "--support-masks")?;
            if m.values.iter().any(|v| *v != 0.0 && *v != 1.0) {
                bail!("--support-masks must be binary (0 or 1)");
            }
            let input = FewShotInput {
                query: q.to_tensor(device)?,
                support_images: s.to_tensor(device)?,
                support_masks: m.to_tensor(device)?,
            };
            input.validate()?;
            let [_, k, _, _] = input.support_masks.dims();
            let sums = HostTensor::from_tensor(&input.support_masks.clone().sum_dim(3).sum_dim(2));
            if let Some(i) = sums.values.iter().position(|v| *v == 0.0) {
                bail!(
                    "support mask {} of episode {} is empty: a support shot must show the class",
                    i % k,
                    i / k
                );
            }
            Ok(Some(input))
        }
        _ => bail!("--query, --support and --support-masks must be given together"),
    }
}

fn explain(args: ExplainArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let (model, config) = load_model(&args.model, &device)?;
    let sheet_path = args.out.join("sheet.png");
    let json_path = args.out.join("explanation.json");
    let maps_path = args.out.join("maps.npy");
    refuse_existing(&[&sheet_path, &json_path, &maps_path], args.force)?;
    let (input, classes, truth) = match user_input(&args, &device)? {
        Some(input) => (input, None, None),
        None => {
            if args.episodes == 0 {
                bail!("--episodes must be >= 1");
            }
            let test = load_split(None, Split::Test)?;
            let sampler = EpisodeSampler::new(
                &test,
                config.scene.clone(),
                config.fold,
                FoldRole::Test,
                args.shots,
                args.seed,
            )?;
            let batch = episode_batch(&sampler.episodes(0, args.episodes), [MEAN, STD], &device)?;
            (batch.input, Some(batch.classes), Some(batch.query_masks))
        }
    };
    model.check_input(&input)?;
    let explainer = AffinityExplainer::new(AffinityExplainerConfig::new(args.variant.into()));
    let out = explainer.explain(&model, &input, &Region::Predicted)?;
    let sheet = support_sheet(&input, &out.logits, &out.attribution)?;
    std::fs::create_dir_all(&args.out)?;
    save_png(&sheet, &sheet_path, args.force)?;
    write_npy(
        &HostTensor::from_tensor(&out.attribution.support),
        &maps_path,
        args.force,
    )?;
    let weights = HostTensor::from_tensor(&out.layer_weights);
    let l = out.layer_names.len();
    let pred = HostTensor::from_tensor(&out.logits.clone().argmax(1).float());
    let hw: usize = pred.shape[2..].iter().product();
    let truth = truth.map(|t| HostTensor::from_tensor(&t));
    let episodes: Vec<_> = (0..pred.shape[0])
        .map(|i| {
            let iou = truth.as_ref().map(|t| {
                glassbox::metrics::support::foreground_iou(
                    &pred.values[i * hw..(i + 1) * hw],
                    &t.values[i * hw..(i + 1) * hw],
                )
            });
            json!({
                "class": classes.as_ref().map(|c| c[i]),
                "foreground_iou": iou,
                "layer_weights": out.layer_names.iter().zip(&weights.values[i * l..(i + 1) * l])
                    .map(|(n, w)| json!({"layer": n, "weight": w})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "method": out.attribution.method,
        "explainer": explainer.config,
        "maps": "maps.npy ([N, K, H, W], values in [0, 1])",
        "episodes": episodes,
    });
    write_new(
        &json_path,
        serde_json::to_string_pretty(&doc)?.as_bytes(),
        args.force,
    )?;
    eprintln!(
        "wrote {}, {} and {}",
        sheet_path.display(),
        maps_path.display(),
        json_path.display()
    );
    Ok(())
}

fn evaluate_methods(args: EvaluateArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let (model, train_config) = load_model(&args.model, &device)?;
    let methods = match &args.methods {
        Some(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(FssMethod::parse)
            .collect::<glassbox::core::Result<Vec<_>>>()?,
        None => FssMethod::defaults(),
    };
    if args.shots == 0 {
        bail!("--shots must be >= 1");
    }
    let json_path = args.out.with_extension("json");
    let md_path = args.out.with_extension("md");
    refuse_existing(&[&json_path, &md_path], args.force)?;
    let config = FssEvaluationConfig {
        fold: train_config.fold,
        shots: args.shots,
        episodes: args.episodes,
        curve_steps: args.curve_steps,
        seed: args.seed,
        scene: train_config.scene.clone(),
        progress: !args.quiet,
        ..FssEvaluationConfig::default()
    };
    let test = load_split(None, Split::Test)?;
    let table = evaluate_fss_methods(&model, &test, &methods, &config, &device)?;
    if let Some(dir) = json_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_new(
        &json_path,
        serde_json::to_string_pretty(&table)?.as_bytes(),
        args.force,
    )?;
    let md = table.to_markdown();
    write_new(&md_path, md.as_bytes(), args.force)?;
    println!("{md}");
    Ok(())
}
