//! Deterministic tar headers: USTAR, with a PAX extended header only when USTAR
//! cannot hold a field (long or non-ASCII names, big ids, xattrs) — the format
//! Go's archive/tar (BuildKit, containerd) chooses. No atime/ctime, empty
//! uname/gname, whole-second mtimes, PAX records sorted by key.

use std::io::{self, Read, Write};

/// One entry to write.
pub(crate) struct TarEntry<'a> {
    /// The path (directories end with `/`).
    pub path: &'a [u8],
    pub kind: tar::EntryType,
    pub link: Option<&'a [u8]>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
    pub dev: Option<(u32, u32)>,
    pub xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

const USTAR_ID_MAX: u64 = 0o7777777;

/// Writes `entry` (and its PAX header if needed) followed by `data`, which must
/// yield exactly `entry.size` bytes.
pub(crate) fn append<W: Write>(
    b: &mut tar::Builder<W>,
    entry: &TarEntry,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    {
        let ustar = header
            .as_ustar_mut()
            .expect("a new ustar header is a ustar header");
        match split_ustar_path(entry.path) {
            Some((prefix, name)) => {
                ustar.prefix[..prefix.len()].copy_from_slice(prefix);
                ustar.name[..name.len()].copy_from_slice(name);
            }
            None => {
                pax.push((b"path".to_vec(), entry.path.to_vec()));
                let cut = entry.path.len().min(100);
                ustar.name[..cut].copy_from_slice(&entry.path[..cut]);
            }
        }
        if let Some(link) = entry.link {
            if link.len() > 100 || !link.is_ascii() {
                pax.push((b"linkpath".to_vec(), link.to_vec()));
            }
            let cut = link.len().min(100);
            ustar.linkname[..cut].copy_from_slice(&link[..cut]);
        }
    }
    header.set_entry_type(entry.kind);
    header.set_mode(entry.mode & 0o7777);
    for (key, id) in [(&b"uid"[..], entry.uid), (&b"gid"[..], entry.gid)] {
        if id > USTAR_ID_MAX {
            pax.push((key.to_vec(), id.to_string().into_bytes()));
        }
    }
    header.set_uid(if entry.uid > USTAR_ID_MAX {
        0
    } else {
        entry.uid
    });
    header.set_gid(if entry.gid > USTAR_ID_MAX {
        0
    } else {
        entry.gid
    });
    header.set_mtime(entry.mtime);
    header.set_size(entry.size);
    let (major, minor) = entry.dev.unwrap_or((0, 0));
    header.set_device_major(major)?;
    header.set_device_minor(minor)?;
    for (name, value) in entry.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(name);
        pax.push((key, value.clone()));
    }
    header.set_cksum();
    if !pax.is_empty() {
        pax.sort();
        append_pax(b, entry.path, &pax)?;
    }
    b.append(&header, data)
}

/// USTAR's name (100 bytes) and prefix (155 bytes) fields for `path`, or `None`
/// when it needs a PAX `path` record.
fn split_ustar_path(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if !path.is_ascii() {
        return None;
    }
    if path.len() <= 100 {
        return Some((&[], path));
    }
    // split at a '/' (not a trailing one) so both parts fit
    let body = path.strip_suffix(b"/").unwrap_or(path);
    (0..body.len())
        .rev()
        .filter(|&i| body[i] == b'/')
        .find(|&i| i <= 155 && path.len() - i - 1 <= 100)
        .map(|i| (&path[..i], &path[i + 1..]))
}

fn append_pax<W: Write>(
    b: &mut tar::Builder<W>,
    path: &[u8],
    records: &[(Vec<u8>, Vec<u8>)],
) -> io::Result<()> {
    let mut data = Vec::new();
    for (key, value) in records {
        // "<len> <key>=<value>\n", where <len> counts itself
        let rest = key.len() + value.len() + 3;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} ").as_bytes());
        data.extend_from_slice(key);
        data.push(b'=');
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let mut header = tar::Header::new_ustar();
    let name = pax_header_name(path);
    header
        .as_ustar_mut()
        .expect("a new ustar header is a ustar header")
        .name[..name.len()]
        .copy_from_slice(&name);
    header.set_entry_type(tar::EntryType::XHeader);
    header.set_mode(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_device_major(0)?;
    header.set_device_minor(0)?;
    header.set_size(data.len() as u64);
    header.set_cksum();
    b.append(&header, &data[..])
}

/// `dir/PaxHeaders.0/base`, as Go names it, cut to fit the name field.
fn pax_header_name(path: &[u8]) -> Vec<u8> {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let (dir, base) = match trimmed.iter().rposition(|b| *b == b'/') {
        Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
        None => (&b""[..], trimmed),
    };
    let mut name = dir.to_vec();
    name.extend_from_slice(b"PaxHeaders.0/");
    name.extend_from_slice(base);
    name.truncate(100);
    name
}
