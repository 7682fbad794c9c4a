//! `glassbox explain`: attribute a trained checkpoint's predictions on `.npy` or PNG inputs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use clap::{Args, ValueEnum};
use glassbox::classification::TrainConfig;
use glassbox::core::checkpoint::{load_checkpoint_config, load_checkpoint_weights};
use glassbox::core::npy::{read_npy, write_npy};
use glassbox::core::render::{
    Colormap, ImageGrid, Normalization, heatmap, overlay, resize_nearest, save_png,
};
use glassbox::core::{Attribution, Explanation, HostTensor, Target};
use glassbox::data::fashion_mnist::SHORT_NAMES;
use glassbox::device::parse_device;
use glassbox::image_classifier::ImageClassifier;
use glassbox::scoring::AttributionMethod;

/// Attribution method names accepted by `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// |gradient| of the target logit.
    Saliency,
    /// input × gradient.
    Ixg,
    /// Integrated Gradients (Gauss–Legendre, zero baseline).
    Ig,
    /// Blur Integrated Gradients (path through Gaussian blurs, σ_max 50, 100 steps).
    BlurIg,
    /// Guided Integrated Gradients (adaptive path, 200 steps, fraction 0.25, max_dist 0.02).
    GuidedIg,
    /// SmoothGrad (mean gradient under Gaussian noise).
    Smoothgrad,
    /// Grad-CAM on the last conv stage.
    Gradcam,
    /// Grad-CAM++.
    GradcamPp,
    /// Sliding-window occlusion (4×4, stride 2).
    Occlusion,
    /// RISE random masks.
    Rise,
    /// XRAI (IG over min/max baselines, 100 steps, ranked by Felzenszwalb regions).
    Xrai,
    /// LIME over SLIC superpixels (50 samples, Lasso α 0.01).
    Lime,
    /// DeepLift (Rescale rule at every ReLU and max-pool, zero reference).
    Deeplift,
}

/// Options of `glassbox explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Checkpoint directory written by `glassbox train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Input: a `.npy` of model-ready float32 `[N, C, H, W]` (normalised like the training
    /// data), or a PNG (converted to grey, resized to 28×28, normalised as in training).
    #[arg(long)]
    input: PathBuf,
    /// Attribution method.
    #[arg(long, value_enum, default_value = "ig")]
    method: Method,
    /// Class to explain; the predicted class when omitted.
    #[arg(long)]
    target: Option<usize>,
    /// Steps (IG, Blur IG, Guided IG) or samples (SmoothGrad) or masks (RISE).
    #[arg(long)]
    steps: Option<usize>,
    /// Output directory for attribution.npy, attribution.png and attribution.json.
    #[arg(long, default_value = "runs/explain")]
    out: PathBuf,
    /// Device: flex, ndarray, wgpu, cuda or cuda:N.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
}

/// Read a model-ready `.npy` `[N, C, H, W]` or a PNG (grey, 28×28, normalised with
/// `normalize`), checking the channel count.
pub fn load_input(
    path: &Path,
    in_channels: usize,
    normalize: (f32, f32),
    device: &Device,
) -> Result<Tensor<4>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = match ext.as_str() {
        "npy" => read_npy(path)?,
        "png" => {
            let img = image::open(path)
                .with_context(|| format!("reading image {}", path.display()))?
                .to_luma8();
            let img = image::imageops::resize(&img, 28, 28, image::imageops::FilterType::Triangle);
            let (mean, std) = normalize;
            let values = img
                .pixels()
                .map(|p| (p.0[0] as f32 / 255.0 - mean) / std)
                .collect();
            HostTensor::new(vec![1, 1, 28, 28], values)?
        }
        _ => bail!(
            "unsupported input {}: expected a .npy or .png file",
            path.display()
        ),
    };
    if host.shape.len() != 4 || host.shape[1] != in_channels {
        bail!(
            "input {} has shape {:?}; the model expects [N, {}, H, W]",
            path.display(),
            host.shape,
            in_channels
        );
    }
    Ok(host.to_tensor(device)?)
}

fn attribute(args: &ExplainArgs, model: &ImageClassifier, x: Tensor<4>) -> Result<Attribution> {
    let t = args.target.map_or(Target::Predicted, Target::Class);
    let method = match args.method {
        Method::Saliency => AttributionMethod::Saliency,
        Method::Ixg => AttributionMethod::InputXGradient,
        Method::Ig => AttributionMethod::IntegratedGradients,
        Method::BlurIg => AttributionMethod::BlurIntegratedGradients,
        Method::GuidedIg => AttributionMethod::GuidedIntegratedGradients,
        Method::Smoothgrad => AttributionMethod::SmoothGrad,
        Method::Gradcam => AttributionMethod::GradCam,
        Method::GradcamPp => AttributionMethod::GradCamPlusPlus,
        Method::Occlusion => AttributionMethod::Occlusion,
        Method::Rise => AttributionMethod::Rise,
        Method::Xrai => AttributionMethod::Xrai,
        Method::Lime => AttributionMethod::Lime,
        Method::Deeplift => AttributionMethod::DeepLift,
    };
    Ok(method.attribute(model, x, &t, args.steps)?)
}

/// Run `glassbox explain`.
pub fn explain(args: ExplainArgs) -> Result<()> {
    let npy_path = args.out.join("attribution.npy");
    let png_path = args.out.join("attribution.png");
    let json_path = args.out.join("attribution.json");
    if !args.force {
        for p in [&npy_path, &png_path, &json_path] {
            if p.exists() {
                bail!(
                    "{} already exists; choose another --out or pass --force",
                    p.display()
                );
            }
        }
    }
    let device = parse_device(&args.device)?;
    let config: TrainConfig = load_checkpoint_config(&args.checkpoint)?;
    config.validate()?;
    let model = load_checkpoint_weights(config.model.try_init(&device)?, &args.checkpoint)?;
    let x = load_input(
        &args.input,
        config.model.in_channels(),
        config.normalize,
        &device,
    )?;
    model.check_input(&x)?;
    let attribution = attribute(&args, &model, x.clone())?;

    write_npy(
        &HostTensor::from_tensor(&attribution.relevance),
        &npy_path,
        args.force,
    )?;
    glassbox::core::io::write_new(&json_path, attribution.to_json()?.as_bytes(), args.force)?;

    // Sheet: per sample, the input (grey) and the relevance overlaid on it.
    let [n, _, h, w] = x.dims();
    let (mean, std) = config.normalize;
    let inputs = HostTensor::from_tensor(&x.slice(s![.., 0..1]));
    let maps = HostTensor::from_tensor(&attribution.pixel_map());
    let [mh, mw] = [
        attribution.relevance.dims()[2],
        attribution.relevance.dims()[3],
    ];
    let scale = (84 / h.max(w)).max(1) as u32;
    let (tw, th) = (w as u32 * scale, h as u32 * scale);
    let mut grid = ImageGrid::new(2, tw, th);
    for i in 0..n {
        let px: Vec<f32> = inputs.values[i * h * w..(i + 1) * h * w]
            .iter()
            .map(|v| v * std + mean)
            .collect();
        let base = resize_nearest(
            &heatmap(
                &px,
                w as u32,
                h as u32,
                Colormap::Grey,
                Normalization::Identity,
            )?,
            tw,
            th,
        );
        let map = &maps.values[i * mh * mw..(i + 1) * mh * mw];
        let heat = heatmap(
            map,
            mw as u32,
            mh as u32,
            Colormap::Inferno,
            Normalization::MinMax,
        )?;
        let class = attribution.targets[i];
        let name = SHORT_NAMES.get(class).copied().unwrap_or("?");
        grid.push(
            base.clone(),
            &[&format!("#{i}"), &format!("c{class}:{name}")],
            None,
        );
        grid.push(
            overlay(&base, &heat, 0.6)?,
            &[&attribution.method, ""],
            None,
        );
    }
    save_png(&grid.render()?, &png_path, args.force)?;
    println!(
        "{} for classes {:?}: wrote {}, {} and {}",
        attribution.method,
        attribution.targets,
        npy_path.display(),
        png_path.display(),
        json_path.display()
    );
    Ok(())
}
