//! `skiff images` and `skiff rmi`, as Docker's: one row per name (`<none>` for an image
//! without one), IDs as config digests, `--format` templates, and removal that untags a
//! name and drops the image once no name is left.

use super::lookup::{
    familiar, image_size, is_id_name, lookup, open_store, repository_and_tag, stored_images, Found,
    StoredImage,
};
use super::template::Template;
use super::units::{created_at, now, since, size};
use super::Context;
use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;
use skiff_image::model::timestamp::parse_rfc3339;
use skiff_image::reference::Reference;
use skiff_image::Store;
use std::process::ExitCode;

/// `skiff images [REPOSITORY[:TAG]]`.
#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only images of this repository (`app`), or this name (`app:1`).
    pub reference: Option<String>,
    /// Print only image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show whole IDs (`sha256:…`) rather than their first 12 hex digits.
    #[arg(long)]
    pub no_trunc: bool,
    /// A Go template applied to each row (`{{.Repository}}:{{.Tag}} {{.ID}}`); a template
    /// starting with `table ` prints a header and aligns the columns.
    #[arg(long)]
    pub format: Option<String>,
}

/// `skiff rmi [-f] IMAGE…`.
#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Image names, IDs or ID prefixes.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Remove an image given by ID even when several names point at it (all are removed).
    #[arg(short, long)]
    pub force: bool,
}

/// One row of `docker images`, with its `--format` field names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    repository: String,
    tag: String,
    #[serde(rename = "ID")]
    id: String,
    created_since: String,
    created_at: String,
    size: String,
    digest: String,
}

impl Row {
    /// The header `docker images --format 'table …'` prints for each field.
    fn header() -> Row {
        Row {
            repository: "REPOSITORY".into(),
            tag: "TAG".into(),
            id: "IMAGE ID".into(),
            created_since: "CREATED".into(),
            created_at: "CREATED AT".into(),
            size: "SIZE".into(),
            digest: "DIGEST".into(),
        }
    }
}

/// Docker's default table.
const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// Runs `skiff images`.
pub fn images(ctx: &Context, args: ImagesArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let filter = args.reference.as_deref().map(Filter::parse).transpose()?;
    let format = match (&args.format, args.quiet) {
        (_, true) => "{{.ID}}",
        (Some(format), false) => format.as_str(),
        (None, false) => DEFAULT_TABLE,
    };
    let (table, format) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start_matches(' ')),
        None => (false, format),
    };
    let template = Template::parse(format)?;
    let needs_size = format.contains("Size");
    let rows = rows(&store, filter.as_ref(), needs_size, args.no_trunc)?;
    let mut lines = Vec::new();
    if table {
        lines.push(template.render(&serde_json::to_value(Row::header())?)?);
    }
    for row in &rows {
        lines.push(template.render(&serde_json::to_value(row)?)?);
    }
    match table {
        true => print!("{}", align(&lines)),
        false => lines.iter().for_each(|line| println!("{line}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows: newest image first, one per name of each image matching the filter.
fn rows(
    store: &Store,
    filter: Option<&Filter>,
    needs_size: bool,
    no_trunc: bool,
) -> Result<Vec<Row>> {
    let mut images: Vec<(Option<i64>, StoredImage, Option<String>)> = Vec::new();
    for image in stored_images(store)? {
        let manifest = store.read_manifest(&image.manifest)?;
        let config = store.read_config(manifest.config.digest())?;
        let created = config.created;
        images.push((created.as_deref().and_then(parse_rfc3339), image, created));
    }
    images.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.names.cmp(&b.1.names)));
    let now = now();
    let mut rows = Vec::new();
    for (_, image, created) in &images {
        let mut names: Vec<(String, String)> = image.real_names().map(repository_and_tag).collect();
        if let Some(filter) = filter {
            let real: Vec<&str> = image.real_names().collect();
            names = real
                .iter()
                .zip(names)
                .filter(|(name, _)| filter.matches(name))
                .map(|(_, shown)| shown)
                .collect();
        } else if names.is_empty() {
            names.push(("<none>".into(), "<none>".into()));
        }
        if names.is_empty() {
            continue;
        }
        let size = match needs_size {
            true => size(image_size(store, &image.manifest)?, true),
            false => String::new(),
        };
        for (repository, tag) in names {
            rows.push(Row {
                repository,
                tag,
                id: match no_trunc {
                    true => image.id.clone(),
                    false => image.short_id().to_string(),
                },
                created_since: since(created.as_deref(), now),
                created_at: created_at(created.as_deref()),
                size: size.clone(),
                digest: image.manifest.digest().to_string(),
            });
        }
    }
    Ok(rows)
}

/// `REPOSITORY[:TAG]` as `docker images` takes it.
struct Filter {
    repository: String,
    tag: Option<String>,
}

impl Filter {
    fn parse(text: &str) -> Result<Filter> {
        let last = text.rsplit('/').next().unwrap_or(text);
        let (repository, tag) = match last.split_once(':') {
            Some((_, tag)) => (&text[..text.len() - tag.len() - 1], Some(tag.to_string())),
            None => (text, None),
        };
        let repository = Reference::parse(repository)?.name();
        Ok(Filter { repository, tag })
    }

    fn matches(&self, name: &str) -> bool {
        let Ok(reference) = Reference::parse(name) else {
            return false;
        };
        reference.name() == self.repository
            && self
                .tag
                .as_deref()
                .is_none_or(|t| reference.tag() == Some(t))
    }
}

/// Columns split at tabs, aligned as Docker's tabwriter aligns them (cells padded by 3 to
/// at least 10 wide; the last cell of a line as it is).
fn align(lines: &[String]) -> String {
    let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            let widest = cells
                .iter()
                .filter(|row| i + 1 < row.len())
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0);
            (widest + 3).max(10)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            match i + 1 < row.len() {
                true => out.push_str(&format!("{cell:<w$}", w = widths[i])),
                false => out.push_str(cell),
            }
        }
        out.push('\n');
    }
    out
}

/// Runs `skiff rmi`: a name is untagged (`Untagged: app:1`), and an image with no name left
/// is deleted (`Deleted: sha256:…`); an ID removes every name of the image, which needs
/// `-f` when there are several. Blobs stay until `skiff prune`.
pub fn rmi(ctx: &Context, args: RmiArgs) -> Result<ExitCode> {
    let store = open_store(ctx)?;
    let mut code = ExitCode::SUCCESS;
    for text in &args.names {
        if let Err(err) = remove(&store, text, args.force) {
            eprintln!("error: {err:#}");
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

fn remove(store: &Store, text: &str, force: bool) -> Result<()> {
    let image = match lookup(store, text)? {
        Found::Name(name, descriptor) => {
            store.untag(&name)?;
            println!("Untagged: {}", familiar(&name));
            let id = store
                .read_manifest(&descriptor)?
                .config
                .digest()
                .to_string();
            match stored_images(store)?.into_iter().find(|i| i.id == id) {
                Some(image) if image.real_names().next().is_some() => return Ok(()),
                Some(image) => image,
                None => {
                    println!("Deleted: {id}");
                    return Ok(());
                }
            }
        }
        Found::Id(image) => image,
    };
    let names: Vec<&str> = image.real_names().collect();
    if names.len() > 1 && !force {
        bail!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple \
             repositories ({})",
            image.short_id(),
            names
                .iter()
                .map(|n| familiar(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for name in &image.names {
        store.untag(name)?;
        if !is_id_name(name) {
            println!("Untagged: {}", familiar(name));
        }
    }
    println!("Deleted: {}", image.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{align, Filter};

    #[test]
    fn columns_align_as_docker_tabwriter() {
        let lines = [
            "REPOSITORY\tTAG\tSIZE".to_string(),
            "app\t1\t6B".to_string(),
        ];
        assert_eq!(
            align(&lines),
            "REPOSITORY   TAG       SIZE\napp          1         6B\n"
        );
    }

    #[test]
    fn filters_match_a_repository_or_a_name() {
        let app = Filter::parse("app").unwrap();
        assert!(app.matches("docker.io/library/app:1"));
        assert!(app.matches("docker.io/library/app:latest"));
        assert!(!app.matches("docker.io/other/app:1"));
        let one = Filter::parse("app:1").unwrap();
        assert!(one.matches("docker.io/library/app:1"));
        assert!(!one.matches("docker.io/library/app:2"));
        let port = Filter::parse("127.0.0.1:5000/x").unwrap();
        assert!(port.matches("127.0.0.1:5000/x:v1"));
    }
}
