//! Few-shot segmentation explanations side by side: the Affinity Explainer and the post-hoc
//! baselines adapted to support images, scored with the support-set causal metrics of the
//! Affinity Explainer paper, as a method × metric table.
//!
//! This lives in the umbrella crate because it joins three families (affinity, attribution,
//! metrics), which never depend on each other.

use std::time::Instant;

use burn::prelude::*;
use glassbox_affinity::{
    AffinityExplainer, AffinityExplainerConfig, MatchingSegmenter, Region, Variant,
};
use glassbox_attribution::{SupportAttributor, SupportMethod};
use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, FewShotInput, HostTensor, Result, SupportAttribution};
use glassbox_data::fss::{EpisodeSampler, FoldRole, SceneConfig, episode_batch};
use glassbox_data::{LabeledImages, fashion_mnist};
use glassbox_metrics::{MiouLoss, PerturbationEngine, SupportBatch, SupportCurve};
use serde::{Deserialize, Serialize};

/// A support-attribution method, by name.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FssMethod {
    /// Uniform random relevance (a floor every method should beat).
    Random,
    /// The support's own annotation plus N(0, 0.01²) noise (the paper's "Gaussian Noise Mask").
    MaskPrior,
    /// |∂ score / ∂ support image|.
    Saliency,
    /// Integrated Gradients over the support images from the zero (mean-grey) support.
    IntegratedGradients {
        /// Path points (the paper uses 25; the speed goal compares with 50).
        steps: usize,
    },
    /// Blur IG over the query and support images (σ_max 50, `grad_step` 0.01; the paper uses
    /// 25 steps), absolute values.
    BlurIntegratedGradients {
        /// Path points.
        steps: usize,
    },
    /// Guided IG over the query and support images from zero (fraction 0.5, max_dist 1.0; the
    /// paper uses 25 steps), absolute values.
    GuidedIntegratedGradients {
        /// Path steps.
        steps: usize,
    },
    /// XRAI per support image: Integrated Gradients over the support images from zero,
    /// ranked by each support's Felzenszwalb regions (the paper uses 25 steps).
    Xrai {
        /// Integrated-Gradients path points.
        steps: usize,
    },
    /// LIME over the supports' SLIC superpixels (80 segments, compactness 10, Lasso α 0.01,
    /// image weight 0.2, kernel width 1; the paper uses 25 samples).
    Lime {
        /// Perturbed copies per episode.
        samples: usize,
    },
    /// DeepLift (Rescale rule) over query, supports and masks from an all-zero reference;
    /// the supports' part.
    DeepLift,
    /// Grad-CAM on the supports' deepest matching-level features.
    GradCam,
    /// RISE over support images and masks.
    Rise {
        /// Random masks per episode.
        masks: usize,
    },
    /// The Affinity Explainer.
    Affinity(Variant),
}

impl FssMethod {
    /// Every method with the defaults used in the results table.
    pub fn defaults() -> Vec<FssMethod> {
        vec![
            Self::Random,
            Self::MaskPrior,
            Self::Saliency,
            Self::IntegratedGradients { steps: 25 },
            Self::BlurIntegratedGradients { steps: 25 },
            Self::GuidedIntegratedGradients { steps: 25 },
            Self::Xrai { steps: 25 },
            Self::Lime { samples: 25 },
            Self::DeepLift,
            Self::GradCam,
            Self::Rise { masks: 500 },
            Self::Affinity(Variant::Unmasked),
            Self::Affinity(Variant::Masked),
            Self::Affinity(Variant::Signed),
        ]
    }

    /// Name as in JSON and on the command line.
    pub fn name(&self) -> String {
        match self {
            Self::Random => "random".into(),
            Self::MaskPrior => "mask_prior".into(),
            Self::Saliency => "saliency".into(),
            Self::IntegratedGradients { steps } => format!("ig{steps}"),
            Self::BlurIntegratedGradients { steps } => format!("blurig{steps}"),
            Self::GuidedIntegratedGradients { steps } => format!("guidedig{steps}"),
            Self::Xrai { steps } => format!("xrai{steps}"),
            Self::Lime { samples } => format!("lime{samples}"),
            Self::DeepLift => "deep_lift".into(),
            Self::GradCam => "grad_cam".into(),
            Self::Rise { masks } => format!("rise{masks}"),
            Self::Affinity(v) => v.method_name().into(),
        }
    }

    /// Parse `random`, `mask_prior`, `saliency`, `ig` / `igN`, `blurig` / `blurigN`, `guidedig` /
    /// `guidedigN`, `xrai` / `xraiN`, `lime` / `limeN`, `deep_lift`, `grad_cam`, `rise` / `riseN`, `affinity`
    /// (= masked), `affinity_unmasked`, `affinity_masked`, `affinity_signed`.
    pub fn parse(name: &str) -> Result<Self> {
        let n = name
            .trim()
            .to_ascii_lowercase()
            .replace('-', "_")
            .replace("blur_ig", "blurig")
            .replace("guided_ig", "guidedig");
        let number = |prefix: &str, default: usize| -> Option<usize> {
            let rest = n.strip_prefix(prefix)?;
            if rest.is_empty() {
                Some(default)
            } else {
                rest.parse().ok().filter(|&v| v > 0)
            }
        };
        Ok(match n.as_str() {
            "random" => Self::Random,
            "mask_prior" | "gaussian_noise_mask" => Self::MaskPrior,
            "saliency" => Self::Saliency,
            "grad_cam" | "gradcam" => Self::GradCam,
            "deep_lift" | "deeplift" => Self::DeepLift,
            "affinity" | "affinity_masked" | "affex" => Self::Affinity(Variant::Masked),
            "affinity_unmasked" => Self::Affinity(Variant::Unmasked),
            "affinity_signed" => Self::Affinity(Variant::Signed),
            _ => {
                if let Some(steps) = number("blurig", 25) {
                    Self::BlurIntegratedGradients { steps }
                } else if let Some(steps) = number("guidedig", 25) {
                    Self::GuidedIntegratedGradients { steps }
                } else if let Some(samples) = number("lime", 25) {
                    Self::Lime { samples }
                } else if let Some(steps) = number("xrai", 25) {
                    Self::Xrai { steps }
                } else if let Some(steps) = number("ig", 25) {
                    Self::IntegratedGradients { steps }
                } else if let Some(masks) = number("rise", 500) {
                    Self::Rise { masks }
                } else {
                    return Err(Error::config(format!(
                        "unknown few-shot method {name:?}; expected random, mask_prior, saliency, igN, blurigN, guidedigN, xraiN, limeN, deep_lift, grad_cam, riseN, affinity, affinity_unmasked, affinity_masked or affinity_signed"
                    )));
                }
            }
        })
    }

    /// Attribute `model`'s predicted foreground of each query to its support images:
    /// `[N, K, H, W]`. `seed` drives the random methods.
    pub fn attribute(
        &self,
        model: &MatchingSegmenter,
        input: &FewShotInput,
        seed: u64,
    ) -> Result<SupportAttribution> {
        input.validate()?;
        let [n, k, _, h, w] = input.support_images.dims();
        let device = input.query.device();
        let noise = |scale: f32| {
            let mut rng = SplitMix64::new(seed);
            (0..n * k * h * w)
                .map(|_| scale * rng.normal() as f32)
                .collect::<Vec<f32>>()
        };
        let from_host = |v: Vec<f32>, method: &str| SupportAttribution {
            support: Tensor::<1>::from_floats(v.as_slice(), &device).reshape([n, k, h, w]),
            method: method.into(),
        };
        Ok(match self {
            Self::Random => {
                let mut rng = SplitMix64::new(seed);
                from_host((0..n * k * h * w).map(|_| rng.unit()).collect(), "random")
            }
            Self::MaskPrior => {
                let masks = HostTensor::from_tensor(&input.support_masks).values;
                let v = masks.iter().zip(noise(0.01)).map(|(m, e)| m + e).collect();
                from_host(v, "mask_prior")
            }
            Self::Saliency => {
                SupportAttributor::new(SupportMethod::Saliency).attribute(model, input, None)?
            }
            Self::IntegratedGradients { steps } => {
                SupportAttributor::new(SupportMethod::IntegratedGradients { steps: *steps })
                    .attribute(model, input, None)?
            }
            Self::BlurIntegratedGradients { steps } => {
                SupportAttributor::new(SupportMethod::BlurIntegratedGradients {
                    steps: *steps,
                    max_sigma: 50.0,
                    grad_step: 0.01,
                })
                .attribute(model, input, None)?
            }
            Self::GuidedIntegratedGradients { steps } => {
                SupportAttributor::new(SupportMethod::GuidedIntegratedGradients {
                    steps: *steps,
                    fraction: 0.5,
                    max_dist: 1.0,
                })
                .attribute(model, input, None)?
            }
            Self::Xrai { steps } => SupportAttributor::new(SupportMethod::Xrai { steps: *steps })
                .attribute(model, input, None)?,
            Self::Lime { samples } => SupportAttributor::new(SupportMethod::Lime {
                samples: *samples,
                segments: 80,
                compactness: 10.0,
                alpha: 0.01,
                image_weight: 0.2,
                kernel_width: 1.0,
                seed,
                batch_size: 25,
            })
            .attribute(model, input, None)?,
            Self::DeepLift => SupportAttributor::new(SupportMethod::DeepLift { eps: 1e-10 })
                .attribute(model, input, None)?,
            Self::GradCam => model.support_grad_cam(input, None)?,
            Self::Rise { masks } => SupportAttributor::new(SupportMethod::Rise {
                masks: *masks,
                cells: 8,
                p: 0.5,
                seed,
                batch_size: 64,
            })
            .attribute(model, input, None)?,
            Self::Affinity(v) => {
                AffinityExplainer::new(AffinityExplainerConfig::new(*v))
                    .explain(model, input, &Region::Predicted)?
                    .attribution
            }
        })
    }
}

/// The metrics of the paper's tables, in column order.
pub const FSS_METRICS: [&str; 6] = [
    "iauc_iou",
    "dauc_iou",
    "diff",
    "iauc@1%_confidence",
    "miou_loss@1%",
    "miou_loss@5%",
];

/// How an evaluation is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FssEvaluationConfig {
    /// The fold (its held-out classes are evaluated).
    pub fold: usize,
    /// Shots per episode.
    pub shots: usize,
    /// Test episodes.
    pub episodes: usize,
    /// Episodes per explanation batch.
    pub batch_size: usize,
    /// Seed of the test episodes and of the random methods.
    pub seed: u64,
    /// Steps of the IAUC/DAUC curves (the paper: 75).
    pub curve_steps: usize,
    /// Perturbed episodes per forward pass.
    pub engine_batch: usize,
    /// Scene composition (must match training).
    pub scene: SceneConfig,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for FssEvaluationConfig {
    fn default() -> Self {
        Self {
            fold: 0,
            shots: 1,
            episodes: 100,
            batch_size: 10,
            seed: 2025,
            curve_steps: 75,
            engine_batch: 64,
            scene: SceneConfig::default(),
            progress: false,
        }
    }
}

/// One method's scores (×100 like the paper, except seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FssRow {
    /// Method name.
    pub method: String,
    /// Mean of each metric in [`FSS_METRICS`] order, ×100.
    pub scores: Vec<f64>,
    /// Mean explanation time per episode in milliseconds (batched).
    pub explain_ms: f64,
}

/// A method × metric table for one shot setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FssEvaluation {
    /// The configuration.
    pub config: FssEvaluationConfig,
    /// One row per method.
    pub rows: Vec<FssRow>,
}

impl FssEvaluation {
    /// A Markdown table (↑ = higher is better).
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "{}-shot, fold {}, {} episodes\n\n| method | IAUC (IoU) ↑ | DAUC (IoU) ↓ | Diff ↑ | IAUC@1% (Conf) ↑ | mIoUL@1% ↓ | mIoUL@5% ↓ | ms / episode |\n|---|---|---|---|---|---|---|---|\n",
            self.config.shots, self.config.fold, self.config.episodes
        );
        for r in &self.rows {
            s.push_str(&format!("| {} |", r.method));
            for v in &r.scores {
                s.push_str(&format!(" {v:.2} |"));
            }
            s.push_str(&format!(" {:.1} |\n", r.explain_ms));
        }
        s
    }
}

/// Explain `config.episodes` test episodes with every method and score them.
pub fn evaluate_fss_methods(
    model: &MatchingSegmenter,
    images: &LabeledImages,
    methods: &[FssMethod],
    config: &FssEvaluationConfig,
    device: &Device,
) -> Result<FssEvaluation> {
    if methods.is_empty() {
        return Err(Error::Empty("method list".into()));
    }
    if config.episodes == 0 || config.batch_size == 0 || config.curve_steps == 0 {
        return Err(Error::config(
            "episodes, batch_size and curve_steps must be >= 1",
        ));
    }
    let sampler = EpisodeSampler::new(
        images,
        config.scene.clone(),
        config.fold,
        FoldRole::Test,
        config.shots,
        config.seed,
    )?;
    let engine = PerturbationEngine::new(config.engine_batch);
    let iauc = SupportCurve::iauc().with_steps(config.curve_steps);
    let dauc = SupportCurve::dauc().with_steps(config.curve_steps);
    let conf = SupportCurve::iauc_at(0.01);
    let losses = [MiouLoss::new(0.01), MiouLoss::new(0.05)];
    let bar = glassbox_core::train::counter_bar(
        config.progress,
        (methods.len() * config.episodes) as u64,
        "episodes×methods",
    );
    let mut rows = Vec::new();
    for method in methods {
        bar.set_message(method.name());
        let mut sums = [(0.0f64, 0usize); 5];
        let mut explain_seconds = 0.0;
        let mut done = 0;
        while done < config.episodes {
            let count = config.batch_size.min(config.episodes - done);
            let eps = sampler.episodes(done as u64, count);
            let batch = episode_batch(&eps, [fashion_mnist::MEAN, fashion_mnist::STD], device)?;
            let t0 = Instant::now();
            let attribution = method.attribute(model, &batch.input, config.seed ^ done as u64)?;
            // Reading the result back finishes any lazy device work inside the timing.
            let support = HostTensor::from_tensor(&attribution.support);
            explain_seconds += t0.elapsed().as_secs_f64();
            let sb = SupportBatch {
                input: batch.input,
                query_masks: batch.query_masks,
                attribution: support.to_tensor(device)?,
            };
            let results = [
                iauc.evaluate(model, &sb, &engine, device)?,
                dauc.evaluate(model, &sb, &engine, device)?,
                conf.evaluate(model, &sb, &engine, device)?,
                losses[0].evaluate(model, &sb, &engine, device)?,
                losses[1].evaluate(model, &sb, &engine, device)?,
            ];
            for (sum, r) in sums.iter_mut().zip(&results) {
                for s in r.scores.iter().filter(|s| s.is_finite()) {
                    sum.0 += s;
                    sum.1 += 1;
                }
            }
            done += count;
            bar.inc(count as u64);
        }
        let mean: Vec<f64> = sums
            .iter()
            .map(|(s, c)| {
                if *c > 0 {
                    100.0 * s / *c as f64
                } else {
                    f64::NAN
                }
            })
            .collect();
        rows.push(FssRow {
            method: method.name(),
            scores: vec![
                mean[0],
                mean[1],
                mean[0] - mean[1],
                mean[2],
                mean[3],
                mean[4],
            ],
            explain_ms: 1000.0 * explain_seconds / config.episodes as f64,
        });
    }
    bar.finish_and_clear();
    Ok(FssEvaluation {
        config: config.clone(),
        rows,
    })
}
