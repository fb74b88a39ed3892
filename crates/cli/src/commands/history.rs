//! `skiff history IMAGE`: the steps an image was built from, newest first, each with the
//! instruction that made it and the size of its layer, as `docker history` shows them.

use super::image::{find_image, open_store};
use super::Context;
use anyhow::{Context as _, Result};
use clap::Args;
use skiff_image::layer;
use skiff_image::model::timestamp::parse_rfc3339;
use skiff_image::Store;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// `skiff history NAME`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The image in the store.
    pub name: String,
    /// Show the instructions whole (they are cut at 45 characters otherwise).
    #[arg(long)]
    pub no_trunc: bool,
    /// Sizes and times for people (`7.3MB`, `2 hours ago`); `--human=false` prints bytes and
    /// RFC 3339 times.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// `json`: one JSON object per line (`CreatedAt`, `CreatedBy`, `Size`, `Comment`, as
    /// `docker history --format json`).
    #[arg(long, value_parser = ["json", "table"], default_value = "table")]
    pub format: String,
}

/// One row: a history entry and the size of the layer it made (0 for metadata steps).
struct Row {
    created: Option<String>,
    created_by: String,
    size: u64,
    comment: String,
}

/// Runs `skiff history`.
pub fn history(ctx: &Context, args: HistoryArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let (name, descriptor) = find_image(&store, &args.name)?;
    let manifest = store.read_manifest(&descriptor)?;
    let config = store.read_config(manifest.config.digest())?;
    let mut layers = manifest.layers.iter();
    let mut rows = Vec::new();
    for entry in &config.history {
        let size = match entry.empty_layer {
            true => 0,
            false => match layers.next() {
                Some(layer) => unpacked_size(&store, layer.digest())
                    .with_context(|| format!("reading a layer of {name}"))?,
                None => 0,
            },
        };
        rows.push(Row {
            created: entry.created.clone(),
            created_by: entry.created_by.clone().unwrap_or_default(),
            size,
            comment: entry.comment.clone().unwrap_or_default(),
        });
    }
    rows.reverse();
    match args.format.as_str() {
        "json" => rows
            .iter()
            .for_each(|row| println!("{}", json_row(row, &args))),
        _ => print_table(&rows, &args),
    }
    Ok(ExitCode::SUCCESS)
}

/// The unpacked size of one of the image's layers.
fn unpacked_size(store: &Store, digest: &oci_spec::image::Digest) -> Result<u64> {
    let blob = std::fs::File::open(store.blob_path(digest))?;
    Ok(layer::unpacked_size(blob)?)
}

fn print_table(rows: &[Row], args: &HistoryArgs) {
    let now = now();
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            [
                created(row, args.human, now),
                instruction(&row.created_by, args.no_trunc),
                size(row.size, args.human),
                row.comment.clone(),
            ]
        })
        .collect();
    let header = ["CREATED", "CREATED BY", "SIZE", "COMMENT"].map(String::from);
    let width = |i: usize| {
        let cells = std::iter::once(&header).chain(&cells);
        cells.map(|c| c[i].chars().count()).max().unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    for row in std::iter::once(&header).chain(&cells) {
        let line = format!(
            "{:<w0$}   {:<w1$}   {:<w2$}   {}",
            row[0], row[1], row[2], row[3]
        );
        println!("{}", line.trim_end());
    }
}

fn json_row(row: &Row, args: &HistoryArgs) -> String {
    let value = serde_json::json!({
        "CreatedAt": row.created.clone().unwrap_or_default(),
        "CreatedSince": created(row, true, now()),
        "CreatedBy": row.created_by,
        "Size": size(row.size, args.human),
        "Comment": row.comment,
    });
    value.to_string()
}

/// `docker history` cuts the instruction at 45 characters, ending it with `…`.
fn instruction(created_by: &str, no_trunc: bool) -> String {
    let one_line = created_by.replace('\n', " ");
    if no_trunc || one_line.chars().count() <= 45 {
        return one_line;
    }
    let cut: String = one_line.chars().take(44).collect();
    format!("{cut}…")
}

/// Docker's `HumanSizeWithPrecision(size, 3)`: three significant digits, decimal units
/// (`0B`, `6B`, `300kB`, `1.24MB`).
fn size(bytes: u64, human: bool) -> String {
    if !human {
        return bytes.to_string();
    }
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    let text = format!("{value:.decimals$}");
    let text = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => &text,
    };
    format!("{text}{}", UNITS[unit])
}

fn created(row: &Row, human: bool, now: i64) -> String {
    let Some(text) = &row.created else {
        return "<unknown>".into();
    };
    match (human, parse_rfc3339(text)) {
        (true, Some(at)) => ago(now - at),
        _ => text.clone(),
    }
}

fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Docker's wording (`go-units.HumanDuration` plus " ago"): `About a minute ago`,
/// `3 hours ago`, `13 days ago`, `2 weeks ago`, `25 years ago`.
fn ago(seconds: i64) -> String {
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let text = match () {
        _ if seconds < 1 => "Less than a second".to_string(),
        _ if seconds == 1 => "1 second".to_string(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".to_string(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    };
    format!("{text} ago")
}

#[cfg(test)]
mod tests {
    use super::{ago, instruction, size};

    #[test]
    fn times_read_as_docker_writes_them() {
        assert_eq!(ago(5), "5 seconds ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(3 * 3600 + 5), "3 hours ago");
        assert_eq!(ago(3700), "About an hour ago");
        assert_eq!(ago(13 * 86_400), "13 days ago");
        assert_eq!(ago(15 * 86_400), "2 weeks ago");
        assert_eq!(ago(26 * 365 * 86_400), "26 years ago");
    }

    #[test]
    fn sizes_read_as_docker_writes_them() {
        let sizes = [0, 6, 999, 300_000, 1_240_000, 12_345_678, 7_300_000_000];
        let written = sizes.map(|s| size(s, true));
        assert_eq!(
            written,
            ["0B", "6B", "999B", "300kB", "1.24MB", "12.3MB", "7.3GB"]
        );
        assert_eq!(size(300_000, false), "300000");
    }

    #[test]
    fn long_instructions_are_cut_unless_asked() {
        let long = "RUN /bin/sh -c apt-get update && apt-get install -y ca-certificates";
        assert_eq!(instruction(long, false).chars().count(), 45);
        assert!(instruction(long, false).ends_with('…'));
        assert_eq!(instruction(long, true), long);
    }
}
