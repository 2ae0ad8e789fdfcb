/*
 * libFuzzer target: the flow language. The input is one flow string (NULs
 * end it early). It is parsed with every usage, and whatever parses must
 * format and parse back to an equal flow — the round trip the control
 * socket and dump-flows rely on. Groups and meters get the same treatment.
 * A crash, a sanitizer report or an unequal round trip is a bug; a
 * rejected string is the expected outcome for most inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ofctl.h"

/* Ports "p0".."p99" are ids 1..100; plain numbers below 200 also exist. */
static int lookup(const char *name, uint16_t *id, void *aux)
{
	char *end;
	long v;

	(void)aux;
	if (name[0] == 'p' && name[1] >= '0' && name[1] <= '9') {
		v = strtol(name + 1, &end, 10);
		if (!*end && v < 100 && (name[1] != '0' || !name[2])) {
			*id = (uint16_t)(v + 1);
			return 0;
		}
		return -ENOENT;
	}
	v = strtol(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end && v < 200) {
		*id = (uint16_t)v;
		return 0;
	}
	return -ENOENT;
}

static const char *port_name(uint16_t id, void *aux)
{
	static char buf[8];

	(void)aux;
	if (id < 1 || id > 100)
		return NULL;
	snprintf(buf, sizeof(buf), "p%u", id - 1u);
	return buf;
}

static void flow_round_trip(const char *s)
{
	for (int u = OFCTL_ADD; u <= OFCTL_QUERY; u++) {
		struct ofctl_flow f, g;
		struct ds ds = { 0 };
		char err[256];

		if (ofctl_parse_flow(s, (enum ofctl_usage)u, lookup, NULL, &f, err, sizeof(err)))
			continue;
		ofctl_format_flow(&ds, &f, NULL, port_name, NULL);
		if (ofctl_parse_flow(ds_cstr(&ds), (enum ofctl_usage)u, lookup, NULL, &g, err,
				     sizeof(err))) {
			fprintf(stderr, "round trip: \"%s\" -> \"%s\": %s\n", s, ds_cstr(&ds), err);
			abort();
		}
		if (!ofctl_flow_equal(&f, &g)) {
			fprintf(stderr, "round trip: \"%s\" -> \"%s\" differs\n", s, ds_cstr(&ds));
			abort();
		}
		ofctl_flow_destroy(&f);
		ofctl_flow_destroy(&g);
		ds_destroy(&ds);
	}
}

static void group_meter(const char *s)
{
	struct ofctl_group *g = malloc(2 * sizeof(*g));
	struct ofctl_meter m, m2;
	struct ds ds = { 0 };
	char err[256];

	if (g && !ofctl_parse_group(s, OFCTL_ADD, lookup, NULL, &g[0], err, sizeof(err))) {
		ofctl_format_group(&ds, &g[0], port_name, NULL);
		if (ofctl_parse_group(ds_cstr(&ds), OFCTL_ADD, lookup, NULL, &g[1], err, sizeof(err))) {
			fprintf(stderr, "group round trip: \"%s\" -> \"%s\": %s\n", s, ds_cstr(&ds), err);
			abort();
		}
		if (g[0].n_buckets != g[1].n_buckets || g[0].type != g[1].type ||
		    g[0].group_id != g[1].group_id)
			abort();
		for (unsigned i = 0; i < g[0].n_buckets; i++)
			if (g[0].buckets[i].actions.len != g[1].buckets[i].actions.len ||
			    (g[0].buckets[i].actions.len &&
			     memcmp(g[0].buckets[i].actions.data, g[1].buckets[i].actions.data,
				    g[0].buckets[i].actions.len)))
				abort();
		ofctl_group_destroy(&g[0]);
		ofctl_group_destroy(&g[1]);
	}
	free(g);
	ds_clear(&ds);
	if (!ofctl_parse_meter(s, OFCTL_ADD, &m, err, sizeof(err))) {
		ofctl_format_meter(&ds, &m);
		if (ofctl_parse_meter(ds_cstr(&ds), OFCTL_ADD, &m2, err, sizeof(err)) ||
		    memcmp(&m, &m2, sizeof(m))) {
			fprintf(stderr, "meter round trip: \"%s\" -> \"%s\"\n", s, ds_cstr(&ds));
			abort();
		}
	}
	ds_destroy(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	flow_round_trip(s);
	group_meter(s);
	free(s);
	return 0;
}
