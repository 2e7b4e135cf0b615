//! Data files: CSV tables ([`csv`]), NumPy `.npy` arrays ([`npy`]) and
//! checkpoints of whole values ([`checkpoint`], whose value types are
//! [`schema`]s). This is the only part of the runtime that touches the file
//! system.
//!
//! Every failure is a [`FileError`]: plain data naming the path as the
//! program wrote it, with all wording in [`FileError::message`]. Writes go to
//! a temporary file in the destination's folder that is renamed over the
//! destination once complete ([`write_atomic`]), so a crash or a full disk
//! never leaves a half-written file behind.

pub mod checkpoint;
pub mod csv;
pub mod npy;
pub mod schema;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a file could not be read or written. `path` is the path as the
/// program gave it (relative paths unresolved), for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// The file cannot be opened or read.
    Read { path: String, reason: String },
    /// The file cannot be written.
    Write { path: String, reason: String },
    /// A CSV field that is not a number (`line` counts from 1, `column` too).
    CsvNumber {
        path: String,
        line: usize,
        column: usize,
        text: String,
    },
    /// A CSV row with a different number of fields than the first row.
    CsvRagged {
        path: String,
        line: usize,
        found: usize,
        first_line: usize,
        expected: usize,
    },
    /// A file that is not in the expected format (`what`: "a NumPy array
    /// file", "a diffl checkpoint"), and why.
    Format {
        path: String,
        what: &'static str,
        problem: String,
    },
    /// A file whose contents have a different type than the program needs.
    Mismatch {
        path: String,
        found: String,
        expected: String,
    },
    /// A value that cannot be written in this format.
    Unsupported { path: String, problem: String },
}

impl FileError {
    pub fn message(&self) -> String {
        match self {
            FileError::Read { path, reason } => format!("cannot read `{path}`: {reason}"),
            FileError::Write { path, reason } => format!("cannot write `{path}`: {reason}"),
            FileError::CsvNumber {
                path,
                line,
                column,
                text,
            } => format!("bad number in `{path}`, line {line}, column {column}: `{text}`"),
            FileError::CsvRagged {
                path,
                line,
                found,
                first_line,
                expected,
            } => format!(
                "`{path}` line {line} has {found} value{} but line {first_line} has {expected}",
                if *found == 1 { "" } else { "s" }
            ),
            FileError::Format { path, what, problem } => format!("`{path}` is not {what}: {problem}"),
            FileError::Mismatch {
                path,
                found,
                expected,
            } => format!("`{path}` holds `{found}`, but `{expected}` was expected"),
            FileError::Unsupported { path, problem } => format!("cannot write `{path}`: {problem}"),
        }
    }

    /// A hint, where one helps.
    pub fn help(&self) -> Option<String> {
        match self {
            FileError::CsvNumber { .. } => {
                Some("every field must be a number such as `3`, `-0.5` or `1e-3`; skip a first line of column names with `header: true`".into())
            }
            FileError::Mismatch { .. } => Some(
                "the file changed after the program was compiled, or `like:` gives a different type than was saved"
                    .into(),
            ),
            FileError::Read { .. }
            | FileError::Write { .. }
            | FileError::CsvRagged { .. }
            | FileError::Format { .. }
            | FileError::Unsupported { .. } => None,
        }
    }
}

/// The result of a file operation.
pub type FResult<T> = Result<T, FileError>;

/// `path` as the program wrote it, resolved against `base` (the folder of
/// the running file) when it is relative.
pub fn resolve(base: Option<&Path>, path: &str) -> PathBuf {
    let p = Path::new(path);
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

/// `temp_path(name)`: `name` in the system's temporary folder.
pub fn temp_path(name: &str) -> String {
    std::env::temp_dir().join(name).display().to_string()
}

/// A short reason for an I/O error, without the OS error number.
pub(crate) fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a folder".into(),
        _ => e.to_string(),
    }
}

/// The whole file as bytes.
pub(crate) fn read_bytes(file: &Path, shown: &str) -> FResult<Vec<u8>> {
    std::fs::read(file).map_err(|e| FileError::Read {
        path: shown.to_string(),
        reason: reason(&e),
    })
}

/// Writes a file atomically: `write` fills a temporary file in the same
/// folder, which is synced to disk and then renamed over `file`. On any
/// failure the temporary file is removed and `file` is untouched.
pub(crate) fn write_atomic(
    file: &Path,
    shown: &str,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> FResult<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let err = |e: std::io::Error| FileError::Write {
        path: shown.to_string(),
        reason: reason(&e),
    };
    let name = file.file_name().ok_or_else(|| FileError::Write {
        path: shown.to_string(),
        reason: "the path does not name a file".into(),
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(".{}.{}-{n}.tmp", name.to_string_lossy(), std::process::id());
    let tmp = file.with_file_name(tmp_name);
    let result = (|| {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_base() {
        let base = Path::new("/data/project");
        assert_eq!(resolve(Some(base), "x.csv"), base.join("x.csv"));
        assert_eq!(resolve(Some(base), "/abs/x.csv"), PathBuf::from("/abs/x.csv"));
        assert_eq!(resolve(None, "x.csv"), PathBuf::from("x.csv"));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = std::env::temp_dir().join(format!("diffl_atomic_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("x.txt");
        write_atomic(&file, "x.txt", |w| w.write_all(b"old")).unwrap();
        let r = write_atomic(&file, "x.txt", |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(matches!(r, Err(FileError::Write { .. })));
        assert_eq!(std::fs::read(&file).unwrap(), b"old");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "the temporary file was removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
