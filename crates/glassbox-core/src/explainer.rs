//! The `Explainer` trait: one verb, `explain`, for post-hoc and by-design methods alike.

use crate::{Explanation, Result, Target};

/// Produces an explanation of `model`'s output on `input` for `target`.
///
/// Post-hoc methods (saliency, Grad-CAM, ...) implement it for any model satisfying a
/// model-as-function trait, e.g. `impl<M: Classifier> Explainer<M> for Saliency`.
/// By-design models implement it on an explainer that reads their own forward pass.
pub trait Explainer<M: ?Sized> {
    /// What the explainer consumes (e.g. `Tensor<4>` images, or a few-shot episode).
    type Input;
    /// The typed evidence it returns.
    type Output: Explanation;

    /// Explain the model's output for `target` on `input`.
    fn explain(&self, model: &M, input: Self::Input, target: &Target) -> Result<Self::Output>;
}
