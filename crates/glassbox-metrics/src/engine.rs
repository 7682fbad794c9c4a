//! The perturbation engine: every perturbed copy of every image through the model, in batches
//! as large as a budget allows.
//!
//! Perturbation metrics differ only in *what* they perturb and *what* they read out. A metric
//! describes its copies with a [`Perturbation`] (how many copies of each image, and how to
//! write copy `j` of image `i` from the original); the engine streams them through the model in
//! chunks of at most [`PerturbationEngine::batch_size`] copies, on whatever device the context
//! names, and returns the logits of every copy. Copies are generated on the fly, so memory is
//! bounded by the chunk, not by the number of perturbations; any randomness lives in the
//! `Perturbation` (drawn up front from a seed), so results do not depend on the chunk size.

use burn::prelude::*;
use glassbox_core::check::check_finite_slice;
use glassbox_core::{Classifier, Error, HostTensor, Result};
use serde::{Deserialize, Serialize};

/// Describes the perturbed copies of a batch of images.
pub trait Perturbation {
    /// Number of copies of image `sample`.
    fn copies(&self, sample: usize) -> usize;
    /// Write copy `copy` of image `sample` into `out`, given the unperturbed image `original`
    /// (both `C·H·W`, channel-first). `out` arrives holding a copy of `original`.
    fn fill(&self, sample: usize, copy: usize, original: &[f32], out: &mut [f32]);
}

/// Which model output a metric reads for the target class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// The raw logit.
    #[default]
    Logit,
    /// The softmax probability.
    Softmax,
}

/// Runs perturbed copies through a model in bounded batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerturbationEngine {
    /// Most copies per forward pass (the memory budget, in images).
    pub batch_size: usize,
    /// Show a progress bar when a run has more than one chunk.
    pub progress: bool,
}

impl Default for PerturbationEngine {
    fn default() -> Self {
        Self {
            batch_size: 256,
            progress: false,
        }
    }
}

impl PerturbationEngine {
    /// An engine running at most `batch_size` copies per forward pass.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            ..Self::default()
        }
    }

    /// Builder: a progress bar on multi-chunk runs.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Builder: the batch size from a memory budget in bytes for the input copies
    /// (`bytes / (4 · C·H·W)`, at least 1). Activations scale with the same count.
    pub fn with_memory_budget(mut self, bytes: usize, image_len: usize) -> Self {
        self.batch_size = (bytes / (4 * image_len.max(1))).max(1);
        self
    }

    /// Logits of every copy `perturbation` describes for the images `[B, C, H, W]`.
    pub fn run(
        &self,
        model: &dyn Classifier,
        device: &Device,
        images: &HostTensor,
        perturbation: &dyn Perturbation,
    ) -> Result<Outputs> {
        let mut offsets = vec![0usize];
        let b = images.shape[0];
        for i in 0..b {
            offsets.push(offsets[i] + perturbation.copies(i));
        }
        let mut logits = Vec::new();
        let mut classes = 0usize;
        self.for_each_chunk(images, perturbation, |chunk, _| {
            let n = chunk.shape[0];
            let out = model.logits(chunk.to_tensor::<4>(device)?);
            let [rows, k] = out.dims();
            if rows != n {
                return Err(Error::shape(
                    "model logits",
                    format!("[{n}, K]"),
                    &[rows, k],
                ));
            }
            classes = k;
            let host = HostTensor::from_tensor(&out);
            check_finite_slice(&host.values, "model logits on perturbed inputs")?;
            logits.extend_from_slice(&host.values);
            Ok(())
        })?;
        Ok(Outputs {
            classes,
            offsets,
            logits,
        })
    }

    /// The unperturbed logits of `images`.
    pub fn predict(
        &self,
        model: &dyn Classifier,
        device: &Device,
        images: &HostTensor,
    ) -> Result<Outputs> {
        self.run(model, device, images, &Identity)
    }

    /// Stream the copies in chunks of at most `batch_size`: `f(chunk [n, C, H, W], samples)`
    /// gets each chunk and the image index of each of its copies, in order.
    pub fn for_each_chunk(
        &self,
        images: &HostTensor,
        perturbation: &dyn Perturbation,
        mut f: impl FnMut(HostTensor, &[usize]) -> Result<()>,
    ) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::Config(
                "perturbation engine batch_size must be >= 1".into(),
            ));
        }
        if images.shape.len() != 4 {
            return Err(Error::shape("engine images", "[B, C, H, W]", &images.shape));
        }
        let b = images.shape[0];
        let d: usize = images.shape[1..].iter().product();
        let total: usize = (0..b).map(|i| perturbation.copies(i)).sum();
        let bar = glassbox_core::train::counter_bar(
            self.progress && total > self.batch_size,
            total as u64,
            "perturbed copies",
        );
        let mut buf: Vec<f32> = Vec::with_capacity(self.batch_size.min(total) * d);
        let mut samples: Vec<usize> = Vec::with_capacity(self.batch_size.min(total));
        for i in 0..b {
            let original = &images.values[i * d..(i + 1) * d];
            for j in 0..perturbation.copies(i) {
                let start = buf.len();
                buf.extend_from_slice(original);
                perturbation.fill(i, j, original, &mut buf[start..]);
                samples.push(i);
                if samples.len() == self.batch_size {
                    let mut shape = images.shape.clone();
                    shape[0] = samples.len();
                    f(
                        HostTensor {
                            shape,
                            values: std::mem::take(&mut buf),
                        },
                        &samples,
                    )?;
                    bar.inc(samples.len() as u64);
                    samples.clear();
                }
            }
        }
        if !samples.is_empty() {
            let mut shape = images.shape.clone();
            shape[0] = samples.len();
            f(HostTensor { shape, values: buf }, &samples)?;
            bar.inc(samples.len() as u64);
        }
        bar.finish_and_clear();
        Ok(())
    }
}

/// One unperturbed copy per image.
struct Identity;

impl Perturbation for Identity {
    fn copies(&self, _: usize) -> usize {
        1
    }
    fn fill(&self, _: usize, _: usize, _: &[f32], _: &mut [f32]) {}
}

/// Logits of every perturbed copy, grouped by image.
#[derive(Debug, Clone)]
pub struct Outputs {
    classes: usize,
    offsets: Vec<usize>,
    logits: Vec<f32>,
}

impl Outputs {
    /// Number of classes K.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Copies of image `sample`.
    pub fn copies(&self, sample: usize) -> usize {
        self.offsets[sample + 1] - self.offsets[sample]
    }

    /// Logits `[K]` of copy `copy` of image `sample`.
    pub fn logits(&self, sample: usize, copy: usize) -> &[f32] {
        let row = self.offsets[sample] + copy;
        &self.logits[row * self.classes..(row + 1) * self.classes]
    }

    /// The target class's logit or softmax probability.
    pub fn read(&self, sample: usize, copy: usize, class: usize, readout: Readout) -> f64 {
        let row = self.logits(sample, copy);
        match readout {
            Readout::Logit => row[class] as f64,
            Readout::Softmax => softmax_at(row, class),
        }
    }

    /// The curve of `read` over all copies of `sample`.
    pub fn curve(&self, sample: usize, class: usize, readout: Readout) -> Vec<f64> {
        (0..self.copies(sample))
            .map(|j| self.read(sample, j, class, readout))
            .collect()
    }

    /// The arg-max class of a copy.
    pub fn argmax(&self, sample: usize, copy: usize) -> usize {
        argmax(self.logits(sample, copy))
    }
}

/// Softmax probability of `class` from a logit row, computed stably in f64.
pub fn softmax_at(row: &[f32], class: usize) -> f64 {
    let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
    (row[class] as f64 - m).exp() / z
}

/// Index of the largest value (first on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
