// CDPDK: the C surface of DPDK 22.11 that the Swift modules use.
//
// DPDK's hot-path API is static inline or macros, which Swift cannot call; the
// `cdpdk_*` shims below are static inline too, so Swift inlines them into the
// worker loop. Control-path helpers live in cdpdk.c. Every symbol is prefixed.
#ifndef CDPDK_H
#define CDPDK_H

#include <stdint.h>
#include <stdbool.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include "cdpdk_telemetry.h"

// MARK: - Burst I/O

static inline uint16_t cdpdk_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) {
    return rte_eth_rx_burst(port, queue, pkts, n);
}

static inline uint16_t cdpdk_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) {
    return rte_eth_tx_burst(port, queue, pkts, n);
}

/// Buffers one packet for `port`/`queue`; sends the buffer when it is full.
static inline uint16_t cdpdk_tx_buffer(uint16_t port, uint16_t queue, struct rte_eth_dev_tx_buffer *buf, struct rte_mbuf *m) {
    return rte_eth_tx_buffer(port, queue, buf, m);
}

static inline uint16_t cdpdk_tx_buffer_flush(uint16_t port, uint16_t queue, struct rte_eth_dev_tx_buffer *buf) {
    return rte_eth_tx_buffer_flush(port, queue, buf);
}

/// Packets waiting in a tx buffer.
static inline uint16_t cdpdk_tx_buffer_length(const struct rte_eth_dev_tx_buffer *buf) {
    return buf->length;
}

// MARK: - mbuf accessors (struct rte_mbuf does not import into Swift)

static inline void *cdpdk_mbuf_data(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }
static inline uint16_t cdpdk_mbuf_data_len(const struct rte_mbuf *m) { return m->data_len; }
static inline uint32_t cdpdk_mbuf_pkt_len(const struct rte_mbuf *m) { return m->pkt_len; }
static inline uint16_t cdpdk_mbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
static inline uint16_t cdpdk_mbuf_port(const struct rte_mbuf *m) { return m->port; }
static inline uint32_t cdpdk_mbuf_rss_hash(const struct rte_mbuf *m) { return m->hash.rss; }
static inline uint32_t cdpdk_mbuf_packet_type(const struct rte_mbuf *m) { return m->packet_type; }
static inline uint64_t cdpdk_mbuf_ol_flags(const struct rte_mbuf *m) { return m->ol_flags; }
static inline void cdpdk_mbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
static inline void cdpdk_mbuf_free_bulk(struct rte_mbuf **ms, unsigned int n) { rte_pktmbuf_free_bulk(ms, n); }
/// Adds `delta` references, so one mbuf can be sent on several ports (flooding).
static inline void cdpdk_mbuf_refcnt_update(struct rte_mbuf *m, int16_t delta) { rte_mbuf_refcnt_update(m, delta); }
static inline void cdpdk_prefetch0(const void *p) { rte_prefetch0(p); }
static inline struct rte_mbuf *cdpdk_mbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
/// Appends `len` bytes to a fresh mbuf and returns where to write them (NULL if it does not fit).
static inline void *cdpdk_mbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }

/// Sets the length of a one-segment mbuf (growing into its tailroom); -1 if it does not fit.
static inline int cdpdk_mbuf_set_length(struct rte_mbuf *m, uint16_t len) {
    if (m->nb_segs != 1 || len > m->buf_len - m->data_off) return -1;
    m->data_len = len;
    m->pkt_len = len;
    return 0;
}

// MARK: - lcores, time, errors

static inline unsigned cdpdk_lcore_id(void) { return rte_lcore_id(); }
static inline unsigned cdpdk_socket_id(void) { return rte_socket_id(); }
static inline uint64_t cdpdk_tsc(void) { return rte_get_tsc_cycles(); }
static inline uint64_t cdpdk_tsc_hz(void) { return rte_get_tsc_hz(); }
static inline int cdpdk_errno(void) { return rte_errno; }
static inline void cdpdk_pause(void) { rte_pause(); }

// MARK: - Publishing state to workers

/// Acquire-load of a pointer that the control thread publishes to workers.
static inline void *cdpdk_load_acquire_ptr(void *const *slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }
/// Release-store of a pointer published to workers.
static inline void cdpdk_store_release_ptr(void **slot, void *value) { __atomic_store_n(slot, value, __ATOMIC_RELEASE); }

// MARK: - RCU (quiescent-state based): when may the control thread free old state?

/// A QSBR variable for `workers` reader threads (ids 0..<workers); NULL on failure.
struct rte_rcu_qsbr *cdpdk_rcu_create(unsigned workers);
/// Worker side: announce the thread, report quiescent states, leave.
static inline void cdpdk_rcu_online(struct rte_rcu_qsbr *v, unsigned id) {
    rte_rcu_qsbr_thread_register(v, id);
    rte_rcu_qsbr_thread_online(v, id);
}
static inline void cdpdk_rcu_quiescent(struct rte_rcu_qsbr *v, unsigned id) { rte_rcu_qsbr_quiescent(v, id); }
static inline void cdpdk_rcu_offline(struct rte_rcu_qsbr *v, unsigned id) {
    rte_rcu_qsbr_thread_offline(v, id);
    rte_rcu_qsbr_thread_unregister(v, id);
}
/// Control side: returns once every online worker has passed a quiescent state.
static inline void cdpdk_rcu_synchronize(struct rte_rcu_qsbr *v) { rte_rcu_qsbr_synchronize(v, RTE_QSBR_THRID_INVALID); }

/// 64-bit counters shared by one writer and one reader (capture rings).
static inline uint64_t cdpdk_load_acquire_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void cdpdk_store_release_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// MARK: - Stop and reload requests (set by signal handlers, read by every loop)

extern volatile int cdpdk_stop_requested;
extern volatile int cdpdk_reload_requested;

static inline bool cdpdk_should_stop(void) { return __atomic_load_n(&cdpdk_stop_requested, __ATOMIC_RELAXED) != 0; }
static inline void cdpdk_request_stop(void) { __atomic_store_n(&cdpdk_stop_requested, 1, __ATOMIC_RELAXED); }
/// Returns whether a reload (SIGHUP) was requested and clears the request.
static inline bool cdpdk_take_reload_request(void) { return __atomic_exchange_n(&cdpdk_reload_requested, 0, __ATOMIC_RELAXED) != 0; }

/// Makes stdout line-buffered, so stats and reload lines reach pipes and logs as they happen.
void cdpdk_stdout_line_buffered(void);

/// SIGINT and SIGTERM request a stop; SIGHUP requests a reload.
void cdpdk_install_signal_handlers(void);

// MARK: - Control path (cdpdk.c)

/// `rte_eal_init` over a NULL-terminated copy of argv; returns what it returns.
int cdpdk_eal_init(int argc, char **argv);

struct rte_mempool *cdpdk_pktmbuf_pool_create(const char *name, unsigned n, unsigned cache_size, uint16_t data_room, int socket);

/// What a port became after `cdpdk_port_open`.
struct cdpdk_port_info {
    uint16_t port_id;
    uint16_t nb_rx_queues;
    uint16_t nb_tx_queues;
    uint16_t max_rx_queues;
    uint16_t max_tx_queues;
    bool rss;
    char driver[64];
    uint8_t mac[6];
};

/// Probes `devargs` (a vdev such as `net_pcap0,rx_pcap=in.pcap` or a PCI address),
/// configures `nb_rx`/`nb_tx` queues (RSS when nb_rx > 1), sets them up on `pool`
/// and starts the port. On failure returns a negative errno and writes a message to `err`.
int cdpdk_port_open(const char *devargs, uint16_t nb_rx, uint16_t nb_tx, uint16_t nb_rxd, uint16_t nb_txd,
                    struct rte_mempool *pool, struct cdpdk_port_info *info, char *err, size_t err_len);

/// Stops and closes a port (and removes its device, so the name can be probed again).
void cdpdk_port_close(uint16_t port_id);

struct cdpdk_port_stats {
    uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
};
int cdpdk_port_stats(uint16_t port_id, struct cdpdk_port_stats *out);

/// A tx buffer for `size` packets on `socket`, whose refused packets are freed and
/// counted into `*refused`.
struct rte_eth_dev_tx_buffer *cdpdk_tx_buffer_create(uint16_t size, int socket, uint64_t *refused);

#endif
