//! Building and reading the EAL argument list: our flags, `--eal-config`
//! profiles and what follows `--`, plus the lcore map they describe.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Reads an EAL profile: one argument (or `flag value`) per line, `#` comments.
pub fn read_profile(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read EAL profile {}", path.display()))?;
    Ok(parse_profile(&text))
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

pub fn has_flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
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
        if b >= 1024 {
            bail!("'{part}' is out of range in list '{text}'");
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
        set.extend((0..128).filter(|b| mask >> b & 1 == 1));
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
    fn profile_lines() {
        let p = parse_profile("# ci\n--no-huge\n-m 256   # MB\n\n--vdev net_null0\n");
        assert_eq!(p, s(&["--no-huge", "-m", "256", "--vdev", "net_null0"]));
    }

    #[test]
    fn default_map_fits_two_cpus() {
        assert_eq!(default_lcores_map(&[0, 2], 1, &[0, 1]), "0@0,2@1,1@(0,1)");
    }
}
