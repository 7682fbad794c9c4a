//! Model-as-function traits: what explainers and metrics need to see of a model.
//!
//! burn has no forward hooks, so a model that wants Grad-CAM-style explanations exposes its
//! intermediate feature map explicitly through [`FeatureClassifier`]. Closures are models too,
//! so anything that maps images to logits can be explained and scored.

use burn::prelude::*;

/// A classifier: images `[N, C, H, W]` to logits `[N, K]`.
///
/// Implemented for every `Fn(Tensor<4>) -> Tensor<2>`, so a closure wrapping any model works.
pub trait Classifier {
    /// Unnormalised class scores for a batch of images.
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;
}

impl<F> Classifier for F
where
    F: Fn(Tensor<4>) -> Tensor<2>,
{
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self(images)
    }
}

/// A classifier that can be split at a named spatial feature map.
///
/// `classify_features(features(x))` must equal `logits(x)`. Splitting lets an explainer cut the
/// autodiff graph at the feature map (`features.detach().require_grad()`) and differentiate the
/// head only, which is how Grad-CAM gets ∂score/∂activation without hooks.
pub trait FeatureClassifier: Classifier {
    /// The spatial feature map `[N, C', H', W']` the head reads (e.g. the last conv block).
    fn features(&self, images: Tensor<4>) -> Tensor<4>;
    /// Logits `[N, K]` from a feature map produced by [`FeatureClassifier::features`].
    fn classify_features(&self, features: Tensor<4>) -> Tensor<2>;
    /// A human-readable name of the feature layer (used in explanation metadata).
    fn feature_layer(&self) -> &str {
        "features"
    }
}

/// A few-shot segmenter: query images `[N, C, H, W]`, support images `[N, S, C, H, W]` and
/// support masks `[N, S, H, W]` to query mask logits `[N, 2, H, W]` (background, foreground).
///
/// Implemented for every closure of the matching signature.
pub trait FewShotSegmenter {
    /// Mask logits for the query images given the annotated support shots.
    fn segment(
        &self,
        query: Tensor<4>,
        support_images: Tensor<5>,
        support_masks: Tensor<4>,
    ) -> Tensor<4>;
}

impl<F> FewShotSegmenter for F
where
    F: Fn(Tensor<4>, Tensor<5>, Tensor<4>) -> Tensor<4>,
{
    fn segment(
        &self,
        query: Tensor<4>,
        support_images: Tensor<5>,
        support_masks: Tensor<4>,
    ) -> Tensor<4> {
        self(query, support_images, support_masks)
    }
}

/// One few-shot segmentation input: queries with their annotated support shots.
#[derive(Debug, Clone)]
pub struct FewShotInput {
    /// Query images `[N, C, H, W]`.
    pub query: Tensor<4>,
    /// Support images `[N, S, C, H, W]` (`S >= 1` shots per query).
    pub support_images: Tensor<5>,
    /// Binary support masks `[N, S, H, W]` (1 = foreground).
    pub support_masks: Tensor<4>,
}

impl FewShotInput {
    /// Check shapes agree (same N, C, H, W throughout, at least one shot) and values are finite.
    pub fn validate(&self) -> crate::Result<()> {
        use crate::Error;
        let [n, c, h, w] = self.query.dims();
        let [sn, s, sc, sh, sw] = self.support_images.dims();
        let [mn, ms, mh, mw] = self.support_masks.dims();
        if s == 0 {
            return Err(Error::Empty("support set (S = 0 shots)".into()));
        }
        if n == 0 {
            return Err(Error::Empty("query batch".into()));
        }
        if [sn, sc, sh, sw] != [n, c, h, w] {
            return Err(Error::shape(
                "support images",
                format!("[{n}, S, {c}, {h}, {w}] (matching the query)"),
                &self.support_images.dims(),
            ));
        }
        if [mn, ms, mh, mw] != [n, s, h, w] {
            return Err(Error::shape(
                "support masks",
                format!("[{n}, {s}, {h}, {w}]"),
                &self.support_masks.dims(),
            ));
        }
        crate::check::check_finite(&self.query, "query images")?;
        crate::check::check_finite(&self.support_images, "support images")?;
        crate::check::check_finite(&self.support_masks, "support masks")
    }
}

/// Check a segmenter's output is `[n, 2, h, w]` (background, foreground logits) and finite.
pub fn check_segmentation(logits: &Tensor<4>, [n, h, w]: [usize; 3]) -> crate::Result<()> {
    if logits.dims() != [n, 2, h, w] {
        return Err(crate::Error::shape(
            "segmenter output",
            format!("[{n}, 2, {h}, {w}] (background, foreground logits)"),
            &logits.dims(),
        ));
    }
    crate::check::check_finite(logits, "segmenter output")
}

/// The predicted foreground `[N, H, W]` (1 where the foreground logit wins) of `[N, 2, H, W]`
/// logits.
pub fn predicted_foreground(logits: &Tensor<4>) -> Tensor<3> {
    let [n, _, h, w] = logits.dims();
    let fg = logits.clone().slice(s![.., 1..2]) - logits.clone().slice(s![.., 0..1]);
    fg.greater_elem(0.0).float().reshape([n, h, w])
}

/// The query region a support explanation is about: `region` when given (checked to be
/// `[N, H, W]`), otherwise the model's predicted foreground on `input`.
pub fn query_region<M: FewShotSegmenter + ?Sized>(
    model: &M,
    input: &FewShotInput,
    region: Option<Tensor<3>>,
) -> crate::Result<Tensor<3>> {
    let [n, _, _, h, w] = input.support_images.dims();
    match region {
        Some(r) if r.dims() == [n, h, w] => Ok(r),
        Some(r) => Err(crate::Error::shape(
            "query region",
            format!("[{n}, {h}, {w}]"),
            &r.dims(),
        )),
        None => {
            let logits = model.segment(
                input.query.clone(),
                input.support_images.clone(),
                input.support_masks.clone(),
            );
            check_segmentation(&logits, [n, h, w])?;
            Ok(predicted_foreground(&logits))
        }
    }
}
