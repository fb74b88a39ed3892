//! `USER name|uid[:group|gid]` resolved the way runc's `GetExecUser` (and so BuildKit) does it,
//! reading only the rootfs's `/etc/passwd` and `/etc/group`.

use crate::rootfs_path::resolve_in_rootfs;
use crate::spec::User;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Resolves `USER` text (`name|uid[:group|gid]`) against the rootfs's `/etc/passwd` and
/// `/etc/group` (symlinks are followed inside the rootfs only, never to the host's files).
///
/// Semantics (runc/BuildKit): an empty spec is root; the user is matched by name or uid in
/// passwd, and a numeric uid without an entry runs with gid 0; an explicit group is matched by
/// name or gid in group (a numeric gid needs no entry) and then no supplementary groups are
/// added; without an explicit group, a user found in passwd gets the groups listing its name.
/// The primary group is always among the supplementary ones, first unless already listed.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<User> {
    if spec.is_empty() {
        return Ok(User {
            additional_gids: vec![0],
            ..User::default()
        });
    }
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let passwd = read_database(rootfs, "/etc/passwd")?;
    let numeric_uid = user_arg.parse::<u32>().ok();
    let entry = passwd.iter().find(|fields| {
        fields[0] == user_arg || (numeric_uid.is_some() && field_u32(fields, 2) == numeric_uid)
    });
    let mut user = User::default();
    let name = match entry {
        Some(fields) => {
            user.uid = field_u32(fields, 2).unwrap_or(0);
            user.gid = field_u32(fields, 3).unwrap_or(0);
            Some(fields[0].clone())
        }
        None if user_arg.is_empty() => None,
        None => match numeric_uid {
            Some(uid) => {
                user.uid = uid;
                None
            }
            None => bail!("unable to find user {user_arg}: no matching entries in passwd file"),
        },
    };
    let groups = read_database(rootfs, "/etc/group")?;
    match group_arg {
        Some(group_arg) => {
            let numeric_gid = group_arg.parse::<u32>().ok();
            let entry = groups.iter().find(|fields| {
                fields[0] == group_arg
                    || (numeric_gid.is_some() && field_u32(fields, 2) == numeric_gid)
            });
            user.gid = match (entry, numeric_gid) {
                (Some(fields), _) => field_u32(fields, 2).unwrap_or(0),
                (None, Some(gid)) => gid,
                (None, None) => {
                    bail!("unable to find group {group_arg}: no matching entries in group file")
                }
            };
        }
        None => {
            if let Some(name) = name {
                user.additional_gids = groups
                    .iter()
                    .filter(|fields| {
                        fields
                            .get(3)
                            .is_some_and(|members| members.split(',').any(|m| m == name))
                    })
                    .filter_map(|fields| field_u32(fields, 2))
                    .collect();
            }
        }
    }
    // As BuildKit's `ensureAdditionalGids`: the primary group is also a supplementary one
    // (root's `id` lists `groups=0(root)`).
    if !user.additional_gids.contains(&user.gid) {
        user.additional_gids.insert(0, user.gid);
    }
    Ok(user)
}

/// The colon-separated lines of a passwd-style file in the rootfs (empty when it is missing).
fn read_database(rootfs: &Path, path: &str) -> Result<Vec<Vec<String>>> {
    let host_path = resolve_in_rootfs(rootfs, path)?;
    let text = match std::fs::read(&host_path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", host_path.display())),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split(':').map(str::to_owned).collect())
        .collect())
}

fn field_u32(fields: &[String], index: usize) -> Option<u32> {
    fields.get(index)?.trim().parse().ok()
}
