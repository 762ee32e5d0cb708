/* rte_lcore_cpuset exists only with _GNU_SOURCE (RTE_HAS_CPUSET). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <rte_lcore.h>
#include <rte_errno.h>
#include <string.h>
#include "shim.h"

int handoff_rte_errno(void) { return rte_errno; }
void *handoff_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }

struct rte_mbuf *handoff_frame_alloc(struct rte_mempool *mp, const uint8_t *bytes, uint16_t len, uint16_t port)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	if (m == NULL)
		return NULL;
	char *data = rte_pktmbuf_append(m, len);
	if (data == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(data, bytes, len);
	m->port = port;
	return m;
}

unsigned int handoff_lcore_cpus(unsigned int lcore_id, uint64_t *bits, unsigned int words)
{
	rte_cpuset_t set = rte_lcore_cpuset(lcore_id);
	for (unsigned int cpu = 0; cpu < CPU_SETSIZE && cpu / 64 < words; cpu++)
		if (CPU_ISSET(cpu, &set))
			bits[cpu / 64] |= UINT64_C(1) << (cpu % 64);
	return (unsigned int)CPU_COUNT(&set);
}
