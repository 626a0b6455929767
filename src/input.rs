//! Reading the files a user names (images, `.npy` tensors): regular files only, checked before
//! anything is read, opened without blocking, and never more than the `input_bytes` limit.
//!
//! A FIFO given as an image would block a plain `read` forever, and `/dev/zero` or a huge sparse
//! file would be read whole into memory; here each is a one-line error and the rest of the work
//! goes on.

use std::io::Read;
use std::path::Path;

/// What kind of file a path is, in words, for errors.
fn kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

/// The whole file at `path`, if it is a regular file of at most `max` bytes (the `input_bytes`
/// limit). Errors are one line without the path (callers name it).
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    read_limited(path, max, "input_bytes")
}

/// [`read_bounded`] under the limit named `limit` (`input_bytes`, `component_bytes`).
pub fn read_limited(path: &Path, max: u64, limit: &str) -> Result<Vec<u8>, String> {
    let too_big = |n: u64| format!("{n} bytes or more, over the limit of {max} bytes (limit {limit})");
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("cannot read {}: only regular files are read", kind(meta.file_type())));
    }
    if meta.len() > max {
        return Err(too_big(meta.len()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // If the path was swapped for a FIFO after the check, opening it must not wait for a writer.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("cannot read {}: only regular files are read", kind(meta.file_type())));
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(meta.len().min(max) as usize).map_err(|_| format!("cannot hold {} bytes", meta.len()))?;
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.bin");
        std::fs::write(&f, [7u8; 100]).unwrap();
        assert_eq!(read_bounded(&f, 100).unwrap().len(), 100);
        assert!(read_bounded(&f, 99).unwrap_err().contains("over the limit of 99 bytes (limit input_bytes)"));
        assert!(read_bounded(dir.path(), 100).unwrap_err().contains("a folder"));
        assert!(read_bounded(Path::new("/dev/zero"), 100).unwrap_err().contains("a character device"));
        assert!(read_bounded(&dir.path().join("missing"), 100).unwrap_err().starts_with("cannot read"));
    }
}
