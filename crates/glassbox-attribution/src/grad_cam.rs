//! Grad-CAM (Selvaraju et al., 2017) and Grad-CAM++ (Chattopadhay et al., 2018).
//!
//! burn has no hooks: the model exposes its feature map through [`FeatureClassifier`]; we cut
//! the graph there (`features.detach().require_grad()`), run the head, and differentiate the
//! target logit with respect to the feature map only.

use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use glassbox_core::{Attribution, Error, Explainer, FeatureClassifier, Result, Target};

use crate::common::{check_logits, one_hot, validate_inputs};

/// Grad-CAM or Grad-CAM++ over a [`FeatureClassifier`]'s feature map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradCam {
    /// Use Grad-CAM++'s pixel-wise weights instead of averaged gradients.
    pub plus_plus: bool,
    /// Upsample the map to the input size (bilinear); otherwise return it at feature size.
    pub upsample: bool,
}

impl Default for GradCam {
    fn default() -> Self {
        Self {
            plus_plus: false,
            upsample: true,
        }
    }
}

impl GradCam {
    /// Grad-CAM++.
    pub fn plus_plus() -> Self {
        Self {
            plus_plus: true,
            ..Self::default()
        }
    }

    /// Attribute `model`'s `target` output on `inputs`; returns `[N, 1, H, W]` (or
    /// `[N, 1, H', W']` at feature resolution without upsampling).
    pub fn attribute<M: FeatureClassifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        validate_inputs(&inputs)?;
        let [n, _, h, w] = inputs.dims();
        let features = model.features(inputs);
        let a = features.inner().autodiff().require_grad();
        let ad = a.device();
        let logits = model.classify_features(a.clone());
        check_logits(&logits.clone().inner(), n)?;
        let targets = target.resolve(&logits.clone().inner())?;
        let k = logits.dims()[1];
        let score = (logits * one_hot(&targets, k, &ad)).sum();
        let grads = score.backward();
        let g = a
            .grad(&grads)
            .ok_or_else(|| Error::config("the head does not depend on the feature map"))?;
        let act = a.inner();
        let weights = if self.plus_plus {
            // α = g² / (2g² + Σ_ab A_ab · g³ + ε), weights = Σ_ij α · relu(g), with
            // pytorch-grad-cam's ε = 1e-6 (it matters: feature gradients are often ~1e-3).
            let g2 = g.clone().square();
            let g3 = g2.clone() * g.clone();
            let sum_a = act.clone().sum_dims(&[2, 3]);
            let denom = g2.clone() * 2.0 + sum_a * g3 + 1e-6;
            let alpha = (g2 / denom).mask_fill(g.clone().equal_elem(0.0), 0.0);
            (alpha * relu(g)).sum_dims(&[2, 3])
        } else {
            g.mean_dims(&[2, 3])
        };
        let cam = relu((weights * act).sum_dim(1));
        let cam = if self.upsample {
            interpolate(
                cam,
                InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([h, w]),
            )
        } else {
            cam
        };
        let name = if self.plus_plus {
            "grad_cam_pp"
        } else {
            "grad_cam"
        };
        Ok(Attribution::new(cam, targets, name)?
            .with_parameter("layer", model.feature_layer())
            .with_parameter("upsample", if self.upsample { "bilinear" } else { "none" }))
    }
}

impl<M: FeatureClassifier + ?Sized> Explainer<M> for GradCam {
    type Input = Tensor<4>;
    type Output = Attribution;

    fn explain(&self, model: &M, input: Tensor<4>, target: &Target) -> Result<Attribution> {
        self.attribute(model, input, target)
    }
}
