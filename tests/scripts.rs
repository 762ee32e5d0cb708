//! The shell scripts: every `scripts/*.sh` parses (`bash -n`) and passes
//! `shellcheck` (installed by scripts/install-deps.sh), and the helpers
//! answer `--help`.
//! Nothing here needs a NIC, an IOMMU or root, and nothing changes the
//! machine: `--help` and `--show` exit before any action.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scripts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    v.sort();
    assert!(v.len() >= 6, "scripts/*.sh: {v:?}");
    v
}

fn run(script: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("bash").arg(repo().join("scripts").join(script)).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn every_script_parses() {
    for s in scripts() {
        let out = Command::new("bash").arg("-n").arg(&s).output().unwrap();
        assert!(out.status.success(), "bash -n {}: {}", s.display(), String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn every_script_passes_shellcheck() {
    // In CI it must run; elsewhere a missing shellcheck says how to get it.
    let installed = Command::new("shellcheck").arg("--version").output().is_ok();
    assert!(installed, "shellcheck is not installed: run scripts/install-deps.sh (or apt-get install shellcheck)");
    let out = Command::new("shellcheck").args(scripts()).output().unwrap();
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn helpers_answer_help() {
    for (script, words) in [
        ("bind-nic.sh", &["vfio-pci", "--no-iommu", "unbind", "status"][..]),
        ("setup-hugepages.sh", &["--size 2M|1G", "--per-node", "--persist", "--show"][..]),
        ("docker-build-test.sh", &["--suite", "buildah"][..]),
        ("docker-standin.sh", &["debootstrap", "rust:1-SUITE"][..]),
        ("ab.sh", &["ab::b()", "--memory nohuge|huge", "HANDOFF"][..]),
    ] {
        for flag in ["--help", "-h"] {
            let (ok, text) = run(script, &[flag]);
            assert!(ok, "{script} {flag} failed:\n{text}");
            assert!(text.contains("Usage:"), "{script} {flag}:\n{text}");
            for w in words {
                assert!(text.contains(w), "{script} {flag} does not mention {w}:\n{text}");
            }
        }
    }
}

#[test]
fn helpers_refuse_bad_arguments() {
    let (ok, text) = run("bind-nic.sh", &["frobnicate"]);
    assert!(!ok && text.contains("unknown command"), "{text}");
    let (ok, text) = run("bind-nic.sh", &["bind", "9999:99:99.9"]);
    assert!(!ok && text.contains("no such NIC"), "{text}");
    let (ok, text) = run("setup-hugepages.sh", &["--size", "4K"]);
    assert!(!ok && text.contains("2M or 1G"), "{text}");
    let (ok, text) = run("ab.sh", &["--no-build", "--seconds", "x"]);
    assert!(!ok && text.contains("whole numbers"), "{text}");
}

#[test]
fn hugepage_show_is_read_only_and_works_without_root() {
    let (ok, text) = run("setup-hugepages.sh", &["--show"]);
    assert!(ok, "{text}");
    assert!(text.contains("hugetlbfs mounts:"), "{text}");
}
