//! What the loader needs to start an ELF program, read from its headers with the `object`
//! crate: its machine, its interpreter (`PT_INTERP`), its libraries (`DT_NEEDED`) and where it
//! asks for them (`DT_RUNPATH`/`DT_RPATH`); plus whether it is a Go program with the TLS
//! client (the function names of its pclntab survive `-ldflags="-s -w"`).
//!
//! Only a TLS *client* needs the CA certificates. Every `net/http` program links `crypto/tls`
//! and `crypto/x509` (a server-only one too: the handshake and certificate code are reachable
//! through `tls.Conn`), so those package names say nothing. What only a client links is
//! `crypto/tls.Client`, the one constructor of a client connection (`tls.Dial`, `tls.Dialer`
//! and `http.Transport` all call it); the pclntab names it, NUL-terminated, even when it is
//! inlined. Measured with Go 1.19: a `net/http` server has no `crypto/tls.Client\0`, the
//! same server with one `http.Get` has it.

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::Endianness;

/// The facts of one ELF program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ElfInfo {
    /// `e_machine`.
    pub(super) machine: u16,
    /// The dynamic loader it asks for (`/lib/ld-musl-x86_64.so.1`); `None` for a static one.
    pub(super) interpreter: Option<String>,
    /// `DT_NEEDED` entries, in order.
    pub(super) needed: Vec<String>,
    /// `DT_RUNPATH` and `DT_RPATH` directories (`$ORIGIN` not yet substituted).
    pub(super) search: Vec<String>,
    /// A Go program.
    pub(super) go: bool,
    /// It has Go's TLS client (`crypto/tls.Client`): it may make HTTPS calls.
    pub(super) go_tls: bool,
}

/// Reads `data` as ELF; `None` when it is not one (a script, a broken file).
pub(super) fn read(data: &[u8]) -> Option<ElfInfo> {
    let mut info = match object::FileKind::parse(data).ok()? {
        object::FileKind::Elf32 => parse::<elf::FileHeader32<Endianness>>(data)?,
        object::FileKind::Elf64 => parse::<elf::FileHeader64<Endianness>>(data)?,
        _ => return None,
    };
    info.go_tls = info.go && contains(data, b"crypto/tls.Client\0");
    Some(info)
}

fn parse<E: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<ElfInfo> {
    let header = E::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let mut info = ElfInfo {
        machine: header.e_machine(endian),
        ..ElfInfo::default()
    };
    for segment in header.program_headers(endian, data).ok()? {
        if let Ok(Some(interp)) = segment.interpreter(endian, data) {
            let interp = interp.strip_suffix(b"\0").unwrap_or(interp);
            info.interpreter = Some(String::from_utf8_lossy(interp).into_owned());
        }
    }
    let sections = header.sections(endian, data).ok()?;
    // Go's linker always writes these sections, `-s -w` or not.
    info.go = [&b".go.buildinfo"[..], b".note.go.buildid", b".gopclntab"]
        .iter()
        .any(|name| sections.section_by_name(endian, name).is_some());
    if let Ok(Some((entries, strings_index))) = sections.dynamic(endian, data) {
        let strings = sections.strings(endian, data, strings_index).ok()?;
        for entry in entries {
            let Some(tag) = entry.tag32(endian) else {
                continue;
            };
            let Ok(value) = entry.string(endian, strings) else {
                continue;
            };
            let value = String::from_utf8_lossy(value).into_owned();
            match tag {
                elf::DT_NEEDED => info.needed.push(value),
                elf::DT_RUNPATH | elf::DT_RPATH => {
                    info.search.extend(value.split(':').map(str::to_string))
                }
                _ => {}
            }
        }
    }
    Some(info)
}

/// `e_machine` for an OCI architecture (`amd64`), when skiff knows it.
pub(super) fn machine_for(architecture: &str) -> Option<u16> {
    Some(match architecture {
        "amd64" => elf::EM_X86_64,
        "arm64" => elf::EM_AARCH64,
        "386" => elf::EM_386,
        "arm" => elf::EM_ARM,
        "ppc64le" | "ppc64" => elf::EM_PPC64,
        "s390x" => elf::EM_S390,
        "riscv64" => elf::EM_RISCV,
        "mips64le" | "mips64" | "mipsle" | "mips" => elf::EM_MIPS,
        _ => return None,
    })
}

/// The name people know a machine by, for messages.
pub(super) fn machine_name(machine: u16) -> String {
    match machine {
        elf::EM_X86_64 => "x86-64 (amd64)".into(),
        elf::EM_AARCH64 => "AArch64 (arm64)".into(),
        elf::EM_386 => "i386".into(),
        elf::EM_ARM => "ARM".into(),
        elf::EM_PPC64 => "PowerPC64".into(),
        elf::EM_S390 => "s390x".into(),
        elf::EM_RISCV => "RISC-V".into(),
        other => format!("machine {other}"),
    }
}

/// The libc a loader belongs to, for messages.
pub(super) fn libc_of(interpreter: &str) -> &'static str {
    if interpreter.contains("musl") {
        "musl libc"
    } else if interpreter.contains("ld-linux") || interpreter.contains("ld64.so") {
        "glibc"
    } else {
        "a dynamic loader"
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr_find(haystack, needle).is_some()
}

/// The first position of `needle` in `haystack`.
fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = 0;
    while let Some(i) = haystack[at..].iter().position(|&b| b == first) {
        let start = at + i;
        if haystack[start..].starts_with(needle) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_itself_is_read() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let info = read(&exe).expect("an ELF file");
        assert_eq!(Some(info.machine), machine_for(host_arch()));
        assert!(info.interpreter.is_some(), "{info:?}");
        assert!(
            info.needed.iter().any(|n| n.starts_with("libc.so")),
            "{info:?}"
        );
        assert!(!info.go);
        assert_eq!(read(b"#!/bin/sh\necho\n"), None);
    }

    fn host_arch() -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
    }

    #[test]
    fn libc_names() {
        assert_eq!(libc_of("/lib/ld-musl-x86_64.so.1"), "musl libc");
        assert_eq!(libc_of("/lib64/ld-linux-x86-64.so.2"), "glibc");
    }
}
