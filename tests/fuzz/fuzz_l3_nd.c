/*
 * libFuzzer target: what the vRouter parses from guests — ARP requests and
 * replies, IPv6 neighbour solicitations and adverts — and the packets it
 * builds from a guest's packet (ICMP errors quoting it, echo replies). The
 * input's first byte picks the router's answer to "is this address ours",
 * the rest is one Ethernet frame, copied to a buffer of exactly its length
 * plus the room the caller declares, so ASan catches any read or write past
 * either. Besides "no crash": an answer is never longer than the room, a
 * learned MAC is unicast, and an ICMPv6/ICMP checksum we write verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "l3/l3_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static bool owns(void *aux, uint8_t af, const uint8_t *ip)
{
	(void)af;
	return (*(const uint8_t *)aux & 1) || ip[0] == 10;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 2, 0, 0x5e, 0, 0, 1 }, src4[4] = { 10, 0, 0, 254 };
	static const uint8_t src6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct l3_nd_result res;
	uint8_t sel, *buf, *err;
	uint16_t len, room, l3_off;
	size_t n;

	if (size < 2 || size > 9000)
		return 0;
	sel = data[0];
	data++;
	size--;
	/* Room for the answer: the frame, or (ND) at least what an NA needs. */
	n = MAX(size, (size_t)128);
	buf = malloc(n);
	err = malloc(1400);
	if (!buf || !err)
		abort();
	memset(buf, 0, n);
	memcpy(buf, data, size);
	len = (uint16_t)size;
	room = (uint16_t)n;
	l3_off = (sel & 2) ? 18 : 14;	/* with and without a VLAN tag */
	if (sel & 4) {
		enum l3_nd_verdict v = l3_arp_input(buf, &len, l3_off, mac, owns, &sel, &res);

		if (v == L3_ND_REPLY)
			CHECK(len <= room && len >= l3_off + 28u);
	} else {
		enum l3_nd_verdict v = l3_nd_input(buf, &len, room, l3_off, mac, owns, &sel, &res);

		if (v == L3_ND_REPLY) {
			const uint8_t *ip = buf + 14;

			uint32_t ph = 32 + 58;

			CHECK(len == 86 && len <= room);
			/* The advert's checksum verifies over the pseudo-header. */
			for (int i = 0; i < 32; i += 2)
				ph += (uint32_t)(ip[8 + i] << 8 | ip[9 + i]);
			CHECK(l3_csum(ip + 40, 32, ph) == 0);
		}
	}
	if (res.learn)
		CHECK(!(res.mac[0] & 1) && (res.af == 4 || res.af == 6));
	/* The frame (from l3_off) as a packet the router must answer with an
	 * ICMP error. */
	if (size > l3_off) {
		uint8_t af = (sel & 8) ? 6 : 4;
		/* sel & 16: "fragmentation needed" / "packet too big". */
		bool big = sel & 16;
		uint16_t e = l3_icmp_error_build(err, af, big ? (af == 4 ? 3 : 2) : (af == 4 ? 11 : 3),
						 big && af == 4 ? 4 : 0, big ? 1280 : 0, data + l3_off,
						 (uint16_t)(size - l3_off), af == 4 ? src4 : src6,
						 mac, mac);

		CHECK(e <= 1294);
		if (e && af == 4)
			CHECK(l3_csum(err + 14, 20, 0) == 0);
	}
	memcpy(buf, data, size);
	(void)l3_echo_reply(buf, (uint16_t)size, l3_off, (sel & 8) ? 6 : 4);
	free(buf);
	free(err);
	return 0;
}
