//! `--shm-size` and `--ulimit`, parsed once: sizes with docker's units and docker's limit
//! names. clap calls these parsers, so a malformed value is a usage error naming its flag.

use skiff_engine::Ulimit;

/// A size in bytes as docker's `--shm-size` takes it (`go-units`' `RAMInBytes`): a number,
/// optionally with a binary unit `b`, `k`, `m`, `g`, `t`, `p` (`kb`, `mib`… also read).
pub fn parse_bytes(raw: &str) -> Result<u64, String> {
    let text = raw.trim().to_ascii_lowercase();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{raw:?}: expected a size such as 67108864, 64m or 1g"))?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(format!("{raw:?}: unknown unit (use b, k, m, g, t or p)")),
    };
    let bytes = number * (1u64 << shift) as f64;
    if bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("{raw:?}: the size must be at least one byte"));
    }
    Ok(bytes as u64)
}

/// `--ulimit NAME=SOFT[:HARD]` with docker's names.
pub fn parse_ulimit(raw: &str) -> Result<Ulimit, String> {
    raw.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_reads_them() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("2GB"), Ok(2 << 30));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_bytes("1.5m"), Ok(3 << 19));
        for bad in ["", "m", "64x", "-1", "0"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
