//! `ConvBnRelu`: 3×3 convolution, batch normalisation, ReLU — the unit of small CNNs.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use glassbox_core::rescale::relu;
use std::ops::Range;

/// Configuration of a [`ConvBnRelu`].
#[derive(Config, Debug)]
pub struct ConvBnReluConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Square kernel size (padding keeps the spatial size).
    #[config(default = 3)]
    pub kernel_size: usize,
}

/// Convolution (no bias: the batch norm supplies it), batch norm and ReLU.
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBnReluConfig {
    /// Build the block on `device`.
    pub fn init(&self, device: &Device) -> ConvBnRelu {
        ConvBnRelu {
            conv: Conv2dConfig::new(
                [self.in_channels, self.out_channels],
                [self.kernel_size, self.kernel_size],
            )
            .with_padding(PaddingConfig2d::Same)
            .with_bias(false)
            .init(device),
            bn: BatchNormConfig::new(self.out_channels).init(device),
        }
    }
}

impl ConvBnRelu {
    /// `[N, C_in, H, W]` to `[N, C_out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }

    /// The convolution's output from the input channels `channels` alone: `x` holds just
    /// those channels, `[N, channels.len(), H, W]`.
    ///
    /// Zero padding acts per channel and the convolution has no bias, so over any partition
    /// of the input channels these parts sum to the full convolution. A caller whose input is
    /// a concatenation with a part that does not change (a decoder re-run with one input
    /// ablated) computes that part once and adds it: `forward(x)` equals
    /// `activate(conv_channels(x₁, 0..c) + conv_channels(x₂, c..C))`.
    ///
    /// # Panics
    /// If `x`'s channel count differs from `channels.len()` or the range exceeds the input
    /// channels (a programming error, like a wrong channel count in `forward`).
    pub fn conv_channels(&self, x: Tensor<4>, channels: Range<usize>) -> Tensor<4> {
        let weight = self.channel_weight(x.dims()[1], channels);
        let [_, _, kh, kw] = weight.dims();
        let options = ConvOptions::new_with_padding([1, 1], [same(kh), same(kw)], [1, 1], 1);
        conv2d(x, weight, None, options)
    }

    /// [`Self::conv_channels`] once per input channel with that channel zeroed (a feature
    /// ablation of each input in turn): `x` `[N, C, H, W]` holds the channels `channels`,
    /// and the result is `[C·N, C_out, H, W]`, ablation-major (item `a·N + i` is query `i`
    /// with channel `a` zeroed).
    ///
    /// All `C` ablations are one convolution of the unrepeated `x`, with `C` copies of the
    /// kernel stacked along the output channels, copy `a` with its input channel `a`
    /// zeroed. The batch stays `N`: a convolution over a larger batch fans out over the
    /// thread pool, which for a handful of small masks costs more than the arithmetic.
    ///
    /// # Panics
    /// As [`Self::conv_channels`].
    pub fn conv_channels_without_each(&self, x: Tensor<4>, channels: Range<usize>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let weight = self.channel_weight(c, channels);
        let [c_out, _, kh, kw] = weight.dims();
        let device = x.device();
        let keep: Vec<f32> = (0..c * c)
            .map(|i| if i / c == i % c { 0.0 } else { 1.0 })
            .collect();
        let keep = Tensor::<1>::from_floats(keep.as_slice(), &device).reshape([c, 1, c, 1, 1]);
        let weight = (weight.unsqueeze_dim::<5>(0) * keep).reshape([c * c_out, c, kh, kw]);
        let options = ConvOptions::new_with_padding([1, 1], [same(kh), same(kw)], [1, 1], 1);
        let out = conv2d(x, weight, None, options).reshape([n, c, c_out, h, w]);
        if n == 1 {
            out.reshape([c, c_out, h, w])
        } else {
            out.swap_dims(0, 1).reshape([c * n, c_out, h, w])
        }
    }

    /// The kernel's slice for the input channels `channels`, checked against the `c_in`
    /// channels the caller's input has.
    fn channel_weight(&self, c_in: usize, channels: Range<usize>) -> Tensor<4> {
        let weight = self.conv.weight.val();
        let [c_out, c_all, kh, kw] = weight.dims();
        assert!(
            channels.end <= c_all && channels.len() == c_in,
            "ConvBnRelu: input has {c_in} channels for the range {channels:?} of {c_all}"
        );
        weight.slice([0..c_out, channels, 0..kh, 0..kw])
    }

    /// [`Self::conv_channels`] evaluated at the output pixels `pixels` only (flat indices
    /// `y · W + x` into the `H × W` output), pixels before channels: `[N, pixels.len(), C_out]`.
    ///
    /// An im2col restricted to the wanted pixels (one gather from the input) and one matrix
    /// product: for a caller that reads a few outputs (a score summed over a region) this
    /// costs a fraction of the full convolution. The values are those of `conv_channels` at
    /// those pixels up to float summation order. See [`Self::conv_channels_last_at`] for an
    /// input that is already channels-last.
    ///
    /// # Panics
    /// As [`Self::conv_channels`], and if a pixel index is outside `H × W`.
    pub fn conv_channels_at(
        &self,
        x: Tensor<4>,
        channels: Range<usize>,
        pixels: &[usize],
    ) -> Tensor<3> {
        self.conv_channels_last_at(x.permute([0, 2, 3, 1]), channels, pixels)
    }

    /// [`Self::conv_channels_at`] of a channels-last input `[N, H, W, C_in]`.
    ///
    /// # Panics
    /// As [`Self::conv_channels_at`].
    pub fn conv_channels_last_at(
        &self,
        x: Tensor<4>,
        channels: Range<usize>,
        pixels: &[usize],
    ) -> Tensor<3> {
        let [n, h, w, c_in] = x.dims();
        let row_of: Vec<Option<usize>> = (0..h * w).map(Some).collect();
        self.conv_rows_at(
            x.reshape([n, h * w, c_in]),
            &row_of,
            [h, w],
            channels,
            pixels,
        )
    }

    /// [`Self::conv_channels_at`] of an input known at some pixels only, as rows: `rows`
    /// `[N·M, C_in]` holds `M` rows per item (item-major), and `row_of[q]` names the row
    /// within an item of input pixel `q` of the `H × W` grid, or `None` for a pixel the
    /// caller knows the convolution at `pixels` does not read (it is taken as zero, like the
    /// padding). A caller that computed its input only where the convolution reads
    /// ([`Self::input_pixels`]) passes those rows without scattering them into a grid.
    ///
    /// # Panics
    /// As [`Self::conv_channels_at`]; also if `row_of` does not have `H·W` entries or a row
    /// index is `M` or more.
    pub fn conv_rows_at(
        &self,
        rows: Tensor<3>,
        row_of: &[Option<usize>],
        [h, w]: [usize; 2],
        channels: Range<usize>,
        pixels: &[usize],
    ) -> Tensor<3> {
        let [n, m, c_in] = rows.dims();
        assert!(
            row_of.len() == h * w && row_of.iter().flatten().all(|&r| r < m),
            "conv_rows_at: row_of must map the {h}×{w} grid to rows below {m}"
        );
        let total = n * m;
        let weight = self.channel_weight(c_in, channels);
        let [c_out, _, kh, kw] = weight.dims();
        assert!(
            pixels.iter().all(|&p| p < h * w),
            "conv_channels_at: a pixel index is outside the {h}×{w} output"
        );
        let taps = kh * kw;
        // Weight rows in tap-major order, `o · C_in + c`, as the gathered patches below
        // (`reshape` of the permuted kernel makes it contiguous for the matrix product).
        let weight = weight.permute([2, 3, 1, 0]).reshape([taps * c_in, c_out]);
        let ((top, _), (left, _)) = (same(kh), same(kw));
        // Batch folded into the rows, so each gathered tap is one contiguous run of `C_in`
        // values and the whole im2col is one gather; a tap in the zero padding (or at a
        // pixel without a row) reads an appended row of zeros.
        let zero = total;
        let device = rows.device();
        let rows = Tensor::cat(
            vec![
                rows.reshape([total, c_in]),
                Tensor::zeros([1, c_in], &device),
            ],
            0,
        );
        let index: Vec<i64> = (0..n)
            .flat_map(|b| {
                pixels.iter().flat_map(move |&p| {
                    (0..taps).map(move |o| {
                        let y = (p / w + o / kw).wrapping_sub(top);
                        let x = (p % w + o % kw).wrapping_sub(left);
                        match (y < h && x < w).then(|| row_of[y * w + x]).flatten() {
                            Some(r) => (b * m + r) as i64,
                            None => zero as i64,
                        }
                    })
                })
            })
            .collect();
        let index = Tensor::<1, Int>::from_ints(index.as_slice(), &device);
        rows.select(0, index)
            .reshape([n * pixels.len(), taps * c_in])
            .matmul(weight)
            .reshape([n, pixels.len(), c_out])
    }

    /// The input pixels (flat indices into the `H × W` input, sorted, each once) that
    /// [`Self::conv_channels_at`] reads for the output pixels `pixels`: their kernel
    /// neighbourhoods, without the zero padding. A caller that computes its input only at
    /// these pixels (zeros elsewhere) gets the same outputs there.
    pub fn input_pixels(&self, [h, w]: [usize; 2], pixels: &[usize]) -> Vec<usize> {
        let [_, _, kh, kw] = self.conv.weight.dims();
        let ((top, _), (left, _)) = (same(kh), same(kw));
        let mut read = vec![false; h * w];
        for &p in pixels {
            let (y, x) = (p / w, p % w);
            for dy in 0..kh {
                for dx in 0..kw {
                    // Padded row `y + dy` is input row `y + dy − top`.
                    let (yy, xx) = ((y + dy).wrapping_sub(top), (x + dx).wrapping_sub(left));
                    if yy < h && xx < w {
                        read[yy * w + xx] = true;
                    }
                }
            }
        }
        (0..h * w).filter(|&q| read[q]).collect()
    }

    /// Batch norm and ReLU of a convolution output (see [`Self::conv_channels`]).
    pub fn activate(&self, conv_out: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(conv_out))
    }

    /// The inference-mode batch norm as a per-channel affine map `y = scale · x + shift`
    /// (`scale = γ / √(running var + ε)`, `shift = β − running mean · scale`), `[C_out]`
    /// each. With it a caller can normalise convolution outputs in any layout, e.g. the
    /// channels-last `[N, pixels, C_out]` of [`Self::conv_channels_at`];
    /// `relu(scale · x + shift)` is [`Self::activate`] of a model in inference mode.
    pub fn bn_scale_shift(&self) -> (Tensor<1>, Tensor<1>) {
        let bn = &self.bn;
        let scale = bn.gamma.val() / (bn.running_var.value() + bn.epsilon).sqrt();
        let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
        (scale, shift)
    }
}

/// `Same` padding at stride 1 for a kernel side `k`, split as burn splits it (the extra row or
/// column at the end): `(before, after)`.
fn same(k: usize) -> (usize, usize) {
    ((k - 1) / 2, k - 1 - (k - 1) / 2)
}
