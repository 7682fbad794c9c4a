//! The prototype network: backbone → add-on layers → prototype layer → last layer, with one
//! branch (ProtoPNet) or two (ST-ProtoPNet's trivial and support branches).

use burn::module::Param;
use burn::nn::Linear;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use glassbox_backbones::{ImageClassifier, ModelConfig};
use glassbox_core::{Classifier, Error, FeatureClassifier, Result};
use serde::{Deserialize, Serialize};

/// Which paper's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// ProtoPNet (Chen et al. 2019): one branch, squared-L2 distances, log similarity.
    #[default]
    Protopnet,
    /// ST-ProtoPNet (Wang et al. 2023): trivial and support branches, cosine similarity.
    StProtopnet,
}

/// Architecture of a prototype network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrototypeNetConfig {
    /// The backbone (its `features` map is what prototypes match).
    pub backbone: ModelConfig,
    /// ProtoPNet or ST-ProtoPNet.
    pub variant: Variant,
    /// Number of classes K.
    pub num_classes: usize,
    /// Prototypes per class (per branch).
    pub prototypes_per_class: usize,
    /// Channels D of the add-on output and of each prototype.
    pub prototype_dim: usize,
    /// ε of the log similarity `log((d + 1) / (d + ε))`.
    pub epsilon: f64,
}

impl PrototypeNetConfig {
    /// The paper's defaults for `variant` on `backbone`: ProtoPNet 10 prototypes per class of
    /// dimension 128; ST-ProtoPNet 5 per class of dimension 64 per branch.
    pub fn new(backbone: ModelConfig, variant: Variant, num_classes: usize) -> Self {
        let (per, dim) = match variant {
            Variant::Protopnet => (10, 128),
            Variant::StProtopnet => (5, 64),
        };
        Self {
            backbone,
            variant,
            num_classes,
            prototypes_per_class: per,
            prototype_dim: dim,
            epsilon: 1e-4,
        }
    }

    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        self.backbone.validate()?;
        if self.num_classes < 2 {
            return Err(Error::config(format!(
                "a prototype network needs at least 2 classes, got {}",
                self.num_classes
            )));
        }
        if self.prototypes_per_class == 0 {
            return Err(Error::config(
                "prototypes_per_class must be >= 1: every class needs prototypes",
            ));
        }
        if self.prototype_dim == 0 || self.epsilon.is_nan() || self.epsilon <= 0.0 {
            return Err(Error::config(format!(
                "prototype_dim must be >= 1 and epsilon > 0, got {} and {}",
                self.prototype_dim, self.epsilon
            )));
        }
        Ok(())
    }

    /// Prototypes per branch (`K · m_k`).
    pub fn prototypes(&self) -> usize {
        self.num_classes * self.prototypes_per_class
    }

    /// Build on `device`, validating first.
    pub fn try_init(&self, device: &Device) -> Result<PrototypeNet> {
        self.validate()?;
        let backbone = self.backbone.try_init(device)?;
        let feature_channels = feature_channels(&backbone, self.backbone.in_channels(), device);
        let cosine = self.variant == Variant::StProtopnet;
        let branches = match self.variant {
            Variant::Protopnet => vec![self.branch(feature_channels, false, device)],
            Variant::StProtopnet => vec![
                self.branch(feature_channels, true, device),
                self.branch(feature_channels, true, device),
            ],
        };
        Ok(PrototypeNet {
            backbone,
            branches,
            num_classes: self.num_classes,
            per_class: self.prototypes_per_class,
            cosine,
            epsilon: self.epsilon,
        })
    }

    fn branch(&self, channels: usize, cosine: bool, device: &Device) -> PrototypeBranch {
        let d = self.prototype_dim;
        let m = self.prototypes();
        let k = self.num_classes;
        let prototypes = Tensor::<2>::random(
            [m, d],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            device,
        );
        // +1 own class, -0.5 others; burn's Linear weight is [in, out] = [m, K].
        let w: Vec<f32> = (0..m)
            .flat_map(|j| {
                (0..k).map(move |c| {
                    if j / self.prototypes_per_class == c {
                        1.0
                    } else {
                        -0.5
                    }
                })
            })
            .collect();
        let last = Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [m, k]), device)),
            bias: None,
        };
        PrototypeBranch {
            add_on1: Conv2dConfig::new([channels, d], [1, 1]).init(device),
            add_on2: Conv2dConfig::new([d, d], [1, 1]).init(device),
            prototypes: Param::from_tensor(prototypes),
            last_layer: last,
            cosine,
        }
    }
}

/// Channels of the backbone's feature map (one probe forward pass).
fn feature_channels(backbone: &ImageClassifier, in_channels: usize, device: &Device) -> usize {
    let probe = Tensor::<4>::zeros([1, in_channels, 28, 28], device);
    backbone.features(probe).dims()[1]
}

/// One branch: add-on layers, prototypes and a last layer.
#[derive(Module, Debug)]
pub struct PrototypeBranch {
    /// First 1×1 convolution of the add-on.
    pub add_on1: Conv2d,
    /// Second 1×1 convolution of the add-on.
    pub add_on2: Conv2d,
    /// Prototype vectors `[m, D]` (rows belong to classes in blocks of `m_k`).
    pub prototypes: Param<Tensor<2>>,
    /// Class connection weights `[m, K]` (no bias).
    pub last_layer: Linear,
    /// Cosine similarity (ST-ProtoPNet) or squared L2 distance (ProtoPNet).
    pub cosine: bool,
}

/// What one branch computes for a batch.
#[derive(Debug, Clone)]
pub struct BranchOutput {
    /// Class logits `[N, K]`.
    pub logits: Tensor<2>,
    /// Per prototype, the best match over positions `[N, m]`: the minimum squared distance
    /// (L2 branch) or the maximum cosine similarity (cosine branch).
    pub best: Tensor<2>,
    /// Similarity scores `[N, m]` fed to the last layer (log similarity, or the projection of
    /// the features on the normalised prototype).
    pub similarity: Tensor<2>,
    /// Per-position match `[N, m, H, W]`: squared distances (L2) or cosines.
    pub maps: Tensor<4>,
    /// The add-on features `[N, D, H, W]` (what push projects onto).
    pub latent: Tensor<4>,
}

impl PrototypeBranch {
    /// Add-on features of a backbone map.
    pub fn latent(&self, features: Tensor<4>) -> Tensor<4> {
        if self.cosine {
            self.add_on2
                .forward(self.add_on1.forward(features).tanh())
                .tanh()
        } else {
            sigmoid(self.add_on2.forward(relu(self.add_on1.forward(features))))
        }
    }

    /// Run the branch on a backbone feature map.
    pub fn forward(&self, features: Tensor<4>, epsilon: f64) -> BranchOutput {
        let z = self.latent(features);
        let [n, d, h, w] = z.dims();
        let p = self.prototypes.val();
        let m = p.dims()[0];
        let zf = z.clone().reshape([n, d, h * w]).swap_dims(1, 2); // [N, HW, D]
        if self.cosine {
            let pn = l2_normalise(p, 1);
            let zn = l2_normalise(zf.clone(), 2);
            let cos = zn.matmul(pn.clone().transpose().unsqueeze_dim::<3>(0)); // [N, HW, m]
            let proj = zf.matmul(pn.transpose().unsqueeze_dim::<3>(0));
            let best = cos.clone().max_dim(1).reshape([n, m]);
            let similarity = proj.max_dim(1).reshape([n, m]);
            BranchOutput {
                logits: self.last_layer.forward(similarity.clone()),
                best,
                similarity,
                maps: cos.swap_dims(1, 2).reshape([n, m, h, w]),
                latent: z,
            }
        } else {
            let z2 = zf.clone().powf_scalar(2.0).sum_dim(2); // [N, HW, 1]
            let p2 = p.clone().powf_scalar(2.0).sum_dim(1).reshape([1, 1, m]);
            let zp = zf.matmul(p.transpose().unsqueeze_dim::<3>(0)); // [N, HW, m]
            let dist = (z2 - zp.mul_scalar(2.0) + p2).clamp_min(0.0);
            let best = dist.clone().min_dim(1).reshape([n, m]);
            let similarity = log_similarity(best.clone(), epsilon);
            BranchOutput {
                logits: self.last_layer.forward(similarity.clone()),
                best,
                similarity,
                maps: dist.swap_dims(1, 2).reshape([n, m, h, w]),
                latent: z,
            }
        }
    }
}

/// `log((d + 1) / (d + ε))`: large for small distances, ~0 for large ones.
pub fn log_similarity<const D: usize>(distance: Tensor<D>, epsilon: f64) -> Tensor<D> {
    ((distance.clone() + 1.0) / (distance + epsilon)).log()
}

/// Divide by the L2 norm along `dim` (with a small floor so zero vectors stay finite).
pub fn l2_normalise<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let norm = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(dim)
        .sqrt()
        .clamp_min(1e-8);
    x / norm
}

/// A prototype network over a glassbox backbone.
#[derive(Module, Debug)]
pub struct PrototypeNet {
    /// The backbone; its `features` map feeds the branches.
    pub backbone: ImageClassifier,
    /// One branch (ProtoPNet) or two (ST-ProtoPNet: trivial, then support).
    pub branches: Vec<PrototypeBranch>,
    /// Number of classes.
    pub num_classes: usize,
    /// Prototypes per class per branch.
    pub per_class: usize,
    /// ST-ProtoPNet (cosine branches).
    pub cosine: bool,
    /// ε of the log similarity.
    pub epsilon: f64,
}

impl PrototypeNet {
    /// Every branch's output for a batch of images.
    pub fn branches_forward(&self, images: Tensor<4>) -> Vec<BranchOutput> {
        let f = self.backbone.features(images);
        self.branches
            .iter()
            .map(|b| b.forward(f.clone(), self.epsilon))
            .collect()
    }

    /// Class of prototype `j` (prototypes are stored class by class).
    pub fn prototype_class(&self, j: usize) -> usize {
        j / self.per_class
    }

    /// Prototype classes of one branch.
    pub fn prototype_classes(&self) -> Vec<usize> {
        (0..self.num_classes * self.per_class)
            .map(|j| self.prototype_class(j))
            .collect()
    }

    /// Check a batch of images for the backbone (shape, finite values).
    pub fn check_input(&self, images: &Tensor<4>) -> Result<()> {
        self.backbone.check_input(images)
    }
}

impl Classifier for PrototypeNet {
    /// The sum of the branches' logits (ST-ProtoPNet's prediction; ProtoPNet's one branch).
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.branches_forward(images)
            .into_iter()
            .map(|o| o.logits)
            .reduce(|a, b| a + b)
            .expect("at least one branch")
    }
}
