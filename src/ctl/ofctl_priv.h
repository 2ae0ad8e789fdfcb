/*
 * Private to ofctl_*.c: pieces the flow, action, group and meter parsers and
 * the formatter share.
 */
#ifndef XVIO_OFCTL_PRIV_H
#define XVIO_OFCTL_PRIV_H

#include <stdarg.h>
#include <string.h>

#include "ofctl.h"

#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_RARP	0x8035
#define ETH_P_IPV6	0x86dd
#define ETH_P_MPLS	0x8847
#define ETH_P_MPLSM	0x8848
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88a8

#define OFPM_MAX	0xffff0000u

/* Where parse errors go. */
struct perr {
	char *buf;
	size_t len;
};

int perr_set(struct perr *e, int errnum, const char *fmt, ...) __printf(3, 4);

/* Split the next "key[=:]value" or "key(value)" off *pos (the buffer is
 * written to). Delimiters are ", \t\r\n"; parentheses nest in values.
 * false at the end of the string. */
bool ofctl_next_kv(char **pos, char **key, char **value);

/* An unsigned integer, decimal or 0x hex, at most max. */
int ofctl_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Decimal or 0x hex of any width into an n-byte big-endian integer;
 * -EINVAL syntax, -ERANGE wider than n bytes. */
int ofctl_parse_be(const char *s, uint8_t *be, size_t n);

/* A field by name, alias or NXM/OXM name (NXM_NX_REG0, OXM_OF_METADATA). */
const struct mf_field *ofctl_field_from_name(const char *name);
/* The NXM name OVS prints for f, or NULL. */
const char *ofctl_field_nxm_name(const struct mf_field *f);

/* Resolve a port for in_port/output/resubmit: OFPP_* names, then lookup,
 * then a plain number. -ENOENT if unknown. */
int ofctl_parse_port(const char *s, ofctl_port_lookup_fn *lookup, void *aux, uint16_t *port);
void ofctl_format_port(struct ds *ds, uint16_t port, ofctl_port_name_fn *name, void *aux);

/* Parse s as a value of f, with "/mask" if allowed, into member bytes v and
 * m (m = the field's bits when no mask is given). */
int ofctl_parse_field(const struct mf_field *f, char *s, bool allow_mask,
		      ofctl_port_lookup_fn *lookup, void *aux,
		      uint8_t v[MF_MAX_BYTES], uint8_t m[MF_MAX_BYTES], struct perr *e);
/* Print value (and mask unless it is the field's whole width) of f, given as
 * member bytes, in the field's string form. */
void ofctl_format_field(struct ds *ds, const struct mf_field *f, const uint8_t *v,
			const uint8_t *m, ofctl_port_name_fn *name, void *aux);

/* "reg0[0..7]", "reg0[3]", "reg0[]", or (whole_ok) "reg0". */
int ofctl_parse_subfield(const char *s, bool whole_ok, const struct mf_field **f,
			 unsigned *ofs, unsigned *n_bits, struct perr *e);
void ofctl_format_subfield(struct ds *ds, const struct mf_field *f, unsigned ofs, unsigned n_bits);

/* Actions into out, validated against match m and the flow's table. */
int ofctl_parse_actions__(char *s, const struct flow_match *m, uint8_t table,
			  ofctl_port_lookup_fn *lookup, void *aux, struct ofpbuf *out,
			  struct perr *e);

/* ---- bit helpers on big-endian byte strings ---- */

static inline bool be_is_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

/* Does the n-byte integer fit in n_bits bits? */
static inline bool be_fits(const uint8_t *a, size_t n, unsigned n_bits)
{
	for (size_t i = 0; i < n; i++) {
		unsigned lo = (unsigned)(n - 1 - i) * 8;

		if (lo >= n_bits) {
			if (a[i])
				return false;
		} else if (lo + 8 > n_bits && (a[i] >> (n_bits - lo))) {
			return false;
		}
	}
	return true;
}

/* The lowest set bit and the number of bits of a contiguous run; false if
 * the set bits are not one run (or none). */
static inline bool be_contiguous(const uint8_t *a, size_t n, unsigned *ofs, unsigned *n_bits)
{
	int lo = -1, hi = -1;

	for (unsigned bit = 0; bit < n * 8; bit++) {
		if (a[n - 1 - bit / 8] >> (bit % 8) & 1) {
			if (lo < 0)
				lo = (int)bit;
			else if (hi != (int)bit - 1)
				return false;
			hi = (int)bit;
		}
	}
	if (lo < 0)
		return false;
	*ofs = (unsigned)lo;
	*n_bits = (unsigned)(hi - lo + 1);
	return true;
}

static inline uint64_t be_to_u64(const uint8_t *a, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n > 8 ? n - 8 : 0; i < n; i++)
		v = v << 8 | a[i];
	return v;
}

static inline void u64_to_be(uint64_t v, uint8_t *a, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		a[i] = (uint8_t)v;
		v = n - i < 8 ? v >> 8 : 0;
	}
}

#endif
