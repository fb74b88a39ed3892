//! `--output` parsing, as docker buildx accepts it.

use skiff_image::export::{Destination, Output};
use std::path::PathBuf;

fn parse(s: &str) -> Output {
    Output::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e:#}"))
}

fn error(s: &str) -> String {
    format!("{:#}", Output::parse(s).expect_err(s))
}

#[test]
fn every_type_parses() {
    assert_eq!(
        parse("type=image"),
        Output::Image {
            names: vec![],
            push: false
        }
    );
    assert_eq!(
        parse("type=image,name=a:1,push=true"),
        Output::Image {
            names: vec!["a:1".into()],
            push: true
        }
    );
    assert_eq!(
        parse("type=registry,name=127.0.0.1:5000/a"),
        Output::Image {
            names: vec!["127.0.0.1:5000/a".into()],
            push: true
        }
    );
    assert_eq!(
        parse("type=oci,dest=out.tar"),
        Output::Oci {
            dest: Destination::File("out.tar".into()),
            names: vec![]
        }
    );
    assert_eq!(
        parse("type=docker,dest=-,name=x:1"),
        Output::Docker {
            dest: Destination::Stdout,
            names: vec!["x:1".into()]
        }
    );
    assert_eq!(
        parse("type=local,dest=out"),
        Output::Local {
            dest: PathBuf::from("out")
        }
    );
    assert_eq!(
        parse("type=tar,dest=-"),
        Output::Tar {
            dest: Destination::Stdout
        }
    );
    assert_eq!(
        Output::default(),
        Output::Image {
            names: vec![],
            push: false
        }
    );
}

#[test]
fn short_forms_are_local_and_stdout_tar() {
    assert_eq!(
        parse("out/dir"),
        Output::Local {
            dest: PathBuf::from("out/dir")
        }
    );
    assert_eq!(
        parse("-"),
        Output::Tar {
            dest: Destination::Stdout
        }
    );
}

#[test]
fn quoted_names_hold_commas_and_keys_are_case_insensitive() {
    assert_eq!(
        parse("type=image,\"name=a:1,b:2\""),
        Output::Image {
            names: vec!["a:1".into(), "b:2".into()],
            push: false
        }
    );
    assert_eq!(
        parse("TYPE=local,Dest=x"),
        Output::Local {
            dest: PathBuf::from("x")
        }
    );
}

#[test]
fn bad_input_says_what_is_valid() {
    let e = error("type=ocii,dest=x");
    assert!(
        e.contains("did you mean \"oci\"")
            && e.contains("image, registry, oci, docker, local, tar"),
        "{e}"
    );
    let e = error("type=oci,dset=x");
    assert!(
        e.contains("did you mean \"dest\"") && e.contains("valid keys are type, dest, name"),
        "{e}"
    );
    let e = error("type=local,push=true");
    assert!(
        e.contains("unknown key \"push\"") && !e.contains("did you mean"),
        "{e}"
    );
    assert!(error("dest=x,name=y").contains("has no type"));
    assert!(error("type=oci").contains("needs dest=FILE"));
    assert!(error("type=local").contains("needs dest=DIR"));
    assert!(error("type=local,dest=-").contains("type=tar,dest=-"));
    assert!(error("type=image,push=maybe").contains("push=true or push=false"));
    assert!(error("type=image,oops").contains("expected KEY=VALUE"));
    assert!(error("type=image,\"name=a").contains("unterminated quote"));
}

#[test]
fn names_come_first_and_tags_are_added() {
    let tags = vec!["docker.io/me/app:1".to_string()];
    assert_eq!(
        parse("type=docker,dest=x,name=other")
            .with_tags(&tags)
            .unwrap(),
        Output::Docker {
            dest: Destination::File("x".into()),
            names: vec!["docker.io/library/other:latest".into(), tags[0].clone()]
        }
    );
    assert_eq!(
        parse("type=oci,dest=x,name=kept").with_tags(&[]).unwrap(),
        Output::Oci {
            dest: Destination::File("x".into()),
            names: vec!["docker.io/library/kept:latest".into()]
        }
    );
    assert_eq!(
        parse("out").with_tags(&tags).unwrap(),
        Output::Local { dest: "out".into() }
    );
    let e = format!("{:#}", parse("type=registry").with_tags(&[]).unwrap_err());
    assert!(e.contains("a name is needed when pushing"), "{e}");
}
