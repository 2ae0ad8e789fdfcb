/*
 * dp: the datapath call a PMD makes for every received burst.
 *
 *   dp_process(ctx, in_port, pkts, n)   parse → decide → per-port tx buffers
 *   dp_flush(ctx)                       send what the buffers hold
 *
 * The shape is the one the flow pipeline will take later (parse → flow key →
 * caches → actions → output bursts); for now "decide" is one of two modes,
 * chosen per input port:
 *
 * - bridge (default): an L2 learning switch. Source MACs are learned into a
 *   table shared by all PMDs, known unicast goes to its port, unknown
 *   unicast, broadcast and multicast are flooded to every other bridged port.
 * - cross-connect (`xvioctl xconnect A B`): every packet from A goes to B and
 *   back, unparsed and unlearned — the OVS `in_port=A,actions=output:B` pair.
 *
 * Thread-safety:
 * - A struct dp_pmd is one PMD's private context (tx buffers, counters); it is
 *   created and destroyed on the control thread and used only by its PMD.
 * - The configuration (attached ports, cross-connect peers, flood list) is an
 *   immutable snapshot published with RCU (QSBR); dp_process must run between
 *   two quiescent states of a registered reader, and dp_flush must be called
 *   before the next quiescent state (tx buffers hold port pointers).
 * - The MAC table is read by PMDs with relaxed loads; inserting or moving a MAC
 *   takes a spinlock (rare), as does the control thread's aging. See fdb.c.
 * - Every other function is control-thread only.
 */
#ifndef XVIO_DP_H
#define XVIO_DP_H

#include <stdint.h>

#include <jansson.h>

#include "../core/core.h"
#include "../core/pkt.h"
#include "../port/port.h"

/* Drop reasons of the datapath, listed once. */
#define DP_DROP_REASONS(X) \
	X(RUNT,           "runt_frame")        /* shorter than an Ethernet header */ \
	X(BAD_SRC_MAC,    "bad_src_mac")       /* multicast or all-zero source */ \
	X(DST_IS_IN_PORT, "dst_is_in_port")    /* known unicast to the port it came from */ \
	X(NO_OUTPUT,      "no_output_port")    /* flood with no other port */ \
	X(FLOOD_NO_BUF,   "flood_no_buf")      /* pool empty while cloning a flood copy */ \
	X(IN_PORT_GONE,   "in_port_detached")  /* input port not (or no longer) attached */ \
	X(OUT_PORT_GONE,  "out_port_detached") /* a megaflow's output port went away */

enum dp_drop {
#define X(e, s) DP_DROP_##e,
	DP_DROP_REASONS(X)
#undef X
	DP_DROP_MAX
};

extern const char *const dp_drop_names[DP_DROP_MAX];

#define DP_MAC_AGING_DEFAULT	300

struct dp_pmd;

/* Control: the context of the PMD whose tx queue id is txq (its index).
 * NULL + errno on failure. */
struct dp_pmd *dp_pmd_create(uint16_t txq);
/* Control: after the PMD has stopped (its tx buffers are empty). */
void dp_pmd_destroy(struct dp_pmd *ctx);

/* PMD: process n (≤ PKT_BURST) packets received on port `in`. Takes
 * ownership of every packet: each is buffered for output or freed with its
 * drop reason counted. */
void dp_process(struct dp_pmd *ctx, struct port *in, struct pkt **pkts, uint16_t n);
/* PMD: transmit every non-empty tx buffer. */
void dp_flush(struct dp_pmd *ctx);

/* Control: pair two ports (0 or -errno; -EBUSY if one is already paired). */
int dp_xconnect(struct port *a, struct port *b);
/* Control: undo the pair port a is in (0 or -ENOENT). */
int dp_xconnect_del(struct port *a);
/* Control: the peer of port p, or NULL when p is bridged. */
struct port *dp_xconnect_peer(const struct port *p);

/* Control: MAC aging in seconds (0 = never age). */
void dp_set_mac_aging(uint32_t secs);
uint32_t dp_mac_aging(void);

/* Control: the MAC table as [{"mac":"..","port":"..","age":N}, ...]. */
void dp_fdb_json(json_t *array);
/* Control: totals for `stats`: {"flooded","learned","moved","fdb_entries",
 * "xconnects","mac_aging","drops":{reason: count}}. */
void dp_stats_json(json_t *obj);

/* Control: flows another module compiles for the user (security groups,
 * port security) are a set named by cookie under mask. Replace that whole
 * set with the flows in text (ovs-ofctl lines, '#' comments) in one step:
 * rules with an identical table, match and priority keep their counters;
 * all or nothing. 0, or -errno with the reason in err. */
int dp_owned_flows_replace(uint64_t cookie, uint64_t mask, const char *text,
			   char *err, size_t errlen);
/* Control: each rule of such a set, with counters brought up to date. */
typedef void dp_owned_flow_fn(uint64_t cookie, uint64_t n_packets, uint64_t n_bytes, void *arg);
void dp_owned_flows_foreach(uint64_t cookie, uint64_t mask, dp_owned_flow_fn *fn, void *arg);

#endif
