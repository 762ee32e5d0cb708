/* What bindgen cannot see: DPDK macros that Rust needs as functions. */
#ifndef HANDOFF_SHIM_H
#define HANDOFF_SHIM_H
#include <rte_mbuf.h>

int handoff_rte_errno(void);
void *handoff_pktmbuf_mtod(struct rte_mbuf *m);
/* A fresh mbuf of `mp` holding `len` bytes copied from `bytes`, received on
 * `port` (tests and generators); NULL when the pool is empty or it does not fit. */
struct rte_mbuf *handoff_frame_alloc(struct rte_mempool *mp, const uint8_t *bytes, uint16_t len, uint16_t port);
/* The CPUs lcore `lcore_id` may run on, as bits (CPU n: bit n % 64 of
 * bits[n / 64], for words * 64 CPUs); returns how many CPUs the set has. */
unsigned int handoff_lcore_cpus(unsigned int lcore_id, uint64_t *bits, unsigned int words);

#endif
