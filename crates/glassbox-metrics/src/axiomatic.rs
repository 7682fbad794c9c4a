//! Axiomatic: Completeness, Non-Sensitivity and Input Invariance.

use burn::prelude::*;
use glassbox_core::{Classifier, Error, HostTensor, Result};
use serde::{Deserialize, Serialize};

use crate::faithfulness::base_scores;
use crate::macros::metric_info;
use crate::metric::positive;
use crate::perturb::{FeatureRemoval, GroupSet, Source, baseline_values, disjoint_spans};
use crate::preprocess::prepare_attributions;
use crate::{Context, Metric, MetricBatch, MetricResult, PerturbBaseline, Readout};

/// Completeness (Sundararajan et al. 2017), Quantus' `Completeness`: does `Σa` equal
/// `f(x) − f(baseline)`? Score 1 if `|Σa − Δf| ≤ atol + rtol·|Δf|`, else 0; the residuals are
/// in `details["residual"]`. Quantus 0.6.0 tests exact float equality (almost always false);
/// `quantus_compat` does that. Deliberate difference: `normalise` defaults to false (Quantus:
/// true, which rescales Σa and breaks the axiom by construction). Higher is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Completeness {
    /// The reference input (all elements replaced).
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: logit).
    pub readout: Readout,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (exact equality, batch-global normalisation).
    pub quantus_compat: bool,
}

impl Default for Completeness {
    fn default() -> Self {
        Self {
            perturb_baseline: PerturbBaseline::Black,
            readout: Readout::Logit,
            atol: 1e-3,
            rtol: 1e-2,
            normalise: false,
            abs: false,
            quantus_compat: false,
        }
    }
}

impl Metric for Completeness {
    metric_info!("completeness", Axiomatic, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let model = ctx.require_model(self.name())?;
        let d = batch.input_len();
        let a = prepare_attributions(batch, self.normalise, self.abs, self.quantus_compat);
        let base = base_scores(ctx, model, batch, self.readout)?;
        let groups = vec![(0..d).collect::<Vec<_>>()];
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&groups),
            orders: vec![vec![0]; batch.len()],
            spans: vec![vec![0..1]; batch.len()],
            source: Source::Values(baseline_values(batch, self.perturb_baseline, |_| 1, 0)),
        };
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &removal)?;
        let mut residuals = Vec::with_capacity(batch.len());
        let scores = (0..batch.len())
            .map(|i| {
                let delta = base[i] - out.read(i, 0, batch.targets()[i], self.readout);
                let sum: f64 = a[i].iter().sum();
                residuals.push(sum - delta);
                let ok = if self.quantus_compat {
                    sum as f32 == delta as f32
                } else {
                    (sum - delta).abs() <= self.atol + self.rtol * delta.abs()
                };
                f64::from(u8::from(ok))
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores).with_detail("residual", residuals))
    }
}

/// Non-Sensitivity (Nguyen & Martínez 2020), Quantus' `NonSensitivity`: features (in index
/// order, `features_in_step` per step) are replaced one step at a time; a step violates the
/// axiom if its features all have `|a| < eps` but the output changes by at least `eps`, or if
/// some feature has `|a| ≥ eps` and the output does not change. Score: the number of
/// violations. For `features_in_step = 1` this is exactly Quantus 0.6.0 (whose grouping is
/// only valid for 1). Lower is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NonSensitivity {
    /// Threshold for "no attribution" and "no change".
    pub eps: f64,
    /// Features per step.
    pub features_in_step: usize,
    /// Replacement value.
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: softmax).
    pub readout: Readout,
    /// Normalise first (Quantus: true).
    pub normalise: bool,
    /// Take |a| (Quantus: true).
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation, per-element features).
    pub quantus_compat: bool,
    /// Seed for random baselines.
    pub seed: u64,
}

impl Default for NonSensitivity {
    fn default() -> Self {
        Self {
            eps: 1e-5,
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

impl Metric for NonSensitivity {
    metric_info!("non_sensitivity", Axiomatic, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        positive(self.name(), "features_in_step", self.features_in_step)?;
        let model = ctx.require_model(self.name())?;
        let p = crate::faithfulness::prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let spans = disjoint_spans(p.layout.count, self.features_in_step);
        let steps = spans.len();
        let base = base_scores(ctx, model, batch, self.readout)?;
        let removal = FeatureRemoval {
            groups: GroupSet::Shared(&p.groups),
            orders: vec![(0..p.layout.count).collect(); batch.len()],
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
                spans
                    .iter()
                    .enumerate()
                    .filter(|(t, r)| {
                        // Quantus compares the signed (post-abs) value with eps.
                        let non_feature = p.values[i][(*r).clone()].iter().all(|&v| v < self.eps);
                        let unchanged =
                            (out.read(i, *t, batch.targets()[i], self.readout) - base[i]).abs()
                                < self.eps;
                        unchanged ^ non_feature
                    })
                    .count() as f64
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}

/// Input Invariance (Kindermans et al. 2017), Quantus' `InputInvariance`: shift the input by
/// `input_shift` and compensate in the model, so the shifted model computes the same function
/// of the shifted input; an input-invariant explanation is unchanged (all elements within
/// `atol`). Score 1 if invariant, else 0. Higher is better.
///
/// Quantus adds the shift to the first layer's bias; here the compensated model is the
/// composition `x' ↦ f(x' − shift)`, which is the same function (and has the same gradients)
/// without editing any layer, so it works for every model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputInvariance {
    /// The constant added to every input element.
    pub input_shift: f32,
    /// Tolerance on each element (`np.isclose(atol=1e-4)` in Quantus; rtol 1e-5 as NumPy).
    pub atol: f64,
}

impl Default for InputInvariance {
    fn default() -> Self {
        Self {
            input_shift: -1.0,
            atol: 1e-4,
        }
    }
}

impl Metric for InputInvariance {
    metric_info!("input_invariance", Axiomatic, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let model = ctx.require_model(self.name())?;
        let n = batch.len();
        let shift = self.input_shift;
        let shifted_inputs = HostTensor {
            shape: batch.inputs().shape.clone(),
            values: batch.inputs().values.iter().map(|v| v + shift).collect(),
        };
        let compensated = |x: Tensor<4>| model.logits(x.sub_scalar(shift));
        let a = ctx.explain(self.name(), model, batch.inputs(), batch.targets())?;
        let a_shift = ctx.explain(
            self.name(),
            &compensated as &dyn Classifier,
            &shifted_inputs,
            batch.targets(),
        )?;
        if a.values.len() != a_shift.values.len() {
            return Err(Error::shape(
                "shifted explanation",
                format!("{:?}", a.shape),
                &a_shift.shape,
            ));
        }
        let per = a.values.len() / n;
        let mut max_diff = Vec::with_capacity(n);
        let scores = (0..n)
            .map(|i| {
                let r = i * per..(i + 1) * per;
                let mut worst = 0.0f64;
                let ok = a.values[r.clone()]
                    .iter()
                    .zip(&a_shift.values[r])
                    .all(|(x, y)| {
                        let d = (*x as f64 - *y as f64).abs();
                        worst = worst.max(d);
                        d <= self.atol + 1e-5 * (*y as f64).abs()
                    });
                max_diff.push(worst);
                f64::from(u8::from(ok))
            })
            .collect();
        Ok(MetricResult::from_scores(self, scores).with_detail("max_abs_difference", max_diff))
    }
}
