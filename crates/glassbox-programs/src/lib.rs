//! # glassbox-programs
//!
//! "Learning Transformer Programs" (Friedman, Wettig & Chen, NeurIPS 2023) on burn:
//! transformers constrained so that, once trained and discretised, they *are* programs.
//!
//! * [`TransformerProgram`]: the disentangled-residual model (categorical and numerical
//!   heads, lookup-table MLPs, a linear classifier), trained with Gumbel-softmax relaxations
//!   ([`Sampling`]) annealed to argmax;
//! * [`train_program`]: the reference's training recipe and the discretised accuracy.

pub mod artifacts;
pub mod bias;
pub mod config;
pub mod ir;
pub mod model;
pub mod pipeline;
pub mod prune;
pub mod render;
pub mod sampling;
pub mod train;
pub mod verify;

pub use config::{ProgramConfig, ProgramShape, TrainConfig};
/// The sequence tasks (re-exported from `glassbox-data`).
pub use glassbox_data::rasp as data;
pub use ir::{Op, Program, ValueType};
pub use model::TransformerProgram;
pub use render::{Language, RenderOptions, render};
pub use sampling::Sampling;
pub use train::{TrainReport, accuracy, predict, train_program, train_program_from};
pub use verify::{Equivalence, check_equivalence};
