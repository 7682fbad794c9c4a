//! Saliency (Simonyan, Vedaldi & Zisserman, 2014) and Input × Gradient (Shrikumar et al., 2016).

use burn::prelude::*;
use glassbox_core::{Attribution, Classifier, Result, Target};

use crate::common::{gradients_for_target, validate_inputs};

/// Gradient of the target logit with respect to the input; `abs` (Captum's default) takes
/// its magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saliency {
    /// Return `|∂f_c/∂x|` instead of the signed gradient.
    pub abs: bool,
}

impl Default for Saliency {
    fn default() -> Self {
        Self { abs: true }
    }
}

impl Saliency {
    /// Signed (`abs = false`) or absolute saliency.
    pub fn new(abs: bool) -> Self {
        Self { abs }
    }

    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        validate_inputs(&inputs)?;
        let (targets, g) = gradients_for_target(model, inputs, target)?;
        let rel = if self.abs { g.abs() } else { g };
        Ok(Attribution::new(rel, targets, "saliency")?.with_parameter("abs", self.abs))
    }
}

crate::common::classifier_explainer!(Saliency);

/// Input × Gradient: `x ⊙ ∂f_c/∂x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputXGradient;

impl InputXGradient {
    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        validate_inputs(&inputs)?;
        let (targets, g) = gradients_for_target(model, inputs.clone(), target)?;
        Attribution::new(inputs.inner() * g, targets, "input_x_gradient")
    }
}

crate::common::classifier_explainer!(InputXGradient);
