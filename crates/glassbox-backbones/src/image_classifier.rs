//! One image-classifier type over every backbone, so training, evaluation, checkpoints, the
//! CLI and the explainers work the same for SmallCnn and ResNets.
//!
//! A ResNet trained on 28×28 Fashion-MNIST at a larger resolution (`--image-size 64`) carries
//! the resize inside the model: callers always pass native-size images, and attributions flow
//! back through the (differentiable) bilinear upsampling to the original pixels.

use crate::{ResNet, ResNetConfig, SmallCnn, SmallCnnConfig};
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use glassbox_core::check::{check_dims, check_finite};
use glassbox_core::{Classifier, Error, FeatureClassifier, Result};
use serde::{Deserialize, Serialize};

/// Which network a classifier uses, with its hyper-parameters (saved in checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "snake_case")]
pub enum ModelConfig {
    /// [`SmallCnn`] at the native resolution.
    SmallCnn(SmallCnnConfig),
    /// A torchvision-style [`ResNet`], optionally fed images resized to `input_size`².
    ResNet {
        /// The network.
        resnet: ResNetConfig,
        /// Side the inputs are bilinearly resized to inside the model (`None`: as given).
        input_size: Option<usize>,
    },
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::SmallCnn(SmallCnnConfig::new())
    }
}

impl ModelConfig {
    /// Short name of the architecture (`small_cnn`, `resnet18`, ...).
    pub fn name(&self) -> String {
        match self {
            ModelConfig::SmallCnn(_) => "small_cnn".into(),
            ModelConfig::ResNet { resnet, .. } => format!("{:?}", resnet.depth).to_lowercase(),
        }
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        match self {
            ModelConfig::SmallCnn(c) => c.in_channels,
            ModelConfig::ResNet { resnet, .. } => resnet.in_channels,
        }
    }

    /// Number of classes (`None` for a headless ResNet).
    pub fn num_classes(&self) -> Option<usize> {
        match self {
            ModelConfig::SmallCnn(c) => Some(c.num_classes),
            ModelConfig::ResNet { resnet, .. } => resnet.num_classes,
        }
    }

    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        match self {
            ModelConfig::SmallCnn(c) => c.validate(),
            ModelConfig::ResNet { resnet, input_size } => {
                resnet.validate()?;
                if resnet.num_classes.is_none() {
                    return Err(Error::config("a classifier ResNet needs num_classes"));
                }
                if *input_size == Some(0) {
                    return Err(Error::config("input_size must be >= 1"));
                }
                Ok(())
            }
        }
    }

    /// Build on `device` after validating.
    pub fn try_init(&self, device: &Device) -> Result<ImageClassifier> {
        self.validate()?;
        let (net, input_size) = match self {
            ModelConfig::SmallCnn(c) => (Backbone::SmallCnn(c.init(device)), None),
            ModelConfig::ResNet { resnet, input_size } => {
                (Backbone::ResNet(resnet.init(device)), *input_size)
            }
        };
        Ok(ImageClassifier {
            net,
            input_size,
            in_channels: self.in_channels(),
        })
    }

    /// Build on `device`; panics on an invalid config (see [`Self::try_init`]).
    pub fn init(&self, device: &Device) -> ImageClassifier {
        self.try_init(device).expect("invalid ModelConfig")
    }
}

/// The network inside an [`ImageClassifier`].
#[derive(Module, Debug)]
pub enum Backbone {
    /// A SmallCnn.
    SmallCnn(SmallCnn),
    /// A ResNet.
    ResNet(ResNet),
}

/// An image classifier over any supported backbone; see the module docs.
#[derive(Module, Debug)]
pub struct ImageClassifier {
    net: Backbone,
    input_size: Option<usize>,
    in_channels: usize,
}

impl ImageClassifier {
    /// Logits `[N, K]` for images `[N, C, H, W]` at their native size.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify_features(self.features(images))
    }

    /// Validate an input batch: channel count, at least 4×4 pixels, finite values.
    pub fn check_input(&self, images: &Tensor<4>) -> Result<()> {
        let expected = format!("[N, {}, H, W] with H, W >= 4", self.in_channels);
        check_dims(
            images,
            "classifier input",
            [None, Some(self.in_channels), None, None],
            &expected,
        )?;
        let [_, _, h, w] = images.dims();
        if h < 4 || w < 4 {
            return Err(Error::shape("classifier input", expected, &images.dims()));
        }
        check_finite(images, "classifier input")
    }

    /// [`Self::forward`] after [`Self::check_input`].
    pub fn try_forward(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        self.check_input(&images)?;
        Ok(self.forward(images))
    }

    fn resize(&self, images: Tensor<4>) -> Tensor<4> {
        match self.input_size {
            Some(s) if images.dims()[2..] != [s, s] => interpolate(
                images,
                InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([s, s]),
            ),
            _ => images,
        }
    }
}

impl Classifier for ImageClassifier {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

impl FeatureClassifier for ImageClassifier {
    fn features(&self, images: Tensor<4>) -> Tensor<4> {
        let x = self.resize(images);
        match &self.net {
            Backbone::SmallCnn(m) => m.features(x),
            Backbone::ResNet(m) => m.features(x),
        }
    }

    fn classify_features(&self, features: Tensor<4>) -> Tensor<2> {
        match &self.net {
            Backbone::SmallCnn(m) => m.classify_features(features),
            Backbone::ResNet(m) => m.classify_features(features),
        }
    }

    fn feature_layer(&self) -> &str {
        match &self.net {
            Backbone::SmallCnn(m) => m.feature_layer(),
            Backbone::ResNet(m) => m.feature_layer(),
        }
    }
}

/// The backbone's levels (after the in-model resize, so strides are relative to
/// `input_size` when one is set).
impl crate::MultiLevelBackbone for ImageClassifier {
    fn feature_levels(&self) -> Vec<crate::FeatureLevel> {
        match &self.net {
            Backbone::SmallCnn(m) => m.feature_levels(),
            Backbone::ResNet(m) => m.feature_levels(),
        }
    }

    fn forward_levels(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        let x = self.resize(images);
        match &self.net {
            Backbone::SmallCnn(m) => m.forward_levels(x),
            Backbone::ResNet(m) => m.forward_levels(x),
        }
    }
}
