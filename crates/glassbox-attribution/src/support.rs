//! Attributions over the support images of a few-shot segmenter: which support pixels made the
//! model segment a query region. The explained score is the sum of the foreground logit over
//! the query region (given, or the model's own predicted foreground), as in the gradient
//! baselines the Affinity Explainer paper adapts to matching-based segmentation.

use burn::prelude::*;
use glassbox_core::{
    Error, Explainer, FewShotInput, FewShotSegmenter, Result, SupportAttribution, Target,
};

/// How support relevance is computed from gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportMethod {
    /// `|∂score/∂support|`, summed over channels.
    Saliency,
    /// `support ⊙ ∂score/∂support`, summed over channels.
    InputXGradient,
    /// Integrated Gradients over the support images from an all-zero support (Gauss–Legendre
    /// nodes), queries and masks fixed; summed over channels.
    IntegratedGradients {
        /// Path points.
        steps: usize,
    },
}

/// Support-image attribution for any [`FewShotSegmenter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportAttributor {
    /// The gradient method.
    pub method: SupportMethod,
}

impl SupportAttributor {
    /// An attributor using `method`.
    pub fn new(method: SupportMethod) -> Self {
        Self { method }
    }

    /// Attribute the foreground score of `region` (`[N, H, W]`, 1 = explained pixel) or, when
    /// `None`, of the model's predicted foreground, to the support images: `[N, S, H, W]`.
    pub fn attribute<M: FewShotSegmenter + ?Sized>(
        &self,
        model: &M,
        input: &FewShotInput,
        region: Option<Tensor<3>>,
    ) -> Result<SupportAttribution> {
        input.validate()?;
        let [n, s, c, h, w] = input.support_images.dims();
        let region = match region {
            Some(r) => {
                if r.dims() != [n, h, w] {
                    return Err(Error::shape(
                        "query region",
                        format!("[{n}, {h}, {w}]"),
                        &r.dims(),
                    ));
                }
                r
            }
            None => {
                let logits = model.segment(
                    input.query.clone(),
                    input.support_images.clone(),
                    input.support_masks.clone(),
                );
                check_segmentation(&logits, [n, h, w])?;
                let fg = logits.clone().slice(s![.., 1..2]) - logits.slice(s![.., 0..1]);
                fg.greater_elem(0.0).float().reshape([n, h, w])
            }
        };
        let region = region.inner();
        let grad = |support: Tensor<5>| -> Result<Tensor<5>> {
            let x = support.inner().autodiff().require_grad();
            let logits = model.segment(
                input.query.clone().inner(),
                x.clone(),
                input.support_masks.clone().inner(),
            );
            check_segmentation(&logits.clone().inner(), [n, h, w])?;
            let fg = logits.slice(s![.., 1..2]).reshape([n, h, w]);
            let grads = (fg * region.clone()).sum().backward();
            Ok(x.grad(&grads)
                .unwrap_or_else(|| Tensor::zeros([n, s, c, h, w], &x.device()).inner()))
        };
        let support = input.support_images.clone().inner();
        let (relevance, name) = match self.method {
            SupportMethod::Saliency => (grad(support)?.abs(), "support_saliency"),
            SupportMethod::InputXGradient => {
                (support.clone() * grad(support)?, "support_input_x_gradient")
            }
            SupportMethod::IntegratedGradients { steps } => {
                let (alphas, weights) = crate::IntegrationRule::GaussLegendre.steps(steps)?;
                let mut total = Tensor::<5>::zeros([n, s, c, h, w], &support.device());
                for (a, wt) in alphas.iter().zip(&weights) {
                    total = total + grad(support.clone() * (*a as f32))? * (*wt as f32);
                }
                (support * total, "support_integrated_gradients")
            }
        };
        Ok(SupportAttribution {
            support: relevance.sum_dim(2).reshape([n, s, h, w]),
            method: name.to_string(),
        })
    }
}

fn check_segmentation(logits: &Tensor<4>, [n, h, w]: [usize; 3]) -> Result<()> {
    if logits.dims() != [n, 2, h, w] {
        return Err(Error::shape(
            "segmenter output",
            format!("[{n}, 2, {h}, {w}] (background, foreground logits)"),
            &logits.dims(),
        ));
    }
    glassbox_core::check::check_finite(logits, "segmenter output")
}

/// `Target` is ignored: the explained output is the query's (predicted) foreground.
impl<M: FewShotSegmenter + ?Sized> Explainer<M> for SupportAttributor {
    type Input = FewShotInput;
    type Output = SupportAttribution;

    fn explain(
        &self,
        model: &M,
        input: FewShotInput,
        _target: &Target,
    ) -> Result<SupportAttribution> {
        self.attribute(model, &input, None)
    }
}
