//! `skiff history IMAGE`: the steps an image was built from, newest first, each with the
//! instruction that made it and the size of its layer, as `docker history` shows them.

use super::lookup::{find_image, layer_size, open_store};
use super::units::{ago, now, size};
use super::Context;
use anyhow::{Context as _, Result};
use clap::Args;
use skiff_image::model::timestamp::parse_rfc3339;
use skiff_image::Store;
use std::process::ExitCode;

/// `skiff history NAME`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The image: a name, an ID or an ID prefix.
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

/// The size of one of the image's layers, as Docker counts it.
fn unpacked_size(store: &Store, digest: &oci_spec::image::Digest) -> Result<u64> {
    let blob = std::fs::File::open(store.blob_path(digest))?;
    layer_size(std::io::BufReader::new(blob))
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

fn created(row: &Row, human: bool, now: i64) -> String {
    let Some(text) = &row.created else {
        return "<unknown>".into();
    };
    match (human, parse_rfc3339(text)) {
        (true, Some(at)) => ago(now - at),
        _ => text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::instruction;

    #[test]
    fn long_instructions_are_cut_unless_asked() {
        let long = "RUN /bin/sh -c apt-get update && apt-get install -y ca-certificates";
        assert_eq!(instruction(long, false).chars().count(), 45);
        assert!(instruction(long, false).ends_with('…'));
        assert_eq!(instruction(long, true), long);
    }
}
