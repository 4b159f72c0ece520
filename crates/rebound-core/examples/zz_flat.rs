use rebound_core::bounces::mime;
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
    let raws: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let (mut tn, mut th, mut tf, mut hb, mut hn) = (0f64, 0f64, 0f64, 0usize, 0usize);
    for _ in 0..20 {
        for raw in &raws {
            let t = std::time::Instant::now();
            let buf = mime::normalise(raw);
            tn += t.elapsed().as_secs_f64();
            let (h, _) = mime::split_entity(&buf);
            hb += h.len();
            let t = std::time::Instant::now();
            let hs = mime::parse_headers(h, &limits);
            th += t.elapsed().as_secs_f64();
            hn += hs.len();
            let t = std::time::Instant::now();
            let f = mime::flatten(raw, &limits);
            tf += t.elapsed().as_secs_f64();
            std::hint::black_box(f);
        }
    }
    let m = (raws.len() * 20) as f64;
    println!("per message: normalise {:.2} us, top header {:.2} us ({} bytes, {} fields), flatten {:.2} us", tn / m * 1e6, th / m * 1e6, hb / raws.len() / 20, hn / raws.len() / 20, tf / m * 1e6);
}
