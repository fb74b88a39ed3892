use super::Template;
use serde_json::json;

fn render(template: &str, data: &serde_json::Value) -> String {
    Template::parse(template)
        .unwrap_or_else(|e| panic!("{template}: {e:#}"))
        .render(data)
        .unwrap_or_else(|e| panic!("{template}: {e:#}"))
}

fn image() -> serde_json::Value {
    json!({
        "Id": "sha256:abc",
        "RepoTags": ["app:1", "app:latest"],
        "Size": 1234,
        "Config": {
            "Env": ["PATH=/bin", "A=b c"],
            "Labels": {"k": "v", "a": "<b>"},
            "Cmd": null,
            "ExposedPorts": {"80/tcp": {}},
            "Tty": false
        }
    })
}

#[test]
fn fields_nested_fields_and_literal_text() {
    let data = image();
    assert_eq!(
        render("id={{.Id}} size={{.Size}}", &data),
        "id=sha256:abc size=1234"
    );
    assert_eq!(render("{{.Config.Env}}", &data), "[PATH=/bin A=b c]");
    assert_eq!(render("{{.Config.Labels}}", &data), "map[a:<b> k:v]");
    assert_eq!(render("{{.Config.ExposedPorts}}", &data), "map[80/tcp:{}]");
    assert_eq!(render("{{.Config.Tty}}", &data), "false");
    assert_eq!(render("{{.Id}}{{\"\\n\"}}", &data), "sha256:abc\n");
    assert_eq!(render("no actions", &data), "no actions");
    assert_eq!(render("{{ .Id }}", &data), "sha256:abc");
}

#[test]
fn functions_json_index_join_and_case() {
    let data = image();
    assert_eq!(
        render("{{json .RepoTags}}", &data),
        r#"["app:1","app:latest"]"#
    );
    assert_eq!(
        render("{{json .Config.Labels}}", &data),
        r#"{"a":"<b>","k":"v"}"#
    );
    assert_eq!(render("{{json .Config.Cmd}}", &data), "null");
    assert_eq!(render("{{index .Config.Labels \"k\"}}", &data), "v");
    assert_eq!(render("{{index .RepoTags 1}}", &data), "app:latest");
    assert_eq!(
        render("{{join .RepoTags \", \"}}", &data),
        "app:1, app:latest"
    );
    assert_eq!(
        render("{{upper .Id}} {{len .RepoTags}}", &data),
        "SHA256:ABC 2"
    );
}

#[test]
fn range_and_if() {
    let data = image();
    let out = render("{{range .RepoTags}}{{.}} {{end}}", &data);
    assert_eq!(out, "app:1 app:latest ");
    assert_eq!(render("{{range .Config.Cmd}}x{{end}}", &data), "");
    let out = render("{{if .Config.Cmd}}cmd{{else}}none{{end}}", &data);
    assert_eq!(out, "none");
    assert_eq!(render("{{if .RepoTags}}tagged{{end}}", &data), "tagged");
    let out = render("{{range .RepoTags -}}  [{{.}}]  {{- end}}", &data);
    assert_eq!(out, "[app:1][app:latest]");
}

#[test]
fn nulls_print_as_the_caller_says() {
    let data = image();
    let template = Template::parse("{{.Config.Cmd}}").unwrap();
    assert_eq!(template.render(&data).unwrap(), "<nil>");
    let template = Template::parse("{{.Config.Cmd}} {{.Config.Shell}}").unwrap();
    let template = template.null_text(|field| match field {
        "Cmd" | "Shell" => Some("[]"),
        _ => None,
    });
    assert_eq!(template.render(&data).unwrap(), "[] []");
}

#[test]
fn unsupported_constructs_are_named() {
    for (template, named) in [
        ("{{with .Config}}{{.Env}}{{end}}", "with"),
        ("{{.Id | printf \"%s\"}}", "pipe"),
        ("{{$x := .Id}}", "$x"),
        ("{{/* note */}}", "comment"),
        ("{{printf \"%s\" .Id}}", "printf"),
        ("{{range .RepoTags}}{{else}}{{end}}", "else"),
        ("{{.Id", "unclosed"),
        ("{{range .RepoTags}}", "end"),
        ("{{end}}", "end"),
        ("{{.Id.}}", ".Id."),
    ] {
        let err = format!("{:#}", Template::parse(template).unwrap_err());
        assert!(err.contains(named), "{template}: {err}");
    }
    let err = Template::parse("{{.Nope}}").unwrap().render(&image());
    assert!(format!("{:#}", err.unwrap_err()).contains("Nope"));
}
