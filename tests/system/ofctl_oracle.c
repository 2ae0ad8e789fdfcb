/*
 * Oracle: ovs-ofctl parse-flow against xvio's flow parser.
 *
 * For every line of the flows file:
 *   1. xvio parses the line (F1).
 *   2. ovs-ofctl parse-flow parses it and prints its canonical form; that
 *      text is read back with xvio's parser (F2). OVS's flow_mod header words
 *      (table:N cookie:X idle:N hard:N importance:N) are renamed to the
 *      keywords they stand for; nothing else is rewritten.
 *   3. F1 and F2 must be equal: same key, mask, priority, table, cookie,
 *      timeouts, flags and action records. The only normalization of the
 *      records: note bytes lose trailing zeros (OVS pads notes to 6 bytes;
 *      notes do nothing).
 *   4. The printed match (ofctl_format_match) is also compared with the one
 *      OVS printed, character for character, and the action text likewise;
 *      these are reported (and printed when they differ) but not failures,
 *      because OVS prints actions in the form of the OpenFlow version it
 *      encoded to (load:...->NXM_NX_IP_ECN[] for mod_nw_ecn under 1.0).
 *
 * Ports are numbers in the file, so no port-name normalization is needed.
 * Lines OVS cannot encode in OpenFlow 1.0 (and lines with goto_table, which
 * OVS turns into resubmit under 1.0, or importance, which 1.0 drops) are run
 * with -O OpenFlow15.
 *
 * Exit 77 (skip) when ovs-ofctl is not installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ofctl.h"

static int lookup_num(const char *name, uint16_t *id, void *aux)
{
	char *end;
	long v = strtol(name, &end, 10);

	(void)aux;
	if (!*name || *end || v < 0 || v >= 0xff00)
		return -ENOENT;
	*id = (uint16_t)v;
	return 0;
}

static char *shell_quote(const char *s)
{
	size_t n = strlen(s);
	char *q = malloc(4 * n + 3), *p = q;

	*p++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *s;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

/* Run ovs-ofctl; the text after "ADD " of its flow_mod line, or NULL. */
static char *ovs_parse(const char *line, const char *proto)
{
	char *q = shell_quote(line), cmd[8192], buf[8192], *res = NULL;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ovs-ofctl %s parse-flow %s 2>&1", proto, q);
	free(q);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	while (fgets(buf, sizeof(buf), p)) {
		char *add = strstr(buf, "_FLOW_MOD");

		if (add && (add = strstr(add, ": ADD ")) && !res) {
			add += 6;
			add[strcspn(add, "\n")] = '\0';
			res = strdup(add);
		}
	}
	pclose(p);
	return res;
}

/* OVS's header words into flow keywords; the match and actions parts. */
static void ovs_to_xvio(const char *ovs, char *out, size_t n, char *match, char *acts)
{
	static const char *const words[][2] = {
		{ "table:", "table=" }, { "cookie:", "cookie=" }, { "idle:", "idle_timeout=" },
		{ "hard:", "hard_timeout=" }, { "importance:", "importance=" },
	};
	char *copy = strdup(ovs), *tok, *save = NULL;

	out[0] = match[0] = acts[0] = '\0';
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		bool header = false;

		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (!strncmp(tok, words[i][0], strlen(words[i][0]))) {
				snprintf(out + strlen(out), n - strlen(out), "%s%s ", words[i][1],
					 tok + strlen(words[i][0]));
				header = true;
			}
		if (header)
			continue;
		snprintf(out + strlen(out), n - strlen(out), "%s ", tok);
		if (!strncmp(tok, "actions=", 8))
			strcpy(acts, tok + 8);
		else if (strchr(tok, '=') || strchr(tok, ',') || !strcmp(tok, "ip") ||
			 !strcmp(tok, "ipv6") || !strcmp(tok, "arp") || !strcmp(tok, "tcp") ||
			 !strcmp(tok, "udp") || !strcmp(tok, "icmp") || !strcmp(tok, "icmp6") ||
			 !strcmp(tok, "rarp") || !strcmp(tok, "mpls") || !strcmp(tok, "mplsm") ||
			 !strcmp(tok, "sctp") || !strcmp(tok, "tcp6") || !strcmp(tok, "udp6") ||
			 !strcmp(tok, "sctp6") || !strcmp(tok, "igmp"))
			strcpy(match, tok);
	}
	free(copy);
}

/* Notes: drop trailing zero bytes (OVS pads them to 6); the records are
 * rebuilt because a shorter note is a shorter record. */
static void normalize_notes(struct ofpbuf *b)
{
	struct ofpbuf nb = { 0 };

	OFPACT_FOREACH(a, b->data, b->len) {
		const uint8_t *p = (const uint8_t *)(a + 1);
		size_t n = a->type == OFPACT_NOTE && a->len > sizeof(*a) ? p[0] : 0;
		uint8_t *q;

		if (a->type != OFPACT_NOTE) {
			q = ofpbuf_put(&nb, a->type, a->len);
			memcpy(q, a, a->len);
			continue;
		}
		while (n && !p[n])
			n--;
		q = ofpbuf_put(&nb, OFPACT_NOTE, sizeof(*a) + 1 + n);
		q[sizeof(*a)] = (uint8_t)n;
		memcpy(q + sizeof(*a) + 1, p + 1, n);
	}
	ofpbuf_free(b);
	*b = nb;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "tests/system/ofctl_oracle.flows";
	int n = 0, n_fail = 0, n_match_same = 0, n_act_same = 0, n_v15 = 0;
	char line[4096];
	FILE *f;

	if (system("ovs-ofctl --version >/dev/null 2>&1") != 0) {
		printf("SKIP: ovs-ofctl not installed (Debian: openvswitch-common)\n");
		return 77;
	}
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct ofctl_flow f1, f2;
		char err[256], conv[8192], omatch[4096], oacts[4096];
		struct ds ds = { 0 };
		char *ovs;
		const char *proto = "";

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		n++;
		if (ofctl_parse_flow(line, OFCTL_ADD, lookup_num, NULL, &f1, err, sizeof(err))) {
			printf("FAIL xvio rejects: %s\n     %s\n", line, err);
			n_fail++;
			continue;
		}
		ovs = strstr(line, "goto_table") || strstr(line, "importance") ? NULL : ovs_parse(line, "");
		if (!ovs) {
			proto = "-O OpenFlow15";
			ovs = ovs_parse(line, proto);
			n_v15++;
		}
		if (!ovs) {
			printf("FAIL ovs-ofctl rejects: %s\n", line);
			n_fail++;
			ofctl_flow_destroy(&f1);
			continue;
		}
		ovs_to_xvio(ovs, conv, sizeof(conv), omatch, oacts);
		if (ofctl_parse_flow(conv, OFCTL_ADD, lookup_num, NULL, &f2, err, sizeof(err))) {
			printf("FAIL xvio rejects ovs-ofctl's output: %s\n     ovs: %s\n     %s\n",
			       line, ovs, err);
			n_fail++;
			ofctl_flow_destroy(&f1);
			free(ovs);
			continue;
		}
		normalize_notes(&f1.actions);
		normalize_notes(&f2.actions);
		/* OVS omits cookie=0 and table=0 when it prints an add; for an
		 * add those are the defaults, so compare the values only. */
		f2.has_cookie = f1.has_cookie;
		if (f1.table == 0)
			f2.has_table = f1.has_table;
		if (!ofctl_flow_equal(&f1, &f2)) {
			struct ds d2 = { 0 };

			ofctl_format_flow(&ds, &f1, NULL, NULL, NULL);
			ofctl_format_flow(&d2, &f2, NULL, NULL, NULL);
			printf("FAIL differs: %s\n     ovs%s: %s\n     xvio: %s\n     ovs re-read: %s\n",
			       line, proto, ovs, ds_cstr(&ds), ds_cstr(&d2));
			ds_destroy(&d2);
			n_fail++;
		} else {
			ds_clear(&ds);
			ofctl_format_match(&ds, &f1.match, f1.priority, NULL, NULL);
			if (!strcmp(ds_cstr(&ds), omatch))
				n_match_same++;
			else
				printf("note match text: ovs \"%s\" xvio \"%s\"\n", omatch, ds_cstr(&ds));
			ds_clear(&ds);
			ofctl_format_actions(&ds, f1.actions.data, f1.actions.len, NULL, NULL);
			if (!strcmp(ds_cstr(&ds), oacts))
				n_act_same++;
			else
				printf("note action text: ovs%s \"%s\" xvio \"%s\"\n", proto, oacts,
				       ds_cstr(&ds));
		}
		ds_destroy(&ds);
		ofctl_flow_destroy(&f1);
		ofctl_flow_destroy(&f2);
		free(ovs);
	}
	fclose(f);
	printf("%d flows: %d semantic mismatches; match text identical in %d, action text in %d; "
	       "%d needed OpenFlow 1.5\n", n, n_fail, n_match_same, n_act_same, n_v15);
	return n_fail ? 1 : 0;
}
