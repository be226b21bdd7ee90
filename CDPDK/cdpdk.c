#include "cdpdk.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <rte_bus.h>
#include <rte_dev.h>

volatile int cdpdk_stop_requested = 0;
volatile int cdpdk_reload_requested = 0;

static void cdpdk_on_signal(int sig) {
    if (sig == SIGHUP)
        __atomic_store_n(&cdpdk_reload_requested, 1, __ATOMIC_RELAXED);
    else
        __atomic_store_n(&cdpdk_stop_requested, 1, __ATOMIC_RELAXED);
}

void cdpdk_stdout_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

void cdpdk_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cdpdk_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    // A parent may have started us with these blocked (test runners do): unblock them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int cdpdk_eal_init(int argc, char **argv) {
    return rte_eal_init(argc, argv);
}

struct rte_mempool *cdpdk_pktmbuf_pool_create(const char *name, unsigned n, unsigned cache_size, uint16_t data_room, int socket) {
    return rte_pktmbuf_pool_create(name, n, cache_size, 0, data_room, socket);
}

static int cdpdk_fail(char *err, size_t err_len, int rc, const char *what, const char *devargs) {
    snprintf(err, err_len, "%s for '%s': %s", what, devargs, rte_strerror(rc < 0 ? -rc : rc));
    return rc < 0 ? rc : -rc;
}

/// Finds the ethdev that `devargs` names (after probing it if needed).
static int cdpdk_find_port(const char *devargs, uint16_t *port_id) {
    struct rte_dev_iterator it;
    uint16_t id;
    RTE_ETH_FOREACH_MATCHING_DEV(id, devargs, &it) {
        *port_id = id;
        rte_eth_iterator_cleanup(&it);
        return 0;
    }
    return -ENODEV;
}

static int cdpdk_port_setup(uint16_t port, const char *devargs, uint16_t nb_rx, uint16_t nb_tx, uint16_t nb_rxd, uint16_t nb_txd,
                            struct rte_mempool *pool, struct cdpdk_port_info *info, char *err, size_t err_len);

int cdpdk_port_open(const char *devargs, uint16_t nb_rx, uint16_t nb_tx, uint16_t nb_rxd, uint16_t nb_txd,
                    struct rte_mempool *pool, struct cdpdk_port_info *info, char *err, size_t err_len) {
    uint16_t port;
    bool probed = false;
    int rc = cdpdk_find_port(devargs, &port);
    if (rc != 0) {
        rc = rte_dev_probe(devargs);
        if (rc < 0 && rc != -EEXIST)
            return cdpdk_fail(err, err_len, rc, "probing the device failed", devargs);
        if (cdpdk_find_port(devargs, &port) != 0)
            return cdpdk_fail(err, err_len, -ENODEV, "no ethernet port matches the devargs", devargs);
        probed = true;
    }
    rc = cdpdk_port_setup(port, devargs, nb_rx, nb_tx, nb_rxd, nb_txd, pool, info, err, err_len);
    // A device probed here and not usable is removed again, so the devargs can be retried.
    if (rc != 0 && probed) cdpdk_port_close(port);
    return rc;
}

static int cdpdk_port_setup(uint16_t port, const char *devargs, uint16_t nb_rx, uint16_t nb_tx, uint16_t nb_rxd, uint16_t nb_txd,
                            struct rte_mempool *pool, struct cdpdk_port_info *info, char *err, size_t err_len) {
    int rc;
    struct rte_eth_dev_info dev_info;
    rc = rte_eth_dev_info_get(port, &dev_info);
    if (rc != 0)
        return cdpdk_fail(err, err_len, rc, "reading device info failed", devargs);
    if (nb_rx > dev_info.max_rx_queues) nb_rx = dev_info.max_rx_queues;
    if (nb_tx > dev_info.max_tx_queues) {
        snprintf(err, err_len, "port '%s' (driver %s) has %u tx queues at most, %u are needed (one per worker)",
                 devargs, dev_info.driver_name, dev_info.max_tx_queues, nb_tx);
        return -EINVAL;
    }

    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    // Several workers need RSS to spread a port's traffic; without it the port
    // keeps one rx queue (polled by the first worker), so that both directions of a
    // connection still meet the same worker's connection table.
    uint64_t rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP) & dev_info.flow_type_rss_offloads;
    bool rss = nb_rx > 1 && rss_hf != 0;
    if (!rss) nb_rx = 1;
    // A symmetric Toeplitz key (0x6d5a repeated) hashes (a,b) and (b,a) alike:
    // both directions of a flow land on the same queue index, i.e. the same worker.
    static uint8_t symmetric_key[64];
    if (rss) {
        uint8_t key_len = dev_info.hash_key_size ? dev_info.hash_key_size : 40;
        if (key_len > sizeof(symmetric_key)) key_len = sizeof(symmetric_key);
        for (unsigned i = 0; i < key_len; i++) symmetric_key[i] = (i % 2) ? 0x5a : 0x6d;
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        conf.rx_adv_conf.rss_conf.rss_key = symmetric_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = key_len;
    }
    // No RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE: flooding shares one mbuf between ports.

    rc = rte_eth_dev_configure(port, nb_rx, nb_tx, &conf);
    if (rc != 0)
        return cdpdk_fail(err, err_len, rc, "configuring the port failed", devargs);
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
    if (rc != 0)
        return cdpdk_fail(err, err_len, rc, "adjusting descriptor counts failed", devargs);
    int socket = rte_eth_dev_socket_id(port);
    if (socket < 0) socket = (int)rte_socket_id();
    for (uint16_t q = 0; q < nb_rx; q++) {
        rc = rte_eth_rx_queue_setup(port, q, nb_rxd, (unsigned)socket, NULL, pool);
        if (rc != 0)
            return cdpdk_fail(err, err_len, rc, "setting up an rx queue failed", devargs);
    }
    for (uint16_t q = 0; q < nb_tx; q++) {
        rc = rte_eth_tx_queue_setup(port, q, nb_txd, (unsigned)socket, NULL);
        if (rc != 0)
            return cdpdk_fail(err, err_len, rc, "setting up a tx queue failed", devargs);
    }
    rte_eth_promiscuous_enable(port); // not every PMD has it; forwarding needs it where it exists
    rc = rte_eth_dev_start(port);
    if (rc != 0)
        return cdpdk_fail(err, err_len, rc, "starting the port failed", devargs);

    memset(info, 0, sizeof(*info));
    info->port_id = port;
    info->nb_rx_queues = nb_rx;
    info->nb_tx_queues = nb_tx;
    info->max_rx_queues = dev_info.max_rx_queues;
    info->max_tx_queues = dev_info.max_tx_queues;
    info->rss = rss;
    snprintf(info->driver, sizeof(info->driver), "%s", dev_info.driver_name);
    struct rte_ether_addr mac;
    if (rte_eth_macaddr_get(port, &mac) == 0)
        memcpy(info->mac, mac.addr_bytes, 6);
    return 0;
}

void cdpdk_port_close(uint16_t port_id) {
    struct rte_eth_dev_info dev_info;
    struct rte_device *dev = NULL;
    if (rte_eth_dev_info_get(port_id, &dev_info) == 0)
        dev = dev_info.device;
    rte_eth_dev_stop(port_id);
    rte_eth_dev_close(port_id);
    if (dev != NULL)
        rte_dev_remove(dev);
}

int cdpdk_port_stats(uint16_t port_id, struct cdpdk_port_stats *out) {
    struct rte_eth_stats s;
    int rc = rte_eth_stats_get(port_id, &s);
    if (rc != 0) return rc;
    out->ipackets = s.ipackets; out->opackets = s.opackets;
    out->ibytes = s.ibytes; out->obytes = s.obytes;
    out->imissed = s.imissed; out->ierrors = s.ierrors; out->oerrors = s.oerrors;
    out->rx_nombuf = s.rx_nombuf;
    return 0;
}

struct rte_eth_dev_tx_buffer *cdpdk_tx_buffer_create(uint16_t size, int socket, uint64_t *refused) {
    struct rte_eth_dev_tx_buffer *buf = rte_zmalloc_socket("gbp_tx_buffer", RTE_ETH_TX_BUFFER_SIZE(size), RTE_CACHE_LINE_SIZE, socket);
    if (buf == NULL) return NULL;
    rte_eth_tx_buffer_init(buf, size);
    rte_eth_tx_buffer_set_err_callback(buf, rte_eth_tx_buffer_count_callback, refused);
    return buf;
}

struct rte_rcu_qsbr *cdpdk_rcu_create(unsigned workers) {
    size_t size = rte_rcu_qsbr_get_memsize(workers);
    struct rte_rcu_qsbr *v = rte_zmalloc("gbp_rcu", size, RTE_CACHE_LINE_SIZE);
    if (v == NULL) return NULL;
    if (rte_rcu_qsbr_init(v, workers) != 0) { rte_free(v); return NULL; }
    return v;
}
