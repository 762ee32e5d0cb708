//! Building and reading the EAL argument list: our flags, `--eal-config`
//! profiles and what follows `--`, plus the lcore map they describe.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::dpdk::runtime_files::prefix_problem;
use crate::dpdk::MAX_LCORE;
use crate::flag_error::flag_error;

/// EAL's long options (DPDK 22.11 and 24.11). getopt accepts any unambiguous
/// abbreviation of them, which is how `--file-pre=../x` would slip past a
/// check of `--file-prefix`; abbreviations are refused instead.
const EAL_LONG_OPTIONS: &[&str] = &[
    "allow",
    "base-virtaddr",
    "block",
    "create-uio-dev",
    "file-prefix",
    "force-max-simd-bitwidth",
    "help",
    "huge-dir",
    "huge-unlink",
    "huge-worker-stack",
    "in-memory",
    "iova-mode",
    "lcores",
    "legacy-mem",
    "log-color",
    "log-level",
    "log-timestamp",
    "main-lcore",
    "match-allocations",
    "mbuf-pool-ops-name",
    "no-hpet",
    "no-huge",
    "no-pci",
    "no-shconf",
    "no-telemetry",
    "proc-type",
    "single-file-segments",
    "socket-limit",
    "socket-mem",
    "syslog",
    "telemetry",
    "trace",
    "trace-bufsz",
    "trace-dir",
    "trace-mode",
    "vdev",
    "vfio-intr",
    "vfio-vf-token",
    "vmware-tsc-map",
];

/// EAL options that take a value as the next word (DPDK 22.11 and 24.11);
/// those with an optional value take it only as `--opt=value`.
const TAKES_VALUE: &[&str] = &[
    "-a",
    "-b",
    "-c",
    "-d",
    "-l",
    "-m",
    "-n",
    "-r",
    "-s",
    "-S",
    "--allow",
    "--base-virtaddr",
    "--block",
    "--file-prefix",
    "--force-max-simd-bitwidth",
    "--huge-dir",
    "--iova-mode",
    "--lcores",
    "--log-level",
    "--main-lcore",
    "--mbuf-pool-ops-name",
    "--proc-type",
    "--socket-limit",
    "--socket-mem",
    "--trace",
    "--trace-bufsz",
    "--trace-dir",
    "--trace-mode",
    "--vdev",
    "--vfio-intr",
    "--vfio-vf-token",
];

/// Checks that every option in `words` (a profile, or what follows `--`)
/// has its value within them: words from different places are joined into
/// one list for EAL, where a bare `--file-prefix` would take the next
/// place's first word as its value.
pub fn check_values(words: &[String], source: &str) -> Result<()> {
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if TAKES_VALUE.contains(&w) {
            match words.get(i + 1) {
                None => return Err(flag_error(format!("{source}: {w} needs a value but is the last word"))),
                Some(v) if v.starts_with('-') => {
                    return Err(flag_error(format!("{source}: {w} needs a value but is followed by {v}")))
                }
                Some(_) => i += 2,
            }
            continue;
        }
        i += 1;
    }
    Ok(())
}

/// EAL options EAL refuses together (22.11 and 24.11). `--no-huge` implies
/// legacy memory, so EAL's own message then blames `--legacy-mem`, which
/// the user may never have given.
const CONFLICTS: &[(&str, &str, &str)] = &[
    ("--in-memory", "--no-huge", "without hugepages EAL uses legacy memory, which --in-memory does not support"),
    ("--in-memory", "--legacy-mem", "--in-memory needs EAL's dynamic memory"),
    ("--match-allocations", "--no-huge", "without hugepages EAL uses legacy memory"),
    ("--match-allocations", "--legacy-mem", "--match-allocations needs EAL's dynamic memory"),
    ("--socket-mem", "--no-huge", "without hugepages, size memory with -m"),
    ("--socket-limit", "--no-huge", "without hugepages EAL uses legacy memory"),
    ("--socket-limit", "--legacy-mem", "--socket-limit needs EAL's dynamic memory"),
    ("--huge-unlink", "--no-huge", "there are no hugepage files to unlink"),
    ("--huge-worker-stack", "--no-huge", "worker stacks in hugepages need hugepages"),
];

/// Refuses EAL options that conflict, naming the user's own flags before
/// EAL starts. `no_huge_by` says who asked for `--no-huge` when the user
/// did not (handoff adds it for generated inputs).
pub fn check_conflicts(args: &[String], no_huge_by: Option<&str>) -> Result<()> {
    let given = |o: &str| args.iter().any(|a| a == o || a.strip_prefix(o).is_some_and(|r| r.starts_with('=')));
    for (a, b, why) in CONFLICTS {
        if given(a) && given(b) {
            let b = match (*b, no_huge_by) {
                ("--no-huge", Some(by)) => by.to_string(),
                _ => b.to_string(),
            };
            return Err(flag_error(format!("{a} cannot be used with {b}: {why}")));
        }
    }
    Ok(())
}

/// EAL's argument list (argv[0] excluded), with the questions handoff asks
/// of it; EAL itself reads the list as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EalArgs(Vec<String>);

impl EalArgs {
    pub fn new(args: Vec<String>) -> EalArgs {
        EalArgs(args)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Adds a flag (`--no-huge`) or an option with its value.
    pub fn push(&mut self, flag: &str, value: Option<&str>) {
        self.0.push(flag.to_string());
        if let Some(v) = value {
            self.0.push(v.to_string());
        }
    }

    pub fn extend(&mut self, args: impl IntoIterator<Item = String>) {
        self.0.extend(args);
    }

    /// Every value of option `name`, in any spelling (`--opt v`, `--opt=v`, `-lV`).
    pub fn values(&self, name: &str) -> Vec<String> {
        values_of(&self.0, name)
    }

    /// Removes every `--opt v` and `--opt=v` of long option `name`; returns the values in order.
    pub fn take_values(&mut self, name: &str) -> Vec<String> {
        let mut taken = Vec::new();
        let mut kept = Vec::with_capacity(self.0.len());
        let mut args = std::mem::take(&mut self.0).into_iter();
        while let Some(a) = args.next() {
            if a == name {
                taken.extend(args.next());
            } else if let Some(v) = a.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
                taken.push(v.to_string());
            } else {
                kept.push(a);
            }
        }
        self.0 = kept;
        taken
    }

    pub fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|a| a == flag)
    }

    /// Whether any of these options is given (with any value).
    pub fn names_any(&self, options: &[&str]) -> bool {
        options.iter().any(|o| !self.values(o).is_empty())
    }

    /// The `--file-prefix` in effect: the last one given.
    pub fn file_prefix(&self) -> Option<String> {
        self.values("--file-prefix").pop()
    }

    /// Without shared files nothing can attach (telemetry stays, dumpcap cannot).
    pub fn single_process(&self) -> bool {
        self.has("--no-shconf") || self.has("--in-memory")
    }

    pub fn lcore_set(&self) -> Result<Option<BTreeSet<u32>>> {
        lcore_set(&self.0)
    }
}

/// Reads an EAL profile: one argument (or `flag value`) per line, `#` comments.
/// A profile can load code (`-d`), so like ssh with a key, handoff refuses
/// one that someone other than root or the caller owns or can write.
pub fn read_profile(path: &Path) -> Result<Vec<String>> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read EAL profile {}", path.display()))?;
    if !meta.is_file() {
        bail!("EAL profile {} is not a regular file", path.display());
    }
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    if meta.uid() != 0 && meta.uid() != me {
        bail!(
            "EAL profile {} belongs to uid {}; a profile can load code (-d), so it must be yours or root's",
            path.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "EAL profile {} is writable by others (mode {:o}); a profile can load code (-d): chmod go-w {}",
            path.display(),
            meta.mode() & 0o777,
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read EAL profile {}", path.display()))?;
    let words = parse_profile(&text);
    check_values(&words, &format!("EAL profile {}", path.display()))?;
    Ok(words)
}

/// Checks what handoff must not let through to EAL: a `--file-prefix` that
/// is not one safe path component (EAL makes and handoff removes a directory
/// named by it), a process type other than primary, an abbreviated long
/// option, lcore ids beyond RTE_MAX_LCORE.
pub fn validate(args: &[String]) -> Result<()> {
    for a in args {
        let Some(long) = a.strip_prefix("--") else { continue };
        let name = long.split('=').next().unwrap_or("");
        if name.is_empty() || EAL_LONG_OPTIONS.contains(&name) {
            continue;
        }
        if let Some(full) = EAL_LONG_OPTIONS.iter().find(|o| o.starts_with(name)) {
            return Err(flag_error(format!("EAL option '--{name}' is abbreviated; write it in full (--{full})")));
        }
    }
    for p in values_of(args, "--file-prefix") {
        if let Some(why) = prefix_problem(&p) {
            return Err(flag_error(format!("--file-prefix '{}' {why}", p.escape_debug())));
        }
    }
    for t in values_of(args, "--proc-type") {
        if t != "primary" {
            return Err(flag_error(format!(
                "--proc-type {t} is refused: handoff is a primary process (attach tools such as dpdk-dumpcap as secondaries)"
            )));
        }
    }
    lcore_set(args).map_err(|e| flag_error(format!("{e:#}")))?;
    for m in values_of(args, "--main-lcore") {
        match m.parse::<u32>() {
            Ok(l) if l < MAX_LCORE => {}
            _ => return Err(flag_error(format!("--main-lcore '{m}' is not an lcore id below {MAX_LCORE}"))),
        }
    }
    Ok(())
}

/// Options of one kind: when the command line sets one of them, a profile's
/// settings of that kind are dropped (the command line wins).
const OVERRIDE_GROUPS: &[&[&str]] = &[
    &["-l", "--lcores", "-c"],
    &["--main-lcore"],
    &["-m", "--socket-mem"],
    &["--file-prefix"],
    &["--huge-dir"],
    &["--iova-mode"],
    &["-n"],
];

/// A profile's arguments without those the command line overrides.
pub fn drop_overridden(profile: Vec<String>, command_line: &[String]) -> Vec<String> {
    let overridden: Vec<&str> = OVERRIDE_GROUPS
        .iter()
        .filter(|g| g.iter().any(|o| !values_of(command_line, o).is_empty()))
        .flat_map(|g| g.iter().copied())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < profile.len() {
        let a = &profile[i];
        let hit = overridden.iter().find(|o| {
            a == *o
                || (o.starts_with("--") && a.starts_with(&format!("{o}=")))
                || (!o.starts_with("--") && a.starts_with(*o))
        });
        match hit {
            Some(o) if a == *o => i += 2, // the option and its value
            Some(_) => i += 1,
            None => {
                out.push(a.clone());
                i += 1;
            }
        }
    }
    out
}

pub fn parse_profile(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .flat_map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect()
}

/// The value of EAL option `name` (`--vdev`, `-l`, ...) at each occurrence,
/// in the `--opt value`, `--opt=value` and `-lVALUE` forms.
pub fn values_of(args: &[String], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == name {
            if let Some(v) = args.get(i + 1) {
                out.push(v.clone());
            }
            i += 2;
            continue;
        }
        if let Some(v) = a.strip_prefix(name) {
            if name.starts_with("--") {
                if let Some(v) = v.strip_prefix('=') {
                    out.push(v.to_string());
                }
            } else if !v.is_empty() {
                out.push(v.to_string());
            }
        }
        i += 1;
    }
    out
}

/// Parses a list like `0-2,4` into numbers.
pub fn parse_list(text: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (a, b): (u32, u32) = match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => bail!("'{part}' is not a number or range in list '{text}'"),
        };
        if a > b {
            bail!("range '{part}' runs backwards in list '{text}'");
        }
        if b >= MAX_LCORE {
            bail!("'{part}' in list '{text}' is not below {MAX_LCORE}, the lcores this DPDK build has (RTE_MAX_LCORE)");
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        bail!("empty list '{text}'");
    }
    Ok(out)
}

/// Lcore ids of an `--lcores` map such as `0@0,(1-3)@(0,1),4`.
pub fn parse_lcores_map(text: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    let bytes: Vec<char> = text.chars().collect();
    let mut elements = Vec::new();
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                elements.push(bytes[start..i].iter().collect::<String>());
                start = i + 1;
            }
            _ => {}
        }
    }
    elements.push(bytes[start..].iter().collect::<String>());
    for e in elements.iter().filter(|e| !e.is_empty()) {
        let ids = e.split('@').next().unwrap_or("");
        let ids = ids.trim_start_matches('(').trim_end_matches(')');
        out.extend(parse_list(ids).with_context(|| format!("bad --lcores element '{e}'"))?);
    }
    Ok(out)
}

/// The lcores an EAL argument list enables, or None if it names none (`-l`,
/// `--lcores` or `-c`), in which case EAL would use every CPU.
pub fn lcore_set(args: &[String]) -> Result<Option<BTreeSet<u32>>> {
    let mut set = BTreeSet::new();
    let mut named = false;
    for v in values_of(args, "-l") {
        named = true;
        set.extend(parse_list(&v).with_context(|| format!("bad -l '{v}'"))?);
    }
    for v in values_of(args, "--lcores") {
        named = true;
        set.extend(parse_lcores_map(&v)?);
    }
    for v in values_of(args, "-c") {
        named = true;
        let mask =
            u128::from_str_radix(v.trim_start_matches("0x"), 16).with_context(|| format!("bad -c mask '{v}'"))?;
        set.extend((0..128u32).filter(|b| mask >> b & 1 == 1 && *b < MAX_LCORE));
    }
    Ok(named.then_some(set))
}

/// CPUs this process may run on (from /proc, honouring cpusets).
pub fn allowed_cpus() -> Vec<u32> {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).and_then(|v| parse_list(v.trim()).ok())
        })
        .unwrap_or_else(|| (0..std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)).collect())
}

/// An `--lcores` map placing each data lcore on a CPU of its own where there
/// are enough, and the control lcore on all of them (it mostly sleeps).
pub fn default_lcores_map(data: &[u32], control: u32, cpus: &[u32]) -> String {
    let cpus = if cpus.is_empty() { vec![0] } else { cpus.to_vec() };
    let mut parts: Vec<String> =
        data.iter().enumerate().map(|(i, l)| format!("{l}@{}", cpus[i % cpus.len()])).collect();
    let all: Vec<String> = cpus.iter().map(u32::to_string).collect();
    parts.push(format!("{control}@({})", all.join(",")));
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flag_error::FlagError;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn lists_and_maps() {
        assert_eq!(parse_list("0-2,4").unwrap(), vec![0, 1, 2, 4]);
        assert!(parse_list("2-0").is_err());
        assert!(parse_list("x").is_err());
        assert_eq!(parse_lcores_map("0@0,2@1,1@(0,1)").unwrap(), vec![0, 2, 1]);
        assert_eq!(parse_lcores_map("(1-3)@(0,1),5").unwrap(), vec![1, 2, 3, 5]);
    }

    #[test]
    fn finds_values_in_every_form() {
        let a = s(&["--vdev", "net_null0", "--vdev=net_pcap0,rx_pcap=x", "-l0-2", "--no-huge"]);
        assert_eq!(values_of(&a, "--vdev"), vec!["net_null0", "net_pcap0,rx_pcap=x"]);
        assert_eq!(lcore_set(&a).unwrap().unwrap().into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(lcore_set(&s(&["--no-huge"])).unwrap().is_none());
        assert_eq!(lcore_set(&s(&["-c", "0x5"])).unwrap().unwrap().into_iter().collect::<Vec<_>>(), vec![0, 2]);
    }

    #[test]
    fn values_are_taken_in_both_forms() {
        let mut a = EalArgs::new(s(&["--vdev", "net_null0", "--vdev=net_pcap0", "--vdevx=y", "-l", "0"]));
        assert_eq!(a.take_values("--vdev"), s(&["net_null0", "net_pcap0"]));
        assert_eq!(a.as_slice(), s(&["--vdevx=y", "-l", "0"]));
    }

    #[test]
    fn profile_lines() {
        let p = parse_profile("# ci\n--no-huge\n-m 256   # MB\n\n--vdev net_null0\n");
        assert_eq!(p, s(&["--no-huge", "-m", "256", "--vdev", "net_null0"]));
    }

    #[test]
    fn refuses_what_must_not_reach_eal() {
        for (bad, says) in [
            (&["--file-prefix", "../../tmp/victim"][..], "--file-prefix"),
            (&["--file-prefix=."], "--file-prefix"),
            (&["--file-prefix", ".."], "--file-prefix"),
            (&["--file-prefix", ""], "--file-prefix"),
            (&["--file-pre=../x"], "abbreviated"),
            (&["--proc-type", "secondary"], "primary process"),
            (&["--proc-type=auto"], "primary process"),
            (&["--proc=secondary"], "abbreviated"),
            (&["-l", "0-200"], "RTE_MAX_LCORE"),
            (&["--main-lcore", "999"], "below"),
        ] {
            let e = validate(&s(bad)).unwrap_err();
            assert!(e.downcast_ref::<FlagError>().is_some(), "{bad:?} is a flag error");
            assert!(e.to_string().contains(says), "{bad:?}: {e}");
        }
        validate(&s(&["--file-prefix", "mine", "--proc-type", "primary", "-l", "0-2", "--no-huge"])).unwrap();
    }

    #[test]
    fn an_option_keeps_its_value_within_its_own_words() {
        check_values(&s(&["--vdev", "net_null0", "-l0-2", "--huge-unlink", "--file-prefix", "p"]), "x").unwrap();
        for (bad, says) in [
            (&["--vdev", "net_null0", "--file-prefix"][..], "--file-prefix needs a value but is the last word"),
            (&["--file-prefix", "--vdev", "net_null0"], "is followed by --vdev"),
            (&["-m"], "-m needs a value"),
        ] {
            let e = check_values(&s(bad), "EAL profile p.eal").unwrap_err();
            assert!(e.downcast_ref::<FlagError>().is_some(), "{bad:?} is a flag error");
            assert!(e.to_string().starts_with("EAL profile p.eal: ") && e.to_string().contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn conflicts_name_the_users_flags() {
        let e = check_conflicts(&s(&["--no-huge", "--in-memory"]), None).unwrap_err();
        assert_eq!(e.to_string(), "--in-memory cannot be used with --no-huge: without hugepages EAL uses legacy memory, which --in-memory does not support");
        let e = check_conflicts(&s(&["--no-huge", "--match-allocations"]), Some("--pg")).unwrap_err();
        assert!(e.to_string().contains("with --pg"), "{e}");
        let e = check_conflicts(&s(&["--socket-mem=64", "--no-huge"]), None).unwrap_err();
        assert!(e.to_string().starts_with("--socket-mem"), "{e}");
        check_conflicts(&s(&["--in-memory", "--no-shconf", "--single-file-segments"]), None).unwrap();
        check_conflicts(&s(&["--no-huge", "--legacy-mem", "--no-shconf"]), None).unwrap();
    }

    #[test]
    fn command_line_overrides_the_profile() {
        let profile = s(&["-l", "0-2", "--main-lcore=1", "-m", "512", "--vdev", "net_null0", "-n4"]);
        let kept = drop_overridden(profile.clone(), &s(&["--lcores", "0@0,2@1", "-m", "256"]));
        assert_eq!(kept, s(&["--main-lcore=1", "--vdev", "net_null0", "-n4"]));
        assert_eq!(drop_overridden(profile.clone(), &[]), profile);
    }

    #[test]
    fn loose_profiles_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.eal");
        std::fs::write(&p, "--no-huge\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_profile(&p).unwrap(), s(&["--no-huge"]));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read_profile(&p).unwrap_err().to_string().contains("writable by others"));
    }

    #[test]
    fn default_map_fits_two_cpus() {
        assert_eq!(default_lcores_map(&[0, 2], 1, &[0, 1]), "0@0,2@1,1@(0,1)");
    }
}
