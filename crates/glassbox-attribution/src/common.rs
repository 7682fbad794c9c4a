//! What every gradient-based method shares: input validation, target resolution, and
//! batched gradients of the target logits with respect to the inputs.

use burn::prelude::*;
use glassbox_core::check::{check_dims, check_finite};
use glassbox_core::{Classifier, Error, Result, Target};

/// Validate a batch of inputs `[N, C, H, W]`: non-empty and finite.
pub(crate) fn validate_inputs(inputs: &Tensor<4>) -> Result<()> {
    check_dims(inputs, "attribution inputs", [None; 4], "[N, C, H, W]")?;
    check_finite(inputs, "attribution inputs")
}

/// Forward the inputs once (no autodiff) and resolve `target` to one class per sample.
pub(crate) fn resolve_targets<M: Classifier + ?Sized>(
    model: &M,
    inputs: &Tensor<4>,
    target: &Target,
) -> Result<Vec<usize>> {
    Ok(resolve_targets_and_scores(model, inputs, target)?.0)
}

/// [`resolve_targets`], also returning the target logits `[N]` of that same forward pass, for
/// methods that need f_c(x) (IG's delta, occlusion's reference score) without a second pass.
pub(crate) fn resolve_targets_and_scores<M: Classifier + ?Sized>(
    model: &M,
    inputs: &Tensor<4>,
    target: &Target,
) -> Result<(Vec<usize>, Tensor<1>)> {
    let n = inputs.dims()[0];
    let logits = model.logits(inputs.clone());
    check_logits(&logits, n)?;
    let targets = target.resolve(&logits)?;
    let k = logits.dims()[1];
    let scores = (logits * one_hot(&targets, k, &inputs.device()))
        .sum_dim(1)
        .squeeze_dim::<1>(1);
    Ok((targets, scores))
}

pub(crate) fn check_logits(logits: &Tensor<2>, n: usize) -> Result<()> {
    if logits.dims()[0] != n {
        return Err(Error::shape(
            "model logits",
            format!("[{n}, K] (one row per input)"),
            &logits.dims(),
        ));
    }
    check_finite(logits, "model logits")
}

/// One-hot rows `[B, K]` selecting `targets` on `device`.
pub(crate) fn one_hot(targets: &[usize], k: usize, device: &Device) -> Tensor<2> {
    let idx: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
    Tensor::<1, Int>::from_data(TensorData::new(idx, [targets.len()]), device)
        .one_hot::<2>(k)
        .float()
}

/// Gradient of each row's target logit with respect to that row of `inputs`, and the target
/// logits themselves, in one forward and one backward pass.
///
/// Rows are independent as long as the model does not mix samples (use `model.valid()` so
/// batch norm runs in inference mode), so the gradient of the *sum* of target logits gives
/// every row's own gradient at once.
pub(crate) fn target_gradients<M: Classifier + ?Sized>(
    model: &M,
    inputs: Tensor<4>,
    targets: &[usize],
) -> (Tensor<4>, Tensor<1>) {
    // `inner()` drops any graph the caller's tensor carries, `autodiff()` makes a fresh
    // tracked leaf on the same backend; results come back as plain tensors.
    let x = inputs.inner().autodiff().require_grad();
    let device = x.device();
    let logits = model.logits(x.clone());
    let k = logits.dims()[1];
    let scores = (logits * one_hot(targets, k, &device))
        .sum_dim(1)
        .squeeze_dim::<1>(1);
    let grads = scores.clone().sum().backward();
    let gx = x
        .grad(&grads)
        .unwrap_or_else(|| Tensor::zeros(x.dims(), &device).inner());
    (gx, scores.inner())
}

/// Gradients for `target` resolved from the same forward pass that is differentiated, so
/// `Target::Predicted` costs no extra forward pass. Returns the resolved targets too.
pub(crate) fn gradients_for_target<M: Classifier + ?Sized>(
    model: &M,
    inputs: Tensor<4>,
    target: &Target,
) -> Result<(Vec<usize>, Tensor<4>)> {
    let n = inputs.dims()[0];
    let x = inputs.inner().autodiff().require_grad();
    let device = x.device();
    let logits = model.logits(x.clone());
    let plain = logits.clone().inner();
    check_logits(&plain, n)?;
    let targets = target.resolve(&plain)?;
    let k = logits.dims()[1];
    let grads = (logits * one_hot(&targets, k, &device)).sum().backward();
    let gx = x
        .grad(&grads)
        .unwrap_or_else(|| Tensor::zeros(x.dims(), &device).inner());
    Ok((targets, gx))
}

/// [`target_gradients`] over many rows, `batch_size` rows per pass (all at once if `None`).
pub(crate) fn batched_target_gradients<M: Classifier + ?Sized>(
    model: &M,
    inputs: Tensor<4>,
    targets: &[usize],
    batch_size: Option<usize>,
) -> (Tensor<4>, Tensor<1>) {
    let rows = inputs.dims()[0];
    let chunk = batch_size.unwrap_or(rows).max(1);
    if chunk >= rows {
        return target_gradients(model, inputs, targets);
    }
    let (mut grads, mut scores) = (Vec::new(), Vec::new());
    for start in (0..rows).step_by(chunk) {
        let end = (start + chunk).min(rows);
        let part = inputs.clone().slice(s![start..end]);
        let (g, s) = target_gradients(model, part, &targets[start..end]);
        grads.push(g);
        scores.push(s);
    }
    (Tensor::cat(grads, 0), Tensor::cat(scores, 0))
}

/// Target logits without gradients, `batch_size` rows per pass.
pub(crate) fn batched_target_scores<M: Classifier + ?Sized>(
    model: &M,
    inputs: Tensor<4>,
    targets: &[usize],
    batch_size: Option<usize>,
) -> Tensor<1> {
    let rows = inputs.dims()[0];
    let chunk = batch_size.unwrap_or(rows).max(1);
    let device = inputs.device();
    let mut scores = Vec::new();
    for start in (0..rows).step_by(chunk) {
        let end = (start + chunk).min(rows);
        let logits = model.logits(inputs.clone().slice(s![start..end]));
        let k = logits.dims()[1];
        let oh = one_hot(&targets[start..end], k, &device);
        scores.push((logits * oh).sum_dim(1).squeeze_dim::<1>(1));
    }
    Tensor::cat(scores, 0)
}

/// Repeat each sample `times` times consecutively: `[N, ...]` to `[N·times, ...]`.
pub(crate) fn repeat_rows(x: Tensor<4>, times: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.unsqueeze_dim::<5>(1)
        .repeat_dim(1, times)
        .reshape([n * times, c, h, w])
}

/// Each target repeated `times` times consecutively.
pub(crate) fn repeat_targets(targets: &[usize], times: usize) -> Vec<usize> {
    targets
        .iter()
        .flat_map(|&t| std::iter::repeat_n(t, times))
        .collect()
}

/// The normalised 1-D Gaussian of `scipy.ndimage.gaussian_filter1d` (`truncate = 4`): taps
/// `-r..=r` with `r = ⌊4σ + ½⌋`. `sigma` must be positive.
pub(crate) fn scipy_gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x as f64 / sigma).powi(2)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|v| v / total).collect()
}

/// Builder-style setters: each `with_x(arg: T) => field = value;` becomes a documented
/// `pub fn with_x(mut self, arg: T) -> Self` that stores `value` in `field`.
macro_rules! setters {
    ($( $(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident = $value:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$field = $value;
                self
            }
        )*
    };
}
pub(crate) use setters;

/// Validate an optional internal batch size.
pub(crate) fn check_batch_size(batch_size: Option<usize>) -> Result<()> {
    if batch_size == Some(0) {
        return Err(Error::config("internal batch size must be >= 1"));
    }
    Ok(())
}

/// Implement [`glassbox_core::Explainer`] for a method whose inherent
/// `attribute(&self, &M, Tensor<4>, &Target) -> Result<Attribution>` works on any
/// [`Classifier`], so each method states its one verb once.
macro_rules! classifier_explainer {
    ($method:ty) => {
        impl<M: glassbox_core::Classifier + ?Sized> glassbox_core::Explainer<M> for $method {
            type Input = burn::prelude::Tensor<4>;
            type Output = glassbox_core::Attribution;

            fn explain(
                &self,
                model: &M,
                input: burn::prelude::Tensor<4>,
                target: &glassbox_core::Target,
            ) -> glassbox_core::Result<glassbox_core::Attribution> {
                self.attribute(model, input, target)
            }
        }
    };
}
pub(crate) use classifier_explainer;
