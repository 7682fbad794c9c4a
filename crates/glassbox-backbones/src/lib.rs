//! # glassbox-backbones
//!
//! Feature extractors shared by the glassbox model families.
//!
//! * [`SmallCnn`]: a compact CNN for 28×28 grey images, with its last conv map exposed for
//!   Grad-CAM and prototype layers;
//! * [`VisionTransformer`]: ViT-Tiny/16 (timm names), patch tokens per block as levels;
//! * [`ResNet`]: ResNet-18/34/50 with torchvision parameter names, and
//!   [`weights::load_pytorch_safetensors`] to import PyTorch checkpoints;
//! * [`MultiLevelBackbone`]: the multi-level feature API all backbones implement;
//! * [`ConvBnRelu`]: the conv–BN–ReLU building block.

pub mod conv_block;
pub mod features;
pub mod image_classifier;
pub mod resnet;
pub mod small_cnn;
pub mod vit;
pub mod weights;

pub use conv_block::{ConvBnRelu, ConvBnReluConfig};
pub use features::{FeatureLevel, MultiLevelBackbone};
pub use image_classifier::{ImageClassifier, ModelConfig};
pub use resnet::{ResNet, ResNetConfig, ResNetDepth};
pub use small_cnn::{SmallCnn, SmallCnnConfig};
pub use vit::{VisionTransformer, VisionTransformerConfig};
