/*
 * port: the one interface every kind of port implements (vhost-user, tap,
 * af_packet, afxdp), and the port table the datapath reads.
 *
 * A port has n_rxq receive queues, each polled by exactly one PMD thread (see
 * pmd.h), so rx_burst never needs a lock. Transmit is called with the PMD's
 * index as qid (0 ≤ qid < pmd count); a kind with fewer real tx queues than
 * PMDs maps qid onto its queues and serialises with a per-queue spinlock taken
 * once per burst — never per packet. Kinds whose transmit is thread-safe in
 * the kernel (tap, af_packet) need no lock.
 *
 * Thread-safety: create/close and the port table are control-thread only.
 * The table is published with RCU (QSBR): PMDs read it between quiescent
 * states; a deleted port is closed only after synchronize_rcu(). rx_burst,
 * tx_burst and rxq_notify run on PMD threads; stats and show run on the
 * control thread and read counters that PMDs write with relaxed stores.
 */
#ifndef XVIO_PORT_H
#define XVIO_PORT_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/core.h"
#include "../core/pkt.h"

#define PORT_MAX		256
#define PORT_MAX_QUEUES		16
#define PORT_NAME_MAX		32
#define PORT_ID_NONE		UINT16_MAX

/* Drops a port can take, listed once; kinds add their own named counters in
 * their stats op. */
#define PORT_DROP_REASONS(X) \
	X(TX_FULL,       "tx_queue_full")    /* peer's ring or socket had no room */ \
	X(TX_NOT_READY,  "tx_not_ready")     /* queue not enabled / guest not running */ \
	X(TX_TOO_BIG,    "tx_too_big")       /* frame larger than the peer's buffers */ \
	X(TX_ERROR,      "tx_error")         /* write failed */ \
	X(RX_NO_BUF,     "rx_no_pkt_buffer") /* packet pool empty */ \
	X(RX_TOO_BIG,    "rx_too_big")       /* frame over PKT_DATA_MAX */ \
	X(RX_BAD,        "rx_bad_desc")      /* malformed input from the peer */

enum port_drop {
#define X(e, s) PORT_DROP_##e,
	PORT_DROP_REASONS(X)
#undef X
	PORT_DROP_MAX
};

extern const char *const port_drop_names[PORT_DROP_MAX];

/*
 * Counters written by exactly one thread (the queue's owner) with relaxed
 * stores, read by the control thread with relaxed loads. No RMW atomics.
 */
struct port_qstats {
	alignas(CACHE_LINE) uint64_t packets;
	uint64_t bytes;
	uint64_t drops[PORT_DROP_MAX];
};

#define COUNTER_ADD(c, n) \
	__atomic_store_n(&(c), __atomic_load_n(&(c), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define COUNTER_READ(c) __atomic_load_n(&(c), __ATOMIC_RELAXED)

struct port_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t drops[PORT_DROP_MAX];
};

struct port;

struct port_ops {
	/* PMD: receive up to n packets from rx queue qid. */
	uint16_t (*rx_burst)(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n);
	/* PMD: send n packets; takes ownership of all of them (frees those it
	 * could not send, counting each in a drop reason). Returns sent. */
	uint16_t (*tx_burst)(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n);
	/* PMD: fd that becomes readable when rx queue qid has work, or -1 if
	 * the queue can only be polled. */
	int (*rxq_notify_fd)(struct port *port, uint16_t qid);
	/* PMD: enable (before sleeping) or disable (after waking) the rx
	 * notification of qid. Returns true if work is already pending, so
	 * the PMD must not sleep. May be NULL when rxq_notify_fd is level
	 * triggered by nature (sockets). */
	bool (*rxq_notify)(struct port *port, uint16_t qid, bool enable);
	/* Control: add kind-specific counters into st (named drops are
	 * already summed by port_stats_get) and extra named counters into
	 * `extra` (a JSON object name -> integer). */
	void (*stats)(struct port *port, struct port_stats *st, json_t *extra);
	/* Control: kind-specific state for `show` into obj (link, features,
	 * socket path, per-queue state). */
	void (*show)(struct port *port, json_t *obj);
	/* Control: is the link up (guest running, device up)? */
	bool (*link_up)(struct port *port);
	/* Control: release everything including the struct (port_free); called
	 * after no PMD can see the port any more. */
	void (*close)(struct port *port);
};

struct port {
	char name[PORT_NAME_MAX];
	const char *kind;
	const struct port_ops *ops;
	uint16_t id;		/* index in the port table */
	uint16_t n_rxq;		/* fixed at creation */
	uint16_t n_txq;
	struct port_qstats rxq_stats[PORT_MAX_QUEUES];	/* written by the rxq's PMD */
	struct port_qstats txq_stats[PORT_MAX_QUEUES];	/* index = PMD qid, see above */
	void *priv;		/* the kind's state */
};

/*
 * A kind of port. create parses `args` (key=value strings, and bare flags
 * like "client") and returns a port with name, ops, n_rxq, n_txq and priv set,
 * or NULL with errno set and a reason in err. It must leave nothing behind on
 * failure.
 */
struct port_kind {
	const char *name;		/* "vhost-user", "tap", "af_packet" */
	const char *usage;		/* args summary for help */
	struct port *(*create)(const char *name, int argc, char **argv, char *err, size_t errlen);
	struct port_kind *next;
};

void port_kind_register(struct port_kind *kind);
const struct port_kind *port_kind_find(const char *name);

/* Allocate a zeroed struct port with its name set; kinds call this. */
struct port *port_alloc(const char *name, const char *kind, const struct port_ops *ops);
void port_free(struct port *port);

/* The RCU-published table, indexed by port id. */
struct port_table {
	uint16_t n_ports;
	struct port *ports[PORT_MAX];
};

extern struct port_table *port_table_rcu;	/* rcu_dereference() it on PMDs */

/* Control thread. */
struct port *port_find(const char *name);
struct port *port_by_id(uint16_t id);
int port_add(struct port *port);	/* assigns id, publishes; 0 or -errno */
int port_del(struct port *port);	/* unpublishes, waits a grace period, closes */
void port_stats_get(struct port *port, struct port_stats *st, json_t *extra);
/* Iterate ports in id order on the control thread. */
#define PORT_FOREACH(p, i) \
	for (uint16_t i = 0; i < PORT_MAX; i++) \
		if (((p) = port_by_id(i)) != NULL)

/* Hooks other modules register to learn of port changes (pmd reassigns
 * queues, dp forgets MACs). Called on the control thread after the change is
 * published (add) or before the grace period (del). */
struct port_listener {
	void (*added)(struct port *port);
	void (*removed)(struct port *port);
	/* The link went down (a VM's rings stopped, its QEMU left): called
	 * once no PMD can receive from the port any more. */
	void (*link_down)(struct port *port);
	struct port_listener *next;
};
void port_listener_register(struct port_listener *l);
/* A kind reports its link going down (control thread); a port not (or no
 * longer) in the port table is ignored. */
void port_link_down(struct port *port);

/* The per-queue tx spinlock of kinds whose tx queues several PMDs share
 * (see the top of this file): taken once per burst, never per packet. */
static inline void port_txq_lock(uint8_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static inline void port_txq_unlock(uint8_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static inline uint16_t port_rx_burst(struct port *p, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	return p->ops->rx_burst(p, qid, pkts, n);
}

static inline uint16_t port_tx_burst(struct port *p, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	return p->ops->tx_burst(p, qid, pkts, n);
}

#endif
