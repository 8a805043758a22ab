//! The data directory at start: whether the process can write to it
//! ([`probe`], which `check-config` and `serve` run before anything opens
//! the store), and undoing a start that created it and then failed
//! ([`Created`]): a `serve` that could not bind its port leaves no empty
//! store behind. A directory that existed before the start is never removed.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The data directory cannot be written, said with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("data dir {dir}: {source} ({doing}); {advice}")]
pub struct DataDirError {
    dir: String,
    doing: String,
    advice: &'static str,
    source: std::io::Error,
}

/// The user the process runs as, for messages: `uid N` (on Linux, the owner
/// of `/proc/self`), else "this user".
pub fn user() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata("/proc/self") {
            return format!("uid {}", m.uid());
        }
    }
    "this user".to_string()
}

/// The closest of `dir` and its ancestors that exists (`.` for a relative
/// path none of whose ancestors exist).
fn existing_ancestor(dir: &Path) -> &Path {
    dir.ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists())
        .unwrap_or(Path::new("."))
}

/// Check that the data directory `dir` can be written: create and remove a
/// file in it or, if it does not exist yet, in its closest existing
/// ancestor (where it would be created). Nothing is left behind.
pub fn probe(dir: &Path) -> Result<(), DataDirError> {
    let fail = |doing: String, source: std::io::Error, advice| DataDirError {
        dir: dir.display().to_string(),
        doing,
        advice,
        source,
    };
    let base = existing_ancestor(dir);
    if !base.is_dir() {
        let source = std::io::Error::new(ErrorKind::NotADirectory, "not a directory");
        return Err(fail(
            format!("{} is a file", base.display()),
            source,
            "point data_dir / FEEDGATE_DATA_DIR / --data-dir at a directory",
        ));
    }
    let file = base.join(format!(".feedgate-probe-{}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file);
    match created {
        Ok(f) => {
            drop(f);
            std::fs::remove_file(&file).map_err(|e| {
                fail(
                    format!("removing {} as {}", file.display(), user()),
                    e,
                    "check the directory's permissions",
                )
            })
        }
        Err(e) => {
            let advice = match e.kind() {
                ErrorKind::PermissionDenied => {
                    "make it writable by that user (chown / chmod, or the volume's owner) or set data_dir / FEEDGATE_DATA_DIR / --data-dir to a writable directory"
                }
                ErrorKind::ReadOnlyFilesystem => {
                    "mount a writable volume there or set data_dir / FEEDGATE_DATA_DIR / --data-dir elsewhere"
                }
                _ => "check the directory, or set data_dir / FEEDGATE_DATA_DIR / --data-dir elsewhere",
            };
            Err(fail(
                format!("creating {} as {}", file.display(), user()),
                e,
                advice,
            ))
        }
    }
}

/// What this start will create of the data directory: the outermost of its
/// missing ancestors (the directory itself when only it is missing).
#[derive(Debug)]
pub struct Created(Option<PathBuf>);

impl Created {
    /// Before anything creates `dir`: note what is missing.
    pub fn before_start(dir: &Path) -> Created {
        if dir.exists() {
            return Created(None);
        }
        let missing = dir
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .last()
            .map(Path::to_path_buf);
        Created(missing)
    }

    /// The start failed: remove what it created (nothing, if the
    /// directory existed before). Whatever cannot be removed is logged.
    pub fn undo(self) {
        let Some(dir) = self.0 else { return };
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "removed the data dir this failed start created")
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the data dir this failed start created")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_dir_passes_and_keeps_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        probe(tmp.path()).unwrap();
        let missing = tmp.path().join("a/b");
        probe(&missing).unwrap();
        assert!(!missing.exists(), "probing creates nothing");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_file_is_no_data_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = probe(&file.join("d")).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("data dir {}/d: ", file.display())),
            "{e}"
        );
        assert!(e.contains("is a file"), "{e}");
    }

    #[test]
    fn only_what_was_missing_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/c");
        let created = Created::before_start(&dir);
        assert_eq!(created.0.as_deref(), Some(tmp.path().join("a").as_path()));
        std::fs::create_dir_all(&dir).unwrap();
        created.undo();
        assert!(!tmp.path().join("a").exists());
        assert!(tmp.path().exists());
        std::fs::create_dir_all(&dir).unwrap();
        let none = Created::before_start(&dir);
        assert!(none.0.is_none());
        none.undo();
        assert!(dir.exists());
    }
}
