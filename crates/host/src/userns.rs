//! Which user namespace this process is in, and what follows from it for files.

use std::fmt;

/// One line of `/proc/self/uid_map` or `gid_map`: `count` ids from `inside` up are the host's
/// ids from `outside` up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The first id as this process sees it.
    pub inside: u32,
    /// The same id as the host sees it.
    pub outside: u32,
    /// How many ids the range holds.
    pub count: u32,
}

/// The ids this process can give files: the lines of its uid or gid map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap(pub Vec<IdRange>);

/// uid or gid, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// User ids (`/proc/self/uid_map`, `/etc/subuid`).
    User,
    /// Group ids (`/proc/self/gid_map`, `/etc/subgid`).
    Group,
}

impl IdKind {
    fn map_file(self) -> &'static str {
        match self {
            IdKind::User => "/proc/self/uid_map",
            IdKind::Group => "/proc/self/gid_map",
        }
    }

    /// The file that lists a user's subordinate ids of this kind.
    pub fn subid_file(self) -> &'static str {
        match self {
            IdKind::User => "/etc/subuid",
            IdKind::Group => "/etc/subgid",
        }
    }

    /// `uid` or `gid`.
    pub fn short(self) -> &'static str {
        match self {
            IdKind::User => "uid",
            IdKind::Group => "gid",
        }
    }
}

impl IdMap {
    /// The current map of `kind`; an unreadable map counts as the host's own (no namespace).
    pub fn current(kind: IdKind) -> IdMap {
        std::fs::read_to_string(kind.map_file())
            .map(|text| IdMap::parse(&text))
            .unwrap_or_else(|_| IdMap::initial())
    }

    /// The initial namespace's map: every id is itself.
    pub fn initial() -> IdMap {
        IdMap(vec![IdRange {
            inside: 0,
            outside: 0,
            count: u32::MAX,
        }])
    }

    /// Parses the kernel's map format (three numbers a line); malformed lines are skipped.
    pub fn parse(text: &str) -> IdMap {
        let ranges = text
            .lines()
            .filter_map(|line| {
                let mut n = line.split_whitespace().map(str::parse::<u32>);
                Some(IdRange {
                    inside: n.next()?.ok()?,
                    outside: n.next()?.ok()?,
                    count: n.next()?.ok()?,
                })
            })
            .collect();
        IdMap(ranges)
    }

    /// Whether `id` can be given to a file here.
    pub fn contains(&self, id: u32) -> bool {
        self.0
            .iter()
            .any(|r| id >= r.inside && u64::from(id) < u64::from(r.inside) + u64::from(r.count))
    }

    /// Whether this is the host's own map (no user namespace).
    pub fn is_initial(&self) -> bool {
        *self == IdMap::initial()
    }
}

impl fmt::Display for IdMap {
    /// `0-65536` style: the ids usable here, range by range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ranges: Vec<IdRange> = self.0.clone();
        ranges.sort_by_key(|r| r.inside);
        let text: Vec<String> = ranges
            .iter()
            .map(|r| {
                let last = u64::from(r.inside) + u64::from(r.count) - 1;
                format!("{}-{last}", r.inside)
            })
            .collect();
        f.write_str(&text.join(", "))
    }
}

/// Whether this process is in the host's initial user namespace (root here is the host's root).
/// Read from the kernel each time: the rootless entry changes it once, early.
pub fn is_initial() -> bool {
    IdMap::current(IdKind::User).is_initial()
}

/// Whether the process may do what only the host's root may: make device nodes, write
/// `trusted.*` xattrs. Root in a user namespace may not.
pub fn is_host_root() -> bool {
    rustix::process::geteuid().is_root() && is_initial()
}

/// overlayfs's opaque-directory xattr as overlayfs reads it here: `trusted.overlay.opaque` for
/// the host's root, `user.overlay.opaque` in a user namespace (where skiff mounts overlayfs
/// with `userxattr`).
pub fn overlay_opaque_xattr() -> &'static str {
    if is_initial() {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    }
}

/// Why a file cannot be given the id `id`: it is outside what this user namespace maps.
/// Says which ids are mapped and where more come from.
pub fn unmapped_id_message(kind: IdKind, id: u32) -> String {
    let map = IdMap::current(kind);
    format!(
        "{} {id} cannot be used in this rootless build: the user namespace maps only {} {map} \
         (your own id as 0, then your subordinate ids from {}). Give the user a larger range \
         in {} (65536 ids or more, e.g. `usermod --add-subuids 100000-165535 \
         --add-subgids 100000-165535 USER`), or build as root",
        kind.short(),
        kind.short(),
        kind.subid_file(),
        kind.subid_file(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_map_is_initial_and_a_rootless_one_is_not() {
        let host = IdMap::parse("         0          0 4294967295\n");
        assert!(host.is_initial());
        let rootless = IdMap::parse("0 1001 1\n1 100000 65536\n");
        assert!(!rootless.is_initial());
        assert!(rootless.contains(0) && rootless.contains(65536));
        assert!(!rootless.contains(65537));
        assert_eq!(rootless.to_string(), "0-0, 1-65536");
    }
}
