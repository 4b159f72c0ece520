use std::io::Read;
use std::os::unix::ffi::OsStrExt;
fn main() {
    let list = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap();
    let files: Vec<std::path::PathBuf> = list.lines().map(std::path::PathBuf::from).collect();
    let t = std::time::Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    for f in &files {
        // read into a large buffer: one read returns the whole small file; a second confirms EOF.
        let mut h = std::fs::File::open(f).unwrap();
        let mut got = 0;
        loop {
            let k = h.read(&mut buf[got..]).unwrap();
            if k == 0 {
                break;
            }
            got += k;
        }
        n += got;
        let _ = f.as_os_str().as_bytes().len();
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
