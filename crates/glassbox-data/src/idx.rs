//! A strict reader (and writer) for the IDX format of MNIST-style datasets.
//!
//! Layout: two zero bytes, a type byte, a rank byte, `rank` big-endian `u32` dimensions,
//! then the values. The reader accepts raw, gzip- or xz-compressed files (recognised by
//! their magic bytes) and rejects anything that is not exactly one well-formed array:
//! wrong magic, an unsupported element type, a zero rank or dimension, truncated data, or
//! trailing bytes.

use std::io::Read;
use std::path::Path;

/// Element type byte for unsigned bytes, the only type Fashion-MNIST uses.
pub const IDX_U8: u8 = 0x08;

/// Largest number of elements we agree to allocate for (4 GiB of `u8`): protects against
/// corrupt headers claiming absurd sizes.
const MAX_ELEMENTS: u64 = 1 << 32;

/// Why an IDX file was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdxError {
    /// Fewer bytes than the header needs.
    #[error("IDX data is {got} bytes long, shorter than its {need}-byte header")]
    TooShort {
        /// Bytes needed for the header.
        need: usize,
        /// Bytes available.
        got: usize,
    },
    /// The first two bytes are not zero.
    #[error("bad IDX magic {0:02x?}: expected [00, 00, type, rank]")]
    BadMagic([u8; 4]),
    /// The type byte is not one we read.
    #[error("unsupported IDX element type 0x{0:02x} (only unsigned byte, 0x08, is supported)")]
    UnsupportedType(u8),
    /// The rank byte is zero.
    #[error("IDX rank is 0: an array needs at least one dimension")]
    ZeroRank,
    /// A dimension is zero.
    #[error("IDX dimension {axis} is 0 (dims {dims:?})")]
    ZeroDim {
        /// Which axis.
        axis: usize,
        /// All dimensions.
        dims: Vec<usize>,
    },
    /// The header declares more data than is plausible.
    #[error("IDX dims {0:?} declare more than 2^32 elements")]
    TooLarge(Vec<usize>),
    /// Fewer data bytes than the dimensions declare.
    #[error("IDX data truncated: dims {dims:?} need {expected} bytes, found {got}")]
    Truncated {
        /// Declared dimensions.
        dims: Vec<usize>,
        /// Bytes the dimensions need.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// More data bytes than the dimensions declare.
    #[error("IDX data has {extra} trailing byte(s) after the declared array {dims:?}")]
    TrailingBytes {
        /// Declared dimensions.
        dims: Vec<usize>,
        /// Extra bytes.
        extra: usize,
    },
    /// gzip or xz decompression failed.
    #[error("cannot decompress IDX data ({format}): {reason}")]
    Decompress {
        /// `gzip` or `xz`.
        format: &'static str,
        /// Decoder message.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read IDX file {path}: {reason}")]
    Io {
        /// File path.
        path: String,
        /// OS message.
        reason: String,
    },
}

impl From<IdxError> for glassbox_core::Error {
    fn from(e: IdxError) -> Self {
        glassbox_core::Error::format("IDX data", e.to_string())
    }
}

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (e.g. `[N, 28, 28]`).
    pub dims: Vec<usize>,
    /// Row-major values.
    pub data: Vec<u8>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// Decompress if `bytes` start with a gzip or xz magic; otherwise return them as they are.
pub fn decompress(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| IdxError::Decompress {
                format: "gzip",
                reason: e.to_string(),
            })?;
        Ok(out)
    } else if bytes.starts_with(&XZ_MAGIC) {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(bytes), &mut out).map_err(|e| {
            IdxError::Decompress {
                format: "xz",
                reason: e.to_string(),
            }
        })?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parse IDX bytes (raw, gzip or xz).
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, IdxError> {
    let raw = decompress(bytes)?;
    parse_raw(&raw)
}

fn parse_raw(raw: &[u8]) -> Result<IdxArray, IdxError> {
    if raw.len() < 4 {
        return Err(IdxError::TooShort {
            need: 4,
            got: raw.len(),
        });
    }
    let magic = [raw[0], raw[1], raw[2], raw[3]];
    if raw[0] != 0 || raw[1] != 0 {
        return Err(IdxError::BadMagic(magic));
    }
    if raw[2] != IDX_U8 {
        return Err(IdxError::UnsupportedType(raw[2]));
    }
    let rank = raw[3] as usize;
    if rank == 0 {
        return Err(IdxError::ZeroRank);
    }
    let header = 4 + 4 * rank;
    if raw.len() < header {
        return Err(IdxError::TooShort {
            need: header,
            got: raw.len(),
        });
    }
    let dims: Vec<usize> = raw[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return Err(IdxError::ZeroDim { axis, dims });
    }
    let mut total: u64 = 1;
    for &d in &dims {
        total = total.saturating_mul(d as u64);
        if total > MAX_ELEMENTS {
            return Err(IdxError::TooLarge(dims));
        }
    }
    let expected = total as usize;
    let got = raw.len() - header;
    if got < expected {
        return Err(IdxError::Truncated {
            dims,
            expected,
            got,
        });
    }
    if got > expected {
        return Err(IdxError::TrailingBytes {
            dims,
            extra: got - expected,
        });
    }
    Ok(IdxArray {
        dims,
        data: raw[header..].to_vec(),
    })
}

/// Read and parse an IDX file (raw, `.gz` or `.xz`).
pub fn read_idx_file(path: impl AsRef<Path>) -> Result<IdxArray, IdxError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| IdxError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse_idx(&bytes)
}

/// Encode an unsigned-byte array as raw (uncompressed) IDX bytes.
///
/// Panics only on programmer error: `data.len()` must equal the product of `dims`, and
/// `dims` must have between 1 and 255 entries each below 2^32.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    assert!(
        !dims.is_empty() && dims.len() < 256,
        "IDX rank must be 1..=255"
    );
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "IDX dims/data mismatch"
    );
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, IDX_U8, dims.len() as u8]);
    for &d in dims {
        out.extend_from_slice(&u32::try_from(d).expect("IDX dim < 2^32").to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
