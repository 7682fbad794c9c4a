//! Reading and writing NumPy `.npy` files of `float32`, the interchange format for inputs and
//! attributions (`np.load` / `np.save` on the Python side).
//!
//! Only what round-trips tensors is accepted: format versions 1.0–3.0, little-endian `<f4`
//! (or `<f8`, converted to `f32` on reading), C order. Everything else is a typed
//! [`Error::Format`] naming the problem.

use std::path::Path;

use crate::{Error, HostTensor, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::format(what, reason)
}

/// Parse `.npy` bytes into a [`HostTensor`]. `what` names the source in errors.
pub fn parse_npy(bytes: &[u8], what: &str) -> Result<HostTensor> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(what, "not a .npy file (missing \\x93NUMPY magic)"));
    }
    let major = bytes[6];
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => {
            return Err(bad(
                what,
                format!("unsupported .npy format version {major}"),
            ));
        }
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad(what, "truncated .npy header"))?;
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| bad(what, ".npy header is not text"))?;
    let field = |key: &str| -> Result<&str> {
        let at = header
            .find(&format!("'{key}'"))
            .ok_or_else(|| bad(what, format!(".npy header has no '{key}'")))?;
        let rest = header[at + key.len() + 2..].trim_start();
        Ok(rest.strip_prefix(':').unwrap_or(rest).trim_start())
    };
    let descr = field("descr")?;
    let width = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else {
        let d: String = descr.chars().take(8).collect();
        return Err(bad(
            what,
            format!("unsupported dtype {d}: expected '<f4' or '<f8'"),
        ));
    };
    if !field("fortran_order")?.starts_with("False") {
        return Err(bad(
            what,
            "Fortran-ordered arrays are not supported; save with C order",
        ));
    }
    let shape_text = field("shape")?;
    let close = shape_text
        .find(')')
        .ok_or_else(|| bad(what, "malformed shape in .npy header"))?;
    let shape: Vec<usize> = shape_text[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| bad(what, format!("bad dimension '{s}' in shape")))
        })
        .collect::<Result<_>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(what, "shape overflows"))?;
    let data = &bytes[end..];
    if data.len() != count * width {
        return Err(bad(
            what,
            format!(
                "shape {shape:?} needs {} data bytes, file has {}",
                count * width,
                data.len()
            ),
        ));
    }
    let values = if width == 4 {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")) as f32)
            .collect()
    };
    HostTensor::new(shape, values)
}

/// Read a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<HostTensor> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy(&bytes, &path.display().to_string())
}

/// Encode a tensor as `.npy` (format 1.0, `<f4`, C order).
pub fn encode_npy(tensor: &HostTensor) -> Vec<u8> {
    let dims: Vec<String> = tensor.shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * tensor.values.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &tensor.values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Write a `.npy` file; refuses to replace an existing file unless `overwrite`.
pub fn write_npy(tensor: &HostTensor, path: impl AsRef<Path>, overwrite: bool) -> Result<()> {
    crate::io::write_new(path.as_ref(), &encode_npy(tensor), overwrite)
}
