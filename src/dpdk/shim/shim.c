#include <rte_errno.h>
#include "shim.h"

int handoff_rte_errno(void) { return rte_errno; }
void *handoff_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }
