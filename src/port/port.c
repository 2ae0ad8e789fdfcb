/*
 * The port table and the registry of port kinds. Control thread only; PMDs
 * see the table through port_table_rcu.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "port.h"

const char *const port_drop_names[PORT_DROP_MAX] = {
#define X(e, s) [PORT_DROP_##e] = s,
	PORT_DROP_REASONS(X)
#undef X
};

struct port_table *port_table_rcu;
/* The control thread's view; always equal to what was last published. */
static struct port_table *table_cur;
static struct port_kind *kinds;
static struct port_listener *listeners;

void port_kind_register(struct port_kind *kind)
{
	kind->next = kinds;
	kinds = kind;
}

const struct port_kind *port_kind_find(const char *name)
{
	for (struct port_kind *k = kinds; k; k = k->next)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

void port_listener_register(struct port_listener *l)
{
	l->next = listeners;
	listeners = l;
}

void port_link_down(struct port *port)
{
	if (port->id >= PORT_MAX || port_by_id(port->id) != port)
		return;
	for (struct port_listener *l = listeners; l; l = l->next)
		if (l->link_down)
			l->link_down(port);
}

struct port *port_alloc(const char *name, const char *kind, const struct port_ops *ops)
{
	struct port *p = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*p), CACHE_LINE));

	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->kind = kind;
	p->ops = ops;
	p->id = PORT_ID_NONE;
	p->n_rxq = p->n_txq = 1;
	return p;
}

void port_free(struct port *port)
{
	free(port);
}

static struct port_table *table_get(void)
{
	if (!table_cur) {
		table_cur = calloc(1, sizeof(*table_cur));
		port_table_rcu = table_cur;
	}
	return table_cur;
}

struct port *port_by_id(uint16_t id)
{
	struct port_table *t = table_get();

	return t && id < PORT_MAX ? t->ports[id] : NULL;
}

struct port *port_find(const char *name)
{
	struct port_table *t = table_get();

	for (uint16_t i = 0; t && i < PORT_MAX; i++)
		if (t->ports[i] && !strcmp(t->ports[i]->name, name))
			return t->ports[i];
	return NULL;
}

/* Copy, modify, publish, wait, free: the RCU update every table change takes. */
static int table_publish(uint16_t id, struct port *port)
{
	struct port_table *old = table_get(), *t;

	if (!old)
		return -ENOMEM;
	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	memcpy(t, old, sizeof(*t));
	t->ports[id] = port;
	t->n_ports = 0;
	for (uint16_t i = 0; i < PORT_MAX; i++)
		t->n_ports += t->ports[i] != NULL;
	table_cur = t;
	rcu_assign_pointer(port_table_rcu, t);
	synchronize_rcu();
	free(old);
	return 0;
}

int port_add(struct port *port)
{
	struct port_table *t = table_get();
	uint16_t id;
	int err;

	if (!t)
		return -ENOMEM;
	if (port_find(port->name))
		return -EEXIST;
	for (id = 0; id < PORT_MAX && t->ports[id]; id++)
		;
	if (id == PORT_MAX)
		return -ENOSPC;
	port->id = id;
	err = table_publish(id, port);
	if (err) {
		port->id = PORT_ID_NONE;
		return err;
	}
	for (struct port_listener *l = listeners; l; l = l->next)
		if (l->added)
			l->added(port);
	return 0;
}

int port_del(struct port *port)
{
	int err;

	if (port->id >= PORT_MAX || port_by_id(port->id) != port)
		return -ENOENT;
	/* Listeners (queue assignment, MAC table) drop their references
	 * first; the table publish below then waits out every PMD still
	 * inside a loop that saw the port. */
	for (struct port_listener *l = listeners; l; l = l->next)
		if (l->removed)
			l->removed(port);
	err = table_publish(port->id, NULL);
	if (err)
		return err;
	port->ops->close(port);
	return 0;
}

void port_stats_get(struct port *port, struct port_stats *st, json_t *extra)
{
	memset(st, 0, sizeof(*st));
	for (uint16_t q = 0; q < PORT_MAX_QUEUES; q++) {
		const struct port_qstats *r = &port->rxq_stats[q], *t = &port->txq_stats[q];

		st->rx_packets += COUNTER_READ(r->packets);
		st->rx_bytes += COUNTER_READ(r->bytes);
		st->tx_packets += COUNTER_READ(t->packets);
		st->tx_bytes += COUNTER_READ(t->bytes);
		for (int d = 0; d < PORT_DROP_MAX; d++)
			st->drops[d] += COUNTER_READ(r->drops[d]) + COUNTER_READ(t->drops[d]);
	}
	if (port->ops->stats)
		port->ops->stats(port, st, extra);
}
