/*
 * A fake port kind and a one-PMD datapath for the unit tests that push
 * packets through dp_process (test_pipeline, test_ct_pipeline): ports that
 * receive nothing and record what is sent to them.
 */
#ifndef XVIO_TESTS_FAKE_PORT_H
#define XVIO_TESTS_FAKE_PORT_H

#include <stdint.h>

#include "core/pkt.h"
#include "dp/dp.h"
#include "port/port.h"

struct fake {
	unsigned n_tx;
	uint32_t seqs[64];	/* the last 4 bytes of the first 64 frames sent */
	uint8_t last[128];	/* the start of the last frame sent */
};

extern const struct port_ops fake_ops;

/* A fake port named NAME, added to the port table. */
struct port *fake_port_add(const char *name);

/* A packet pool for this thread, PMD context 0 and N ports "p0".."pN-1". */
void fake_dp_setup(int n, struct port **ports, struct dp_pmd **ctx, struct pkt_pool **pool);
void fake_dp_teardown(int n, struct port **ports, struct dp_pmd *ctx, struct pkt_pool *pool);

/* A control command with at most one argument; its return code. */
int fake_run(const char *cmd, const char *arg);

#endif
