//! Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 28×28 grey images of 10 clothing classes.
//!
//! A stratified subset (10,000 train / 2,000 test) is embedded in the crate, so programs run
//! with no files at all; the full 60k/10k set loads from a directory of IDX files, e.g. the
//! one Debian's `dataset-fashion-mnist` installs at [`DEBIAN_DIR`].

use std::path::{Path, PathBuf};

use glassbox_core::{Error, Result};

use crate::LabeledImages;
use crate::idx::{IdxArray, parse_idx, read_idx_file};

/// Where Debian's `dataset-fashion-mnist` package installs the IDX files.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The ten class names, indexed by label.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Short class names (at most 8 characters) for captions.
pub const SHORT_NAMES: [&str; 10] = [
    "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot",
];

/// Per-pixel mean of the Fashion-MNIST training set (pixels scaled to `[0, 1]`).
pub const MEAN: f32 = 0.2860;
/// Per-pixel standard deviation of the Fashion-MNIST training set.
pub const STD: f32 = 0.3530;

/// Which split to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Split {
    /// Training images.
    Train,
    /// Test images.
    Test,
}

static EMBEDDED_TRAIN_IMAGES: &[u8] = include_bytes!("../data/train-images-idx3-ubyte.xz");
static EMBEDDED_TRAIN_LABELS: &[u8] = include_bytes!("../data/train-labels-idx1-ubyte.xz");
static EMBEDDED_TEST_IMAGES: &[u8] = include_bytes!("../data/test-images-idx3-ubyte.xz");
static EMBEDDED_TEST_LABELS: &[u8] = include_bytes!("../data/test-labels-idx1-ubyte.xz");

/// Entry points for Fashion-MNIST.
#[derive(Debug, Clone, Copy)]
pub struct FashionMnist;

impl FashionMnist {
    /// The embedded stratified subset: 1,000 images per class for `Train`, 200 for `Test`.
    pub fn embedded(split: Split) -> Result<LabeledImages> {
        let (images, labels) = match split {
            Split::Train => (EMBEDDED_TRAIN_IMAGES, EMBEDDED_TRAIN_LABELS),
            Split::Test => (EMBEDDED_TEST_IMAGES, EMBEDDED_TEST_LABELS),
        };
        from_idx(parse_idx(images)?, parse_idx(labels)?, "embedded subset")
    }

    /// The full split from `dir`, which holds `train-images-idx3-ubyte`, `t10k-labels-…` etc.,
    /// raw or with a `.gz`/`.xz` suffix.
    pub fn from_dir(dir: impl AsRef<Path>, split: Split) -> Result<LabeledImages> {
        let dir = dir.as_ref();
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let images = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let what = dir.display().to_string();
        let images = read_idx_file(&images).map_err(|e| tag(&images, e))?;
        let labels = read_idx_file(&labels).map_err(|e| tag(&labels, e))?;
        from_idx(images, labels, &what)
    }
}

fn tag(path: &Path, e: crate::idx::IdxError) -> Error {
    Error::format(path.display().to_string(), e.to_string())
}

fn find_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    for suffix in ["", ".gz", ".xz"] {
        let p = dir.join(format!("{stem}{suffix}"));
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::io(
        dir.join(stem),
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no {stem}, {stem}.gz or {stem}.xz in {}", dir.display()),
        ),
    ))
}

fn from_idx(images: IdxArray, labels: IdxArray, what: &str) -> Result<LabeledImages> {
    if images.dims.len() != 3 || images.dims[1] != 28 || images.dims[2] != 28 {
        return Err(Error::shape(
            format!("Fashion-MNIST images in {what}"),
            "[N, 28, 28]",
            &images.dims,
        ));
    }
    if labels.dims != [images.dims[0]] {
        return Err(Error::shape(
            format!("Fashion-MNIST labels in {what}"),
            format!("[{}] (one per image)", images.dims[0]),
            &labels.dims,
        ));
    }
    LabeledImages::new(
        images.data,
        labels.data,
        [1, 28, 28],
        CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
    )
}
