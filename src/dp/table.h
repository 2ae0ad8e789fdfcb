/*
 * Private to src/dp: flow mods on the OpenFlow tables (table.c), for the
 * commands in flow_ctl.c. Control thread only.
 */
#ifndef XVIO_TABLE_H
#define XVIO_TABLE_H

#include "../ctl/ofctl.h"
#include "dp_priv.h"
#include "group.h"
#include "meter.h"

int table_init(void);
struct rule *rule_new(const struct ofctl_flow *f, uint64_t now);
/* Groups/meters exist, set_fields are ones the datapath can do. 0 or -errno
 * with the reason in err. */
int table_check_flow(const struct ofctl_flow *f, char *err, size_t errlen);
bool table_field_rewritable(uint16_t mf_id);
/* All or nothing; 0 or -errno with the reason in err. */
int table_add_flows(struct ofctl_flow *flows, size_t n, char *err, size_t errlen);
/* table_add_flows, and in the same step remove every other rule whose cookie
 * matches cookie under cookie_mask: the batch becomes that set. */
int table_replace_flows(struct ofctl_flow *flows, size_t n, uint64_t cookie,
			uint64_t cookie_mask, char *err, size_t errlen);
/* Number of rules changed/removed, or -errno. */
int table_mod_flows(const struct ofctl_flow *f, bool strict, char *err, size_t errlen);
int table_del_flows(const struct ofctl_flow *f, bool strict);
size_t table_del_if(bool (*pred)(const struct rule *r, void *arg), void *arg);
/* Visit rules selected by filter (NULL = all), table by table. */
void table_foreach(const struct ofctl_flow *filter, bool strict,
		   void (*fn)(struct rule *r, void *arg), void *arg);
size_t table_n_rules(void);
/* The flow language's port callbacks (ofctl.h): names, or decimal ids. */
int flow_port_lookup(const char *name, uint16_t *id, void *aux);
const char *flow_port_name(uint16_t id, void *aux);

#endif
