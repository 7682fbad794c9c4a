//! Attributions over the support images of a few-shot segmenter: which support pixels made the
//! model segment a query region. The explained score is the sum of the foreground logit over
//! the query region (given, or the model's own predicted foreground), as in the gradient
//! baselines the Affinity Explainer paper adapts to matching-based segmentation.

use burn::prelude::*;
use glassbox_core::{
    Error, Explainer, FewShotInput, FewShotSegmenter, Result, SupportAttribution, Target,
};

/// How support relevance is computed from gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// RISE over the support set: random smooth masks multiply each support image (towards the
    /// zero substrate) **and** its annotation mask; relevance is the mask average weighted by
    /// the mean foreground probability over the query region. No gradients.
    Rise {
        /// Random masks per episode.
        masks: usize,
        /// Grid cells per side before upsampling.
        cells: usize,
        /// Probability of keeping a cell.
        p: f32,
        /// Seed of the masks.
        seed: u64,
        /// Masked episodes per forward pass.
        batch_size: usize,
    },
}

/// Support-image attribution for any [`FewShotSegmenter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupportAttributor {
    /// The gradient method.
    pub method: SupportMethod,
    /// Integrated-Gradients path points per forward/backward pass (the episode batch is
    /// replicated this many times; lower it to save memory).
    pub path_batch: usize,
}

impl SupportAttributor {
    /// An attributor using `method`, 16 path points per pass.
    pub fn new(method: SupportMethod) -> Self {
        Self {
            method,
            path_batch: 16,
        }
    }

    /// Builder: path points per pass.
    pub fn with_path_batch(mut self, path_batch: usize) -> Self {
        self.path_batch = path_batch;
        self
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
        let region = glassbox_core::model::query_region(model, input, region)?;
        if let SupportMethod::Rise {
            masks,
            cells,
            p,
            seed,
            batch_size,
        } = self.method
        {
            return support_rise(model, input, &region, [masks, cells, batch_size], p, seed);
        }
        let region = region.inner();
        let support = input.support_images.clone().inner();
        let device = support.device();
        // Gradients at `alphas[i] · support` for every i in one forward/backward pass:
        // `[m·N, S, C, H, W]`, path point major.
        let grad = |alphas: &[f32]| -> Result<Tensor<5>> {
            let m = alphas.len();
            let scale = Tensor::<1>::from_floats(alphas, &device).reshape([m, 1, 1, 1, 1, 1]);
            let x = (support.clone().unsqueeze_dim::<6>(0).repeat_dim(0, m) * scale)
                .reshape([m * n, s, c, h, w])
                .autodiff()
                .require_grad();
            let rep4 = |t: Tensor<4>| {
                let [a, b, d, e] = t.dims();
                t.unsqueeze_dim::<5>(0)
                    .repeat_dim(0, m)
                    .reshape([m * a, b, d, e])
            };
            let logits = model.segment(
                rep4(input.query.clone().inner()),
                x.clone(),
                rep4(input.support_masks.clone().inner()),
            );
            glassbox_core::model::check_segmentation(&logits.clone().inner(), [m * n, h, w])?;
            let fg = logits.slice(s![.., 1..2]).reshape([m * n, h, w]);
            let r = region
                .clone()
                .unsqueeze_dim::<4>(0)
                .repeat_dim(0, m)
                .reshape([m * n, h, w]);
            let grads = (fg * r).sum().backward();
            Ok(x.grad(&grads)
                .unwrap_or_else(|| Tensor::zeros([m * n, s, c, h, w], &device)))
        };
        let (relevance, name) = match self.method {
            SupportMethod::Saliency => (grad(&[1.0])?.abs(), "support_saliency"),
            SupportMethod::InputXGradient => {
                (support.clone() * grad(&[1.0])?, "support_input_x_gradient")
            }
            SupportMethod::IntegratedGradients { steps } => {
                let (alphas, weights) = crate::IntegrationRule::GaussLegendre.steps(steps)?;
                let per_pass = self.path_batch.max(1);
                let mut total = Tensor::<5>::zeros([n, s, c, h, w], &device);
                for (a, wt) in alphas.chunks(per_pass).zip(weights.chunks(per_pass)) {
                    let m = a.len();
                    let a: Vec<f32> = a.iter().map(|v| *v as f32).collect();
                    let wt: Vec<f32> = wt.iter().map(|v| *v as f32).collect();
                    let wt = Tensor::<1>::from_floats(wt.as_slice(), &device)
                        .reshape([m, 1, 1, 1, 1, 1]);
                    let g = grad(&a)?.reshape([m, n, s, c, h, w]) * wt;
                    total = total + g.sum_dim(0).reshape([n, s, c, h, w]);
                }
                (support * total, "support_integrated_gradients")
            }
            SupportMethod::Rise { .. } => unreachable!("handled above"),
        };
        Ok(SupportAttribution {
            support: relevance.sum_dim(2).reshape([n, s, h, w]),
            method: name.to_string(),
        })
    }
}

/// RISE over the support set (see [`SupportMethod::Rise`]).
fn support_rise<M: FewShotSegmenter + ?Sized>(
    model: &M,
    input: &FewShotInput,
    region: &Tensor<3>,
    [count, cells, batch_size]: [usize; 3],
    p: f32,
    seed: u64,
) -> Result<SupportAttribution> {
    if count == 0 || cells == 0 || batch_size == 0 || !(p > 0.0 && p <= 1.0) {
        return Err(Error::config(format!(
            "support RISE needs masks, cells, batch_size >= 1 and p in (0, 1], got {count}, {cells}, {batch_size}, {p}"
        )));
    }
    let [n, k, _, h, w] = input.support_images.dims();
    let device = input.query.device();
    let hw = h * w;
    let mut maps = Vec::with_capacity(n * k * hw);
    for i in 0..n {
        let mut rng = glassbox_core::rng::SplitMix64::derive(seed, i as u64);
        let all = crate::rise::rise_masks(count * k, cells, p, h, w, &mut rng); // [count·K, H, W]
        let r = region.clone().slice(s![i..i + 1]).reshape([1, h * w]);
        let area = r.clone().sum().into_scalar::<f32>().max(1.0);
        let mut acc = vec![0.0f32; k * hw];
        for start in (0..count).step_by(batch_size) {
            let m = batch_size.min(count - start);
            let masks =
                Tensor::<1>::from_floats(&all[start * k * hw..(start + m) * k * hw], &device)
                    .reshape([m, k, h, w]);
            let support = input
                .support_images
                .clone()
                .slice(s![i..i + 1])
                .repeat_dim(0, m)
                * masks.clone().reshape([m, k, 1, h, w]);
            let smasks = input
                .support_masks
                .clone()
                .slice(s![i..i + 1])
                .repeat_dim(0, m)
                * masks;
            let query = input.query.clone().slice(s![i..i + 1]).repeat_dim(0, m);
            let logits = model.segment(query, support, smasks);
            glassbox_core::model::check_segmentation(&logits, [m, h, w])?;
            let fg = burn::tensor::activation::softmax(logits, 1)
                .slice(s![.., 1..2])
                .reshape([m, h * w]);
            let scores =
                glassbox_core::HostTensor::from_tensor(&((fg * r.clone()).sum_dim(1) / area))
                    .values;
            for (j, score) in scores.iter().enumerate() {
                let mask = &all[(start + j) * k * hw..(start + j + 1) * k * hw];
                for (a, mv) in acc.iter_mut().zip(mask) {
                    *a += score * mv;
                }
            }
        }
        maps.extend(acc.into_iter().map(|v| v / (count as f32 * p)));
    }
    Ok(SupportAttribution {
        support: Tensor::<1>::from_floats(maps.as_slice(), &device).reshape([n, k, h, w]),
        method: "support_rise".into(),
    })
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
