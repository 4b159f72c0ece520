//! The CLI: import/export round trip, webhook parse, source add.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

fn rebound(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let dir = dir.to_str().expect("utf-8 path");
    run_rebound(&[&["--data-dir", dir], args].concat(), stdin)
}

#[test]
fn csv_import_reports_bad_rows_keeps_good_ones_and_round_trips_through_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = "email,status,name,uuid\n\
               alice@example.com,subscribed,Alice,\n\
               not-an-email,subscribed,Bad,\n\
               Bob@Example.COM,bounced,\"Bob, Jr.\",0b5b9a52-0000-4000-8000-00000000000b\n\
               carol@example.com,exploded,Carol,\n\
               dave@example.com,complained,,\n";
    let out = rebound(dir.path(), &["import", "-"], Some(csv.as_bytes()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad rows make the exit code non-zero: {err}"
    );
    assert!(
        err.contains("line 3:") && err.contains("not an email address"),
        "{err}"
    );
    assert!(
        err.contains("line 5:") && err.contains("unknown status 'exploded'"),
        "{err}"
    );
    assert!(
        err.contains("3 created") && err.contains("2 bad rows"),
        "{err}"
    );

    let out = rebound(dir.path(), &["export"], None);
    assert!(out.status.success());
    let exported = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines.len(), 4, "{exported}");
    assert!(lines[0].starts_with("email,status,reason,uuid,attributes"));
    assert!(
        lines[2].starts_with("Bob@Example.COM,bounced,,0b5b9a52-0000-4000-8000-00000000000b,"),
        "{exported}"
    );

    let only = rebound(dir.path(), &["export", "--status", "complained"], None);
    let only = String::from_utf8(only.stdout).expect("utf-8");
    assert_eq!(only.lines().count(), 2);
    assert!(only.contains("dave@example.com"));

    // Into a fresh store and out again: identical but for the creation times.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let out = rebound(dir2.path(), &["import", "-"], Some(exported.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = String::from_utf8(rebound(dir2.path(), &["export"], None).stdout).expect("utf-8");
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string())
            .collect()
    };
    assert_eq!(strip(&again), strip(&exported));
    assert!(
        again.contains(r#""{""name"":""Bob, Jr.""}""#),
        "attributes kept: {again}"
    );

    // Importing the same file again changes nothing unless --overwrite.
    let out = rebound(dir2.path(), &["import", "-"], Some(exported.as_bytes()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 unchanged"));
    let out = rebound(dir.path(), &["import", "/nonexistent.csv"], None);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn webhook_parse_prints_normalized_events_for_each_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = shared_dir().join("fixtures/providers");
    let cases = [
        ("tosend", "bounce-hard.json", "bounce", Some("hard")),
        ("tosend", "bounce-soft.json", "bounce", Some("soft")),
        ("tosend", "complaint.json", "complaint", None),
        ("generic", "bounced-hard.json", "bounce", Some("hard")),
        (
            "listmonk",
            "generic-bounce-api-hard.json",
            "bounce",
            Some("hard"),
        ),
    ];
    for (provider, file, kind, class) in cases {
        let path = fixtures.join(provider).join(file);
        let out = rebound(
            dir.path(),
            &[
                "webhook",
                "parse",
                "--provider",
                provider,
                path.to_str().expect("utf-8"),
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).expect("utf-8");
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 1, "{file}");
        assert_eq!(lines[0]["kind"], kind, "{file}");
        assert_eq!(lines[0]["class"].as_str(), class, "{file}");
        assert!(
            lines[0]["recipient"]
                .as_str()
                .unwrap_or_default()
                .contains('@'),
            "{file}"
        );
    }
    let out = rebound(
        dir.path(),
        &["webhook", "parse", "--provider", "tosend", "-"],
        Some(b"{oops"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid JSON"));
    let out = rebound(
        dir.path(),
        &["webhook", "parse", "--provider", "nope", "-"],
        Some(b"{}"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown provider 'nope'"));
}

#[test]
fn source_add_prints_the_webhook_url_and_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = rebound(
        dir.path(),
        &["source", "add", "--provider", "generic", "--name", "App"],
        None,
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("Webhook URL: http://127.0.0.1:8080/webhooks/generic/"),
        "{text}"
    );
    assert!(text.contains("Signing secret: whsec_"), "{text}");
    let out = rebound(dir.path(), &["source", "reveal", "1", "--json"], None);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["provider"], "generic");
    assert_eq!(v["key"].as_str().map(str::len), Some(32), "192-bit key");
    let out = rebound(
        dir.path(),
        &[
            "source",
            "add",
            "--provider",
            "tosend",
            "--name",
            "x",
            "--secret",
            "abc",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not use a signing secret"));
}

#[test]
fn parse_prints_one_json_object_per_record_and_fails_on_unreadable_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = shared_dir().join("corpus/bounces/maildir/bsd");
    let file = corpus.join("lhost-postfix-01.eml");
    assert!(
        file.is_file(),
        "bounce corpus missing at {}",
        corpus.display()
    );
    let out = rebound(dir.path(), &["parse", file.to_str().expect("utf-8")], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert!(!lines.is_empty());
    for v in &lines {
        for field in [
            "file",
            "recipient",
            "kind",
            "class",
            "reason",
            "status",
            "reply_code",
            "diagnostic",
            "remote_mta",
            "message_id",
            "original_headers",
            "mta",
        ] {
            assert!(v.get(field).is_some(), "{field} missing in {v}");
        }
        assert!(v["recipient"].as_str().is_some_and(|r| r.contains('@')));
    }
    // The library and the CLI agree.
    let lib = rebound_core::bounces::parse(&std::fs::read(&file).expect("read"));
    assert_eq!(lines.len(), lib.len());
    assert_eq!(lines[0]["reason"], lib[0].reason.as_str());

    // Standard input, and a directory with a summary.
    let stdin = std::fs::read(&file).expect("read");
    let out = rebound(dir.path(), &["parse", "-"], Some(&stdin));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        lines.len()
    );
    let out = rebound(
        dir.path(),
        &["parse", "--summary", corpus.to_str().expect("utf-8")],
        None,
    );
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert!(
        summary["messages"].as_u64().unwrap_or(0) >= 600,
        "{summary}"
    );
    assert!(
        summary["reasons"]["userunknown"].as_u64().unwrap_or(0) > 50,
        "{summary}"
    );

    // A list of paths in a file.
    let list = dir.path().join("list.txt");
    std::fs::write(&list, format!("{}\n\n{}\n", file.display(), file.display())).expect("write");
    let out = rebound(
        dir.path(),
        &["parse", "--files-from", list.to_str().expect("utf-8")],
        None,
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        2 * lines.len()
    );

    // A directory in the list is walked in its turn; a missing file is named, exit code 1.
    let sub = dir.path().join("listed");
    std::fs::create_dir_all(sub.join("inner")).expect("mkdir");
    std::fs::copy(&file, sub.join("a.eml")).expect("copy");
    std::fs::copy(&file, sub.join("inner/b.eml")).expect("copy");
    std::fs::write(
        &list,
        format!(
            "{}\n/nonexistent/listed.eml\n{}\n",
            sub.display(),
            file.display()
        ),
    )
    .expect("write");
    let out = rebound(
        dir.path(),
        &["parse", "--files-from", list.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/listed.eml"));
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            v["file"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(files.len(), 3 * lines.len(), "{files:?}");
    assert!(files[0].ends_with("listed/a.eml"), "{files:?}");
    assert!(
        files[lines.len()].ends_with("listed/inner/b.eml"),
        "{files:?}"
    );

    // An unreadable file: a clear message, exit code 1, the other files still parsed.
    let out = rebound(
        dir.path(),
        &[
            "parse",
            "/nonexistent/bounce.eml",
            file.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/bounce.eml"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        lines.len()
    );
}

/// The CLI's sources as a user takes them, with `rebound serve` running on the same data:
/// the URL `rebound source add` prints accepts the provider's events (SparkPost: the
/// credentials in it); a Resend source added before its secret exists waits for it, and
/// `rebound source update --secret` makes the same URL work within a second.
#[tokio::test]
async fn cli_sources_work_through_the_urls_they_print_while_serve_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cli = |args: &[&str]| {
        let out = Command::new(bin())
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("REBOUND_LISTEN", format!("127.0.0.1:{port}"))
            .output()
            .expect("rebound");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{args:?}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let printed_url = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("Webhook URL: "))
            .unwrap_or_else(|| panic!("no URL in {text}"))
            .to_string()
    };
    // Created before serve starts, and after.
    let sparkpost = printed_url(&cli(&[
        "source",
        "add",
        "--provider",
        "sparkpost",
        "--name",
        "SP",
    ]));
    let mut server = start(dir.path(), port, 2);
    let client = reqwest::Client::new();
    wait_ready(&client, port).await;
    let resend_text = cli(&["source", "add", "--provider", "resend", "--name", "R"]);
    assert!(
        resend_text.contains("Status: waiting for secret"),
        "{resend_text}"
    );
    let resend = printed_url(&resend_text);
    // The list shows no secret; reveal shows the URL add printed.
    let listed = cli(&["source", "list", "--json"]);
    for (id, url) in [("1", &sparkpost), ("2", &resend)] {
        let key = url.rsplit('/').next().unwrap_or_default();
        assert!(!listed.contains(key), "{listed}");
        assert_eq!(&printed_url(&cli(&["source", "reveal", id])), url);
    }

    let post = |url: String, headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let client = client.clone();
        async move {
            let mut req = client.post(url).body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req.send().await.expect("post").status().as_u16()
        }
    };
    let body = fixture("sparkpost", "anymail-bounce-event.json");
    assert_eq!(
        post(sparkpost.clone(), vec![], body).await,
        200,
        "{sparkpost}"
    );

    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = fixture("resend", "anymail-hard-bounced-event.json");
    let signed = |id: &str| svix_headers(secret, id, now_secs(), &body);
    assert_eq!(post(resend.clone(), signed("m1"), body.clone()).await, 503);
    let id = resend_text
        .split_whitespace()
        .nth(1)
        .expect("id")
        .to_string();
    let updated = cli(&["source", "update", &id, "--secret", secret]);
    assert_eq!(printed_url(&updated), resend, "the URL pasted stays valid");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut code = 0;
    while Instant::now() < deadline {
        code = post(resend.clone(), signed("m2"), body.clone()).await;
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        code, 200,
        "the running server takes the secret set by the CLI"
    );
}
