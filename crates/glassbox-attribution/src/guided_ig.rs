//! Guided Integrated Gradients (Kapishnikov et al., "Guided Integrated Gradients: an Adaptive
//! Path Method for Removing Noise", CVPR 2021).
//!
//! The path from the baseline to the input is chosen on the fly: at every step the features
//! whose gradient is smallest in magnitude (a `fraction` of them) move towards the input first,
//! so the path avoids regions of large, noisy gradients; no feature may run more than
//! `max_dist` (as a fraction of the path, in L1) ahead of or behind the straight line, and each
//! step closes `1/steps` of the total L1 distance. The attribution accumulates
//! `(x_new − x_old) · ∇f_c(x)` along that path, so it satisfies completeness up to the Riemann
//! error. The algorithm and defaults (200 steps, fraction 0.25, max_dist 0.02, zero baseline)
//! follow the reference implementation in PAIR's `saliency` package; the path bookkeeping runs
//! on the host in f64 as there, and each step's gradients for the whole batch come from one
//! forward/backward pass.

use burn::prelude::*;
use glassbox_core::{Attribution, Classifier, Error, HostTensor, Result, Target};

use crate::common::{
    batched_target_gradients, check_batch_size, resolve_targets_and_scores, validate_inputs,
};
use crate::integrated_gradients::Baseline;

/// Guided IG settings.
#[derive(Debug, Clone)]
pub struct GuidedIntegratedGradients {
    /// Riemann steps along the path (the reference's `x_steps`, default 200).
    pub steps: usize,
    /// Fraction of the features moved per step, lowest |gradient| first (default 0.25).
    pub fraction: f64,
    /// How far (fraction of the path) a feature may deviate from the straight line: 0 gives
    /// IG on the straight line, 1 an unconstrained path (default 0.02).
    pub max_dist: f64,
    /// Path start (default zeros).
    pub baseline: Baseline,
    /// Rows per forward/backward pass; `None`: the whole batch at once.
    pub batch_size: Option<usize>,
}

impl Default for GuidedIntegratedGradients {
    fn default() -> Self {
        Self {
            steps: 200,
            fraction: 0.25,
            max_dist: 0.02,
            baseline: Baseline::Zeros,
            batch_size: Some(64),
        }
    }
}

impl GuidedIntegratedGradients {
    crate::common::setters! {
        /// Set the number of steps.
        with_steps(steps: usize) => steps = steps;
        /// Set the fraction of features moved per step.
        with_fraction(fraction: f64) => fraction = fraction;
        /// Set the maximum deviation from the straight line.
        with_max_dist(max_dist: f64) => max_dist = max_dist;
        /// Set the baseline.
        with_baseline(baseline: Baseline) => baseline = baseline;
        /// Set the internal batch size.
        with_batch_size(batch_size: usize) => batch_size = Some(batch_size);
    }

    /// Check the settings (typed errors for zero steps or fractions outside (0, 1]).
    pub(crate) fn check(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::config("Guided IG needs steps >= 1"));
        }
        for (name, v) in [("fraction", self.fraction), ("max_dist", self.max_dist)] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::config(format!(
                    "Guided IG {name} must be in [0, 1], got {v}"
                )));
            }
        }
        if self.fraction == 0.0 {
            return Err(Error::config("Guided IG fraction must be > 0"));
        }
        check_batch_size(self.batch_size)
    }

    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        self.check()?;
        validate_inputs(&inputs)?;
        let (targets, _) = resolve_targets_and_scores(model, &inputs, target)?;
        let dims = inputs.dims();
        let [n, c, h, w] = dims;
        let device = inputs.device();
        let baseline = self.baseline.materialise(&inputs)?;
        let rows = |t: &Tensor<4>| -> Vec<Vec<f64>> {
            HostTensor::from_tensor(t)
                .values
                .chunks(c * h * w)
                .map(|r| r.iter().map(|&v| v as f64).collect())
                .collect()
        };
        let (xs, bs) = (rows(&inputs), rows(&baseline));
        let attr = guided_path(&xs, &bs, self, |points| {
            let flat: Vec<f32> = points.iter().flatten().map(|&v| v as f32).collect();
            let x = Tensor::<4>::from_data(TensorData::new(flat, dims), &device);
            let (grads, _) = batched_target_gradients(model, x, &targets, self.batch_size);
            Ok(rows(&grads))
        })?;
        let flat: Vec<f32> = attr.iter().flatten().map(|&v| v as f32).collect();
        let relevance = Tensor::<4>::from_data(TensorData::new(flat, [n, c, h, w]), &device);
        Ok(
            Attribution::new(relevance, targets, "guided_integrated_gradients")?
                .with_parameter("steps", self.steps)
                .with_parameter("fraction", self.fraction)
                .with_parameter("max_dist", self.max_dist),
        )
    }
}

/// The Guided IG path for a batch of samples in lock step: `grad(points)` returns the gradient
/// of each sample's explained output at its current point (one call per step for the batch).
/// Returns the attribution of every sample.
pub(crate) fn guided_path(
    inputs: &[Vec<f64>],
    baselines: &[Vec<f64>],
    settings: &GuidedIntegratedGradients,
    mut grad: impl FnMut(&[Vec<f64>]) -> Result<Vec<Vec<f64>>>,
) -> Result<Vec<Vec<f64>>> {
    let steps = settings.steps;
    let mut x: Vec<Vec<f64>> = baselines.to_vec();
    let mut attr: Vec<Vec<f64>> = inputs.iter().map(|r| vec![0.0; r.len()]).collect();
    let l1_total: Vec<f64> = inputs
        .iter()
        .zip(baselines)
        .map(|(a, b)| a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum())
        .collect();
    for step in 0..steps {
        let grads = grad(&x)?;
        let alpha = (step as f64 + 1.0) / steps as f64;
        let alpha_min = (alpha - settings.max_dist).max(0.0);
        let alpha_max = (alpha + settings.max_dist).min(1.0);
        for i in 0..inputs.len() {
            // Input equal to the baseline: the attribution stays zero.
            if l1_total[i] == 0.0 {
                continue;
            }
            let l1_target = l1_total[i] * (1.0 - (step as f64 + 1.0) / steps as f64);
            guided_step(
                &mut x[i],
                &mut attr[i],
                &grads[i],
                (&inputs[i], &baselines[i]),
                (alpha_min, alpha_max),
                l1_target,
                settings.fraction,
            );
        }
    }
    Ok(attr)
}

/// One step of one sample: move the lowest-|gradient| features until the L1 distance to the
/// input is `l1_target` (the reference's inner `while gamma > 1` loop).
fn guided_step(
    x: &mut [f64],
    attr: &mut [f64],
    grad_actual: &[f64],
    (input, baseline): (&[f64], &[f64]),
    (alpha_min, alpha_max): (f64, f64),
    l1_target: f64,
    fraction: f64,
) {
    let d = x.len();
    let on_line = |a: f64, j: usize| baseline[j] + (input[j] - baseline[j]) * a;
    let x_min: Vec<f64> = (0..d).map(|j| on_line(alpha_min, j)).collect();
    let x_max: Vec<f64> = (0..d).map(|j| on_line(alpha_max, j)).collect();
    let mut grad = grad_actual.to_vec();
    // Each pass either finishes the step or pins at least one more feature to x_max, so d + 1
    // passes always suffice; the bound only guards against float pathologies.
    for _ in 0..=d + 1 {
        let x_old = x.to_vec();
        for j in 0..d {
            let span = input[j] - baseline[j];
            let a = if span != 0.0 {
                (x[j] - baseline[j]) / span
            } else {
                alpha_max
            };
            if a < alpha_min {
                x[j] = x_min[j];
            }
        }
        let l1_current: f64 = x.iter().zip(input).map(|(a, b)| (a - b).abs()).sum();
        let close = (l1_target - l1_current).abs()
            <= (1e-9 * l1_target.abs().max(l1_current.abs())).max(1e-9);
        if close {
            accumulate(attr, x, &x_old, grad_actual);
            return;
        }
        for j in 0..d {
            if x[j] == x_max[j] {
                grad[j] = f64::INFINITY;
            }
        }
        // numpy's quantile(|grad|, fraction, method="lower").
        let mut sorted: Vec<f64> = grad.iter().map(|g| g.abs()).collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let threshold = sorted[((d - 1) as f64 * fraction).floor() as usize];
        let selected: Vec<bool> = grad
            .iter()
            .map(|g| g.abs() <= threshold && *g != f64::INFINITY)
            .collect();
        let l1_s: f64 = (0..d)
            .filter(|&j| selected[j])
            .map(|j| (x[j] - x_max[j]).abs())
            .sum();
        let gamma = if l1_s > 0.0 {
            (l1_current - l1_target) / l1_s
        } else {
            f64::INFINITY
        };
        for j in (0..d).filter(|&j| selected[j]) {
            x[j] = if gamma > 1.0 {
                x_max[j]
            } else {
                x[j] + (x_max[j] - x[j]) * gamma
            };
        }
        accumulate(attr, x, &x_old, grad_actual);
        if gamma <= 1.0 {
            return;
        }
    }
}

fn accumulate(attr: &mut [f64], x: &[f64], x_old: &[f64], grad: &[f64]) {
    for j in 0..attr.len() {
        attr[j] += (x[j] - x_old[j]) * grad[j];
    }
}

crate::common::classifier_explainer!(GuidedIntegratedGradients);
