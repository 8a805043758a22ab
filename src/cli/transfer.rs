//! `export` and `import`: a feed's current items out as NDJSON (one push-API
//! item per line, by id), and NDJSON items in as one atomic batch.
//! Both open the configured store, embedded or PostgreSQL.

use super::{existing, io, known_feed, open, runtime, CliError, ExportArgs, ImportArgs};
use crate::store::{Op, Outcome, StoreError};
use std::io::{BufRead, Write};

/// `export`: the feed's current items, one JSON object per line, by id.
/// Returns the number of items written.
pub fn export(args: &ExportArgs, out: &mut impl Write) -> Result<usize, CliError> {
    let config = args.store.load()?;
    known_feed(&config, &args.feed)?;
    existing(&config)?;
    let rt = runtime()?;
    let store = rt.block_on(open(&config, std::slice::from_ref(&args.feed)))?;
    let dir = config.store_name();
    let log = store
        .feed(&args.feed)
        .ok_or_else(|| CliError::Invalid(format!("no feed named {:?}", args.feed)))?;
    let items = rt.block_on(log.items()).map_err(|source| CliError::Store {
        dir: dir.clone(),
        source,
    })?;
    let mut w = std::io::BufWriter::new(out);
    for (id, state) in &items {
        let line = crate::ingest::item_json(id, &state.payload).to_string();
        w.write_all(line.as_bytes()).map_err(io("stdout"))?;
        w.write_all(b"\n").map_err(io("stdout"))?;
    }
    w.flush().map_err(io("stdout"))?;
    Ok(items.len())
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub add: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    /// The feed's head after the import, `EPOCH.SEQ`.
    pub etag: String,
}

/// `import`: NDJSON items (the push API's batch elements, one per line;
/// blank lines are skipped) applied as one atomic batch. Any invalid line
/// rejects the whole input, naming the line; nothing is applied.
pub fn import(args: &ImportArgs, input: impl BufRead) -> Result<ImportReport, CliError> {
    let config = args.store.load()?;
    let feed = known_feed(&config, &args.feed)?;
    if feed.upstream.is_some() {
        return Err(CliError::Invalid(format!(
            "feed {:?} is derived from an upstream origin and cannot be written",
            args.feed
        )));
    }
    let (ops, lines) = parse_ndjson(input)?;
    let rt = runtime()?;
    let store = rt.block_on(open(&config, std::slice::from_ref(&args.feed)))?;
    let dir = config.store_name();
    let Some(log) = store.feed(&args.feed) else {
        return Err(CliError::Invalid(format!("no feed named {:?}", args.feed)));
    };
    let done = rt
        .block_on(log.append(&ops))
        .map_err(|source| match source {
            StoreError::ItemNotFound(id) => {
                let line = ops
                    .iter()
                    .zip(&lines)
                    .find(|(op, _)| matches!(op, Op::Delete { id: d } if *d == id))
                    .map_or(0, |(_, n)| *n);
                CliError::Invalid(format!(
                    "line {line}: cannot delete {id:?}: there is no such item (nothing was imported)"
                ))
            }
            source => CliError::Store { dir, source },
        })?;
    let mut report = ImportReport {
        etag: format!("{}.{}", log.epoch(), done.head),
        ..ImportReport::default()
    };
    for a in &done.applied {
        match a.outcome {
            Outcome::Add => report.add += 1,
            Outcome::Update => report.update += 1,
            Outcome::Delete => report.delete += 1,
            Outcome::Unchanged => report.unchanged += 1,
        }
    }
    Ok(report)
}

/// How to turn a JSON array or pretty-printed objects into JSON Lines.
const JSON_LINES_HINT: &str =
    "write each item on a line of its own (from an array: jq -c '.[]' FILE | feedgate import FEED)";

/// The ops of an NDJSON input, with the line number of each.
fn parse_ndjson(input: impl BufRead) -> Result<(Vec<Op>, Vec<usize>), CliError> {
    let (mut ops, mut lines) = (Vec::new(), Vec::new());
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => CliError::Invalid(format!("line {n}: not UTF-8")),
            _ => io("the input")(e),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: &str| CliError::Invalid(format!("line {n}: {}", without_position(m)));
        // A JSON array (a push-API batch, a pretty-printed export) is the
        // likeliest mistake: say what the format is and how to get there.
        if line.trim_start().starts_with('[') {
            return Err(bad(&format!(
                "a JSON array, but import reads JSON Lines: one object per line; {JSON_LINES_HINT}"
            )));
        }
        // One JSON value per line (with the column where it breaks), then
        // checked as one element of a batch.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&line) {
            let column = e.column();
            if e.is_eof() {
                return Err(bad(&format!(
                    "column {column}: {e}: the object does not end on its line, but import reads JSON Lines: one object per line; {JSON_LINES_HINT}",
                    e = without_position(&e.to_string())
                )));
            }
            return Err(bad(&format!("column {column}: {e}")));
        }
        if !line.trim_start().starts_with('{') {
            return Err(bad("expected a JSON object (an item)"));
        }
        let mut parsed =
            crate::ingest::parse_batch(format!("[{line}]").as_bytes()).map_err(|e| {
                let m = e.to_string();
                bad(m.strip_prefix("element 0: ").unwrap_or(&m))
            })?;
        match (parsed.pop(), parsed.is_empty()) {
            (Some(op), true) => ops.push(op),
            _ => return Err(bad("expected a JSON object (an item)")),
        }
        lines.push(n);
    }
    Ok((ops, lines))
}

/// A serde_json message without its ` at line L column C` suffix.
fn without_position(m: &str) -> &str {
    match m.rsplit_once(" at line ") {
        Some((head, tail)) if tail.contains(" column ") => head,
        _ => m,
    }
}
