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

/// Appends `s` to `out` as a JSON string, escaped exactly as `serde_json` escapes it
/// (`\"`, `\\`, `\b \f \n \r \t`, other control characters as `\u00xx`; everything
/// else, non-ASCII included, as it is). Runs of plain bytes are copied whole.
fn json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.push(b'"');
    let mut from = 0;
    let mut i = 0;
    while i < b.len() {
        // Eight bytes at a time while none needs escaping (the usual case).
        if let Some(chunk) = b.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if !needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let c = b[i];
        i += 1;
        if c >= 0x20 && c != b'"' && c != b'\\' {
            continue;
        }
        let i = i - 1;
        out.extend_from_slice(&b[from..i]);
        from = i + 1;
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
        }
    }
    out.extend_from_slice(&b[from..]);
    out.push(b'"');
}

/// Whether one of the eight bytes of `w` is a control character, `"` or `\\` (bit tricks:
/// a byte below `n` leaves its high bit set in `b - n` while clear in `b`).
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH;
    below(w, 0x20) | below(w ^ (ONES * 0x22), 1) | below(w ^ (ONES * 0x5c), 1) != 0
}

/// `"key":` then the value: a string, or `null`.
fn json_field(out: &mut Vec<u8>, key: &str, value: Option<&str>) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    match value {
        Some(v) => json_str(out, v),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b',');
}

/// Appends one record as `rebound parse` prints it, and a line feed: a JSON object with
/// its keys in alphabetical order, `original_headers` as an object (sorted by name; of a
/// repeated field, the last value). Written directly (no serializer): the same bytes
/// `serde_json` gives for the same record (the tests hold the two side by side).
pub fn write_record(out: &mut Vec<u8>, file: &str, r: &BounceRecord) {
    out.push(b'{');
    json_field(out, "class", r.class.map(|c| c.as_str()));
    json_field(out, "diagnostic", r.diagnostic.as_deref());
    json_field(out, "feedback_type", r.feedback_type.as_deref());
    json_field(out, "file", Some(file));
    json_field(out, "kind", Some(r.kind.as_str()));
    json_field(out, "message_id", r.message_id.as_deref());
    json_field(out, "mta", Some(r.mta));
    out.extend_from_slice(b"\"original_headers\":{");
    let headers = sorted_headers(&r.original_headers);
    for (i, (k, v)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, k);
        out.push(b':');
        json_str(out, v);
    }
    out.extend_from_slice(b"},");
    json_field(out, "reason", Some(r.reason.as_str()));
    json_field(out, "recipient", r.recipient.as_deref());
    json_field(out, "remote_mta", r.remote_mta.as_deref());
    json_field(out, "reply_code", r.reply_code.as_deref());
    json_field(out, "smtp_command", r.smtp_command.as_deref());
    json_field(out, "status", r.status.as_deref());
    // The last field's comma becomes the closing brace.
    out.pop();
    out.extend_from_slice(b"}\n");
}

/// Header fields sorted by name, a repeated name once with its last value (what a map
/// built from them holds), without building a map.
fn sorted_headers(fields: &[(String, String)]) -> Vec<(&str, &str)> {
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
    kept
}

struct FileResult {
    name: String,
    records: Result<Vec<BounceRecord>, String>,
}

/// What a parsing thread keeps from file to file: the read buffer (kept initialised,
/// grown when the files of a batch fill it; `used` bytes of it hold the batch) and the
/// directory of the last file, open.
#[derive(Default)]
struct Reader {
    buf: Vec<u8>,
    used: usize,
    #[cfg(unix)]
    dir: Option<(PathBuf, std::os::fd::OwnedFd)>,
}

impl Reader {
    /// Opens `path` for reading. On Unix a file is opened relative to its directory, which
    /// stays open for the next file: files listed or walked one directory after another
    /// spare the kernel the walk of the whole path each time (about 0.4 µs a file where
    /// measured, a tenth of the open/read/close). Where the directory cannot be opened, the
    /// path is opened as it is, and any error is the one that gives.
    fn open(&mut self, path: &Path) -> std::io::Result<std::fs::File> {
        #[cfg(unix)]
        if let (Some(parent), Some(file)) = (path.parent(), path.file_name()) {
            use rustix::fs::{Mode, OFlags};
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if self.dir.as_ref().is_none_or(|(d, _)| d != parent) {
                self.dir = rustix::fs::open(
                    parent,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ok()
                .map(|fd| (parent.to_path_buf(), fd));
            }
            if let Some((_, dir)) = &self.dir {
                return rustix::fs::openat(
                    dir,
                    file,
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map(std::fs::File::from)
                .map_err(std::io::Error::from);
            }
        }
        std::fs::File::open(path)
    }

    /// Empties the batch (a buffer grown past 16 MiB by a huge file is let go).
    fn clear(&mut self) {
        self.used = 0;
        if self.buf.len() > 16 << 20 {
            self.buf = Vec::new();
        }
    }

    /// Reads `path` (`-`: standard input) whole after the batch's files: where its bytes
    /// stand in the buffer. On an error the batch is as it was.
    fn append(&mut self, path: &Path) -> std::io::Result<std::ops::Range<usize>> {
        let start = self.used;
        let read = if path == Path::new("-") {
            read_all(&mut std::io::stdin().lock(), &mut self.buf, start)
        } else {
            self.open(path)
                .and_then(|mut f| read_all(&mut f, &mut self.buf, start))
        };
        let end = read?;
        self.used = end;
        Ok(start..end)
    }
}

/// A path as printed (`file` of a record, errors): its text when UTF-8 (nearly always),
/// copied as it is, else `display`'s lossy text, which is the same text for UTF-8 but goes
/// through the formatting machinery and a lossy decoder, a cost paid for every file.
fn name_of(path: &Path) -> String {
    path.to_str()
        .map_or_else(|| path.display().to_string(), str::to_owned)
}

/// Reads everything into `buf` from `at` on (`buf` kept initialised and reused from file to
/// file, grown when the file fills it) and returns where the bytes read end. Unlike
/// `read_to_end` on a `File`, no `statx` for a size hint: a small file is one read, plus
/// the one that finds its end.
fn read_all(r: &mut impl Read, buf: &mut Vec<u8>, at: usize) -> std::io::Result<usize> {
    let mut n = at;
    loop {
        if buf.len() - n < 16 << 10 {
            buf.resize((buf.len() * 2).max(n + (64 << 10)), 0);
        }
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Files read one after the other before any of them is parsed, at most (a batch also
/// ends once it holds [`BATCH_BYTES`]). The kernel's work (opening, reading, closing) and
/// the parser's then take turns a batch at a time, not a file at a time, and each finds
/// more of its own data and code still in the caches: `rebound parse --jobs 1` 6–10%
/// faster on the corpus than file by file (BENCHMARKS.md; 64 files a batch did no better).
const BATCH_FILES: usize = 32;
/// Bytes a batch stops growing at (the file that passes it is still part of it).
const BATCH_BYTES: usize = 512 << 10;

/// Parses the listed `paths` (of a `--files-from` list, or files found by walking) in
/// order, a batch at a time: every file of a batch is read into the reader's buffer, then
/// each is parsed. A directory among them (its read fails with "is a directory") is walked
/// in name order and its files parsed in their turn.
fn parse_paths(paths: &[PathBuf], reader: &mut Reader, out: &mut Vec<FileResult>) {
    let mut spans: Vec<std::io::Result<std::ops::Range<usize>>> = Vec::new();
    let mut rest = paths;
    while !rest.is_empty() {
        reader.clear();
        spans.clear();
        for p in rest {
            if spans.len() == BATCH_FILES || reader.used >= BATCH_BYTES {
                break;
            }
            spans.push(reader.append(p));
        }
        let (batch, later) = rest.split_at(spans.len());
        for (p, span) in batch.iter().zip(spans.drain(..)) {
            match span {
                Ok(span) => out.push(FileResult {
                    name: name_of(p),
                    records: Ok(bounces::parse(&reader.buf[span])),
                }),
                Err(e) => unreadable(p, &e, out),
            }
        }
        rest = later;
    }
}

/// A listed path that could not be read: a directory is walked (its files parsed with a
/// reader of their own: this one's buffer holds the rest of the batch), anything else is
/// an error.
fn unreadable(path: &Path, e: &std::io::Error, out: &mut Vec<FileResult>) {
    let name = name_of(path);
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        out.push(FileResult {
            records: Err(format!("{name}: {e}")),
            name,
        });
        return;
    }
    let (mut files, mut errors) = (Vec::new(), Vec::new());
    walk(path, &mut files, &mut errors);
    for e in errors {
        out.push(FileResult {
            name: name.clone(),
            records: Err(e),
        });
    }
    parse_paths(&files, &mut Reader::default(), out);
}

/// Files a worker takes at a time (`--jobs` above 1).
const CHUNK: usize = 32;
/// Chunks parsed ahead of the one being printed, at most: memory stays bounded however long
/// one chunk takes (a huge file), the results waiting being at most this many chunks.
const WINDOW: usize = 64;

/// Parses `files` (a chunk at a time with `work`: [`parse_paths`]) on `jobs` threads,
/// started once for the whole run (their lazily built automata and caches stay warm from
/// chunk to chunk), and hands every result to `emit` in the order of `files`. A chunk
/// whose thread panicked (a parser bug) loses no file silently: each of its files is
/// reported as an error. Stops at `emit`'s first error.
fn parse_parallel(
    files: &[PathBuf],
    jobs: usize,
    work: impl Fn(&[PathBuf], &mut Reader, &mut Vec<FileResult>) + Sync,
    mut emit: impl FnMut(FileResult) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let chunks: Vec<&[PathBuf]> = files.chunks(CHUNK).collect();
    let next = AtomicUsize::new(0);
    // How many chunks have been printed (every chunk below it), and its wake-up call.
    let printed = (std::sync::Mutex::new(0usize), std::sync::Condvar::new());
    let set_printed = |n: usize| {
        *printed.0.lock().unwrap_or_else(|e| e.into_inner()) = n;
        printed.1.notify_all();
    };
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Option<Vec<FileResult>>)>();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (chunks, next, printed, work) = (&chunks, &next, &printed, &work);
            s.spawn(move || {
                let mut reader = Reader::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else {
                        break;
                    };
                    let mut done = printed.0.lock().unwrap_or_else(|e| e.into_inner());
                    while i >= *done + WINDOW {
                        done = printed.1.wait(done).unwrap_or_else(|e| e.into_inner());
                    }
                    drop(done);
                    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let mut found = Vec::with_capacity(chunk.len());
                        work(chunk, &mut reader, &mut found);
                        found
                    }));
                    if found.is_err() {
                        // The buffer may be left as the panic found it.
                        reader = Reader::default();
                    }
                    if tx.send((i, found.ok())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results come in any order: each waits here until those before it are printed.
        let mut waiting = std::collections::BTreeMap::new();
        let mut want = 0;
        for (i, found) in rx {
            waiting.insert(i, found);
            while let Some(found) = waiting.remove(&want) {
                let found = found.unwrap_or_else(|| {
                    chunks
                        .get(want)
                        .copied()
                        .unwrap_or_default()
                        .iter()
                        .map(|p| {
                            let name = name_of(p);
                            FileResult {
                                records: Err(format!(
                                    "{name}: internal error: the parser failed on this chunk of files"
                                )),
                                name,
                            }
                        })
                        .collect()
                });
                for r in found {
                    if let Err(e) = emit(r) {
                        // No more work handed out; the waiting threads let go.
                        next.store(chunks.len(), Ordering::Relaxed);
                        set_printed(usize::MAX / 2);
                        return Err(e);
                    }
                }
                want += 1;
                set_printed(want);
            }
        }
        Ok(())
    })
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
    // Records are written into `line` and handed to `out` 64 KiB at a time.
    let mut line: Vec<u8> = Vec::with_capacity(1 << 17);
    let mut by_kind = std::collections::BTreeMap::<&str, u64>::new();
    let mut by_reason = std::collections::BTreeMap::<&str, u64>::new();
    let (mut messages, mut with_records, mut records) = (0u64, 0u64, 0u64);
    // Each file's records are counted and printed as soon as those before it have been,
    // then dropped: memory stays flat however many files there are.
    let mut emit = |r: FileResult| -> std::io::Result<()> {
        match &r.records {
            Ok(recs) => {
                messages += 1;
                with_records += u64::from(!recs.is_empty());
                records += recs.len() as u64;
                for rec in recs {
                    // Counted for the summary, printed otherwise.
                    if args.summary {
                        *by_kind.entry(rec.kind.as_str()).or_default() += 1;
                        *by_reason.entry(rec.reason.as_str()).or_default() += 1;
                    } else {
                        write_record(&mut line, &r.name, rec);
                    }
                }
            }
            Err(e) => errors.push(e.clone()),
        }
        if line.len() >= 1 << 16 {
            out.write_all(&line)?;
            line.clear();
        }
        Ok(())
    };
    if jobs == 1 {
        // One thread: the files are read and parsed here, a batch after the other.
        let mut reader = Reader::default();
        let mut found = Vec::new();
        for batch in files.chunks(BATCH_FILES) {
            parse_paths(batch, &mut reader, &mut found);
            for r in found.drain(..) {
                emit(r)?;
            }
        }
    } else {
        parse_parallel(&files, jobs, parse_paths, &mut emit)?;
    }
    out.write_all(&line)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_core::{BounceClass, EventKind, Reason};

    /// Reads `path` through the reader, alone in its batch.
    fn read_with(reader: &mut Reader, path: &Path) -> std::io::Result<Vec<u8>> {
        reader.clear();
        let span = reader.append(path)?;
        Ok(reader.buf[span].to_vec())
    }

    /// `parse_parallel` over `n` made-up paths with `work` (on each path of a chunk), the
    /// names it emits in order.
    fn parallel_names(
        n: usize,
        jobs: usize,
        work: impl Fn(&Path, &mut Reader, &mut Vec<FileResult>) + Sync,
    ) -> Vec<(String, bool)> {
        let files: Vec<PathBuf> = (0..n).map(|i| PathBuf::from(format!("f{i}"))).collect();
        let mut seen = Vec::new();
        let each = |chunk: &[PathBuf], reader: &mut Reader, out: &mut Vec<FileResult>| {
            for p in chunk {
                work(p, reader, out);
            }
        };
        parse_parallel(&files, jobs, each, |r| {
            seen.push((r.name, r.records.is_ok()));
            Ok(())
        })
        .expect("parse_parallel");
        seen
    }

    #[test]
    fn parallel_results_come_in_the_order_of_the_files() {
        // More chunks than the window, the first one slow: the threads run ahead up to the
        // window, wait, and every result still comes out once, in order.
        let n = CHUNK * (WINDOW + 5) + 7;
        let seen = parallel_names(n, 3, |p, _, out| {
            if p == Path::new("f0") {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            out.push(FileResult {
                name: p.display().to_string(),
                records: Ok(Vec::new()),
            });
        });
        let want: Vec<(String, bool)> = (0..n).map(|i| (format!("f{i}"), true)).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_panicking_chunk_is_reported_file_by_file() {
        // The chunk holding f40 fails whole (its files as errors); the others are kept.
        let n = CHUNK * 4;
        let seen = parallel_names(n, 2, |p, _, out| {
            assert!(p != Path::new("f40"), "a parser bug");
            out.push(FileResult {
                name: p.display().to_string(),
                records: Ok(Vec::new()),
            });
        });
        assert_eq!(seen.len(), n);
        for (i, (name, ok)) in seen.iter().enumerate() {
            assert_eq!(name, &format!("f{i}"));
            assert_eq!(*ok, i / CHUNK != 40 / CHUNK, "{name}");
        }
    }

    #[test]
    fn parallel_parsing_stops_at_the_first_write_error() {
        let files: Vec<PathBuf> = (0..CHUNK * (WINDOW + 3))
            .map(|i| PathBuf::from(format!("f{i}")))
            .collect();
        let mut emitted = 0;
        let result = parse_parallel(
            &files,
            2,
            |chunk, _, out| {
                out.extend(chunk.iter().map(|p| FileResult {
                    name: p.display().to_string(),
                    records: Ok(Vec::new()),
                }))
            },
            |_| {
                emitted += 1;
                if emitted == 10 {
                    Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(
            result.expect_err("the error").kind(),
            std::io::ErrorKind::BrokenPipe
        );
        assert_eq!(emitted, 10);
    }

    /// A small DSN for `rcpt`, padded with `pad` bytes of text.
    fn dsn(rcpt: &str, pad: usize) -> String {
        format!(
            "From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
             --b\nContent-Type: text/plain\n\n{}\n--b\nContent-Type: message/delivery-status\n\n\
             Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; {rcpt}\n\
             Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 unknown\n\n--b--\n",
            "delivery failed ".repeat(pad / 16 + 1)
        )
    }

    /// A file's name and its records' recipients (or that it could not be read).
    type Outcome = (String, Result<Vec<Option<String>>, ()>);

    #[test]
    fn batches_keep_every_file_its_own_bytes_and_its_place() {
        // More files than a batch holds, one bigger than a batch's bytes, a directory and
        // a missing file among them: each result is its file's own, in the list's order,
        // as when every file is read and parsed alone.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut paths = Vec::new();
        for i in 0..BATCH_FILES * 2 + 5 {
            let p = dir.path().join(format!("m{i:03}.eml"));
            let pad = if i == 7 { BATCH_BYTES + 1000 } else { i * 100 };
            std::fs::write(&p, dsn(&format!("user{i}@example.net"), pad)).expect("write");
            paths.push(p);
            if i == 10 {
                let sub = dir.path().join("sub");
                std::fs::create_dir_all(&sub).expect("mkdir");
                for j in 0..3 {
                    std::fs::write(
                        sub.join(format!("s{j}.eml")),
                        dsn(&format!("sub{j}@example.net"), 0),
                    )
                    .expect("write");
                }
                paths.push(sub);
            }
            if i == 40 {
                paths.push(dir.path().join("missing.eml"));
            }
        }
        let mut want: Vec<Outcome> = Vec::new();
        for p in &paths {
            let each: Vec<PathBuf> = if p.is_dir() {
                (0..3).map(|j| p.join(format!("s{j}.eml"))).collect()
            } else {
                vec![p.clone()]
            };
            for f in each {
                let got = std::fs::read(&f)
                    .map(|b| {
                        bounces::parse(&b)
                            .into_iter()
                            .map(|r| r.recipient)
                            .collect()
                    })
                    .map_err(|_| ());
                want.push((name_of(&f), got));
            }
        }
        let mut reader = Reader::default();
        let mut out = Vec::new();
        parse_paths(&paths, &mut reader, &mut out);
        let got: Vec<Outcome> = out
            .into_iter()
            .map(|r| {
                let recs = r
                    .records
                    .map(|v| v.into_iter().map(|r| r.recipient).collect());
                (r.name, recs.map_err(|_| ()))
            })
            .collect();
        assert_eq!(got, want);
        // Every message was read whole: the padded one too, and each holds its recipient.
        assert_eq!(
            got.iter()
                .filter(|(_, r)| matches!(r, Ok(v) if v.len() == 1))
                .count(),
            BATCH_FILES * 2 + 5 + 3
        );
        assert_eq!(got.iter().filter(|(_, r)| r.is_err()).count(), 1);
        // The missing file's error names it.
        let mut out = Vec::new();
        parse_paths(&[dir.path().join("missing.eml")], &mut reader, &mut out);
        let err = out.pop().and_then(|r| r.records.err()).unwrap_or_default();
        assert!(
            err.contains("missing.eml") && err.contains("No such file"),
            "{err}"
        );
    }

    #[test]
    fn the_reader_opens_each_file_in_its_own_directory() {
        // Files of one name in two directories, read in turns: the directory kept open
        // must follow the path each time.
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        std::fs::write(a.join("m.eml"), b"from a").expect("write");
        std::fs::write(b.join("m.eml"), b"from b, longer").expect("write");
        let mut reader = Reader::default();
        for (path, want) in [
            (a.join("m.eml"), &b"from a"[..]),
            (b.join("m.eml"), b"from b, longer"),
            (a.join("m.eml"), b"from a"),
            (a.join("../b/m.eml"), b"from b, longer"),
        ] {
            assert_eq!(
                read_with(&mut reader, &path).expect("read"),
                want,
                "{path:?}"
            );
        }
        // Missing files, in a directory that exists and in one that does not: the error
        // std gives for the whole path.
        for missing in [a.join("none.eml"), dir.path().join("none/m.eml")] {
            let err = read_with(&mut reader, &missing).expect_err("missing");
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{missing:?}");
        }
        // A directory opens, and reading it fails (the caller then walks it).
        assert!(read_with(&mut reader, &a).is_err());
        // A path without a directory part is relative to the working directory (the
        // crate's, under cargo test).
        assert_eq!(
            read_with(&mut reader, Path::new("Cargo.toml")).expect("read"),
            std::fs::read("Cargo.toml").expect("read")
        );
    }

    /// The reference: one record through `serde_json`, keys in alphabetical order.
    #[derive(serde::Serialize)]
    pub struct RecordLine<'a> {
        class: Option<&'static str>,
        diagnostic: &'a Option<String>,
        feedback_type: &'a Option<String>,
        file: &'a str,
        kind: &'static str,
        message_id: &'a Option<String>,
        mta: &'static str,
        original_headers: std::collections::BTreeMap<&'a str, &'a str>,
        reason: &'static str,
        recipient: &'a Option<String>,
        remote_mta: &'a Option<String>,
        reply_code: &'a Option<String>,
        smtp_command: &'a Option<String>,
        status: &'a Option<String>,
    }

    fn reference(file: &str, r: &BounceRecord) -> String {
        let line = RecordLine {
            class: r.class.map(|c| c.as_str()),
            diagnostic: &r.diagnostic,
            feedback_type: &r.feedback_type,
            file,
            kind: r.kind.as_str(),
            message_id: &r.message_id,
            mta: r.mta,
            // A map keeps the last value of a repeated name.
            original_headers: r
                .original_headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            reason: r.reason.as_str(),
            recipient: &r.recipient,
            remote_mta: &r.remote_mta,
            reply_code: &r.reply_code,
            smtp_command: &r.smtp_command,
            status: &r.status,
        };
        let mut s = serde_json::to_string(&line).expect("serialisable");
        s.push('\n');
        s
    }

    fn written(file: &str, r: &BounceRecord) -> String {
        let mut out = Vec::new();
        write_record(&mut out, file, r);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn records_are_written_as_serde_json_writes_them() {
        // Every byte that JSON escapes, a few that it does not, and non-ASCII text.
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        let tricky = format!("a\"b\\c/\u{7f}é日本{all_controls}end");
        let full = BounceRecord {
            recipient: Some("user@example.org".into()),
            kind: EventKind::Bounce,
            class: Some(BounceClass::Hard),
            reason: Reason::UserUnknown,
            status: Some("5.1.1".into()),
            reply_code: Some("550".into()),
            diagnostic: Some(tricky.clone()),
            remote_mta: Some("mx.example.org".into()),
            smtp_command: Some("RCPT".into()),
            message_id: Some("<id@example.org>".into()),
            original_headers: vec![
                ("to".into(), "b".into()),
                ("from".into(), tricky.clone()),
                ("to".into(), "last wins".into()),
                ("x-\"odd\"".into(), "\n".into()),
            ],
            feedback_type: Some("abuse".into()),
            mta: "postfix",
        };
        let empty = BounceRecord {
            recipient: None,
            kind: EventKind::Complaint,
            class: None,
            reason: Reason::Feedback,
            status: None,
            reply_code: None,
            diagnostic: None,
            remote_mta: None,
            smtp_command: None,
            message_id: None,
            original_headers: Vec::new(),
            feedback_type: None,
            mta: "arf",
        };
        for r in [&full, &empty] {
            for file in ["a.eml", "dir/\"quoted\"\\x\t.eml", ""] {
                assert_eq!(written(file, r), reference(file, r));
            }
        }
        // And what it writes parses back.
        let v: serde_json::Value = serde_json::from_str(&written("f", &full)).expect("JSON");
        assert_eq!(v["diagnostic"].as_str(), Some(tricky.as_str()));
        assert_eq!(v["original_headers"]["to"].as_str(), Some("last wins"));
    }

    #[test]
    fn needs_escape_finds_every_byte_to_escape() {
        // Beside plain ASCII, and beside bytes with the high bit set (UTF-8 text).
        for fill in [b'a', 0xe6] {
            for c in 0u8..=255 {
                let want = c < 0x20 || c == b'"' || c == b'\\';
                for pos in 0..8 {
                    let mut w = [fill; 8];
                    w[pos] = c;
                    assert_eq!(
                        needs_escape(u64::from_le_bytes(w)),
                        want,
                        "byte {c:#x} at {pos} among {fill:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn corpus_records_are_written_as_serde_json_writes_them() {
        // Every record of a few real-looking messages written here.
        let msg =
            b"From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\n\
Content-Type: text/plain\n\nThis is the mail system at host mx.example.org.\n\n\
<nobody@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 <nobody@example.net>:\n\
    Recipient address rejected: User unknown \"quoted\" (in reply to RCPT TO command)\n";
        let recs = rebound_core::bounces::parse(msg);
        assert!(!recs.is_empty());
        for r in &recs {
            assert_eq!(written("m.eml", r), reference("m.eml", r));
        }
    }
}
