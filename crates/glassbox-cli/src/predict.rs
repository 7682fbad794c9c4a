//! `glassbox predict`: run a backbone with PyTorch-exported weights on an `.npy` batch.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use glassbox::backbones::weights::load_pytorch_safetensors;
use glassbox::backbones::{MultiLevelBackbone, ResNetConfig, ResNetDepth};
use glassbox::core::npy::{read_npy, write_npy};
use glassbox::core::{Classifier, HostTensor};
use glassbox::device::parse_device;

/// Architectures `predict` can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    /// torchvision ResNet-18.
    Resnet18,
    /// torchvision ResNet-34.
    Resnet34,
    /// torchvision ResNet-50.
    Resnet50,
}

/// Options of `glassbox predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Architecture.
    #[arg(long, value_enum)]
    arch: Arch,
    /// safetensors state dict exported from PyTorch (see scripts/export_torchvision.py).
    #[arg(long)]
    weights: PathBuf,
    /// Input batch: `.npy` float32 `[N, C, H, W]`, already normalised as the weights expect.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the logits (`.npy`, `[N, K]`).
    #[arg(long)]
    out: PathBuf,
    /// Also write stage1..stage4 feature maps as `.npy` files into this directory.
    #[arg(long)]
    features_out: Option<PathBuf>,
    /// Classifier outputs of the checkpoint (torchvision: 1000).
    #[arg(long, default_value_t = 1000)]
    num_classes: usize,
    /// Stage widths of a reduced variant, e.g. `4,8,16,32` (torchvision: 64,128,256,512).
    #[arg(long, value_delimiter = ',')]
    widths: Option<Vec<usize>>,
    /// Stem width of a reduced variant (torchvision: 64).
    #[arg(long, default_value_t = 64)]
    stem_width: usize,
    /// Device: flex, ndarray, wgpu, cuda or cuda:N.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
}

/// Run `glassbox predict`.
pub fn predict(args: PredictArgs) -> Result<()> {
    if args.out.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to replace it",
            args.out.display()
        );
    }
    let device = parse_device(&args.device)?;
    let input = read_npy(&args.input)?;
    if input.shape.len() != 4 {
        bail!(
            "input {} has shape {:?}; expected [N, C, H, W]",
            args.input.display(),
            input.shape
        );
    }
    let depth = match args.arch {
        Arch::Resnet18 => ResNetDepth::ResNet18,
        Arch::Resnet34 => ResNetDepth::ResNet34,
        Arch::Resnet50 => ResNetDepth::ResNet50,
    };
    let mut config = ResNetConfig::new(depth)
        .with_num_classes(Some(args.num_classes))
        .with_in_channels(input.shape[1])
        .with_stem_width(args.stem_width);
    if let Some(w) = &args.widths {
        let [a, b, c, d] = w[..] else {
            bail!("--widths needs exactly 4 comma-separated values, got {w:?}");
        };
        config = config.with_widths([a, b, c, d]);
    }
    let model = load_pytorch_safetensors(config.try_init(&device)?, &args.weights)?;
    let x = input.to_tensor::<4>(&device)?;
    glassbox::core::check::check_finite(&x, "input")?;
    let logits = model.logits(x.clone());
    write_npy(&HostTensor::from_tensor(&logits), &args.out, args.force)?;
    if let Some(dir) = &args.features_out {
        for (level, t) in model.feature_levels().iter().zip(model.forward_levels(x)) {
            let path = dir.join(format!("{}.npy", level.name));
            write_npy(&HostTensor::from_tensor(&t), &path, args.force)?;
        }
    }
    println!("wrote logits {:?} to {}", logits.dims(), args.out.display());
    Ok(())
}
