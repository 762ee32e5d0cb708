//! The safe wrapper over DPDK: the only module with `unsafe`. The rest of
//! the program uses Eal, Buffers (mempools + index table), Mbuf and Burst,
//! Port and its queues, the handoff Ring, and lcore launch.

mod sys;

pub mod eal;
pub mod error;
pub mod lcore;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod ring;
pub mod telemetry;
pub mod version;

pub use eal::{rdtsc, Eal};
pub use error::DpdkError;
pub use lcore::{launch, LcoreJob};
pub use mbuf::{Burst, Mbuf, HEADROOM, MAX_BURST};
pub use mempool::Buffers;
pub use port::{Port, PortConfig, PortInfo, PortStats, RxQueue, TxQueue};
pub use ring::{handoff_ring, RingConsumer, RingProducer};
