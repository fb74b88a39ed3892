//! What a layer tar entry's header says about its metadata: mode, owner, times, xattrs,
//! device numbers (PAX records win over the fixed fields).

use anyhow::{bail, Context, Result};
use rustix::fs::{makedev, Timespec};
use std::ffi::OsString;
use std::io::Read;

/// What a tar header says about an entry's metadata (PAX records win).
pub(super) struct Meta {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: Timespec,
    pub(super) xattrs: Vec<(OsString, Vec<u8>)>,
}

/// The device number a char or block device entry's header records.
pub(super) fn device_number(header: &tar::Header) -> Result<u64> {
    let (raw_major, raw_minor) = match (header.as_ustar(), header.as_gnu()) {
        (Some(u), _) => (u.dev_major, u.dev_minor),
        (None, Some(g)) => (g.dev_major, g.dev_minor),
        _ => bail!("device entry in a pre-USTAR header has no device numbers"),
    };
    let major = numeric(
        header.device_major().map(|d| d.unwrap_or(0).into()),
        &raw_major,
    )
    .context("bad device major")?;
    let minor = numeric(
        header.device_minor().map(|d| d.unwrap_or(0).into()),
        &raw_minor,
    )
    .context("bad device minor")?;
    Ok(makedev(major as u32, minor as u32))
}

pub(super) fn read_meta<R: Read>(entry: &mut tar::Entry<R>) -> Result<Meta> {
    let header = entry.header();
    let raw = header.as_old();
    let mut meta = Meta {
        mode: numeric(header.mode().map(u64::from), &raw.mode).context("bad mode")? as u32 & 0o7777,
        uid: u32::try_from(numeric(header.uid(), &raw.uid).context("bad uid")?)
            .context("uid out of range")?,
        gid: u32::try_from(numeric(header.gid(), &raw.gid).context("bad gid")?)
            .context("gid out of range")?,
        mtime: Timespec {
            tv_sec: i64::try_from(numeric(header.mtime(), &raw.mtime).context("bad mtime")?)
                .unwrap_or(0),
            tv_nsec: 0,
        },
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions().context("bad PAX header")? {
        for ext in pax {
            let ext = ext.context("bad PAX record")?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            match key {
                "uid" => meta.uid = parse_num(value).context("bad PAX uid")?,
                "gid" => meta.gid = parse_num(value).context("bad PAX gid")?,
                "mtime" => meta.mtime = parse_pax_time(value).context("bad PAX mtime")?,
                _ => {
                    if let Some(attr) = key.strip_prefix("SCHILY.xattr.") {
                        // overlay's own xattrs would let a tar forge whiteouts or redirects
                        if !attr.starts_with("trusted.overlay.")
                            && !attr.starts_with("user.overlay.")
                        {
                            meta.xattrs.push((attr.into(), value.to_vec()));
                        }
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// A numeric header field; an empty (all NUL or space) field is 0, as Go's
/// archive/tar reads it.
fn numeric(parsed: std::io::Result<u64>, raw: &[u8]) -> std::io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
        other => other,
    }
}

fn parse_num(value: &[u8]) -> Option<u32> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

fn parse_pax_time(value: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(value).ok()?.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let mut tv_nsec: i64 = digits.parse().ok()?;
    if tv_sec < 0 && tv_nsec > 0 {
        tv_nsec = 0; // keep it simple for pre-1970 times: whole seconds
    }
    Some(Timespec {
        tv_sec,
        tv_nsec: tv_nsec as _,
    })
}
