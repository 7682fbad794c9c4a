//! An in-memory labelled image set of `u8` pixels: the common form of every image dataset.

use glassbox_core::{Error, Result};

use crate::rng::SplitMix64;

/// `N` images of `channels × height × width` `u8` pixels with a class label each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledImages {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    channels: usize,
    height: usize,
    width: usize,
    class_names: Vec<String>,
}

impl LabeledImages {
    /// Build from row-major pixels (`N·C·H·W` bytes) and labels, validating sizes and that
    /// every label names a class.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        [channels, height, width]: [usize; 3],
        class_names: Vec<String>,
    ) -> Result<Self> {
        let per = channels * height * width;
        if per == 0 {
            return Err(Error::shape(
                "image size",
                "non-zero [C, H, W]",
                &[channels, height, width],
            ));
        }
        if labels.is_empty() {
            return Err(Error::Empty("labelled image set".into()));
        }
        if pixels.len() != labels.len() * per {
            return Err(Error::shape(
                "image pixels",
                format!("{} labels × {per} pixels", labels.len()),
                &[pixels.len()],
            ));
        }
        if class_names.is_empty() {
            return Err(Error::Empty("class names".into()));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= class_names.len()) {
            return Err(Error::OutOfRange {
                what: "label".into(),
                index: bad as usize,
                bound: class_names.len(),
            });
        }
        Ok(Self {
            pixels,
            labels,
            channels,
            height,
            width,
            class_names,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images (never true for a constructed set).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[C, H, W]` of every image.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// Class names, indexed by label.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// All labels in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Pixels of image `i` (`C·H·W` bytes). Panics if `i >= len()` like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let per = self.channels * self.height * self.width;
        &self.pixels[i * per..(i + 1) * per]
    }

    /// How many images each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_names.len()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// A new set holding the images at `indices` (in that order).
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::OutOfRange {
                what: "image".into(),
                index: bad,
                bound: self.len(),
            });
        }
        let mut pixels = Vec::with_capacity(indices.len() * self.image(0).len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Self::new(pixels, labels, self.image_shape(), self.class_names.clone())
    }

    /// A stratified sample: up to `per_class` images of each class, drawn with `seed`, kept in
    /// their original order.
    pub fn stratified(&self, per_class: usize, seed: u64) -> Result<Self> {
        let mut rng = SplitMix64::new(seed);
        let mut keep = Vec::new();
        for c in 0..self.num_classes() {
            let mut idx: Vec<usize> = (0..self.len())
                .filter(|&i| self.labels[i] as usize == c)
                .collect();
            rng.shuffle(&mut idx);
            keep.extend(idx.into_iter().take(per_class));
        }
        keep.sort_unstable();
        self.select(&keep)
    }
}
