//! The `Metric` trait, its evaluation context and its result.

use std::collections::BTreeMap;

use burn::prelude::*;
use glassbox_core::{Classifier, Error, HostTensor, Result};
use serde::{Deserialize, Serialize};

use crate::stats::nan_mean;
use crate::{MetricBatch, PerturbationEngine};

/// Recomputes explanations (robustness and randomisation metrics): given a model, images
/// `[n, C, H, W]` and one target per image, attributions `[n, 1 | C, H, W]`.
///
/// Implemented for closures, so any glassbox-attribution method plugs in:
/// `&|m: &dyn Classifier, x: &HostTensor, t: &[usize]| -> Result<HostTensor> { ... }`.
pub trait ExplainFn {
    /// Explain `model` on `inputs` for `targets`.
    fn explain(
        &self,
        model: &dyn Classifier,
        inputs: &HostTensor,
        targets: &[usize],
    ) -> Result<HostTensor>;
}

impl<F> ExplainFn for F
where
    F: Fn(&dyn Classifier, &HostTensor, &[usize]) -> Result<HostTensor>,
{
    fn explain(
        &self,
        model: &dyn Classifier,
        inputs: &HostTensor,
        targets: &[usize],
    ) -> Result<HostTensor> {
        self(model, inputs, targets)
    }
}

/// Everything a metric may need besides the batch. Metrics that need a part that is missing
/// return a typed error naming it.
pub struct Context<'a> {
    /// The model (in inference mode: `model.valid()`), for perturbation metrics.
    pub model: Option<&'a dyn Classifier>,
    /// The explanation method, for robustness and randomisation metrics.
    pub explainer: Option<&'a dyn ExplainFn>,
    /// Cascading randomised copies of the model (layer name, model with that layer and all
    /// before it in the cascade randomised), for Model Parameter Randomisation.
    pub randomised: Vec<(String, &'a dyn Classifier)>,
    /// Where perturbed copies run.
    pub device: Device,
    /// How perturbed copies are batched.
    pub engine: PerturbationEngine,
}

impl<'a> Context<'a> {
    /// A context with a model on `device` and the default engine.
    pub fn new(model: &'a dyn Classifier, device: &Device) -> Self {
        Self {
            model: Some(model),
            explainer: None,
            randomised: Vec::new(),
            device: device.clone(),
            engine: PerturbationEngine::default(),
        }
    }

    /// A context without a model (localisation and complexity metrics).
    pub fn without_model(device: &Device) -> Self {
        Self {
            model: None,
            explainer: None,
            randomised: Vec::new(),
            device: device.clone(),
            engine: PerturbationEngine::default(),
        }
    }

    /// Builder: the explanation method robustness/randomisation metrics recompute.
    pub fn with_explainer(mut self, explainer: &'a dyn ExplainFn) -> Self {
        self.explainer = Some(explainer);
        self
    }

    /// Builder: the engine (batch budget, progress bar).
    pub fn with_engine(mut self, engine: PerturbationEngine) -> Self {
        self.engine = engine;
        self
    }

    /// Builder: the cascade of randomised models for MPRT.
    pub fn with_randomised(mut self, cascade: Vec<(String, &'a dyn Classifier)>) -> Self {
        self.randomised = cascade;
        self
    }

    /// The model, or an error naming the metric that needs it.
    pub fn require_model(&self, metric: &str) -> Result<&'a dyn Classifier> {
        self.model
            .ok_or_else(|| Error::Config(format!("{metric} needs a model (Context::new)")))
    }

    /// The explainer, or an error naming the metric that needs it.
    pub fn require_explainer(&self, metric: &str) -> Result<&'a dyn ExplainFn> {
        self.explainer.ok_or_else(|| {
            Error::Config(format!(
                "{metric} recomputes explanations and needs an explainer (Context::with_explainer)"
            ))
        })
    }

    /// Explain `inputs` with the context's explainer, checking the result's shape and values.
    pub(crate) fn explain(
        &self,
        metric: &str,
        model: &dyn Classifier,
        inputs: &HostTensor,
        targets: &[usize],
    ) -> Result<HostTensor> {
        let a = self
            .require_explainer(metric)?
            .explain(model, inputs, targets)?;
        let [n, c, h, w] = [
            inputs.shape[0],
            inputs.shape[1],
            inputs.shape[2],
            inputs.shape[3],
        ];
        let ok = matches!(a.shape.as_slice(), [an, ac, ah, aw] if [*an, *ah, *aw] == [n, h, w] && (*ac == 1 || *ac == c));
        if !ok {
            return Err(Error::shape(
                "recomputed explanation",
                format!("[{n}, 1 | {c}, {h}, {w}]"),
                &a.shape,
            ));
        }
        glassbox_core::check::check_finite_slice(&a.values, "recomputed explanation")?;
        Ok(a)
    }
}

/// The six families of metrics (Quantus' categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Does removing what the explanation calls relevant change the output?
    Faithfulness,
    /// Do similar inputs get similar explanations?
    Robustness,
    /// Does relevance fall on the ground-truth object?
    Localisation,
    /// How concentrated is the explanation?
    Complexity,
    /// Does the explanation depend on the model's parameters and output?
    Randomisation,
    /// Does the explanation satisfy axioms (completeness, invariances)?
    Axiomatic,
}

/// A metric: a config struct with Quantus' defaults that scores a batch.
pub trait Metric {
    /// Name as used on the command line and in reports (e.g. `pixel_flipping`).
    fn name(&self) -> &'static str;
    /// Which family it belongs to.
    fn category(&self) -> Category;
    /// `Some(true)` if higher scores mean a better explanation, `Some(false)` if lower, `None`
    /// when neither (e.g. a curve to read).
    fn higher_is_better(&self) -> Option<bool>;
    /// The configuration as JSON (recorded in the result).
    fn parameters(&self) -> serde_json::Value;
    /// Score a batch.
    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult>;
}

/// Per-sample scores of one metric on one batch, their aggregate, and any curves.
///
/// Undefined scores (a constant series in a correlation, an empty mask) are NaN, written to
/// JSON as `null`, and skipped by the aggregate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricResult {
    /// Metric name.
    pub metric: String,
    /// Its family.
    pub category: Category,
    /// One score per image (empty for metrics defined only on a whole batch).
    pub per_sample: Vec<f64>,
    /// Mean of the non-NaN per-sample scores, or the batch-level score.
    pub aggregate: f64,
    /// Whether higher is better.
    pub higher_is_better: Option<bool>,
    /// Per-sample curves (e.g. the pixel-flipping prediction curve), when the metric has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curves: Option<Vec<Vec<f64>>>,
    /// Extra named series (e.g. ROAD's accuracy per percentage, MPRT's per-layer scores).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
    /// The configuration used.
    pub parameters: serde_json::Value,
}

impl MetricResult {
    /// A result from per-sample scores, aggregated by their NaN-skipping mean.
    pub fn from_scores(metric: &dyn Metric, per_sample: Vec<f64>) -> Self {
        Self {
            metric: metric.name().to_string(),
            category: metric.category(),
            aggregate: nan_mean(&per_sample),
            per_sample,
            higher_is_better: metric.higher_is_better(),
            curves: None,
            details: BTreeMap::new(),
            parameters: metric.parameters(),
        }
    }

    /// Builder: attach curves.
    pub fn with_curves(mut self, curves: Vec<Vec<f64>>) -> Self {
        self.curves = Some(curves);
        self
    }

    /// Builder: attach a named detail.
    pub fn with_detail(mut self, name: &str, value: impl Serialize) -> Self {
        self.details.insert(
            name.to_string(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
        self
    }
}

/// `serde_json::to_value` of a config (configs are plain data and always serialise).
pub(crate) fn params<T: Serialize>(config: &T) -> serde_json::Value {
    serde_json::to_value(config).unwrap_or(serde_json::Value::Null)
}

/// Check a count-like parameter is at least 1.
pub(crate) fn positive(metric: &str, name: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::Config(format!("{metric}: {name} must be >= 1")));
    }
    Ok(())
}
