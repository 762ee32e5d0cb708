//! `--trace-filter`: a pcap-filter expression (`udp port 53`) compiled by
//! libpcap to BPF, run on each candidate packet while tracing is armed.

use anyhow::{anyhow, Result};

/// Compiles `expr` for Ethernet frames; the error is libpcap's own message.
pub fn compile(expr: &str) -> Result<pcap::BpfProgram> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| anyhow!("libpcap: {e}"))?;
    dead.compile(expr, true).map_err(|e| anyhow!("bad --trace-filter '{expr}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp(dport: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, dport)
            .write(&mut v, &[0; 8])
            .unwrap();
        v
    }

    #[test]
    fn matches_like_tcpdump() {
        let f = compile("udp port 53").unwrap();
        assert!(f.filter(&udp(53)));
        assert!(!f.filter(&udp(54)));
        assert!(!f.filter(&[0u8; 20]));
        assert!(!f.filter(&[]));
    }

    #[test]
    fn bad_expressions_say_why() {
        let e = compile("udp prot 53").err().expect("a syntax error").to_string();
        assert!(e.contains("bad --trace-filter 'udp prot 53'"), "{e}");
    }
}
