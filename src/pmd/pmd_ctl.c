/*
 * PMD commands: pmd-rxq-show (which PMD polls which queue, like
 * `ovs-appctl dpif-netdev/pmd-rxq-show`) and pmd-stats-show.
 */
#include "../ctl/ctl.h"
#include "pmd.h"

static int cmd_pmd_rxq_show(struct ctl_req *req)
{
	json_t *arr = json_array(), *o, *q;
	size_t i, j;

	pmd_stats_json(arr);
	req->data = arr;
	json_array_foreach(arr, i, o) {
		ctl_printf(req, "pmd thread %lld core_id %lld:\n",
			   json_integer_value(json_object_get(o, "id")),
			   json_integer_value(json_object_get(o, "cpu")));
		json_array_foreach(json_object_get(o, "rxqs"), j, q)
			ctl_printf(req, "  port: %-16s queue-id: %2lld\n",
				   json_string_value(json_object_get(q, "port")),
				   json_integer_value(json_object_get(q, "rxq")));
	}
	return 0;
}

static int cmd_pmd_stats_show(struct ctl_req *req)
{
	json_t *arr = json_array(), *o;
	size_t i;

	pmd_stats_json(arr);
	req->data = arr;
	json_array_foreach(arr, i, o)
		ctl_printf(req, "pmd thread %lld core_id %lld:\n"
			   "  busy: %.1f %%\n  packets: %lld\n  iterations: %lld\n"
			   "  sleeps: %lld\n  wakeups: %lld\n",
			   json_integer_value(json_object_get(o, "id")),
			   json_integer_value(json_object_get(o, "cpu")),
			   json_number_value(json_object_get(o, "busy_pct")),
			   json_integer_value(json_object_get(o, "packets")),
			   json_integer_value(json_object_get(o, "iterations")),
			   json_integer_value(json_object_get(o, "sleeps")),
			   json_integer_value(json_object_get(o, "wakeups")));
	return 0;
}

static const struct ctl_cmd pmd_cmds[] = {
	{ "pmd-rxq-show", "", 0, 0, cmd_pmd_rxq_show, false },
	{ "pmd-stats-show", "", 0, 0, cmd_pmd_stats_show, false },
};
CTL_COMMANDS(pmd_cmds)
