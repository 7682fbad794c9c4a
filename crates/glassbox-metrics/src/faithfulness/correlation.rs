//! Correlation metrics: does the attribution mass of a perturbed set predict the change of the
//! output? Faithfulness Correlation, Faithfulness Estimate, Monotonicity Correlation,
//! Sensitivity-N.

use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::{base_scores, prepare};
use crate::features::{ascending, descending};
use crate::macros::metric_info;
use crate::metric::positive;
use crate::perturb::{
    FeatureRemoval, GroupSet, Source, baseline_values, cumulative_spans, disjoint_spans,
};
use crate::stats::{nan_mean, pearson, spearman};
use crate::{Context, Metric, MetricBatch, MetricResult, PerturbBaseline, Readout};

/// Faithfulness Correlation (Bhatt et al. 2020), Quantus' `FaithfulnessCorrelation`.
///
/// `nr_runs` random subsets of `subset_size` features (without replacement, seeded) are
/// replaced by the baseline, each in its own copy; the score is the Pearson correlation over
/// runs between the subset's attribution sum and `f(x) − f(x_S)` (logits). Quantus returns
/// the batch mean by default; here per-sample scores and their mean are both reported.
/// Higher is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaithfulnessCorrelation {
    /// Number of random subsets.
    pub nr_runs: usize,
    /// Features per subset (must be smaller than the number of features).
    pub subset_size: usize,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: logit).
    pub readout: Readout,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation, per-element features).
    pub quantus_compat: bool,
    /// Seed of the subsets.
    pub seed: u64,
}

impl Default for FaithfulnessCorrelation {
    fn default() -> Self {
        Self {
            nr_runs: 100,
            subset_size: 224,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Logit,
            normalise: true,
            abs: false,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl Metric for FaithfulnessCorrelation {
    metric_info!("faithfulness_correlation", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "nr_runs", self.nr_runs)?;
        positive(self.name(), "subset_size", self.subset_size)?;
        let model = ctx.require_model(self.name())?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let (n, s, runs) = (p.layout.count, self.subset_size, self.nr_runs);
        if s >= n {
            return Err(Error::Config(format!(
                "{}: subset_size ({s}) must be smaller than the number of features ({n})",
                self.name()
            )));
        }
        // Each image's order is its subsets concatenated; copy r removes the r-th subset.
        let orders: Vec<Vec<usize>> = (0..batch.len())
            .map(|i| {
                let mut rng = SplitMix64::derive(self.seed, i as u64);
                (0..runs).flat_map(|_| rng.choose(n, s)).collect()
            })
            .collect();
        let base = base_scores(ctx, model, batch, self.readout)?;
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&p.groups),
            spans: vec![disjoint_spans(runs * s, s); batch.len()],
            orders,
            source: Source::Values(baseline_values(
                batch,
                self.perturb_baseline,
                |_| runs,
                self.seed ^ 0xBA5E,
            )),
        };
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &removal)?;
        let scores = (0..batch.len())
            .map(|i| {
                let deltas: Vec<f64> = out
                    .curve(i, batch.targets()[i], self.readout)
                    .iter()
                    .map(|v| base[i] - v)
                    .collect();
                let sums: Vec<f64> = (0..runs)
                    .map(|r| p.span_sum(i, &removal.orders[i][r * s..(r + 1) * s]))
                    .collect();
                pearson(&sums, &deltas)
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}

/// Faithfulness Estimate (Alvarez-Melis & Jaakkola 2018), Quantus' `FaithfulnessEstimate`.
///
/// Features in decreasing relevance, `features_in_step` at a time, are replaced in the
/// *original* image (one step per copy, not cumulative); the score is the Pearson correlation
/// over steps between the step's attribution sum and `f(x) − f(x_t)` (logits). Higher is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaithfulnessEstimate {
    /// Features per step.
    pub features_in_step: usize,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: logit).
    pub readout: Readout,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0.
    pub quantus_compat: bool,
    /// Seed for random baselines.
    pub seed: u64,
}

impl Default for FaithfulnessEstimate {
    fn default() -> Self {
        Self {
            features_in_step: 1,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Logit,
            normalise: true,
            abs: false,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl Metric for FaithfulnessEstimate {
    metric_info!("faithfulness_estimate", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "features_in_step", self.features_in_step)?;
        let model = ctx.require_model(self.name())?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let spans = disjoint_spans(p.layout.count, self.features_in_step);
        let steps = spans.len();
        let base = base_scores(ctx, model, batch, self.readout)?;
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&p.groups),
            orders: p.values.iter().map(|v| descending(v)).collect(),
            spans: vec![spans.clone(); batch.len()],
            source: Source::Values(baseline_values(
                batch,
                self.perturb_baseline,
                |_| steps,
                self.seed,
            )),
        };
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &removal)?;
        let scores = (0..batch.len())
            .map(|i| {
                let deltas: Vec<f64> = out
                    .curve(i, batch.targets()[i], self.readout)
                    .iter()
                    .map(|v| base[i] - v)
                    .collect();
                let sums: Vec<f64> = spans
                    .iter()
                    .map(|r| p.span_sum(i, &removal.orders[i][r.clone()]))
                    .collect();
                pearson(&sums, &deltas)
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}

/// Monotonicity Correlation (Nguyen & Martínez 2020), Quantus' `MonotonicityCorrelation`.
///
/// Features in *increasing* relevance, one step at a time (not cumulative), are replaced
/// `nr_samples` times by a random baseline (default `U(0, 1)`, one draw per copy); the step's
/// variance `mean_s (f(x_ts) − f(x))² / f(x)²` (the division only when `|f(x)| ≥ eps`) is
/// Spearman-correlated with the step's attribution sum. Higher is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MonotonicityCorrelation {
    /// Random replacements per step.
    pub nr_samples: usize,
    /// Features per step.
    pub features_in_step: usize,
    /// Replacement value (Quantus: uniform in [0, 1)).
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: softmax).
    pub readout: Readout,
    /// Below this |f(x)| the variance is not rescaled.
    pub eps: f64,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a| (Quantus: true).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0.
    pub quantus_compat: bool,
    /// Seed of the random baselines.
    pub seed: u64,
}

impl Default for MonotonicityCorrelation {
    fn default() -> Self {
        Self {
            nr_samples: 100,
            features_in_step: 1,
            perturb_baseline: PerturbBaseline::Uniform {
                low: 0.0,
                high: 1.0,
            },
            readout: Readout::Softmax,
            eps: 1e-5,
            normalise: true,
            abs: true,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl Metric for MonotonicityCorrelation {
    metric_info!("monotonicity_correlation", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "features_in_step", self.features_in_step)?;
        positive(self.name(), "nr_samples", self.nr_samples)?;
        let model = ctx.require_model(self.name())?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let steps = disjoint_spans(p.layout.count, self.features_in_step);
        let m = self.nr_samples;
        // Copy t·m + s: step t, sample s.
        let spans: Vec<_> = steps
            .iter()
            .flat_map(|r| std::iter::repeat_n(r.clone(), m))
            .collect();
        let copies = spans.len();
        let base = base_scores(ctx, model, batch, self.readout)?;
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&p.groups),
            orders: p.values.iter().map(|v| ascending(v)).collect(),
            spans: vec![spans; batch.len()],
            source: Source::Values(baseline_values(
                batch,
                self.perturb_baseline,
                |_| copies,
                self.seed,
            )),
        };
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &removal)?;
        let scores = (0..batch.len())
            .map(|i| {
                let y = base[i];
                let inv = if y.abs() >= self.eps {
                    1.0 / (y * y)
                } else {
                    1.0
                };
                let curve = out.curve(i, batch.targets()[i], self.readout);
                let vars: Vec<f64> = curve
                    .chunks(m)
                    .map(|c| c.iter().map(|v| (v - y).powi(2)).sum::<f64>() / m as f64 * inv)
                    .collect();
                let atts: Vec<f64> = steps
                    .iter()
                    .map(|r| p.span_sum(i, &removal.orders[i][r.clone()]))
                    .collect();
                spearman(&atts, &vars)
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}

/// Sensitivity-N in Quantus' formulation (after Ancona et al. 2018), `SensitivityN`.
///
/// Features in decreasing relevance are removed cumulatively, `features_in_step` per step; at
/// step t, `Δ_t = f(x) − f(x_≤t)` (softmax) and `s_t` = the attribution sum of step t's
/// features. For each t up to `n_max_percentage · H·W / features_in_step`, the Pearson
/// correlation of (s_t, Δ_t) is taken **across the images of the batch** (so it needs ≥ 3
/// images); the score is the mean over t. The result has no per-sample scores; the
/// per-step correlations are in `details["correlation_per_step"]`.
///
/// Quantus 0.6.0 scores only its first internal batch (`batch_size` = 64 images) and drops the
/// rest; glassbox uses every image unless `quantus_compat` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SensitivityN {
    /// Features per step.
    pub features_in_step: usize,
    /// Fraction of H·W up to which correlations are taken.
    pub n_max_percentage: f64,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: softmax).
    pub readout: Readout,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (including scoring only the first `quantus_batch_size` images).
    pub quantus_compat: bool,
    /// Quantus' internal batch size (only used with `quantus_compat`).
    pub quantus_batch_size: usize,
    /// Seed for random baselines.
    pub seed: u64,
}

impl Default for SensitivityN {
    fn default() -> Self {
        Self {
            features_in_step: 1,
            n_max_percentage: 0.8,
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Softmax,
            normalise: true,
            abs: false,
            quantus_compat: false,
            quantus_batch_size: 64,
            seed: 0,
        }
    }
}

impl Metric for SensitivityN {
    metric_info!("sensitivity_n", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "features_in_step", self.features_in_step)?;
        let model = ctx.require_model(self.name())?;
        let owned;
        let batch = if self.quantus_compat && batch.len() > self.quantus_batch_size {
            positive(self.name(), "quantus_batch_size", self.quantus_batch_size)?;
            owned = batch.slice(0..self.quantus_batch_size)?;
            &owned
        } else {
            batch
        };
        if batch.len() < 3 {
            return Err(Error::Config(format!(
                "{} correlates across the images of a batch and needs at least 3 (got {})",
                self.name(),
                batch.len()
            )));
        }
        let [_, _, h, w] = batch.dims();
        let k = self.features_in_step;
        let max_steps = ((self.n_max_percentage * (h * w) as f64) as usize / k).max(1);
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let steps = p.layout.steps(k).min(max_steps);
        let base = base_scores(ctx, model, batch, self.readout)?;
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
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &removal)?;
        let per_step: Vec<f64> = (0..steps)
            .map(|t| {
                let span = t * k..((t + 1) * k).min(p.layout.count);
                let (deltas, sums): (Vec<f64>, Vec<f64>) = (0..batch.len())
                    .map(|i| {
                        let d = base[i] - out.read(i, t, batch.targets()[i], self.readout);
                        let s: f64 = p.span_sum(i, &removal.orders[i][span.clone()]);
                        (d, s)
                    })
                    .unzip();
                pearson(&deltas, &sums)
            })
            .collect();
        let mut result = MetricResult::from_scores(self, Vec::new());
        result.aggregate = nan_mean(&per_step);
        Ok(result.with_detail("correlation_per_step", &per_step))
    }
}
