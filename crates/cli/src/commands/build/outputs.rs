//! What a build writes: every `--output`, named by its own `name=` and by the `-t` tags;
//! the store (`type=image`) when none is given; `--push` pushing the image outputs.

use anyhow::{bail, Context as _, Result};
use skiff_image::export::{Destination, Output};
use skiff_image::reference::Reference;

/// The outputs of a build from `--output` values, `-t` tags and `--push`.
///
/// An output's `name=` names the result; `-t` tags are added to the names of the outputs
/// that carry names (image, registry, oci, docker), after its own. buildx fills those
/// outputs' names from `-t` and drops their `name=`; skiff keeps both, so that
/// `-t app -o type=registry,name=REG/app` pushes `REG/app` as asked and also names `app`.
pub fn plan(outputs: &[String], tags: &[String], push: bool) -> Result<Vec<Output>> {
    let tags: Vec<String> = tags
        .iter()
        .map(|t| {
            normalized(t).with_context(|| {
                format!("invalid tag -t {t:?}: expected NAME[:TAG], e.g. -t app:1.0")
            })
        })
        .collect::<Result<_>>()?;
    let mut outs = Vec::new();
    for spec in outputs {
        let output = Output::parse(spec)?;
        outs.push(
            output
                .with_tags(&tags)
                .with_context(|| format!("--output {spec}"))?,
        );
    }
    if outs.is_empty() || (push && !outs.iter().any(|o| matches!(o, Output::Image { .. }))) {
        outs.push(Output::Image {
            names: tags.clone(),
            push,
        });
    }
    for o in &mut outs {
        if let Output::Image { names, push: p } = o {
            *p |= push;
            if *p && names.is_empty() {
                if push {
                    bail!("--push needs a name: add -t REGISTRY/NAME:TAG");
                }
                bail!("a name is needed when pushing to a registry: add -t NAME or name=NAME to --output");
            }
        }
    }
    if outs.iter().filter(|o| writes_to_stdout(o)).count() > 1 {
        bail!("only one --output can write to standard output (dest=-)");
    }
    Ok(outs)
}

/// Whether the output streams to standard output (then nothing else may be printed there).
pub fn writes_to_stdout(output: &Output) -> bool {
    matches!(
        output,
        Output::Oci {
            dest: Destination::Stdout,
            ..
        } | Output::Docker {
            dest: Destination::Stdout,
            ..
        } | Output::Tar {
            dest: Destination::Stdout
        }
    )
}

/// A reference as the store and registries name it (`app` → `docker.io/library/app:latest`).
fn normalized(name: &str) -> Result<String> {
    Ok(Reference::parse(name)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn names(o: &Output) -> Vec<String> {
        match o {
            Output::Image { names, .. }
            | Output::Oci { names, .. }
            | Output::Docker { names, .. } => names.clone(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn an_outputs_name_and_the_tags_both_name_the_result() {
        let outs = plan(
            &strings(&["type=registry,name=localhost:5000/b:1"]),
            &strings(&["localhost:5000/a:1"]),
            false,
        )
        .unwrap();
        assert_eq!(outs.len(), 1);
        assert!(matches!(outs[0], Output::Image { push: true, .. }));
        assert_eq!(
            names(&outs[0]),
            strings(&["localhost:5000/b:1", "localhost:5000/a:1"])
        );
        let outs = plan(
            &strings(&["type=docker,dest=x.tar,\"name=b,c:2\""]),
            &strings(&["a", "b"]),
            false,
        )
        .unwrap();
        assert_eq!(
            names(&outs[0]),
            strings(&[
                "docker.io/library/b:latest",
                "docker.io/library/c:2",
                "docker.io/library/a:latest"
            ])
        );
    }

    #[test]
    fn the_store_is_the_default_and_push_needs_a_name() {
        let outs = plan(&[], &strings(&["a"]), false).unwrap();
        assert_eq!(
            outs,
            vec![Output::Image {
                names: strings(&["docker.io/library/a:latest"]),
                push: false
            }]
        );
        let e = format!("{:#}", plan(&[], &[], true).unwrap_err());
        assert!(e.contains("-t"), "{e}");
        let e = format!(
            "{:#}",
            plan(&strings(&["type=registry"]), &[], false).unwrap_err()
        );
        assert!(e.contains("a name is needed"), "{e}");
        let e = format!(
            "{:#}",
            plan(&strings(&["type=image,name=UPPER"]), &[], false).unwrap_err()
        );
        assert!(e.contains("name=\"UPPER\""), "{e}");
    }

    #[test]
    fn one_output_at_most_on_stdout() {
        let e = plan(&strings(&["-", "type=oci,dest=-"]), &[], false).unwrap_err();
        assert!(format!("{e:#}").contains("standard output"), "{e:#}");
    }
}
