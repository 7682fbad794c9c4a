//! # glassbox-attribution
//!
//! Post-hoc attribution baselines for any glassbox model, with one verb in the spirit of
//! Captum: `method.attribute(&model, inputs, &target) -> Attribution` (also available as
//! [`glassbox_core::Explainer::explain`]).
//!
//! | method | needs | paper |
//! |---|---|---|
//! | [`Saliency`] | `Classifier` | Simonyan et al., 2014 |
//! | [`InputXGradient`] | `Classifier` | Shrikumar et al., 2016 |
//! | [`IntegratedGradients`] | `Classifier` | Sundararajan et al., 2017 |
//! | [`DeepLift`] (Rescale rule; models built on [`glassbox_core::rescale`]) | `Classifier` | Shrikumar et al., 2017 |
//! | [`BlurIntegratedGradients`] | `Classifier` | Xu et al., 2020 |
//! | [`GuidedIntegratedGradients`] | `Classifier` | Kapishnikov et al., 2021 |
//! | [`SmoothGrad`] (+ SmoothGrad², VarGrad) | `Classifier` | Smilkov et al., 2017; Adebayo et al., 2018 |
//! | [`GradCam`] (+ Grad-CAM++) | `FeatureClassifier` | Selvaraju et al., 2017; Chattopadhay et al., 2018 |
//! | [`Occlusion`] | `Classifier` | Zeiler & Fergus, 2014 |
//! | [`Rise`] | `Classifier` | Petsiuk et al., 2018 |
//! | [`Lime`] (over [`Slic`] superpixels, Lasso surrogate) | `Classifier` | Ribeiro et al., 2016 |
//! | [`Xrai`] (regions from [`Felzenszwalb`] superpixels) | `Classifier` | Kapishnikov et al., 2019 |
//! | [`SupportAttributor`] (saliency, IxG, IG, Blur IG, Guided IG, XRAI, LIME, RISE over support images) | `FewShotSegmenter` | baselines for matching-based segmentation, adapted as the Affinity Explainer paper does |
//!
//! Every perturbation (IG path points, SmoothGrad samples, occlusion windows, RISE masks, LIME
//! copies) is batched into as few passes as the `batch_size` option allows. Models should be in inference
//! mode (`model.valid()`) so that batch norm does not couple the rows of a batch; the model may
//! live on a plain device — gradients are taken on the autodiff version of the input's device.

pub mod blur_ig;
mod common;
pub mod deep_lift;
pub mod grad_cam;
pub mod guided_ig;
pub mod integrated_gradients;
pub mod lime;
pub mod occlusion;
pub mod quadrature;
pub mod rise;
pub mod saliency;
pub mod segmentation;
pub mod smooth_grad;
pub mod support;
pub mod surrogate;
pub mod xrai;

pub use blur_ig::BlurIntegratedGradients;
pub use deep_lift::{DeepLift, DeepLiftOutput};
pub use grad_cam::GradCam;
pub use guided_ig::GuidedIntegratedGradients;
pub use integrated_gradients::{Baseline, IntegratedGradients, IntegratedGradientsOutput};
pub use lime::Lime;
pub use occlusion::Occlusion;
pub use quadrature::IntegrationRule;
pub use rise::Rise;
pub use saliency::{InputXGradient, Saliency};
pub use segmentation::{Felzenszwalb, PixelGraph, Segmentation, Slic};
pub use smooth_grad::{NoiseStatistic, SmoothGrad};
pub use support::{SupportAttributor, SupportMethod};
pub use xrai::{Xrai, XraiBaselines, XraiRegions, XraiSegmentation};
