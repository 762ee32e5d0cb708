//! The devices a run names (`--vdev`, `-a`), checked before EAL starts:
//! unique names, no more than DPDK has port slots for, which ones read
//! finite capture files, and no file that is both read and written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::dpdk::MAX_ETHPORTS;
use crate::drivers::Driver;
use crate::eal_args::EalArgs;
use crate::flag_error::flag_error;

/// A `--vdev` argument split into its device name, driver and `key=value`
/// pairs: parsed once (`take_vdevs`), changed as a value, and written back
/// for EAL (`put_vdevs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vdev {
    pub name: String,
    pub driver: Driver,
    pub args: Vec<(String, String)>,
}

impl Vdev {
    pub fn new(name: String, args: Vec<(String, String)>) -> Vdev {
        Vdev { driver: Driver::of(&name), name, args }
    }

    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.args.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn is_pcap(&self) -> bool {
        self.driver.reads_capture_files()
    }

    /// An Ethernet device (a port), not a crypto, event, ... device.
    pub fn is_ethdev(&self) -> bool {
        crate::drivers::is_ethdev_name(&self.name)
    }

    /// Back to the `name,key=value,...` form EAL reads.
    pub fn to_arg(&self) -> String {
        let mut s = self.name.clone();
        for (k, v) in &self.args {
            s.push(',');
            s.push_str(k);
            if !v.is_empty() {
                s.push('=');
                s.push_str(v);
            }
        }
        s
    }
}

/// Takes every `--vdev` out of the EAL arguments, parsed, in order: the one
/// place a `--vdev` string is read. `put_vdevs` gives them back.
pub fn take_vdevs(eal: &mut EalArgs) -> Vec<Vdev> {
    eal.take_values("--vdev").iter().map(|t| parse_vdev(t)).collect()
}

/// Adds the vdevs back to the EAL arguments, in order (EAL numbers vdev ports in this order).
pub fn put_vdevs(eal: &mut EalArgs, vdevs: &[Vdev]) {
    eal.extend(vdevs.iter().flat_map(|v| ["--vdev".to_string(), v.to_arg()]));
}

fn parse_vdev(text: &str) -> Vdev {
    let mut parts = text.split(',');
    let name = parts.next().unwrap_or("").trim().to_string();
    let args = parts
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (p.trim().to_string(), String::new()),
        })
        .collect();
    Vdev::new(name, args)
}

/// One rx queue's capture file and how many packets libpcap reads from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiniteInput {
    pub file: PathBuf,
    pub packets: u64,
}

/// What the named devices are.
#[derive(Clone, Debug, Default)]
pub struct NamedDevices {
    /// Ethernet device names EAL will create, in port id order (PCI
    /// addresses, then vdevs, each in argument order).
    pub names: Vec<String>,
    /// Finite inputs by pcap vdev name, one per rx queue (none: a tx-only vdev, not polled).
    pub finite: BTreeMap<String, Vec<FiniteInput>>,
    /// Every device that receives reads a finite file: a file is not a wire,
    /// so a full ring holds and retries instead of dropping.
    pub all_inputs_finite: bool,
}

impl NamedDevices {
    /// Every device that receives, `tx_only` aside (it is not polled), reads a finite file.
    pub fn all_inputs_finite_besides(&self, tx_only: Option<&str>) -> bool {
        if tx_only.is_none() {
            return self.all_inputs_finite;
        }
        let others_finite =
            self.names.iter().filter(|n| Some(n.as_str()) != tx_only).all(|n| self.finite.contains_key(n));
        others_finite && self.finite.values().any(|f| !f.is_empty())
    }
}

/// Checks the vdevs and the PCI devices in an EAL argument list; counts each finite input's packets.
pub fn check(eal: &EalArgs, vdevs: &[Vdev]) -> Result<NamedDevices> {
    let pci: Vec<String> = ["-a", "--allow"]
        .iter()
        .flat_map(|f| eal.values(f))
        .map(|a| a.split(',').next().unwrap_or("").to_string())
        .collect();
    let mut seen = BTreeSet::new();
    for name in vdevs.iter().map(|v| v.name.as_str()).chain(pci.iter().map(String::as_str)) {
        if name.is_empty() {
            return Err(flag_error("a --vdev or -a/--allow has an empty device name"));
        }
        if !seen.insert(name.to_string()) {
            return Err(flag_error(format!(
                "device '{name}' is named twice; give each --vdev its own name (net_pcap0, net_pcap1, ...)"
            )));
        }
    }
    let ports = vdevs.iter().filter(|v| v.is_ethdev()).count() + pci.len();
    if ports > MAX_ETHPORTS as usize {
        return Err(flag_error(format!(
            "{ports} devices are named, more than the {MAX_ETHPORTS} ports this DPDK build supports (RTE_MAX_ETHPORTS)"
        )));
    }

    let mut finite = BTreeMap::new();
    let mut any_live = !pci.is_empty();
    for v in vdevs {
        if !v.is_ethdev() {
            continue; // not an Ethernet device (crypto, event, ...): nothing to poll
        }
        if !v.is_pcap() {
            any_live = true;
            continue;
        }
        let files: Vec<&str> = v.values("rx_pcap").collect();
        let live = ["rx_iface", "rx_iface_in", "iface"].iter().any(|k| v.values(k).next().is_some());
        let infinite = v.values("infinite_rx").any(|x| x == "1");
        let mut inputs = Vec::new();
        for f in &files {
            // Every file is checked, finite or not: a bad file is a user error.
            let packets = crate::input::count_packets(Path::new(f)).with_context(|| format!("in --vdev {}", v.name))?;
            if packets == 0 && infinite {
                bail!("pcap file '{f}' (in --vdev {}) holds no packets to replay with infinite_rx", v.name);
            }
            inputs.push(FiniteInput { file: PathBuf::from(f), packets });
        }
        if live || infinite {
            any_live = true;
        } else {
            // A tx-only pcap vdev is here with no files: it gets no rx queue.
            finite.insert(v.name.clone(), inputs);
        }
    }
    let all_inputs_finite = !any_live && finite.values().any(|f| !f.is_empty());
    // In port id order: EAL probes the vdev bus after every other bus.
    let names = pci.into_iter().chain(vdevs.iter().filter(|v| v.is_ethdev()).map(|v| v.name.clone())).collect();
    Ok(NamedDevices { names, finite, all_inputs_finite })
}

/// Whether `port` (an ethdev name) is a port of the device named `named`:
/// the same name, or, for a PCI address, a name that starts with the full
/// address (EAL adds the `0000:` domain to a short one, and a device with
/// several ports, representors say, adds a suffix).
pub fn is_port_of(named: &str, port: &str) -> bool {
    if port == named {
        return true;
    }
    match named.matches(':').count() {
        1 => port.starts_with(&format!("0000:{named}")),
        2 => port.starts_with(named),
        _ => false,
    }
}

/// Every file the vdevs read (`rx_pcap`), finite or not.
pub fn input_files(vdevs: &[Vdev]) -> Vec<PathBuf> {
    vdevs.iter().filter(|v| v.is_pcap()).flat_map(|v| v.values("rx_pcap").map(PathBuf::from)).collect()
}

/// Refuses a run in which one file is both read and written, or written twice:
/// the writer would truncate the capture being read (and the run never end).
pub fn check_distinct_files(inputs: &[PathBuf], outputs: &[(String, PathBuf)]) -> Result<()> {
    let id = |p: &Path| -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
    };
    // A file that does not exist yet is identified by its resolved directory and name.
    let spelled = |p: &Path| -> PathBuf {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        dir.join(p.file_name().unwrap_or_default())
    };
    let is_device = |p: &Path| {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_fifo())
    };
    let same = |a: &Path, b: &Path| match (id(a), id(b)) {
        (Some(x), Some(y)) => x == y,
        _ => spelled(a) == spelled(b),
    };
    for (i, (what, out)) in outputs.iter().enumerate() {
        for input in inputs {
            if same(out, input) {
                return Err(flag_error(format!(
                    "{what} {} is also read as rx_pcap {}: writing it would destroy the capture",
                    out.display(),
                    input.display()
                )));
            }
        }
        for (other_what, other) in &outputs[..i] {
            // Two writers into one device (/dev/null) are harmless; into one file they are not.
            if is_device(out) {
                continue;
            }
            if same(out, other) {
                return Err(flag_error(format!(
                    "{what} and {other_what} both write {}; give each output its own file",
                    out.display()
                )));
            }
        }
    }
    Ok(())
}

/// Names for generated pcap vdevs that no user device has: net_pcap0, net_pcap1, ... skipping taken ones.
pub fn free_pcap_names(taken: &[String], count: usize) -> Vec<String> {
    (0..).map(|i| format!("net_pcap{i}")).filter(|n| !taken.contains(n)).take(count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// What `prepare` does: the vdevs taken out once, then checked.
    fn check_args(args: &[&str]) -> Result<NamedDevices> {
        let mut eal = EalArgs::new(s(args));
        let vdevs = take_vdevs(&mut eal);
        check(&eal, &vdevs)
    }

    #[test]
    fn vdev_split_and_back() {
        let v = parse_vdev("net_pcap0,rx_pcap=a.pcap,rx_pcap=b.pcap,tx_pcap=c");
        assert_eq!((v.name.as_str(), v.driver), ("net_pcap0", Driver::Pcap));
        assert_eq!(v.args.len(), 3);
        assert_eq!(v.to_arg(), "net_pcap0,rx_pcap=a.pcap,rx_pcap=b.pcap,tx_pcap=c");
    }

    #[test]
    fn vdevs_are_parsed_once_and_given_back_typed() {
        let mut eal = EalArgs::new(s(&[
            "--vdev",
            "net_af_packet0,iface=v0",
            "-l",
            "0-2",
            "--vdev=net_pcap0,rx_pcap=a.pcap",
            "--vdev",
            "crypto_null0",
        ]));
        let mut vdevs = take_vdevs(&mut eal);
        // Gone from the arguments: nothing else can read the strings again.
        assert!(eal.values("--vdev").is_empty());
        assert_eq!(eal.as_slice(), s(&["-l", "0-2"]));
        let drivers: Vec<Driver> = vdevs.iter().map(|v| v.driver).collect();
        assert_eq!(drivers, [Driver::AfPacket, Driver::Pcap, Driver::Nic]);
        // Every later step reads and changes the typed values.
        assert_eq!(input_files(&vdevs), [PathBuf::from("a.pcap")]);
        vdevs[0].args.push(("framesz".into(), "4096".into()));
        // (a.pcap is not there to count: the af_packet and crypto vdevs only)
        let named = check(&eal, &[vdevs[0].clone(), vdevs[2].clone()]).unwrap();
        assert_eq!(named.names, s(&["net_af_packet0"]));
        put_vdevs(&mut eal, &vdevs);
        assert_eq!(
            eal.values("--vdev"),
            s(&["net_af_packet0,iface=v0,framesz=4096", "net_pcap0,rx_pcap=a.pcap", "crypto_null0"])
        );
    }

    #[test]
    fn duplicate_and_too_many_devices_are_refused() {
        let e = check_args(&["--vdev", "net_null0", "--vdev", "net_null0"]).unwrap_err();
        assert!(e.to_string().contains("named twice"), "{e}");
        let many: Vec<String> =
            (0..=MAX_ETHPORTS).flat_map(|i| ["--vdev".to_string(), format!("net_null{i}")]).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let e = check_args(&many).unwrap_err();
        assert!(e.to_string().contains("RTE_MAX_ETHPORTS"), "{e}");
    }

    #[test]
    fn live_devices_make_the_run_live() {
        assert!(!check_args(&["--vdev", "net_null0"]).unwrap().all_inputs_finite);
        assert!(!check_args(&["-a", "0000:01:00.0"]).unwrap().all_inputs_finite);
        // Port id order: EAL probes PCI devices before vdevs.
        let named = check_args(&["--vdev", "net_null0", "-a", "01:00.0"]).unwrap();
        assert_eq!(named.names, s(&["01:00.0", "net_null0"]));
    }

    #[test]
    fn one_file_read_and_written_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pcap");
        std::fs::write(&a, b"x").unwrap();
        let same = dir.path().join(".").join("a.pcap");
        let e = check_distinct_files(std::slice::from_ref(&a), &[("tx_pcap".into(), same)]).unwrap_err();
        assert!(e.to_string().contains("destroy"), "{e}");
        let new = dir.path().join("new.pcap");
        let e =
            check_distinct_files(&[], &[("tx_pcap".into(), new.clone()), ("--trace-pcapng".into(), new)]).unwrap_err();
        assert!(e.to_string().contains("both write"), "{e}");
        let null = PathBuf::from("/dev/null");
        check_distinct_files(&[a], &[("tx_pcap".into(), null.clone()), ("tx_pcap".into(), null)]).unwrap();
    }

    #[test]
    fn ports_of_pci_devices_carry_the_full_address() {
        assert!(is_port_of("net_pcap0", "net_pcap0"));
        assert!(!is_port_of("net_pcap0", "net_pcap01"));
        assert!(is_port_of("01:00.0", "0000:01:00.0"));
        assert!(is_port_of("0000:01:00.0", "0000:01:00.0_representor_vf0"));
        assert!(is_port_of("01:00.0", "0000:01:00.0_p1"));
        assert!(!is_port_of("0000:01:00.0", "01:00.0"));
        assert!(!is_port_of("01:00.0", "0000:02:00.0"));
    }

    #[test]
    fn generated_names_skip_the_users() {
        assert_eq!(free_pcap_names(&s(&["net_pcap0", "net_pcap2"]), 3), s(&["net_pcap1", "net_pcap3", "net_pcap4"]));
    }
}
