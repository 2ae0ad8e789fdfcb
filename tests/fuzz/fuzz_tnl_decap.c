/*
 * libFuzzer target: the tunnel decapsulation parsers (outer Ethernet, IPv4
 * or IPv6, UDP/GRE, VXLAN/Geneve/MPLS headers), which read whatever the
 * underlay delivers to our address. The frame is parsed from a malloc'd copy
 * of exactly its length (ASan sees any over-read), with the local address
 * taken from the frame itself so the parse goes past the address check: an
 * IPv6 frame goes to tnl_decap_parse6, anything else to tnl_decap_parse. Besides
 * "no crash": a success names a type and an inner frame inside the packet,
 * at least an Ethernet header long; a failure is a known drop reason.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tnl/tnl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

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
