//! mac-rewrite: sets the Ethernet addresses of frames about to leave, so a
//! traffic generator in a loop gets its frames back with the right MACs.
//! `--mac-swap` swaps source and destination (testpmd's `macswap` mode);
//! `--eth-peer PORT,MAC` sends frames leaving PORT to MAC from PORT's own
//! address (testpmd's `mac` mode, l2fwd's MAC updating). Only the first 12
//! bytes of each frame are touched (its first cache line). Not in the worker
//! chain unless one of the flags is given. Trace:
//! `MAC-REWRITE: <src> -> <dst> becomes <src> -> <dst>`.

use std::fmt::Write as _;

use crate::trace::text::FormatContext;

use super::counters::MAX_PAIR_PORTS;
use super::frame::Frame;
use super::{Node, Record, TraceText};

/// Ethernet addresses as a frame starts: destination, then source.
pub type EthAddrs = [u8; 12];

/// The addresses before and after the rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub old: EthAddrs,
    pub new: EthAddrs,
}

fn push_mac(out: &mut String, mac: &[u8]) {
    for (i, b) in mac.iter().enumerate() {
        let _ = write!(out, "{}{b:02x}", if i == 0 { "" } else { ":" });
    }
}

impl TraceText for Trace {
    fn push_text(&self, out: &mut String, _: &FormatContext) {
        out.push_str("MAC-REWRITE: ");
        push_mac(out, &self.old[6..]);
        out.push_str(" -> ");
        push_mac(out, &self.old[..6]);
        out.push_str(" becomes ");
        push_mac(out, &self.new[6..]);
        out.push_str(" -> ");
        push_mac(out, &self.new[..6]);
    }
}

/// What a frame leaving one port gets (`--eth-peer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerRewrite {
    /// The port's own address.
    pub src: [u8; 6],
    /// The peer's.
    pub dst: [u8; 6],
}

/// How the addresses change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacMode {
    /// `--mac-swap`.
    Swap,
    /// `--eth-peer`: per tx port id, its rewrite (ports without a peer keep theirs).
    Peers(Vec<Option<PeerRewrite>>),
}

/// The port a packet leaves by, from the worker's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxPorts {
    /// `--output PORT`.
    One(u16),
    /// Port pairs: per rx port id, its partner.
    ByRx(Vec<Option<u16>>),
    /// Dropped packets leave by no port.
    None,
}

/// mac-rewrite's state on one worker, built at launch.
pub struct MacRewrite {
    mode: MacMode,
    tx: TxPorts,
}

impl MacRewrite {
    pub fn new(mode: MacMode, tx: TxPorts) -> MacRewrite {
        let mode = match mode {
            MacMode::Peers(mut by_tx) => {
                by_tx.resize(MAX_PAIR_PORTS, None);
                MacMode::Peers(by_tx)
            }
            swap => swap,
        };
        MacRewrite { mode, tx }
    }

    /// The addresses a frame received on `rx_port` leaves with; None when
    /// they stay as they are.
    #[inline(always)]
    fn rewritten(&self, rx_port: u16, old: &EthAddrs) -> Option<EthAddrs> {
        match &self.mode {
            MacMode::Swap => Some(swapped(old)),
            MacMode::Peers(by_tx) => {
                let tx = match &self.tx {
                    TxPorts::One(p) => *p,
                    TxPorts::ByRx(by_rx) => (*by_rx.get(usize::from(rx_port))?)?,
                    TxPorts::None => return None,
                };
                let p = (*by_tx.get(usize::from(tx))?)?;
                let mut new = [0; 12];
                new[..6].copy_from_slice(&p.dst);
                new[6..].copy_from_slice(&p.src);
                Some(new)
            }
        }
    }

    /// mac-rewrite on the frame's burst.
    #[inline]
    pub fn process(&mut self, f: &mut Frame) {
        f.run(Node::MacRewrite, |f| self.rewrite(f));
    }

    #[inline(always)]
    fn rewrite(&self, f: &mut Frame) {
        if !f.traced.is_empty() {
            self.trace(f);
        }
        match &self.mode {
            // One loop per mode: no per-packet branch on it.
            MacMode::Swap => {
                for m in f.burst.as_mut_slice() {
                    if let Some(a) = m.eth_addrs_mut() {
                        *a = swapped(a);
                    }
                }
            }
            MacMode::Peers(_) => {
                for m in f.burst.as_mut_slice() {
                    let rx = m.port();
                    if let Some(a) = m.eth_addrs_mut() {
                        if let Some(new) = self.rewritten(rx, a) {
                            *a = new;
                        }
                    }
                }
            }
        }
    }

    /// The traced packets' records: their addresses before and after.
    #[cold]
    fn trace(&self, f: &mut Frame) {
        f.trace_each(Node::MacRewrite, |m| {
            let mut old = [0; 12];
            if let Some(d) = m.data().get(..12) {
                old.copy_from_slice(d);
            }
            let new = self.rewritten(m.port(), &old).unwrap_or(old);
            Record::MacRewrite(Trace { old, new })
        });
    }
}

#[inline(always)]
fn swapped(a: &EthAddrs) -> EthAddrs {
    let mut s = [0; 12];
    s[..6].copy_from_slice(&a[6..]);
    s[6..].copy_from_slice(&a[..6]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(dst: u8, src: u8) -> EthAddrs {
        [2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src]
    }

    #[test]
    fn swap_and_peers_rewrite_as_testpmd_does() {
        let swap = MacRewrite::new(MacMode::Swap, TxPorts::None);
        assert_eq!(swap.rewritten(0, &addrs(1, 2)), Some(addrs(2, 1)));
        let peer = PeerRewrite { src: [2, 0, 0, 0, 0, 0xaa], dst: [2, 0, 0, 0, 0, 0xbb] };
        let mut by_tx = vec![None; 2];
        by_tx[1] = Some(peer);
        let one = MacRewrite::new(MacMode::Peers(by_tx.clone()), TxPorts::One(1));
        assert_eq!(one.rewritten(0, &addrs(1, 2)), Some(addrs(0xbb, 0xaa)));
        let pairs = MacRewrite::new(MacMode::Peers(by_tx), TxPorts::ByRx(vec![Some(1), Some(0)]));
        assert_eq!(pairs.rewritten(0, &addrs(1, 2)), Some(addrs(0xbb, 0xaa)));
        // Port 1's frames leave by port 0, which has no peer; port 7 has no partner.
        assert_eq!(pairs.rewritten(1, &addrs(1, 2)), None);
        assert_eq!(pairs.rewritten(7, &addrs(1, 2)), None);
    }

    #[test]
    fn record_reads_src_then_dst() {
        let t = Trace { old: addrs(1, 2), new: addrs(2, 1) };
        let mut out = String::new();
        let names: Vec<String> = Vec::new();
        let ctx = FormatContext { tsc_hz: 1, start_tsc: 0, port_names: &names, dynflags: &[] };
        t.push_text(&mut out, &ctx);
        assert_eq!(
            out,
            "MAC-REWRITE: 02:00:00:00:00:02 -> 02:00:00:00:00:01 becomes 02:00:00:00:00:01 -> 02:00:00:00:00:02"
        );
    }
}
