//! Vision Transformer (Dosovitskiy et al., 2021), ViT-Tiny/16 by default, with timm's parameter
//! names (`patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.{i}.{norm1,attn.qkv,attn.proj,
//! norm2,mlp.fc1,mlp.fc2}`, `norm`, `head`) so timm checkpoints exported to safetensors load
//! one to one. Pre-norm blocks, exact-erf GELU, LayerNorm ε = 1e-6, classification from the
//! class token after the final norm — timm's `VisionTransformer` defaults.
//!
//! As a [`MultiLevelBackbone`], the patch tokens after selected blocks are returned as spatial
//! maps `[N, D, H/p, W/p]` (stride = patch size), so matching and prototype models use a ViT
//! exactly like a CNN.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};
use glassbox_core::{Classifier, Error, Result};

use crate::features::{FeatureLevel, MultiLevelBackbone};

/// Configuration of a [`VisionTransformer`]; defaults are ViT-Tiny/16 at 224×224.
#[derive(Config, Debug, PartialEq)]
pub struct VisionTransformerConfig {
    /// Input side (square images).
    #[config(default = 224)]
    pub image_size: usize,
    /// Patch side.
    #[config(default = 16)]
    pub patch_size: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Classifier outputs; `None` for a feature extractor.
    #[config(default = "Some(1000)")]
    pub num_classes: Option<usize>,
    /// Token width.
    #[config(default = 192)]
    pub embed_dim: usize,
    /// Number of blocks.
    #[config(default = 12)]
    pub depth: usize,
    /// Attention heads.
    #[config(default = 3)]
    pub num_heads: usize,
    /// MLP hidden width as a multiple of `embed_dim`.
    #[config(default = 4)]
    pub mlp_ratio: usize,
    /// Blocks (0-based) whose patch tokens `forward_levels` returns; `None`: four evenly
    /// spaced blocks ending with the last.
    #[config(default = "None")]
    pub feature_blocks: Option<Vec<usize>>,
}

/// timm's `PatchEmbed`: a strided convolution.
#[derive(Module, Debug)]
pub struct PatchEmbed {
    proj: Conv2d,
}

/// timm's `Attention` with a fused `qkv` projection.
#[derive(Module, Debug)]
pub struct Attention {
    qkv: Linear,
    proj: Linear,
    num_heads: usize,
}

/// timm's `Mlp`.
#[derive(Module, Debug)]
pub struct Mlp {
    fc1: Linear,
    fc2: Linear,
}

/// A pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    mlp: Mlp,
}

/// The vision transformer; see the module docs.
#[derive(Module, Debug)]
pub struct VisionTransformer {
    patch_embed: PatchEmbed,
    cls_token: Param<Tensor<3>>,
    pos_embed: Param<Tensor<3>>,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Option<Linear>,
    patch_size: usize,
    embed_dim: usize,
    feature_blocks: Vec<usize>,
}

impl VisionTransformerConfig {
    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return Err(Error::config(format!(
                "image size {} must be a positive multiple of the patch size {}",
                self.image_size, self.patch_size
            )));
        }
        if self.depth == 0 || self.num_heads == 0 || !self.embed_dim.is_multiple_of(self.num_heads)
        {
            return Err(Error::config(format!(
                "ViT needs depth >= 1 and embed_dim ({}) divisible by num_heads ({})",
                self.embed_dim, self.num_heads
            )));
        }
        if let Some(b) = &self.feature_blocks
            && (b.is_empty() || b.iter().any(|&i| i >= self.depth))
        {
            return Err(Error::config(format!(
                "feature_blocks {b:?} must be non-empty indices below depth {}",
                self.depth
            )));
        }
        Ok(())
    }

    /// Build on `device` after validating.
    pub fn try_init(&self, device: &Device) -> Result<VisionTransformer> {
        self.validate()?;
        Ok(self.init(device))
    }

    /// Build on `device`. Panics on an invalid config; see [`Self::try_init`].
    pub fn init(&self, device: &Device) -> VisionTransformer {
        self.validate().expect("invalid VisionTransformerConfig");
        let d = self.embed_dim;
        let tokens = (self.image_size / self.patch_size).pow(2) + 1;
        let norm = || LayerNormConfig::new(d).with_epsilon(1e-6).init(device);
        let init = burn::tensor::Distribution::Normal(0.0, 0.02);
        let feature_blocks = self.feature_blocks.clone().unwrap_or_else(|| {
            let k = self.depth.min(4);
            (1..=k).map(|i| i * self.depth / k - 1).collect()
        });
        VisionTransformer {
            patch_embed: PatchEmbed {
                proj: Conv2dConfig::new([self.in_channels, d], [self.patch_size, self.patch_size])
                    .with_stride([self.patch_size, self.patch_size])
                    .init(device),
            },
            cls_token: Param::from_tensor(Tensor::random([1, 1, d], init, device)),
            pos_embed: Param::from_tensor(Tensor::random([1, tokens, d], init, device)),
            blocks: (0..self.depth)
                .map(|_| Block {
                    norm1: norm(),
                    attn: Attention {
                        qkv: LinearConfig::new(d, 3 * d).init(device),
                        proj: LinearConfig::new(d, d).init(device),
                        num_heads: self.num_heads,
                    },
                    norm2: norm(),
                    mlp: Mlp {
                        fc1: LinearConfig::new(d, d * self.mlp_ratio).init(device),
                        fc2: LinearConfig::new(d * self.mlp_ratio, d).init(device),
                    },
                })
                .collect(),
            norm: norm(),
            head: self
                .num_classes
                .map(|k| LinearConfig::new(d, k).init(device)),
            patch_size: self.patch_size,
            embed_dim: d,
            feature_blocks,
        }
    }
}

impl Attention {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let h = self.num_heads;
        let dh = d / h;
        // [B, T, 3D] -> [3, B, H, T, Dh], as timm splits qkv.
        let qkv = self
            .qkv
            .forward(x)
            .reshape([b, t, 3, h, dh])
            .permute([2, 0, 3, 1, 4]);
        let q = qkv.clone().slice(s![0..1]).reshape([b, h, t, dh]);
        let k = qkv.clone().slice(s![1..2]).reshape([b, h, t, dh]);
        let v = qkv.slice(s![2..3]).reshape([b, h, t, dh]);
        let attn = softmax(q.matmul(k.swap_dims(2, 3)) * (dh as f32).powf(-0.5), 3);
        let out = attn.matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        self.proj.forward(out)
    }
}

impl Block {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.norm1.forward(x));
        let hidden = gelu(self.mlp.fc1.forward(self.norm2.forward(x.clone())));
        x + self.mlp.fc2.forward(hidden)
    }
}

impl VisionTransformer {
    /// Tokens `[N, 1 + P, D]` after every block (class token first), from one forward pass.
    pub fn forward_tokens(&self, images: Tensor<4>) -> Vec<Tensor<3>> {
        let [n, _, _, _] = images.dims();
        let patches = self
            .patch_embed
            .proj
            .forward(images)
            .flatten::<3>(2, 3)
            .swap_dims(1, 2);
        let d = self.embed_dim;
        let cls = self.cls_token.val().expand([n, 1, d]);
        let mut x = Tensor::cat(vec![cls, patches], 1) + self.pos_embed.val();
        let mut out = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            x = block.forward(x);
            out.push(x.clone());
        }
        out
    }

    /// Logits `[N, K]` from the class token; panics without a head (`num_classes: None`).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let last = self.forward_tokens(images).pop().expect("depth >= 1");
        let [n, _, d] = last.dims();
        let cls = self.norm.forward(last).slice(s![.., 0..1]).reshape([n, d]);
        self.head
            .as_ref()
            .expect("VisionTransformer built without a head (num_classes: None)")
            .forward(cls)
    }

    fn to_map(&self, tokens: Tensor<3>, h: usize, w: usize) -> Tensor<4> {
        let [n, t, d] = tokens.dims();
        tokens.slice(s![.., 1..t]).swap_dims(1, 2).reshape([
            n,
            d,
            h / self.patch_size,
            w / self.patch_size,
        ])
    }
}

impl MultiLevelBackbone for VisionTransformer {
    fn feature_levels(&self) -> Vec<FeatureLevel> {
        self.feature_blocks
            .iter()
            .map(|&b| FeatureLevel {
                name: format!("blocks.{b}"),
                stride: self.patch_size,
                channels: self.embed_dim,
            })
            .collect()
    }

    fn forward_levels(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        let [_, _, h, w] = images.dims();
        let tokens = self.forward_tokens(images);
        self.feature_blocks
            .iter()
            .map(|&b| self.to_map(tokens[b].clone(), h, w))
            .collect()
    }
}

impl Classifier for VisionTransformer {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}
