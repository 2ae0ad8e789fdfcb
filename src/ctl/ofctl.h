/*
 * ofctl: the flow language people already type — the ovs-ofctl syntax for
 * flows, groups and meters — parsed into flow matches and ofpacts, and the
 * same things formatted back the way ovs-ofctl dump-flows prints them.
 *
 *   ofctl_parse_flow("table=0,priority=100,in_port=vm1,tcp,tp_dst=80,"
 *                    "actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,output:up0", ...)
 *
 * The formatter's output parses back to the same flow (field order follows
 * OVS's match_format, so the text compares with ovs-ofctl's side by side).
 * Ports are named through callbacks, so this module knows nothing of the
 * port table. Errors are "what: why" messages in the caller's buffer, in the
 * words ovs-ofctl uses where it has them ("unknown field foo",
 * "10.0.0.256: invalid IP address").
 *
 * Parsing validates what a flow can know alone: field widths, masks,
 * prerequisites of matches and of set_field/load/move, sub-field ranges,
 * writable fields, goto_table ordering, ports. It does not check that
 * groups or meters exist; the pipeline does when the flow is added.
 *
 * Thread-safety: none needed; everything here is pure functions on
 * caller-owned data (the control thread and tools use it).
 */
#ifndef XVIO_OFCTL_H
#define XVIO_OFCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dp/flow.h"
#include "../dp/ofpact.h"

/* ---- a growable string ---- */

struct ds {
	char *s;		/* NUL-terminated once anything was put; may be NULL */
	size_t len, cap;
};

void ds_put_format(struct ds *ds, const char *fmt, ...) __printf(2, 3);
void ds_put_cstr(struct ds *ds, const char *s);
void ds_put_char(struct ds *ds, char c);
const char *ds_cstr(struct ds *ds);	/* "" when empty */
void ds_clear(struct ds *ds);
void ds_destroy(struct ds *ds);

/* ---- ports ---- */

/* Resolve a port name (or decimal number) to a port id; -ENOENT if none.
 * OFPP_* names (LOCAL, IN_PORT, ...) are handled before the callback. */
typedef int ofctl_port_lookup_fn(const char *name, uint16_t *id, void *aux);
/* A port's name, or NULL to print the number. */
typedef const char *ofctl_port_name_fn(uint16_t id, void *aux);

/* ---- flows ---- */

#define OFCTL_DEFAULT_PRIORITY	32768

enum ofctl_flow_flags {
	OFCTL_FF_SEND_FLOW_REM	= 1 << 0,
	OFCTL_FF_CHECK_OVERLAP	= 1 << 1,
	OFCTL_FF_RESET_COUNTS	= 1 << 2,
	OFCTL_FF_NO_PKT_COUNTS	= 1 << 3,
	OFCTL_FF_NO_BYT_COUNTS	= 1 << 4,
};

#define OFPG_ANY	0xffffffffu	/* out_group: no filter */

struct ofctl_flow {
	struct flow_match match;
	struct ofpbuf actions;		/* empty = drop */
	uint64_t cookie, cookie_mask;	/* mask is 0 for add; ~0 when cookie=V had no /M */
	uint32_t out_group;		/* del/dump filter; OFPG_ANY = none */
	uint16_t out_port;		/* del/dump filter; OFPP_NONE = none */
	uint16_t priority;		/* OFCTL_DEFAULT_PRIORITY unless given */
	uint16_t idle_timeout, hard_timeout, importance;
	uint16_t flags;			/* enum ofctl_flow_flags */
	uint8_t table;			/* 0 unless given */
	bool has_table, has_priority, has_cookie, has_actions;
};

/* What a command needs and allows:
 * ADD (add-flow[s]): actions required; no cookie mask, out_port, out_group.
 * MODIFY (mod-flows): actions required; cookie mask allowed.
 * DELETE (del-flows): no actions, timeouts, importance or flags; out_port,
 *   out_group and cookie masks allowed.
 * QUERY (dump-flows): as DELETE. */
enum ofctl_usage { OFCTL_ADD, OFCTL_MODIFY, OFCTL_DELETE, OFCTL_QUERY };

/* Parse one flow. 0, or -errno with a message in err. On success the caller
 * owns out->actions (ofctl_flow_destroy); on failure nothing is left to free.
 * lookup may be NULL (then ports are numbers or OFPP_* names). */
int ofctl_parse_flow(const char *s, enum ofctl_usage u, ofctl_port_lookup_fn *lookup,
		     void *aux, struct ofctl_flow *out, char *err, size_t errlen);
void ofctl_flow_destroy(struct ofctl_flow *f);
/* Same match, priority, table, cookie, timeouts, flags, filters and actions. */
bool ofctl_flow_equal(const struct ofctl_flow *a, const struct ofctl_flow *b);

/* Parse only a list of actions ("output:1,dec_ttl"), validated against match
 * m (prerequisites) and table (goto_table). Appends to out. */
int ofctl_parse_actions(const char *s, const struct flow_match *m, uint8_t table,
			ofctl_port_lookup_fn *lookup, void *aux, struct ofpbuf *out,
			char *err, size_t errlen);

/* "priority=100,tcp,in_port=vm1,tp_dst=80"; priority -1 or 32768: omitted.
 * Prints nothing (not even "") for a match-everything at default priority. */
void ofctl_format_match(struct ds *ds, const struct flow_match *m, int priority,
			ofctl_port_name_fn *name, void *aux);
/* "output:up0,dec_ttl", or "drop" when len is 0. */
void ofctl_format_actions(struct ds *ds, const void *ofpacts, size_t len,
			  ofctl_port_name_fn *name, void *aux);

/* Counters for dump-flows; NULL prints none. */
struct ofctl_flow_stats {
	uint64_t duration_ns;
	uint64_t n_packets, n_bytes;
	int64_t idle_age_s;		/* -1: omit */
};

/* The whole flow as dump-flows prints it:
 * "cookie=0x5, duration=1.234s, table=1, n_packets=0, n_bytes=0,
 *  idle_timeout=10, priority=7,ip actions=drop". Parses back with
 * ofctl_parse_flow (the counters are accepted and ignored). */
void ofctl_format_flow(struct ds *ds, const struct ofctl_flow *f,
		       const struct ofctl_flow_stats *stats,
		       ofctl_port_name_fn *name, void *aux);

/* ---- groups ---- */

enum ofctl_group_type {
	OFCTL_GT_ALL,
	OFCTL_GT_SELECT,
	OFCTL_GT_INDIRECT,
	OFCTL_GT_FF,		/* fast_failover */
};

#define OFCTL_MAX_BUCKETS	64
#define OFPG_MAX		0xffffff00u	/* group ids 0..OFPG_MAX */
#define OFPG_ALL		0xfffffffcu	/* del-groups without group_id */

struct ofctl_bucket {
	struct ofpbuf actions;
	uint16_t weight;		/* select; default 1 */
	uint16_t watch_port;		/* OFPP_NONE = none */
	uint32_t watch_group;		/* OFPG_ANY = none */
};

struct ofctl_group {
	uint32_t group_id;
	enum ofctl_group_type type;
	uint16_t n_buckets;
	struct ofctl_bucket buckets[OFCTL_MAX_BUCKETS];
};

/* "group_id=1,type=select,bucket=output:p1,bucket=weight:2,actions=output:p2".
 * ADD/MODIFY need group_id and type; DELETE/QUERY take only group_id
 * (missing = OFPG_ALL). */
int ofctl_parse_group(const char *s, enum ofctl_usage u, ofctl_port_lookup_fn *lookup,
		      void *aux, struct ofctl_group *out, char *err, size_t errlen);
void ofctl_group_destroy(struct ofctl_group *g);
void ofctl_format_group(struct ds *ds, const struct ofctl_group *g,
			ofctl_port_name_fn *name, void *aux);
const char *ofctl_group_type_name(enum ofctl_group_type t);

/* ---- meters ---- */

enum ofctl_meter_flags {
	OFCTL_MF_KBPS	= 1 << 0,
	OFCTL_MF_PKTPS	= 1 << 1,
	OFCTL_MF_BURST	= 1 << 2,
	OFCTL_MF_STATS	= 1 << 3,
};

enum ofctl_band_type { OFCTL_BAND_DROP, OFCTL_BAND_DSCP_REMARK };

#define OFCTL_MAX_BANDS	8
#define OFPM_ALL	0xffffffffu	/* del-meters without meter= */

struct ofctl_band {
	enum ofctl_band_type type;
	uint32_t rate;			/* kbps or pktps, per the meter's flags */
	uint32_t burst_size;		/* 0 = default */
	uint8_t prec_level;		/* dscp_remark */
};

struct ofctl_meter {
	uint32_t meter_id;		/* 1.. */
	uint16_t flags;			/* enum ofctl_meter_flags; KBPS when neither given */
	uint16_t n_bands;
	struct ofctl_band bands[OFCTL_MAX_BANDS];
};

/* "meter=1,pktps,burst,stats,band=type=drop,rate=1000,burst_size=100". */
int ofctl_parse_meter(const char *s, enum ofctl_usage u, struct ofctl_meter *out,
		      char *err, size_t errlen);
void ofctl_format_meter(struct ds *ds, const struct ofctl_meter *m);

#endif
