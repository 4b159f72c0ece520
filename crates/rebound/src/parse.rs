//! `rebound parse FILE|DIR|-…`: bounce emails → one JSON object per record.
//!
//! Files are read and parsed on `--jobs` threads (default: all cores); the output keeps the
//! order of the inputs (directories are walked in name order). A file that cannot be read is
//! reported on standard error and makes the exit code 1; the others are still parsed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rebound_core::bounces::{self, BounceRecord};
use serde_json::json;

/// Arguments of `rebound parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// Files, directories (walked recursively) or `-` for standard input.
    #[arg(required_unless_present = "files_from")]
    pub paths: Vec<PathBuf>,
    /// Read the paths to parse from this file, one per line (`-`: standard input): for
    /// more files than a command line holds.
    #[arg(long)]
    pub files_from: Option<PathBuf>,
    /// Print only a summary (messages, records per kind and reason, messages per second).
    #[arg(long)]
    pub summary: bool,
    /// Threads parsing files (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

fn walk(path: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    if path == Path::new("-") {
        out.push(path.to_path_buf());
        return;
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut items: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                items.sort();
                for p in items {
                    walk(&p, out, errors);
                }
            }
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        },
        Ok(_) => out.push(path.to_path_buf()),
        Err(e) => errors.push(format!("{}: {e}", path.display())),
    }
}

/// One record as `rebound parse` prints it: keys in alphabetical order, `original_headers`
/// as an object (sorted by name; of a repeated field, the last value).
#[derive(serde::Serialize)]
pub struct RecordLine<'a> {
    class: Option<&'static str>,
    diagnostic: &'a Option<String>,
    feedback_type: &'a Option<String>,
    file: &'a str,
    kind: &'static str,
    message_id: &'a Option<String>,
    mta: &'static str,
    original_headers: SortedHeaders<'a>,
    reason: &'static str,
    recipient: &'a Option<String>,
    remote_mta: &'a Option<String>,
    reply_code: &'a Option<String>,
    smtp_command: &'a Option<String>,
    status: &'a Option<String>,
}

impl<'a> RecordLine<'a> {
    /// The printed form of `r`, found in `file`.
    pub fn new(file: &'a str, r: &'a BounceRecord) -> Self {
        RecordLine {
            class: r.class.map(|c| c.as_str()),
            diagnostic: &r.diagnostic,
            feedback_type: &r.feedback_type,
            file,
            kind: r.kind.as_str(),
            message_id: &r.message_id,
            mta: r.mta,
            original_headers: SortedHeaders::new(&r.original_headers),
            reason: r.reason.as_str(),
            recipient: &r.recipient,
            remote_mta: &r.remote_mta,
            reply_code: &r.reply_code,
            smtp_command: &r.smtp_command,
            status: &r.status,
        }
    }
}

/// Header fields as a JSON object: sorted by name, a repeated name once with its last
/// value (what a map built from them holds), without building a map.
pub struct SortedHeaders<'a>(Vec<(&'a str, &'a str)>);

impl<'a> SortedHeaders<'a> {
    fn new(fields: &'a [(String, String)]) -> Self {
        let mut v: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // Stable: of equal names the last stays last, and is the one kept.
        v.sort_by(|a, b| a.0.cmp(b.0));
        let mut kept: Vec<(&str, &str)> = Vec::with_capacity(v.len());
        for f in v {
            match kept.last_mut() {
                Some(last) if last.0 == f.0 => *last = f,
                _ => kept.push(f),
            }
        }
        SortedHeaders(kept)
    }
}

impl serde::Serialize for SortedHeaders<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

struct FileResult {
    name: String,
    records: Result<Vec<BounceRecord>, String>,
}

/// Reads one file into `buf` (cleared first) and parses it.
fn parse_file(path: &Path, buf: &mut Vec<u8>) -> FileResult {
    let name = path.display().to_string();
    if buf.len() > 16 << 20 {
        *buf = Vec::new();
    }
    let read = if path == Path::new("-") {
        read_all(&mut std::io::stdin().lock(), buf)
    } else {
        std::fs::File::open(path).and_then(|mut f| read_all(&mut f, buf))
    };
    FileResult {
        records: read
            .map(|n| bounces::parse(&buf[..n]))
            .map_err(|e| format!("{name}: {e}")),
        name,
    }
}

/// Reads everything into `buf` (kept initialised and reused from file to file, grown when
/// a file fills it) and returns the length read. Unlike `read_to_end` on a `File`, no
/// `statx` for a size hint: a small file is one read, plus the one that finds its end.
fn read_all(r: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut n = 0;
    loop {
        if n == buf.len() {
            buf.resize((buf.len() * 2).max(64 << 10), 0);
        }
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Parses a path of a `--files-from` list (or a file found by walking): a directory there
/// (its read fails with "is a directory") is walked in name order.
fn parse_listed(path: &Path, buf: &mut Vec<u8>, out: &mut Vec<FileResult>) {
    let first = parse_file(path, buf);
    let is_dir = first.records.is_err() && std::fs::metadata(path).is_ok_and(|m| m.is_dir());
    if !is_dir {
        out.push(first);
        return;
    }
    let (mut files, mut errors) = (Vec::new(), Vec::new());
    walk(path, &mut files, &mut errors);
    for e in errors {
        out.push(FileResult {
            name: path.display().to_string(),
            records: Err(e),
        });
    }
    for f in files {
        out.push(parse_file(&f, buf));
    }
}

/// Files parsed per thread before their records are printed.
const BATCH_PER_JOB: usize = 256;

/// Runs `rebound parse`.
pub fn run(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in &args.paths {
        walk(p, &mut files, &mut errors);
    }
    if let Some(list) = &args.files_from {
        let text = if list == Path::new("-") {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map(|_| s)
        } else {
            std::fs::read_to_string(list)
        }
        .map_err(|e| anyhow::anyhow!("{}: {e}", list.display()))?;
        // Listed paths are not looked at here (one system call fewer per file): a
        // directory among them is walked when its turn comes.
        files.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(PathBuf::from),
        );
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut by_kind = std::collections::BTreeMap::<&str, u64>::new();
    let mut by_reason = std::collections::BTreeMap::<&str, u64>::new();
    let (mut messages, mut with_records, mut records) = (0u64, 0u64, 0u64);
    // Files go in batches: each is parsed (on `jobs` threads), printed in order and dropped,
    // so memory stays flat however many files there are.
    let mut buf = Vec::new();
    for batch in files.chunks(BATCH_PER_JOB * jobs) {
        let results: Vec<FileResult> = if jobs == 1 {
            let mut found = Vec::with_capacity(batch.len());
            for p in batch {
                parse_listed(p, &mut buf, &mut found);
            }
            found
        } else {
            let chunk = batch.len().div_ceil(jobs).max(1);
            std::thread::scope(|s| {
                let handles: Vec<_> = batch
                    .chunks(chunk)
                    .map(|c| {
                        s.spawn(move || {
                            let (mut buf, mut found) = (Vec::new(), Vec::with_capacity(c.len()));
                            for p in c {
                                parse_listed(p, &mut buf, &mut found);
                            }
                            found
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        for r in results {
            match &r.records {
                Ok(recs) => {
                    messages += 1;
                    with_records += u64::from(!recs.is_empty());
                    for rec in recs {
                        records += 1;
                        *by_kind.entry(rec.kind.as_str()).or_default() += 1;
                        *by_reason.entry(rec.reason.as_str()).or_default() += 1;
                        if !args.summary {
                            serde_json::to_writer(&mut out, &RecordLine::new(&r.name, rec))?;
                            out.write_all(b"\n")?;
                        }
                    }
                }
                Err(e) => errors.push(e.clone()),
            }
        }
    }
    if args.summary {
        let secs = started.elapsed().as_secs_f64();
        let summary = json!({
            "messages": messages,
            "messages_with_records": with_records,
            "records": records,
            "kinds": by_kind,
            "reasons": by_reason,
            "unreadable": errors.len(),
            "seconds": (secs * 1000.0).round() / 1000.0,
            "messages_per_second": if secs > 0.0 { (messages as f64 / secs).round() } else { 0.0 },
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    }
    out.flush()?;
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
