/* Unit tests for the flow language (src/ctl/ofctl_*.c) and the field
 * registry (src/dp/flow_field.c): real-world lines parse to the exact
 * key/mask/actions, every error names what and why, parse -> format -> parse
 * is the identity on fixed and on randomly generated flows, groups and
 * meters, and the parse cost per line. The comparison with ovs-ofctl itself
 * is tests/system/ofctl_oracle.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "ctl/ofctl.h"

/* Ports: vm0..vm9 = 1..10, up0..up9 = 11..20. */
static int lookup(const char *name, uint16_t *id, void *aux)
{
	(void)aux;
	if ((!strncmp(name, "vm", 2) || !strncmp(name, "up", 2)) &&
	    name[2] >= '0' && name[2] <= '9' && !name[3]) {
		*id = (uint16_t)((name[0] == 'v' ? 1 : 11) + name[2] - '0');
		return 0;
	}
	return -ENOENT;
}

static const char *port_name(uint16_t id, void *aux)
{
	static char buf[8];

	(void)aux;
	if (id < 1 || id > 20)
		return NULL;
	snprintf(buf, sizeof(buf), "%s%u", id <= 10 ? "vm" : "up", (id - 1) % 10);
	return buf;
}

static void parse_ok(const char *s, enum ofctl_usage u, struct ofctl_flow *f)
{
	char err[256] = "";
	int r = ofctl_parse_flow(s, u, lookup, NULL, f, err, sizeof(err));

	if (r)
		fail_msg("\"%s\": %s", s, err);
}

static const void *nth_act(const struct ofctl_flow *f, unsigned n, enum ofpact_type t)
{
	unsigned i = 0;

	OFPACT_FOREACH(a, f->actions.data, f->actions.len) {
		if (i++ == n) {
			assert_int_equal(a->type, t);
			return a;
		}
	}
	fail_msg("no action %u", n);
	return NULL;
}

static unsigned n_acts(const struct ofctl_flow *f)
{
	unsigned n = 0;

	OFPACT_FOREACH(a, f->actions.data, f->actions.len)
		n++;
	return n;
}

/* ---- the registry ---- */

static void test_registry(void **state)
{
	(void)state;
	for (int i = 0; i < MF_N_IDS; i++) {
		const struct mf_field *f = &mf_fields[i];

		assert_int_equal(f->id, i);
		assert_non_null(f->name);
		assert_ptr_equal(mf_from_name(f->name), f);
		if (f->alias)
			assert_ptr_equal(mf_from_name(f->alias), f);
		assert_true(f->n_bits > 0 && f->bit_ofs + f->n_bits <= 8u * f->n_bytes);
		assert_true(f->offset + f->n_bytes <= sizeof(struct flow_key));
	}
	assert_ptr_equal(mf_from_name("reg0"), &mf_fields[MF_REG0]);
	assert_ptr_equal(mf_from_name("reg15"), &mf_fields[MF_REG15]);
	assert_null(mf_from_name("reg16"));
	assert_null(mf_from_name("reg01"));
	assert_null(mf_from_name("nosuch"));
	assert_int_equal(mf_fields[MF_REG0 + 3].offset, offsetof(struct flow_key, regs[3]));
	assert_int_equal(mf_fields[MF_MPLS_LABEL].n_bytes, 4);
	assert_int_equal(mf_fields[MF_ETH_SRC].n_bytes, 6);
	assert_int_equal(mf_fields[MF_IPV6_SRC].n_bits, 128);
	assert_int_equal(mf_fields[MF_VLAN_VID].n_bits, 12);
}

static void test_field_bits(void **state)
{
	struct flow_key k = { 0 };
	uint8_t v[MF_MAX_BYTES] = { 0 }, m[MF_MAX_BYTES], be[MF_MAX_BYTES] = { 0 };
	const struct mf_field *f = &mf_fields[MF_MPLS_TC];

	(void)state;
	/* mpls_tc = 5 is bits 9..11 of the big-endian LSE. */
	be[3] = 5;
	mf_be_to_member(f, be, v);
	mf_field_mask(f, m);
	mf_write(f, v, m, &k);
	assert_int_equal(ntohl(k.mpls_lse[0]), 5u << 9);
	mf_get(f, &k, v);
	mf_member_to_be(f, v, be);
	assert_int_equal(be[3], 5);
	/* reg2 is host order. */
	f = &mf_fields[MF_REG0 + 2];
	memset(be, 0, sizeof(be));
	be[2] = 0x12, be[3] = 0x34;
	mf_be_to_member(f, be, v);
	mf_field_mask(f, m);
	mf_write(f, v, m, &k);
	assert_int_equal(k.regs[2], 0x1234);
}

/* ---- exact parses ---- */

static void test_parse_tcp_flow(void **state)
{
	struct ofctl_flow f;
	const struct ofpact_set_field *sf;
	const struct ofpact_output *o;

	(void)state;
	parse_ok("table=0,priority=100,in_port=vm1,tcp,nw_dst=10.0.0.0/24,tp_dst=80,"
		 "actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,output:up0", OFCTL_ADD, &f);
	assert_int_equal(f.priority, 100);
	assert_true(f.has_table && f.table == 0);
	assert_int_equal(f.match.key.in_port, 2);
	assert_int_equal(f.match.mask.in_port, 0xffff);
	assert_int_equal(f.match.key.dl_type, htons(0x0800));
	assert_int_equal(f.match.mask.dl_type, 0xffff);
	assert_int_equal(f.match.key.nw_proto, 6);
	assert_int_equal(f.match.key.nw_dst, htonl(0x0a000000));
	assert_int_equal(f.match.mask.nw_dst, htonl(0xffffff00));
	assert_int_equal(f.match.key.tp_dst, htons(80));
	assert_int_equal(f.match.mask.tp_dst, 0xffff);
	assert_int_equal(f.match.mask.nw_src, 0);
	assert_int_equal(n_acts(&f), 2);
	sf = nth_act(&f, 0, OFPACT_SET_FIELD);
	assert_int_equal(sf->field, MF_ETH_DST);
	assert_memory_equal(sf->value, "\xaa\xbb\xcc\xdd\xee\xff", 6);
	assert_memory_equal(sf->mask, "\xff\xff\xff\xff\xff\xff", 6);
	o = nth_act(&f, 1, OFPACT_OUTPUT);
	assert_int_equal(o->port, 11);
	ofctl_flow_destroy(&f);
}

static void test_parse_fields(void **state)
{
	struct ofctl_flow f;

	(void)state;
	parse_ok("dl_vlan=5,dl_vlan_pcp=3,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(ntohs(f.match.key.vlan_tci), 0x1000 | 5 | 3 << 13);
	assert_int_equal(ntohs(f.match.mask.vlan_tci), 0xffff);
	assert_int_equal(f.actions.len, 0);
	ofctl_flow_destroy(&f);

	parse_ok("dl_vlan=0xffff,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.vlan_tci, 0);
	assert_int_equal(f.match.mask.vlan_tci, 0xffff);
	ofctl_flow_destroy(&f);

	parse_ok("vlan_tci=0/0x1000,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(ntohs(f.match.mask.vlan_tci), 0x1000);
	ofctl_flow_destroy(&f);

	parse_ok("ct_state=+trk+est-new,ip,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.ct_state, CS_TRACKED | CS_ESTABLISHED);
	assert_int_equal(f.match.mask.ct_state, CS_TRACKED | CS_ESTABLISHED | CS_NEW);
	ofctl_flow_destroy(&f);

	parse_ok("tcp,tcp_flags=+syn-ack,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(ntohs(f.match.key.tcp_flags), 0x002);
	assert_int_equal(ntohs(f.match.mask.tcp_flags), 0x012);
	ofctl_flow_destroy(&f);

	parse_ok("ip,nw_frag=later,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.nw_frag, 3);
	assert_int_equal(f.match.mask.nw_frag, 3);
	ofctl_flow_destroy(&f);
	parse_ok("ip,nw_frag=not_later,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.nw_frag, 0);
	assert_int_equal(f.match.mask.nw_frag, FLOW_FRAG_LATER);
	ofctl_flow_destroy(&f);

	parse_ok("ipv6,ipv6_src=2001:db8::/32,ipv6_label=0x12345,actions=drop", OFCTL_ADD, &f);
	assert_memory_equal(f.match.key.ipv6_src, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_memory_equal(f.match.mask.ipv6_src, "\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(ntohl(f.match.key.ipv6_label), 0x12345);
	assert_int_equal(ntohl(f.match.mask.ipv6_label), 0xfffff);
	ofctl_flow_destroy(&f);

	parse_ok("reg3=0x5/0xff,reg15=7,metadata=0x1/0x1,tun_id=0x10,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.regs[3], 5);
	assert_int_equal(f.match.mask.regs[3], 0xff);
	assert_int_equal(f.match.key.regs[15], 7);
	assert_int_equal(f.match.mask.regs[15], 0xffffffff);
	assert_int_equal(f.match.key.metadata, 1);
	assert_int_equal(f.match.key.tun_id, 0x10);
	ofctl_flow_destroy(&f);

	parse_ok("icmp6,icmp_type=135,nd_target=fe80::1,nd_sll=00:11:22:33:44:55,actions=drop",
		 OFCTL_ADD, &f);
	assert_int_equal(ntohs(f.match.key.tp_src), 135);
	assert_int_equal(ntohs(f.match.mask.tp_src), 0xff);
	assert_memory_equal(f.match.key.arp_sha, "\x00\x11\x22\x33\x44\x55", 6);
	ofctl_flow_destroy(&f);

	parse_ok("mpls,mpls_label=5,mpls_tc=3,mpls_bos=1,mpls_ttl=9,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(ntohl(f.match.key.mpls_lse[0]), 5u << 12 | 3u << 9 | 1u << 8 | 9);
	assert_int_equal(ntohl(f.match.mask.mpls_lse[0]), 0xffffffff);
	ofctl_flow_destroy(&f);

	parse_ok("ip,nw_tos=8,nw_ecn=2,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.nw_tos, 8 | 2);
	assert_int_equal(f.match.mask.nw_tos, 0xff);
	ofctl_flow_destroy(&f);

	parse_ok("arp,arp_op=2,arp_spa=10.0.0.1,arp_tha=00:00:00:00:00:01,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.nw_proto, 2);
	assert_int_equal(f.match.key.nw_src, htonl(0x0a000001));
	ofctl_flow_destroy(&f);

	/* Order does not matter for prerequisites. */
	parse_ok("tp_dst=80,tcp,actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.match.key.tp_dst, htons(80));
	ofctl_flow_destroy(&f);

	/* dump-flows output is accepted back. */
	parse_ok("cookie=0x5, duration=2.345s, table=3, n_packets=7, n_bytes=420, idle_timeout=10, "
		 "idle_age=2, priority=100,udp actions=drop", OFCTL_ADD, &f);
	assert_int_equal(f.cookie, 5);
	assert_int_equal(f.table, 3);
	assert_int_equal(f.idle_timeout, 10);
	assert_int_equal(f.priority, 100);
	assert_int_equal(f.match.key.nw_proto, 17);
	ofctl_flow_destroy(&f);
}

static void test_parse_actions(void **state)
{
	struct ofctl_flow f;
	const struct ofpact_set_field *sf;
	const struct ofpact_move *mv;
	const struct ofpact_resubmit *rs;
	const struct ofpact_output *o;

	(void)state;
	parse_ok("table=2,ip,actions=load:0x1->NXM_NX_REG0[0..7],move:reg1[]->reg2[],"
		 "set_field:0x5->reg4,load:0xab->reg5[8..15],resubmit:vm0,resubmit(,4),"
		 "resubmit(vm2,5),group:3,meter:4,write_metadata:0x5/0xff,dec_ttl,"
		 "push_vlan:0x8100,mod_vlan_vid:7,strip_vlan,in_port,normal,flood,all,local,"
		 "controller,goto_table:9", OFCTL_ADD, &f);
	sf = nth_act(&f, 0, OFPACT_SET_FIELD);
	assert_int_equal(sf->field, MF_REG0);
	assert_int_equal(*(const uint32_t *)(const void *)sf->value, 1);
	assert_int_equal(*(const uint32_t *)(const void *)sf->mask, 0xff);
	mv = nth_act(&f, 1, OFPACT_MOVE);
	assert_int_equal(mv->src, MF_REG0 + 1);
	assert_int_equal(mv->dst, MF_REG0 + 2);
	assert_int_equal(mv->n_bits, 32);
	sf = nth_act(&f, 2, OFPACT_SET_FIELD);
	assert_int_equal(*(const uint32_t *)(const void *)sf->mask, 0xffffffff);
	sf = nth_act(&f, 3, OFPACT_SET_FIELD);
	assert_int_equal(*(const uint32_t *)(const void *)sf->value, 0xab00);
	assert_int_equal(*(const uint32_t *)(const void *)sf->mask, 0xff00);
	rs = nth_act(&f, 4, OFPACT_RESUBMIT);
	assert_int_equal(rs->in_port, 1);
	assert_int_equal(rs->table, OFPTT_CURRENT);
	rs = nth_act(&f, 5, OFPACT_RESUBMIT);
	assert_int_equal(rs->in_port, OFPP_IN_PORT);
	assert_int_equal(rs->table, 4);
	assert_int_equal(((const struct ofpact_id *)nth_act(&f, 7, OFPACT_GROUP))->id, 3);
	assert_int_equal(((const struct ofpact_id *)nth_act(&f, 8, OFPACT_METER))->id, 4);
	assert_int_equal(((const struct ofpact_metadata *)nth_act(&f, 9, OFPACT_WRITE_METADATA))->mask, 0xff);
	nth_act(&f, 10, OFPACT_DEC_TTL);
	assert_int_equal(((const struct ofpact_ethertype *)nth_act(&f, 11, OFPACT_PUSH_VLAN))->ethertype, 0x8100);
	sf = nth_act(&f, 12, OFPACT_SET_FIELD);
	assert_int_equal(sf->field, MF_VLAN_VID);
	assert_int_equal(ntohs(*(const uint16_t *)(const void *)sf->value), 7);
	assert_int_equal(ntohs(*(const uint16_t *)(const void *)sf->mask), 0x0fff);
	nth_act(&f, 13, OFPACT_POP_VLAN);
	o = nth_act(&f, 14, OFPACT_OUTPUT);
	assert_int_equal(o->port, OFPP_IN_PORT);
	assert_int_equal(((const struct ofpact_output *)nth_act(&f, 15, OFPACT_OUTPUT))->port, OFPP_NORMAL);
	assert_int_equal(((const struct ofpact_output *)nth_act(&f, 16, OFPACT_OUTPUT))->port, OFPP_FLOOD);
	assert_int_equal(((const struct ofpact_output *)nth_act(&f, 17, OFPACT_OUTPUT))->port, OFPP_ALL);
	assert_int_equal(((const struct ofpact_output *)nth_act(&f, 18, OFPACT_OUTPUT))->port, OFPP_LOCAL);
	o = nth_act(&f, 19, OFPACT_OUTPUT);
	assert_int_equal(o->port, OFPP_CONTROLLER);
	assert_int_equal(o->max_len, 65535);
	assert_int_equal(((const struct ofpact_goto *)nth_act(&f, 20, OFPACT_GOTO_TABLE))->table, 9);
	ofctl_flow_destroy(&f);

	/* ipv6 set_field split in two loads is one record, as set_field gives. */
	{
		struct ofctl_flow g;

		parse_ok("ipv6,actions=load:0x1->NXM_NX_IPV6_DST[0..63],"
			 "load:0x20010db800000000->NXM_NX_IPV6_DST[64..127]", OFCTL_ADD, &f);
		parse_ok("ipv6,actions=set_field:2001:db8::1->ipv6_dst", OFCTL_ADD, &g);
		assert_true(ofctl_flow_equal(&f, &g));
		ofctl_flow_destroy(&f);
		ofctl_flow_destroy(&g);
	}
	/* mod_tp_dst follows the match's protocol. */
	parse_ok("udp,actions=mod_tp_dst:53", OFCTL_ADD, &f);
	assert_int_equal(((const struct ofpact_set_field *)nth_act(&f, 0, OFPACT_SET_FIELD))->field,
			 MF_UDP_DST);
	ofctl_flow_destroy(&f);
	/* After push_mpls, MPLS fields may be written. */
	parse_ok("ip,actions=push_mpls:0x8847,set_mpls_label:100,output:vm1", OFCTL_ADD, &f);
	assert_int_equal(n_acts(&f), 3);
	ofctl_flow_destroy(&f);
}

/* ---- errors ---- */

static const struct {
	const char *s;
	enum ofctl_usage u;
	const char *msg;
} errors[] = {
	{ "foo=1,actions=drop", OFCTL_ADD, "unknown field foo" },
	{ "ip,nw_src=10.0.0.256,actions=drop", OFCTL_ADD, "10.0.0.256: invalid IP address" },
	{ "ip,nw_src=10.0.0.1/33,actions=drop", OFCTL_ADD, "33: invalid IP prefix length" },
	{ "ipv6,ipv6_src=2001:db8::g,actions=drop", OFCTL_ADD, "2001:db8::g: invalid IPv6 address" },
	{ "dl_src=aa:bb:cc:dd:ee,actions=drop", OFCTL_ADD, "aa:bb:cc:dd:ee: invalid Ethernet address" },
	{ "tp_dst=80,actions=drop", OFCTL_ADD, "tp_dst requires tcp, udp or sctp" },
	{ "tcp_dst=80,actions=drop", OFCTL_ADD, "tcp_dst requires tcp or tcp6" },
	{ "udp,tcp_dst=80,actions=drop", OFCTL_ADD, "tcp_dst requires tcp or tcp6" },
	{ "nw_src=1.2.3.4,actions=drop", OFCTL_ADD, "nw_src requires ip" },
	{ "arp_spa=1.2.3.4,actions=drop", OFCTL_ADD, "arp_spa requires arp or rarp" },
	{ "icmp_type=8,actions=drop", OFCTL_ADD, "icmp_type requires icmp or icmp6" },
	{ "icmp6,nd_target=::1,actions=drop", OFCTL_ADD, "nd_target requires icmp6 with icmp_type=135 or 136" },
	{ "ct_nw_src=1.2.3.4,actions=drop", OFCTL_ADD, "ct_nw_src requires ct_state=+trk" },
	{ "mpls_label=5,actions=drop", OFCTL_ADD, "mpls_label requires mpls or mplsm" },
	{ "reg0=0x1ffffffff,actions=drop", OFCTL_ADD, "0x1ffffffff: value too large for 4-byte field reg0" },
	{ "dl_vlan=5000,actions=drop", OFCTL_ADD, "5000: value too large for 12-bit field dl_vlan" },
	{ "dl_type=0x800/0xff00,actions=drop", OFCTL_ADD, "dl_type does not support masking" },
	{ "ip,nw_tos=5,actions=drop", OFCTL_ADD, "nw_tos must be a multiple of 4" },
	{ "ip,nw_frag=sometimes,actions=drop", OFCTL_ADD, "sometimes: invalid nw_frag" },
	{ "ct_state=+trk+bogus,actions=drop", OFCTL_ADD, "bogus: unknown ct_state flag" },
	{ "tcp,tcp_flags=syn,actions=drop", OFCTL_ADD, "syn: invalid value for tcp_flags" },
	{ "ct_state=trk+est,actions=drop", OFCTL_ADD, "invalid value for ct_state" },
	{ "ct_state=+trk+trk,actions=drop", OFCTL_ADD, "trk: ct_state flag given twice" },
	{ "in_port=vm99,actions=drop", OFCTL_ADD, "vm99: unknown port" },
	{ "tcp,udp,actions=drop", OFCTL_ADD, "udp: conflicts with an earlier match on nw_proto" },
	{ "actions=output:vm99", OFCTL_ADD, "vm99: output to unknown port" },
	{ "actions=vm99", OFCTL_ADD, "vm99: unknown action or port" },
	{ "actions=frobnicate:1", OFCTL_ADD, "unknown action frobnicate" },
	{ "actions=load:0x100->reg0[0..7]", OFCTL_ADD, "value 0x100 does not fit into 8 bits" },
	{ "actions=load:1->reg0[0..40]", OFCTL_ADD, "ending bit 40 is not valid because field is only 32 bits wide" },
	{ "actions=load:1->reg0[7..3]", OFCTL_ADD, "starting bit 7 is after ending bit 3" },
	{ "actions=load:1->nosuch[]", OFCTL_ADD, "unknown field nosuch" },
	{ "actions=move:reg0[0..7]->reg1[0..3]", OFCTL_ADD, "source field is 8 bits wide but destination is 4 bits wide" },
	{ "ip,actions=set_field:1->nw_proto", OFCTL_ADD, "nw_proto is read-only" },
	{ "actions=set_field:1.2.3.4->nw_dst", OFCTL_ADD, "writing nw_dst requires the match to have ip" },
	{ "actions=mod_tp_dst:80", OFCTL_ADD, "mod_tp_dst requires the match to have tcp, udp or sctp" },
	{ "tcp,actions=set_field:0x1ffff->tcp_dst", OFCTL_ADD, "too large for 2-byte field tcp_dst" },
	{ "actions=goto_table:1,output:vm1", OFCTL_ADD, "goto_table must be the last action" },
	{ "table=2,actions=goto_table:1", OFCTL_ADD, "must go to a later table than this flow's table 2" },
	{ "table=2,actions=goto_table:2", OFCTL_ADD, "must go to a later table" },
	{ "actions=goto_table:255", OFCTL_ADD, "invalid table" },
	{ "actions=output:vm1,drop", OFCTL_ADD, "\"drop\" must not be accompanied by any other action" },
	{ "actions=push_vlan:0x0800", OFCTL_ADD, "ethertype must be 0x8100 or 0x88a8" },
	{ "actions=pop_mpls:0x0800", OFCTL_ADD, "requires the match to have mpls" },
	{ "actions=resubmit:IN_PORT", OFCTL_ADD, "at least one \"in_port\" or \"table\"" },
	{ "actions=meter:0", OFCTL_ADD, "invalid meter id" },
	{ "table=255,actions=drop", OFCTL_ADD, "invalid table (0-254)" },
	{ "priority=65536,actions=drop", OFCTL_ADD, "invalid priority" },
	{ "cookie=0x1/0xff,actions=drop", OFCTL_ADD, "flow additions cannot use a cookie mask" },
	{ "tcp,tp_dst=80", OFCTL_ADD, "must specify an action" },
	{ "tcp,tp_dst=80", OFCTL_MODIFY, "must specify an action" },
	{ "tcp,actions=drop", OFCTL_DELETE, "del-flows does not take actions" },
	{ "idle_timeout=5", OFCTL_DELETE, "idle_timeout is not allowed with del-flows" },
	{ "send_flow_rem", OFCTL_QUERY, "send_flow_rem is not allowed with dump-flows" },
	{ "out_port=vm1,actions=drop", OFCTL_ADD, "out_port is not allowed with add-flow" },
	{ "ip,ip,nw_src", OFCTL_DELETE, "nw_src: missing value" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(errors); i++) {
		struct ofctl_flow f;
		char err[256] = "";
		int r = ofctl_parse_flow(errors[i].s, errors[i].u, lookup, NULL, &f, err, sizeof(err));

		if (r == 0)
			fail_msg("\"%s\" parsed; expected \"%s\"", errors[i].s, errors[i].msg);
		if (!strstr(err, errors[i].msg))
			fail_msg("\"%s\": got \"%s\", expected \"%s\"", errors[i].s, err, errors[i].msg);
		assert_true(r < 0);
	}
}

/* ---- round trips ---- */

static const char *const lines[] = {
	"priority=100,tcp,in_port=vm1,nw_dst=10.0.0.0/24,tp_dst=80 actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,output:up0",
	"table=3,priority=5,cookie=0x10,idle_timeout=10,hard_timeout=20,importance=3,send_flow_rem,check_overlap,ip,actions=drop",
	"reset_counts,no_packet_counts,no_byte_counts,actions=normal",
	"ip,nw_src=10.1.0.0/255.0.255.0,actions=output:vm1,output:vm2",
	"dl_vlan=0xffff,actions=normal", "dl_vlan=5,dl_vlan_pcp=3,actions=strip_vlan,flood",
	"dl_vlan_pcp=7,actions=all", "vlan_tci=0/0x1000,actions=all", "vlan_tci=0x1000/0x1000,actions=drop",
	"vlan_tci=0x1234/0xf0f0,actions=drop", "vlan_tci=0x0005/0x0fff,actions=drop",
	"ct_state=+trk+est-new,ip,actions=in_port", "ct_state=0x21/0x21,actions=controller",
	"ct_state=+trk,ct_zone=5,ct_mark=0x1/0x3,ct_label=0x1234567890abcdef1234567890abcdef,actions=drop",
	"ct_state=+trk,ct_nw_src=1.2.3.4,ct_nw_dst=5.6.7.0/24,ct_nw_proto=6,ct_tp_src=1,ct_tp_dst=80/0xff00,actions=drop",
	"ct_state=+trk,ct_ipv6_src=::1,ct_ipv6_dst=2001:db8::/48,actions=drop",
	"tcp,tcp_flags=+syn-ack,actions=local", "tcp,tcp_flags=0xe00/0xe00,actions=drop",
	"ip,nw_frag=later,actions=drop", "ip,nw_frag=not_later,actions=drop", "ip,nw_frag=no,actions=drop",
	"ipv6,nw_frag=first,actions=drop", "ipv6,nw_frag=yes,actions=drop",
	"ipv6,ipv6_src=2001:db8::/32,ipv6_dst=::/1,actions=dec_ttl",
	"ipv6,ipv6_src=2001:db8::1/ffff::ffff,actions=drop", "ipv6,ipv6_label=0x5/0xf,actions=drop",
	"reg3=0x5/0xff,actions=load:0x1->NXM_NX_REG0[0..7],move:NXM_NX_REG1[]->NXM_NX_REG2[],set_field:0x5->reg4",
	"ip,actions=set_field:aa:bb:cc:dd:ee:ff->eth_src,set_field:10.0.0.1->ip_dst,resubmit:vm3,resubmit(,4),resubmit(vm2,5),goto_table:7",
	"mpls,actions=push_vlan:0x8100,mod_vlan_vid:5,mod_vlan_pcp:3,pop_vlan,push_mpls:0x8847,set_mpls_label:10,set_mpls_ttl:5,set_mpls_tc:2,dec_mpls_ttl,pop_mpls:0x0800",
	"actions=group:1,meter:2,write_metadata:0x5/0xff,note:00.11.22",
	"actions=write_metadata:0xffffffffffffffff,note:",
	"tcp,tp_dst=80/0xfff0,actions=mod_tp_dst:8080,mod_nw_tos:8,mod_nw_ecn:2,mod_nw_ttl:9,mod_nw_src:1.2.3.4,mod_dl_src:00:00:00:00:00:01",
	"udp,actions=mod_tp_src:1,mod_tp_dst:2", "sctp6,actions=mod_tp_src:1,set_field:9->sctp_dst",
	"arp,arp_op=1,arp_spa=10.0.0.1,arp_sha=00:11:22:33:44:55,arp_tha=ff:ff:ff:ff:ff:ff/01:00:00:00:00:00,actions=drop",
	"rarp,arp_tpa=1.0.0.0/8,actions=drop",
	"icmp,icmp_type=8,icmp_code=0,actions=drop", "icmp6,icmpv6_type=135,nd_target=fe80::1,nd_sll=00:11:22:33:44:55,actions=drop",
	"icmp6,icmp_type=136,nd_tll=00:11:22:33:44:55,actions=drop", "icmp6,icmpv6_type=1,icmpv6_code=4,actions=drop",
	"mpls,mpls_label=5,mpls_tc=3,mpls_bos=1,mpls_ttl=9,actions=drop", "mplsm,actions=drop",
	"udp6,tp_src=53,actions=drop", "sctp,tp_src=1,tp_dst=0x100/0x100,actions=drop",
	"tun_id=0x5,tun_src=1.2.3.4,tun_dst=5.6.7.8/24,actions=drop", "tun_id=0x5/0xff,actions=set_field:0x7->tun_id",
	"tun_ipv6_src=2001:db8::1,tun_ipv6_dst=2001:db8::/64,actions=drop",
	"actions=set_field:2001:db8::2->tun_ipv6_dst,set_field:fe80::1->tun_ipv6_src",
	"metadata=0x5/0xff,actions=set_field:0x123->metadata",
	"dl_src=01:00:00:00:00:00/01:00:00:00:00:00,dl_dst=aa:bb:cc:dd:ee:ff,actions=drop",
	"ip,nw_tos=8,nw_ecn=2,nw_ttl=5,actions=drop", "ip,ip_dscp=5,actions=set_field:7->ip_dscp",
	"ipv6,nw_proto=89,actions=drop", "ip,nw_proto=2,actions=drop",
	"in_port=LOCAL,actions=output:LOCAL", "in_port=vm0,actions=output:in_port,output:65528,output:NORMAL",
	"dl_type=0x0800,nw_proto=6,actions=drop", "dl_type=0x88cc,actions=drop", "priority=0,actions=drop",
	"priority=65535,actions=", "actions=controller:100,controller(max_len=200)",
	"reg0=0,reg1=0xffffffff,reg2=0x80000000/0x80000000,actions=load:0x0->reg3[],load:1->reg4[31]",
	"ipv6,actions=load:0x1->NXM_NX_IPV6_DST[0..63],load:0x20010db800000000->NXM_NX_IPV6_DST[64..127]",
	"ip,actions=load:0xa->NXM_OF_IP_DST[24..31],load:0x5->reg0[3..5],load:0x5->reg0[8..10]",
	"actions=set_field:0x5/0x7->reg0,set_field:0x10/0x30->reg1",
	"tcp,actions=move:NXM_OF_TCP_DST[]->NXM_NX_REG5[0..15],move:reg5[0..15]->tcp_src[]",
	"actions=move:dl_src[]->dl_dst[],move:dl_src[0..15]->reg0[16..31]",
	"arp,actions=set_field:1.1.1.1->arp_spa,set_field:00:11:22:33:44:55->arp_sha,set_field:2->arp_op,move:arp_sha[]->arp_tha[]",
	"icmp,actions=set_field:3->icmp_type,set_field:1->icmp_code",
	"icmp6,actions=set_field:3->icmpv6_type", "ipv6,actions=set_field:0x12345->ipv6_label,set_field:::1->ipv6_src",
	"dl_vlan=1,actions=mod_vlan_vid:4095,set_field:0x1005->vlan_tci",
	"actions=resubmit(vm3,1),resubmit(,1)", "actions=resubmit(vm1),resubmit:up9",
	"actions=push_mpls:0x8848,push_vlan:0x88a8", "mpls,actions=pop_mpls:0x86dd,dec_ttl",
	"table=254,actions=drop", "table=253,actions=goto_table:254", "cookie=0,actions=drop",
	"cookie=0x8000000000000000,idle_timeout=65535,hard_timeout=1,importance=65535,actions=drop",
	"actions=vm1,up2,LOCAL", "actions=output:vm0,output:vm1,output:vm2,output:vm3,output:vm4,output:vm5",
	"ip,nw_src=0.0.0.0/0,actions=drop", "ip,nw_src=1.2.3.4/32,actions=drop",
	"ipv6,ipv6_src=::/0,actions=drop", "dl_src=00:00:00:00:00:00/00:00:00:00:00:00,actions=drop",
	"tcp,in_port=vm1,dl_vlan=10,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=16,tp_src=1,tp_dst=2,actions=output:vm2",
};

static const char *const query_lines[] = {
	"table=1,cookie=0x1/0xff,out_port=vm1,tcp", "out_group=5", "priority=10,ip,nw_src=1.0.0.0/8",
	"", "cookie=0x5", "table=0", "in_port=vm1",
};

static void round_trip(const char *s, enum ofctl_usage u)
{
	struct ofctl_flow f, g;
	struct ds ds = { 0 };
	char err[256];

	parse_ok(s, u, &f);
	ofctl_format_flow(&ds, &f, NULL, port_name, NULL);
	if (ofctl_parse_flow(ds_cstr(&ds), u, lookup, NULL, &g, err, sizeof(err)))
		fail_msg("\"%s\" -> \"%s\": %s", s, ds_cstr(&ds), err);
	if (!ofctl_flow_equal(&f, &g))
		fail_msg("\"%s\" -> \"%s\": not the same flow", s, ds_cstr(&ds));
	ds_destroy(&ds);
	ofctl_flow_destroy(&f);
	ofctl_flow_destroy(&g);
}

static void test_round_trip_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		round_trip(lines[i], OFCTL_ADD);
	for (size_t i = 0; i < ARRAY_SIZE(query_lines); i++) {
		round_trip(query_lines[i], OFCTL_QUERY);
		round_trip(query_lines[i], OFCTL_DELETE);
	}
}

static void test_format(void **state)
{
	struct ofctl_flow f;
	struct ds ds = { 0 };
	const struct ofctl_flow_stats st = { 1234567890, 5, 300, 3 };

	(void)state;
	parse_ok("table=0,priority=100,in_port=vm1,tcp,nw_dst=10.0.0.0/24,tp_dst=80,"
		 "actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,output:up0", OFCTL_ADD, &f);
	ofctl_format_match(&ds, &f.match, f.priority, port_name, NULL);
	assert_string_equal(ds_cstr(&ds), "priority=100,tcp,in_port=vm1,nw_dst=10.0.0.0/24,tp_dst=80");
	ds_clear(&ds);
	ofctl_format_actions(&ds, f.actions.data, f.actions.len, port_name, NULL);
	assert_string_equal(ds_cstr(&ds), "mod_dl_dst:aa:bb:cc:dd:ee:ff,output:up0");
	ds_clear(&ds);
	f.has_cookie = true;
	ofctl_format_flow(&ds, &f, &st, port_name, NULL);
	assert_string_equal(ds_cstr(&ds),
			    "cookie=0x0, duration=1.234s, table=0, n_packets=5, n_bytes=300, idle_age=3, "
			    "priority=100,tcp,in_port=vm1,nw_dst=10.0.0.0/24,tp_dst=80 "
			    "actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,output:up0");
	ofctl_flow_destroy(&f);
	ds_clear(&ds);
	parse_ok("actions=", OFCTL_ADD, &f);
	ofctl_format_flow(&ds, &f, NULL, port_name, NULL);
	assert_string_equal(ds_cstr(&ds), "actions=drop");
	ofctl_flow_destroy(&f);
	ds_destroy(&ds);
}

/* Random valid flows: a protocol, then fields that fit it, random values
 * and masks. */
static unsigned rnd(unsigned n)
{
	return (unsigned)random() % n;
}

static void rand_flow(char *buf, size_t n)
{
	static const char *const protos[] = { "", "ip", "ipv6", "tcp", "udp", "sctp", "tcp6", "udp6",
					      "icmp", "icmp6", "arp", "mpls" };
	const char *p = protos[rnd(ARRAY_SIZE(protos))];
	bool v4 = !strcmp(p, "ip") || !strcmp(p, "tcp") || !strcmp(p, "udp") || !strcmp(p, "sctp") ||
		  !strcmp(p, "icmp");
	bool v6 = strstr(p, "6") || !strcmp(p, "ipv6");
	bool l4 = strstr(p, "tcp") || strstr(p, "udp") || strstr(p, "sctp");
	size_t len = 0;

#define ADD(...) (len += (size_t)snprintf(buf + len, n - len, __VA_ARGS__))
	if (rnd(2))
		ADD("priority=%u,", rnd(65536));
	if (rnd(3) == 0)
		ADD("table=%u,", rnd(10));
	if (*p)
		ADD("%s,", p);
	for (unsigned i = rnd(6); i > 0; i--) {
		switch (rnd(12)) {
		case 0: ADD("reg%u=0x%x/0x%x,", rnd(16), (unsigned)random(), (unsigned)random()); break;
		case 1: ADD("in_port=vm%u,", rnd(10)); break;
		case 2: ADD("dl_src=%02x:%02x:00:00:%02x:%02x/ff:%02x:00:ff:ff:%02x,", rnd(256), rnd(256), rnd(256),
			    rnd(256), rnd(256), rnd(256)); break;
		case 3: ADD("metadata=0x%lx/0x%lx,", random(), random()); break;
		case 4: ADD("dl_vlan=%u,", rnd(4096)); break;
		case 5: ADD("ct_state=%s%s,", rnd(2) ? "+trk" : "-trk", rnd(2) ? "+est" : "-new"); break;
		case 6:
			if (v4)
				ADD("nw_src=%u.%u.%u.%u/%u,", rnd(256), rnd(256), rnd(256), rnd(256), rnd(33));
			else if (v6)
				ADD("ipv6_dst=2001:db8:%x::%x/%u,", rnd(65536), rnd(65536), rnd(129));
			else if (!strcmp(p, "arp"))
				ADD("arp_op=%u,arp_tha=00:00:00:00:00:%02x,", rnd(3), rnd(256));
			else if (!strcmp(p, "mpls"))
				ADD("mpls_label=%u,mpls_ttl=%u,", rnd(1 << 20), rnd(256));
			break;
		case 7:
			if (l4)
				ADD("tp_dst=0x%x/0x%x,", rnd(65536), rnd(65536));
			else if (!strcmp(p, "icmp") || !strcmp(p, "icmp6"))
				ADD("icmp_type=%u,icmp_code=%u,", rnd(256), rnd(256));
			break;
		case 8:
			if (v4 || v6)
				ADD("nw_tos=%u,nw_ecn=%u,nw_ttl=%u,", rnd(64) * 4, rnd(4), rnd(256));
			break;
		case 9:
			if (strstr(p, "tcp"))
				ADD("tcp_flags=%s%s,", rnd(2) ? "+syn" : "-syn", rnd(2) ? "+ack" : "-fin");
			break;
		case 10: ADD("vlan_tci=0x%04x/0x%04x,", rnd(65536), rnd(65536)); break;
		case 11:
			if (v4 || v6)
				ADD("nw_frag=%s,", (const char *[]){ "no", "yes", "first", "later", "not_later" }[rnd(5)]);
			break;
		}
	}
	ADD("actions=");
	for (unsigned i = rnd(4); i > 0; i--) {
		switch (rnd(6)) {
		case 0: ADD("output:vm%u,", rnd(10)); break;
		case 1: ADD("load:0x%x->reg%u[%u..%u],", rnd(16), rnd(16), 4, 7); break;
		case 2: ADD("set_field:0x%x->metadata,", rnd(1 << 30)); break;
		case 3: ADD("move:reg%u[0..7]->reg%u[8..15],", rnd(16), rnd(16)); break;
		case 4: ADD("resubmit(,%u),", 10 + rnd(10)); break;
		case 5: ADD("mod_dl_src:00:00:00:00:00:%02x,", rnd(256)); break;
		}
	}
#undef ADD
}

static void test_round_trip_random(void **state)
{
	char buf[1024];

	(void)state;
	srandom(42);
	for (int i = 0; i < 5000; i++) {
		struct ofctl_flow f;
		char err[256];

		rand_flow(buf, sizeof(buf));
		/* vlan_tci masks can contradict dl_vlan; such lines are rejected. */
		if (ofctl_parse_flow(buf, OFCTL_ADD, lookup, NULL, &f, err, sizeof(err))) {
			if (!strstr(err, "conflicts"))
				fail_msg("\"%s\": %s", buf, err);
			continue;
		}
		ofctl_flow_destroy(&f);
		round_trip(buf, OFCTL_ADD);
	}
}

/* ---- groups and meters ---- */

static void test_groups(void **state)
{
	static struct ofctl_group g, g2;
	struct ds ds = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(ofctl_parse_group("group_id=1,type=select,bucket=output:vm1,bucket=output:vm2",
					   OFCTL_ADD, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_int_equal(g.group_id, 1);
	assert_int_equal(g.type, OFCTL_GT_SELECT);
	assert_int_equal(g.n_buckets, 2);
	assert_int_equal(g.buckets[0].weight, 1);
	assert_int_equal(((const struct ofpact_output *)(const void *)g.buckets[1].actions.data)->port, 3);
	ofctl_format_group(&ds, &g, port_name, NULL);
	assert_string_equal(ds_cstr(&ds),
			    "group_id=1,type=select,bucket=actions=output:vm1,bucket=actions=output:vm2");
	ofctl_group_destroy(&g);

	ds_clear(&ds);
	assert_int_equal(ofctl_parse_group("group_id=7,type=fast_failover,"
					   "bucket=watch_port:vm1,actions=output:vm1,dec_ttl,"
					   "bucket=watch_port:vm2,output:vm2",
					   OFCTL_ADD, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n_buckets, 2);
	assert_int_equal(g.buckets[0].watch_port, 2);
	assert_int_equal(g.buckets[0].actions.len, 16);
	ofctl_format_group(&ds, &g, port_name, NULL);
	assert_int_equal(ofctl_parse_group(ds_cstr(&ds), OFCTL_ADD, lookup, NULL, &g2, err, sizeof(err)), 0);
	assert_int_equal(g2.n_buckets, 2);
	assert_memory_equal(g2.buckets[0].actions.data, g.buckets[0].actions.data, 16);
	ofctl_group_destroy(&g);
	ofctl_group_destroy(&g2);

	assert_int_equal(ofctl_parse_group("group_id=2,type=select,bucket=weight:100,output:vm1",
					   OFCTL_ADD, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_int_equal(g.buckets[0].weight, 100);
	ofctl_group_destroy(&g);
	assert_int_equal(ofctl_parse_group("group_id=3,type=all,bucket=output:vm1,output:vm2,bucket=output:up0",
					   OFCTL_ADD, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_int_equal(g.buckets[0].actions.len, 16);
	ofctl_group_destroy(&g);

	assert_int_equal(ofctl_parse_group("group_id=5", OFCTL_DELETE, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_int_equal(ofctl_parse_group("", OFCTL_DELETE, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_int_equal(g.group_id, OFPG_ALL);

	assert_int_not_equal(ofctl_parse_group("group_id=1,type=fast_failover,bucket=output:vm1",
					       OFCTL_ADD, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "watch_port"));
	assert_int_not_equal(ofctl_parse_group("group_id=1,type=indirect,bucket=output:vm1,bucket=output:vm2",
					       OFCTL_ADD, lookup, NULL, &g, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "exactly one bucket"));
	assert_int_not_equal(ofctl_parse_group("group_id=1,type=weird", OFCTL_ADD, lookup, NULL, &g, err,
					       sizeof(err)), 0);
	assert_non_null(strstr(err, "unknown group type"));
	assert_int_not_equal(ofctl_parse_group("group_id=1,type=all,bucket=output:vm77", OFCTL_ADD, lookup,
					       NULL, &g, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "vm77: output to unknown port"));
	assert_int_not_equal(ofctl_parse_group("type=all", OFCTL_ADD, lookup, NULL, &g, err, sizeof(err)), 0);
	ds_destroy(&ds);
}

static void test_meters(void **state)
{
	struct ofctl_meter m, m2;
	struct ds ds = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(ofctl_parse_meter("meter=1,pktps,band=type=drop,rate=1000", OFCTL_ADD, &m, err,
					   sizeof(err)), 0);
	assert_int_equal(m.meter_id, 1);
	assert_int_equal(m.flags, OFCTL_MF_PKTPS);
	assert_int_equal(m.n_bands, 1);
	assert_int_equal(m.bands[0].rate, 1000);
	assert_int_equal(ofctl_parse_meter("meter=2,kbps,burst,stats,band=type=drop,rate=10000,burst_size=500",
					   OFCTL_ADD, &m, err, sizeof(err)), 0);
	assert_int_equal(m.flags, OFCTL_MF_KBPS | OFCTL_MF_BURST | OFCTL_MF_STATS);
	assert_int_equal(m.bands[0].burst_size, 500);
	ofctl_format_meter(&ds, &m);
	assert_string_equal(ds_cstr(&ds), "meter=2,kbps,burst,stats,band=type=drop,rate=10000,burst_size=500");
	assert_int_equal(ofctl_parse_meter(ds_cstr(&ds), OFCTL_ADD, &m2, err, sizeof(err)), 0);
	assert_memory_equal(&m, &m2, sizeof(m));
	assert_int_equal(ofctl_parse_meter("meter=3,band=type=drop,rate=5", OFCTL_ADD, &m, err, sizeof(err)), 0);
	assert_int_equal(m.flags, OFCTL_MF_KBPS);
	assert_int_equal(ofctl_parse_meter("meter=3", OFCTL_DELETE, &m, err, sizeof(err)), 0);
	assert_int_not_equal(ofctl_parse_meter("meter=1,pktps", OFCTL_ADD, &m, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "at least one band"));
	assert_int_not_equal(ofctl_parse_meter("meter=1,band=type=drop", OFCTL_ADD, &m, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "rate="));
	assert_int_not_equal(ofctl_parse_meter("meter=0,band=type=drop,rate=1", OFCTL_ADD, &m, err, sizeof(err)), 0);
	assert_int_not_equal(ofctl_parse_meter("meter=1,kbps,pktps,band=type=drop,rate=1", OFCTL_ADD, &m, err,
					       sizeof(err)), 0);
	ds_destroy(&ds);
}

/* ---- cost ---- */

static void test_parse_speed(void **state)
{
	enum { N = 100000 };
	char (*buf)[160] = malloc(sizeof(*buf) * N);
	struct timespec a, b;
	double ns;

	(void)state;
	assert_non_null(buf);
	for (int i = 0; i < N; i++)
		snprintf(buf[i], sizeof(buf[i]),
			 "table=%d,priority=%d,in_port=vm%d,tcp,nw_src=10.%d.%d.0/24,nw_dst=192.168.%d.%d,"
			 "tp_dst=%d,actions=mod_dl_dst:aa:bb:cc:dd:ee:%02x,output:up%d",
			 i % 4, i % 1000, i % 10, i >> 8 & 255, i & 255, i >> 8 & 255, i & 255,
			 i % 65536, i & 255, i % 10);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N; i++) {
		struct ofctl_flow f;
		char err[128];

		if (ofctl_parse_flow(buf[i], OFCTL_ADD, lookup, NULL, &f, err, sizeof(err)))
			fail_msg("%s: %s", buf[i], err);
		ofctl_flow_destroy(&f);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / N;
	print_message("parse: %.0f ns per flow line (%d lines)\n", ns, N);
	/* The budget is 5 us; sanitizer builds are allowed 10x. */
	assert_true(ns < 50000);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_field_bits),
		cmocka_unit_test(test_parse_tcp_flow),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_actions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_round_trip_lines),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_meters),
		cmocka_unit_test(test_parse_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
