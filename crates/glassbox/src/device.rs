//! Turning a `--device` name into a burn [`Device`], with a clear error when the backend was
//! not compiled into this binary.

use burn::prelude::Device;
use glassbox_core::{BackendKind, Error, Result};

/// Backends compiled into this build of `glassbox` (its Cargo features).
pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "flex") {
        v.push("flex");
    }
    if cfg!(feature = "ndarray") {
        v.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    v
}

/// Parse a device name (`flex`, `ndarray`, `wgpu`, `cuda`, `cuda:N`) and create the device.
pub fn parse_device(name: &str) -> Result<Device> {
    device(name.parse()?)
}

/// Create the device for `kind`, or explain which feature to enable.
pub fn device(kind: BackendKind) -> Result<Device> {
    let unavailable = || {
        Error::Backend(format!(
            "device '{kind}' is not available: this binary was built without the '{}' feature \
             (compiled backends: {}); rebuild with `--features {}`",
            kind.feature(),
            match compiled_backends().join(", ") {
                s if s.is_empty() => "none".to_string(),
                s => s,
            },
            kind.feature()
        ))
    };
    match kind {
        BackendKind::Flex => {
            #[cfg(feature = "flex")]
            return Ok(Device::flex());
            #[cfg(not(feature = "flex"))]
            return Err(unavailable());
        }
        BackendKind::Ndarray => {
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            return Ok(Device::ndarray());
            #[cfg(not(feature = "ndarray"))]
            return Err(unavailable());
        }
        BackendKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            return Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice));
            #[cfg(not(feature = "wgpu"))]
            return Err(unavailable());
        }
        BackendKind::Cuda(_index) => {
            #[cfg(feature = "cuda")]
            return Ok(Device::cuda(_index));
            #[cfg(not(feature = "cuda"))]
            return Err(unavailable());
        }
    }
}
