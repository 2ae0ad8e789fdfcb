/*
 * libFuzzer target: the packet parser. The input is one Ethernet frame (cut
 * to 64 KiB - 1, what pkt->len can express). flow_extract runs on a malloc'd
 * copy of exactly the frame's length, so ASan reports any read past the end.
 * Besides "no crash", every key must keep the invariants of flow.h and
 * parse.h: padding and metadata zero, offsets inside the frame, tp fields only
 * with an L4 offset, a deterministic key and hash.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pkt.h"
#include "dp/flow.h"
#include "dp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pkt *p;
	static struct flow_key k, k2;
	size_t meta_end = offsetof(struct flow_key, dl_dst);
	size_t pad_end = offsetof(struct flow_key, pad_end);
	uint8_t *copy;

	if (!p) {
		p = aligned_alloc(CACHE_LINE, sizeof(*p));
		if (!p)
			abort();
		memset(p, 0, offsetof(struct pkt, buf));
	}
	if (size > UINT16_MAX)
		size = UINT16_MAX;
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	p->data = copy;
	p->len = (uint16_t)size;
	p->in_port = 3;

	memset(&k, 0xff, sizeof(k));
	flow_extract(p, &k);

	CHECK(k.in_port == 3);
	CHECK(zero((uint8_t *)&k + 4, meta_end - 4));
	CHECK(k.pad_l2 == 0 && k.pad_l4 == 0);
	CHECK(zero((uint8_t *)&k + pad_end, sizeof(k) - pad_end));
	CHECK((k.tcp_flags & ~htons(0x0fff)) == 0);
	CHECK(p->l3_off < size || p->l3_off == 0);
	CHECK(p->l4_off <= size);
	CHECK(p->l4_off == 0 || p->l4_off > p->l3_off);
	if (size < 14)
		CHECK(zero((uint8_t *)&k + 4, sizeof(k) - 4));
	if (k.nw_frag & FLOW_FRAG_LATER)
		CHECK(k.tp_src == 0 && k.tp_dst == 0 && p->l4_off == 0);
	if (p->l4_off == 0 && p->l3_off != 0 && size <= 255)
		CHECK(k.tp_src == 0 && k.tp_dst == 0 && k.tcp_flags == 0);

	memset(&k2, 0, sizeof(k2));
	flow_extract(p, &k2);
	CHECK(memcmp(&k, &k2, sizeof(k)) == 0);
	CHECK(flow_key_hash(&k) == flow_key_hash(&k2));
	(void)flow_hash_5tuple(&k, 0);

	p->data = NULL;
	free(copy);
	return 0;
}
