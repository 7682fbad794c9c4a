//! Naming the backend a program should run on (`--device flex|ndarray|wgpu|cuda`).
//!
//! Core stays backend-free: it only parses the name. The umbrella crate `glassbox`, which
//! carries the backend features, turns a [`BackendKind`] into a `Device` and reports a clear
//! error when that backend was not compiled in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A burn backend glassbox can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn-flex, the pure-Rust CPU backend (default).
    Flex,
    /// burn-ndarray, the deprecated CPU backend.
    Ndarray,
    /// wgpu (Vulkan / Metal / DX12, or Mesa llvmpipe on CPU-only machines).
    Wgpu,
    /// CUDA device `n`.
    Cuda(usize),
}

impl BackendKind {
    /// The Cargo feature of the `glassbox` crate that enables this backend.
    pub fn feature(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda(_) => "cuda",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendKind::Cuda(0) => write!(f, "cuda"),
            BackendKind::Cuda(i) => write!(f, "cuda:{i}"),
            other => write!(f, "{}", other.feature()),
        }
    }
}

impl FromStr for BackendKind {
    type Err = Error;

    /// Parses `flex`, `ndarray`, `wgpu`, `cuda` or `cuda:N` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "flex" | "cpu" => Ok(BackendKind::Flex),
            "ndarray" => Ok(BackendKind::Ndarray),
            "wgpu" => Ok(BackendKind::Wgpu),
            "cuda" => Ok(BackendKind::Cuda(0)),
            _ => {
                if let Some(idx) = lower.strip_prefix("cuda:") {
                    return idx.parse().map(BackendKind::Cuda).map_err(|_| {
                        Error::Backend(format!("invalid CUDA device index in '{s}'"))
                    });
                }
                Err(Error::Backend(format!(
                    "unknown device '{s}': expected one of flex, ndarray, wgpu, cuda, cuda:N"
                )))
            }
        }
    }
}
