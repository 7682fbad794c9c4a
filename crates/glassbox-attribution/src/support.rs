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
    /// Blur Integrated Gradients (Xu et al., 2020) as the Affinity Explainer paper adapts it:
    /// the query and every support image are blurred together along the path (σ from
    /// `max_sigma` to 0; masks fixed), the explained score is the mean foreground
    /// **probability** over the query region, and the relevance is the absolute attribution
    /// summed over channels. The paper's settings: 25 steps, σ_max 50, `grad_step` 0.01.
    BlurIntegratedGradients {
        /// Path points.
        steps: usize,
        /// Strongest blur, in pixels.
        max_sigma: f64,
        /// Forward-difference step of `∂x/∂σ`.
        grad_step: f64,
    },
    /// Guided Integrated Gradients (Kapishnikov et al., 2021) as the Affinity Explainer paper
    /// adapts it: the features are the query's and all support images' pixels (masks fixed),
    /// the path starts at zero, the explained score is the mean foreground **probability** over
    /// the query region, and the relevance is the absolute attribution summed over channels. The
    /// paper's settings: 25 steps, fraction 0.5, max_dist 1.0.
    GuidedIntegratedGradients {
        /// Path steps.
        steps: usize,
        /// Fraction of the features moved per step.
        fraction: f64,
        /// Maximum deviation from the straight line (fraction of the path).
        max_dist: f64,
    },
    /// XRAI (Kapishnikov et al., 2019) per support image, as the Affinity Explainer paper adapts
    /// it: the base attribution is Integrated Gradients over the support images from zero
    /// (`np.linspace` path as in XRAI's reference, queries and masks fixed), and XRAI's
    /// region ranking runs on each support image with its own Felzenszwalb segments (the
    /// reference's six scales, resized to 224 × 224). The paper's setting: 25 steps.
    Xrai {
        /// Integrated-Gradients path points.
        steps: usize,
    },
    /// LIME over the support set as the Affinity Explainer paper adapts it: the interpretable
    /// features are the SLIC superpixels of every support image (the query stays on); a copy
    /// switches each superpixel off with probability ½, an "off" superpixel zeroing the image
    /// **and** the mask pixels under it; the explained score is the mean foreground **logit**
    /// over the query region; copies are weighted by `exp(−d² / w²)` with
    /// `d = image_weight · (1 − mean_k cos(x_k, x'_k)) + (1 − image_weight) · (fraction of mask
    /// pixels removed)`; a weighted Lasso of the scores on the on/off states gives each
    /// superpixel its coefficient. The paper's settings: 25 samples, 80 segments, compactness
    /// 10, `w` 1, `image_weight` 0.2, Lasso α 0.01. Where the paper drops a support left
    /// with an empty mask, every copy here keeps at least one foreground superpixel of each
    /// support on (one drawn at random when none is), so K stays fixed.
    Lime {
        /// Perturbed copies per episode.
        samples: usize,
        /// SLIC segments per support image.
        segments: usize,
        /// SLIC compactness.
        compactness: f64,
        /// Lasso penalty.
        alpha: f64,
        /// Weight of the image term in the distance (the mask term gets the rest).
        image_weight: f64,
        /// Width of the similarity kernel.
        kernel_width: f64,
        /// Seed of the on/off states.
        seed: u64,
        /// Copies per forward pass.
        batch_size: usize,
    },
    /// DeepLift (Rescale rule) as the Affinity Explainer paper adapts Captum's: the query, the
    /// support images and the masks are all inputs with a zero reference (mean colour, empty
    /// masks), the explained score is the foreground logit summed over the query region, and
    /// the relevance is `support ⊙ multiplier`, summed over channels. The model must build
    /// its nonlinearities from [`glassbox_core::rescale`] (glassbox's matching segmenter
    /// does); others are differentiated plainly.
    DeepLift {
        /// Input changes below this keep the plain derivative (Captum: 1e-10).
        eps: f32,
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
        if let SupportMethod::Lime {
            samples,
            segments,
            compactness,
            alpha,
            image_weight,
            kernel_width,
            seed,
            batch_size,
        } = self.method
        {
            let settings = SupportLime {
                samples,
                slic: crate::Slic::default()
                    .with_segments(segments)
                    .with_compactness(compactness),
                alpha,
                image_weight,
                kernel_width,
                seed,
                batch_size,
            };
            return support_lime(model, input, &region, &settings);
        }
        if let SupportMethod::BlurIntegratedGradients {
            steps,
            max_sigma,
            grad_step,
        } = self.method
        {
            let path = crate::BlurIntegratedGradients::default()
                .with_steps(steps)
                .with_max_sigma(max_sigma)
                .with_grad_step(grad_step);
            return support_blur_ig(model, input, &region, &path, self.path_batch);
        }
        if let SupportMethod::GuidedIntegratedGradients {
            steps,
            fraction,
            max_dist,
        } = self.method
        {
            let settings = crate::GuidedIntegratedGradients::default()
                .with_steps(steps)
                .with_fraction(fraction)
                .with_max_dist(max_dist);
            return support_guided_ig(model, input, &region, &settings);
        }
        if let SupportMethod::DeepLift { eps } = self.method {
            return support_deep_lift(model, input, &region, eps);
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
        // Integrated Gradients from the zero support, `[N, S, C, H, W]`.
        let integrated = |rule: crate::IntegrationRule, steps: usize| -> Result<Tensor<5>> {
            let (alphas, weights) = rule.steps(steps)?;
            let per_pass = self.path_batch.max(1);
            let mut total = Tensor::<5>::zeros([n, s, c, h, w], &device);
            for (a, wt) in alphas.chunks(per_pass).zip(weights.chunks(per_pass)) {
                let m = a.len();
                let a: Vec<f32> = a.iter().map(|v| *v as f32).collect();
                let wt: Vec<f32> = wt.iter().map(|v| *v as f32).collect();
                let wt =
                    Tensor::<1>::from_floats(wt.as_slice(), &device).reshape([m, 1, 1, 1, 1, 1]);
                let g = grad(&a)?.reshape([m, n, s, c, h, w]) * wt;
                total = total + g.sum_dim(0).reshape([n, s, c, h, w]);
            }
            Ok(support.clone() * total)
        };
        let (relevance, name) = match self.method {
            SupportMethod::Saliency => (grad(&[1.0])?.abs(), "support_saliency"),
            SupportMethod::InputXGradient => {
                (support.clone() * grad(&[1.0])?, "support_input_x_gradient")
            }
            SupportMethod::IntegratedGradients { steps } => (
                integrated(crate::IntegrationRule::GaussLegendre, steps)?,
                "support_integrated_gradients",
            ),
            SupportMethod::Xrai { steps } => {
                let base = integrated(crate::IntegrationRule::Linspace, steps)?;
                let xrai = crate::Xrai::default();
                let (saliency, _) = xrai.regions(
                    support.reshape([n * s, c, h, w]),
                    base.reshape([n * s, c, h, w]),
                )?;
                return Ok(SupportAttribution {
                    support: saliency.reshape([n, s, h, w]),
                    method: "support_xrai".into(),
                });
            }
            SupportMethod::Rise { .. }
            | SupportMethod::Lime { .. }
            | SupportMethod::BlurIntegratedGradients { .. }
            | SupportMethod::GuidedIntegratedGradients { .. }
            | SupportMethod::DeepLift { .. } => unreachable!("handled above"),
        };
        Ok(SupportAttribution {
            support: relevance.sum_dim(2).reshape([n, s, h, w]),
            method: name.to_string(),
        })
    }
}

/// DeepLift over the support set (see [`SupportMethod::DeepLift`]): one reference pass on the
/// all-zero episode, one differentiated pass on the episode.
fn support_deep_lift<M: FewShotSegmenter + ?Sized>(
    model: &M,
    input: &FewShotInput,
    region: &Tensor<3>,
    eps: f32,
) -> Result<SupportAttribution> {
    crate::deep_lift::check_eps(eps)?;
    let [n, k, c, h, w] = input.support_images.dims();
    let query = input.query.clone().inner();
    let supports = input.support_images.clone().inner();
    let masks = input.support_masks.clone().inner();
    let region = region.clone().inner();
    let (_, reference) = glassbox_core::rescale::record(|| {
        model.segment(
            query.zeros_like(),
            supports.zeros_like(),
            masks.zeros_like(),
        )
    })?;
    let multipliers = glassbox_core::rescale::rescale(reference, eps, || -> Result<Tensor<5>> {
        let x = supports.clone().autodiff().require_grad();
        let logits = model.segment(query.clone(), x.clone(), masks.clone());
        glassbox_core::model::check_segmentation(&logits.clone().inner(), [n, h, w])?;
        let fg = logits.slice(s![.., 1..2]).reshape([n, h, w]);
        let grads = (fg * region.clone()).sum().backward();
        Ok(x.grad(&grads)
            .unwrap_or_else(|| Tensor::zeros([n, k, c, h, w], &supports.device())))
    })??;
    Ok(SupportAttribution {
        support: (supports * multipliers).sum_dim(2).reshape([n, k, h, w]),
        method: "support_deep_lift".into(),
    })
}

/// Blur IG over the support set (see [`SupportMethod::BlurIntegratedGradients`]).
fn support_blur_ig<M: FewShotSegmenter + ?Sized>(
    model: &M,
    input: &FewShotInput,
    region: &Tensor<3>,
    path: &crate::BlurIntegratedGradients,
    path_batch: usize,
) -> Result<SupportAttribution> {
    path.check()?;
    let [n, k, c, h, w] = input.support_images.dims();
    let cq = input.query.dims()[1];
    let device = input.query.device();
    let sigmas = path.sigmas();
    let region = region.clone().inner();
    let area = region
        .clone()
        .sum_dims(&[1, 2])
        .clamp_min(1.0)
        .reshape([n, 1]);
    let query = input.query.clone().inner();
    let supports = input
        .support_images
        .clone()
        .inner()
        .reshape([n * k, c, h, w]);
    let masks = input.support_masks.clone().inner();
    let blur = crate::blur_ig::gaussian_blur;
    let mut total = Tensor::<5>::zeros([n, k, c, h, w], &device);
    let steps: Vec<usize> = (0..path.steps).collect();
    for chunk in steps.chunks(path_batch.max(1)) {
        let m = chunk.len();
        let mut queries = Vec::with_capacity(m);
        let mut points = Vec::with_capacity(m);
        let mut slopes = Vec::with_capacity(m);
        for &i in chunk {
            let at = blur(supports.clone(), sigmas[i]);
            let ahead = blur(supports.clone(), sigmas[i] + path.grad_step);
            let width = (sigmas[i + 1] - sigmas[i]) / path.grad_step;
            slopes.push((ahead - at.clone()) * width);
            points.push(at);
            queries.push(blur(query.clone(), sigmas[i]));
        }
        let x = Tensor::cat(points, 0)
            .reshape([m * n, k, c, h, w])
            .autodiff()
            .require_grad();
        let q = Tensor::cat(queries, 0)
            .reshape([m * n, cq, h, w])
            .autodiff();
        let sm = masks
            .clone()
            .unsqueeze_dim::<5>(0)
            .repeat_dim(0, m)
            .reshape([m * n, k, h, w])
            .autodiff();
        let logits = model.segment(q, x.clone(), sm);
        glassbox_core::model::check_segmentation(&logits.clone().inner(), [m * n, h, w])?;
        let fg = burn::tensor::activation::softmax(logits, 1)
            .slice(s![.., 1..2])
            .reshape([m, n, h * w]);
        let r = region.clone().reshape([1, n, h * w]).autodiff();
        let score = (fg * r).sum_dim(2).reshape([m, n]) / area.clone().reshape([1, n]).autodiff();
        let grads = score.sum().backward();
        let g = x
            .grad(&grads)
            .unwrap_or_else(|| Tensor::zeros([m * n, k, c, h, w], &device))
            .reshape([m, n, k, c, h, w]);
        let slope = Tensor::cat(slopes, 0).reshape([m, n, k, c, h, w]);
        total = total + (g * slope).sum_dim(0).reshape([n, k, c, h, w]);
    }
    Ok(SupportAttribution {
        // −Σ, then |·| as the paper's post-processing; channels summed like the other methods.
        support: total.neg().abs().sum_dim(2).reshape([n, k, h, w]),
        method: "support_blur_integrated_gradients".into(),
    })
}

/// Guided IG over the support set (see [`SupportMethod::GuidedIntegratedGradients`]).
fn support_guided_ig<M: FewShotSegmenter + ?Sized>(
    model: &M,
    input: &FewShotInput,
    region: &Tensor<3>,
    settings: &crate::GuidedIntegratedGradients,
) -> Result<SupportAttribution> {
    settings.check()?;
    let [n, k, c, h, w] = input.support_images.dims();
    let cq = input.query.dims()[1];
    let (dq, ds) = (cq * h * w, k * c * h * w);
    let device = input.query.device();
    let region = region.clone().inner();
    let area = region
        .clone()
        .sum_dims(&[1, 2])
        .clamp_min(1.0)
        .reshape([1, n]);
    let masks = input.support_masks.clone().inner();
    // One feature vector per episode: the query's pixels, then every support image's.
    let query = glassbox_core::HostTensor::from_tensor(&input.query).values;
    let supports = glassbox_core::HostTensor::from_tensor(&input.support_images).values;
    let features: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            query[i * dq..(i + 1) * dq]
                .iter()
                .chain(&supports[i * ds..(i + 1) * ds])
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    let zeros: Vec<Vec<f64>> = features.iter().map(|f| vec![0.0; f.len()]).collect();
    let attr = crate::guided_ig::guided_path(&features, &zeros, settings, |points| {
        let part = |range: std::ops::Range<usize>| -> Vec<f32> {
            points
                .iter()
                .flat_map(|p| p[range.clone()].iter().map(|&v| v as f32))
                .collect()
        };
        let q = Tensor::<4>::from_data(TensorData::new(part(0..dq), [n, cq, h, w]), &device)
            .autodiff()
            .require_grad();
        let x =
            Tensor::<5>::from_data(TensorData::new(part(dq..dq + ds), [n, k, c, h, w]), &device)
                .autodiff()
                .require_grad();
        let logits = model.segment(q.clone(), x.clone(), masks.clone());
        glassbox_core::model::check_segmentation(&logits.clone().inner(), [n, h, w])?;
        let fg = burn::tensor::activation::softmax(logits, 1)
            .slice(s![.., 1..2])
            .reshape([n, h * w]);
        let score = (fg * region.clone().reshape([n, h * w]))
            .sum_dim(1)
            .reshape([1, n])
            / area.clone();
        let grads = score.sum().backward();
        let gq = q
            .grad(&grads)
            .unwrap_or_else(|| Tensor::zeros([n, cq, h, w], &device));
        let gx = x
            .grad(&grads)
            .unwrap_or_else(|| Tensor::zeros([n, k, c, h, w], &device));
        let (gq, gx) = (
            glassbox_core::HostTensor::from_tensor(&gq).values,
            glassbox_core::HostTensor::from_tensor(&gx).values,
        );
        Ok((0..n)
            .map(|i| {
                gq[i * dq..(i + 1) * dq]
                    .iter()
                    .chain(&gx[i * ds..(i + 1) * ds])
                    .map(|&v| v as f64)
                    .collect()
            })
            .collect())
    })?;
    // The supports' part, |·| as the paper's post-processing, channels summed.
    let support: Vec<f32> = attr
        .iter()
        .flat_map(|a| a[dq..].iter().map(|&v| v.abs() as f32))
        .collect();
    Ok(SupportAttribution {
        support: Tensor::<1>::from_floats(support.as_slice(), &device)
            .reshape([n, k, c, h, w])
            .sum_dim(2)
            .reshape([n, k, h, w]),
        method: "support_guided_integrated_gradients".into(),
    })
}

/// The settings of [`SupportMethod::Lime`].
struct SupportLime {
    samples: usize,
    slic: crate::Slic,
    alpha: f64,
    image_weight: f64,
    kernel_width: f64,
    seed: u64,
    batch_size: usize,
}

/// LIME over the support set (see [`SupportMethod::Lime`]).
fn support_lime<M: FewShotSegmenter + ?Sized>(
    model: &M,
    input: &FewShotInput,
    region: &Tensor<3>,
    settings: &SupportLime,
) -> Result<SupportAttribution> {
    let SupportLime {
        samples,
        slic,
        alpha,
        image_weight,
        kernel_width,
        seed,
        batch_size,
    } = *settings;
    if samples == 0
        || batch_size == 0
        || !(0.0..=1.0).contains(&image_weight)
        || !(kernel_width.is_finite() && kernel_width > 0.0)
    {
        return Err(Error::config(format!(
            "support LIME needs samples, batch_size >= 1, image_weight in [0, 1] and \
             kernel_width > 0, got {samples}, {batch_size}, {image_weight}, {kernel_width}"
        )));
    }
    let [n, k, c, h, w] = input.support_images.dims();
    let device = input.query.device();
    let hw = h * w;
    let images = glassbox_core::HostTensor::from_tensor(&input.support_images).values;
    let masks = glassbox_core::HostTensor::from_tensor(&input.support_masks).values;
    let mut maps = Vec::with_capacity(n * k * hw);
    for i in 0..n {
        // Superpixels of every shot, numbered jointly: shot j's labels are offset by the
        // counts of shots before it.
        let mut labels = Vec::with_capacity(k * hw);
        let mut foreground: Vec<Vec<usize>> = Vec::with_capacity(k);
        let mut features = 0;
        for j in 0..k {
            let at = (i * k + j) * c * hw;
            let image: Vec<f64> = images[at..at + c * hw].iter().map(|v| *v as f64).collect();
            let seg = slic.segment(&image, [c, h, w])?;
            let mask = &masks[(i * k + j) * hw..(i * k + j + 1) * hw];
            let mut fg: Vec<usize> = (0..hw)
                .filter(|&p| mask[p] > 0.5)
                .map(|p| features + seg.labels[p])
                .collect();
            fg.sort_unstable();
            fg.dedup();
            if fg.is_empty() {
                return Err(Error::Empty(format!(
                    "support mask of shot {j} in episode {i} (LIME needs a foreground superpixel)"
                )));
            }
            labels.extend(seg.labels.iter().map(|l| features + l));
            foreground.push(fg);
            features += seg.count;
        }
        let mut rng = glassbox_core::rng::SplitMix64::derive(seed, i as u64);
        let mut states = crate::lime::draw_states(&mut rng, samples, features, 0.5);
        for state in &mut states {
            for fg in &foreground {
                if !fg.iter().any(|&f| state[f]) {
                    state[fg[rng.below(fg.len())]] = true;
                }
            }
        }
        let multipliers: Vec<f32> = states
            .iter()
            .flat_map(|state| labels.iter().map(|&l| if state[l] { 1.0 } else { 0.0 }))
            .collect();
        let scores = score_multiplied_supports(
            model,
            input,
            i,
            region,
            &multipliers,
            [samples, batch_size],
            Readout::Logit,
        )?;
        // Copy weights: image cosine (zeroed pixels, all channels) and removed mask share.
        let mask_total: f64 = masks[i * k * hw..(i + 1) * k * hw]
            .iter()
            .map(|v| *v as f64)
            .sum();
        let weights: Vec<f64> = states
            .iter()
            .map(|state| {
                let mut cos = 0.0;
                let mut removed = 0.0f64;
                for j in 0..k {
                    let at = (i * k + j) * c * hw;
                    let x = &images[at..at + c * hw];
                    let kept: Vec<f32> = (0..c * hw)
                        .map(|q| {
                            if state[labels[j * hw + q % hw]] {
                                x[q]
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    cos += crate::lime::cosine(x, &kept);
                    let mask = &masks[(i * k + j) * hw..(i * k + j + 1) * hw];
                    removed += (0..hw)
                        .filter(|&p| !state[labels[j * hw + p]])
                        .map(|p| mask[p] as f64)
                        .sum::<f64>();
                }
                let d = image_weight * (1.0 - cos / k as f64)
                    + (1.0 - image_weight) * removed / mask_total.max(1e-12);
                (-d * d / (kernel_width * kernel_width)).exp()
            })
            .collect();
        let y: Vec<f64> = scores.iter().map(|v| *v as f64).collect();
        let fit = crate::lime::fit_states(&states, &y, &weights, alpha)?;
        maps.extend(labels.iter().map(|&l| fit.coef[l] as f32));
    }
    Ok(SupportAttribution {
        support: Tensor::<1>::from_floats(maps.as_slice(), &device).reshape([n, k, h, w]),
        method: "support_lime".into(),
    })
}

/// What a perturbed episode is scored by, over the query region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readout {
    /// Mean foreground probability.
    Probability,
    /// Mean foreground logit.
    Logit,
}

/// Score episode `i` of `input` with its support images **and** masks multiplied by each of
/// `copies` multipliers (`multipliers`: `copies × K × H × W`, copy-major), `batch_size`
/// copies per forward pass: the readout's mean over the episode's query region (`region`:
/// `[N, H, W]`), one score per copy.
fn score_multiplied_supports<M: FewShotSegmenter + ?Sized>(
    model: &M,
    input: &FewShotInput,
    i: usize,
    region: &Tensor<3>,
    multipliers: &[f32],
    [copies, batch_size]: [usize; 2],
    readout: Readout,
) -> Result<Vec<f32>> {
    let [_, k, _, h, w] = input.support_images.dims();
    let r = region.clone().slice(s![i..i + 1]).reshape([1, h * w]);
    let area = r.clone().sum().into_scalar::<f32>().max(1.0);
    let device = input.query.device();
    let khw = k * h * w;
    let mut scores = Vec::with_capacity(copies);
    for start in (0..copies).step_by(batch_size.max(1)) {
        let m = batch_size.max(1).min(copies - start);
        let masks = Tensor::<1>::from_floats(&multipliers[start * khw..(start + m) * khw], &device)
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
        let fg = match readout {
            Readout::Probability => burn::tensor::activation::softmax(logits, 1),
            Readout::Logit => logits,
        }
        .slice(s![.., 1..2])
        .reshape([m, h * w]);
        scores.extend(
            glassbox_core::HostTensor::from_tensor(&((fg * r.clone()).sum_dim(1) / area)).values,
        );
    }
    Ok(scores)
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
        let scores = score_multiplied_supports(
            model,
            input,
            i,
            region,
            &all,
            [count, batch_size],
            Readout::Probability,
        )?;
        let mut acc = vec![0.0f32; k * hw];
        for (j, score) in scores.iter().enumerate() {
            let mask = &all[j * k * hw..(j + 1) * k * hw];
            for (a, mv) in acc.iter_mut().zip(mask) {
                *a += score * mv;
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
