//! Which worker a packet goes to: the NIC's RSS hash when the port gives
//! one, else a software hash of the 5-tuple (direction-independent with
//! `--symmetric`).

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::dpdk::Mbuf;

#[inline]
pub fn worker_for(m: &Mbuf, workers: usize, symmetric: bool) -> usize {
    let hash = if m.has_rss_hash() && !symmetric { m.rss_hash() } else { software_hash(m.data(), symmetric) };
    (hash as usize) % workers
}

/// FNV-1a over (addresses, protocol, ports); non-IP packets hash to 0.
pub fn software_hash(frame: &[u8], symmetric: bool) -> u32 {
    let Ok(p) = LaxSlicedPacket::from_ethernet(frame) else {
        return 0;
    };
    let mut h = Fnv::default();
    let (v4s, v4d, v6s, v6d);
    let (a, b): (&[u8], &[u8]) = match &p.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            v4s = ip.header().source();
            v4d = ip.header().destination();
            h.write(&[ip.header().protocol().0]);
            (&v4s, &v4d)
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            v6s = ip.header().source();
            v6d = ip.header().destination();
            h.write(&[ip.payload().ip_number.0]);
            (&v6s, &v6d)
        }
        None => return 0,
    };
    let (sp, dp) = match &p.transport {
        Some(TransportSlice::Tcp(t)) => (t.source_port(), t.destination_port()),
        Some(TransportSlice::Udp(u)) => (u.source_port(), u.destination_port()),
        _ => (0, 0),
    };
    let (a, b, sp, dp) = if symmetric && (a, sp) > (b, dp) { (b, a, dp, sp) } else { (a, b, sp, dp) };
    h.write(a);
    h.write(b);
    h.write(&sp.to_be_bytes());
    h.write(&dp.to_be_bytes());
    // FNV's low bits are weak (bit 0 is the parity of the input bytes), and
    // `hash % workers` uses them: mix every bit into every other first.
    fmix32(h.0)
}

/// MurmurHash3's finaliser.
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

struct Fnv(u32);
impl Default for Fnv {
    fn default() -> Self {
        Fnv(0x811c_9dc5)
    }
}
impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &x in bytes {
            self.0 ^= x as u32;
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64).udp(sp, dp);
        let mut v = Vec::new();
        b.write(&mut v, &[0u8; 10]).unwrap();
        v
    }

    #[test]
    fn symmetric_hash_matches_both_directions() {
        let ab = udp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53);
        let ba = udp([10, 0, 0, 2], [10, 0, 0, 1], 53, 1000);
        assert_eq!(software_hash(&ab, true), software_hash(&ba, true));
        assert_ne!(software_hash(&ab, false), software_hash(&ba, false));
    }

    /// Flows whose two addresses and ports differ in the same bits: every
    /// one hashes to the same parity without a finaliser.
    #[test]
    fn mirrored_flows_spread_over_two_workers() {
        let workers: std::collections::HashSet<u32> = (0..20u8)
            .map(|f| software_hash(&udp([10, 0, 0, f], [10, 1, 0, f], 1000 + f as u16, 2000 + f as u16), true) % 2)
            .collect();
        assert_eq!(workers.len(), 2);
    }

    #[test]
    fn flows_spread_and_garbage_is_safe() {
        let hashes: std::collections::HashSet<u32> =
            (0..64u16).map(|p| software_hash(&udp([10, 0, 0, 1], [10, 0, 0, 2], p, 53), false) % 4).collect();
        assert_eq!(hashes.len(), 4);
        for len in 0..64 {
            let _ = software_hash(&vec![0xab; len], true);
        }
    }
}
