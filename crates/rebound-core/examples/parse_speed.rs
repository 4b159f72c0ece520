//! Parser speed without file IO: every file given (or every file under the directories
//! given) is read into memory once, then parsed `ROUNDS` times (default 20) on one thread.
//! `bench/parse.sh` runs it beside `rebound parse`, which reads files as it goes.
//!
//!     cargo run --release -p rebound-core --example parse_speed -- DIR…
//!
//! With `DUMP=1` it prints every record instead (file, tab, record), to compare builds.

use std::path::{Path, PathBuf};

#[global_allocator]
static ALLOC: rebound_alloc::Mi = rebound_alloc::Mi;
use std::time::Instant;

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut items: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        items.sort();
        for i in items {
            walk(&i, out);
        }
    } else {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        walk(Path::new(&a), &mut files);
    }
    let messages: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    if messages.is_empty() {
        eprintln!("usage: parse_speed DIR|FILE…");
        std::process::exit(2);
    }
    if std::env::var_os("DUMP").is_some() {
        // Every record of every file, for comparing two builds' results byte for byte.
        for (f, m) in files.iter().zip(&messages) {
            for r in rebound_core::bounces::parse(m) {
                println!("{}\t{r:?}", f.display());
            }
        }
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let bytes: usize = messages.iter().map(Vec::len).sum();
    // Warm-up (builds the wording automata once).
    let mut records = 0usize;
    for m in &messages {
        records += rebound_core::bounces::parse(m).len();
    }
    let started = Instant::now();
    for _ in 0..rounds {
        for m in &messages {
            records += rebound_core::bounces::parse(m).len();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = messages.len() * rounds;
    println!(
        "parsed {n} messages ({:.1} MB) in {secs:.2} s on one thread: {:.0} messages/s, {:.1} MB/s ({} records)",
        (bytes * rounds) as f64 / 1e6,
        n as f64 / secs,
        (bytes * rounds) as f64 / 1e6 / secs,
        records / (rounds + 1)
    );
}
