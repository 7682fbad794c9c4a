//! `MatchingSegmenter`: a DCAMA-style matching-based few-shot segmenter on any glassbox
//! backbone.
//!
//! Query and support images go through the same backbone. At each matching level `l` the
//! query tokens attend to the support tokens of all `K` shots with multi-head scaled dot
//! products `S_h = Q_h K_hᵀ / √d` (`Q = W_q f_q`, `K = W_k f_s`); the attention weights
//! `softmax_j(S_h)` transfer the support mask (area-averaged to the level's grid) to every
//! query token, averaged over heads: a per-level *coarse mask* `ĉ_l`, exactly DCAMA's
//! "attention-weighted mask aggregation". A light decoder mixes the coarse masks with query
//! features (the finest matching level at its matching grid, then the `refine_level` features)
//! into logits, bilinearly upsampled to `[N, 2, H, W]`. The decoder is kept light because the
//! Affinity Explainer's feature ablation re-runs it once per matching layer.
//!
//! Deliberate differences from DCAMA (Shi et al., ECCV 2022): one matching layer per backbone
//! *level* rather than per block, no sinusoidal positional encoding (our scenes place objects
//! anywhere, so absolute position carries no matching signal), and the backbone is trained
//! with the matcher unless frozen.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::module::adaptive_avg_pool2d;
use glassbox_backbones::{
    ConvBnRelu, ConvBnReluConfig, ImageClassifier, ModelConfig, MultiLevelBackbone, SmallCnnConfig,
};
use glassbox_core::{Error, FewShotInput, FewShotSegmenter, HostTensor, Result};
use serde::{Deserialize, Serialize};

use crate::matching::{AffinityLayer, MatchingModel, MatchingOutput};
use crate::upsample::{resize_adjoint_host, resize_bilinear, resize_rows, resize_taps};

/// Configuration of a [`MatchingSegmenter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchingSegmenterConfig {
    /// The backbone (its classifier head, 10 classes, is only used by optional
    /// classification pre-training).
    pub backbone: ModelConfig,
    /// Indices of the backbone levels to match at (see `MultiLevelBackbone::feature_levels`).
    pub match_levels: Vec<usize>,
    /// Attention heads per matching level (must divide the level's channels).
    pub heads: usize,
    /// Channels of the decoder.
    pub decoder_width: usize,
    /// Backbone level whose query features refine the decoder output (at most the first
    /// matching level); logits are computed at its resolution, then upsampled.
    pub refine_level: usize,
    /// Largest matching grid side: a level with a finer grid is area-averaged to
    /// `match_grid × match_grid` before matching (attention cost grows with the 4th power of
    /// the side). `None` matches at the native resolution.
    pub match_grid: Option<usize>,
}

impl Default for MatchingSegmenterConfig {
    fn default() -> Self {
        Self {
            backbone: ModelConfig::SmallCnn(
                SmallCnnConfig::new()
                    .with_num_classes(10)
                    .with_widths([16, 32, 64]),
            ),
            match_levels: vec![1, 2],
            heads: 4,
            decoder_width: 32,
            refine_level: 1,
            match_grid: Some(16),
        }
    }
}

impl MatchingSegmenterConfig {
    /// The default: SmallCnn (widths 16/32/64) matched at its stride-2 and stride-4 levels.
    pub fn small_cnn() -> Self {
        Self::default()
    }

    /// A grey-input ResNet-18 (no in-model resize) matched at stages 1–3 (strides 4, 8, 16).
    pub fn resnet18() -> Self {
        use glassbox_backbones::{ResNetConfig, ResNetDepth};
        Self {
            backbone: ModelConfig::ResNet {
                resnet: ResNetConfig::new(ResNetDepth::ResNet18)
                    .with_num_classes(Some(10))
                    .with_in_channels(1),
                input_size: None,
            },
            match_levels: vec![0, 1, 2],
            refine_level: 0,
            ..Self::default()
        }
    }

    /// Check the config against the backbone's levels.
    pub fn validate(&self) -> Result<()> {
        self.backbone.validate()?;
        if self.match_levels.is_empty() {
            return Err(Error::config("match_levels must name at least one level"));
        }
        if self.heads == 0 || self.decoder_width == 0 || self.match_grid == Some(0) {
            return Err(Error::config("heads and decoder_width must be >= 1"));
        }
        if self.refine_level > self.match_levels[0] {
            return Err(Error::config(format!(
                "refine_level ({}) must not be deeper than the first matching level ({})",
                self.refine_level, self.match_levels[0]
            )));
        }
        if self.match_levels.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::config(format!(
                "match_levels must be strictly increasing, got {:?}",
                self.match_levels
            )));
        }
        Ok(())
    }

    /// Build on `device` after validating.
    pub fn try_init(&self, device: &Device) -> Result<MatchingSegmenter> {
        self.validate()?;
        let backbone = self.backbone.try_init(device)?;
        let levels = backbone.feature_levels();
        let mut queries = Vec::new();
        let mut keys = Vec::new();
        for &l in &self.match_levels {
            let level = levels.get(l).ok_or_else(|| Error::OutOfRange {
                what: "match level".into(),
                index: l,
                bound: levels.len(),
            })?;
            if level.channels % self.heads != 0 {
                return Err(Error::config(format!(
                    "{} heads do not divide the {} channels of level {l} ({})",
                    self.heads, level.channels, level.name
                )));
            }
            queries.push(LinearConfig::new(level.channels, level.channels).init(device));
            keys.push(LinearConfig::new(level.channels, level.channels).init(device));
        }
        let d = self.decoder_width;
        let finest = &levels[self.match_levels[0]];
        let first = &levels[self.refine_level];
        Ok(MatchingSegmenter {
            backbone,
            queries,
            keys,
            query_proj: Conv2dConfig::new([finest.channels, d], [1, 1]).init(device),
            mix: vec![
                ConvBnReluConfig::new(self.match_levels.len() + d, d).init(device),
                ConvBnReluConfig::new(d, d).init(device),
            ],
            refine: ConvBnReluConfig::new(d + first.channels, d).init(device),
            classify: Conv2dConfig::new([d, 2], [1, 1]).init(device),
            match_levels: self.match_levels.clone(),
            match_grid: self.match_grid,
            refine_level: self.refine_level,
            level_names: self
                .match_levels
                .iter()
                .map(|&l| levels[l].name.clone())
                .collect(),
            heads: self.heads,
        })
    }

    /// Build on `device`; panics on an invalid config (see [`Self::try_init`]).
    pub fn init(&self, device: &Device) -> MatchingSegmenter {
        self.try_init(device)
            .expect("invalid MatchingSegmenterConfig")
    }
}

/// The segmenter; see the module docs.
#[derive(Module, Debug)]
pub struct MatchingSegmenter {
    /// The shared query/support backbone.
    pub backbone: ImageClassifier,
    queries: Vec<Linear>,
    keys: Vec<Linear>,
    query_proj: Conv2d,
    mix: Vec<ConvBnRelu>,
    refine: ConvBnRelu,
    classify: Conv2d,
    match_levels: Vec<usize>,
    match_grid: Option<usize>,
    refine_level: usize,
    level_names: Vec<String>,
    heads: usize,
}

/// What [`MatchingSegmenter`] keeps from a forward pass to re-run its decoder.
#[derive(Debug, Clone)]
pub struct DecoderState {
    /// Per-level coarse masks `[N, 1, h_l, w_l]`.
    pub coarse: Vec<Tensor<4>>,
    /// Query features of the finest matching level (at its matching grid) and of the refine
    /// level.
    pub skips: [Tensor<4>; 2],
    /// The decoder terms that depend on the query alone ([`MatchingSegmenter::query_terms`]
    /// of `skips`), kept so that re-running the decoder costs only the coarse-mask part.
    pub query_terms: [Tensor<4>; 2],
    /// The logits of the forward pass.
    pub logits: Tensor<4>,
    /// Output size `[H, W]`.
    pub out_hw: [usize; 2],
}

impl MatchingSegmenter {
    /// Number of matching layers.
    pub fn num_layers(&self) -> usize {
        self.match_levels.len()
    }

    /// Validate an input and check the image channels match the backbone.
    pub fn check_input(&self, input: &FewShotInput) -> Result<()> {
        input.validate()?;
        self.backbone.check_input(&input.query)
    }

    /// The full forward pass: logits, affinities and the decoder state.
    pub fn forward_all(&self, input: &FewShotInput) -> (MatchingOutput, DecoderState) {
        self.run(input, true)
    }

    /// The backbone on queries and supports, then [`Self::run_from_levels`].
    fn run(&self, input: &FewShotInput, affinities: bool) -> (MatchingOutput, DecoderState) {
        let [n, k, c, h, w] = input.support_images.dims();
        let q_levels = self.backbone.forward_levels(input.query.clone());
        let s_levels = self
            .backbone
            .forward_levels(input.support_images.clone().reshape([n * k, c, h, w]));
        self.run_from_levels(input, q_levels, s_levels, affinities)
    }

    /// The forward pass after the backbone: `q_levels` / `s_levels` are the backbone levels of
    /// the queries `[N, …]` and of the supports `[N·K, …]` (shot-major within an episode).
    pub fn forward_from_levels(
        &self,
        input: &FewShotInput,
        q_levels: Vec<Tensor<4>>,
        s_levels: Vec<Tensor<4>>,
    ) -> (MatchingOutput, DecoderState) {
        self.run_from_levels(input, q_levels, s_levels, true)
    }

    /// [`Self::forward_from_levels`]; with `affinities` false `layers` is empty (the plain
    /// segmentation keeps no explanation inputs alive).
    fn run_from_levels(
        &self,
        input: &FewShotInput,
        q_levels: Vec<Tensor<4>>,
        s_levels: Vec<Tensor<4>>,
        affinities: bool,
    ) -> (MatchingOutput, DecoderState) {
        let [n, k, _, h, w] = input.support_images.dims();
        let masks = input.support_masks.clone().reshape([n * k, 1, h, w]);
        let mut coarse = Vec::new();
        let mut layers = Vec::new();
        let mut finest = None;
        for (i, &l) in self.match_levels.iter().enumerate() {
            let (fq, fs) = (q_levels[l].clone(), s_levels[l].clone());
            let [_, _, hn, wn] = fq.dims();
            let (fq, fs) = match self.match_grid {
                Some(g) if hn > g || wn > g => {
                    let grid = [hn.min(g), wn.min(g)];
                    (adaptive_avg_pool2d(fq, grid), adaptive_avg_pool2d(fs, grid))
                }
                _ => (fq, fs),
            };
            if finest.is_none() {
                finest = Some(fq.clone());
            }
            let [_, ch, hl, wl] = fq.dims();
            let p = hl * wl;
            let d = ch / self.heads;
            let tq = fq.reshape([n, ch, p]).swap_dims(1, 2);
            let ts = fs
                .reshape([n, k, ch, p])
                .swap_dims(2, 3)
                .reshape([n, k * p, ch]);
            let qh = self.queries[i]
                .forward(tq)
                .reshape([n, p, self.heads, d])
                .swap_dims(1, 2);
            let kh = self.keys[i]
                .forward(ts)
                .reshape([n, k * p, self.heads, d])
                .swap_dims(1, 2);
            let scores = qh.matmul(kh.swap_dims(2, 3)) / (d as f32).sqrt();
            let m = adaptive_avg_pool2d(masks.clone(), [hl, wl])
                .reshape([n, 1, k * p, 1])
                .repeat_dim(1, self.heads);
            let transferred = softmax(scores.clone(), 3).matmul(m);
            coarse.push(transferred.mean_dim(1).reshape([n, 1, hl, wl]));
            if affinities {
                // The forward pass's own tensor: keeping it copies nothing.
                layers.push(AffinityLayer {
                    name: self.level_names[i].clone(),
                    scores,
                    query_hw: [hl, wl],
                    support_hw: [hl, wl],
                });
            }
        }
        let skips = [
            finest.expect("at least one matching level"),
            q_levels[self.refine_level].clone(),
        ];
        let query_terms = self.query_terms(&skips);
        let logits = self.decode_with_terms(&coarse, &query_terms, [h, w]);
        let state = DecoderState {
            coarse,
            skips,
            query_terms,
            out_hw: [h, w],
            logits: logits.clone(),
        };
        (MatchingOutput { logits, layers }, state)
    }

    /// The decoder alone: coarse masks and query skips to logits `[N, 2, H, W]`.
    pub fn decode(
        &self,
        coarse: &[Tensor<4>],
        skips: &[Tensor<4>; 2],
        out_hw: [usize; 2],
    ) -> Tensor<4> {
        self.decode_with_terms(coarse, &self.query_terms(skips), out_hw)
    }

    /// The decoder's terms that depend on the query features alone: the contributions of
    /// the projected finest-level features to the first mix convolution and of the refine
    /// level's features to the refine convolution (pre-normalisation, see
    /// [`ConvBnRelu::conv_channels`]). Both convolutions read a channel concatenation, so
    /// these parts are computed once per forward pass and reused by every ablated decoder run.
    pub fn query_terms(&self, skips: &[Tensor<4>; 2]) -> [Tensor<4>; 2] {
        let l = self.match_levels.len();
        let projected = self.query_proj.forward(skips[0].clone());
        let d = projected.dims()[1];
        let c = skips[1].dims()[1];
        [
            self.mix[0].conv_channels(projected, l..l + d),
            self.refine.conv_channels(skips[1].clone(), d..d + c),
        ]
    }

    /// The decoder from coarse masks and [`Self::query_terms`]. The coarse masks may hold
    /// `copies × N` items (copy-major) for terms of `N` queries: each copy reuses the terms.
    pub fn decode_with_terms(
        &self,
        coarse: &[Tensor<4>],
        terms: &[Tensor<4>; 2],
        out_hw: [usize; 2],
    ) -> Tensor<4> {
        resize(
            self.classify.forward(self.decode_features(coarse, terms)),
            out_hw,
        )
    }

    /// The decoder up to the classifier: refined features `[copies·N, d, h_r, w_r]` at the
    /// refine level's resolution.
    fn decode_features(&self, coarse: &[Tensor<4>], terms: &[Tensor<4>; 2]) -> Tensor<4> {
        let [_, _, h0, w0] = terms[1].dims();
        let x = self.mix_features(coarse, &terms[0]);
        let d = x.dims()[1];
        let refine = self.refine.conv_channels(resize(x, [h0, w0]), 0..d)
            + tile(&terms[1], coarse[0].dims()[0]);
        self.refine.activate(refine)
    }

    /// The decoder's mixing stage: coarse masks (`copies·N` items) and the query term of the
    /// first mix convolution to mixed features `[copies·N, d, h_f, w_f]` at the finest
    /// matching grid.
    fn mix_features(&self, coarse: &[Tensor<4>], term: &Tensor<4>) -> Tensor<4> {
        self.mix[1..]
            .iter()
            .fold(self.first_mix(coarse, term), |x, b| b.forward(x))
    }

    /// The first mix block: the coarse masks' part of its convolution plus the query term.
    fn first_mix(&self, coarse: &[Tensor<4>], term: &Tensor<4>) -> Tensor<4> {
        let mix0 = self.mix[0].conv_channels(self.coarse_at(coarse, term), 0..coarse.len())
            + tile(term, coarse[0].dims()[0]);
        self.mix[0].activate(mix0)
    }

    /// The first mix block once per matching layer with that layer's coarse mask zeroed
    /// (the feature ablation): `coarse` of `N` items in, `[L·N, d, h_f, w_f]` out,
    /// ablation-major. One convolution of the unrepeated masks
    /// ([`ConvBnRelu::conv_channels_without_each`]).
    fn first_mix_ablated(&self, coarse: &[Tensor<4>], term: &Tensor<4>) -> Tensor<4> {
        let l = coarse.len();
        let masks = self.coarse_at(coarse, term);
        let mix0 = self.mix[0].conv_channels_without_each(masks, 0..l)
            + tile(term, l * coarse[0].dims()[0]);
        self.mix[0].activate(mix0)
    }

    /// The coarse masks resized to the first mix block's grid (that of `term`), as channels
    /// `[items, L, h_f, w_f]`.
    fn coarse_at(&self, coarse: &[Tensor<4>], term: &Tensor<4>) -> Tensor<4> {
        let [_, _, hf, wf] = term.dims();
        Tensor::cat(
            coarse.iter().map(|c| resize(c.clone(), [hf, wf])).collect(),
            1,
        )
    }

    /// The mix blocks after the first on its output `first` (`[copies·N, d, h_f, w_f]`), at
    /// the grid pixels `needed` alone, channels last: `[copies·N, needed.len(), d]`. The last
    /// mix block is evaluated at those pixels only ([`ConvBnRelu::conv_channels_at`], batch
    /// norm in inference mode as its affine map).
    fn mix_features_at(&self, first: Tensor<4>, needed: &[usize]) -> Tensor<3> {
        let device = first.device();
        let Some((last, middle)) = self.mix[1..].split_last() else {
            let [batch, d, hf, wf] = first.dims();
            return first
                .reshape([batch, d, hf * wf])
                .swap_dims(1, 2)
                .select(1, pixel_index(needed, &device));
        };
        let x = middle.iter().fold(first, |x, b| b.forward(x));
        let c_in = x.dims()[1];
        let (scale, shift) = last.bn_scale_shift();
        let d = scale.dims()[0];
        relu(
            last.conv_channels_at(x, 0..c_in, needed) * scale.reshape([1, 1, d])
                + shift.reshape([1, 1, d]),
        )
    }

    /// The mean foreground logit over `region` of decoder runs from the first mix block's
    /// output `first` (`copies·N` items, copy-major), without producing the full-resolution
    /// logits. The classifier is a 1×1 convolution and the upsampling is linear, so
    /// `Σ_{p∈R} U(w·f + b)[p] = w·Σ_q ρ[q] f[q] + b·Σ_q ρ[q]` with the adjoint `ρ = Uᵀ 1_R` at
    /// the decoder's resolution — and only the pixels where some query's `ρ` is non-zero
    /// matter, so the refine convolution (the decoder's largest) is evaluated at those pixels
    /// alone ([`ConvBnRelu::conv_channels_at`]). `region` `[N, H, W]`; returns `[copies, N]`.
    fn mean_foreground(
        &self,
        first: Tensor<4>,
        terms: &[Tensor<4>; 2],
        region: &Tensor<3>,
    ) -> Tensor<2> {
        let [n, h, w] = region.dims();
        let [_, c_out, hr, wr] = terms[1].dims();
        let batch = first.dims()[0];
        let copies = batch / n;
        let device = region.device();
        let size = hr * wr;
        let rho = resize_adjoint_host(&HostTensor::from_tensor(region).values, [h, w], [hr, wr]);
        let pixels: Vec<usize> = (0..size)
            .filter(|&p| (0..n).any(|i| rho[i * size + p] != 0.0))
            .collect();
        if pixels.is_empty() {
            return Tensor::zeros([copies, n], &device);
        }
        let kept = pixels.len();
        // `Σ_q ρ[q] = |R|`: the bilinear weights of every output pixel sum to one. So the
        // area and the weights `ρ / |R|` at the kept pixels come from the host copy.
        let mut weights = Vec::with_capacity(n * kept);
        let mut mass = Vec::with_capacity(n);
        for i in 0..n {
            let row = &rho[i * size..(i + 1) * size];
            let total = row.iter().sum::<f32>();
            let area = total.max(1.0);
            weights.extend(pixels.iter().map(|&p| row[p] / area));
            mass.push(total / area);
        }
        let weights = Tensor::<1>::from_floats(weights.as_slice(), &device)
            .reshape([1, n, 1, kept])
            .expand([copies, n, 1, kept]);
        let index = pixel_index(&pixels, &device);
        // Channels last throughout, `[…, kept, c_out]`, as `conv_channels_at` returns it;
        // the batch norm (inference mode) is its per-channel affine map, folded into the
        // query term once.
        let (scale, shift) = self.refine.bn_scale_shift();
        let scale = scale.reshape([1, 1, c_out]);
        let term = terms[1]
            .clone()
            .reshape([n, c_out, size])
            .swap_dims(1, 2)
            .select(1, index)
            * scale.clone()
            + shift.reshape([1, 1, c_out]);
        // Each stage is computed only at the pixels the next one reads, and kept as rows
        // (channels last) at those pixels: the refine convolution at the kept pixels reads
        // `read`, whose resize reads the mix grid's `taps.sources`.
        let [_, _, hf, wf] = terms[0].dims();
        let read = self.refine.input_pixels([hr, wr], &pixels);
        let x = if [hf, wf] == [hr, wr] {
            self.mix_features_at(first, &read)
        } else {
            let taps = resize_taps([hf, wf], [hr, wr], &read);
            resize_rows(self.mix_features_at(first, &taps.sources), &taps)
        };
        let mut row_of = vec![None; hr * wr];
        for (row, &q) in read.iter().enumerate() {
            row_of[q] = Some(row);
        }
        let d = x.dims()[2];
        let conv = self
            .refine
            .conv_rows_at(x, &row_of, [hr, wr], 0..d, &pixels)
            * scale;
        let features = relu(conv.reshape([copies, n, kept, c_out]) + term.unsqueeze_dim::<4>(0));
        let pooled = weights.matmul(features); // [copies, n, 1, c_out]
        let classifier = self
            .classify
            .weight
            .val()
            .slice(s![1..2])
            .reshape([1, 1, c_out, 1])
            .expand([copies, n, c_out, 1]);
        let mut total = pooled.matmul(classifier).reshape([copies, n]);
        if let Some(bias) = &self.classify.bias {
            let mass = Tensor::<1>::from_floats(mass.as_slice(), &device).reshape([1, n]);
            total = total + mass * bias.val().slice(s![1..2]).reshape([1, 1]);
        }
        total
    }
}

/// Flat pixel indices as an index tensor for `select` / `select_assign`.
fn pixel_index(pixels: &[usize], device: &Device) -> Tensor<1, Int> {
    let index: Vec<i64> = pixels.iter().map(|&p| p as i64).collect();
    Tensor::<1, Int>::from_ints(index.as_slice(), device)
}

/// `t` `[N, …]` repeated copy-major to `batch = copies · N` items (a decoder term shared by
/// every ablated copy).
fn tile(t: &Tensor<4>, batch: usize) -> Tensor<4> {
    let [n, c, a, b] = t.dims();
    if batch == n {
        return t.clone();
    }
    t.clone()
        .unsqueeze_dim::<5>(0)
        .repeat_dim(0, batch / n)
        .reshape([batch, c, a, b])
}

impl MatchingSegmenter {
    /// Grad-CAM over the support images: gradients of the summed foreground logit over
    /// `region` (`[N, H, W]`; `None` = the predicted foreground) with respect to each support's
    /// deepest matching-level feature map, channel weights = their spatial mean,
    /// `ReLU(Σ_c α_c A_c)` upsampled (bilinear) to the image. Returns `[N, K, H, W]`.
    pub fn support_grad_cam(
        &self,
        input: &FewShotInput,
        region: Option<Tensor<3>>,
    ) -> Result<glassbox_core::SupportAttribution> {
        self.check_input(input)?;
        let [n, k, c, h, w] = input.support_images.dims();
        let region = glassbox_core::model::query_region(self, input, region)?;
        let ad = |t: Tensor<4>| t.inner().autodiff();
        let input_ad = FewShotInput {
            query: ad(input.query.clone()),
            support_images: input.support_images.clone().inner().autodiff(),
            support_masks: ad(input.support_masks.clone()),
        };
        let q_levels = self.backbone.forward_levels(input_ad.query.clone());
        let mut s_levels = self
            .backbone
            .forward_levels(input_ad.support_images.clone().reshape([n * k, c, h, w]));
        let level = *self.match_levels.last().expect("a matching level");
        let features = s_levels[level].clone().detach().require_grad();
        s_levels[level] = features.clone();
        let (out, _) = self.run_from_levels(&input_ad, q_levels, s_levels, false);
        let fg = out.logits.slice(s![.., 1..2]).reshape([n, h, w]);
        let grads = (fg * region.inner().autodiff()).sum().backward();
        let g = features
            .grad(&grads)
            .unwrap_or_else(|| features.clone().inner().zeros_like());
        let a = features.inner();
        let alpha = g.mean_dim(3).mean_dim(2); // [N·K, C, 1, 1]
        let cam = burn::tensor::activation::relu((a * alpha).sum_dim(1)); // [N·K, 1, h', w']
        Ok(glassbox_core::SupportAttribution {
            support: resize(cam, [h, w]).reshape([n, k, h, w]),
            method: "support_grad_cam".into(),
        })
    }
}

/// Bilinear resize (`align_corners = false`, as PyTorch's `interpolate`) of `[B, C, h, w]` to
/// `[B, C, H, W]` by two matrix products ([`resize_bilinear`]); identity when the size already
/// matches. On flex this is several times faster than burn's `interpolate` for the decoder's
/// small maps.
pub(crate) fn resize(x: Tensor<4>, [h, w]: [usize; 2]) -> Tensor<4> {
    let [b, c, hx, wx] = x.dims();
    if [hx, wx] == [h, w] {
        return x;
    }
    resize_bilinear(x.reshape([b * c, hx, wx]), [h, w]).reshape([b, c, h, w])
}

impl FewShotSegmenter for MatchingSegmenter {
    fn segment(
        &self,
        query: Tensor<4>,
        support_images: Tensor<5>,
        support_masks: Tensor<4>,
    ) -> Tensor<4> {
        let input = FewShotInput {
            query,
            support_images,
            support_masks,
        };
        self.run(&input, false).0.logits
    }
}

impl MatchingModel for MatchingSegmenter {
    type State = DecoderState;

    fn forward_matching(&self, input: &FewShotInput) -> (MatchingOutput, DecoderState) {
        self.forward_all(input)
    }

    fn layer_weights(&self, state: &DecoderState, region: &Tensor<3>) -> Option<Tensor<2>> {
        // All L ablations in one decoder batch: copy a has layer a's coarse mask zeroed; the
        // unablated output is the forward pass's own.
        let [n, h, w] = region.dims();
        let first = self.first_mix_ablated(&state.coarse, &state.query_terms[0]);
        let ablated = self.mean_foreground(first, &state.query_terms, region); // [l, n]
        let r = region.clone().reshape([1, n, h * w]);
        let area = r.clone().sum_dim(2).clamp_min(1.0).reshape([1, n]);
        let fg = state
            .logits
            .clone()
            .slice(s![.., 1..2])
            .reshape([1, n, h * w]);
        let y0 = (fg * r).sum_dim(2).reshape([1, n]) / area;
        let drop = (ablated - y0).abs().swap_dims(0, 1); // [n, l]
        let total = drop.clone().sum_dim(1);
        Some(drop / total.clamp_min(1e-12))
    }
}
