//! The documentation as a user reads it: the README's walkthrough run as written against
//! the real binary, and every relative link in the repository's Markdown resolving.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```sh blocks of the README section headed `heading`, in order.
fn sh_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no section '{heading}'"));
    let section = &readme[start + heading.len() + 2..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        let t = line.trim();
        match (&mut current, t) {
            (None, "```sh") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), _) => {
                b.push_str(t);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The outputs a block shows (`# …` comments after a command, JSON or text), split at `…`
/// into the pieces that must appear in order.
fn expected_outputs(block: &str) -> Vec<Vec<String>> {
    block
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(|l| {
            l.split('…')
                .map(str::to_string)
                .filter(|p| !p.trim().is_empty())
                .collect()
        })
        .collect()
}

fn appears_in_order(haystack: &str, pieces: &[String]) -> bool {
    let mut rest = haystack;
    for p in pieces {
        match rest.find(p.as_str()) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// Runs the README's "Five-minute walkthrough" as a user would: its first block (`rebound
/// serve`) in the background, then the other blocks in order in one shell, in an empty
/// directory with the built `rebound` first on PATH. The only change made to the text is
/// the port (a free one instead of 8080). Every output the README shows must be printed.
#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let blocks = sh_blocks(&readme, "## Five-minute walkthrough (ToSend)");
    assert!(blocks.len() >= 4, "walkthrough blocks: {blocks:?}");
    assert!(blocks[0].contains("rebound serve"), "{}", blocks[0]);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let addr = format!("127.0.0.1:{port}");
    let localize = |s: &str| s.replace("127.0.0.1:8080", &addr);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_rebound"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let shell = |script: &str| {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!("set -euo pipefail\n{script}"))
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("REBOUND_LISTEN", &addr)
            .env_remove("REBOUND_ADMIN_TOKEN")
            .env_remove("REBOUND_PUBLIC_URL")
            .env_remove("REBOUND_DATA_DIR")
            .env_remove("REBOUND_DATABASE_URL")
            .env_remove("REBOUND_CONFIG");
        c
    };

    // Its own process group, so that the server the block starts is stopped with it.
    let mut serve = shell(&blocks[0])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let up = std::net::TcpStream::connect(&addr).is_ok();
        if up || Instant::now() > deadline {
            break up;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest = blocks[1..].join("\n");
    let out = ready.then(|| shell(&localize(&rest)).output().expect("bash"));
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", serve.id())])
        .status();
    let _ = serve.wait();
    let out = out.expect("rebound serve did not start listening");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for block in &blocks[1..] {
        for pieces in expected_outputs(&localize(block)) {
            assert!(
                appears_in_order(&stdout, &pieces),
                "the README shows {pieces:?}, the walkthrough printed:\n{stdout}"
            );
        }
    }
    assert!(stdout.contains("\"status\":\"bounced\""), "{stdout}");
}

/// Every Markdown file of the repository (outside build output), for the link check.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "corpus" {
                markdown_files(&p, out);
            }
        } else if name.ends_with(".md") {
            out.push(p);
        }
    }
}

/// The targets of inline Markdown links `[text](target)` outside code.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code spans hold examples, not links.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            targets.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    targets
}

/// The heading anchors of a Markdown text, as GitHub makes them.
fn anchors(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = repo().canonicalize().expect("repo");
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("docs/architecture.md")),
        "docs/ found: {files:?}"
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if path.is_empty() {
                file.clone()
            } else {
                file.parent().expect("parent").join(path)
            };
            checked += 1;
            if !dest.exists() {
                broken.push(format!("{}: {target}", file.display()));
                continue;
            }
            if !anchor.is_empty() && dest.is_file() {
                let dest_text = std::fs::read_to_string(&dest).unwrap_or_default();
                if !anchors(&dest_text).iter().any(|a| a == anchor) {
                    broken.push(format!("{}: {target} (no such heading)", file.display()));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
