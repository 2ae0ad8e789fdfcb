/*
 * Port commands: add-port, del-port, show, stats. The queries fill JSON data
 * first and render the human text from it, so both views always agree.
 */
#include <stdlib.h>
#include <string.h>

#include "../ctl/ctl.h"
#include "../dp/dp.h"
#include "../pmd/pmd.h"
#include "../sg/sg.h"
#include "port.h"

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PORT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int cmd_add_port(struct ctl_req *req)
{
	const char *name = req->argv[1], *kind_name = req->argv[2];
	const struct port_kind *kind;
	char err[256] = "";
	struct port *port;
	int rc;

	if (!valid_name(name))
		return ctl_error(req, EINVAL, "%s: invalid port name (1-%d of [A-Za-z0-9._-])",
				 name, PORT_NAME_MAX - 1);
	if (port_find(name))
		return ctl_error(req, EEXIST, "%s: port exists", name);
	kind = port_kind_find(kind_name);
	if (!kind)
		return ctl_error(req, EINVAL,
				 "%s: unknown port kind '%s' (vhost-user, tap, af_packet, afxdp)",
				 name, kind_name);
	port = kind->create(name, req->argc - 3, req->argv + 3, err, sizeof(err));
	if (!port)
		return ctl_error(req, errno, "%s: %s", name, err[0] ? err : strerror(errno));
	rc = port_add(port);
	if (rc < 0) {
		port->ops->close(port);
		return ctl_error(req, -rc, "%s: %s", name, strerror(-rc));
	}
	req->data = json_pack("{s:s,s:i}", "name", port->name, "id", port->id);
	return 0;
}

static int cmd_del_port(struct ctl_req *req)
{
	struct port *port = port_find(req->argv[1]);
	int rc;

	if (!port)
		return ctl_error(req, ENOENT, "%s: no such port", req->argv[1]);
	rc = port_del(port);
	if (rc < 0)
		return ctl_error(req, -rc, "%s: %s", req->argv[1], strerror(-rc));
	return 0;
}

static json_t *port_show_json(struct port *port)
{
	json_t *o = json_pack("{s:s,s:s,s:i,s:b,s:i,s:i}", "name", port->name, "kind", port->kind,
			      "id", port->id, "link_up",
			      port->ops->link_up ? port->ops->link_up(port) : 1,
			      "n_rxq", port->n_rxq, "n_txq", port->n_txq);
	json_t *rxqs = json_array(), *info = json_object();

	for (uint16_t q = 0; q < port->n_rxq; q++)
		json_array_append_new(rxqs, json_pack("{s:i,s:i}", "rxq", q,
						      "pmd", pmd_of_rxq(port, q)));
	json_object_set_new(o, "rxqs", rxqs);
	if (port->ops->show)
		port->ops->show(port, info);
	json_object_set_new(o, "info", info);
	return o;
}

/* One JSON value as text: strings bare, anything else compact JSON. */
static void print_value(struct ctl_req *req, json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		ctl_printf(req, "%s", json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	ctl_printf(req, "%s", s ? s : "?");
	free(s);
}

/* Render a kind's free-form info object as indented "key: value" lines;
 * an array of objects (per-queue state) becomes one "key=value" line each. */
static void print_info(struct ctl_req *req, json_t *info, int indent)
{
	const char *key, *k;
	json_t *v, *e, *f;
	size_t i;

	json_object_foreach(info, key, v) {
		if (json_is_object(v)) {
			ctl_printf(req, "%*s%s:\n", indent, "", key);
			print_info(req, v, indent + 2);
		} else if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
			ctl_printf(req, "%*s%s:\n", indent, "", key);
			json_array_foreach(v, i, e) {
				ctl_printf(req, "%*s-", indent + 2, "");
				json_object_foreach(e, k, f) {
					ctl_printf(req, " %s=", k);
					print_value(req, f);
				}
				ctl_printf(req, "\n");
			}
		} else {
			ctl_printf(req, "%*s%s: ", indent, "", key);
			print_value(req, v);
			ctl_printf(req, "\n");
		}
	}
}

static int cmd_show(struct ctl_req *req)
{
	json_t *ports = json_array(), *pmds = json_array();
	struct port *p;
	size_t i;
	json_t *o;

	PORT_FOREACH(p, id)
		json_array_append_new(ports, port_show_json(p));
	pmd_stats_json(pmds);
	req->data = json_pack("{s:o,s:o}", "ports", ports, "pmds", pmds);

	ctl_printf(req, "xviod: %zu ports, %zu pmd threads\n", json_array_size(ports),
		   json_array_size(pmds));
	json_array_foreach(ports, i, o) {
		json_t *q;
		size_t j;

		ctl_printf(req, "  %s (id %lld): %s, link %s, %lld rxq %lld txq\n",
			   json_string_value(json_object_get(o, "name")),
			   json_integer_value(json_object_get(o, "id")),
			   json_string_value(json_object_get(o, "kind")),
			   json_is_true(json_object_get(o, "link_up")) ? "up" : "down",
			   json_integer_value(json_object_get(o, "n_rxq")),
			   json_integer_value(json_object_get(o, "n_txq")));
		json_array_foreach(json_object_get(o, "rxqs"), j, q)
			ctl_printf(req, "    rxq %lld: pmd %lld\n",
				   json_integer_value(json_object_get(q, "rxq")),
				   json_integer_value(json_object_get(q, "pmd")));
		print_info(req, json_object_get(o, "info"), 4);
	}
	json_array_foreach(pmds, i, o)
		ctl_printf(req, "  pmd %lld: cpu %lld\n",
			   json_integer_value(json_object_get(o, "id")),
			   json_integer_value(json_object_get(o, "cpu")));
	return 0;
}

static json_t *port_stats_json(struct port *port)
{
	json_t *drops = json_object(), *extra = json_object();
	struct port_stats st;

	json_t *rxqs = json_array();

	port_stats_get(port, &st, extra);
	for (int d = 0; d < PORT_DROP_MAX; d++)
		json_object_set_new(drops, port_drop_names[d], json_integer((json_int_t)st.drops[d]));
	/* Per rx queue, so one can see whether a multiqueue guest's flows
	 * really spread over its queues. */
	for (uint16_t q = 0; q < port->n_rxq; q++)
		json_array_append_new(rxqs, json_pack("{s:i,s:I,s:I}", "rxq", q,
			"packets", (json_int_t)COUNTER_READ(port->rxq_stats[q].packets),
			"bytes", (json_int_t)COUNTER_READ(port->rxq_stats[q].bytes)));
	return json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "name", port->name,
			 "rx_packets", (json_int_t)st.rx_packets, "rx_bytes", (json_int_t)st.rx_bytes,
			 "tx_packets", (json_int_t)st.tx_packets, "tx_bytes", (json_int_t)st.tx_bytes,
			 "drops", drops, "counters", extra, "rxqs", rxqs);
}

/* Print non-zero integers of an object as "name=value" pairs. */
static void print_nonzero(struct ctl_req *req, const char *label, json_t *obj)
{
	bool any = false;
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (!json_is_integer(v) || json_integer_value(v) == 0)
			continue;
		ctl_printf(req, "%s%s=%lld", any ? " " : label, key, json_integer_value(v));
		any = true;
	}
	if (any)
		ctl_printf(req, "\n");
}

/* "  rxq 0: N pkts, rxq 1: M pkts" for a port with more than one rx queue. */
static void print_rxqs(struct ctl_req *req, json_t *rxqs)
{
	json_t *q;
	size_t i;

	if (json_array_size(rxqs) < 2)
		return;
	json_array_foreach(rxqs, i, q)
		ctl_printf(req, "%srxq %lld: %lld pkts", i ? ", " : "  ",
			   json_integer_value(json_object_get(q, "rxq")),
			   json_integer_value(json_object_get(q, "packets")));
	ctl_printf(req, "\n");
}

static int cmd_stats(struct ctl_req *req)
{
	json_t *ports = json_array(), *pmds = json_array(), *dp = json_object(), *o;
	json_t *sec = json_object();
	struct port *p;
	size_t i;

	if (req->argc > 1) {
		p = port_find(req->argv[1]);
		if (!p) {
			json_decref(ports);
			json_decref(pmds);
			json_decref(dp);
			json_decref(sec);
			return ctl_error(req, ENOENT, "%s: no such port", req->argv[1]);
		}
		json_array_append_new(ports, port_stats_json(p));
	} else {
		PORT_FOREACH(p, id)
			json_array_append_new(ports, port_stats_json(p));
	}
	pmd_stats_json(pmds);
	dp_stats_json(dp);
	sg_stats_json(sec);
	req->data = json_pack("{s:o,s:o,s:o,s:o}", "ports", ports, "pmds", pmds, "datapath", dp,
			      "security", sec);

	json_array_foreach(ports, i, o) {
		ctl_printf(req, "%s: rx %lld pkts %lld bytes, tx %lld pkts %lld bytes\n",
			   json_string_value(json_object_get(o, "name")),
			   json_integer_value(json_object_get(o, "rx_packets")),
			   json_integer_value(json_object_get(o, "rx_bytes")),
			   json_integer_value(json_object_get(o, "tx_packets")),
			   json_integer_value(json_object_get(o, "tx_bytes")));
		print_nonzero(req, "  drops: ", json_object_get(o, "drops"));
		print_nonzero(req, "  counters: ", json_object_get(o, "counters"));
		print_rxqs(req, json_object_get(o, "rxqs"));
	}
	if (req->argc > 1)
		return 0;
	json_array_foreach(pmds, i, o) {
		json_t *busy = json_object_get(o, "busy_pct");

		ctl_printf(req, "pmd %lld (cpu %lld): busy %.1f%%\n",
			   json_integer_value(json_object_get(o, "id")),
			   json_integer_value(json_object_get(o, "cpu")),
			   busy ? json_number_value(busy) : 0.0);
		print_nonzero(req, "  ", o);
	}
	print_nonzero(req, "datapath: ", dp);
	if (json_is_object(json_object_get(dp, "drops")))
		print_nonzero(req, "datapath drops: ", json_object_get(dp, "drops"));
	print_nonzero(req, "security drops: ", sec);
	return 0;
}

static const struct ctl_cmd port_cmds[] = {
	{ "add-port", "NAME vhost-user path=SOCK [client] [queues=N] | NAME tap|af_packet dev=IF | "
	  "NAME afxdp dev=IF [queues=N] [mode=auto|zc|copy] [xdp-mode=auto|native|skb]",
	  2, -1, cmd_add_port, true },
	{ "del-port", "NAME", 1, 1, cmd_del_port, true },
	{ "show", "", 0, 0, cmd_show, false },
	{ "stats", "[NAME]", 0, 1, cmd_stats, false },
};
CTL_COMMANDS(port_cmds)
