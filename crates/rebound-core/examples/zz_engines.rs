use rebound_core::bounces::{lhost, mime, text};
fn main() {
    let mut files = Vec::new();
    fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if p.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), out)
            }
        } else {
            out.push(p.to_path_buf())
        }
    }
    walk(
        std::path::Path::new(&std::env::args().nth(1).unwrap()),
        &mut files,
    );
    let limits = mime::Limits::default();
    let n = lhost::ENGINES.len();
    let mut miss = vec![0f64; n];
    let mut hit = vec![0f64; n];
    let mut hits = vec![0usize; n];
    let mut flat_t = 0f64;
    let mut after = 0usize;
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..10 {
            let _ = mime::flatten(&raw, &limits);
        }
        flat_t += t.elapsed().as_secs_f64() / 10.0;
        let mut flat = mime::flatten(&raw, &limits);
        let original = if flat.original.is_some() {
            std::mem::take(&mut flat.original_headers)
        } else {
            text::embedded_original(&flat, &limits).unwrap_or_default()
        };
        let mut matched = false;
        for (i, e) in lhost::ENGINES.iter().enumerate() {
            let t = std::time::Instant::now();
            let mut r = None;
            for _ in 0..10 {
                r = e(&flat, &original);
            }
            let dt = t.elapsed().as_secs_f64() / 10.0;
            if r.is_some() {
                hit[i] += dt;
                hits[i] += 1;
                matched = true;
                break;
            } else {
                miss[i] += dt;
            }
        }
        if !matched {
            after += 1;
        }
    }
    println!("flatten total {:.1} ms; no engine: {after}", flat_t * 1e3);
    let mut v: Vec<_> = (0..n).collect();
    v.sort_by(|a, b| {
        (miss[*b] + hit[*b])
            .partial_cmp(&(miss[*a] + hit[*a]))
            .unwrap()
    });
    for i in v {
        println!(
            "engine {i:2}: miss {:.2} ms hit {:.2} ms ({} hits)",
            miss[i] * 1e3,
            hit[i] * 1e3,
            hits[i]
        );
    }
}
