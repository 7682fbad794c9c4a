//! DeepLift (Shrikumar, Greenside & Kundaje, 2017) with the Rescale rule, as Captum's
//! `DeepLift`: multipliers instead of gradients at every ReLU and max-pooling, times the
//! input's difference from a reference.
//!
//! The model must build its nonlinearities from [`glassbox_core::rescale`] (every glassbox
//! backbone does); ops it takes from burn directly are differentiated plainly, which is what
//! Captum does with functional ops. The attributions satisfy DeepLift's summation-to-delta:
//! they add up to `f_c(x) − f_c(x₀)` for networks of linear layers, ReLUs and max-pooling.

use burn::prelude::*;
use glassbox_core::rescale;
use glassbox_core::{Attribution, Classifier, Error, Result, Target};

use crate::Baseline;
use crate::common::{
    batched_target_scores, gradients_for_target, one_hot, setters, validate_inputs,
};

/// DeepLift (Rescale rule) for any [`Classifier`].
#[derive(Debug, Clone)]
pub struct DeepLift {
    /// The reference input (Captum's default: zeros).
    pub baseline: Baseline,
    /// Input changes smaller than this keep the plain derivative (Captum's `eps`, 1e-10).
    pub eps: f32,
}

impl Default for DeepLift {
    fn default() -> Self {
        Self {
            baseline: Baseline::Zeros,
            eps: 1e-10,
        }
    }
}

impl DeepLift {
    setters! {
        /// Builder: the reference input.
        with_baseline(baseline: Baseline) => baseline = baseline;
        /// Builder: the threshold below which an input change counts as none.
        with_eps(eps: f32) => eps = eps;
    }

    /// [`Self::attribute`] plus each sample's summation-to-delta gap (one more forward pass,
    /// for the input's target logits; the reference's come from the recorded pass).
    pub fn attribute_with_delta<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<DeepLiftOutput> {
        let (attribution, reference_logits) = self.run(model, inputs.clone(), target)?;
        let targets = &attribution.targets;
        let n = targets.len();
        let k = reference_logits.dims()[1];
        let f_0 = (reference_logits * one_hot(targets, k, &inputs.device()))
            .sum_dim(1)
            .reshape([n]);
        let f_x = batched_target_scores(model, inputs.inner(), targets, None);
        let total = attribution
            .relevance
            .clone()
            .sum_dims(&[1, 2, 3])
            .reshape([n]);
        let delta = (total - (f_x - f_0))
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| Error::format("DeepLift delta", format!("{e:?}")))?;
        Ok(DeepLiftOutput { attribution, delta })
    }

    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]` against the baseline.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        Ok(self.run(model, inputs, target)?.0)
    }

    /// The attribution and the reference pass's logits.
    fn run<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<(Attribution, Tensor<2>)> {
        validate_inputs(&inputs)?;
        check_eps(self.eps)?;
        let inputs = inputs.inner();
        let reference = self.baseline.materialise(&inputs)?.inner();
        let (reference_logits, recorded) = rescale::record(|| model.logits(reference.clone()))?;
        let (targets, multipliers) = rescale::rescale(recorded, self.eps, || {
            gradients_for_target(model, inputs.clone(), target)
        })??;
        let attribution =
            Attribution::new((inputs - reference) * multipliers, targets, "deep_lift")?
                .with_parameter("baseline", self.baseline.describe())
                .with_parameter("eps", self.eps);
        Ok((attribution, reference_logits))
    }
}

/// DeepLift attributions with their summation-to-delta gap (Captum's
/// `return_convergence_delta`).
#[derive(Debug, Clone)]
pub struct DeepLiftOutput {
    /// The attribution `[N, C, H, W]`.
    pub attribution: Attribution,
    /// `Σ attribution − (f_c(x) − f_c(x₀))` per sample: float rounding for networks whose
    /// nonlinearities are all hooked, larger where a model applies unhooked ones.
    pub delta: Vec<f32>,
}

/// `eps` must be finite and non-negative.
pub(crate) fn check_eps(eps: f32) -> Result<()> {
    if !eps.is_finite() || eps < 0.0 {
        return Err(Error::config(format!(
            "DeepLift eps must be finite and >= 0, got {eps}"
        )));
    }
    Ok(())
}

crate::common::classifier_explainer!(DeepLift);
