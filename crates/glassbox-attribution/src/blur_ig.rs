//! Blur Integrated Gradients (Xu, Venugopalan & Sundararajan, "Attribution in Scale and
//! Space", CVPR 2020).
//!
//! Instead of a straight line from a baseline, the path runs through ever stronger Gaussian
//! blurs of the input, from `x(σ_max)` back to `x(0) = x`; no baseline image has to be chosen.
//! With `x(σ)` the blur of `x` at scale `σ` and σ₀ = 0 < σ₁ < … < σ_S = σ_max,
//!
//! `BlurIG_i(x) = −Σ_{s<S} (σ_{s+1} − σ_s) · ∂x_i/∂σ(σ_s) · ∂f_c/∂x_i(x(σ_s))`,
//!
//! with `∂x/∂σ` a forward difference of step `grad_step`. The defaults and the blur follow the
//! reference implementation (PAIR's `saliency` package): σ_max = 50, 100 steps, `grad_step`
//! 0.01, the blur `scipy.ndimage.gaussian_filter` over the two spatial axes with zero padding
//! (`mode="constant"`) and the kernel truncated at 4σ. All `N × steps` path points are
//! evaluated in batches of `batch_size` rows. The attribution approximately satisfies
//! completeness, `Σ_i BlurIG_i ≈ f_c(x) − f_c(x(σ_max))`; [`BlurIntegratedGradients::delta`]
//! measures the gap.

use burn::prelude::*;
use glassbox_core::{Attribution, Classifier, Error, Result, Target};

use crate::common::{
    batched_target_gradients, batched_target_scores, check_batch_size, resolve_targets_and_scores,
    validate_inputs,
};

/// The 1-D Gaussian filter of `scipy.ndimage.gaussian_filter1d` with `mode="constant"` (zero
/// padding) and `truncate = 4`, as an `n × n` matrix `B` (`blurred = B · signal`). σ = 0 is
/// the identity.
pub fn gaussian_blur_matrix(n: usize, sigma: f64) -> Vec<f32> {
    let mut b = vec![0.0f32; n * n];
    if sigma <= 0.0 {
        for i in 0..n {
            b[i * n + i] = 1.0;
        }
        return b;
    }
    let weights = crate::common::scipy_gaussian_kernel(sigma);
    let radius = (weights.len() / 2) as i64;
    for i in 0..n as i64 {
        for j in (i - radius).max(0)..=(i + radius).min(n as i64 - 1) {
            b[(i * n as i64 + j) as usize] = weights[(j - i + radius) as usize] as f32;
        }
    }
    b
}

/// Blur every channel of `x` `[N, C, H, W]` with a Gaussian of scale `sigma` over H and W (zero
/// padding, truncated at 4σ): two matrix products, `B_H · x · B_Wᵀ`.
pub fn gaussian_blur(x: Tensor<4>, sigma: f64) -> Tensor<4> {
    if sigma <= 0.0 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let matrix = |len: usize| {
        Tensor::<2>::from_data(
            TensorData::new(gaussian_blur_matrix(len, sigma), [len, len]),
            &device,
        )
    };
    // Rows of x times B_Wᵀ blur along W; then the same along H on the transposed layout.
    let along_w = x.reshape([n * c * h, w]).matmul(matrix(w).transpose());
    let t = along_w
        .reshape([n * c, h, w])
        .swap_dims(1, 2)
        .reshape([n * c * w, h]);
    t.matmul(matrix(h).transpose())
        .reshape([n * c, w, h])
        .swap_dims(1, 2)
        .reshape([n, c, h, w])
}

/// Blur Integrated Gradients. Defaults: σ_max = 50, 100 steps, `grad_step` 0.01, linear σ
/// spacing, 64 path points per forward/backward pass.
#[derive(Debug, Clone)]
pub struct BlurIntegratedGradients {
    /// Strongest blur, in pixels (the path's start).
    pub max_sigma: f64,
    /// Path points between the strongest blur and the input.
    pub steps: usize,
    /// Step of the forward difference that estimates `∂x/∂σ`.
    pub grad_step: f64,
    /// Space the scales as `sqrt(s·σ_max/steps)` instead of linearly (the reference's `sqrt`).
    pub sqrt: bool,
    /// Rows per forward/backward pass; `None` evaluates all `N × steps` at once.
    pub batch_size: Option<usize>,
}

impl Default for BlurIntegratedGradients {
    fn default() -> Self {
        Self {
            max_sigma: 50.0,
            steps: 100,
            grad_step: 0.01,
            sqrt: false,
            batch_size: Some(64),
        }
    }
}

impl BlurIntegratedGradients {
    crate::common::setters! {
        /// Set the strongest blur.
        with_max_sigma(max_sigma: f64) => max_sigma = max_sigma;
        /// Set the number of path points.
        with_steps(steps: usize) => steps = steps;
        /// Set the forward-difference step.
        with_grad_step(grad_step: f64) => grad_step = grad_step;
        /// Square-root spacing of the scales.
        with_sqrt(sqrt: bool) => sqrt = sqrt;
        /// Set the internal batch size (rows per pass).
        with_batch_size(batch_size: usize) => batch_size = Some(batch_size);
    }

    /// Check the settings (a typed error for zero steps or a non-positive scale).
    pub(crate) fn check(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::config("Blur IG needs steps >= 1"));
        }
        for (name, v) in [("max_sigma", self.max_sigma), ("grad_step", self.grad_step)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::config(format!(
                    "Blur IG {name} must be finite and > 0, got {v}"
                )));
            }
        }
        check_batch_size(self.batch_size)
    }

    /// The scales σ₀ = 0, …, σ_S = σ_max.
    pub fn sigmas(&self) -> Vec<f64> {
        let s = self.steps as f64;
        (0..=self.steps)
            .map(|i| {
                let v = i as f64 * self.max_sigma / s;
                if self.sqrt { v.sqrt() } else { v }
            })
            .collect()
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
        let [n, c, h, w] = inputs.dims();
        let sigmas = self.sigmas();
        let s = self.steps;
        // Path points and blur derivatives, step-major: row k·n + i is sample i at σ_k.
        let mut points = Vec::with_capacity(s);
        let mut slopes = Vec::with_capacity(s);
        for k in 0..s {
            let x_k = gaussian_blur(inputs.clone(), sigmas[k]);
            let ahead = gaussian_blur(inputs.clone(), sigmas[k] + self.grad_step);
            // Each step's width weights its derivative (the reference uses one width per
            // batch, which only matters with `sqrt` spacing).
            let width = (sigmas[k + 1] - sigmas[k]) / self.grad_step;
            slopes.push((ahead - x_k.clone()) * width);
            points.push(x_k);
        }
        let path = Tensor::cat(points, 0);
        let slope = Tensor::cat(slopes, 0);
        let step_targets: Vec<usize> = (0..s).flat_map(|_| targets.iter().copied()).collect();
        let (grads, _) = batched_target_gradients(model, path, &step_targets, self.batch_size);
        let relevance = (grads * slope)
            .reshape([s, n, c, h, w])
            .sum_dim(0)
            .reshape([n, c, h, w])
            .neg();
        Ok(
            Attribution::new(relevance, targets, "blur_integrated_gradients")?
                .with_parameter("max_sigma", self.max_sigma)
                .with_parameter("steps", self.steps)
                .with_parameter("grad_step", self.grad_step)
                .with_parameter("sqrt", self.sqrt),
        )
    }

    /// Completeness gap per sample: `Σ attribution − (f_c(x) − f_c(x(σ_max)))`, for an
    /// attribution this method made for `inputs`.
    pub fn delta<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        attribution: &Attribution,
    ) -> Result<Vec<f32>> {
        self.check()?;
        validate_inputs(&inputs)?;
        let targets = attribution.targets.clone();
        let n = inputs.dims()[0];
        if targets.len() != n {
            return Err(Error::shape(
                "Blur IG attribution",
                format!("one target per input ({n})"),
                &[targets.len()],
            ));
        }
        let blurred = gaussian_blur(inputs.clone(), self.max_sigma);
        let f_x = batched_target_scores(model, inputs, &targets, self.batch_size);
        let f_blur = batched_target_scores(model, blurred, &targets, self.batch_size);
        let total = attribution
            .relevance
            .clone()
            .sum_dims(&[1, 2, 3])
            .reshape([n]);
        (total - (f_x - f_blur))
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| Error::format("Blur IG delta", format!("{e:?}")))
    }
}

crate::common::classifier_explainer!(BlurIntegratedGradients);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_matrix_rows_sum_to_one_inside_and_lose_mass_at_the_border() {
        let n = 9;
        let b = gaussian_blur_matrix(n, 1.0);
        let row = |i: usize| b[i * n..(i + 1) * n].iter().sum::<f32>();
        assert!((row(4) - 1.0).abs() < 1e-6);
        // Zero padding: the first row's kernel hangs over the edge.
        assert!(row(0) < 0.75 && row(0) > 0.5);
        // Symmetric, peaked on the diagonal, radius 4σ.
        assert_eq!(b[4 * n + 3], b[4 * n + 5]);
        assert!(b[4 * n + 4] > b[4 * n + 3]);
        assert_eq!(
            gaussian_blur_matrix(3, 0.0),
            vec![1., 0., 0., 0., 1., 0., 0., 0., 1.]
        );
    }
}
