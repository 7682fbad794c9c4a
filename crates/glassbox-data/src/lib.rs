//! # glassbox-data
//!
//! Datasets for glassbox, loaded without any download:
//!
//! * [`idx`]: a strict IDX reader (raw, gzip or xz) and writer;
//! * [`FashionMnist`]: the embedded stratified subset (10k train / 2k test) or the full set
//!   from a directory;
//! * [`LabeledImages`]: the in-memory image set every loader returns;
//! * [`fss`]: few-shot segmentation episodes composed from Fashion-MNIST items, with
//!   PASCAL-5i-style class folds;
//! * [`rasp`]: the synthetic sequence tasks of Learning Transformer Programs (reverse, hist,
//!   sort, Dyck, induction, ...), seeded and split like the reference;
//! * [`BatchConfig`]: seeded shuffling, normalisation and augmentation into tensors on any
//!   device.

pub mod batch;
pub mod fashion_mnist;
pub mod fss;
pub mod idx;
mod images;
pub mod rasp;

/// The seeded generator used for shuffling and augmentation (defined in `glassbox-core`).
pub use glassbox_core::rng;

pub use batch::{Augment, BatchConfig, Batches, ImageBatch, Normalize};
pub use fashion_mnist::{FashionMnist, Split};
pub use fss::{Episode, EpisodeBatch, EpisodeSampler, FoldRole, Scene, SceneConfig, episode_batch};
pub use images::LabeledImages;
