//! Mirrored files on disk, content-addressed by SHA-256 (issue 18's
//! content phase): `ROOT/objects/ab/abcd…` (the bytes) beside
//! `ROOT/objects/ab/abcd….json` (what the origin said the bytes are, and
//! which feeds reference them), and `ROOT/partial/KEY` for downloads under
//! way, `KEY` being the SHA-256 of the source URL.
//!
//! An object counts once it is at its final path: a download is written
//! to its partial file, which is hashed, `fsync`ed and renamed into place
//! (its metadata first, the same way), and the directory is synced, so a
//! crash leaves either no object or a whole one, never half a file under
//! a hash. The same bytes from two URLs or two feeds are one object.

use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What is known of a stored object besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub length: u64,
    pub content_type: String,
    /// The feeds whose items reference it (reading it needs `read` on one).
    pub feeds: Vec<String>,
}

/// A stored object: its hash, where its bytes are, and its [`Meta`].
#[derive(Debug, Clone)]
pub struct Object {
    pub sha256: String,
    pub path: PathBuf,
    pub meta: Meta,
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the download is {got} bytes, the item says {want}")]
    LengthMismatch { got: u64, want: u64 },
    #[error("the file is larger than max_bytes ({0} bytes)")]
    TooLarge(u64),
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContentError + 'a {
    move |source| ContentError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Is `s` a SHA-256 as `/content/{sha256}` names it (64 lowercase hex digits)?
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Open (creating its directories) the store at `root`.
    pub fn open(root: &Path) -> Result<ContentStore, ContentError> {
        for dir in ["objects", "partial", "urls", "cursors"].map(|d| root.join(d)) {
            fs::create_dir_all(&dir).map_err(io_err("cannot create", &dir))?;
        }
        Ok(ContentStore {
            root: root.to_path_buf(),
        })
    }

    fn object_path(&self, sha256: &str) -> PathBuf {
        self.root.join("objects").join(&sha256[..2]).join(sha256)
    }

    /// The partial file of a download from `url`.
    pub fn partial_path(&self, url: &str) -> PathBuf {
        self.root.join("partial").join(url_key(url))
    }

    fn url_path(&self, url: &str) -> PathBuf {
        self.root.join("urls").join(url_key(url))
    }

    /// The object a download from `url` gave, if it is still stored.
    pub fn recall(&self, url: &str) -> Option<Object> {
        let sha = fs::read_to_string(self.url_path(url)).ok()?;
        self.get(sha.trim())
    }

    /// Remember that `url` gave `sha256`, and that `feed` references it.
    pub fn remember(&self, url: &str, sha256: &str, feed: &str) -> Result<(), ContentError> {
        write_atomically(&self.url_path(url), sha256.as_bytes())?;
        let Some(mut object) = self.get(sha256) else {
            return Ok(());
        };
        if !object.meta.feeds.iter().any(|f| f == feed) {
            object.meta.feeds.push(feed.to_string());
            object.meta.feeds.sort();
            let meta = serde_json::to_vec(&object.meta).unwrap_or_default();
            write_atomically(&object.path.with_extension("json"), &meta)?;
        }
        Ok(())
    }

    /// Where the mirror of `feed` stopped reading its log: the position, if
    /// it was in the log's `epoch` (else nothing of this log was read).
    pub fn cursor(&self, feed: &str, epoch: &str) -> u64 {
        let text = fs::read_to_string(self.root.join("cursors").join(feed)).unwrap_or_default();
        match text.trim().split_once('.') {
            Some((e, seq)) if e == epoch => seq.parse().unwrap_or(0),
            _ => 0,
        }
    }

    pub fn set_cursor(&self, feed: &str, epoch: &str, seq: u64) -> Result<(), ContentError> {
        let path = self.root.join("cursors").join(feed);
        write_atomically(&path, format!("{epoch}.{seq}").as_bytes())
    }

    /// The object `sha256`, if it is stored (whole, with its metadata).
    pub fn get(&self, sha256: &str) -> Option<Object> {
        if !is_sha256(sha256) {
            return None;
        }
        let path = self.object_path(sha256);
        let meta: Meta =
            serde_json::from_slice(&fs::read(path.with_extension("json")).ok()?).ok()?;
        let on_disk = fs::metadata(&path).ok()?.len();
        (on_disk == meta.length).then(|| Object {
            sha256: sha256.to_string(),
            path,
            meta,
        })
    }

    /// Turn the finished partial file of `url` into an object: check its
    /// length against `want` (the item's, when it gave one), hash it, sync
    /// it, and move it into place (or drop it, if those bytes are stored
    /// already); `feed` is added to the object's referencing feeds.
    pub fn commit(
        &self,
        url: &str,
        want: Option<u64>,
        content_type: &str,
        feed: &str,
    ) -> Result<Object, ContentError> {
        let partial = self.partial_path(url);
        let (sha256, length) = hash_file(&partial)?;
        if let Some(want) = want.filter(|&w| w != length) {
            // Whatever arrived is not the file the item names: start over next time.
            let _ = fs::remove_file(&partial);
            return Err(ContentError::LengthMismatch { got: length, want });
        }
        let path = self.object_path(&sha256);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        fs::create_dir_all(&dir).map_err(io_err("cannot create", &dir))?;
        let mut meta = match self.get(&sha256) {
            Some(existing) => existing.meta,
            None => Meta {
                length,
                content_type: content_type.to_string(),
                feeds: Vec::new(),
            },
        };
        if !meta.feeds.iter().any(|f| f == feed) {
            meta.feeds.push(feed.to_string());
            meta.feeds.sort();
        }
        write_atomically(
            &path.with_extension("json"),
            &serde_json::to_vec(&meta).unwrap_or_default(),
        )?;
        if fs::metadata(&path).is_ok_and(|m| m.len() == length) {
            let _ = fs::remove_file(&partial);
        } else {
            File::open(&partial)
                .and_then(|f| f.sync_all())
                .map_err(io_err("cannot sync", &partial))?;
            fs::rename(&partial, &path).map_err(io_err("cannot move into place", &path))?;
        }
        sync_dir(&dir)?;
        Ok(Object { sha256, path, meta })
    }

    /// Replace the feeds an object is referenced by.
    pub fn set_feeds(&self, sha256: &str, feeds: Vec<String>) -> Result<(), ContentError> {
        let Some(mut object) = self.get(sha256) else {
            return Ok(());
        };
        object.meta.feeds = feeds;
        let meta = serde_json::to_vec(&object.meta).unwrap_or_default();
        write_atomically(&object.path.with_extension("json"), &meta)
    }

    /// Every stored object's hash.
    pub fn list(&self) -> Vec<String> {
        let Ok(dirs) = fs::read_dir(self.root.join("objects")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for dir in dirs.flatten() {
            for f in fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                if let Some(name) = f.file_name().to_str().filter(|n| is_sha256(n)) {
                    out.push(name.to_string());
                }
            }
        }
        out.sort();
        out
    }

    /// Remove an object (no item references it any more).
    pub fn remove(&self, sha256: &str) -> Result<(), ContentError> {
        if !is_sha256(sha256) {
            return Ok(());
        }
        let path = self.object_path(sha256);
        for p in [path.clone(), path.with_extension("json")] {
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err("cannot remove", &p)(e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Bytes of the objects `feed` references.
    pub fn feed_bytes(&self, feed: &str) -> u64 {
        self.list()
            .iter()
            .filter_map(|s| self.get(s))
            .filter(|o| o.meta.feeds.iter().any(|f| f == feed))
            .map(|o| o.meta.length)
            .sum()
    }

    /// Bytes of every stored object.
    pub fn total_bytes(&self) -> u64 {
        self.list()
            .iter()
            .filter_map(|s| fs::metadata(self.object_path(s)).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// A URL's name under `partial/` and `urls/`: its SHA-256, hex.
fn url_key(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}

/// SHA-256 (lowercase hex) and length of a file, read in 64 KiB blocks.
pub fn hash_file(path: &Path) -> Result<(String, u64), ContentError> {
    let mut f = File::open(path).map_err(io_err("cannot open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut length = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err("cannot read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        length += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), length))
}

/// Write `bytes` to `path` by a synced temporary file renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ContentError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err("cannot create", &tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err("cannot write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("cannot move into place", path))
}

fn sync_dir(dir: &Path) -> Result<(), ContentError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("cannot sync", dir))
}

#[cfg(test)]
mod tests;
