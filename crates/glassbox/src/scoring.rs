//! Score attribution methods with explanation metrics: every method of
//! `glassbox-attribution` as a [`glassbox_metrics::ExplainFn`], and a method × metric table
//! in one call.
//!
//! This lives in the umbrella crate because it joins two families (attribution and metrics),
//! which never depend on each other.

use burn::prelude::*;
use glassbox_attribution::{
    BlurIntegratedGradients, DeepLift, GradCam, GuidedIntegratedGradients, InputXGradient,
    IntegratedGradients, Lime, Occlusion, Rise, Saliency, SmoothGrad, Xrai,
};
use glassbox_core::{
    Attribution, Classifier, Error, FeatureClassifier, HostTensor, Result, Target,
};
use glassbox_metrics::{
    Context, Metric, MetricBatch, MetricResult, MetricTable, PerturbationEngine,
};
use serde::{Deserialize, Serialize};

/// The post-hoc attribution methods, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionMethod {
    /// |gradient| of the target logit.
    Saliency,
    /// input × gradient.
    InputXGradient,
    /// Integrated Gradients (Gauss–Legendre, zero baseline).
    IntegratedGradients,
    /// Blur Integrated Gradients (path through Gaussian blurs, σ_max 50).
    BlurIntegratedGradients,
    /// Guided Integrated Gradients (adaptive path, fraction 0.25, max_dist 0.02).
    GuidedIntegratedGradients,
    /// SmoothGrad.
    SmoothGrad,
    /// Grad-CAM on the model's feature layer.
    GradCam,
    /// Grad-CAM++.
    GradCamPlusPlus,
    /// Sliding-window occlusion.
    Occlusion,
    /// RISE random masks.
    Rise,
    /// XRAI: Integrated Gradients ranked by Felzenszwalb regions.
    Xrai,
    /// LIME over SLIC superpixels (Lasso surrogate).
    Lime,
    /// DeepLift, Rescale rule, zero reference (models built on `glassbox_core::rescale`).
    DeepLift,
}

impl AttributionMethod {
    /// Every method.
    pub const ALL: [AttributionMethod; 13] = [
        Self::Saliency,
        Self::InputXGradient,
        Self::IntegratedGradients,
        Self::BlurIntegratedGradients,
        Self::GuidedIntegratedGradients,
        Self::SmoothGrad,
        Self::GradCam,
        Self::GradCamPlusPlus,
        Self::Occlusion,
        Self::Rise,
        Self::Xrai,
        Self::Lime,
        Self::DeepLift,
    ];

    /// Snake-case name (as in JSON and on the command line).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Saliency => "saliency",
            Self::InputXGradient => "input_x_gradient",
            Self::IntegratedGradients => "integrated_gradients",
            Self::BlurIntegratedGradients => "blur_integrated_gradients",
            Self::GuidedIntegratedGradients => "guided_integrated_gradients",
            Self::SmoothGrad => "smooth_grad",
            Self::GradCam => "grad_cam",
            Self::GradCamPlusPlus => "grad_cam_plus_plus",
            Self::Occlusion => "occlusion",
            Self::Rise => "rise",
            Self::Xrai => "xrai",
            Self::Lime => "lime",
            Self::DeepLift => "deep_lift",
        }
    }

    /// Parse a name (`ig`, `ixg`, `gradcam`, … are accepted as short forms).
    pub fn parse(name: &str) -> Result<Self> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        let short = match n.as_str() {
            "ig" => "integrated_gradients",
            "blur_ig" | "blurig" => "blur_integrated_gradients",
            "guided_ig" | "guidedig" => "guided_integrated_gradients",
            "ixg" => "input_x_gradient",
            "smoothgrad" => "smooth_grad",
            "gradcam" => "grad_cam",
            "gradcam_pp" | "gradcampp" => "grad_cam_plus_plus",
            "deeplift" => "deep_lift",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|m| m.name() == short)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown attribution method {name:?}; known: {}",
                    Self::ALL.map(|m| m.name()).join(", ")
                ))
            })
    }

    /// Whether the method needs the model's feature layer (Grad-CAM family).
    pub fn needs_features(&self) -> bool {
        matches!(self, Self::GradCam | Self::GradCamPlusPlus)
    }

    /// Attribute with the method's defaults; `steps` sets IG steps (also XRAI's), SmoothGrad
    /// or LIME samples, or RISE masks.
    pub fn attribute<M: FeatureClassifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
        steps: Option<usize>,
    ) -> Result<Attribution> {
        match self {
            Self::GradCam => GradCam::default().attribute(model, inputs, target),
            Self::GradCamPlusPlus => GradCam::plus_plus().attribute(model, inputs, target),
            _ => self.attribute_classifier(model, inputs, target, steps),
        }
    }

    /// Attribute a plain [`Classifier`] (every method but the Grad-CAM family).
    pub fn attribute_classifier<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
        steps: Option<usize>,
    ) -> Result<Attribution> {
        if steps == Some(0) {
            return Err(Error::Config("steps must be >= 1".into()));
        }
        match self {
            Self::Saliency => Saliency::default().attribute(model, inputs, target),
            Self::InputXGradient => InputXGradient.attribute(model, inputs, target),
            Self::IntegratedGradients => IntegratedGradients::default()
                .with_steps(steps.unwrap_or(50))
                .attribute(model, inputs, target),
            Self::BlurIntegratedGradients => BlurIntegratedGradients::default()
                .with_steps(steps.unwrap_or(100))
                .attribute(model, inputs, target),
            Self::GuidedIntegratedGradients => GuidedIntegratedGradients::default()
                .with_steps(steps.unwrap_or(200))
                .attribute(model, inputs, target),
            Self::SmoothGrad => SmoothGrad {
                samples: steps.unwrap_or(50),
                ..SmoothGrad::default()
            }
            .attribute(model, inputs, target),
            Self::Occlusion => Occlusion::default().attribute(model, inputs, target),
            Self::Rise => Rise {
                masks: steps.unwrap_or(1000),
                ..Rise::default()
            }
            .attribute(model, inputs, target),
            Self::Xrai => Xrai::default()
                .with_steps(steps.unwrap_or(100))
                .attribute(model, inputs, target),
            Self::Lime => Lime::default()
                .with_samples(steps.unwrap_or(50))
                .attribute(model, inputs, target),
            Self::DeepLift => DeepLift::default().attribute(model, inputs, target),
            Self::GradCam | Self::GradCamPlusPlus => Err(Error::Config(format!(
                "{} needs a FeatureClassifier (use attribute)",
                self.name()
            ))),
        }
    }

    /// This method as a metric explainer for `model`. Gradient and perturbation methods
    /// explain whichever model a metric passes (randomised copies for MPRT, the shifted model
    /// for Input Invariance); the Grad-CAM family can only explain `model` itself and returns
    /// a typed error for any other.
    pub fn explainer<'m, M: FeatureClassifier>(
        &self,
        model: &'m M,
        device: &Device,
        steps: Option<usize>,
    ) -> impl Fn(&dyn Classifier, &HostTensor, &[usize]) -> Result<HostTensor> + use<'m, M> {
        let method = *self;
        let device = device.clone();
        move |m: &dyn Classifier, x: &HostTensor, targets: &[usize]| {
            let inputs = x.to_tensor::<4>(&device)?;
            let target = Target::PerSample(targets.to_vec());
            let a = if method.needs_features() {
                let same = std::ptr::addr_eq(m as *const dyn Classifier, model as *const M);
                if !same {
                    return Err(Error::Config(format!(
                        "{} can only explain the model it was built for, not a modified copy",
                        method.name()
                    )));
                }
                method.attribute(model, inputs, &target, steps)?
            } else {
                method.attribute_classifier(m, inputs, &target, steps)?
            };
            Ok(HostTensor::from_tensor(&a.relevance))
        }
    }
}

/// A prototype network's own evidence as a metric explainer: the class map of
/// [`glassbox_core::PrototypeEvidence::class_map`] (similarity maps weighted by the last
/// layer's weights to the target class, upsampled to the input). It explains only `model`
/// itself; metrics that modify the model (MPRT, Input Invariance) get a typed error.
pub fn prototype_explainer<'m>(
    model: &'m glassbox_prototypes::PrototypeNet,
    device: &Device,
) -> impl Fn(&dyn Classifier, &HostTensor, &[usize]) -> Result<HostTensor> + use<'m> {
    let device = device.clone();
    move |m: &dyn Classifier, x: &HostTensor, targets: &[usize]| {
        let same = std::ptr::addr_eq(
            m as *const dyn Classifier,
            model as *const glassbox_prototypes::PrototypeNet,
        );
        if !same {
            return Err(Error::Config(
                "a prototype network's evidence explains only that network".into(),
            ));
        }
        let images = x.to_tensor::<4>(&device)?;
        let [_, _, h, w] = images.dims();
        let map = glassbox_prototypes::explain(model, images).class_map(targets, h, w)?;
        Ok(HostTensor::from_tensor(&map))
    }
}

/// Score each method's attributions of `inputs` with each metric: the comparison table users
/// want (rows: methods, columns: metrics), plus every method's full results.
///
/// Targets default to the model's predictions. `masks` enable localisation metrics.
#[allow(clippy::too_many_arguments)]
pub fn score_methods<M: FeatureClassifier>(
    model: &M,
    device: &Device,
    inputs: &HostTensor,
    targets: Option<Vec<usize>>,
    masks: Option<HostTensor>,
    methods: &[AttributionMethod],
    metrics: &[Box<dyn Metric>],
    engine: PerturbationEngine,
) -> Result<MethodScores> {
    let x = inputs.to_tensor::<4>(device)?;
    let targets = match targets {
        Some(t) => t,
        None => Target::Predicted.resolve(&model.logits(x.clone()))?,
    };
    let mut table = MetricTable::default();
    let mut all = Vec::new();
    for &method in methods {
        let a = method.attribute(model, x.clone(), &Target::PerSample(targets.clone()), None)?;
        let mut batch = MetricBatch::new(
            inputs.clone(),
            HostTensor::from_tensor(&a.relevance),
            targets.clone(),
        )?;
        if let Some(m) = &masks {
            batch = batch.with_masks(m.clone())?;
        }
        let explain = method.explainer(model, device, None);
        let ctx = Context::new(model, device)
            .with_explainer(&explain)
            .with_engine(engine);
        let results = metrics
            .iter()
            .map(|m| m.evaluate(&ctx, &batch))
            .collect::<Result<Vec<_>>>()?;
        table.push(method.name(), &results)?;
        all.push((method, results));
    }
    Ok(MethodScores {
        table,
        results: all,
    })
}

/// What [`score_methods`] returns.
#[derive(Debug, Clone)]
pub struct MethodScores {
    /// Aggregates: rows are methods, columns metrics.
    pub table: MetricTable,
    /// Every method's full results (per-sample scores, curves, parameters).
    pub results: Vec<(AttributionMethod, Vec<MetricResult>)>,
}
