/* What bindgen cannot see: DPDK macros that Rust needs as functions. */
#ifndef HANDOFF_SHIM_H
#define HANDOFF_SHIM_H
#include <rte_mbuf.h>

int handoff_rte_errno(void);
void *handoff_pktmbuf_mtod(struct rte_mbuf *m);

#endif
