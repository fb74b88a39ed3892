//! Parallel gzip: valid gzip, and the same bytes whatever the thread count.

use skiff_image::layer::ParallelGzip;
use std::io::{Read, Write};

fn sample(len: usize) -> Vec<u8> {
    // half compressible text, half pseudo-random bytes
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|i| {
            if (i / 100_000) % 2 == 0 {
                b"the quick brown fox "[i % 20]
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            }
        })
        .collect()
}

fn gzip(data: &[u8], threads: usize, write_size: usize) -> Vec<u8> {
    let mut gz = ParallelGzip::new(Vec::new(), threads);
    for chunk in data.chunks(write_size.max(1)) {
        gz.write_all(chunk).unwrap();
    }
    gz.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn output_is_valid_gzip_and_independent_of_threads() {
    for len in [0, 1, 1 << 20, 2 << 20, (3 << 20) + 12_345] {
        let data = sample(len);
        let one = gzip(&data, 1, 64 * 1024);
        let many = gzip(&data, 4, 7_777);
        assert_eq!(one, many, "len {len}: bytes depend on the thread count");
        assert_eq!(gunzip(&one), data, "len {len}: does not round-trip");
    }
}

#[test]
fn system_gzip_accepts_it() {
    let Ok(status) = std::process::Command::new("gzip").arg("--version").output() else {
        eprintln!("SKIP system_gzip_accepts_it: no gzip binary");
        return;
    };
    assert!(status.status.success());
    let data = sample((2 << 20) + 5);
    let bytes = gzip(&data, 2, 1 << 16);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.gz");
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, data);
}
