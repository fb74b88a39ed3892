//! A user's subordinate ids: the `/etc/subuid` and `/etc/subgid` ranges that `newuidmap` and
//! `newgidmap` let the user map into a user namespace.

use std::path::Path;

/// A range of subordinate ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRange {
    /// The first host id of the range.
    pub start: u32,
    /// How many ids.
    pub count: u32,
}

/// Who the ranges are looked up for: the name (as `/etc/subuid` usually has it) and the id
/// (which the file may use instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The login name, if `/etc/passwd` has one for the id.
    pub name: Option<String>,
    /// The user id.
    pub uid: u32,
}

impl Owner {
    /// The real user of this process, named from `/etc/passwd`.
    pub fn current() -> Owner {
        let uid = rustix::process::getuid().as_raw();
        let name = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|text| name_of(&text, uid));
        Owner { name, uid }
    }

    /// The name if known, else the id: what goes in an `/etc/subuid` line.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }
}

fn name_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid).then(|| name.to_owned())
    })
}

/// Every range `file` grants `owner`, in file order (none if the file is missing).
pub fn ranges(file: &Path, owner: &Owner) -> Vec<SubRange> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    ranges_in(&text, owner).collect()
}

/// The largest range `file` grants `owner` (lines `name:start:count` or `uid:start:count`);
/// `None` if the file is missing or has no line for the owner.
pub fn largest_range(file: &Path, owner: &Owner) -> Option<SubRange> {
    let text = std::fs::read_to_string(file).ok()?;
    ranges_in(&text, owner).max_by_key(|r| r.count)
}

fn ranges_in<'a>(text: &'a str, owner: &'a Owner) -> impl Iterator<Item = SubRange> + 'a {
    let uid = owner.uid.to_string();
    text.lines().filter_map(move |line| {
        let mut fields = line.trim().split(':');
        let who = fields.next()?;
        if Some(who) != owner.name.as_deref() && who != uid {
            return None;
        }
        let start = fields.next()?.parse().ok()?;
        let count = fields.next()?.parse().ok()?;
        (count > 0).then_some(SubRange { start, count })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_found_by_name_or_id_and_the_largest_wins() {
        let owner = Owner {
            name: Some("ann".into()),
            uid: 1001,
        };
        let text = "bob:100000:65536\nann:165536:1000\n1001:300000:65536\n# junk\nann:x:y\n";
        let all: Vec<SubRange> = ranges_in(text, &owner).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all.iter().max_by_key(|r| r.count),
            Some(&SubRange {
                start: 300000,
                count: 65536
            })
        );
        assert_eq!(
            name_of(
                "root:x:0:0::/root:/bin/sh\nann:x:1001:1001::/h:/bin/sh\n",
                1001
            ),
            Some("ann".into())
        );
    }
}
