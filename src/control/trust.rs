//! What the control client trusts: a path only when it and every directory
//! from the runtime base down are the caller's or root's and nobody else can
//! write them; a connected server only when it runs as the caller or root;
//! a reply's strings only once their control characters are escaped.

use std::borrow::Cow;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The real uid of this process (EAL picks the runtime base by it too).
pub fn caller_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// What a checked path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Socket,
}

/// What the client makes of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Missing,
    Trusted,
    /// Why not.
    Untrusted(String),
}

/// Whether `path` is of `kind`, the caller's or root's, and nobody else can write it.
pub fn check_path(path: &Path, kind: Kind, me: u32) -> Verdict {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Verdict::Missing,
        Err(e) => return Verdict::Untrusted(format!("it cannot be examined ({e})")),
    };
    let ft = meta.file_type();
    let wrong_type = match kind {
        _ if ft.is_symlink() => Some("it is a symbolic link"),
        Kind::Dir if !ft.is_dir() => Some("it is not a directory"),
        Kind::Socket if !ft.is_socket() => Some("it is not a socket"),
        _ => None,
    };
    if let Some(why) = wrong_type {
        return Verdict::Untrusted(why.to_string());
    }
    if meta.uid() != me && meta.uid() != 0 {
        return Verdict::Untrusted(format!("it is owned by uid {}, not by you or root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Verdict::Untrusted(format!("group or others can write it (mode {:04o})", meta.mode() & 0o7777));
    }
    Verdict::Trusted
}

/// Why the process that listens on `conn` is not trusted (SO_PEERCRED:
/// the credentials it had when it called listen), None when it is.
pub fn peer_problem(conn: &UnixStream, me: u32) -> Option<String> {
    match rustix::net::sockopt::socket_peercred(conn) {
        Ok(cred) if cred.uid.as_raw() == me || cred.uid.is_root() => None,
        Ok(cred) => Some(format!(
            "the process serving it (pid {}) runs as uid {}, not as you or root",
            cred.pid.as_raw_nonzero(),
            cred.uid.as_raw()
        )),
        Err(e) => Some(format!("its server's credentials cannot be read ({e})")),
    }
}

/// `s` with every control character except newline and tab written as an
/// escape (`\x1b`, `\u{9b}`), so nothing a server sends can drive a terminal.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    escape(s, |c| c.is_control() && c != '\n' && c != '\t')
}

/// Like `sanitize`, also escaping newline and tab: for one field of a row or a line.
pub fn sanitize_field(s: &str) -> Cow<'_, str> {
    escape(s, char::is_control)
}

fn escape(s: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            c if !bad(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// Sanitizes every string of a JSON value, keys included, in place.
pub fn sanitize_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(clean) = sanitize(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sanitize_json),
        Value::Object(map) => {
            if map.keys().any(|k| matches!(sanitize(k), Cow::Owned(_))) {
                let old = std::mem::take(map);
                for (k, mut item) in old {
                    sanitize_json(&mut item);
                    map.insert(sanitize(&k).into_owned(), item);
                }
            } else {
                map.values_mut().for_each(sanitize_json);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn control_characters_are_escaped_but_newline_and_tab_kept() {
        assert_eq!(sanitize("plain\ttext\n"), "plain\ttext\n");
        assert!(matches!(sanitize("plain"), Cow::Borrowed(_)));
        assert_eq!(sanitize("\x1b]0;pwned\x07\x1b[31mred\r\x7f"), "\\x1b]0;pwned\\x07\\x1b[31mred\\x0d\\x7f");
        assert_eq!(sanitize("8-bit CSI \u{9b}2J"), "8-bit CSI \\u{9b}2J");
        assert_eq!(sanitize_field("a\nb\tc"), "a\\x0ab\\x09c");
        let mut v = serde_json::json!({"k\u{1b}": ["\u{1b}[2J", 1, {"x": "ok\n"}]});
        sanitize_json(&mut v);
        assert_eq!(v, serde_json::json!({"k\\x1b": ["\\x1b[2J", 1, {"x": "ok\n"}]}));
    }

    #[test]
    fn paths_must_be_owned_unshared_and_of_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let me = caller_uid();
        assert_eq!(check_path(dir.path(), Kind::Dir, me), Verdict::Trusted);
        assert_eq!(check_path(&dir.path().join("none"), Kind::Dir, me), Verdict::Missing);
        let why = |p: &Path, kind, me| match check_path(p, kind, me) {
            Verdict::Untrusted(why) => why,
            v => panic!("{} is {v:?}", p.display()),
        };
        if me == 0 {
            // Root's are trusted by anyone; another user's by nobody else.
            assert_eq!(check_path(dir.path(), Kind::Dir, 12345), Verdict::Trusted);
            let theirs = dir.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::lchown(&theirs, Some(12345), None).unwrap();
            assert!(why(&theirs, Kind::Dir, 0).contains("owned by uid 12345"));
        }
        assert!(why(dir.path(), Kind::Socket, me).contains("not a socket"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(why(dir.path(), Kind::Dir, me).contains("mode 0777"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(why(&link, Kind::Dir, me).contains("symbolic link"));
    }
}
