//! Resource limits of a step, as `docker build` takes them: `--shm-size` (the size of
//! `/dev/shm`) and `--ulimit NAME=SOFT[:HARD]` with docker's names (`nofile`, `nproc`, …).

use std::fmt;
use std::str::FromStr;

/// One resource's limit (`--ulimit nofile=1024:2048`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ulimit {
    /// The resource.
    pub resource: Resource,
    /// The soft limit.
    pub soft: u64,
    /// The hard limit (at least the soft one).
    pub hard: u64,
}

/// The resources docker's `--ulimit` names (`go-units`' `ulimitNameMapping`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// `as`: address space.
    As,
    /// `core`: core file size.
    Core,
    /// `cpu`: CPU seconds.
    Cpu,
    /// `data`: data segment size.
    Data,
    /// `fsize`: file size.
    Fsize,
    /// `locks`: file locks.
    Locks,
    /// `memlock`: locked memory.
    Memlock,
    /// `msgqueue`: POSIX message queue bytes.
    Msgqueue,
    /// `nice`: nice ceiling.
    Nice,
    /// `nofile`: open files.
    Nofile,
    /// `nproc`: processes.
    Nproc,
    /// `rss`: resident set.
    Rss,
    /// `rtprio`: real-time priority.
    Rtprio,
    /// `rttime`: real-time CPU microseconds.
    Rttime,
    /// `sigpending`: queued signals.
    Sigpending,
    /// `stack`: stack size.
    Stack,
}

const NAMES: [(&str, Resource); 16] = [
    ("as", Resource::As),
    ("core", Resource::Core),
    ("cpu", Resource::Cpu),
    ("data", Resource::Data),
    ("fsize", Resource::Fsize),
    ("locks", Resource::Locks),
    ("memlock", Resource::Memlock),
    ("msgqueue", Resource::Msgqueue),
    ("nice", Resource::Nice),
    ("nofile", Resource::Nofile),
    ("nproc", Resource::Nproc),
    ("rss", Resource::Rss),
    ("rtprio", Resource::Rtprio),
    ("rttime", Resource::Rttime),
    ("sigpending", Resource::Sigpending),
    ("stack", Resource::Stack),
];

impl Resource {
    /// Docker's name for it.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }
}

impl FromStr for Ulimit {
    type Err = String;

    /// `NAME=SOFT[:HARD]`, as docker parses it (`HARD` defaults to `SOFT`).
    fn from_str(text: &str) -> Result<Ulimit, String> {
        let (name, limits) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: expected NAME=SOFT[:HARD], e.g. nofile=1024:2048"))?;
        let resource = NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| *r)
            .ok_or_else(|| {
                let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                format!("unknown limit {name:?}: use one of {}", names.join(", "))
            })?;
        let number = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("{text:?}: {s:?} is not a number (NAME=SOFT[:HARD])"))
        };
        let (soft, hard) = match limits.split_once(':') {
            Some((soft, hard)) => (number(soft)?, number(hard)?),
            None => (number(limits)?, number(limits)?),
        };
        if soft > hard {
            return Err(format!(
                "{text:?}: the soft limit {soft} is above the hard limit {hard}"
            ));
        }
        Ok(Ulimit {
            resource,
            soft,
            hard,
        })
    }
}

impl fmt::Display for Ulimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}:{}", self.resource.name(), self.soft, self.hard)
    }
}

/// The limits every RUN of a build gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunLimits {
    /// The size of `/dev/shm` in bytes (default: Docker's 64 MiB).
    pub shm_size: Option<u64>,
    /// `--ulimit`s; one for `nofile` replaces the default of 1024.
    pub ulimits: Vec<Ulimit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_read_as_docker_writes_them() {
        let u: Ulimit = "nofile=1024:2048".parse().unwrap();
        assert_eq!((u.resource, u.soft, u.hard), (Resource::Nofile, 1024, 2048));
        assert_eq!(u.to_string(), "nofile=1024:2048");
        let u: Ulimit = "nproc=100".parse().unwrap();
        assert_eq!((u.soft, u.hard), (100, 100));
        for bad in [
            "nofile",
            "files=1",
            "nofile=x",
            "nofile=10:5",
            "nofile=1:2:3",
        ] {
            assert!(bad.parse::<Ulimit>().is_err(), "{bad}");
        }
    }
}
