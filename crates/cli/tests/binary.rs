//! The built `bertlab` binary runs.

use std::process::Command;

fn bertlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bertlab"))
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("bertlab binary runs")
}

#[test]
fn prints_info() {
    let out = bertlab(&["info", "--device", "cpu"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("libtorch: 2.11.0"), "{text}");
    assert!(text.contains("cuda available: "), "{text}");
    assert!(text.contains("threads: "), "{text}");
}

#[test]
fn prints_info_as_json() {
    let out = bertlab(&["info", "--device", "cpu", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["version"].as_str().unwrap().starts_with("2.11.0"));
    assert!(v["num_threads"].as_i64().unwrap() >= 1);
}

#[test]
fn prints_version() {
    let out = bertlab(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("bertlab {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn rejects_an_unknown_device() {
    let out = bertlab(&["info", "--device", "tpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown device"));
}
