//! Curve metrics: remove (or insert) features in order of relevance and read the model after
//! every step. Pixel-Flipping, RISE's deletion and insertion, Region Perturbation,
//! Selectivity and Monotonicity (Arya).

use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::{Prepared, base_scores, prepare};
use crate::features::{ascending, descending, grid_patches, patch_sum};
use crate::macros::metric_info;
use crate::metric::positive;
use crate::perturb::{
    FeatureRemoval, GroupSet, Source, baseline_values, cumulative_spans, patch_groups,
};
use crate::stats::{normalised_auc, trapz};
use crate::{Context, Metric, MetricBatch, MetricResult, PerturbBaseline, Readout};

/// Pixel-Flipping (Bach et al. 2015), Quantus' `PixelFlipping`.
///
/// Features in decreasing relevance are replaced by the baseline, `features_in_step` at a
/// time and cumulatively; the curve holds the target's score after every step (the unperturbed
/// score is not part of it, as in Quantus). Per-sample score: the curve's area with unit
/// spacing (`trapz(dx=1)`, Quantus' `return_auc_per_sample`). Lower is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PixelFlipping {
    /// Features removed per step.
    pub features_in_step: usize,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax probability (Quantus: softmax).
    pub readout: Readout,
    /// Divide attributions by their maximum |a| first.
    pub normalise: bool,
    /// Take |a| (after normalising).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation, per-element features).
    pub quantus_compat: bool,
    /// Seed for random baselines.
    pub seed: u64,
}

impl Default for PixelFlipping {
    fn default() -> Self {
        Self {
            features_in_step: 1,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Softmax,
            normalise: true,
            abs: false,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl PixelFlipping {
    /// Builder: features removed per step.
    pub fn with_features_in_step(mut self, k: usize) -> Self {
        self.features_in_step = k;
        self
    }
}

impl Metric for PixelFlipping {
    metric_info!("pixel_flipping", Faithfulness, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "features_in_step", self.features_in_step)?;
        let model = ctx.require_model(self.name())?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let k = self.features_in_step;
        let steps = p.layout.steps(k);
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&p.groups),
            orders: p.values.iter().map(|v| descending(v)).collect(),
            spans: vec![cumulative_spans(p.layout.count, k, 1, steps); batch.len()],
            source: Source::Values(baseline_values(
                batch,
                self.perturb_baseline,
                |_| steps,
                self.seed,
            )),
        };
        let curves = super::target_curves(ctx, model, batch, &removal, self.readout)?;
        let scores = curves.iter().map(|c| trapz(c)).collect();
        Ok(MetricResult::from_scores(self, scores).with_curves(curves))
    }
}

/// What deleted pixels become, or what insertion starts from (RISE's `substrate_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Substrate {
    /// Zeros (RISE's deletion: the dataset mean of normalised inputs).
    Zero,
    /// A Gaussian blur of the image (RISE's insertion: kernel 11, σ 5, zero padding).
    Blur {
        /// Kernel side length (odd).
        kernel_size: usize,
        /// Standard deviation in pixels.
        sigma: f64,
    },
    /// A constant image of a per-image baseline value.
    Baseline(PerturbBaseline),
}

impl Substrate {
    fn image(&self, x: &[f32], c: usize, h: usize, w: usize) -> Result<Vec<f32>> {
        Ok(match *self {
            Substrate::Zero => vec![0.0; x.len()],
            Substrate::Baseline(b) => vec![b.draw(x, &mut SplitMix64::new(0)); x.len()],
            Substrate::Blur { kernel_size, sigma } => {
                if kernel_size % 2 == 0 || sigma <= 0.0 {
                    return Err(Error::Config(format!(
                        "blur substrate needs an odd kernel_size and sigma > 0 (got {kernel_size}, {sigma})"
                    )));
                }
                blur(x, c, h, w, &rise_kernel(kernel_size, sigma))
            }
        })
    }
}

/// RISE's `gkern(klen, nsig)`: `scipy.ndimage.gaussian_filter` of a centred delta on a
/// `klen × klen` grid (reflect boundary, truncate 4σ), which is separable: the outer product of
/// the 1-D filter of a delta.
fn rise_kernel(klen: usize, sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as isize;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let n = klen as isize;
    let reflect = |mut j: isize| {
        while j < 0 || j >= n {
            j = if j < 0 { -j - 1 } else { 2 * n - j - 1 };
        }
        j
    };
    let centre = n / 2;
    let one: Vec<f64> = (0..n)
        .map(|i| {
            (-radius..=radius)
                .filter(|k| reflect(i + k) == centre)
                .map(|k| weights[(k + radius) as usize] / total)
                .sum()
        })
        .collect();
    one.iter()
        .flat_map(|a| one.iter().map(move |b| a * b))
        .collect()
}

/// Per-channel 2-D correlation with zero padding (`conv2d(x, k, padding = klen / 2)`).
fn blur(x: &[f32], c: usize, h: usize, w: usize, kernel: &[f64]) -> Vec<f32> {
    let k = (kernel.len() as f64).sqrt() as usize;
    let r = (k / 2) as isize;
    let mut out = vec![0.0f32; x.len()];
    for ch in 0..c {
        let img = &x[ch * h * w..(ch + 1) * h * w];
        for i in 0..h as isize {
            for j in 0..w as isize {
                let mut s = 0.0f64;
                for di in -r..=r {
                    for dj in -r..=r {
                        let (y, z) = (i + di, j + dj);
                        if y >= 0 && z >= 0 && y < h as isize && z < w as isize {
                            s += kernel[((di + r) as usize) * k + (dj + r) as usize]
                                * img[y as usize * w + z as usize] as f64;
                        }
                    }
                }
                out[ch * h * w + i as usize * w + j as usize] = s as f32;
            }
        }
    }
    out
}

/// The shared body of deletion and insertion.
fn causal(
    ctx: &Context,
    batch: &MetricBatch,
    pixels_per_step: Option<usize>,
    substrate: Substrate,
    readout: Readout,
    insertion: bool,
    metric: &dyn Metric,
) -> Result<MetricResult> {
    let model = ctx.require_model(metric.name())?;
    let [b, c, h, w] = batch.dims();
    let step = pixels_per_step.unwrap_or(w);
    positive(metric.name(), "pixels_per_step", step)?;
    let hw = h * w;
    let n_steps = hw.div_ceil(step);
    // Saliency per pixel: attributions summed over their channels, as RISE's maps are 2-D.
    let saliency: Vec<Vec<f64>> = (0..b)
        .map(|i| {
            let a = &batch.attributions().values;
            let ac = batch.attribution_channels();
            (0..hw)
                .map(|p| (0..ac).map(|ch| a[i * ac * hw + ch * hw + p] as f64).sum())
                .collect()
        })
        .collect();
    let groups: Vec<Vec<usize>> = (0..hw)
        .map(|p| (0..c).map(|ch| ch * hw + p).collect())
        .collect();
    let substrates = (0..b)
        .map(|i| substrate.image(batch.input(i), c, h, w))
        .collect::<Result<Vec<_>>>()?;
    let removal = FeatureRemoval {
        groups: GroupSet::Shared(&groups),
        orders: saliency.iter().map(|s| descending(s)).collect(),
        spans: vec![cumulative_spans(hw, step, 0, n_steps); b],
        source: if insertion {
            Source::Insert(substrates)
        } else {
            Source::Image(substrates)
        },
    };
    let out = ctx
        .engine
        .run(model, &ctx.device, batch.inputs(), &removal)?;
    super::check_targets(batch, out.classes())?;
    let curves: Vec<Vec<f64>> = (0..b)
        .map(|i| out.curve(i, batch.targets()[i], readout))
        .collect();
    let scores = curves.iter().map(|c| normalised_auc(c)).collect();
    Ok(MetricResult::from_scores(metric, scores).with_curves(curves))
}

/// RISE's deletion metric (Petsiuk et al. 2018): pixels in decreasing saliency are set to the
/// substrate, `pixels_per_step` at a time (default: one image row); the curve has
/// `ceil(H·W / step) + 1` points from the intact to the fully deleted image; the score is its
/// normalised area (trapezoid on x ∈ [0, 1]). Lower is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deletion {
    /// Pixels per step (`None`: the image width, RISE's one row).
    pub pixels_per_step: Option<usize>,
    /// What deleted pixels become (RISE: zeros).
    pub substrate: Substrate,
    /// Logit or softmax (RISE: softmax).
    pub readout: Readout,
}

impl Default for Deletion {
    fn default() -> Self {
        Self {
            pixels_per_step: None,
            substrate: Substrate::Zero,
            readout: Readout::Softmax,
        }
    }
}

impl Metric for Deletion {
    metric_info!("deletion", Faithfulness, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        causal(
            ctx,
            batch,
            self.pixels_per_step,
            self.substrate,
            self.readout,
            false,
            self,
        )
    }
}

/// RISE's insertion metric: start from the substrate (default: a blur, kernel 11, σ 5) and
/// insert pixels in decreasing saliency; normalised area under the curve. Higher is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Insertion {
    /// Pixels per step (`None`: the image width).
    pub pixels_per_step: Option<usize>,
    /// The starting image.
    pub substrate: Substrate,
    /// Logit or softmax (RISE: softmax).
    pub readout: Readout,
}

impl Default for Insertion {
    fn default() -> Self {
        Self {
            pixels_per_step: None,
            substrate: Substrate::Blur {
                kernel_size: 11,
                sigma: 5.0,
            },
            readout: Readout::Softmax,
        }
    }
}

impl Metric for Insertion {
    metric_info!("insertion", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        causal(
            ctx,
            batch,
            self.pixels_per_step,
            self.substrate,
            self.readout,
            true,
            self,
        )
    }
}

/// In which order Region Perturbation removes patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RegionOrder {
    /// Most relevant first.
    #[default]
    Morf,
    /// Least relevant first.
    Lerf,
    /// A seeded random order.
    Random,
}

/// Patches of an image, their attribution sums, and their element groups.
fn patches(batch: &MetricBatch, p: &Prepared, size: usize) -> (Vec<Vec<usize>>, Vec<Vec<f64>>) {
    let [_, c, h, w] = batch.dims();
    let grid = grid_patches(h, w, size);
    let groups = patch_groups(&grid, c, h, w);
    // Patch scores from the per-element attribution (the prepared per-feature values mapped
    // back onto elements), summed over all channels as Quantus does.
    let sums = p
        .values
        .iter()
        .map(|v| {
            let mut elem = vec![0.0; c * h * w];
            for (f, &val) in v.iter().enumerate() {
                for e in p.layout.elements(f) {
                    elem[e] = val;
                }
            }
            grid.iter().map(|q| patch_sum(&elem, h * w, w, q)).collect()
        })
        .collect();
    (groups, sums)
}

/// Region Perturbation (Samek et al. 2017), Quantus' `RegionPerturbation`.
///
/// Non-overlapping `patch_size` patches (image padded to a multiple, floor/ceil split) ranked
/// by their attribution sum are replaced cumulatively by the baseline; the curve is
/// `f(x) − f(x_k)` for k = 1..min(regions_evaluation, #patches). Per-sample score: AOPC,
/// `Σ_k (f(x) − f(x_k)) / (L + 1)` (the paper's average including the k = 0 term, which is 0).
/// Higher is better for MoRF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegionPerturbation {
    /// Patch side in pixels.
    pub patch_size: usize,
    /// Patch order.
    pub order: RegionOrder,
    /// Most patches to remove.
    pub regions_evaluation: usize,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: softmax).
    pub readout: Readout,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation).
    pub quantus_compat: bool,
    /// Seed for the random order and random baselines.
    pub seed: u64,
}

impl Default for RegionPerturbation {
    fn default() -> Self {
        Self {
            patch_size: 8,
            order: RegionOrder::Morf,
            regions_evaluation: 100,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Softmax,
            normalise: true,
            abs: false,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl Metric for RegionPerturbation {
    metric_info!("region_perturbation", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "patch_size", self.patch_size)?;
        positive(self.name(), "regions_evaluation", self.regions_evaluation)?;
        let model = ctx.require_model(self.name())?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let (groups, sums) = patches(batch, &p, self.patch_size);
        let l = self.regions_evaluation.min(groups.len());
        let orders = sums
            .iter()
            .enumerate()
            .map(|(i, s)| match self.order {
                RegionOrder::Morf => descending(s),
                RegionOrder::Lerf => ascending(s),
                RegionOrder::Random => {
                    let mut o: Vec<usize> = (0..s.len()).collect();
                    SplitMix64::derive(self.seed, i as u64).shuffle(&mut o);
                    o
                }
            })
            .collect();
        let base = base_scores(ctx, model, batch, self.readout)?;
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&groups),
            orders,
            spans: vec![cumulative_spans(groups.len(), 1, 1, l); batch.len()],
            source: Source::Values(baseline_values(
                batch,
                self.perturb_baseline,
                |_| l,
                self.seed,
            )),
        };
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &removal)?;
        let curves: Vec<Vec<f64>> = (0..batch.len())
            .map(|i| {
                out.curve(i, batch.targets()[i], self.readout)
                    .iter()
                    .map(|v| base[i] - v)
                    .collect()
            })
            .collect();
        let scores = curves
            .iter()
            .map(|c| c.iter().sum::<f64>() / (c.len() + 1) as f64)
            .collect();
        Ok(MetricResult::from_scores(self, scores).with_curves(curves))
    }
}

/// Selectivity (Montavon et al. 2018), Quantus' `Selectivity`: all patches in decreasing
/// relevance removed cumulatively; the curve is the target score after each removal, the
/// per-sample score its `trapz(dx=1)` area. Lower is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Selectivity {
    /// Patch side in pixels.
    pub patch_size: usize,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: softmax).
    pub readout: Readout,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation).
    pub quantus_compat: bool,
    /// Seed for random baselines.
    pub seed: u64,
}

impl Default for Selectivity {
    fn default() -> Self {
        Self {
            patch_size: 8,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Softmax,
            normalise: true,
            abs: false,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl Metric for Selectivity {
    metric_info!("selectivity", Faithfulness, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "patch_size", self.patch_size)?;
        let model = ctx.require_model(self.name())?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let (groups, sums) = patches(batch, &p, self.patch_size);
        let n = groups.len();
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&groups),
            orders: sums.iter().map(|s| descending(s)).collect(),
            spans: vec![cumulative_spans(n, 1, 1, n); batch.len()],
            source: Source::Values(baseline_values(
                batch,
                self.perturb_baseline,
                |_| n,
                self.seed,
            )),
        };
        let curves = super::target_curves(ctx, model, batch, &removal, self.readout)?;
        let scores = curves.iter().map(|c| trapz(c)).collect();
        Ok(MetricResult::from_scores(self, scores).with_curves(curves))
    }
}

/// Monotonicity (Arya et al. 2019): starting from an all-baseline image, insert the original
/// features in *increasing* relevance, `features_in_step` at a time; the explanation is
/// monotonic (score 1) if the target's score never decreases, else 0. Higher is better.
///
/// Quantus 0.6.0 never inserts the original values (it writes the baseline into the baseline
/// image), so its curve is constant and every explanation scores 1 (spec §2.5).
/// `quantus_compat = true` reproduces that; the default inserts the real values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Monotonicity {
    /// Features inserted per step.
    pub features_in_step: usize,
    /// The starting image's value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: softmax).
    pub readout: Readout,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a| (Quantus default: true).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (including its constant curve).
    pub quantus_compat: bool,
    /// Seed for random baselines.
    pub seed: u64,
}

impl Default for Monotonicity {
    fn default() -> Self {
        Self {
            features_in_step: 1,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Softmax,
            normalise: true,
            abs: true,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl Metric for Monotonicity {
    metric_info!("monotonicity", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "features_in_step", self.features_in_step)?;
        let model = ctx.require_model(self.name())?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let k = self.features_in_step;
        let steps = p.layout.steps(k);
        let substrates: Vec<Vec<f32>> =
            baseline_values(batch, self.perturb_baseline, |_| 1, self.seed)
                .iter()
                .map(|v| vec![v[0]; batch.input_len()])
                .collect();
        // Quantus' defect: the "inserted" values are the baseline itself, so every copy is the
        // all-baseline image; compat mode inserts nothing.
        let spans = if self.quantus_compat {
            vec![0..0; steps]
        } else {
            cumulative_spans(p.layout.count, k, 1, steps)
        };
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&p.groups),
            orders: p.values.iter().map(|v| ascending(v)).collect(),
            spans: vec![spans; batch.len()],
            source: Source::Insert(substrates),
        };
        let curves = super::target_curves(ctx, model, batch, &removal, self.readout)?;
        let scores = curves
            .iter()
            .map(|c| {
                if c.windows(2).all(|w| w[1] >= w[0]) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores).with_curves(curves))
    }
}
