//! `ConvBnRelu`: 3×3 convolution, batch normalisation, ReLU — the unit of small CNNs.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

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
    act: Relu,
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
            act: Relu::new(),
        }
    }
}

impl ConvBnRelu {
    /// `[N, C_in, H, W]` to `[N, C_out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.act.forward(self.bn.forward(self.conv.forward(x)))
    }
}
