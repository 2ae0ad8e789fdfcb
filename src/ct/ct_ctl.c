/*
 * Conntrack commands: ct-dump, ct-flush, ct-stats, ct-limit, ct-set-timeout;
 * the periodic expiry sweep on the control thread; the datapath form of a
 * ct() for dump-megaflows and trace.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "../ctl/ctl.h"
#include "../ctl/ofctl.h"
#include "ct_priv.h"

/* Buckets visited per sweep step, and steps per second: the whole table of
 * 2^21 buckets is covered in about a second, each step a few hundred
 * microseconds of control-thread time; PMDs never wait for it (they only
 * share a stripe lock with it while creating a connection). */
#define SWEEP_PERIOD_MS		10
#define SWEEP_BUDGET		16384

int ct_action_format(const struct ct_action *a, char *s, size_t size)
{
	char nat[160];
	int n;

	ct_nat_format(&a->nat, nat, sizeof(nat));
	n = snprintf(s, size, "%szone=%u", a->flags & CT_F_COMMIT ? "commit," : "", a->zone);
	if (a->flags & CT_F_FORCE)
		n += snprintf(s + MIN((size_t)n, size), size - MIN((size_t)n, size), ",force");
	if (a->flags & CT_F_MARK)
		n += snprintf(s + MIN((size_t)n, size), size - MIN((size_t)n, size),
			      ",mark=0x%x/0x%x", a->mark, a->mark_mask);
	if (a->flags & CT_F_LABEL)
		n += snprintf(s + MIN((size_t)n, size), size - MIN((size_t)n, size), ",label");
	if (a->flags & CT_F_NAT)
		n += snprintf(s + MIN((size_t)n, size), size - MIN((size_t)n, size),
			      nat[0] ? ",nat(%s)" : ",nat", nat);
	return n;
}

static void sweep_tick(void *arg)
{
	(void)arg;
	ct_sweep_step(ct_now_ms(), SWEEP_BUDGET);
}

int ct_start_sweeper(void)
{
	static struct ev_timer *t;

	if (!t)
		t = ev_timer_add(SWEEP_PERIOD_MS, SWEEP_PERIOD_MS, sweep_tick, NULL);
	return t ? 0 : -ENOMEM;
}

/* ---- formatting a connection, conntrack -L style ---- */

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	}
	return "unknown";
}

static void put_tuple(struct ds *ds, json_t *o, const char *dir, const struct ct_tuple *t)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	bool icmp = t->proto == 1 || t->proto == 58;
	unsigned sp = ntohs(t->sport), dp = ntohs(t->dport);

	inet_ntop(t->v6 ? AF_INET6 : AF_INET, t->src, a, sizeof(a));
	inet_ntop(t->v6 ? AF_INET6 : AF_INET, t->dst, b, sizeof(b));
	if (icmp)
		ds_put_format(ds, "%s(src=%s,dst=%s,id=%u,type=%u)", dir, a, b, sp, dp >> 8);
	else
		ds_put_format(ds, "%s(src=%s,dst=%s,sport=%u,dport=%u)", dir, a, b, sp, dp);
	json_object_set_new(o, dir, icmp ?
		json_pack("{s:s,s:s,s:i,s:i}", "src", a, "dst", b, "id", sp, "type", dp >> 8) :
		json_pack("{s:s,s:s,s:i,s:i}", "src", a, "dst", b, "sport", sp, "dport", dp));
}

static const char *conn_state(const struct ct_conn *c)
{
	if (c->node[0].t.proto == 6)
		return ct_tcp_state_names[c->tcp.state < CT_TCP_MAX ? c->tcp.state : 0];
	return c->flags & CT_C_SEEN_REPLY ? "REPLIED" : "UNREPLIED";
}

struct dump {
	struct ctl_req *req;
	json_t *arr;
	int zone;
	uint64_t now;
	unsigned n;
};

static void dump_one(struct ct_conn *c, void *arg)
{
	struct dump *d = arg;
	const struct ct_tuple *o = &c->node[0].t;
	struct ds ds = { 0 };
	json_t *j;
	uint64_t exp = __atomic_load_n(&c->expires, __ATOMIC_RELAXED);
	long long left = exp > d->now ? (long long)((exp - d->now) / 1000) : 0;
	uint32_t mark = __atomic_load_n(&c->mark, __ATOMIC_RELAXED);
	bool any_label = false;

	if (d->zone >= 0 && o->zone != d->zone)
		return;
	d->n++;
	j = json_pack("{s:s,s:i,s:s,s:I,s:I}", "proto", proto_name(o->proto), "zone", o->zone,
		      "state", conn_state(c), "timeout", (json_int_t)left, "mark", (json_int_t)mark);
	ds_put_format(&ds, "%s,", proto_name(o->proto));
	put_tuple(&ds, j, "orig", o);
	ds_put_char(&ds, ',');
	put_tuple(&ds, j, "reply", &c->node[1].t);
	if (o->zone)
		ds_put_format(&ds, ",zone=%u", o->zone);
	if (mark)
		ds_put_format(&ds, ",mark=%u", mark);
	for (int i = 0; i < 16; i++)
		any_label |= c->label[i] != 0;
	if (any_label) {
		char hex[33];

		for (int i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", c->label[i]);
		ds_put_format(&ds, ",labels=0x%s", hex);
		json_object_set_new(j, "label", json_string(hex));
	}
	ds_put_format(&ds, ",protoinfo=(state=%s),timeout=%lld%s%s%s\n", conn_state(c), left,
		      c->flags & CT_C_ASSURED ? ",assured" : "",
		      c->flags & CT_C_SNAT ? ",snat" : "", c->flags & CT_C_DNAT ? ",dnat" : "");
	json_object_set_new(j, "assured", json_boolean(c->flags & CT_C_ASSURED));
	json_object_set_new(j, "snat", json_boolean(c->flags & CT_C_SNAT));
	json_object_set_new(j, "dnat", json_boolean(c->flags & CT_C_DNAT));
	ctl_printf(d->req, "%s", ds_cstr(&ds));
	json_array_append_new(d->arr, j);
	ds_destroy(&ds);
}

/* "zone=N" or nothing; -1 for all zones, -2 on error (reported). */
static int zone_arg(struct ctl_req *req, int i)
{
	unsigned long long z;

	if (req->argc <= i)
		return -1;
	if (strncmp(req->argv[i], "zone=", 5) || parse_uint(req->argv[i] + 5, 0, 65535, &z) < 0) {
		ctl_error(req, EINVAL, "%s: expected zone=N (0-65535)", req->argv[i]);
		return -2;
	}
	return (int)z;
}

static int cmd_ct_dump(struct ctl_req *req)
{
	struct dump d = { .req = req, .now = ct_now_ms() };

	d.zone = zone_arg(req, 1);
	if (d.zone == -2)
		return -EINVAL;
	d.arr = json_array();
	ct_walk(dump_one, &d);
	req->data = d.arr;
	return 0;
}

static int cmd_ct_flush(struct ctl_req *req)
{
	int zone = zone_arg(req, 1);
	unsigned n;

	if (zone == -2)
		return -EINVAL;
	n = ct_flush(zone);
	ctl_printf(req, "flushed %u connections\n", n);
	req->data = json_pack("{s:i}", "flushed", n);
	return 0;
}

struct census {
	uint64_t by_state[CT_TCP_MAX];
	uint64_t udp, icmp, other, total;
};

static void count_one(struct ct_conn *c, void *arg)
{
	struct census *s = arg;

	s->total++;
	switch (c->node[0].t.proto) {
	case 6:
		s->by_state[c->tcp.state < CT_TCP_MAX ? c->tcp.state : 0]++;
		break;
	case 17:
		s->udp++;
		break;
	case 1:
	case 58:
		s->icmp++;
		break;
	default:
		s->other++;
	}
}

static int cmd_ct_stats(struct ctl_req *req)
{
	static uint64_t last_created, last_ns;
	struct census cs = { 0 };
	struct ct_pmd sum;
	json_t *st = json_object(), *inv = json_object();
	uint64_t now = time_ns();
	double rate = 0;

	ct_walk(count_one, &cs);
	ct_sum_counters(&sum);
	if (last_ns && now > last_ns)
		rate = (double)(sum.n_created - last_created) * 1e9 / (double)(now - last_ns);
	last_created = sum.n_created;
	last_ns = now;
	ctl_printf(req, "entries: %llu (max %u)\n", (unsigned long long)cs.total, ct_tab.max_conns);
	ctl_printf(req, "  tcp:");
	for (int i = 1; i < CT_TCP_MAX; i++) {
		if (cs.by_state[i])
			ctl_printf(req, " %s=%llu", ct_tcp_state_names[i],
				   (unsigned long long)cs.by_state[i]);
		json_object_set_new(st, ct_tcp_state_names[i], json_integer((json_int_t)cs.by_state[i]));
	}
	ctl_printf(req, "\n  udp: %llu  icmp: %llu  other: %llu\n", (unsigned long long)cs.udp,
		   (unsigned long long)cs.icmp, (unsigned long long)cs.other);
	ctl_printf(req, "packets: %llu  created: %llu (%.1f/s since the last ct-stats)  expired: %llu\n",
		   (unsigned long long)sum.n_packets, (unsigned long long)sum.n_created, rate,
		   (unsigned long long)__atomic_load_n(&ct_n_expired, __ATOMIC_RELAXED));
	ctl_printf(req, "invalid:");
	for (int r = 0; r < CT_INV_MAX; r++) {
		json_object_set_new(inv, ct_inv_names[r], json_integer((json_int_t)sum.invalid[r]));
		if (sum.invalid[r])
			ctl_printf(req, " %s=%llu", ct_inv_names[r], (unsigned long long)sum.invalid[r]);
	}
	ctl_printf(req, "\n");
	req->data = json_pack("{s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:o}",
		"entries", (json_int_t)cs.total, "max", (json_int_t)ct_tab.max_conns,
		"tcp", st, "udp", (json_int_t)cs.udp, "icmp", (json_int_t)cs.icmp,
		"other", (json_int_t)cs.other, "packets", (json_int_t)sum.n_packets,
		"created", (json_int_t)sum.n_created, "created_per_sec", rate,
		"expired", (json_int_t)__atomic_load_n(&ct_n_expired, __ATOMIC_RELAXED),
		"invalid", inv);
	return 0;
}

/* ct-limit                       list the default and every set zone limit
 * ct-limit [zone=N|default] limit=M   set (0 = back to the default / unlimited) */
static int cmd_ct_limit(struct ctl_req *req)
{
	unsigned long long lim;
	int zone;
	json_t *arr;

	if (req->argc == 3) {
		if (!strcmp(req->argv[1], "default"))
			zone = -1;
		else if ((zone = zone_arg(req, 1)) == -2)
			return -EINVAL;
		if (strncmp(req->argv[2], "limit=", 6) ||
		    parse_uint(req->argv[2] + 6, 0, UINT32_MAX, &lim) < 0)
			return ctl_error(req, EINVAL, "%s: expected limit=M (0: none)", req->argv[2]);
		ct_set_limit(zone, (uint32_t)lim);
	} else if (req->argc != 1) {
		return ctl_error(req, EINVAL, "usage: ct-limit [zone=N|default limit=M]");
	}
	arr = json_array();
	ctl_printf(req, "default limit=%u\n", ct_get_limit(-1));
	for (int z = 0; z < 65536; z++) {
		uint32_t l = ct_get_limit(z);

		if (!l)
			continue;
		ctl_printf(req, "zone=%d limit=%u count=%u\n", z, l, ct_zone_count((uint16_t)z));
		json_array_append_new(arr, json_pack("{s:i,s:I,s:I}", "zone", z, "limit",
			(json_int_t)l, "count", (json_int_t)ct_zone_count((uint16_t)z)));
	}
	req->data = json_pack("{s:I,s:o}", "default", (json_int_t)ct_get_limit(-1), "zones", arr);
	return 0;
}

/* ct-set-timeout NAME=SECS ...: all or nothing. With no argument, lists. */
static int cmd_ct_set_timeout(struct ctl_req *req)
{
	uint32_t val[CT_TMO_MAX];
	json_t *o;

	for (int t = 0; t < CT_TMO_MAX; t++)
		val[t] = ct_get_timeout((enum ct_tmo)t);
	for (int i = 1; i < req->argc; i++) {
		char *eq = strchr(req->argv[i], '=');
		unsigned long long secs;
		int t;

		if (!eq)
			return ctl_error(req, EINVAL, "%s: expected NAME=SECS", req->argv[i]);
		for (t = 0; t < CT_TMO_MAX; t++)
			if (strlen(ct_tmo_names[t]) == (size_t)(eq - req->argv[i]) &&
			    !strncmp(req->argv[i], ct_tmo_names[t], (size_t)(eq - req->argv[i])))
				break;
		if (t == CT_TMO_MAX)
			return ctl_error(req, EINVAL, "%.*s: unknown timeout (ct-set-timeout lists them)",
					 (int)(eq - req->argv[i]), req->argv[i]);
		if (parse_uint(eq + 1, 1, 70ull * 86400, &secs) < 0)
			return ctl_error(req, EINVAL, "%s: seconds in 1..6048000", req->argv[i]);
		val[t] = (uint32_t)secs;
	}
	o = json_object();
	for (int t = 0; t < CT_TMO_MAX; t++) {
		ct_set_timeout((enum ct_tmo)t, val[t]);
		ctl_printf(req, "%s=%u\n", ct_tmo_names[t], val[t]);
		json_object_set_new(o, ct_tmo_names[t], json_integer(val[t]));
	}
	req->data = o;
	return 0;
}

static const struct ctl_cmd ct_cmds[] = {
	{ "ct-dump", "[zone=N]", 0, 1, cmd_ct_dump, false },
	{ "ct-flush", "[zone=N]", 0, 1, cmd_ct_flush, false },
	{ "ct-stats", "", 0, 0, cmd_ct_stats, false },
	{ "ct-limit", "[zone=N|default limit=M]", 0, 2, cmd_ct_limit, true },
	{ "ct-set-timeout", "[NAME=SECS ...]", 0, -1, cmd_ct_set_timeout, true },
};
CTL_COMMANDS(ct_cmds)
