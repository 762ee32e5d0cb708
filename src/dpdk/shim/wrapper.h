/* The DPDK API handoff binds (see build.rs for the allowlist). */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_pdump.h>
#include <rte_log.h>
#include <rte_telemetry.h>
#include <rte_version.h>
#include "shim.h"
