//! The one [`Perturbation`] behind every removal-style metric: copy `j` of image `i` replaces
//! a span of that image's feature order with a source of values.

use std::ops::Range;

use glassbox_core::rng::SplitMix64;

use crate::engine::Perturbation;
use crate::{MetricBatch, PerturbBaseline};

/// Where replaced elements take their values from.
pub(crate) enum Source {
    /// One value per copy (a baseline: image min, max, mean, constant or a uniform draw).
    Values(Vec<Vec<f32>>),
    /// The same element of a substrate image (e.g. zeros or a blurred copy).
    Image(Vec<Vec<f32>>),
    /// Start from the substrate image and write the *original* values back into the span
    /// (insertion curves).
    Insert(Vec<Vec<f32>>),
}

/// Removal of feature groups: image `i`'s copy `j` changes the elements of
/// `groups[order[i][spans[i][j]]]`.
pub(crate) struct FeatureRemoval<'g> {
    /// Element indices of each feature, shared by all images (`per_sample == false`) or one
    /// list per image (segmentations).
    pub groups: GroupSet<'g>,
    /// Feature order per image.
    pub orders: Vec<Vec<usize>>,
    /// Span of the order each copy replaces, per image.
    pub spans: Vec<Vec<Range<usize>>>,
    /// The replacement values.
    pub source: Source,
}

/// Element groups: one list for all images or one per image.
pub(crate) enum GroupSet<'g> {
    Shared(&'g [Vec<usize>]),
    PerSample(Vec<Vec<Vec<usize>>>),
}

impl GroupSet<'_> {
    pub fn of(&self, sample: usize) -> &[Vec<usize>] {
        match self {
            GroupSet::Shared(g) => g,
            GroupSet::PerSample(g) => &g[sample],
        }
    }
}

impl Perturbation for FeatureRemoval<'_> {
    fn copies(&self, sample: usize) -> usize {
        self.spans[sample].len()
    }

    fn fill(&self, sample: usize, copy: usize, original: &[f32], out: &mut [f32]) {
        let groups = self.groups.of(sample);
        let features = &self.orders[sample][self.spans[sample][copy].clone()];
        match &self.source {
            Source::Values(v) => {
                let value = v[sample][copy];
                for &f in features {
                    for &e in &groups[f] {
                        out[e] = value;
                    }
                }
            }
            Source::Image(img) => {
                for &f in features {
                    for &e in &groups[f] {
                        out[e] = img[sample][e];
                    }
                }
            }
            Source::Insert(img) => {
                out.copy_from_slice(&img[sample]);
                for &f in features {
                    for &e in &groups[f] {
                        out[e] = original[e];
                    }
                }
            }
        }
    }
}

/// Spans `[0, k), [0, 2k), …` up to all `n` features: cumulative removal in `steps` copies.
/// `first` = 0 includes the empty span (the unperturbed image) as copy 0.
pub(crate) fn cumulative_spans(n: usize, k: usize, first: usize, last: usize) -> Vec<Range<usize>> {
    (first..=last).map(|t| 0..(t * k).min(n)).collect()
}

/// Spans `[0, k), [k, 2k), …`: each copy removes only its own step.
pub(crate) fn disjoint_spans(n: usize, k: usize) -> Vec<Range<usize>> {
    (0..n.div_ceil(k))
        .map(|t| t * k..((t + 1) * k).min(n))
        .collect()
}

/// One baseline value per copy of each image (`Uniform` draws are seeded per image, so they do
/// not depend on batching).
pub(crate) fn baseline_values(
    batch: &MetricBatch,
    baseline: PerturbBaseline,
    copies: impl Fn(usize) -> usize,
    seed: u64,
) -> Vec<Vec<f32>> {
    (0..batch.len())
        .map(|i| {
            let mut rng = SplitMix64::derive(seed, i as u64);
            let x = batch.input(i);
            (0..copies(i)).map(|_| baseline.draw(x, &mut rng)).collect()
        })
        .collect()
}

/// Element groups of a [`crate::FeatureLayout`]: one group per feature.
pub(crate) fn layout_groups(layout: &crate::FeatureLayout) -> Vec<Vec<usize>> {
    (0..layout.count)
        .map(|f| layout.elements(f).collect())
        .collect()
}

/// Element groups of pixel patches over all `c` channels.
pub(crate) fn patch_groups(
    patches: &[crate::features::Patch],
    c: usize,
    h: usize,
    w: usize,
) -> Vec<Vec<usize>> {
    patches
        .iter()
        .map(|p| {
            (0..c)
                .flat_map(|ch| p.pixels(w).map(move |px| ch * h * w + px))
                .collect()
        })
        .collect()
}
