//! The run's threads, numbered once, as VPP numbers them: thread 0 is the
//! control thread, the rx lcores are threads 1..=N, the workers follow.
//! Reports, the pcapng writer and telemetry iterate this; none recomputes it.

use crate::ids::{Lcore, ThreadId};
use crate::nodes::Node;

/// What a data-path thread does, and its index among its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// dpdk-input + handoffdemo-1; produces into one ring per worker.
    Rx { index: usize },
    /// handoffdemo-2 and what follows; consumes one ring per rx lcore.
    Worker { index: usize },
}

/// One handoff ring: from rx lcore `rx` to worker `worker` (SP/SC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingId {
    pub rx: usize,
    pub worker: usize,
}

impl RingId {
    pub fn name(self) -> String {
        format!("handoff_{}_{}", self.rx, self.worker)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub id: ThreadId,
    pub lcore: Lcore,
    pub role: Role,
    /// The rings it produces into (rx) or consumes from (worker), in order.
    pub rings: Vec<RingId>,
    /// The nodes it runs, in order: the rx loop's, or the worker's chain's
    /// (known once the chain is built, see `with_worker_nodes`).
    nodes: Vec<Node>,
}

impl Thread {
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn name(&self) -> String {
        thread_name(self.id)
    }
}

/// VPP's thread names: `main`, then `handoff_wk_0`, `handoff_wk_1`, ...
pub fn thread_name(id: ThreadId) -> String {
    match id.0 {
        0 => "main".into(),
        n => format!("handoff_wk_{}", n - 1),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    threads: Vec<Thread>,
    rx_count: usize,
}

impl Topology {
    pub fn new(rx_lcores: &[u32], worker_lcores: &[u32]) -> Topology {
        let (n_rx, n_wk) = (rx_lcores.len(), worker_lcores.len());
        let rx = rx_lcores.iter().enumerate().map(|(r, &l)| Thread {
            id: ThreadId(r as u32 + 1),
            lcore: Lcore(l),
            role: Role::Rx { index: r },
            rings: (0..n_wk).map(|w| RingId { rx: r, worker: w }).collect(),
            nodes: super::rx::NODES.to_vec(),
        });
        let workers = worker_lcores.iter().enumerate().map(|(w, &l)| Thread {
            id: ThreadId((n_rx + w) as u32 + 1),
            lcore: Lcore(l),
            role: Role::Worker { index: w },
            rings: (0..n_rx).map(|r| RingId { rx: r, worker: w }).collect(),
            nodes: vec![Node::HandoffDemo2],
        });
        Topology { threads: rx.chain(workers).collect(), rx_count: n_rx }
    }

    /// The workers' nodes, as their chain (built at launch) lists them.
    pub fn with_worker_nodes(mut self, nodes: &[Node]) -> Topology {
        for t in &mut self.threads[self.rx_count..] {
            t.nodes = nodes.to_vec();
        }
        self
    }

    /// Every data-path thread once, in thread-number order.
    pub fn threads(&self) -> &[Thread] {
        &self.threads
    }

    pub fn rx(&self) -> &[Thread] {
        &self.threads[..self.rx_count]
    }

    pub fn workers(&self) -> &[Thread] {
        &self.threads[self.rx_count..]
    }

    /// Every ring once, rx-major.
    pub fn rings(&self) -> impl Iterator<Item = RingId> + '_ {
        self.rx().iter().flat_map(|t| t.rings.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_numbered_once_rx_first() {
        let t = Topology::new(&[0, 1], &[2, 3, 4]);
        let ids: Vec<(u32, u32)> = t.threads().iter().map(|t| (t.id.0, t.lcore.0)).collect();
        assert_eq!(ids, [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]);
        assert_eq!(t.workers()[1].role, Role::Worker { index: 1 });
        assert_eq!(t.workers()[1].rings, [RingId { rx: 0, worker: 1 }, RingId { rx: 1, worker: 1 }]);
        assert_eq!(t.rings().count(), 6);
        assert_eq!(t.threads()[2].name(), "handoff_wk_2");
        assert_eq!(thread_name(ThreadId(0)), "main");
    }
}
