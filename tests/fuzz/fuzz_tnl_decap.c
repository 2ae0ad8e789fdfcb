/*
 * libFuzzer target: the tunnel decapsulation parsers (outer Ethernet, IPv4
 * or IPv6, UDP/GRE, VXLAN/Geneve/MPLS headers), which read whatever the
 * underlay delivers to our address. The frame is parsed from a malloc'd copy
 * of exactly its length (ASan sees any over-read), with the local address
 * taken from the frame itself so the parse goes past the address check: an
 * IPv6 frame goes to tnl_decap_parse6, anything else to tnl_decap_parse.
 * An ICMPv6 frame also goes to the underlay's neighbour discovery
 * (tnl_nd_input) on a fake uplink whose address is the frame's destination
 * (or, for a multicast one, the ND target): an answer must be a whole NA
 * with hop limit 255 and a checksum that verifies. Besides
 * "no crash": a success names a type and an inner frame inside the packet,
 * at least an Ethernet header long; a failure is a known drop reason.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tnl/tnl_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

/* The fake uplink's transmit: only NAs (our answers) may leave. */
static uint16_t nd_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port, (void)qid;
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *ip = pkts[i]->data + 14;

		CHECK(pkts[i]->len == 86 && ip[6] == 58 && ip[7] == 255 && ip[40] == 136);
		CHECK(csum_fold(csum_add(ip + 40, 32, csum_pseudo6(ip, 32, 58))) == 0xffff);
	}
	pkt_free_bulk(pkts, n);
	return n;
}

static const struct port_ops nd_ops = { .tx_burst = nd_tx };

static void nd_fuzz(const uint8_t *data, size_t size)
{
	static struct port *port;
	struct tnl_uplink u = { .mtu = 1500, .has_ip6 = true, .mac = { 2, 0, 0, 0, 0, 1 } };
	struct pkt *p;

	if (!port) {
		struct pkt_pool *pool = pkt_pool_create("fuzz", 16);

		CHECK(pool);
		pkt_pool_set_thread(pool);
		port = port_alloc("fz0", "fuzz", &nd_ops);
		CHECK(port);
		port->id = 1;
	}
	u.port = port;
	memcpy(u.ip6, data + 38, 16);
	if (u.ip6[0] == 0xff && size >= 78)
		memcpy(u.ip6, data + 62, 16);
	p = pkt_alloc();
	CHECK(p);
	memcpy(p->data, data, size);
	p->len = (uint16_t)size;
	if (!tnl_nd_input(0, &u, p))
		pkt_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[TNL_N_TYPES] = {
		[TNL_VXLAN] = 4789, [TNL_GENEVE] = 6081, [TNL_MPLSOUDP] = 6635,
	};
	struct tnl_decap d;
	uint32_t local = 0;
	uint8_t local6[16] = { 0 };
	bool v6 = size >= 54 && data[12] == 0x86 && data[13] == 0xdd;
	uint8_t *copy;
	int r;

	if (size > PKT_DATA_MAX)
		size = PKT_DATA_MAX;
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (v6 && data[20] == 58 && size >= 58)
		nd_fuzz(data, size);
	if (v6) {
		memcpy(local6, copy + 38, 16);
		r = tnl_decap_parse6(copy, (uint32_t)size, local6, ports, &d);
	} else {
		if (size >= 34)
			memcpy(&local, copy + 30, 4);
		r = tnl_decap_parse(copy, (uint32_t)size, local, ports, &d);
	}
	if (r == 0) {
		CHECK(d.v6 == v6);
		if (v6)
			CHECK(!memcmp(d.dst6, local6, 16));
		else
			CHECK(d.dst == local);
		CHECK(d.type > TNL_NONE && d.type < TNL_N_TYPES);
		CHECK(d.inner_len >= 14);
		CHECK((size_t)d.inner_off + d.inner_len <= size);
		CHECK(d.opt_len <= TNL_OPTS_MAX);
		if (d.type == TNL_MPLSOGRE || d.type == TNL_MPLSOUDP)
			CHECK(copy[d.inner_off + 12] == 0x88 && copy[d.inner_off + 13] == 0x47);
	} else if (r < 0) {
		CHECK(-r > TNL_DROP_NONE && -r < TNL_DROP_MAX);
	} else {
		CHECK(r == 1);
	}
	free(copy);
	return 0;
}
