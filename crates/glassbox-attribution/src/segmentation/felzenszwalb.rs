//! Felzenszwalb & Huttenlocher's graph-based segmentation ("Efficient graph-based image
//! segmentation", IJCV 2004), the segmentation XRAI ranks regions of.
//!
//! The image is smoothed with a Gaussian, every pixel is joined to its 8 neighbours by an edge
//! weighted with the Euclidean distance of their (smoothed) channel vectors, and edges are
//! visited in increasing weight: an edge merges its two components when its weight is below
//! both components' internal difference plus `k / |C|` (`k = scale / 255`, as scikit-image
//! scales it). Components smaller than `min_size` are then merged along the remaining edges in
//! the same order. The result equals `skimage.segmentation.felzenszwalb` (checked against
//! scikit-image 0.26 in `tests/pair_xrai.rs`); labels are numbered in raster order of each
//! segment's first pixel, as scikit-image numbers them.

use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::{Segmentation, check_image, gaussian_filter_reflect};

/// Felzenszwalb's segmentation; the defaults are scikit-image's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Felzenszwalb {
    /// Observation scale `k` (scikit-image's `scale`): larger gives larger segments.
    pub scale: f64,
    /// Standard deviation of the Gaussian smoothing before segmentation (0 = none).
    pub sigma: f64,
    /// Smallest segment size, enforced by merging afterwards.
    pub min_size: usize,
}

impl Default for Felzenszwalb {
    fn default() -> Self {
        Self {
            scale: 1.0,
            sigma: 0.8,
            min_size: 20,
        }
    }
}

impl Felzenszwalb {
    /// Segment `image`, channel-major `[C, H, W]` (`dims`).
    pub fn segment(&self, image: &[f64], dims: [usize; 3]) -> Result<Segmentation> {
        self.segment_graph(&PixelGraph::new(image, dims, self.sigma)?)
    }

    fn check(&self) -> Result<()> {
        let sigma_ok = self.sigma.is_finite() && self.sigma >= 0.0;
        if !(self.scale.is_finite() && self.scale > 0.0 && sigma_ok) {
            return Err(Error::config(format!(
                "Felzenszwalb needs scale > 0 and sigma >= 0, got {} and {}",
                self.scale, self.sigma
            )));
        }
        Ok(())
    }

    /// Segment a pixel graph built with this `sigma` (several scales can share one graph).
    pub fn segment_graph(&self, graph: &PixelGraph) -> Result<Segmentation> {
        self.check()?;
        if graph.sigma != self.sigma {
            return Err(Error::config(format!(
                "pixel graph smoothed with sigma {}, segmentation asks for {}",
                graph.sigma, self.sigma
            )));
        }
        let [h, w] = graph.hw;
        let edges = &graph.edges;
        let k = self.scale / 255.0;
        let mut sets = DisjointSets::new(h * w);
        let mut internal = vec![0.0f64; h * w];
        for &(weight, a, b) in edges {
            let (ra, rb) = (sets.find(a), sets.find(b));
            if ra == rb {
                continue;
            }
            // scikit-image holds the thresholds in single precision; so do we, to agree with
            // it on edges that sit exactly at a threshold.
            let ta = (internal[ra] + k / sets.size[ra] as f64) as f32;
            let tb = (internal[rb] + k / sets.size[rb] as f64) as f32;
            if weight < ta.min(tb) as f64 {
                let root = sets.union(ra, rb);
                internal[root] = weight;
            }
        }
        for &(_, a, b) in edges {
            let (ra, rb) = (sets.find(a), sets.find(b));
            if ra != rb && (sets.size[ra] < self.min_size || sets.size[rb] < self.min_size) {
                sets.union(ra, rb);
            }
        }
        let mut label_of_root = vec![usize::MAX; h * w];
        let mut count = 0;
        let labels = (0..h * w)
            .map(|p| {
                let r = sets.find(p);
                if label_of_root[r] == usize::MAX {
                    label_of_root[r] = count;
                    count += 1;
                }
                label_of_root[r]
            })
            .collect();
        Ok(Segmentation {
            labels,
            count,
            height: h,
            width: w,
        })
    }
}

/// The 8-connected pixel graph of a smoothed image, edges sorted by weight: what
/// [`Felzenszwalb::segment_graph`] merges along. It depends on the image and `sigma` only, so
/// segmentations at several scales share it.
#[derive(Debug, Clone)]
pub struct PixelGraph {
    /// `(weight, pixel, neighbour)`, ascending in weight (stable: equal weights keep their
    /// raster order; scikit-image's quicksort leaves that order open).
    edges: Vec<(f64, usize, usize)>,
    hw: [usize; 2],
    sigma: f64,
}

impl PixelGraph {
    /// Smooth `image` (`[C, H, W]`, `dims`) with a Gaussian of `sigma` and link every pixel
    /// to its right, lower, lower-right and lower-left neighbours, weighted by the Euclidean
    /// distance of their channel vectors.
    pub fn new(image: &[f64], dims: [usize; 3], sigma: f64) -> Result<Self> {
        let [c, h, w] = dims;
        check_image(image, dims)?;
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(Error::config(format!(
                "Felzenszwalb needs sigma >= 0, got {sigma}"
            )));
        }
        let smooth: Vec<f64> = image
            .chunks(h * w)
            .flat_map(|plane| gaussian_filter_reflect(plane, h, w, sigma))
            .collect();
        let distance = |a: usize, b: usize| {
            (0..c)
                .map(|ch| {
                    let d = smooth[ch * h * w + a] - smooth[ch * h * w + b];
                    d * d
                })
                .sum::<f64>()
                .sqrt()
        };
        // 8-connectivity: each pixel to its right, lower, lower-right and lower-left neighbour.
        let mut edges: Vec<(f64, usize, usize)> = Vec::with_capacity(4 * h * w);
        for y in 0..h {
            for x in 0..w {
                let p = y * w + x;
                let mut link = |q: usize| edges.push((distance(p, q), p, q));
                if x + 1 < w {
                    link(p + 1);
                }
                if y + 1 < h {
                    link(p + w);
                    if x + 1 < w {
                        link(p + w + 1);
                    }
                    if x > 0 {
                        link(p + w - 1);
                    }
                }
            }
        }
        // Stable: equal weights keep their order (scikit-image's quicksort leaves it open).
        edges.sort_by(|a, b| a.0.total_cmp(&b.0));

        Ok(Self {
            edges,
            hw: [h, w],
            sigma,
        })
    }
}

/// Union–find whose root is the smallest index of its set.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        let mut root = x;
        while self.parent[root] != root {
            root = self.parent[root];
        }
        while self.parent[x] != root {
            let next = self.parent[x];
            self.parent[x] = root;
            x = next;
        }
        root
    }

    /// Join the sets of roots `a` and `b`; returns the new root.
    fn union(&mut self, a: usize, b: usize) -> usize {
        let (root, child) = if a < b { (a, b) } else { (b, a) };
        self.parent[child] = root;
        self.size[root] += self.size[child];
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_filter_keeps_constants_and_mass() {
        let plane = vec![2.5; 5 * 4];
        for v in gaussian_filter_reflect(&plane, 5, 4, 1.3) {
            assert!((v - 2.5).abs() < 1e-12);
        }
        // Reflection conserves the total of an impulse that stays away from the far edge.
        let mut impulse = vec![0.0; 9 * 9];
        impulse[4 * 9 + 4] = 1.0;
        let total: f64 = gaussian_filter_reflect(&impulse, 9, 9, 0.7).iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn two_flat_halves_are_two_segments() {
        let (h, w) = (6, 8);
        let image: Vec<f64> = (0..h * w)
            .map(|p| if p % w < 4 { 0.0 } else { 10.0 })
            .collect();
        let seg = Felzenszwalb {
            scale: 100.0,
            sigma: 0.0,
            min_size: 1,
        }
        .segment(&image, [1, h, w])
        .unwrap();
        assert_eq!(seg.count, 2);
        for p in 0..h * w {
            assert_eq!(seg.labels[p], usize::from(p % w >= 4));
        }
        assert_eq!(seg.masks()[1].iter().filter(|b| **b).count(), h * 4);
    }

    #[test]
    fn bad_images_are_errors() {
        let f = Felzenszwalb::default();
        assert!(f.segment(&[0.0; 5], [1, 2, 3]).is_err());
        assert!(f.segment(&[0.0, f64::NAN, 0.0, 0.0], [1, 2, 2]).is_err());
        let bad = Felzenszwalb { scale: -1.0, ..f };
        assert!(bad.segment(&[0.0; 4], [1, 2, 2]).is_err());
    }
}
