//! The `glassbox` command-line tool.
//!
//! `glassbox train` trains a SmallCnn on Fashion-MNIST and writes a checkpoint, a JSON report
//! and a PNG sheet of test predictions; `glassbox evaluate` scores a saved checkpoint;
//! `glassbox explain` attributes its predictions with a post-hoc method.

mod explain;
mod fss;
mod predict;
mod program;
mod prototypes;
mod score;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use glassbox::backbones::{ResNetConfig, ResNetDepth};
use glassbox::classification::{
    TrainConfig, evaluate_classifier, prediction_sheet, train_classifier,
};
use glassbox::core::checkpoint::{
    CheckpointPaths, load_checkpoint_config, load_checkpoint_weights, save_checkpoint,
};
use glassbox::core::render::save_png;
use glassbox::data::fashion_mnist::{CLASS_NAMES, SHORT_NAMES};
use glassbox::data::{FashionMnist, LabeledImages, Split};
use glassbox::device::parse_device;
use glassbox::image_classifier::ModelConfig;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "glassbox",
    version,
    about = "Interpretable-by-design deep learning on burn"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a classifier (SmallCnn or ResNet) on Fashion-MNIST; write checkpoint, report.json
    /// and predictions.png.
    Train(TrainArgs),
    /// Evaluate a checkpoint written by `glassbox train` on the Fashion-MNIST test split, or, with
    /// --metric, score attributions of its predictions with explanation metrics.
    Evaluate(EvaluateArgs),
    /// Attribute a checkpoint's predictions on a .npy or PNG input; write .npy, PNG and JSON.
    Explain(explain::ExplainArgs),
    /// Train prototype networks (ProtoPNet, ST-ProtoPNet) and explain their predictions.
    #[command(subcommand)]
    Prototypes(prototypes::PrototypesCommand),
    /// Few-shot segmentation that explains itself: train a matching segmenter, explain it with
    /// the Affinity Explainer, score explainers against support-image baselines.
    #[command(subcommand)]
    Fss(fss::FssCommand),
    /// Transformer Programs: train a task, extract the program to Python and Rust, run it.
    #[command(subcommand)]
    Program(program::ProgramCommand),
    /// Run a ResNet with PyTorch-exported safetensors weights on an .npy batch; write logits.
    Predict(predict::PredictArgs),
}

#[derive(Args, Debug)]
struct DataArgs {
    /// Directory with the full Fashion-MNIST IDX files (e.g. /usr/share/datasets/fashion-mnist).
    /// Without it, the embedded 10k/2k subset is used.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Device: flex, ndarray, wgpu, cuda or cuda:N (must be compiled in).
    #[arg(long, default_value = "flex")]
    device: String,
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Output directory for model.bpk, config.json, report.json and predictions.png.
    #[arg(long, default_value = "runs/train")]
    out: PathBuf,
    /// Number of epochs (overrides --config).
    #[arg(long)]
    epochs: Option<usize>,
    /// Batch size (overrides --config).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate (overrides --config).
    #[arg(long)]
    lr: Option<f64>,
    /// Random seed (overrides --config).
    #[arg(long)]
    seed: Option<u64>,
    /// A JSON TrainConfig to start from (as written to config.json by a previous run).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Architecture (overrides --config).
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// For ResNets: side the 28×28 images are upsampled to inside the model.
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    /// Train on at most this many training images (a stratified sample), for quick runs.
    #[arg(long)]
    limit: Option<usize>,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
    /// Hide the progress bar and per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

/// Architectures `glassbox train` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Arch {
    /// SmallCnn (28×28 native).
    SmallCnn,
    /// ResNet-18 (grey input, upsampled to --image-size).
    Resnet18,
    /// ResNet-34.
    Resnet34,
    /// ResNet-50.
    Resnet50,
}

impl Arch {
    pub(crate) fn model(self, image_size: usize) -> ModelConfig {
        let depth = match self {
            Arch::SmallCnn => return ModelConfig::default(),
            Arch::Resnet18 => ResNetDepth::ResNet18,
            Arch::Resnet34 => ResNetDepth::ResNet34,
            Arch::Resnet50 => ResNetDepth::ResNet50,
        };
        ModelConfig::ResNet {
            resnet: ResNetConfig::new(depth)
                .with_num_classes(Some(10))
                .with_in_channels(1),
            input_size: Some(image_size),
        }
    }
}

#[derive(Args, Debug)]
struct EvaluateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Checkpoint directory written by `glassbox train`.
    #[arg(long)]
    checkpoint: PathBuf,
    #[command(flatten)]
    metrics: score::MetricArgs,
}

/// glibc's malloc hands buffers above its (adaptive) mmap threshold back to the OS when they are
/// freed, so every multi-MB tensor of the next step is page-faulted in again: on flex the
/// 5-shot few-shot forward pass took 43–50 ms that way against 19–25 ms with an allocator
/// that keeps freed memory (see `docs/affinity.md`, "Speed"). mimalloc keeps it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let go = move || match cli.command {
        Command::Train(args) => train(args),
        Command::Evaluate(args) => evaluate(args),
        Command::Prototypes(cmd) => prototypes::run(cmd),
        Command::Fss(cmd) => fss::run(cmd),
        Command::Program(cmd) => program::run(cmd),
        Command::Explain(args) => explain::explain(args),
        Command::Predict(args) => predict::predict(args),
    };
    // The command runs on a worker of rayon's pool, which flex parallelises on: a parallel
    // operation started from outside the pool hands its work over and sleeps until the
    // workers finish, and on a busy VM waking it back costs 100 µs or more per operation.
    // From a worker the same operation splits its work in place. One epoch of
    // `glassbox train --limit 4000` took 8.5–13.1 s instead of 11.4–14.2 s on two shared
    // cores, with the same loss and accuracy.
    let result = rayon::scope(|_| go());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, joined by `: ` as anyhow's `{:#}` does, but without a cause
/// whose text the message before it already quotes: our errors (and the image crate's) put
/// their source into their own message, so the plain chain printed every I/O or decoding
/// failure twice.
fn error_message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.is_empty() {
            message = text;
        } else if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

pub(crate) fn load_split(data_dir: Option<&Path>, split: Split) -> Result<LabeledImages> {
    Ok(match data_dir {
        Some(dir) => FashionMnist::from_dir(dir, split)?,
        None => FashionMnist::embedded(split)?,
    })
}

/// A JSON config file given with `--config` (a run's `config.json`, possibly edited).
pub(crate) fn read_config<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing config {}", path.display()))
}

fn train(args: TrainArgs) -> Result<()> {
    let total = Instant::now();
    let device = parse_device(&args.data.device)?;
    let mut config = match &args.config {
        Some(path) => read_config::<TrainConfig>(path)?,
        None => TrainConfig::default(),
    };
    if let Some(arch) = args.arch {
        config.model = arch.model(args.image_size);
    }
    if let Some(e) = args.epochs {
        config.fit.epochs = e;
    }
    if let Some(b) = args.batch_size {
        config.batch_size = b;
    }
    if let Some(lr) = args.lr {
        config.fit.learning_rate = lr;
    }
    if let Some(s) = args.seed {
        config.seed = s;
    }
    config.fit.progress = !args.quiet;
    config.validate()?;

    // Refuse up front, before minutes of training, to replace a previous run's files.
    let ckpt = CheckpointPaths::in_dir(&args.out);
    let report_path = args.out.join("report.json");
    let sheet_path = args.out.join("predictions.png");
    if !args.force {
        for p in [&ckpt.weights, &ckpt.config, &report_path, &sheet_path] {
            if p.exists() {
                anyhow::bail!(
                    "{} already exists; choose another --out or pass --force to replace it",
                    p.display()
                );
            }
        }
    }

    let data_dir = args.data.data_dir.as_deref();
    let mut train_set = load_split(data_dir, Split::Train)?;
    if let Some(limit) = args.limit {
        train_set = train_set.stratified(limit.div_ceil(train_set.num_classes()), config.seed)?;
    }
    let test_set = load_split(data_dir, Split::Test)?;
    let source = match data_dir {
        Some(d) => format!("Fashion-MNIST from {}", d.display()),
        None => "Fashion-MNIST embedded subset".to_string(),
    };
    if !args.quiet {
        eprintln!(
            "training {} on {source}: {} train / {} test images, {} epochs, device {}",
            config.model.name(),
            train_set.len(),
            test_set.len(),
            config.fit.epochs,
            args.data.device
        );
    }

    let train_start = Instant::now();
    let (model, history) = train_classifier(&config, &train_set, None, &device)?;
    let train_seconds = train_start.elapsed().as_secs_f64();

    let base = device.clone().inner();
    let evaluation = evaluate_classifier(&model, &test_set, &config.eval_batches(256), &base)?;

    save_checkpoint(&model, &config, &args.out, args.force)?;

    let shown: Vec<usize> = pick_per_class(&test_set, 4);
    let preds: Vec<usize> = shown.iter().map(|&i| evaluation.predictions[i]).collect();
    let sheet = prediction_sheet(&test_set, &shown, &preds, &SHORT_NAMES, 8)?;
    save_png(&sheet, &sheet_path, args.force)?;

    let report = json!({
        "model": config.model.name(),
        "dataset": {
            "source": source,
            "train_images": train_set.len(),
            "test_images": test_set.len(),
            "class_names": CLASS_NAMES,
        },
        "device": args.data.device,
        "config": config,
        "epochs": history,
        "test": {
            "accuracy": evaluation.accuracy,
            "per_class_accuracy": CLASS_NAMES.iter().zip(&evaluation.per_class_accuracy)
                .map(|(n, a)| json!({"class": n, "accuracy": a}))
                .collect::<Vec<_>>(),
            "confusion_matrix": evaluation.confusion,
        },
        "timings_seconds": {
            "train": train_seconds,
            "evaluate": evaluation.seconds,
            "total": total.elapsed().as_secs_f64(),
        },
        "files": {
            "weights": ckpt.weights,
            "config": ckpt.config,
            "predictions_png": sheet_path,
        },
    });
    let text = serde_json::to_string_pretty(&report)?;
    glassbox::core::io::write_new(&report_path, text.as_bytes(), args.force)?;

    println!(
        "test accuracy {:.2}% on {} images ({source}); trained in {:.1}s",
        100.0 * evaluation.accuracy,
        test_set.len(),
        train_seconds
    );
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The first `k` test images of every class, so the sheet shows all classes.
fn pick_per_class(data: &LabeledImages, k: usize) -> Vec<usize> {
    let mut taken = vec![0; data.num_classes()];
    let mut picked = Vec::new();
    for (i, &l) in data.labels().iter().enumerate() {
        if taken[l as usize] < k {
            taken[l as usize] += 1;
            picked.push(i);
        }
    }
    picked.sort_by_key(|&i| (data.labels()[i], i));
    picked
}

fn evaluate(args: EvaluateArgs) -> Result<()> {
    let device = parse_device(&args.data.device)?;
    let config: TrainConfig = load_checkpoint_config(&args.checkpoint)?;
    config.validate()?;
    let model = load_checkpoint_weights(config.model.try_init(&device)?, &args.checkpoint)?;
    if !args.metrics.metric.is_empty() {
        return score::score(&args.metrics, &model, &device);
    }
    let test = load_split(args.data.data_dir.as_deref(), Split::Test)?;
    let evaluation = evaluate_classifier(&model, &test, &config.eval_batches(256), &device)?;
    let out = json!({
        "checkpoint": args.checkpoint,
        "test_images": test.len(),
        "accuracy": evaluation.accuracy,
        "per_class_accuracy": evaluation.per_class_accuracy,
        "confusion_matrix": evaluation.confusion,
        "seconds": evaluation.seconds,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::error_message;
    use anyhow::Context;

    #[test]
    fn a_cause_the_message_already_quotes_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error: anyhow::Error = glassbox::core::Error::io("/x/config.json", io).into();
        assert_eq!(
            error_message(&error),
            "I/O error on /x/config.json: no such file"
        );
    }

    #[test]
    fn causes_the_message_does_not_quote_are_kept_in_order() {
        let error = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing report.json")
            .context("saving the run")
            .unwrap_err();
        assert_eq!(
            error_message(&error),
            "saving the run: writing report.json: disk full"
        );
    }
}
