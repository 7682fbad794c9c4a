//! `glassbox evaluate --metric ...`: score attributions (given, or computed by one or more
//! methods) with glassbox-metrics, writing a JSON report (and a Markdown table for methods).

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use glassbox::core::npy::read_npy;
use glassbox::core::{HostTensor, Target};
use glassbox::image_classifier::ImageClassifier;
use glassbox::metrics::{
    Context, MetricBatch, MetricReport, PerturbationEngine, metric_from_config,
};
use glassbox::scoring::{AttributionMethod, score_methods};
use serde_json::{Value, json};

/// Options of the metric mode of `glassbox evaluate`.
#[derive(Args, Debug, Default)]
pub struct MetricArgs {
    /// Metrics to compute, comma-separated (e.g. pixel_flipping,sparseness). Switches
    /// `evaluate` from test accuracy to explanation metrics.
    #[arg(long, value_delimiter = ',')]
    pub metric: Vec<String>,
    /// Model-ready inputs, float32 `.npy` `[N, C, H, W]`.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Attributions to score, float32 `.npy` `[N, 1|C, H, W]` (e.g. from `glassbox explain`).
    #[arg(long)]
    pub attributions: Option<PathBuf>,
    /// Instead of --attributions: attribution methods to compute and compare, comma-separated
    /// (saliency, ixg, ig, blur-ig, guided-ig, smoothgrad, gradcam, gradcam-pp, occlusion, rise, xrai, lime); writes a method ×
    /// metric table.
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// The method that produced --attributions, recomputed by robustness/randomisation metrics.
    #[arg(long)]
    pub explainer: Option<String>,
    /// Target classes, `.npy` with one value per image (default: the predicted classes).
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// Ground-truth masks `.npy` `[N, 1, H, W]` for localisation metrics.
    #[arg(long)]
    pub masks: Option<PathBuf>,
    /// JSON object `{metric: {field: value}}` overriding metric defaults.
    #[arg(long)]
    pub metric_config: Option<PathBuf>,
    /// Most perturbed copies per forward pass.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Output JSON report (a `.md` table is written next to it when comparing methods).
    #[arg(long, default_value = "runs/metrics/report.json")]
    pub out: PathBuf,
    /// Replace an existing report.
    #[arg(long)]
    pub force: bool,
}

/// Run the metric mode.
pub fn score(
    args: &MetricArgs,
    model: &ImageClassifier,
    device: &burn::prelude::Device,
) -> Result<()> {
    let input = args
        .input
        .as_ref()
        .context("--metric needs --input x.npy")?;
    let x = read_npy(input)?;
    model.check_input(&x.to_tensor::<4>(device)?)?;
    let targets = match &args.targets {
        Some(p) => Some(read_targets(&read_npy(p)?)?),
        None => None,
    };
    let masks = args.masks.as_ref().map(read_npy).transpose()?;
    let overrides: Value = match &args.metric_config {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("parsing {}", p.display()))?,
        None => json!({}),
    };
    let metrics = args
        .metric
        .iter()
        .map(|name| metric_from_config(name, overrides.get(name).cloned().unwrap_or(Value::Null)))
        .collect::<glassbox::core::Result<Vec<_>>>()?;
    let engine = PerturbationEngine::new(args.batch_size).with_progress(true);
    if args.out.exists() && !args.force {
        bail!(
            "{} already exists; choose another --out or pass --force",
            args.out.display()
        );
    }
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut report = MetricReport::default();
    report.subject.insert("input".into(), json!(input));
    if !args.methods.is_empty() {
        if args.attributions.is_some() {
            bail!("pass either --attributions or --methods, not both");
        }
        let methods = args
            .methods
            .iter()
            .map(|m| AttributionMethod::parse(m))
            .collect::<glassbox::core::Result<Vec<_>>>()?;
        let scores = score_methods(
            model, device, &x, targets, masks, &methods, &metrics, engine,
        )?;
        for (method, r) in scores.results {
            report
                .subject
                .insert(format!("method:{}", method.name()), json!(r.len()));
            report.results.extend(r.into_iter().map(|mut r| {
                r.metric = format!("{}/{}", method.name(), r.metric);
                r
            }));
        }
        let md = scores.table.to_markdown();
        print!("{md}");
        glassbox::core::io::write_new(&args.out.with_extension("md"), md.as_bytes(), args.force)?;
    } else {
        let a_path = args
            .attributions
            .as_ref()
            .context("--metric needs --attributions a.npy or --methods")?;
        let a = read_npy(a_path)?;
        report.subject.insert("attributions".into(), json!(a_path));
        let targets = match targets {
            Some(t) => t,
            None => Target::Predicted.resolve(&glassbox::core::Classifier::logits(
                model,
                x.to_tensor(device)?,
            ))?,
        };
        let mut batch = MetricBatch::new(x, a, targets)?;
        if let Some(m) = masks {
            batch = batch.with_masks(m)?;
        }
        let method = args
            .explainer
            .as_deref()
            .map(AttributionMethod::parse)
            .transpose()?;
        let explain = method.map(|m| m.explainer(model, device, None));
        let mut ctx = Context::new(model, device).with_engine(engine);
        if let Some(e) = &explain {
            ctx = ctx.with_explainer(e);
            report
                .subject
                .insert("explainer".into(), json!(method.map(|m| m.name())));
        }
        for m in &metrics {
            let r = m.evaluate(&ctx, &batch)?;
            println!("{:<28} {:>10.4}", r.metric, r.aggregate);
            report.results.push(r);
        }
    }
    report.save_json(&args.out, args.force)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn read_targets(t: &HostTensor) -> Result<Vec<usize>> {
    t.values
        .iter()
        .map(|&v| {
            if v < 0.0 || v.fract() != 0.0 {
                bail!("targets must be non-negative integers, got {v}");
            }
            Ok(v as usize)
        })
        .collect()
}
