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
        let [_, c_in, _, _] = x.dims();
        let weight = self.conv.weight.val();
        let [c_out, c_all, kh, kw] = weight.dims();
        assert!(
            channels.end <= c_all && channels.len() == c_in,
            "conv_channels: input has {c_in} channels for the range {channels:?} of {c_all}"
        );
        let weight = weight.slice([0..c_out, channels, 0..kh, 0..kw]);
        // `Same` padding at stride 1, split as burn splits it (the extra row/column at the end).
        let pad = |k: usize| ((k - 1) / 2, k - 1 - (k - 1) / 2);
        let options = ConvOptions::new_with_padding([1, 1], [pad(kh), pad(kw)], [1, 1], 1);
        conv2d(x, weight, None, options)
    }

    /// Batch norm and ReLU of a convolution output (see [`Self::conv_channels`]).
    pub fn activate(&self, conv_out: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(conv_out))
    }
}
