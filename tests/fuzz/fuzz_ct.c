/*
 * libFuzzer target: conntrack over a sequence of packets. The input is a
 * series of records: one control byte (bit 0 commit, bit 1 nat(src) to a
 * range, bit 2 nat(dst), bits 3-4 zone, bit 5 "advance the clock a minute",
 * bit 6 run a sweep step) and a 2-byte length, then that many bytes of an
 * Ethernet frame. Every frame is parsed and run through ct(); besides "no
 * crash" (ASan reads past the frame), every result must be tracked, never
 * both new and established, invalid only alone, and the frame must keep its
 * length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "core/pkt.h"
#include "ct/ct.h"
#include "dp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pkt_pool *pool;
	static struct ct_pmd ctrs;
	static uint64_t now = 1000000;

	if (!pool) {
		rcu_register_thread();
		pool = pkt_pool_create("fuzz", 8);
		pkt_pool_set_thread(pool);
		if (ct_init(1 << 16))
			abort();
	}
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t n = (size_t)(data[1] << 8 | data[2]);
		struct ct_action a = { 0 };
		struct flow_key k, *kp = &k;
		struct pkt *p;
		uint16_t len;

		data += 3;
		size -= 3;
		if (n > size)
			n = size;
		if (n > PKT_DATA_MAX)
			n = PKT_DATA_MAX;
		p = pkt_alloc();
		memcpy(p->data, data, n);
		p->len = (uint16_t)n;
		len = p->len;
		data += n;
		size -= n;
		a.zone = (ctl >> 3) & 3;
		if (ctl & 1)
			a.flags |= CT_F_COMMIT;
		if (ctl & 6) {
			a.flags |= CT_F_NAT;
			if (a.flags & CT_F_COMMIT) {
				a.nat.flags = (ctl & 2 ? CT_NAT_SRC : CT_NAT_DST) | CT_NAT_ADDR |
					      CT_NAT_PORT;
				a.nat.addr_min[0] = a.nat.addr_max[0] = 192;
				a.nat.addr_max[3] = 3;
				a.nat.port_min = 1000;
				a.nat.port_max = 1003;
			}
		}
		if (ctl & 0x20)
			now += 60000;
		flow_extract(p, &k);
		ct_execute(&ctrs, &p, &kp, 1, &a, now);
		CHECK(k.ct_state & CS_TRACKED);
		CHECK(!((k.ct_state & CS_NEW) && (k.ct_state & CS_ESTABLISHED)));
		CHECK(!(k.ct_state & CS_INVALID) || k.ct_state == (CS_TRACKED | CS_INVALID));
		CHECK(p->len == len);
		pkt_free(p);
		if (ctl & 0x40)
			ct_sweep_step(now, 64);
		rcu_quiescent_state();
	}
	return 0;
}
