//! Complexity: how concentrated is the explanation? Computed on the flattened attribution.

use glassbox_core::Result;
use serde::{Deserialize, Serialize};

use crate::macros::metric_info;
use crate::preprocess::prepare_attributions;
use crate::{Context, Metric, MetricBatch, MetricResult};

/// Sparseness (Chalasani et al. 2020), Quantus' `Sparseness`: the Gini index of
/// `|a| + 1e-7` (sorted ascending, `Σ (2i − n − 1) v_i / (n Σ v)`). 0 for a constant map,
/// `(n − 1)/n` (up to the 1e-7) for a one-hot map. Higher is sparser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sparseness {
    /// Normalise first.
    pub normalise: bool,
    /// Take |a| (Quantus: true).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation).
    pub quantus_compat: bool,
}

impl Default for Sparseness {
    fn default() -> Self {
        Self {
            normalise: true,
            abs: true,
            quantus_compat: false,
        }
    }
}

/// Gini index as Quantus computes it (values shifted by 1e-7).
pub fn gini(a: &[f64]) -> f64 {
    let mut v: Vec<f64> = a.iter().map(|x| x + 1e-7).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let num: f64 = v
        .iter()
        .enumerate()
        .map(|(i, x)| (2.0 * (i + 1) as f64 - n - 1.0) * x)
        .sum();
    num / (n * v.iter().sum::<f64>())
}

impl Metric for Sparseness {
    metric_info!("sparseness", Complexity, Some(true));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let scores = prepare_attributions(batch, self.normalise, self.abs, self.quantus_compat)
            .iter()
            .map(|a| gini(a))
            .collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}

/// Complexity (Bhatt et al. 2020), Quantus' `Complexity`: the entropy
/// `−Σ p ln(p + 1e-12)` of `p = |a| / Σ|a|`; `ln n` for a uniform map. Lower is simpler.
/// NaN for an all-zero map (no distribution).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Complexity {
    /// Normalise first.
    pub normalise: bool,
    /// Take |a| (Quantus: true).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation).
    pub quantus_compat: bool,
}

impl Default for Complexity {
    fn default() -> Self {
        Self {
            normalise: true,
            abs: true,
            quantus_compat: false,
        }
    }
}

impl Metric for Complexity {
    metric_info!("complexity", Complexity, Some(false));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let scores = prepare_attributions(batch, self.normalise, self.abs, self.quantus_compat)
            .iter()
            .map(|a| {
                let total: f64 = a.iter().map(|v| v.abs()).sum();
                if total == 0.0 {
                    return f64::NAN;
                }
                -a.iter()
                    .map(|v| {
                        let p = v.abs() / total;
                        p * (p + 1e-12).ln()
                    })
                    .sum::<f64>()
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}

/// Effective Complexity (Nguyen & Martínez 2020), Quantus' `EffectiveComplexity`: the number
/// of elements with `|a| > eps` after normalisation. Per-sample normalisation by default;
/// Quantus normalises by the batch maximum, so its counts depend on the batch
/// (`quantus_compat`). Lower is simpler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EffectiveComplexity {
    /// Threshold.
    pub eps: f64,
    /// Normalise first.
    pub normalise: bool,
    /// Take |a| (Quantus: true).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation).
    pub quantus_compat: bool,
}

impl Default for EffectiveComplexity {
    fn default() -> Self {
        Self {
            eps: 1e-5,
            normalise: true,
            abs: true,
            quantus_compat: false,
        }
    }
}

impl Metric for EffectiveComplexity {
    metric_info!("effective_complexity", Complexity, Some(false));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let scores = prepare_attributions(batch, self.normalise, self.abs, self.quantus_compat)
            .iter()
            .map(|a| a.iter().filter(|v| v.abs() > self.eps).count() as f64)
            .collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}
