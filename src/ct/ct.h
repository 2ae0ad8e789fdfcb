/*
 * ct: connection tracking and NAT, the datapath side of the ct() action.
 *
 * What. A table of connections keyed by (zone, protocol, addresses, ports or
 * ICMP id/type), one entry per connection reachable from both directions (two
 * nodes, the original tuple and the reply tuple, which NAT makes differ from
 * the plain inverse). TCP connections follow netfilter's state machine with
 * sequence/window tracking (ct_tcp.c); UDP, ICMP/ICMPv6 echo and any other IP
 * protocol are tracked by address and port; ICMP errors quoting a tracked
 * connection are +rel and are translated with it (ct_nat.c).
 *
 * How a packet meets it. The pipeline compiles ct(...) into a DPACT_CT record
 * carrying a struct ct_action. ct_execute() runs it over a batch: for each
 * packet it finds or (commit) creates the connection, updates its state, NATs
 * the packet if asked, and writes the result into the packet's flow key
 * (ct_state, ct_zone, ct_mark, ct_label, the original-direction tuple). A
 * following DPACT_RECIRC then re-runs the pipeline with those fields set.
 *
 * Thread-safety. The table is shared by every PMD; lookups are lock-free
 * (RCU, QSBR flavour: PMDs are registered readers). Creating or removing a
 * connection takes the lock of the buckets its two nodes live in (a striped
 * spinlock, per new connection, never per packet). A TCP connection's window
 * state is guarded by a per-connection spinlock, taken only for TCP segments;
 * UDP/ICMP state is one-way (seen-reply, expiry) and written with relaxed
 * stores. The control thread expires connections incrementally
 * (ct_sweep_step) and frees them after a grace period. Counters are per PMD
 * (struct ct_pmd), summed by the control thread.
 */
#ifndef XVIO_CT_H
#define XVIO_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "../core/core.h"
#include "../core/pkt.h"
#include "../dp/flow.h"

/* ct_action.flags */
#define CT_F_COMMIT	0x01
#define CT_F_FORCE	0x02
#define CT_F_NAT	0x04	/* nat: apply the connection's NAT, set one up on commit */
#define CT_F_MARK	0x08	/* exec(set_field:..->ct_mark) */
#define CT_F_LABEL	0x10	/* exec(set_field:..->ct_label) */
/* Datapath only (the pipeline sets it, nothing prints it): no action after
 * this ct() reads its verdict from the key (no ct(table=N) recirculation,
 * no nat rewriting the key's addresses), so ct_execute writes no key and
 * accepts keys shared between packets. */
#define CT_F_NO_KEY	0x20

/* ct_nat.flags */
#define CT_NAT_SRC	0x01
#define CT_NAT_DST	0x02
#define CT_NAT_V6	0x04	/* addresses are IPv6 */
#define CT_NAT_ADDR	0x08	/* an address range was given */
#define CT_NAT_PORT	0x10	/* a port range was given */
#define CT_NAT_PERSISTENT 0x20
#define CT_NAT_HASH	0x40	/* hash: pick the port by hash (accepted, as OVS) */
#define CT_NAT_RANDOM	0x80

struct ct_nat {
	uint8_t flags;		/* CT_NAT_* */
	uint8_t pad;
	uint16_t port_min;	/* host order */
	uint16_t port_max;
	uint16_t pad2;
	uint8_t addr_min[16];	/* network order; IPv4 in the first 4 bytes */
	uint8_t addr_max[16];
};

/* One ct() as the datapath runs it: zone already resolved (a zone taken from
 * a register is read at translation time and the register un-wildcarded). */
struct ct_action {
	uint16_t zone;
	uint8_t flags;		/* CT_F_* */
	uint8_t pad[5];
	uint32_t mark;		/* host order */
	uint32_t mark_mask;
	uint8_t label[16];	/* as the ct_label flow field: 128-bit big-endian */
	uint8_t label_mask[16];
	struct ct_nat nat;
};

/* Invalid-packet reasons, listed once. */
#define CT_INV_REASONS(X) \
	X(NOT_IP,        "not_ip")            /* ct() on a non-IP packet */ \
	X(TRUNCATED,     "truncated")         /* L4 header shorter than it says */ \
	X(FRAGMENT,      "fragment")          /* IP fragment: not reassembled (DESIGN.md) */ \
	X(TCP_FLAGS,     "tcp_bad_flags")     /* flag combination never valid */ \
	X(TCP_STATE,     "tcp_bad_state")     /* segment the state machine refuses */ \
	X(TCP_WINDOW,    "tcp_out_of_window") /* sequence/ack outside the tracked window */ \
	X(TCP_RST,       "tcp_rst_out_of_window") \
	X(TCP_NO_SYN,    "tcp_new_without_syn") /* new connection not opened by a SYN */ \
	X(ICMP_TYPE,     "icmp_unexpected")   /* echo reply or error with no connection */ \
	X(LIMIT,         "zone_limit")        /* commit refused: zone at its limit */ \
	X(TABLE_FULL,    "table_full")        /* commit refused: the table is full */ \
	X(NAT_EXHAUSTED, "nat_no_port")       /* no free address:port for NAT */ \
	X(NO_MEMORY,     "no_memory")

enum ct_inv {
#define X(e, s) CT_INV_##e,
	CT_INV_REASONS(X)
#undef X
	CT_INV_MAX
};
extern const char *const ct_inv_names[CT_INV_MAX];

/* Per-PMD counters (relaxed stores by the PMD, relaxed loads by control),
 * and the PMD's own free connections. */
struct ct_pmd {
	uint64_t n_packets;
	uint64_t n_created;
	uint64_t n_lookups_new;		/* +new packets (committed or not) */
	uint64_t invalid[CT_INV_MAX];
	void *free_conns[2];		/* ct_conn.c: without, with TCP state */
};

/* ---- datapath ---- */

/* PMD: run one ct() over n packets; fills every keys[i]'s ct fields (none
 * with CT_F_NO_KEY). now_ms: the batch's clock (ct_now_ms()). Never drops a
 * packet: an invalid one comes back with +trk+inv, as in OVS, and the flows
 * decide. keys[i] == keys[i - 1] says that packet i has the frame headers of
 * packet i - 1 (parse.h's flow_same_frame), and is allowed only with
 * CT_F_NO_KEY: such packets share one verdict unless TCP or the connection
 * goes meanwhile. */
void ct_execute(struct ct_pmd *pmd, struct pkt **pkts, struct flow_key **keys, uint16_t n,
		const struct ct_action *a, uint64_t now_ms);
/* ct_execute where keys may also be shared without CT_F_NO_KEY: store
 * holds a key per packet (store[i] for packet i), into which a packet whose
 * verdict is not the one of the packets it shares a key with gets a copy
 * of it (keys[i] then points there). Those sharing one key otherwise get
 * one verdict, written once. */
void ct_execute_store(struct ct_pmd *pmd, struct pkt **pkts, struct flow_key **keys, uint16_t n,
		      const struct ct_action *a, uint64_t now_ms, struct flow_key *store);
/* ct_clear: forget the tracking state in a key. */
void ct_clear_key(struct flow_key *k);
uint64_t ct_now_ms(void);

/* ---- control ---- */

/* "src=10.0.0.1-10.0.0.9:1000-2000" (the inside of nat(), "" for bare nat),
 * shared by the flow formatter and ct_action_format. snprintf rules. */
static inline int ct_nat_format(const struct ct_nat *n, char *s, size_t size)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int af = n->flags & CT_NAT_V6 ? AF_INET6 : AF_INET, len = 0;
	bool v6 = af == AF_INET6, range;

#define CT_PUT(...) (len += snprintf(s + MIN((size_t)len, size), \
				     size - MIN((size_t)len, size), __VA_ARGS__))
	if (size)
		s[0] = '\0';
	if (!(n->flags & (CT_NAT_SRC | CT_NAT_DST)))
		return 0;
	CT_PUT("%s", n->flags & CT_NAT_SRC ? "src" : "dst");
	if (n->flags & CT_NAT_ADDR) {
		inet_ntop(af, n->addr_min, a, sizeof(a));
		inet_ntop(af, n->addr_max, b, sizeof(b));
		range = memcmp(n->addr_min, n->addr_max, 16) != 0;
		if (v6 && (n->flags & CT_NAT_PORT))
			CT_PUT(range ? "=[%s]-[%s]" : "=[%s]", a, b);
		else
			CT_PUT(range ? "=%s-%s" : "=%s", a, b);
	}
	if (n->flags & CT_NAT_PORT) {
		if (n->port_min == n->port_max)
			CT_PUT(":%u", n->port_min);
		else
			CT_PUT(":%u-%u", n->port_min, n->port_max);
	}
	if (n->flags & CT_NAT_PERSISTENT)
		CT_PUT(",persistent");
	if (n->flags & CT_NAT_HASH)
		CT_PUT(",hash");
	if (n->flags & CT_NAT_RANDOM)
		CT_PUT(",random");
#undef CT_PUT
	return len;
}

/* "commit,zone=1,mark=0x1/0xff,nat(src=10.0.0.1-10.0.0.9:1000-2000)": the
 * datapath form for dump-megaflows and trace (snprintf rules). */
int ct_action_format(const struct ct_action *a, char *s, size_t size);
/* Sum every registered PMD's counters. */
void ct_sum_counters(struct ct_pmd *sum);
extern uint64_t ct_n_expired;

/* Size the table for max_conns connections (0: default 2,000,000). Called once
 * before PMDs start; later calls are no-ops. 0 or -ENOMEM. */
int ct_init(uint32_t max_conns);
/* Start the periodic sweep on the control thread's event loop. */
int ct_start_sweeper(void);
/* Control: expire at most `budget` bucket visits' worth of connections at now.
 * Unlinks expired ones and frees those unlinked by the previous call (after a
 * grace period). Returns the number expired. */
unsigned ct_sweep_step(uint64_t now_ms, unsigned budget);
/* Control: remove every connection (zone < 0: all zones). Returns how many. */
unsigned ct_flush(int zone);
/* Control: wait a grace period and free everything unlinked. */
void ct_reclaim(void);

/* Timeouts in seconds, by name (Linux sysctl names without the prefix). */
#define CT_TIMEOUTS(X) \
	X(TCP_SYN_SENT,    "tcp_syn_sent",    120) \
	X(TCP_SYN_RECV,    "tcp_syn_recv",    60) \
	X(TCP_ESTABLISHED, "tcp_established", 432000) \
	X(TCP_FIN_WAIT,    "tcp_fin_wait",    120) \
	X(TCP_CLOSE_WAIT,  "tcp_close_wait",  60) \
	X(TCP_LAST_ACK,    "tcp_last_ack",    30) \
	X(TCP_TIME_WAIT,   "tcp_time_wait",   120) \
	X(TCP_CLOSE,       "tcp_close",       10) \
	X(TCP_SYN_SENT2,   "tcp_syn_sent2",   120) \
	X(TCP_UNACK,       "tcp_unacknowledged", 300) \
	X(UDP_FIRST,       "udp_first",       30) \
	X(UDP_STREAM,      "udp_stream",      120) \
	X(ICMP,            "icmp",            30) \
	X(OTHER_FIRST,     "other_first",     60) \
	X(OTHER_STREAM,    "other_stream",    120)

enum ct_tmo {
#define X(e, s, d) CT_TMO_##e,
	CT_TIMEOUTS(X)
#undef X
	CT_TMO_MAX
};
extern const char *const ct_tmo_names[CT_TMO_MAX];
/* Control: set one timeout (seconds, 1..1 week x 10). 0 or -EINVAL. */
int ct_set_timeout(enum ct_tmo t, uint32_t secs);
uint32_t ct_get_timeout(enum ct_tmo t);

/* Control: per-zone limit (0 = the default limit); zone < 0 sets the default
 * (0 = unlimited). */
void ct_set_limit(int zone, uint32_t limit);
uint32_t ct_get_limit(int zone);
uint32_t ct_zone_count(uint16_t zone);

/* Control: register a PMD's counters for ct-stats (NULL to remove). */
void ct_pmd_register(unsigned idx, struct ct_pmd *c);

#endif
