//! File writing that never loses a user's data silently.

use std::path::Path;

use crate::{Error, Result};

/// Write `bytes` to `path`, creating parent directories.
///
/// If `path` exists and `overwrite` is false, returns [`Error::AlreadyExists`]. The data is
/// written to a temporary sibling first and renamed into place, so a crash never leaves a
/// half-written file where a good one was.
pub fn write_new(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    if path.exists() && !overwrite {
        return Err(Error::AlreadyExists(path.to_path_buf()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
