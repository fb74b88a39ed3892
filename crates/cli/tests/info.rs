//! `skiff info`: what this machine allows and what skiff will use, as lines for people and as
//! JSON, checked against what the test sees of the machine itself.

use skiff_testkit::project::Project;
use skiff_testkit::serde_json::{self, Value};
use skiff_testkit::skiff_bin;
use std::process::Command;

fn info(store: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(skiff_bin())
        .arg("--root")
        .arg(store)
        .arg("info")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "skiff info {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn info_reports_user_runtime_network_store_and_emulation() {
    let p = Project::new();
    let json: Value = serde_json::from_str(&info(p.store(), &["--format", "json"])).unwrap();
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|u| u.split_whitespace().next() == Some("0"))
        })
        .unwrap();
    assert_eq!(json["user"]["root"], root);
    assert_eq!(
        json["store"]["path"].as_str().unwrap(),
        p.store().to_str().unwrap()
    );
    assert_eq!(json["network"]["host_loopback_reachable"], false);
    let slirp = skiff_testkit::tools::find_tool("slirp4netns");
    match slirp {
        Some(_) => {
            assert_eq!(json["network"]["default"], "isolated");
            assert_eq!(json["network"]["helper"]["name"], "slirp4netns");
            assert!(json["network"]["helper"]["version"].is_string(), "{json}");
        }
        None => {
            let missing = json["network"]["missing"].as_str().unwrap();
            assert!(missing.contains("apt-get install slirp4netns"), "{missing}");
        }
    }
    // binfmt_misc entries as the kernel lists them.
    let dir = std::path::Path::new("/proc/sys/fs/binfmt_misc");
    let mut expected: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "register" && n != "status")
                .collect()
        })
        .unwrap_or_default();
    expected.sort();
    let listed: Vec<String> = json["emulation"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, expected);
    if root && skiff_testkit::tools::find_tool("runc").is_some() {
        assert!(
            json["runtime"]["version"]
                .as_str()
                .unwrap()
                .contains("runc"),
            "{json}"
        );
        assert_eq!(json["rootfs"]["mode"], "overlay", "{json}");
    }

    let text = info(p.store(), &[]);
    for label in [
        "user:",
        "user namespaces:",
        "subordinate ids:",
        "root filesystem:",
        "OCI runtime:",
        "network:",
        "store:",
        "emulation:",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(label)),
            "{label}\n{text}"
        );
    }
}
