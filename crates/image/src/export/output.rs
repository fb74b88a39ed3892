//! `--output` as docker buildx spells it: `type=oci,dest=out.tar`, `-o DIR`, …

use anyhow::{anyhow, bail, Context as _, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a file-like output goes: a path, or standard output for `dest=-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `dest=-`: the bytes are streamed to standard output.
    Stdout,
    /// `dest=FILE`: written to a temp file next to FILE and renamed into place.
    File(PathBuf),
}

/// One build output, parsed from buildx's `--output` syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=image` (the default) into the store under `names`; `type=registry`
    /// or `push=true` also pushes them (done by the registry client).
    Image {
        /// Normalised or user-given image names (`name=a,b` or `-t`).
        names: Vec<String>,
        /// Whether the caller must also push the image to its registry.
        push: bool,
    },
    /// `type=oci`: an OCI image layout tar.
    Oci {
        /// Where the archive goes.
        dest: Destination,
        /// Names recorded in `index.json`.
        names: Vec<String>,
    },
    /// `type=docker`: the archive `docker load` reads.
    Docker {
        /// Where the archive goes.
        dest: Destination,
        /// Names recorded as `RepoTags`.
        names: Vec<String>,
    },
    /// `type=local`: the final root filesystem written into a directory.
    Local {
        /// The directory (created if missing).
        dest: PathBuf,
    },
    /// `type=tar`: the final root filesystem as one tar stream.
    Tar {
        /// Where the tar goes.
        dest: Destination,
    },
}

impl Default for Output {
    fn default() -> Self {
        Output::Image {
            names: Vec::new(),
            push: false,
        }
    }
}

const TYPES: &[&str] = &["image", "registry", "oci", "docker", "local", "tar"];

fn keys_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "image" => &["type", "name", "push"],
        "registry" => &["type", "name"],
        "oci" | "docker" => &["type", "dest", "name"],
        _ => &["type", "dest"],
    }
}

impl Output {
    /// Parses one `--output` value: `type=TYPE[,KEY=VALUE…]`, or the short forms
    /// `DIR` (= `type=local,dest=DIR`) and `-` (= `type=tar,dest=-`), as buildx does.
    pub fn parse(spec: &str) -> Result<Output> {
        let fields = split_csv(spec)?;
        if fields.len() == 1 && fields[0] == spec && !spec.starts_with("type=") {
            if spec.is_empty() {
                bail!(
                    "empty --output: use type=TYPE[,dest=…], one of: {}",
                    TYPES.join(", ")
                );
            }
            return Ok(if spec == "-" {
                Output::Tar {
                    dest: Destination::Stdout,
                }
            } else {
                Output::Local {
                    dest: PathBuf::from(spec),
                }
            });
        }
        let mut attrs = BTreeMap::new();
        for field in &fields {
            let (key, value) = field.split_once('=').ok_or_else(|| {
                anyhow!("invalid --output field {field:?} in {spec:?}: expected KEY=VALUE, e.g. type=local,dest=out")
            })?;
            attrs.insert(key.trim().to_ascii_lowercase(), value.to_string());
        }
        let kind = attrs.get("type").cloned().ok_or_else(|| {
            anyhow!(
                "--output {spec:?} has no type: add type=TYPE, one of: {}",
                TYPES.join(", ")
            )
        })?;
        if !TYPES.contains(&kind.as_str()) {
            bail!(
                "unknown output type {kind:?}{}: valid types are {}",
                did_you_mean(&kind, TYPES),
                TYPES.join(", ")
            );
        }
        let valid = keys_of(&kind);
        if let Some(bad) = attrs.keys().find(|k| !valid.contains(&k.as_str())) {
            bail!(
                "unknown key {bad:?} for --output type={kind}{}: valid keys are {}",
                did_you_mean(bad, valid),
                valid.join(", ")
            );
        }
        let names = attrs
            .get("name")
            .map(|v| split_names(v))
            .unwrap_or_default();
        let dest = attrs.get("dest").map(String::as_str);
        let file_dest = |dest: Option<&str>| -> Result<Destination> {
            match dest {
                None | Some("") => {
                    bail!("--output type={kind} needs dest=FILE (or dest=- for standard output)")
                }
                Some("-") => Ok(Destination::Stdout),
                Some(path) => Ok(Destination::File(PathBuf::from(path))),
            }
        };
        Ok(match kind.as_str() {
            "image" => Output::Image {
                names,
                push: match attrs.get("push") {
                    None => false,
                    Some(v) => parse_bool(v).ok_or_else(|| {
                        anyhow!("invalid push={v:?} in --output {spec:?}: use push=true or push=false")
                    })?,
                },
            },
            "registry" => Output::Image { names, push: true },
            "oci" => Output::Oci {
                dest: file_dest(dest)?,
                names,
            },
            "docker" => Output::Docker {
                dest: file_dest(dest)?,
                names,
            },
            "local" => match dest {
                None | Some("") => bail!("--output type=local needs dest=DIR"),
                Some("-") => bail!("--output type=local cannot write to standard output: use type=tar,dest=- instead"),
                Some(dir) => Output::Local {
                    dest: PathBuf::from(dir),
                },
            },
            _ => Output::Tar {
                dest: file_dest(dest)?,
            },
        })
    }

    /// Names the output: its own `name=` values, normalised as Docker names images
    /// (`app` → `docker.io/library/app:latest`), then the `-t` `tags` (already normalised)
    /// not among them, for the outputs that carry names (image, registry, oci, docker).
    /// buildx replaces `name=` with the tags; skiff keeps both, so that
    /// `-t app -o type=registry,name=REG/app` pushes `REG/app` as asked and also names `app`.
    /// Pushing needs a name.
    pub fn with_tags(self, tags: &[String]) -> Result<Output> {
        let merge = |names: Vec<String>| -> Result<Vec<String>> {
            let mut all = Vec::new();
            for name in &names {
                let name = crate::reference::Reference::parse(name)
                    .map(|r| r.to_string())
                    .with_context(|| {
                        format!(
                            "invalid name={name:?}: expected NAME[:TAG], e.g. \
                             name=registry.example/app:1.0"
                        )
                    })?;
                all.push(name);
            }
            for tag in tags {
                if !all.contains(tag) {
                    all.push(tag.clone());
                }
            }
            Ok(all)
        };
        Ok(match self {
            Output::Image { names, push } => {
                let names = merge(names)?;
                if push && names.is_empty() {
                    bail!(
                        "a name is needed when pushing to a registry: add -t NAME or name=NAME \
                         to --output"
                    );
                }
                Output::Image { names, push }
            }
            Output::Oci { dest, names } => Output::Oci {
                dest,
                names: merge(names)?,
            },
            Output::Docker { dest, names } => Output::Docker {
                dest,
                names: merge(names)?,
            },
            other => other,
        })
    }
}

/// Splits one CSV record (buildx parses `--output` with a CSV reader, so
/// `"name=a,b"` in double quotes stays one field).
fn split_csv(s: &str) -> Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        bail!("unterminated quote in --output {s:?}");
    }
    fields.push(field);
    Ok(fields)
}

fn split_names(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

/// Go's `strconv.ParseBool`, which buildx uses for `push=`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
