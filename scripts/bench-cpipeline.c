/* The C reference pipeline for scripts/bench.sh: handoff's design written
 * plainly against DPDK, so bench.sh can show handoff / C beside
 * handoff / testpmd. An rx lcore polls every port's queue 0 and enqueues
 * the mbuf pointers on an SP/SC rte_ring (what the ring refuses is freed
 * and counted: drop on congestion, as handoff does for live inputs); a
 * worker lcore dequeues a burst and frees it with rte_pktmbuf_free_bulk
 * (drop) or sends it with rte_eth_tx_burst on the tx port, freeing the
 * unsent tail (fwd). The main lcore sleeps for the run and prints one JSON
 * line. Same defaults as handoff: burst 32, ring 4096, 1024 descriptors,
 * per-lcore mempool cache 256, MBUF_FAST_FREE where the port offers it.
 *
 * usage: bench-cpipeline EAL_ARGS -- drop|fwd SECONDS [TX_PORT]
 * lcores: the first worker lcore is rx, the second the worker.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define BURST 32
#define RING_SIZE 4096
#define DESC 1024
#define NB_MBUFS 16384
#define CACHE 256

static volatile int quit, rx_done;
static struct rte_ring *ring;
static int fwd;
static uint16_t tx_port;
static uint64_t rx_count, ring_drops, out_count, tx_drops;

static int rx_loop(void *arg) {
    struct rte_mbuf *b[BURST];
    uint16_t nb_ports = rte_eth_dev_count_avail();
    uint64_t rx = 0, drops = 0;
    (void)arg;
    while (!quit) {
        for (uint16_t p = 0; p < nb_ports; p++) {
            uint16_t n = rte_eth_rx_burst(p, 0, b, BURST);
            if (n == 0)
                continue;
            rx += n;
            unsigned int q = rte_ring_enqueue_burst(ring, (void **)b, n, NULL);
            if (q < n) {
                drops += n - q;
                rte_pktmbuf_free_bulk(&b[q], n - q);
            }
        }
    }
    rx_count = rx;
    ring_drops = drops;
    rte_smp_wmb();
    rx_done = 1;
    return 0;
}

static int worker_loop(void *arg) {
    struct rte_mbuf *b[BURST];
    uint64_t out = 0, lost = 0;
    (void)arg;
    /* Drain what is left in the ring after the stop, so every mbuf is counted. */
    for (;;) {
        unsigned int n = rte_ring_dequeue_burst(ring, (void **)b, BURST, NULL);
        if (n == 0) {
            if (rx_done && rte_ring_empty(ring))
                break;
            continue;
        }
        if (fwd) {
            uint16_t s = rte_eth_tx_burst(tx_port, 0, b, n);
            out += s;
            if (s < n) {
                lost += n - s;
                rte_pktmbuf_free_bulk(&b[s], n - s);
            }
        } else {
            rte_pktmbuf_free_bulk(b, n);
            out += n;
        }
    }
    out_count = out;
    tx_drops = lost;
    return 0;
}

static void port_setup(uint16_t p, struct rte_mempool *pool) {
    struct rte_eth_conf conf;
    struct rte_eth_dev_info info;
    struct rte_eth_txconf txc;
    uint16_t rxd = DESC, txd = DESC;
    memset(&conf, 0, sizeof conf);
    if (rte_eth_dev_info_get(p, &info) != 0)
        rte_exit(EXIT_FAILURE, "port %u: no device info\n", p);
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    if (rte_eth_dev_configure(p, 1, 1, &conf) != 0 || rte_eth_dev_adjust_nb_rx_tx_desc(p, &rxd, &txd) != 0)
        rte_exit(EXIT_FAILURE, "port %u: configure failed\n", p);
    txc = info.default_txconf;
    txc.offloads = conf.txmode.offloads;
    if (rte_eth_rx_queue_setup(p, 0, rxd, rte_eth_dev_socket_id(p), NULL, pool) != 0 ||
        rte_eth_tx_queue_setup(p, 0, txd, rte_eth_dev_socket_id(p), &txc) != 0 || rte_eth_dev_start(p) != 0)
        rte_exit(EXIT_FAILURE, "port %u: queue setup or start failed\n", p);
}

int main(int argc, char **argv) {
    int used = rte_eal_init(argc, argv);
    if (used < 0)
        rte_exit(EXIT_FAILURE, "EAL init failed\n");
    argc -= used;
    argv += used;
    if (argc < 3 || (strcmp(argv[1], "drop") && strcmp(argv[1], "fwd")))
        rte_exit(EXIT_FAILURE, "usage: EAL_ARGS -- drop|fwd SECONDS [TX_PORT]\n");
    fwd = !strcmp(argv[1], "fwd");
    double seconds = atof(argv[2]);
    tx_port = argc > 3 ? (uint16_t)atoi(argv[3]) : 1;

    unsigned int rx_lcore = rte_get_next_lcore(-1, 1, 0);
    unsigned int wk_lcore = rte_get_next_lcore(rx_lcore, 1, 0);
    if (rx_lcore >= RTE_MAX_LCORE || wk_lcore >= RTE_MAX_LCORE)
        rte_exit(EXIT_FAILURE, "needs two worker lcores\n");
    struct rte_mempool *pool =
        rte_pktmbuf_pool_create("cref", NB_MBUFS, CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_lcore_to_socket_id(rx_lcore));
    ring = rte_ring_create("cref", RING_SIZE, rte_lcore_to_socket_id(rx_lcore), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!pool || !ring)
        rte_exit(EXIT_FAILURE, "no pool or ring\n");
    uint16_t p;
    RTE_ETH_FOREACH_DEV(p) port_setup(p, pool);
    if (fwd && !rte_eth_dev_is_valid_port(tx_port))
        rte_exit(EXIT_FAILURE, "no tx port %u\n", tx_port);

    struct timespec a, z, d = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    rte_eal_remote_launch(worker_loop, NULL, wk_lcore);
    rte_eal_remote_launch(rx_loop, NULL, rx_lcore);
    clock_gettime(CLOCK_MONOTONIC, &a);
    nanosleep(&d, NULL);
    quit = 1;
    clock_gettime(CLOCK_MONOTONIC, &z);
    rte_eal_wait_lcore(rx_lcore);
    rte_eal_wait_lcore(wk_lcore);
    RTE_ETH_FOREACH_DEV(p) {
        rte_eth_dev_stop(p);
        rte_eth_dev_close(p);
    }
    printf("{\"seconds\": %.6f, \"received\": %" PRIu64 ", \"out\": %" PRIu64 ", \"ring_drops\": %" PRIu64
           ", \"tx_drops\": %" PRIu64 "}\n",
           (z.tv_sec - a.tv_sec) + (z.tv_nsec - a.tv_nsec) / 1e9, rx_count, out_count, ring_drops, tx_drops);
    rte_eal_cleanup();
    return 0;
}
