//! Few-shot segmentation episodes composed from Fashion-MNIST items ("FSS-Fashion").
//!
//! PASCAL-5i and COCO-20i cannot be downloaded here, so the benchmark is built from real
//! images we ship: each scene is a `canvas × canvas` grey image with a smooth random texture
//! as background, onto which Fashion-MNIST items are pasted at random positions and scales.
//! An item's pixel mask is its silhouette (pixels brighter than
//! [`SceneConfig::mask_threshold`]); items pasted later occlude earlier ones, and target items
//! are pasted last so their masks are exactly what is visible of them.
//!
//! Classes are split into [`FOLDS`] folds as PASCAL-5i does: a model trains on the episodes
//! of eight classes ([`FoldRole::Train`]) and is tested on the two held-out classes of its fold
//! ([`FoldRole::Test`]). Fold `f` holds out classes `f` and `f + 5` (e.g. fold 0: T-shirt/top
//! and Sandal), so every held-out class has a look-alike among the training classes.
//! Training episodes never show a held-out item, not even as a distractor.
//!
//! Episode `i` of a sampler is a pure function of `(seed, i)`: episodes are generated on the
//! fly, reproducibly, and nothing is downloaded.

use burn::prelude::*;
use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, FewShotInput, Result};
use serde::{Deserialize, Serialize};

use crate::LabeledImages;

/// Number of class folds (two held-out classes each).
pub const FOLDS: usize = 5;

/// The two held-out (test) classes of `fold`.
pub fn fold_classes(fold: usize) -> Result<[usize; 2]> {
    if fold >= FOLDS {
        return Err(Error::OutOfRange {
            what: "fold".into(),
            index: fold,
            bound: FOLDS,
        });
    }
    Ok([fold, fold + FOLDS])
}

/// Which side of a fold a sampler draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldRole {
    /// The eight training classes (targets and distractors).
    Train,
    /// The two held-out classes as targets; distractors from any other class.
    Test,
}

/// How scenes are composed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneConfig {
    /// Side of the square canvas in pixels.
    pub canvas: usize,
    /// Smallest and largest pasted item side (items are 28×28, resized bilinearly).
    pub item_size: [usize; 2],
    /// Fewest and most target items in a query scene.
    pub query_targets: [usize; 2],
    /// Fewest and most distractor items in a query scene.
    pub query_distractors: [usize; 2],
    /// Fewest and most distractor items in a support scene (supports hold one target item).
    pub support_distractors: [usize; 2],
    /// Peak amplitude of the background texture (items are in `[0, 1]`).
    pub background: f32,
    /// An item pixel brighter than this belongs to the item's mask.
    pub mask_threshold: f32,
    /// Fewest visible mask pixels a target item must keep (smaller draws are redrawn).
    pub min_target_pixels: usize,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            canvas: 64,
            item_size: [22, 36],
            query_targets: [1, 2],
            query_distractors: [1, 2],
            support_distractors: [0, 1],
            background: 0.3,
            mask_threshold: 0.1,
            min_target_pixels: 40,
        }
    }
}

impl SceneConfig {
    /// Check value ranges.
    pub fn validate(&self) -> Result<()> {
        let [lo, hi] = self.item_size;
        if lo == 0 || lo > hi || hi > self.canvas {
            return Err(Error::config(format!(
                "scene item_size must satisfy 0 < min <= max <= canvas ({}), got {:?}",
                self.canvas, self.item_size
            )));
        }
        for (name, [a, b]) in [
            ("query_targets", self.query_targets),
            ("query_distractors", self.query_distractors),
            ("support_distractors", self.support_distractors),
        ] {
            if a > b {
                return Err(Error::config(format!(
                    "scene {name} must be [min, max] with min <= max, got [{a}, {b}]"
                )));
            }
        }
        if self.query_targets[0] == 0 {
            return Err(Error::config(
                "scene query_targets must be at least 1 (a query needs a target)",
            ));
        }
        if !(0.0..=1.0).contains(&self.background) || !(0.0..1.0).contains(&self.mask_threshold) {
            return Err(Error::config(format!(
                "scene background must be in [0, 1] and mask_threshold in [0, 1), got {} and {}",
                self.background, self.mask_threshold
            )));
        }
        Ok(())
    }
}

/// One composed image with the mask of its target class.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Grey pixels in `[0, 1]`, row-major `canvas × canvas`.
    pub image: Vec<f32>,
    /// 1 where a target-class item is visible, 0 elsewhere.
    pub mask: Vec<u8>,
    /// 1 where any item (target or distractor) is visible: what a model that segments
    /// "objects" without reading the support class would predict.
    pub objects: Vec<u8>,
}

/// A 1-way K-shot episode: a query scene and `K` annotated support scenes of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// The target class (a Fashion-MNIST label).
    pub class: usize,
    /// The query scene and its ground-truth mask.
    pub query: Scene,
    /// The support scenes (K shots) with their masks.
    pub support: Vec<Scene>,
    /// Canvas side.
    pub side: usize,
}

/// Seeded generator of episodes for one fold and role.
#[derive(Debug, Clone)]
pub struct EpisodeSampler<'a> {
    images: &'a LabeledImages,
    by_class: Vec<Vec<usize>>,
    targets: Vec<usize>,
    distractors: Vec<usize>,
    scene: SceneConfig,
    shots: usize,
    seed: u64,
}

impl<'a> EpisodeSampler<'a> {
    /// A sampler of `shots`-shot episodes from `images` (28×28 grey, ten classes) for `fold`
    /// and `role`.
    pub fn new(
        images: &'a LabeledImages,
        scene: SceneConfig,
        fold: usize,
        role: FoldRole,
        shots: usize,
        seed: u64,
    ) -> Result<Self> {
        scene.validate()?;
        let held_out = fold_classes(fold)?;
        if shots == 0 {
            return Err(Error::Empty("support set (shots = 0)".into()));
        }
        let [c, _, _] = images.image_shape();
        if c != 1 || images.num_classes() != 2 * FOLDS {
            return Err(Error::shape(
                "few-shot source images",
                format!("grey images of {} classes", 2 * FOLDS),
                &[images.num_classes(), c],
            ));
        }
        let mut by_class = vec![Vec::new(); images.num_classes()];
        for (i, &l) in images.labels().iter().enumerate() {
            by_class[l as usize].push(i);
        }
        let train: Vec<usize> = (0..2 * FOLDS).filter(|c| !held_out.contains(c)).collect();
        let (targets, distractors) = match role {
            FoldRole::Train => (train.clone(), train),
            FoldRole::Test => (held_out.to_vec(), (0..2 * FOLDS).collect()),
        };
        if let Some(&empty) = targets
            .iter()
            .chain(&distractors)
            .find(|&&c| by_class[c].is_empty())
        {
            return Err(Error::Empty(format!(
                "images of class {empty} (needed by fold {fold})"
            )));
        }
        Ok(Self {
            images,
            by_class,
            targets,
            distractors,
            scene,
            shots,
            seed,
        })
    }

    /// Shots per episode.
    pub fn shots(&self) -> usize {
        self.shots
    }

    /// The classes episodes are drawn for.
    pub fn target_classes(&self) -> &[usize] {
        &self.targets
    }

    /// Episode `index` (a pure function of the seed and the index).
    pub fn episode(&self, index: u64) -> Episode {
        let mut rng = SplitMix64::derive(self.seed, index);
        let class = self.targets[rng.below(self.targets.len())];
        let [qt, qd] = [self.scene.query_targets, self.scene.query_distractors];
        let query = self.scene(&mut rng, class, qt, qd);
        let support = (0..self.shots)
            .map(|_| self.scene(&mut rng, class, [1, 1], self.scene.support_distractors))
            .collect();
        Episode {
            class,
            query,
            support,
            side: self.scene.canvas,
        }
    }

    /// Episodes `start..start + count`.
    pub fn episodes(&self, start: u64, count: usize) -> Vec<Episode> {
        (start..start + count as u64)
            .map(|i| self.episode(i))
            .collect()
    }

    fn scene(
        &self,
        rng: &mut SplitMix64,
        class: usize,
        targets: [usize; 2],
        distractors: [usize; 2],
    ) -> Scene {
        let side = self.scene.canvas;
        // Retry until every target keeps enough visible pixels; a fixed number of attempts
        // keeps generation total, the last draw is used as is.
        let mut last = None;
        for _ in 0..16 {
            let mut image = background(rng, side, self.scene.background);
            let mut mask = vec![0u8; side * side];
            let mut objects = vec![0u8; side * side];
            let n_d = range(rng, distractors);
            let others: Vec<usize> = self
                .distractors
                .iter()
                .copied()
                .filter(|&c| c != class)
                .collect();
            for _ in 0..n_d {
                if others.is_empty() {
                    break;
                }
                let c = others[rng.below(others.len())];
                self.paste(rng, c, &mut image, &mut mask, &mut objects, 0);
            }
            let n_t = range(rng, targets);
            let mut ok = true;
            for _ in 0..n_t {
                ok &= self.paste(rng, class, &mut image, &mut mask, &mut objects, 1)
                    >= self.scene.min_target_pixels;
            }
            let visible = mask.iter().filter(|&&m| m == 1).count();
            let scene = Scene {
                image,
                mask,
                objects,
            };
            if ok && visible >= self.scene.min_target_pixels {
                return scene;
            }
            last = Some(scene);
        }
        last.expect("at least one attempt")
    }

    /// Paste a random item of `class`, writing `label` into `mask` under its silhouette;
    /// returns the silhouette's pixel count.
    fn paste(
        &self,
        rng: &mut SplitMix64,
        class: usize,
        image: &mut [f32],
        mask: &mut [u8],
        objects: &mut [u8],
        label: u8,
    ) -> usize {
        let side = self.scene.canvas;
        let pool = &self.by_class[class];
        let item = self.images.image(pool[rng.below(pool.len())]);
        let [lo, hi] = self.scene.item_size;
        let size = lo + rng.below(hi - lo + 1);
        let resized = resize_bilinear(item, 28, size);
        let (y0, x0) = (rng.below(side - size + 1), rng.below(side - size + 1));
        let mut count = 0;
        for y in 0..size {
            for x in 0..size {
                let v = resized[y * size + x];
                if v > self.scene.mask_threshold {
                    let p = (y0 + y) * side + x0 + x;
                    image[p] = v;
                    mask[p] = label;
                    objects[p] = 1;
                    count += 1;
                }
            }
        }
        count
    }
}

fn range(rng: &mut SplitMix64, [lo, hi]: [usize; 2]) -> usize {
    lo + rng.below(hi - lo + 1)
}

/// A smooth texture: a few random low-frequency plane waves plus fine grain, in
/// `[0, amplitude]`.
fn background(rng: &mut SplitMix64, side: usize, amplitude: f32) -> Vec<f32> {
    let waves: Vec<[f32; 4]> = (0..3)
        .map(|_| {
            let angle = rng.unit() * std::f32::consts::TAU;
            let freq = 0.05 + 0.25 * rng.unit();
            [
                freq * angle.cos(),
                freq * angle.sin(),
                rng.unit() * std::f32::consts::TAU,
                0.5 + 0.5 * rng.unit(),
            ]
        })
        .collect();
    let total: f32 = waves.iter().map(|w| w[3]).sum::<f32>() + 0.3;
    (0..side * side)
        .map(|p| {
            let (y, x) = ((p / side) as f32, (p % side) as f32);
            let smooth: f32 = waves
                .iter()
                .map(|[fx, fy, ph, a]| a * 0.5 * (1.0 + (fx * x + fy * y + ph).sin()))
                .sum();
            amplitude * (smooth + 0.3 * rng.unit()) / total
        })
        .collect()
}

/// Resize a `from × from` u8 image to `to × to` floats in `[0, 1]` (bilinear, half-pixel
/// centres, edge-clamped: PyTorch's `align_corners=False`).
fn resize_bilinear(src: &[u8], from: usize, to: usize) -> Vec<f32> {
    let scale = from as f32 / to as f32;
    let coord = |i: usize| {
        let c = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (c.floor() as usize).min(from - 1);
        let i1 = (i0 + 1).min(from - 1);
        (i0, i1, c - i0 as f32)
    };
    let mut out = vec![0.0; to * to];
    for y in 0..to {
        let (y0, y1, fy) = coord(y);
        for x in 0..to {
            let (x0, x1, fx) = coord(x);
            let at = |yy: usize, xx: usize| src[yy * from + xx] as f32 / 255.0;
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
            let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
            out[y * to + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
}

/// Episodes stacked into a model input, with the query ground truth.
#[derive(Debug, Clone)]
pub struct EpisodeBatch {
    /// Queries, supports and support masks; images normalised as configured.
    pub input: FewShotInput,
    /// Query ground-truth masks `[N, H, W]` (1 = target class).
    pub query_masks: Tensor<3>,
    /// The target class of each episode.
    pub classes: Vec<usize>,
}

/// Stack `episodes` (same shot count and canvas) into tensors on `device`, normalising
/// images as `(x − mean)/std` (so an all-zero image is the mean grey).
pub fn episode_batch(
    episodes: &[Episode],
    [mean, std]: [f32; 2],
    device: &Device,
) -> Result<EpisodeBatch> {
    let first = episodes
        .first()
        .ok_or_else(|| Error::Empty("episode batch".into()))?;
    let (k, side) = (first.support.len(), first.side);
    if let Some(bad) = episodes
        .iter()
        .find(|e| e.support.len() != k || e.side != side)
    {
        return Err(Error::shape(
            "episode in batch",
            format!("{k} shots of {side}×{side}"),
            &[bad.support.len(), bad.side],
        ));
    }
    if std <= 0.0 || !std.is_finite() || !mean.is_finite() {
        return Err(Error::config(format!(
            "normalisation needs a finite mean and std > 0, got {mean}, {std}"
        )));
    }
    let n = episodes.len();
    let px = side * side;
    let norm = |v: &f32| (v - mean) / std;
    let mut query = Vec::with_capacity(n * px);
    let mut query_masks = Vec::with_capacity(n * px);
    let mut support = Vec::with_capacity(n * k * px);
    let mut support_masks = Vec::with_capacity(n * k * px);
    for e in episodes {
        query.extend(e.query.image.iter().map(norm));
        query_masks.extend(e.query.mask.iter().map(|&m| m as f32));
        for s in &e.support {
            support.extend(s.image.iter().map(norm));
            support_masks.extend(s.mask.iter().map(|&m| m as f32));
        }
    }
    let t = |v: Vec<f32>, shape: Vec<usize>| TensorData::new(v, shape);
    Ok(EpisodeBatch {
        input: FewShotInput {
            query: Tensor::from_data(t(query, vec![n, 1, side, side]), device),
            support_images: Tensor::from_data(t(support, vec![n, k, 1, side, side]), device),
            support_masks: Tensor::from_data(t(support_masks, vec![n, k, side, side]), device),
        },
        query_masks: Tensor::from_data(t(query_masks, vec![n, side, side]), device),
        classes: episodes.iter().map(|e| e.class).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> LabeledImages {
        crate::FashionMnist::embedded(crate::Split::Test).unwrap()
    }

    #[test]
    fn episodes_are_reproducible_and_respect_folds() {
        let imgs = images();
        let s =
            EpisodeSampler::new(&imgs, SceneConfig::default(), 2, FoldRole::Train, 5, 7).unwrap();
        assert_eq!(s.episode(3), s.episode(3));
        assert_ne!(s.episode(3).query, s.episode(4).query);
        for i in 0..50 {
            let e = s.episode(i);
            assert!(![2, 7].contains(&e.class));
            assert_eq!(e.support.len(), 5);
            assert!(e.query.mask.iter().filter(|&&m| m == 1).count() >= 40);
        }
        let t =
            EpisodeSampler::new(&imgs, SceneConfig::default(), 2, FoldRole::Test, 1, 7).unwrap();
        assert!((0..50).all(|i| [2, 7].contains(&t.episode(i).class)));
    }

    #[test]
    fn masks_are_item_silhouettes() {
        let imgs = images();
        let s =
            EpisodeSampler::new(&imgs, SceneConfig::default(), 0, FoldRole::Train, 1, 1).unwrap();
        let e = s.episode(0);
        let thr = SceneConfig::default().mask_threshold;
        for (v, m) in e.query.image.iter().zip(&e.query.mask) {
            // A target pixel is always an item pixel (bright); the background never exceeds
            // its amplitude.
            if *m == 1 {
                assert!(*v > thr);
            }
            assert!((0.0..=1.0).contains(v));
        }
    }

    #[test]
    fn bad_configs_are_errors() {
        let imgs = images();
        let sc = SceneConfig::default();
        assert!(EpisodeSampler::new(&imgs, sc.clone(), 5, FoldRole::Train, 1, 0).is_err());
        assert!(EpisodeSampler::new(&imgs, sc.clone(), 0, FoldRole::Train, 0, 0).is_err());
        let bad = SceneConfig {
            item_size: [40, 30],
            ..sc
        };
        assert!(EpisodeSampler::new(&imgs, bad, 0, FoldRole::Train, 1, 0).is_err());
    }

    #[test]
    fn resize_matches_identity_and_constant() {
        let src: Vec<u8> = (0..28 * 28).map(|i| (i % 251) as u8).collect();
        let same = resize_bilinear(&src, 28, 28);
        assert!(
            same.iter()
                .zip(&src)
                .all(|(a, b)| (a - *b as f32 / 255.0).abs() < 1e-6)
        );
        let flat = resize_bilinear(&[200u8; 28 * 28], 28, 33);
        assert!(flat.iter().all(|v| (v - 200.0 / 255.0).abs() < 1e-6));
    }
}
