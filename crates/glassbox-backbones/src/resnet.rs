//! ResNet-18/34/50 (He et al., 2016) exactly as torchvision builds them (v1.5: the stride of a
//! bottleneck sits on its 3×3 convolution), with field names equal to torchvision's
//! `state_dict` keys so PyTorch checkpoints map one to one (`layer1.0.conv1.weight`, ...).
//!
//! The only renaming on import is torchvision's `downsample.0` / `downsample.1` (a
//! `Sequential`) to our `downsample.conv` / `downsample.bn`, and batch norm's
//! `weight`/`bias` to burn's `gamma`/`beta` (done by burn-store's PyTorch adapter).
//! BatchNorm uses ε = 1e-5 and burn's momentum 0.1, which is PyTorch's convention
//! (`running = (1 − 0.1)·running + 0.1·batch`).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use glassbox_core::rescale::{max_pool2d_module, relu};
use glassbox_core::{Classifier, Error, FeatureClassifier, Result};
use serde::{Deserialize, Serialize};

use crate::features::{FeatureLevel, MultiLevelBackbone};

/// Which ResNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResNetDepth {
    /// BasicBlock × [2, 2, 2, 2].
    ResNet18,
    /// BasicBlock × [3, 4, 6, 3].
    ResNet34,
    /// Bottleneck × [3, 4, 6, 3].
    ResNet50,
}

impl ResNetDepth {
    fn blocks(self) -> [usize; 4] {
        match self {
            ResNetDepth::ResNet18 => [2, 2, 2, 2],
            _ => [3, 4, 6, 3],
        }
    }

    fn bottleneck(self) -> bool {
        self == ResNetDepth::ResNet50
    }
}

/// Configuration of a [`ResNet`].
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Depth (block type and counts).
    pub depth: ResNetDepth,
    /// Classifier outputs; `None` builds a feature extractor without `fc`.
    #[config(default = "Some(1000)")]
    pub num_classes: Option<usize>,
    /// Input channels (3 for RGB; 1 for grey images).
    #[config(default = 3)]
    pub in_channels: usize,
    /// Channels of the four stages before expansion (torchvision: [64, 128, 256, 512]).
    /// Smaller widths give the same architecture at a fraction of the cost.
    #[config(default = "[64, 128, 256, 512]")]
    pub widths: [usize; 4],
    /// Channels of the stem (torchvision: 64).
    #[config(default = 64)]
    pub stem_width: usize,
}

/// torchvision's `downsample` branch: 1×1 strided convolution and batch norm.
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

/// A residual block: torchvision's `BasicBlock` (conv3 absent) or `Bottleneck`.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Option<Conv2d>,
    bn3: Option<BatchNorm>,
    downsample: Option<Downsample>,
}

fn conv(i: usize, o: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([i, o], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .with_bias(false)
        .init(device)
}

fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c)
        .with_epsilon(1e-5)
        .with_momentum(0.1)
        .init(device)
}

impl ResidualBlock {
    fn new(inp: usize, planes: usize, stride: usize, bottleneck: bool, device: &Device) -> Self {
        let expansion = if bottleneck { 4 } else { 1 };
        let out = planes * expansion;
        let downsample = (stride != 1 || inp != out).then(|| Downsample {
            conv: conv(inp, out, 1, stride, device),
            bn: bn(out, device),
        });
        if bottleneck {
            Self {
                conv1: conv(inp, planes, 1, 1, device),
                bn1: bn(planes, device),
                conv2: conv(planes, planes, 3, stride, device),
                bn2: bn(planes, device),
                conv3: Some(conv(planes, out, 1, 1, device)),
                bn3: Some(bn(out, device)),
                downsample,
            }
        } else {
            Self {
                conv1: conv(inp, planes, 3, stride, device),
                bn1: bn(planes, device),
                conv2: conv(planes, planes, 3, 1, device),
                bn2: bn(planes, device),
                conv3: None,
                bn3: None,
                downsample,
            }
        }
    }

    /// `[N, C_in, H, W]` to `[N, C_out, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let mut y = relu(self.bn1.forward(self.conv1.forward(x)));
        y = self.bn2.forward(self.conv2.forward(y));
        if let (Some(c3), Some(b3)) = (&self.conv3, &self.bn3) {
            y = b3.forward(c3.forward(relu(y)));
        }
        relu(y + identity)
    }
}

/// ResNet with torchvision parameter names; see the module docs.
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<ResidualBlock>,
    layer2: Vec<ResidualBlock>,
    layer3: Vec<ResidualBlock>,
    layer4: Vec<ResidualBlock>,
    avgpool: AdaptiveAvgPool2d,
    fc: Option<Linear>,
    channels: [usize; 4],
    in_channels: usize,
}

impl ResNetConfig {
    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 || self.stem_width == 0 || self.widths.contains(&0) {
            return Err(Error::config(format!(
                "ResNet needs non-zero in_channels, stem and stage widths, got {self:?}"
            )));
        }
        if self.num_classes == Some(0) {
            return Err(Error::config("ResNet num_classes must be >= 1 (or None)"));
        }
        Ok(())
    }

    /// Build on `device` after validating.
    pub fn try_init(&self, device: &Device) -> Result<ResNet> {
        self.validate()?;
        Ok(self.init(device))
    }

    /// Build on `device`. Panics on an invalid config; see [`Self::try_init`].
    pub fn init(&self, device: &Device) -> ResNet {
        self.validate().expect("invalid ResNetConfig");
        let bottleneck = self.depth.bottleneck();
        let expansion = if bottleneck { 4 } else { 1 };
        let mut inp = self.stem_width;
        let mut stages: Vec<Vec<ResidualBlock>> = Vec::new();
        for (s, (&planes, &count)) in self.widths.iter().zip(&self.depth.blocks()).enumerate() {
            let stride = if s == 0 { 1 } else { 2 };
            let mut blocks = Vec::with_capacity(count);
            for b in 0..count {
                blocks.push(ResidualBlock::new(
                    inp,
                    planes,
                    if b == 0 { stride } else { 1 },
                    bottleneck,
                    device,
                ));
                inp = planes * expansion;
            }
            stages.push(blocks);
        }
        let layer4 = stages.pop().expect("4 stages");
        let layer3 = stages.pop().expect("4 stages");
        let layer2 = stages.pop().expect("4 stages");
        let layer1 = stages.pop().expect("4 stages");
        ResNet {
            conv1: Conv2dConfig::new([self.in_channels, self.stem_width], [7, 7])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                .with_bias(false)
                .init(device),
            bn1: bn(self.stem_width, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: self
                .num_classes
                .map(|k| LinearConfig::new(inp, k).init(device)),
            channels: self.widths.map(|w| w * expansion),
            in_channels: self.in_channels,
        }
    }
}

impl ResNet {
    /// Logits `[N, K]`; panics if the model was built without a classifier (`num_classes:
    /// None`) — use [`MultiLevelBackbone::forward_levels`] for feature extraction.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let f = self.forward_levels(images).pop().expect("four levels");
        self.classify_features(f)
    }

    /// Whether the model has a classification head.
    pub fn has_classifier(&self) -> bool {
        self.fc.is_some()
    }

    /// Input channels the stem expects.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        max_pool2d_module(&self.maxpool, relu(self.bn1.forward(self.conv1.forward(x))))
    }
}

fn run(blocks: &[ResidualBlock], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |x, b| b.forward(x))
}

impl MultiLevelBackbone for ResNet {
    fn feature_levels(&self) -> Vec<FeatureLevel> {
        (0..4)
            .map(|i| FeatureLevel {
                name: format!("stage{}", i + 1),
                stride: 4 << i,
                channels: self.channels[i],
            })
            .collect()
    }

    fn forward_levels(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        let s1 = run(&self.layer1, self.stem(images));
        let s2 = run(&self.layer2, s1.clone());
        let s3 = run(&self.layer3, s2.clone());
        let s4 = run(&self.layer4, s3.clone());
        vec![s1, s2, s3, s4]
    }
}

impl Classifier for ResNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

impl FeatureClassifier for ResNet {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward_levels(images).pop().expect("four levels")
    }

    fn classify_features(&self, features: Tensor<4>) -> Tensor<2> {
        let fc = self
            .fc
            .as_ref()
            .expect("ResNet built without a classifier (num_classes: None)");
        fc.forward(self.avgpool.forward(features).flatten::<2>(1, 3))
    }

    fn feature_layer(&self) -> &str {
        "layer4"
    }
}
