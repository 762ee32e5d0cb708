//! The packet tracer: raw records filled on the fast path (`record`), text
//! made on thread 0 (`format`, with the header decode in `decode`).

pub mod decode;
pub mod filter;
pub mod format;
pub mod record;
