//! Randomisation: does the explanation depend on the model's parameters and on the explained
//! output? Model Parameter Randomisation and Random Logit.

use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, HostTensor, Result};
use serde::{Deserialize, Serialize};

use crate::macros::metric_info;
use crate::preprocess::{normalise_and_abs, prepare_attributions};
use crate::stats::{nan_mean, spearman, ssim};
use crate::{Context, Metric, MetricBatch, MetricResult};

/// Flattened explanations after normalise/abs, one per image; `batch_global` normalises by
/// the maximum over the whole batch, as Quantus does for recomputed explanations too.
fn flatten(
    a: &HostTensor,
    n: usize,
    normalise: bool,
    abs: bool,
    batch_global: bool,
) -> Vec<Vec<f64>> {
    let per = a.values.len() / n;
    let mut out: Vec<Vec<f64>> = a
        .values
        .chunks(per)
        .map(|c| c.iter().map(|&x| x as f64).collect())
        .collect();
    normalise_and_abs(&mut out, normalise, abs, batch_global);
    out
}

/// Model Parameter Randomisation Test (Adebayo et al. 2018), Quantus' `MPRT`.
///
/// The context's `randomised` cascade holds, in order, copies of the model with one more layer
/// re-initialised each (top-down by convention, as Quantus). The explanation is recomputed
/// for each, and its Spearman rank correlation with the given attributions taken per image.
/// Per-sample score: the mean over layers (Quantus' `return_average_correlation`);
/// `details["per_layer"]` has every layer's scores and `details["original"]` the correlation
/// with a fresh explanation of the unrandomised model. Lower is better (a faithful explanation
/// changes when the model does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mprt {
    /// Normalise first (Quantus: true).
    pub normalise: bool,
    /// Take |a| (Quantus: true).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation of the given attributions).
    pub quantus_compat: bool,
}

impl Default for Mprt {
    fn default() -> Self {
        Self {
            normalise: true,
            abs: true,
            quantus_compat: false,
        }
    }
}

impl Metric for Mprt {
    metric_info!("mprt", Randomisation, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let model = ctx.require_model(self.name())?;
        if ctx.randomised.is_empty() {
            return Err(Error::Config(
                "mprt needs the cascade of randomised models (Context::with_randomised)".into(),
            ));
        }
        let n = batch.len();
        let a = prepare_attributions(batch, self.normalise, self.abs, self.quantus_compat);
        let correlate = |m: &dyn glassbox_core::Classifier| -> Result<Vec<f64>> {
            let e = ctx.explain(self.name(), m, batch.inputs(), batch.targets())?;
            let e = flatten(&e, n, self.normalise, self.abs, self.quantus_compat);
            Ok(a.iter().zip(&e).map(|(x, y)| spearman(x, y)).collect())
        };
        let original = correlate(model)?;
        let mut per_layer = Vec::new();
        for (name, m) in &ctx.randomised {
            per_layer.push((name.clone(), correlate(*m)?));
        }
        let scores = (0..n)
            .map(|i| nan_mean(&per_layer.iter().map(|(_, s)| s[i]).collect::<Vec<_>>()))
            .collect();
        Ok(MetricResult::from_scores(self, scores)
            .with_detail("original", original)
            .with_detail("per_layer", per_layer))
    }
}

/// Random Logit (Sixt et al. 2020), Quantus' `RandomLogit`: the explanation for a class drawn
/// uniformly among the other classes (seeded) is compared with the given one by SSIM on the
/// flattened maps. Lower is better. The number of classes is read from the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RandomLogit {
    /// Seed of the off-class draw.
    pub seed: u64,
    /// Normalise first (Quantus: true).
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation).
    pub quantus_compat: bool,
}

impl Default for RandomLogit {
    fn default() -> Self {
        Self {
            seed: 42,
            normalise: true,
            abs: false,
            quantus_compat: false,
        }
    }
}

impl RandomLogit {
    /// Score against explanations for the given off-target classes (one per image).
    pub fn evaluate_with_classes(
        &self,
        ctx: &Context,
        batch: &MetricBatch,
        off: &[usize],
    ) -> Result<MetricResult> {
        let model = ctx.require_model(self.name())?;
        let n = batch.len();
        if off.len() != n {
            return Err(Error::shape(
                "off-target classes",
                format!("[{n}]"),
                &[off.len()],
            ));
        }
        let a = prepare_attributions(batch, self.normalise, self.abs, self.quantus_compat);
        let e = ctx.explain(self.name(), model, batch.inputs(), off)?;
        let e = flatten(&e, n, self.normalise, self.abs, self.quantus_compat);
        let scores = a.iter().zip(&e).map(|(x, y)| ssim(x, y)).collect();
        Ok(MetricResult::from_scores(self, scores).with_detail("off_classes", off))
    }
}

impl Metric for RandomLogit {
    metric_info!("random_logit", Randomisation, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let model = ctx.require_model(self.name())?;
        let k = ctx
            .engine
            .predict(model, &ctx.device, &batch.slice(0..1)?.inputs().clone())?
            .classes();
        if k < 2 {
            return Err(Error::Config(
                "random_logit needs a model with at least 2 classes".into(),
            ));
        }
        let mut rng = SplitMix64::new(self.seed);
        let off: Vec<usize> = batch
            .targets()
            .iter()
            .map(|&t| {
                let r = rng.below(k - 1);
                if r >= t { r + 1 } else { r }
            })
            .collect();
        self.evaluate_with_classes(ctx, batch, &off)
    }
}
