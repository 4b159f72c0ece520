//! The bounce corpus (`../shared/corpus/bounces`, read in place) against its ground truth.
//!
//! Scored the way the corpus's `evaluate.py` scores any parser: record i of the result
//! against record i of the expectation. Prints match rates per folder and asserts floors;
//! raise the floors as the parser improves. The results are also written as JSON lines
//! (`bounce-corpus.jsonl` in cargo's test temp dir) so `evaluate.py` can score them.
//! `REBOUND_SHOW_MISMATCH=N` prints the first N files with a wrong reason.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rebound_core::bounces::{self, BounceRecord};
use rebound_core::BounceClass;
use serde_json::{json, Value};

fn corpus() -> PathBuf {
    let d = std::env::var_os("REBOUND_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("corpus/bounces");
    assert!(
        d.join("ground_truth.jsonl").is_file(),
        "bounce corpus not found at {} (set REBOUND_SHARED_DIR)",
        d.display()
    );
    d
}

#[derive(Default, Debug)]
struct Score {
    files: usize,
    detected: usize,
    records: usize,
    reason: usize,
    hard: usize,
    status: usize,
    reply: usize,
    recipient_hint: usize,
    recipient_ok: usize,
}

impl Score {
    fn pct(n: usize, d: usize) -> f64 {
        if d == 0 {
            0.0
        } else {
            100.0 * n as f64 / d as f64
        }
    }
}

fn result_json(r: &BounceRecord) -> Value {
    json!({
        "recipient": r.recipient,
        "status": r.status.clone().unwrap_or_default(),
        "replycode": r.reply_code.clone().unwrap_or_default(),
        "reason": r.reason.as_str(),
        "hardbounce": r.class == Some(BounceClass::Hard),
    })
}

#[test]
fn corpus_matches_ground_truth() {
    let dir = corpus();
    let truth = std::fs::read_to_string(dir.join("ground_truth.jsonl")).expect("ground truth");
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    let mut not_bounce_hits = Vec::new();
    let mut unlabelled_total = 0usize;
    let mut mismatches = Vec::new();
    let mut out = String::new();
    let mut files_seen = 0usize;
    for line in truth.lines() {
        let g: Value = serde_json::from_str(line).expect("ground truth line");
        let file = g["file"].as_str().expect("file");
        let sub = g["dir"].as_str().expect("dir").to_string();
        let raw = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        files_seen += 1;
        let got = bounces::parse(&raw);
        let results: Vec<Value> = got.iter().map(result_json).collect();
        out.push_str(&json!({"file": file, "results": results}).to_string());
        out.push('\n');
        if sub == "not" {
            if !got.is_empty() {
                not_bounce_hits.push(file.to_string());
            }
            continue;
        }
        let Some(expected) = g["expected"].as_array() else {
            unlabelled_total += 1;
            continue;
        };
        let s = scores.entry(sub).or_default();
        s.files += 1;
        s.detected += usize::from(!got.is_empty());
        let hints = g["recipients_unverified"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut file_ok = true;
        for (i, e) in expected.iter().enumerate() {
            s.records += 1;
            let r = results.get(i);
            let field = |k: &str| r.map(|r| r[k].clone()).unwrap_or(Value::Null);
            let eq = |k: &str| {
                field(k)
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(e[k].as_str().unwrap_or("")))
            };
            let reason_ok = eq("reason");
            s.reason += usize::from(reason_ok);
            file_ok &= reason_ok;
            s.status += usize::from(eq("status"));
            s.reply += usize::from(eq("replycode"));
            s.hard += usize::from(r.is_some() && field("hardbounce") == e["hardbounce"]);
            if let Some(h) = hints.get(i).and_then(Value::as_str) {
                s.recipient_hint += 1;
                s.recipient_ok += usize::from(
                    field("recipient")
                        .as_str()
                        .is_some_and(|a| a.eq_ignore_ascii_case(h)),
                );
            }
        }
        if !file_ok {
            let want: Vec<&str> = expected
                .iter()
                .map(|e| e["reason"].as_str().unwrap_or(""))
                .collect();
            let have: Vec<String> = got
                .iter()
                .map(|r| {
                    format!(
                        "{}/{}/{}",
                        r.reason.as_str(),
                        r.status.as_deref().unwrap_or("-"),
                        r.diagnostic
                            .as_deref()
                            .unwrap_or("")
                            .chars()
                            .take(140)
                            .collect::<String>()
                    )
                })
                .collect();
            mismatches.push(format!("{file}: want {want:?} got {have:?}"));
        }
    }
    let out_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bounce-corpus.jsonl");
    std::fs::write(&out_path, out).expect("write results");
    println!("results: {}", out_path.display());
    println!("folder  files detect  records  reason  hard   status  reply  recipient");
    for (d, s) in &scores {
        println!(
            "{d:<6} {:>5} {:>6.1}% {:>7} {:>6.1}% {:>5.1}% {:>6.1}% {:>5.1}% {:>6.1}%",
            s.files,
            Score::pct(s.detected, s.files),
            s.records,
            Score::pct(s.reason, s.records),
            Score::pct(s.hard, s.records),
            Score::pct(s.status, s.records),
            Score::pct(s.reply, s.records),
            Score::pct(s.recipient_ok, s.recipient_hint),
        );
    }
    println!("unlabelled files parsed without panic: {unlabelled_total}");
    let show: usize = std::env::var("REBOUND_SHOW_MISMATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for m in mismatches.iter().take(show) {
        println!("MISMATCH {m}");
    }
    assert!(files_seen >= 800, "corpus incomplete: {files_seen} files");
    assert!(
        not_bounce_hits.is_empty(),
        "not-bounces parsed as bounces: {not_bounce_hits:?}"
    );
    // Floors: raise them as the parser improves (reason, hard, status, recipient), in %.
    let floors = [
        ("bsd", 97.9, 98.3, 76.2, 97.6),
        ("dos", 99.5, 99.5, 67.6, 95.2),
        ("mac", 99.5, 99.5, 67.6, 95.2),
    ];
    for (d, reason, hard, status, recipient) in floors {
        let s = &scores[d];
        let got = (
            Score::pct(s.reason, s.records),
            Score::pct(s.hard, s.records),
            Score::pct(s.status, s.records),
            Score::pct(s.recipient_ok, s.recipient_hint),
        );
        assert!(
            got.0 >= reason && got.1 >= hard && got.2 >= status && got.3 >= recipient,
            "{d}: reason/hard/status/recipient {got:?} below floors {:?}",
            (reason, hard, status, recipient)
        );
    }
}

/// Every file in every folder (the unlabelled `err/` included) parses without a panic, and
/// twice gives the same result.
#[test]
fn every_corpus_file_parses_deterministically() {
    let dir = corpus().join("maildir");
    let mut n = 0;
    for sub in std::fs::read_dir(&dir).expect("maildir") {
        let sub = sub.expect("entry").path();
        for f in std::fs::read_dir(&sub).expect("folder") {
            let path = f.expect("entry").path();
            let raw = std::fs::read(&path).expect("read");
            let a = bounces::parse(&raw);
            let b = bounces::parse(&raw);
            assert_eq!(a, b, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 800, "only {n} files");
}
