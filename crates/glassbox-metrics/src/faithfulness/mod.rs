//! Faithfulness: does removing what the explanation calls relevant change the output?
//!
//! Every metric here is a thin definition over the [`crate::PerturbationEngine`]: a feature
//! order, a schedule of spans (cumulative or one step at a time), a baseline, and a readout.

mod correlation;
mod curves;
mod infidelity;
mod irof;
mod road;

pub use correlation::{
    FaithfulnessCorrelation, FaithfulnessEstimate, MonotonicityCorrelation, SensitivityN,
};
pub use curves::{
    Deletion, Insertion, Monotonicity, PixelFlipping, RegionOrder, RegionPerturbation, Selectivity,
    Substrate,
};
pub use infidelity::Infidelity;
pub use irof::{Irof, Segmentation};
pub use road::{Road, RoadOrder, noisy_linear_imputation};

use glassbox_core::{Classifier, Result};

use crate::perturb::layout_groups;
use crate::preprocess::prepare_attributions;
use crate::{Context, FeatureLayout, MetricBatch, Readout};

/// Attributions mapped onto features, with the features' element groups.
pub(crate) struct Prepared {
    pub layout: FeatureLayout,
    pub groups: Vec<Vec<usize>>,
    /// Per image: the attribution value of every feature.
    pub values: Vec<Vec<f64>>,
}

impl Prepared {
    /// Attribution mass of the features `features` of image `i`.
    pub fn span_sum(&self, i: usize, features: &[usize]) -> f64 {
        features.iter().map(|&f| self.values[i][f]).sum()
    }
}

pub(crate) fn prepare(batch: &MetricBatch, normalise: bool, abs: bool, compat: bool) -> Prepared {
    let layout = FeatureLayout::new(batch, compat);
    let values = prepare_attributions(batch, normalise, abs, compat)
        .iter()
        .map(|a| layout.values(a))
        .collect();
    Prepared {
        groups: layout_groups(&layout),
        layout,
        values,
    }
}

/// The model's readout for the target class on the unperturbed images.
pub(crate) fn base_scores(
    ctx: &Context,
    model: &dyn Classifier,
    batch: &MetricBatch,
    readout: Readout,
) -> Result<Vec<f64>> {
    let out = ctx.engine.predict(model, &ctx.device, batch.inputs())?;
    check_targets(batch, out.classes())?;
    Ok((0..batch.len())
        .map(|i| out.read(i, 0, batch.targets()[i], readout))
        .collect())
}

/// Run `perturbation` through the model and read each image's target class on every copy:
/// one curve per image.
pub(crate) fn target_curves(
    ctx: &Context,
    model: &dyn Classifier,
    batch: &MetricBatch,
    perturbation: &dyn crate::Perturbation,
    readout: Readout,
) -> Result<Vec<Vec<f64>>> {
    let out = ctx
        .engine
        .run(model, &ctx.device, batch.inputs(), perturbation)?;
    check_targets(batch, out.classes())?;
    Ok((0..batch.len())
        .map(|i| out.curve(i, batch.targets()[i], readout))
        .collect())
}

/// Every target must be a class of the model.
pub(crate) fn check_targets(batch: &MetricBatch, classes: usize) -> Result<()> {
    if let Some(&bad) = batch.targets().iter().find(|&&t| t >= classes) {
        return Err(glassbox_core::Error::OutOfRange {
            what: "target class".into(),
            index: bad,
            bound: classes,
        });
    }
    Ok(())
}
