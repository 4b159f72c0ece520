use std::io::Read;
fn main() {
    let list = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap();
    let files: Vec<std::path::PathBuf> = list.lines().map(std::path::PathBuf::from).collect();
    let t = std::time::Instant::now();
    let mut buf = Vec::new();
    let mut n = 0;
    for f in &files {
        buf.clear();
        std::fs::File::open(f)
            .and_then(|mut h| h.read_to_end(&mut buf))
            .unwrap();
        n += buf.len();
        let _ = f.display().to_string();
    }
    let e = t.elapsed();
    println!(
        "{} files {} bytes in {:?}: {:.2} us/file",
        files.len(),
        n,
        e,
        e.as_secs_f64() * 1e6 / files.len() as f64
    );
}
