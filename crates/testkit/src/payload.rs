//! Test payloads: bytes no compressor can shrink, for layers that must stay large on the
//! wire (a pull that takes its time through a throttled [`crate::FaultProxy`], so that a
//! test can kill or cancel it half way).

/// `len` incompressible, reproducible bytes (a fixed-seed xorshift64 stream).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_bytes_have_the_length_asked_are_reproducible_and_do_not_compress() {
        let data = random_bytes(100_003);
        assert_eq!(data.len(), 100_003);
        assert_eq!(data, random_bytes(100_003));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&data).unwrap();
        let compressed = gz.finish().unwrap();
        assert!(
            compressed.len() > data.len() * 99 / 100,
            "{}",
            compressed.len()
        );
    }
}
