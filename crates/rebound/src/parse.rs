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
use serde_json::{json, Value};

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

/// One record as `rebound parse` prints it.
pub fn record_json(file: &str, r: &BounceRecord) -> Value {
    json!({
        "file": file,
        "recipient": r.recipient,
        "kind": r.kind.as_str(),
        "class": r.class.map(|c| c.as_str()),
        "reason": r.reason.as_str(),
        "status": r.status,
        "reply_code": r.reply_code,
        "diagnostic": r.diagnostic,
        "remote_mta": r.remote_mta,
        "smtp_command": r.smtp_command,
        "message_id": r.message_id,
        "original_headers": r
            .original_headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<serde_json::Map<String, Value>>(),
        "feedback_type": r.feedback_type,
        "mta": r.mta,
    })
}

struct FileResult {
    name: String,
    records: Result<Vec<BounceRecord>, String>,
}

fn parse_file(path: &Path) -> FileResult {
    let name = path.display().to_string();
    let raw = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    FileResult {
        records: raw
            .map(|r| bounces::parse(&r))
            .map_err(|e| format!("{name}: {e}")),
        name,
    }
}

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
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            walk(Path::new(line), &mut files, &mut errors);
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    let chunk = files.len().div_ceil(jobs).max(1);
    let results: Vec<FileResult> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|p| parse_file(p)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut by_kind = std::collections::BTreeMap::<&str, u64>::new();
    let mut by_reason = std::collections::BTreeMap::<&str, u64>::new();
    let (mut messages, mut with_records, mut records) = (0u64, 0u64, 0u64);
    for r in &results {
        match &r.records {
            Ok(recs) => {
                messages += 1;
                with_records += u64::from(!recs.is_empty());
                for rec in recs {
                    records += 1;
                    *by_kind.entry(rec.kind.as_str()).or_default() += 1;
                    *by_reason.entry(rec.reason.as_str()).or_default() += 1;
                    if !args.summary {
                        writeln!(out, "{}", record_json(&r.name, rec))?;
                    }
                }
            }
            Err(e) => errors.push(e.clone()),
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
