//! The safe wrapper over DPDK: the only module with `unsafe`. The rest of
//! the program uses Eal, Buffers (mempools + index table), Mbuf and Burst,
//! Port and its queues, the handoff Ring, and lcore launch; `netdev` asks
//! the kernel an interface's MTU (af_packet's frame size follows it).

mod sys;

pub mod eal;
pub mod error;
pub mod lcore;
pub mod mbuf;
pub mod mempool;
pub mod netdev;
pub mod port;
pub mod ring;
pub mod runtime_files;
pub mod telemetry;
pub mod version;

pub use eal::{rdtsc, Eal};
pub use error::DpdkError;
pub use lcore::{launch, LcoreEnd, LcoreJob};
pub use mbuf::{Burst, Mbuf, HEADROOM, MAX_BURST};
pub use mempool::Buffers;
pub use port::{Port, PortConfig, PortInfo, PortStats, RxQueue, TxQueue};
pub use ring::{classify_for_handoff, handoff_ring, RingConsumer, RingProducer};

/// Lcore ids this DPDK build has (RTE_MAX_LCORE).
pub const MAX_LCORE: u32 = sys::RTE_MAX_LCORE;
/// Ports this DPDK build has room for (RTE_MAX_ETHPORTS).
pub const MAX_ETHPORTS: u32 = sys::RTE_MAX_ETHPORTS;
