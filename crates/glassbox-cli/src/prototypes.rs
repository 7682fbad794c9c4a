//! `glassbox prototypes train|explain`: ProtoPNet / ST-ProtoPNet on Fashion-MNIST.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use glassbox::core::checkpoint::{
    load_checkpoint_config, load_checkpoint_weights, save_checkpoint,
};
use glassbox::core::io::write_new;
use glassbox::core::render::save_png;
use glassbox::data::fashion_mnist::SHORT_NAMES;
use glassbox::data::{LabeledImages, Split};
use glassbox::device::parse_device;
use glassbox::prototypes::{
    PrototypeNetConfig, PrototypeTrainConfig, PrototypeTrainReport, Variant, explanation_sheet,
    prototype_gallery, train_prototype_net,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Arch, load_split};

/// `glassbox prototypes …`
#[derive(Subcommand, Debug)]
pub enum PrototypesCommand {
    /// Train a prototype network; write checkpoint, report.json and gallery.png.
    Train(TrainArgs),
    /// Explain a trained prototype network's predictions; write sheet.png and explanation.json.
    Explain(ExplainArgs),
}

/// Which paper's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    /// ProtoPNet (Chen et al. 2019).
    Protopnet,
    /// ST-ProtoPNet (Wang et al. 2023).
    StProtopnet,
}

/// Options of `glassbox prototypes train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A JSON training config to start from (the `config.json` a previous run wrote): every
    /// setting comes from it, and the options below that are given override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Backbone (default: small-cnn).
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// Model variant (default: protopnet).
    #[arg(long, value_enum)]
    variant: Option<VariantArg>,
    /// For ResNets: side the 28×28 images are upsampled to inside the model.
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    /// Joint epochs per push cycle (warm-up and last-layer epochs: --warm-epochs,
    /// --last-layer-epochs).
    #[arg(long)]
    epochs: Option<usize>,
    /// Warm-up epochs.
    #[arg(long)]
    warm_epochs: Option<usize>,
    /// Last-layer epochs after push.
    #[arg(long)]
    last_layer_epochs: Option<usize>,
    /// Joint → push → last-layer cycles after the warm-up (each with --epochs joint epochs);
    /// the papers push repeatedly (default 1).
    #[arg(long)]
    push_cycles: Option<usize>,
    /// Prototypes per class (default: 10 ProtoPNet, 5 per branch ST-ProtoPNet).
    #[arg(long)]
    prototypes_per_class: Option<usize>,
    /// Seed (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Start the backbone from a `glassbox train` checkpoint directory of the same --arch (as
    /// the papers start from ImageNet weights); default: from scratch.
    #[arg(long)]
    backbone: Option<PathBuf>,
    /// Joint-phase backbone learning rate (default 3e-3 from scratch, 1e-4 with --backbone).
    #[arg(long)]
    backbone_lr: Option<f64>,
    /// Learning rate of the last-layer phase after push (default 1e-3).
    #[arg(long)]
    last_layer_lr: Option<f64>,
    /// Full Fashion-MNIST directory (default: the embedded subset).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Train on at most this many images (stratified), for quick runs.
    #[arg(long)]
    limit: Option<usize>,
    /// Device.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Output directory.
    #[arg(long, default_value = "runs/prototypes")]
    out: PathBuf,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
    /// No per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

/// Options of `glassbox prototypes explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Directory written by `glassbox prototypes train`.
    #[arg(long)]
    model: PathBuf,
    /// Input `.npy` (model-ready `[N, 1, 28, 28]`) or PNG.
    #[arg(long)]
    input: PathBuf,
    /// Prototypes shown per prediction.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Device.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Output directory for sheet.png and explanation.json.
    #[arg(long, default_value = "runs/prototypes-explain")]
    out: PathBuf,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
}

/// Which training images the push records index (so explain can show the prototypes' sources).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DataSource {
    data_dir: Option<PathBuf>,
    limit: Option<usize>,
    seed: u64,
}

impl DataSource {
    fn load(&self) -> Result<LabeledImages> {
        let mut train = load_split(self.data_dir.as_deref(), Split::Train)?;
        if let Some(limit) = self.limit {
            train = train.stratified(limit.div_ceil(train.num_classes()), self.seed)?;
        }
        Ok(train)
    }
}

/// Run a `prototypes` subcommand.
pub fn run(cmd: PrototypesCommand) -> Result<()> {
    match cmd {
        PrototypesCommand::Train(a) => train(a),
        PrototypesCommand::Explain(a) => explain(a),
    }
}

fn train(args: TrainArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let config = training_config(&args)?;
    let report_path = args.out.join("report.json");
    let gallery_path = args.out.join("gallery.png");
    crate::fss::refuse_existing(&[report_path.as_path(), gallery_path.as_path()], args.force)?;
    let source = DataSource {
        data_dir: args.data_dir.clone(),
        limit: args.limit,
        seed: config.seed,
    };
    let train_set = source.load()?;
    let test_set = load_split(args.data_dir.as_deref(), Split::Test)?;
    let (net, report) = train_prototype_net(&config, &train_set, Some(&test_set), &device)?;
    save_checkpoint(&net, &config, &args.out, args.force)?;
    let gallery = prototype_gallery(
        &net,
        &train_set,
        &report.push,
        config.normalize,
        &SHORT_NAMES,
        &device,
    )?;
    save_png(&gallery, &gallery_path, args.force)?;
    let out = json!({ "data": source, "report": report, "config": config });
    write_new(
        &report_path,
        serde_json::to_string_pretty(&out)?.as_bytes(),
        args.force,
    )?;
    println!(
        "{:?} on {}: test accuracy {:.2} % before push, {:.2} % after push, {:.2} % final, {:.0} s -> {}",
        config.model.variant,
        config.model.backbone.name(),
        100.0 * report.accuracy_before_push.unwrap_or(f64::NAN),
        100.0 * report.accuracy_after_push.unwrap_or(f64::NAN),
        100.0 * report.accuracy_final.unwrap_or(f64::NAN),
        report.seconds,
        args.out.display()
    );
    Ok(())
}

/// The training config `args` describe: `--config`'s file (or the defaults for `--arch` and
/// `--variant`), then every option given on top of it.
fn training_config(args: &TrainArgs) -> Result<PrototypeTrainConfig> {
    let variant = args.variant.map(|v| match v {
        VariantArg::Protopnet => Variant::Protopnet,
        VariantArg::StProtopnet => Variant::StProtopnet,
    });
    let backbone = args.arch.map(|a| a.model(args.image_size));
    let mut config = match &args.config {
        Some(path) => {
            let mut config: PrototypeTrainConfig = crate::read_config(path)?;
            if backbone.is_some() || variant.is_some() {
                // A new backbone or variant is a new model: its defaults (prototypes per
                // class, the backbone's shape) come with it.
                config.model = PrototypeNetConfig::new(
                    backbone.unwrap_or(config.model.backbone),
                    variant.unwrap_or(config.model.variant),
                    config.model.num_classes,
                );
            }
            config
        }
        None => PrototypeTrainConfig::new(PrototypeNetConfig::new(
            backbone.unwrap_or_else(|| Arch::SmallCnn.model(args.image_size)),
            variant.unwrap_or(Variant::Protopnet),
            10,
        )),
    };
    if let Some(p) = args.prototypes_per_class {
        config.model.prototypes_per_class = p;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    config.progress = !args.quiet;
    if let Some(dir) = &args.backbone {
        config.backbone_weights =
            Some(glassbox::core::checkpoint::CheckpointPaths::in_dir(dir).weights);
        if args.config.is_none() {
            // A trained backbone gets the papers' small joint learning rate.
            config.learning_rates.backbone = 1e-4;
        }
    }
    if let Some(lr) = args.backbone_lr {
        config.learning_rates.backbone = lr;
    }
    if let Some(lr) = args.last_layer_lr {
        config.learning_rates.last_layer = lr;
    }
    if let Some(e) = args.epochs {
        config.joint_epochs = e;
    }
    if let Some(e) = args.warm_epochs {
        config.warm_epochs = e;
    }
    if let Some(e) = args.last_layer_epochs {
        config.last_layer_epochs = e;
    }
    if let Some(c) = args.push_cycles {
        config.push_cycles = c;
    }
    config.validate()?;
    Ok(config)
}

fn explain(args: ExplainArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let config: PrototypeTrainConfig = load_checkpoint_config(&args.model)?;
    config.validate()?;
    let report_text = std::fs::read_to_string(args.model.join("report.json"))
        .with_context(|| format!("reading {}/report.json", args.model.display()))?;
    let saved: serde_json::Value = serde_json::from_str(&report_text)?;
    let source: DataSource = serde_json::from_value(saved["data"].clone())?;
    let report: PrototypeTrainReport = serde_json::from_value(saved["report"].clone())?;
    let net = load_checkpoint_weights(config.model.try_init(&device)?, &args.model)?;
    let x = crate::explain::load_input(
        &args.input,
        config.model.backbone.in_channels(),
        config.normalize,
        &device,
    )?;
    net.check_input(&x)?;
    if args.top == 0 {
        bail!("--top must be >= 1");
    }
    let sheet_path = args.out.join("sheet.png");
    let json_path = args.out.join("explanation.json");
    crate::fss::refuse_existing(&[sheet_path.as_path(), json_path.as_path()], args.force)?;
    let train_set = source.load()?;
    let (sheet, explanations) = explanation_sheet(
        &net,
        x,
        &train_set,
        &report.push,
        config.normalize,
        &SHORT_NAMES,
        args.top,
        &device,
    )?;
    std::fs::create_dir_all(&args.out)?;
    save_png(&sheet, &sheet_path, args.force)?;
    write_new(
        &json_path,
        serde_json::to_string_pretty(&explanations)?.as_bytes(),
        args.force,
    )?;
    for (i, e) in explanations.iter().enumerate() {
        let top: Vec<String> = e
            .top
            .iter()
            .map(|m| {
                format!(
                    "p{} ({}) {:.2}",
                    m.prototype, SHORT_NAMES[m.class], m.contribution
                )
            })
            .collect();
        println!(
            "input {i}: {} because {}",
            SHORT_NAMES[e.predicted],
            top.join(", ")
        );
    }
    eprintln!("wrote {} and {}", sheet_path.display(), json_path.display());
    Ok(())
}
