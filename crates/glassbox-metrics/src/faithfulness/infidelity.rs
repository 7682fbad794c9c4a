//! Infidelity (Yeh et al. 2019) in Quantus' deterministic form.

use glassbox_core::Result;
use serde::{Deserialize, Serialize};

use super::{base_scores, prepare};
use crate::features::grid_patches;
use crate::macros::metric_info;
use crate::metric::positive;
use crate::perturb::{
    FeatureRemoval, GroupSet, Source, baseline_values, cumulative_spans, patch_groups,
};
use crate::{Context, Metric, MetricBatch, MetricResult, PerturbBaseline, Readout};

/// Infidelity, Quantus' `Infidelity`: for each patch size, the non-overlapping patches are
/// replaced by the baseline cumulatively in raster order; after patch k,
/// `Δ_k = f(x) − f(x_k)` (logits) and `s_k = Σ a ⊙ (x − x_k)`; the score is
/// `mean_k (Δ_k − s_k)²`, averaged over patch sizes and `n_perturb_samples` repeats (which only
/// differ for a random baseline). Lower is better.
///
/// `optimal_scaling` applies the scale β = Σ sΔ / Σ s² of the authors' code (and Captum's
/// `normalize=True`), making the score invariant to the attribution's scale. Images whose
/// sides are not multiples of the patch size are handled with clipped border patches (Quantus
/// 0.6.0 only works for multiples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Infidelity {
    /// Patch sides to average over.
    pub perturb_patch_sizes: Vec<usize>,
    /// Repeats (only meaningful with a random baseline).
    pub n_perturb_samples: usize,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: logit).
    pub readout: Readout,
    /// Rescale attributions by the least-squares β first.
    pub optimal_scaling: bool,
    /// Normalise attributions first (Quantus: false).
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0.
    pub quantus_compat: bool,
    /// Seed for random baselines.
    pub seed: u64,
}

impl Default for Infidelity {
    fn default() -> Self {
        Self {
            perturb_patch_sizes: vec![4],
            n_perturb_samples: 10,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Logit,
            optimal_scaling: false,
            normalise: false,
            abs: false,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl Metric for Infidelity {
    metric_info!("infidelity", Faithfulness, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "n_perturb_samples", self.n_perturb_samples)?;
        positive(
            self.name(),
            "perturb_patch_sizes",
            self.perturb_patch_sizes.len(),
        )?;
        let model = ctx.require_model(self.name())?;
        let [b, c, h, w] = batch.dims();
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        // Per-element attribution (features mapped back onto their elements).
        let elem: Vec<Vec<f64>> = p
            .values
            .iter()
            .map(|v| {
                let mut e = vec![0.0; c * h * w];
                for (f, &val) in v.iter().enumerate() {
                    for i in p.layout.elements(f) {
                        e[i] = val;
                    }
                }
                e
            })
            .collect();
        let base = base_scores(ctx, model, batch, self.readout)?;
        let repeats = if self.perturb_baseline.is_random() {
            self.n_perturb_samples
        } else {
            1
        };
        let mut totals = vec![0.0; b];
        for repeat in 0..repeats {
            for (pi, &size) in self.perturb_patch_sizes.iter().enumerate() {
                positive(self.name(), "patch size", size)?;
                let groups = patch_groups(&grid_patches(h, w, size), c, h, w);
                let n = groups.len();
                let seed = self.seed ^ ((repeat * 1000 + pi) as u64).wrapping_mul(0x9E37);
                let values = baseline_values(batch, self.perturb_baseline, |_| n, seed);
                let removal = FeatureRemoval {
                    groups: GroupSet::Shared(&groups),
                    orders: vec![(0..n).collect(); b],
                    spans: vec![cumulative_spans(n, 1, 1, n); b],
                    source: Source::Values(values.clone()),
                };
                let out = ctx
                    .engine
                    .run(model, &ctx.device, batch.inputs(), &removal)?;
                for i in 0..b {
                    let x = batch.input(i);
                    // Every removed element of copy k holds that copy's baseline v_k, so
                    // s_k = Σ_removed a·x − v_k · Σ_removed a.
                    let (mut ax, mut a_sum) = (0.0, 0.0);
                    let (mut deltas, mut sums) = (Vec::with_capacity(n), Vec::with_capacity(n));
                    for (k, g) in groups.iter().enumerate() {
                        for &e in g {
                            ax += elem[i][e] * x[e] as f64;
                            a_sum += elem[i][e];
                        }
                        deltas.push(base[i] - out.read(i, k, batch.targets()[i], self.readout));
                        sums.push(ax - values[i][k] as f64 * a_sum);
                    }
                    let beta = if self.optimal_scaling {
                        let num: f64 = sums.iter().zip(&deltas).map(|(s, d)| s * d).sum();
                        let den: f64 = sums.iter().map(|s| s * s).sum();
                        if den > 0.0 { num / den } else { 1.0 }
                    } else {
                        1.0
                    };
                    let loss = deltas
                        .iter()
                        .zip(&sums)
                        .map(|(d, s)| (d - beta * s).powi(2))
                        .sum::<f64>()
                        / n as f64;
                    totals[i] += loss;
                }
            }
        }
        let denom = (repeats * self.perturb_patch_sizes.len()) as f64;
        let scores = totals.iter().map(|t| t / denom).collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}
