#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ctl/ctl.h"
#include "fake_port.h"

static uint16_t fake_rx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port, (void)qid, (void)pkts, (void)n;
	return 0;
}

static uint16_t fake_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct fake *f = port->priv;

	(void)qid;
	for (uint16_t i = 0; i < n; i++) {
		if (f->n_tx < ARRAY_SIZE(f->seqs) && pkts[i]->len >= 4)
			memcpy(&f->seqs[f->n_tx], pkts[i]->data + pkts[i]->len - 4, 4);
		memcpy(f->last, pkts[i]->data, MIN(pkts[i]->len, sizeof(f->last)));
		f->n_tx++;
		pkt_free(pkts[i]);
	}
	return n;
}

static void fake_close(struct port *port)
{
	free(port->priv);
	port_free(port);
}

const struct port_ops fake_ops = { .rx_burst = fake_rx, .tx_burst = fake_tx,
				   .close = fake_close };

struct port *fake_port_add(const char *name)
{
	struct port *p = port_alloc(name, "fake", &fake_ops);

	assert_non_null(p);
	p->priv = calloc(1, sizeof(struct fake));
	assert_non_null(p->priv);
	assert_int_equal(port_add(p), 0);
	return p;
}

void fake_dp_setup(int n, struct port **ports, struct dp_pmd **ctx, struct pkt_pool **pool)
{
	char name[16];

	*pool = pkt_pool_create("test", 512);
	pkt_pool_set_thread(*pool);
	*ctx = dp_pmd_create(0);
	assert_non_null(*ctx);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ports[i] = fake_port_add(name);
	}
}

void fake_dp_teardown(int n, struct port **ports, struct dp_pmd *ctx, struct pkt_pool *pool)
{
	for (int i = 0; i < n; i++)
		port_del(ports[i]);
	dp_pmd_destroy(ctx);
	pkt_pool_destroy(pool);
}

int fake_run(const char *cmd, const char *arg)
{
	char *argv[] = { (char *)cmd, (char *)arg, NULL };
	struct ctl_req r;
	int rc = ctl_exec(&r, arg ? 2 : 1, argv);

	ctl_req_release(&r);
	return rc;
}
