//! Batching a [`LabeledImages`] set into tensors on a device: seeded shuffling,
//! normalisation and light augmentation.

use burn::prelude::*;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::LabeledImages;
use crate::rng::SplitMix64;

/// Per-channel affine normalisation applied after scaling pixels to `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    /// Subtracted first.
    pub mean: f32,
    /// Divided by next; must be > 0.
    pub std: f32,
}

/// Light augmentation for training batches (off by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Augment {
    /// Random translation by up to this many pixels in each direction (zero padding).
    pub max_shift: usize,
    /// Mirror left–right with probability 1/2.
    pub horizontal_flip: bool,
}

/// How to cut a dataset into batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchConfig {
    /// Images per batch.
    pub batch_size: usize,
    /// Shuffle the order every epoch (seeded by `seed` and the epoch number).
    pub shuffle: bool,
    /// Seed of the shuffle and augmentation streams.
    pub seed: u64,
    /// Drop a final batch smaller than `batch_size`.
    pub drop_last: bool,
    /// Normalisation; `None` keeps pixels in `[0, 1]`.
    pub normalize: Option<Normalize>,
    /// Augmentation.
    pub augment: Augment,
}

impl BatchConfig {
    /// Sequential, unnormalised, unaugmented batches of `batch_size`.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            shuffle: false,
            seed: 0,
            drop_last: false,
            normalize: None,
            augment: Augment::default(),
        }
    }

    /// Shuffle every epoch with `seed`.
    pub fn with_shuffle(mut self, seed: u64) -> Self {
        self.shuffle = true;
        self.seed = seed;
        self
    }

    /// Normalise with `mean` and `std`.
    pub fn with_normalize(mut self, mean: f32, std: f32) -> Self {
        self.normalize = Some(Normalize { mean, std });
        self
    }

    /// Apply `augment` (training only, usually).
    pub fn with_augment(mut self, augment: Augment) -> Self {
        self.augment = augment;
        self
    }

    /// Drop a final short batch.
    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::config("batch_size must be >= 1"));
        }
        if let Some(n) = self.normalize
            && !(n.std.is_finite() && n.std > 0.0 && n.mean.is_finite())
        {
            return Err(Error::config(format!(
                "normalisation needs finite mean and std > 0, got mean {} std {}",
                n.mean, n.std
            )));
        }
        Ok(())
    }

    /// Iterate over the batches of `data` for `epoch` (1-based or 0-based: only used as a
    /// seed stream), creating tensors on `device`.
    pub fn batches<'a>(
        &'a self,
        data: &'a LabeledImages,
        epoch: usize,
        device: &'a Device,
    ) -> Result<Batches<'a>> {
        self.validate()?;
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = SplitMix64::derive(self.seed, epoch as u64);
        if self.shuffle {
            rng.shuffle(&mut order);
        }
        if self.drop_last {
            order.truncate(order.len() - order.len() % self.batch_size);
        }
        if order.is_empty() {
            return Err(Error::Empty(format!(
                "batches (dataset of {} images, batch size {}, drop_last)",
                data.len(),
                self.batch_size
            )));
        }
        Ok(Batches {
            config: self,
            data,
            device,
            order,
            pos: 0,
            rng,
        })
    }

    /// Build one batch from the images at `indices` (no augmentation), e.g. for evaluation
    /// or for explaining chosen samples.
    pub fn batch_of(
        &self,
        data: &LabeledImages,
        indices: &[usize],
        device: &Device,
    ) -> Result<ImageBatch> {
        self.validate()?;
        if indices.is_empty() {
            return Err(Error::Empty("batch indices".into()));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= data.len()) {
            return Err(Error::OutOfRange {
                what: "image".into(),
                index: bad,
                bound: data.len(),
            });
        }
        Ok(build_batch(
            data,
            indices,
            self.normalize,
            Augment::default(),
            None,
            device,
        ))
    }
}

/// A batch of images `[B, C, H, W]` with their labels `[B]`.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// Images as floats, normalised as configured.
    pub images: Tensor<4>,
    /// Class labels.
    pub labels: Tensor<1, Int>,
    /// Dataset indices of the images, in batch order.
    pub indices: Vec<usize>,
}

/// Iterator over the batches of one epoch; see [`BatchConfig::batches`].
#[derive(Debug)]
pub struct Batches<'a> {
    config: &'a BatchConfig,
    data: &'a LabeledImages,
    device: &'a Device,
    order: Vec<usize>,
    pos: usize,
    rng: SplitMix64,
}

impl Iterator for Batches<'_> {
    type Item = ImageBatch;

    fn next(&mut self) -> Option<ImageBatch> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.config.batch_size).min(self.order.len());
        let indices = &self.order[self.pos..end];
        self.pos = end;
        Some(build_batch(
            self.data,
            indices,
            self.config.normalize,
            self.config.augment,
            Some(&mut self.rng),
            self.device,
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.pos).div_ceil(self.config.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

fn build_batch(
    data: &LabeledImages,
    indices: &[usize],
    normalize: Option<Normalize>,
    augment: Augment,
    mut rng: Option<&mut SplitMix64>,
    device: &Device,
) -> ImageBatch {
    let [c, h, w] = data.image_shape();
    let per = c * h * w;
    let (mean, inv_std) = normalize.map_or((0.0, 1.0), |n| (n.mean, 1.0 / n.std));
    let background = (0.0 - mean) * inv_std;
    let mut values = vec![background; indices.len() * per];
    let mut labels = Vec::with_capacity(indices.len());
    for (b, &i) in indices.iter().enumerate() {
        let (dy, dx, flip) = match rng.as_deref_mut() {
            Some(r) if augment.max_shift > 0 || augment.horizontal_flip => {
                let span = 2 * augment.max_shift + 1;
                let dy = r.below(span) as isize - augment.max_shift as isize;
                let dx = r.below(span) as isize - augment.max_shift as isize;
                let flip = augment.horizontal_flip && r.next_u64() & 1 == 1;
                (dy, dx, flip)
            }
            _ => (0, 0, false),
        };
        let src = data.image(i);
        let dst = &mut values[b * per..(b + 1) * per];
        for ch in 0..c {
            for y in 0..h {
                let sy = y as isize - dy;
                if sy < 0 || sy >= h as isize {
                    continue;
                }
                for x in 0..w {
                    let sx = x as isize - dx;
                    if sx < 0 || sx >= w as isize {
                        continue;
                    }
                    let sx = if flip {
                        w - 1 - sx as usize
                    } else {
                        sx as usize
                    };
                    let v = src[ch * h * w + sy as usize * w + sx] as f32 / 255.0;
                    dst[ch * h * w + y * w + x] = (v - mean) * inv_std;
                }
            }
        }
        labels.push(data.labels()[i] as i64);
    }
    let n = indices.len();
    ImageBatch {
        images: Tensor::from_data(TensorData::new(values, [n, c, h, w]), device),
        labels: Tensor::from_data(TensorData::new(labels, [n]), device),
        indices: indices.to_vec(),
    }
}
