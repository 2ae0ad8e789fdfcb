/*
 * Datapath commands: xconnect, xconnect-del, set-mac-aging, fdb-show.
 */
#include <string.h>

#include "../ctl/ctl.h"
#include "dp.h"

static int cmd_xconnect(struct ctl_req *req)
{
	struct port *a = port_find(req->argv[1]), *b = port_find(req->argv[2]), *peer;
	int rc;

	if (!a)
		return ctl_error(req, ENOENT, "%s: no such port", req->argv[1]);
	if (!b)
		return ctl_error(req, ENOENT, "%s: no such port", req->argv[2]);
	if (a == b)
		return ctl_error(req, EINVAL, "%s: cannot cross-connect a port to itself", a->name);
	rc = dp_xconnect(a, b);
	if (rc == -EBUSY) {
		struct port *busy = dp_xconnect_peer(a) ? a : b;

		peer = dp_xconnect_peer(busy);
		return ctl_error(req, EBUSY, "%s: already cross-connected to %s (xconnect-del %s first)",
				 busy->name, peer ? peer->name : "?", busy->name);
	}
	if (rc < 0)
		return ctl_error(req, -rc, "%s %s: %s", a->name, b->name, strerror(-rc));
	req->data = json_pack("{s:s,s:s}", "a", a->name, "b", b->name);
	ctl_printf(req, "%s <-> %s\n", a->name, b->name);
	return 0;
}

static int cmd_xconnect_del(struct ctl_req *req)
{
	struct port *a = port_find(req->argv[1]);

	if (!a)
		return ctl_error(req, ENOENT, "%s: no such port", req->argv[1]);
	if (dp_xconnect_del(a) < 0)
		return ctl_error(req, ENOENT, "%s: not cross-connected", a->name);
	return 0;
}

static int cmd_set_mac_aging(struct ctl_req *req)
{
	unsigned long long secs;

	if (parse_uint(req->argv[1], 0, 1000000, &secs) < 0)
		return ctl_error(req, EINVAL, "%s: not a number of seconds in 0..1000000 (0: never age)",
				 req->argv[1]);
	dp_set_mac_aging((uint32_t)secs);
	req->data = json_pack("{s:I}", "mac_aging", (json_int_t)secs);
	return 0;
}

/* The text mirrors `ovs-appctl fdb/show`, with port names for numbers. */
static int cmd_fdb_show(struct ctl_req *req)
{
	json_t *arr = json_array(), *e;
	size_t i;

	dp_fdb_json(arr);
	req->data = arr;
	ctl_printf(req, " %-16s MAC                Age\n", "port");
	json_array_foreach(arr, i, e)
		ctl_printf(req, " %-16s %s  %4lld\n", json_string_value(json_object_get(e, "port")),
			   json_string_value(json_object_get(e, "mac")),
			   json_integer_value(json_object_get(e, "age")));
	return 0;
}

static const struct ctl_cmd dp_cmds[] = {
	{ "xconnect", "PORT_A PORT_B", 2, 2, cmd_xconnect, true },
	{ "xconnect-del", "PORT", 1, 1, cmd_xconnect_del, true },
	{ "set-mac-aging", "SECS", 1, 1, cmd_set_mac_aging, true },
	{ "fdb-show", "", 0, 0, cmd_fdb_show, false },
};
CTL_COMMANDS(dp_cmds)
