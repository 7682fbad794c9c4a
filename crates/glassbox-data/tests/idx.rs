//! The IDX reader on good and corrupt inputs.

use std::io::Write;

use glassbox_data::idx::{IdxError, encode_idx, parse_idx, read_idx_file};
use proptest::prelude::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn parses_a_hand_written_file() {
    // 2×3 array, values 1..=6, written byte by byte from the IDX spec.
    let bytes = [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
    let a = parse_idx(&bytes).unwrap();
    assert_eq!(a.dims, vec![2, 3]);
    assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn gzip_and_xz_are_transparent() {
    let raw = encode_idx(&[4, 2], &[9, 8, 7, 6, 5, 4, 3, 2]);
    assert_eq!(parse_idx(&gzip(&raw)).unwrap(), parse_idx(&raw).unwrap());
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut std::io::Cursor::new(&raw), &mut xz).unwrap();
    assert_eq!(parse_idx(&xz).unwrap(), parse_idx(&raw).unwrap());
}

#[test]
fn rejects_corrupt_headers() {
    assert_eq!(
        parse_idx(&[0, 0]),
        Err(IdxError::TooShort { need: 4, got: 2 })
    );
    assert!(matches!(
        parse_idx(&[1, 0, 8, 1, 0, 0, 0, 1, 0]),
        Err(IdxError::BadMagic(_))
    ));
    assert_eq!(
        parse_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]),
        Err(IdxError::UnsupportedType(0x0d))
    );
    assert_eq!(parse_idx(&[0, 0, 8, 0]), Err(IdxError::ZeroRank));
    assert_eq!(
        parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1]),
        Err(IdxError::TooShort { need: 12, got: 8 })
    );
    assert!(matches!(
        parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 0]),
        Err(IdxError::ZeroDim { axis: 1, .. })
    ));
    // 2^16 × 2^16 × 2^16 elements: rejected before any allocation.
    let huge = [0, 0, 8, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0];
    assert!(matches!(parse_idx(&huge), Err(IdxError::TooLarge(_))));
}

#[test]
fn rejects_truncated_and_trailing_data() {
    let raw = encode_idx(&[3, 2], &[1, 2, 3, 4, 5, 6]);
    let cut = &raw[..raw.len() - 1];
    assert_eq!(
        parse_idx(cut),
        Err(IdxError::Truncated {
            dims: vec![3, 2],
            expected: 6,
            got: 5
        })
    );
    let mut long = raw.clone();
    long.push(0);
    assert_eq!(
        parse_idx(&long),
        Err(IdxError::TrailingBytes {
            dims: vec![3, 2],
            extra: 1
        })
    );
    // A truncated gzip stream is a decompression error, not a panic or short data.
    let gz = gzip(&raw);
    assert!(matches!(
        parse_idx(&gz[..gz.len() / 2]),
        Err(IdxError::Decompress { format: "gzip", .. })
    ));
}

#[test]
fn missing_file_is_an_io_error() {
    let err = read_idx_file("/nonexistent/glassbox/file.idx").unwrap_err();
    assert!(matches!(err, IdxError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/glassbox/file.idx"));
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_idx(&bytes);
    }

    #[test]
    fn parser_never_panics_on_mutated_headers(
        dims in proptest::collection::vec(1usize..5, 1..4),
        flip in 0usize..16,
        value in any::<u8>(),
    ) {
        let n: usize = dims.iter().product();
        let mut raw = encode_idx(&dims, &vec![7u8; n]);
        let at = flip % raw.len();
        raw[at] = value;
        if let Ok(a) = parse_idx(&raw) {
            prop_assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        }
    }

    #[test]
    fn encode_then_parse_round_trips(
        dims in proptest::collection::vec(1usize..6, 1..4),
        seed in any::<u8>(),
    ) {
        let n: usize = dims.iter().product();
        let data: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let a = parse_idx(&encode_idx(&dims, &data)).unwrap();
        prop_assert_eq!(a.dims, dims);
        prop_assert_eq!(a.data, data);
    }

    #[test]
    fn any_proper_prefix_is_rejected(dims in proptest::collection::vec(1usize..5, 1..4), cut in 0usize..1000) {
        let n: usize = dims.iter().product();
        let raw = encode_idx(&dims, &vec![1u8; n]);
        let cut = cut % raw.len();
        prop_assert!(parse_idx(&raw[..cut]).is_err());
    }
}
