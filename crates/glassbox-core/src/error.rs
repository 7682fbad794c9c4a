//! The one error type every glassbox crate returns.

use std::path::PathBuf;

/// Result alias used across glassbox.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when building, running, explaining or saving a model.
///
/// Each variant names *what* was wrong so that the message alone tells a user how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor or buffer had the wrong shape.
    #[error("shape mismatch for {what}: expected {expected}, got {got:?}")]
    Shape {
        /// What was being checked (e.g. "input images").
        what: String,
        /// The expected shape, in words (e.g. "[N, 1, 28, 28]").
        expected: String,
        /// The shape actually received.
        got: Vec<usize>,
    },
    /// A tensor contained NaN or infinite values where finite ones are required.
    #[error("{what} contains {count} non-finite value(s) (NaN or inf)")]
    NonFinite {
        /// What was being checked.
        what: String,
        /// How many values were not finite.
        count: usize,
    },
    /// Something that must not be empty was empty (a dataset, a support set, a batch).
    #[error("{0} is empty")]
    Empty(String),
    /// A configuration value is out of its valid range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A class index, sample index or similar was out of range.
    #[error("{what} index {index} is out of range (must be < {bound})")]
    OutOfRange {
        /// What kind of index.
        what: String,
        /// The offending index.
        index: usize,
        /// The exclusive upper bound.
        bound: usize,
    },
    /// A backend was requested that this binary was not compiled with, or an unknown name.
    #[error("{0}")]
    Backend(String),
    /// A file could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file exists where we would write, and overwriting was not requested.
    #[error(
        "{0} already exists; refusing to overwrite it (pass an explicit overwrite option to replace it)"
    )]
    AlreadyExists(PathBuf),
    /// A file's content is not in the expected format.
    #[error("bad format in {what}: {reason}")]
    Format {
        /// The file or stream concerned.
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A checkpoint could not be saved or loaded.
    #[error("checkpoint error for {path}: {reason}")]
    Checkpoint {
        /// The checkpoint path.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON error in {what}: {source}")]
    Json {
        /// What was being (de)serialised.
        what: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// Encoding or decoding an image failed.
    #[error("image error for {what}: {reason}")]
    Image {
        /// The image concerned.
        what: String,
        /// Why it failed.
        reason: String,
    },
}

impl Error {
    /// Build an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Build an [`Error::Shape`].
    pub fn shape(what: impl Into<String>, expected: impl Into<String>, got: &[usize]) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.into(),
            got: got.to_vec(),
        }
    }

    /// Build an [`Error::Config`].
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }

    /// Build an [`Error::Format`].
    pub fn format(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Format {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
