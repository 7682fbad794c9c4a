//! Push (prototype projection): every prototype becomes the nearest latent patch of a training
//! image of its own class, and remembers which image and where.

use burn::module::Module;
use burn::prelude::*;
use glassbox_core::{Error, HostTensor, Result};
use glassbox_data::{Augment, BatchConfig, LabeledImages};
use serde::{Deserialize, Serialize};

use crate::model::PrototypeNet;

/// Where a prototype was projected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRecord {
    /// Branch (0 for ProtoPNet; 0 trivial, 1 support for ST-ProtoPNet).
    pub branch: usize,
    /// Prototype index within the branch.
    pub prototype: usize,
    /// Its class.
    pub class: usize,
    /// Index of the training image in the dataset pushed on.
    pub image: usize,
    /// Row of the latent patch.
    pub row: usize,
    /// Column of the latent patch.
    pub col: usize,
    /// Squared distance (L2 branch, smaller is closer) or cosine (cosine branch) before push.
    pub score: f64,
}

struct Best {
    score: f64,
    image: usize,
    row: usize,
    col: usize,
    latent: Vec<f32>,
}

/// Project every prototype of every branch onto its nearest latent patch among the images of
/// its class in `data` (squared L2 for ProtoPNet, cosine for ST-ProtoPNet, where the prototype
/// becomes the unit-normalised patch). Returns the pushed model (on the device it came from)
/// and one record per prototype. A class without images is an error: its prototypes would have
/// nothing to become.
pub fn push(
    mut model: PrototypeNet,
    data: &LabeledImages,
    batching: &BatchConfig,
    device: &Device,
) -> Result<(PrototypeNet, Vec<PushRecord>)> {
    let counts = data.class_counts();
    if let Some(c) = (0..model.num_classes).find(|&c| counts.get(c).copied().unwrap_or(0) == 0) {
        return Err(Error::Empty(format!(
            "training images of class {c} (push needs at least one per class)"
        )));
    }
    let order = BatchConfig {
        shuffle: false,
        drop_last: false,
        augment: Augment::default(),
        ..batching.clone()
    };
    let inference = model.clone().valid();
    let m = model.num_classes * model.per_class;
    let mut best: Vec<Vec<Option<Best>>> = (0..model.branches.len())
        .map(|_| (0..m).map(|_| None).collect())
        .collect();
    for batch in order.batches(data, 0, device)? {
        let outs = inference.branches_forward(batch.images);
        for (b, out) in outs.iter().enumerate() {
            let cosine = inference.branches[b].cosine;
            let maps = HostTensor::from_tensor(&out.maps);
            let latent = HostTensor::from_tensor(&out.latent);
            let [_, _, h, w] = out.maps.dims();
            let d = latent.shape[1];
            for (i, &idx) in batch.indices.iter().enumerate() {
                let class = data.labels()[idx] as usize;
                let own = class * model.per_class..(class + 1) * model.per_class;
                for (j, slot) in best[b].iter_mut().enumerate().take(own.end).skip(own.start) {
                    let map = &maps.values[(i * m + j) * h * w..(i * m + j + 1) * h * w];
                    let (pos, &v) = map
                        .iter()
                        .enumerate()
                        .min_by(|x, y| {
                            if cosine {
                                y.1.total_cmp(x.1)
                            } else {
                                x.1.total_cmp(y.1)
                            }
                        })
                        .expect("non-empty map");
                    let v = v as f64;
                    let better = match slot {
                        None => true,
                        Some(cur) => {
                            if cosine {
                                v > cur.score
                            } else {
                                v < cur.score
                            }
                        }
                    };
                    if better {
                        let (row, col) = (pos / w, pos % w);
                        let lat = (0..d)
                            .map(|c| latent.values[((i * d + c) * h + row) * w + col])
                            .collect();
                        *slot = Some(Best {
                            score: v,
                            image: idx,
                            row,
                            col,
                            latent: lat,
                        });
                    }
                }
            }
        }
    }
    let mut records = Vec::with_capacity(m * model.branches.len());
    for (b, branch_best) in best.into_iter().enumerate() {
        let cosine = model.branches[b].cosine;
        let mut values = Vec::new();
        for (j, found) in branch_best.into_iter().enumerate() {
            let found =
                found.ok_or_else(|| Error::Empty(format!("push candidates for prototype {j}")))?;
            let mut v = found.latent;
            if cosine {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-8);
                v.iter_mut().for_each(|x| *x /= norm);
            }
            values.extend(v);
            records.push(PushRecord {
                branch: b,
                prototype: j,
                class: model.prototype_class(j),
                image: found.image,
                row: found.row,
                col: found.col,
                score: found.score,
            });
        }
        let branch = &mut model.branches[b];
        let d = branch.prototypes.val().dims()[1];
        let param = branch.prototypes.clone();
        branch.prototypes = param.map(|t| {
            let new = Tensor::<2>::from_data(TensorData::new(values, [m, d]), &t.device());
            if t.device().is_autodiff() {
                new.require_grad()
            } else {
                new
            }
        });
    }
    Ok((model, records))
}
