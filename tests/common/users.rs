//! A real unprivileged user for trust tests, created with useradd and
//! removed (userdel) when the guard drops, a failed test included; and
//! processes run as that user, killed when their guard drops.
#![allow(dead_code)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Runs a user-management command, retried while another one holds /etc/passwd's lock.
fn admin(args: &[&str], ok_codes: &[i32]) -> bool {
    for _ in 0..40 {
        let out = Command::new("timeout").args(["-k", "5", "30"]).args(args).stdin(Stdio::null()).output();
        match out {
            Ok(o) if o.status.code().is_some_and(|c| c == 0 || ok_codes.contains(&c)) => return true,
            // 1: cannot update /etc/passwd, 10: cannot update /etc/group (a lock): try again.
            Ok(o) if matches!(o.status.code(), Some(1) | Some(10)) => {}
            Ok(o) => panic!("{args:?}: {:?}: {}", o.status, String::from_utf8_lossy(&o.stderr)),
            Err(e) => panic!("{args:?}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

fn id(flag: &str, name: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| panic!("id {flag} {name}: {out:?}"))
}

impl TestUser {
    /// `ho<tag><pid>`: unique per test process. Needs root (tests run as root).
    pub fn create(tag: &str) -> TestUser {
        let name = format!("ho{tag}{}", std::process::id());
        assert!(name.len() <= 32, "user name {name} is too long");
        let created = admin(
            &["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "handoff test", &name],
            &[],
        );
        assert!(created, "useradd {name} kept failing (tests run as root)");
        let user = TestUser { uid: id("-u", &name), gid: id("-g", &name), name };
        assert_ne!(user.uid, 0);
        user
    }

    /// `path` (made by root) becomes this user's, without following a link.
    pub fn give(&self, path: &Path) {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)).unwrap();
    }

    /// Runs `exe args` as this user to its end (at most `limit`), with `env` and without XDG_RUNTIME_DIR unless set there.
    pub fn run(&self, exe: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> std::process::Output {
        let child = Command::new(exe)
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .envs(env.iter().copied())
            .uid(self.uid)
            .gid(self.gid)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} as {}: {e}", exe.display(), self.name));
        super::common::wait(child, limit)
    }

    /// Runs `exe args` as this user (no supplementary groups), its output dropped.
    pub fn spawn(&self, exe: &Path, args: &[&str], env: &[(&str, &str)]) -> UserProcess {
        let child = Command::new(exe)
            .args(args)
            .envs(env.iter().copied())
            .uid(self.uid)
            .gid(self.gid)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} as {}: {e}", exe.display(), self.name));
        UserProcess(child)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // 6: the user is already gone.
        if !admin(&["userdel", &self.name], &[6]) {
            eprintln!("warning: userdel {} kept failing", self.name);
        }
    }
}

/// A process run as a test user, killed and reaped on drop.
pub struct UserProcess(pub Child);

impl Drop for UserProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `exe` where any user can run it: itself when every directory above it
/// is searchable by others, else a copy in `scratch` (made 0755).
pub fn exe_for_anyone(exe: &Path, scratch: &Path) -> PathBuf {
    let reachable = exe.ancestors().skip(1).all(|d| std::fs::metadata(d).is_ok_and(|m| m.mode() & 0o001 != 0))
        && std::fs::metadata(exe).is_ok_and(|m| m.mode() & 0o005 == 0o005);
    if reachable {
        return exe.to_path_buf();
    }
    std::fs::set_permissions(scratch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = scratch.join(exe.file_name().unwrap());
    std::fs::copy(exe, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}
