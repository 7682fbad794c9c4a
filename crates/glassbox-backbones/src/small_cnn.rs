//! `SmallCnn`: a compact VGG-style CNN for 28×28 grey images (Fashion-MNIST, MNIST).
//!
//! Three stages of 3×3 conv–BN–ReLU: one convolution at 28×28, two at 14×14 (each stage
//! followed by 2×2 max-pooling), one at 7×7; then global average pooling, dropout and a
//! linear classifier. A second 28×28 convolution cost a third of the training time for no
//! measurable accuracy on Fashion-MNIST, so stage 1 has one.
//! The 7×7 map of the last stage is the `features` of [`FeatureClassifier`], read by
//! Grad-CAM and prototype layers.

use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use glassbox_core::check::check_dims;
use glassbox_core::rescale::max_pool2d_module;
use glassbox_core::{Classifier, Error, FeatureClassifier, Result};

use crate::conv_block::{ConvBnRelu, ConvBnReluConfig};
use crate::features::{FeatureLevel, MultiLevelBackbone};

/// Configuration of [`SmallCnn`].
#[derive(Config, Debug, PartialEq)]
pub struct SmallCnnConfig {
    /// Input channels (1 for grey images).
    #[config(default = 1)]
    pub in_channels: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Channels of the three stages.
    #[config(default = "[32, 64, 128]")]
    pub widths: [usize; 3],
    /// Dropout probability before the classifier.
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// The small CNN; see the module docs for the architecture.
#[derive(Module, Debug)]
pub struct SmallCnn {
    stage1: Vec<ConvBnRelu>,
    stage2: Vec<ConvBnRelu>,
    stage3: ConvBnRelu,
    pool: MaxPool2d,
    gap: AdaptiveAvgPool2d,
    dropout: Dropout,
    classifier: Linear,
    in_channels: usize,
    widths: [usize; 3],
}

impl SmallCnnConfig {
    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 || self.num_classes < 2 || self.widths.contains(&0) {
            return Err(Error::config(format!(
                "SmallCnn needs in_channels >= 1, num_classes >= 2 and non-zero widths, got {self:?}"
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::config(format!(
                "SmallCnn dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// Build the model on `device` after validating the config.
    pub fn try_init(&self, device: &Device) -> Result<SmallCnn> {
        self.validate()?;
        Ok(self.init(device))
    }

    /// Build the model on `device`. Panics on an invalid config; see [`Self::try_init`].
    pub fn init(&self, device: &Device) -> SmallCnn {
        self.validate().expect("invalid SmallCnnConfig");
        let [w1, w2, w3] = self.widths;
        let block = |i, o| ConvBnReluConfig::new(i, o).init(device);
        SmallCnn {
            stage1: vec![block(self.in_channels, w1)],
            stage2: vec![block(w1, w2), block(w2, w2)],
            stage3: block(w2, w3),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            gap: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(w3, self.num_classes).init(device),
            in_channels: self.in_channels,
            widths: self.widths,
        }
    }
}

impl SmallCnn {
    /// Logits `[N, K]` for images `[N, C, H, W]` (H, W divisible by 4; 28×28 intended).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.forward_levels(images).pop().expect("three levels"))
    }

    /// Like [`SmallCnn::forward`] but validates the input first: channel count, a spatial
    /// size of at least 4×4, and finite values.
    pub fn try_forward(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        self.check_input(&images)?;
        Ok(self.forward(images))
    }

    /// Validate an input batch (shape and finiteness) with typed errors.
    pub fn check_input(&self, images: &Tensor<4>) -> Result<()> {
        let expected = format!("[N, {}, H, W] with H, W >= 4", self.in_channels);
        check_dims(
            images,
            "SmallCnn input",
            [None, Some(self.in_channels), None, None],
            &expected,
        )?;
        let [_, _, h, w] = images.dims();
        if h < 4 || w < 4 {
            return Err(Error::shape("SmallCnn input", expected, &images.dims()));
        }
        glassbox_core::check::check_finite(images, "SmallCnn input")
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        let pooled = self.gap.forward(features).flatten::<2>(1, 3);
        self.classifier.forward(self.dropout.forward(pooled))
    }
}

impl MultiLevelBackbone for SmallCnn {
    fn feature_levels(&self) -> Vec<FeatureLevel> {
        let [w1, w2, w3] = self.widths;
        vec![
            FeatureLevel {
                name: "stage1".into(),
                stride: 1,
                channels: w1,
            },
            FeatureLevel {
                name: "stage2".into(),
                stride: 2,
                channels: w2,
            },
            FeatureLevel {
                name: "stage3".into(),
                stride: 4,
                channels: w3,
            },
        ]
    }

    fn forward_levels(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        let s1 = self.stage1.iter().fold(images, |x, b| b.forward(x));
        let s2 = self
            .stage2
            .iter()
            .fold(max_pool2d_module(&self.pool, s1.clone()), |x, b| {
                b.forward(x)
            });
        let s3 = self
            .stage3
            .forward(max_pool2d_module(&self.pool, s2.clone()));
        vec![s1, s2, s3]
    }
}

impl Classifier for SmallCnn {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

impl FeatureClassifier for SmallCnn {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        let s1 = self.stage1.iter().fold(images, |x, b| b.forward(x));
        let s2 = self
            .stage2
            .iter()
            .fold(max_pool2d_module(&self.pool, s1), |x, b| b.forward(x));
        self.stage3.forward(max_pool2d_module(&self.pool, s2))
    }

    fn classify_features(&self, features: Tensor<4>) -> Tensor<2> {
        self.head(features)
    }

    fn feature_layer(&self) -> &str {
        "stage3"
    }
}
