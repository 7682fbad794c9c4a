//! `.npy` files: files written by NumPy, round trips, and corrupt inputs.
//!
//! The fixtures were written by NumPy 2 (`.venv` of `cargo xtask compare attribution`):
//! `np.save("numpy_2x1x3x4_f4.npy", np.arange(24, dtype=np.float32).reshape(2, 1, 3, 4) / 8 - 1)`
//! and `np.save("numpy_5_f8.npy", np.linspace(0, 1, 5))`.

use glassbox_core::npy::{encode_npy, parse_npy, read_npy, write_npy};
use glassbox_core::{Error, HostTensor};

#[test]
fn reads_files_numpy_wrote() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let a = read_npy(format!("{dir}/numpy_2x1x3x4_f4.npy")).unwrap();
    assert_eq!(a.shape, vec![2, 1, 3, 4]);
    let want: Vec<f32> = (0..24).map(|i| i as f32 / 8.0 - 1.0).collect();
    assert_eq!(a.values, want);
    let b = read_npy(format!("{dir}/numpy_5_f8.npy")).unwrap();
    assert_eq!(b.shape, vec![5]);
    assert_eq!(b.values, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    // Our encoder produces byte-identical files to NumPy's for float32 C-order arrays.
    assert_eq!(
        encode_npy(&a),
        std::fs::read(format!("{dir}/numpy_2x1x3x4_f4.npy")).unwrap()
    );
}

#[test]
fn round_trip_and_no_silent_overwrite() {
    let t = HostTensor::new(vec![3], vec![1.5, -2.0, 0.0]).unwrap();
    assert_eq!(parse_npy(&encode_npy(&t), "mem").unwrap(), t);
    let dir = std::env::temp_dir().join(format!("glassbox-npy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("a.npy");
    write_npy(&t, &path, false).unwrap();
    assert!(matches!(
        write_npy(&t, &path, false),
        Err(Error::AlreadyExists(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_and_unsupported_files_are_typed_errors() {
    let good = encode_npy(&HostTensor::new(vec![2, 2], vec![1.0; 4]).unwrap());
    let err = |bytes: &[u8]| parse_npy(bytes, "x.npy").unwrap_err().to_string();
    assert!(err(b"not numpy at all").contains("magic"));
    assert!(err(&good[..good.len() - 1]).contains("needs 16 data bytes"));
    assert!(err(&good[..20]).contains("truncated"));
    assert!(err(&replace(&good, b"<f4", b"<i4")).contains("unsupported dtype"));
    assert!(err(&replace(&good, b"False", b"True ")).contains("Fortran"));
    assert!(err(&replace(&good, b"(2, 2)", b"(2, x)")).contains("bad dimension"));
}

/// `bytes` with the first occurrence of `from` replaced by `to` (same length).
fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}
