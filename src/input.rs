//! The inputs a run reads: which vdevs are finite pcap files and how many
//! packets each rx queue will deliver.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::PcapNgReader;

/// A `--vdev` argument split into its device name and `key=value` pairs.
pub struct Vdev {
    pub name: String,
    pub args: Vec<(String, String)>,
}

pub fn parse_vdev(text: &str) -> Vdev {
    let mut parts = text.split(',');
    let name = parts.next().unwrap_or("").trim().to_string();
    let args = parts
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (p.trim().to_string(), String::new()),
        })
        .collect();
    Vdev { name, args }
}

/// For each net_pcap vdev that reads only pcap files (no live interface, no
/// infinite_rx), the packet count of each of its rx queues' files. A vdev
/// with no rx source at all (only `tx_pcap`) maps to no queues: it is not polled.
pub fn finite_inputs(vdevs: &[String]) -> Result<BTreeMap<String, Vec<u64>>> {
    let mut out = BTreeMap::new();
    for text in vdevs {
        let v = parse_vdev(text);
        if !v.name.starts_with("net_pcap") {
            continue;
        }
        let get = |k: &'static str| v.args.iter().filter(move |(key, _)| key == k).map(|(_, val)| val.as_str());
        let files: Vec<&str> = get("rx_pcap").collect();
        let live =
            get("rx_iface").next().is_some() || get("rx_iface_in").next().is_some() || get("iface").next().is_some();
        let infinite = get("infinite_rx").any(|x| x == "1");
        for f in &files {
            // Validate every file up front, finite or not: a bad file is a user error.
            let n = count_packets(Path::new(f)).with_context(|| format!("in --vdev {}", v.name))?;
            if n == 0 && infinite {
                bail!("pcap file '{f}' (in --vdev {}) holds no packets to replay with infinite_rx", v.name);
            }
        }
        if !live && !infinite {
            let counts = files.iter().map(|f| count_packets(Path::new(f))).collect::<Result<Vec<_>>>()?;
            out.insert(v.name.clone(), counts);
        }
    }
    Ok(out)
}

/// Files net_pcap vdevs write (`tx_pcap=`); the PMD creates them at start-up.
pub fn output_files(vdevs: &[String]) -> Vec<std::path::PathBuf> {
    vdevs
        .iter()
        .map(|t| parse_vdev(t))
        .filter(|v| v.name.starts_with("net_pcap"))
        .flat_map(|v| v.args.into_iter().filter(|(k, _)| k == "tx_pcap").map(|(_, f)| f.into()))
        .collect()
}

/// Packets in a pcap or pcapng file; a missing or corrupt file is an error.
pub fn count_packets(path: &Path) -> Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot open pcap file '{}'", path.display()))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .with_context(|| format!("pcap file '{}' is too short to be a capture", path.display()))?;
    drop(file);
    let reader = BufReader::new(File::open(path)?);
    let corrupt = |e: pcap_file::PcapError| anyhow::anyhow!("pcap file '{}' is corrupt: {e}", path.display());
    let mut n = 0u64;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r = PcapNgReader::new(reader).map_err(corrupt)?;
        while let Some(block) = r.next_block() {
            if matches!(
                block.map_err(corrupt)?,
                pcap_file::pcapng::Block::EnhancedPacket(_) | pcap_file::pcapng::Block::SimplePacket(_)
            ) {
                n += 1;
            }
        }
    } else {
        let mut r = PcapReader::new(reader).map_err(corrupt)?;
        while let Some(p) = r.next_packet() {
            p.map_err(corrupt)?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn vdev_split() {
        let v = parse_vdev("net_pcap0,rx_pcap=a.pcap,rx_pcap=b.pcap,tx_pcap=c");
        assert_eq!(v.name, "net_pcap0");
        assert_eq!(v.args.len(), 3);
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pcap");
        let e = count_packets(&missing).unwrap_err();
        assert!(format!("{e:#}").contains("cannot open"));
        let junk = dir.path().join("junk.pcap");
        std::fs::File::create(&junk).unwrap().write_all(b"this is not a pcap file at all").unwrap();
        assert!(format!("{:#}", count_packets(&junk).unwrap_err()).contains("corrupt"));
        let arg = format!("net_pcap0,rx_pcap={}", junk.display());
        assert!(finite_inputs(&[arg]).is_err());
    }
}
