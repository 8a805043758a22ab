//! One download attempt of a file into its partial file: resumed with
//! `Range` (and `If-Range`, the validator the origin gave first) where a
//! partial file exists, restarted when the origin ignores the range or the
//! file changed, bounded by `max_bytes`, and checked against the length the
//! origin and the item announce. A failed attempt keeps what arrived, so
//! the next one resumes; only bytes that cannot be the file's are dropped.

use super::store::ContentError;
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE,
};
use reqwest::StatusCode;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A large download logs its progress each time this many more bytes arrived.
const PROGRESS_EVERY: u64 = 32 << 20;

/// What a download asks for.
pub struct Download<'a> {
    pub url: &'a str,
    pub partial: PathBuf,
    pub max_bytes: u64,
    /// The length the item gave (`None`: it gave none).
    pub want: Option<u64>,
}

/// What the origin said of the file, kept beside the partial file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Source {
    pub content_type: String,
    /// A strong ETag or a Last-Modified date, for `If-Range`.
    pub validator: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the origin answered {0}")]
    Status(u16),
    #[error("{0}")]
    Http(String),
    #[error("the file is {0} bytes, more than max_bytes")]
    TooLarge(u64),
    #[error("the origin says {said} bytes, the item {want}")]
    Mismatch { said: u64, want: u64 },
    #[error("the feed's files would take more than max_total_bytes ({0} bytes)")]
    Full(u64),
    #[error("the file's SHA-256 is {0}, not the one its URL names")]
    Corrupt(String),
    #[error("the download ended after {got} of {want} bytes")]
    Truncated { got: u64, want: u64 },
    #[error(transparent)]
    Content(#[from] ContentError),
}

impl FetchError {
    /// Whether trying again can help (a 4xx, a file too large or of another
    /// length than the item's cannot).
    pub fn retryable(&self) -> bool {
        match self {
            FetchError::Status(s) => *s >= 500 || *s == 408 || *s == 429,
            FetchError::TooLarge(_)
            | FetchError::Full(_)
            | FetchError::Corrupt(_)
            | FetchError::Mismatch { .. }
            | FetchError::Content(ContentError::LengthMismatch { .. }) => false,
            _ => true,
        }
    }
}

fn source_path(partial: &Path) -> PathBuf {
    partial.with_extension("source")
}

/// The origin's description of the file a partial download holds.
pub fn source(partial: &Path) -> Source {
    fs::read(source_path(partial))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Drop a partial download (its bytes and what the origin said).
pub fn discard(partial: &Path) {
    let _ = fs::remove_file(partial);
    let _ = fs::remove_file(source_path(partial));
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| {
        FetchError::Content(ContentError::Io {
            what: "cannot write",
            path: path.to_path_buf(),
            source,
        })
    }
}

/// One attempt: on `Ok`, the partial file holds the whole file.
pub async fn attempt(client: &reqwest::Client, d: &Download<'_>) -> Result<Source, FetchError> {
    let have = fs::metadata(&d.partial).map_or(0, |m| m.len());
    let mut known = source(&d.partial);
    let mut req = client.get(d.url);
    if have > 0 {
        req = req.header(RANGE, format!("bytes={have}-"));
        if let Some(v) = &known.validator {
            req = req.header(IF_RANGE, v);
        }
    }
    let mut resp = req
        .send()
        .await
        .map_err(|e| FetchError::Http(crate::error::one_line(&e)))?;
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (from, total) = match resp.status() {
        StatusCode::PARTIAL_CONTENT if have > 0 => {
            match header(CONTENT_RANGE).as_deref().and_then(content_range) {
                Some((start, total)) if start == have => (have, total),
                // Not the range asked for: start over next time.
                _ => {
                    discard(&d.partial);
                    return Err(FetchError::Http(
                        "the origin sent another range than asked".into(),
                    ));
                }
            }
        }
        StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
            let total = header(CONTENT_RANGE)
                .as_deref()
                .and_then(|v| v.strip_prefix("bytes */")?.parse().ok());
            if total == Some(have) {
                return Ok(known); // it was all there already
            }
            discard(&d.partial);
            return Err(FetchError::Http(
                "the origin refused the range; starting over".into(),
            ));
        }
        StatusCode::OK => (0, header(CONTENT_LENGTH).and_then(|v| v.parse().ok())),
        s => return Err(FetchError::Status(s.as_u16())),
    };
    if let Some(total) = total {
        if total > d.max_bytes {
            discard(&d.partial);
            return Err(FetchError::TooLarge(total));
        }
        if let Some(want) = d.want.filter(|&w| w != total) {
            discard(&d.partial);
            return Err(FetchError::Mismatch { said: total, want });
        }
    }
    if from == 0 {
        // The whole file from the start: what the origin says of it now.
        known = Source {
            content_type: header(CONTENT_TYPE).unwrap_or_else(|| "application/octet-stream".into()),
            validator: header(ETAG)
                .filter(|e| !e.starts_with("W/"))
                .or_else(|| header(LAST_MODIFIED)),
        };
        let bytes = serde_json::to_vec(&known).unwrap_or_default();
        fs::write(source_path(&d.partial), bytes).map_err(io(&d.partial))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(from > 0)
        .truncate(from == 0)
        .open(&d.partial)
        .map_err(io(&d.partial))?;
    let mut got = from;
    let mut logged = from / PROGRESS_EVERY;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Http(crate::error::one_line(&e)))?
    {
        got += chunk.len() as u64;
        if got / PROGRESS_EVERY > logged {
            logged = got / PROGRESS_EVERY;
            tracing::info!(url = d.url, received = got, total = ?total, "downloading content");
        }
        if got > d.max_bytes {
            drop(file);
            discard(&d.partial);
            return Err(FetchError::TooLarge(got));
        }
        file.write_all(&chunk).map_err(io(&d.partial))?;
    }
    if let Some(want) = total.filter(|&t| t != got) {
        return Err(FetchError::Truncated { got, want });
    }
    Ok(known)
}

/// `bytes START-END/TOTAL` → (START, TOTAL); `TOTAL` may be `*`.
fn content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let (range, total) = v.strip_prefix("bytes ")?.split_once('/')?;
    let start = range.split_once('-')?.0.parse().ok()?;
    Some((start, total.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read() {
        assert_eq!(content_range("bytes 10-19/20"), Some((10, Some(20))));
        assert_eq!(content_range("bytes 10-19/*"), Some((10, None)));
        assert_eq!(content_range("bytes */20"), None);
        assert_eq!(content_range("items 1-2/3"), None);
    }

    #[test]
    fn what_is_worth_retrying() {
        assert!(FetchError::Status(503).retryable());
        assert!(FetchError::Status(429).retryable());
        assert!(!FetchError::Status(404).retryable());
        assert!(!FetchError::TooLarge(9).retryable());
        assert!(FetchError::Truncated { got: 1, want: 2 }.retryable());
    }
}
