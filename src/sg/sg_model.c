/*
 * The words of the security-group commands: addresses, MACs and rules,
 * parsed from what the user typed and printed back the same way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "sg.h"

int sg_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	/* A port's own address is never multicast or zero. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

int sg_parse_addr(const char *s, bool prefix, struct sg_addr *a)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long long plen;

	if (n >= sizeof(buf) || (slash && !prefix))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, a->a) == 1)
		a->af = 4;
	else if (inet_pton(AF_INET6, buf, a->a) == 1)
		a->af = 6;
	else
		return -EINVAL;
	a->plen = a->af == 4 ? 32 : 128;
	if (slash) {
		if (parse_uint(slash + 1, 0, a->plen, &plen))
			return -EINVAL;
		a->plen = (uint8_t)plen;
		/* Host bits set are a typo more often than intent: refuse. */
		for (unsigned b = a->plen; b < (a->af == 4 ? 32u : 128u); b++)
			if (a->a[b / 8] & (0x80 >> (b % 8)))
				return -EINVAL;
	}
	return 0;
}

static int parse_ports(const char *s, struct sg_rule *r)
{
	unsigned long long lo, hi;
	const char *dash = strchr(s, '-');
	char buf[16];

	if (!dash) {
		if (parse_uint(s, 0, 65535, &lo))
			return -EINVAL;
		hi = lo;
	} else {
		if ((size_t)(dash - s) >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, s, (size_t)(dash - s));
		buf[dash - s] = '\0';
		if (parse_uint(buf, 0, 65535, &lo) || parse_uint(dash + 1, 0, 65535, &hi) || hi < lo)
			return -EINVAL;
	}
	r->has_ports = true;
	r->pmin = (uint16_t)lo;
	r->pmax = (uint16_t)hi;
	return 0;
}

int sg_parse_rule(int argc, char **argv, struct sg_rule *r, char *err, size_t errlen)
{
	const char *ports = NULL;
	int ethertype = 0;

	memset(r, 0, sizeof(*r));
	if (argc < 1 || (strcmp(argv[0], "ingress") && strcmp(argv[0], "egress"))) {
		snprintf(err, errlen, "%s: a rule starts with ingress or egress",
			 argc ? argv[0] : "(nothing)");
		return -EINVAL;
	}
	r->dir = strcmp(argv[0], "ingress") ? SG_EGRESS : SG_INGRESS;
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *v = eq ? eq + 1 : "";
		size_t kl = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);

#define KEY(k) (kl == strlen(k) && !strncmp(argv[i], k, kl))
		if (!eq) {
			snprintf(err, errlen, "%s: expected KEY=VALUE", argv[i]);
			return -EINVAL;
		} else if (KEY("proto")) {
			if (!strcmp(v, "tcp"))
				r->proto = 6;
			else if (!strcmp(v, "udp"))
				r->proto = 17;
			else if (!strcmp(v, "icmp"))
				r->proto = 1;
			else if (!strcmp(v, "any"))
				r->proto = 0;
			else
				goto bad_value;
		} else if (KEY("port")) {
			ports = v;
		} else if (KEY("remote")) {
			if (sg_parse_addr(v, true, &r->remote))
				goto bad_value;
			r->has_remote = true;
		} else if (KEY("remote-group")) {
			if (!*v || strlen(v) >= SG_NAME_MAX)
				goto bad_value;
			strcpy(r->remote_group, v);
		} else if (KEY("ethertype")) {
			if (!strcmp(v, "ipv4"))
				ethertype = 4;
			else if (!strcmp(v, "ipv6"))
				ethertype = 6;
			else
				goto bad_value;
		} else {
			snprintf(err, errlen, "%.*s: unknown key (proto, port, remote, remote-group, "
				 "ethertype)", (int)kl, argv[i]);
			return -EINVAL;
		}
		continue;
bad_value:
		snprintf(err, errlen, "%s: invalid value", argv[i]);
		return -EINVAL;
#undef KEY
	}
	if (r->has_remote && r->remote_group[0]) {
		snprintf(err, errlen, "remote= and remote-group= exclude each other");
		return -EINVAL;
	}
	if (r->has_remote && ethertype && ethertype != r->remote.af) {
		snprintf(err, errlen, "remote is IPv%u but ethertype=ipv%d", r->remote.af, ethertype);
		return -EINVAL;
	}
	r->af = (uint8_t)(ethertype ? ethertype : r->has_remote ? r->remote.af : 4);
	if (ports) {
		if (r->proto != 6 && r->proto != 17 && r->proto != 1) {
			snprintf(err, errlen, "port= needs proto=tcp, udp or icmp (the ICMP type)");
			return -EINVAL;
		}
		if (parse_ports(ports, r) || (r->proto == 1 && (r->pmin != r->pmax || r->pmin > 255))) {
			snprintf(err, errlen, "port=%s: expected N or N-M (0-65535; ICMP: one type "
				 "0-255)", ports);
			return -EINVAL;
		}
	}
	return 0;
}

void sg_format_rule(const struct sg_rule *r, struct ds *ds)
{
	static const char *const protos[256] = { [0] = "any", [1] = "icmp", [6] = "tcp",
						 [17] = "udp" };

	ds_put_format(ds, "%s proto=%s", r->dir == SG_INGRESS ? "ingress" : "egress",
		      protos[r->proto]);
	if (r->has_ports && r->pmin == r->pmax)
		ds_put_format(ds, " port=%u", r->pmin);
	else if (r->has_ports)
		ds_put_format(ds, " port=%u-%u", r->pmin, r->pmax);
	if (r->has_remote) {
		ds_put_cstr(ds, " remote=");
		sg_format_addr(&r->remote, ds);
	}
	if (r->remote_group[0])
		ds_put_format(ds, " remote-group=%s", r->remote_group);
	ds_put_format(ds, " ethertype=ipv%u", r->af);
}
