/*
 * The datapath proper: what a PMD runs for every received burst. Parse,
 * decide (bridge or cross-connect), buffer per output port, flush.
 *
 * No locks, atomics read-modify-writes or allocations per packet, except the
 * packet clones a flood needs (taken from the PMD's own pool).
 */
#include <stddef.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "dp_priv.h"
#include "parse.h"
#include "../tnl/tnl.h"

#define ETH_HLEN	14
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88a8

#define DROP(ctx, reason, p) do { \
	COUNTER_ADD((ctx)->drops[DP_DROP_##reason], 1); \
	pkt_free(p); \
} while (0)

/* Destination (at m) or source (at m + 6) MAC as an integer; reads 8 bytes,
 * which a frame of at least ETH_HLEN bytes always has from either offset. */
static inline uint64_t mac_load8(const uint8_t *m)
{
	uint64_t v;

	memcpy(&v, m, sizeof(v));
	return __builtin_bswap64(v) >> 16;
}

static void tx_enqueue(struct dp_pmd *ctx, struct port *out, struct pkt *p)
{
	struct dp_txbuf *tb = &ctx->tx[out->id];

	if (!tb->port) {
		ctx->dirty[ctx->n_dirty++] = out->id;
		tb->port = out;
	}
	tb->pkts[tb->n++] = p;
	if (unlikely(tb->n == PKT_BURST)) {
		port_tx_burst(out, ctx->txq, tb->pkts, PKT_BURST);
		tb->n = 0;
	}
}

/* tx_enqueue for n packets to one port: copied in runs, not one by one (a
 * megaflow's single output gets the whole run of packets that hit it). */
static void tx_enqueue_bulk(struct dp_pmd *ctx, struct port *out, struct pkt **pkts, uint16_t n)
{
	struct dp_txbuf *tb = &ctx->tx[out->id];

	if (!tb->port) {
		ctx->dirty[ctx->n_dirty++] = out->id;
		tb->port = out;
	}
	while (n) {
		uint16_t k = (uint16_t)(PKT_BURST - tb->n) < n ? (uint16_t)(PKT_BURST - tb->n) : n;

		memcpy(&tb->pkts[tb->n], pkts, k * sizeof(*pkts));
		tb->n = (uint16_t)(tb->n + k);
		pkts += k;
		n = (uint16_t)(n - k);
		if (tb->n == PKT_BURST) {
			port_tx_burst(out, ctx->txq, tb->pkts, PKT_BURST);
			tb->n = 0;
		}
	}
}

void dp_flush(struct dp_pmd *ctx)
{
	for (uint16_t i = 0; i < ctx->n_dirty; i++) {
		struct dp_txbuf *tb = &ctx->tx[ctx->dirty[i]];

		if (tb->n)
			port_tx_burst(tb->port, ctx->txq, tb->pkts, tb->n);
		tb->n = 0;
		tb->port = NULL;
	}
	ctx->n_dirty = 0;
}

/* Copy to every bridged port but the input; the last one gets the original. */
static void flood(struct dp_pmd *ctx, const struct dp_conf *conf, uint16_t in_id, struct pkt *p)
{
	uint16_t last = PORT_ID_NONE;

	for (uint16_t i = 0; i < conf->n_flood; i++) {
		uint16_t id = conf->flood[i];

		if (id == in_id)
			continue;
		if (last != PORT_ID_NONE) {
			struct pkt *c = pkt_clone(p);

			if (unlikely(!c))
				COUNTER_ADD(ctx->drops[DP_DROP_FLOOD_NO_BUF], 1);
			else
				tx_enqueue(ctx, conf->ports[last], c);
		}
		last = id;
	}
	if (unlikely(last == PORT_ID_NONE)) {
		DROP(ctx, NO_OUTPUT, p);
		return;
	}
	COUNTER_ADD(ctx->flooded, 1);
	tx_enqueue(ctx, conf->ports[last], p);
}

/*
 * The NORMAL action: the learning bridge, for one packet. Learning and the
 * MAC lookup happen here, per packet, against the shared MAC table, so a
 * megaflow that says "normal" needs to match no MAC bit and stays right
 * while hosts come, go and move.
 */
void dp_normal(struct dp_pmd *ctx, struct pkt *p)
{
	const struct dp_conf *conf = rcu_dereference(dp_conf_rcu);
	uint16_t in_id = p->in_port, out;
	uint64_t dst, src;
	int r;

	if (unlikely(p->len < ETH_HLEN)) {
		DROP(ctx, RUNT, p);
		return;
	}
	dst = mac_load8(p->data);
	src = mac_load8(p->data + 6);
	/* A group or all-zero source is invalid: never learn it nor forward
	 * it (the Linux bridge drops it too). */
	if (unlikely((src >> 40) & 1 || src == 0)) {
		DROP(ctx, BAD_SRC_MAC, p);
		return;
	}
	r = fdb_learn(src, in_id, fdb_now());
	if (unlikely(r)) {
		if (r == 1)
			COUNTER_ADD(ctx->learned, 1);
		else
			COUNTER_ADD(ctx->moved, 1);
	}
	if ((dst >> 40) & 1) {
		flood(ctx, conf, in_id, p);
		return;
	}
	out = fdb_lookup(dst);
	if (out == PORT_ID_NONE) {
		flood(ctx, conf, in_id, p);
		return;
	}
	if (unlikely(out == in_id)) {
		DROP(ctx, DST_IS_IN_PORT, p);
		return;
	}
	/* An entry left by a port that has since gone or been cross-connected
	 * is as good as unknown. */
	if (unlikely(!conf->ports[out] || conf->xc_peer[out] != PORT_ID_NONE)) {
		flood(ctx, conf, in_id, p);
		return;
	}
	tx_enqueue(ctx, conf->ports[out], p);
}

/* The output hook of action execution (dpact.h). */
void dp_output(struct dp_pmd *ctx, uint16_t port_id, struct pkt **pkts, uint16_t n)
{
	const struct dp_conf *conf = rcu_dereference(dp_conf_rcu);
	struct port *out = port_id < PORT_MAX ? conf->ports[port_id] : NULL;

	if (unlikely(!out)) {
		COUNTER_ADD(ctx->drops[DP_DROP_OUT_PORT_GONE], n);
		pkt_free_bulk(pkts, n);
		return;
	}
	tx_enqueue_bulk(ctx, out, pkts, n);
}

/* A miss in both caches: run the pipeline, install its megaflow. Returns the
 * megaflow, or NULL when it could not be installed, in which case the packet
 * was handled here with the freshly computed actions. */
static __cold struct mflow_entry *upcall(struct dp_pmd *ctx, struct pkt *p,
					 const struct flow_key *key, uint64_t now)
{
	struct xlate_out out = { 0 };
	struct flow_match m;
	struct mflow_entry *e = NULL;
	bool existed = false, decided = false;

	COUNTER_ADD(ctx->n_upcalls, 1);
	if (unlikely(xlate(key, &out) < 0))
		goto fail;
	decided = true;
	m.mask = out.wc;
	flow_key_and(&m.key, key, &out.wc);
	e = mflow_insert(&dp_mflow, &m, out.acts.data, (uint32_t)out.acts.len, out.version,
			 now, &existed);
	if (unlikely(!e))
		goto fail;
	if (!existed)
		reval_note_install(e, &out);
	dpact_buf_free(&out.acts);
	return e;
fail:
	/* Not cached (cache full, no memory): this packet still gets the
	 * decision if there is one; the next one of its flow tries again. */
	COUNTER_ADD(ctx->n_upcall_fail, 1);
	if (decided) {
		/* On a private key: the caller's may be shared with the packets
		 * after this one (classify), and actions may write it. */
		struct flow_key k = *key;

		dpact_execute(&ctx->act, p, &k, out.acts.data, out.acts.len);
	}
	else
		pkt_free(p);
	dpact_buf_free(&out.acts);
	return NULL;
}

/* *d = *s in whole vectors: gcc -O2 copies the 320-byte struct in 8-byte
 * moves (~43 instructions, callgrind). */
static inline void key_copy(struct flow_key *d, const struct flow_key *s)
{
#if defined(__AVX512F__)
#pragma GCC unroll 8
	for (size_t i = 0; i < sizeof(*d) / 64; i++)
		_mm512_storeu_si512((char *)d + 64 * i, _mm512_loadu_si512((const char *)s + 64 * i));
#elif defined(__AVX2__)
#pragma GCC unroll 16
	for (size_t i = 0; i < sizeof(*d) / 32; i++)
		_mm256_storeu_si256((__m256i *)(void *)((char *)d + 32 * i),
				    _mm256_loadu_si256((const __m256i *)(const void *)((const char *)s + 32 * i)));
#else
	*d = *s;
#endif
}

/* emc_key_eq for the key before it in the burst, first on the words where
 * distinct flows usually differ (addresses, ports), so a burst of many flows
 * does not pay a whole-key compare per packet. */
static inline bool key_same_as_prev(const struct flow_key *a, const struct flow_key *b)
{
	enum { W_NW = offsetof(struct flow_key, nw_src) / 8,
	       W_TP = offsetof(struct flow_key, tp_src) / 8 };
	const flow_word *x = flow_u64(a), *y = flow_u64(b);

	if ((x[W_NW] ^ y[W_NW]) | (x[W_TP] ^ y[W_TP]))
		return false;
	return emc_key_eq(a, b);
}

/* Before actions run over pkts[i..j): where they may write keys (ct fills
 * its fields for a recirculation), each packet gets its own key in keys[],
 * where it shares another's (a frame with the headers of the one before
 * it, see pipeline). The list is looked at only where a key is shared, so
 * a burst of many flows does not pay for it per packet. */
static void keys_unshare(struct dp_pmd *ctx, const struct flow_key **kp, struct flow_key *keys,
			 uint16_t i, uint16_t j, const struct mflow_actions *a)
{
	uint16_t from = i;

	while (i < j && kp[i] == &keys[i])
		i++;
	if (i == j || !dpact_writes_keys(a->data, a->len))
		return;
	/* ct(table=N) alone writes: it gives a key of its own only to a
	 * packet whose verdict differs from those it shares one with. */
	if (dpact_keys_first_ct(a->data, a->len)) {
		ctx->act.ct_store = keys + from;
		return;
	}
	for (; i < j; i++) {
		if (kp[i] != &keys[i]) {
			key_copy(&keys[i], kp[i]);
			kp[i] = &keys[i];
		}
	}
}

/* How many bits of bits are set in a row from bit i (bits 32 and up are
 * clear, so a run ends in the burst), and the mask of such a run. */
static inline uint32_t bit_run(uint32_t bits, unsigned i)
{
	return (uint32_t)__builtin_ctzll(~((uint64_t)bits >> i));
}

static inline uint32_t run_mask(uint32_t run, unsigned i)
{
	return (uint32_t)(((1ull << run) - 1) << i);
}

/* The end of the run of packets from i that hit flows[i]'s megaflow,
 * counted to it. */
static inline uint16_t megaflow_run(struct dp_pmd *ctx, struct pkt **pkts,
				    struct mflow_entry *const *flows, uint16_t i, uint16_t n,
				    uint32_t took_prev, uint64_t now)
{
	struct mflow_entry *e = flows[i];
	uint32_t bytes = pkts[i]->len;
	/* Bit k of took_prev: packet k took packet k - 1's megaflow and is
	 * live, so the run's start is known without comparing (bits n and
	 * up are clear). */
	uint16_t j = (uint16_t)(i + 1 + bit_run(took_prev, i + 1u));

	for (uint16_t k = (uint16_t)(i + 1); k < j; k++)
		bytes += pkts[k]->len;
	while (j < n && flows[j] == e && pkts[j]) {
		bytes += pkts[j]->len;
		j++;
	}
	mflow_account(&dp_mflow, ctx->txq, e, j - i, bytes, now);
	return j;
}

_Static_assert(PKT_BURST <= 32, "classify: the same bits are a uint32_t");

/* One EMC lookup of key, counted in *lookups for the bypass window; *h
 * keeps the hash for the insert after a miss. */
static inline struct mflow_entry *emc_probe(struct dp_pmd *ctx, const struct flow_key *key,
					    uint32_t *h, uint16_t *lookups)
{
	*h = emc_hash(key);
	(*lookups)++;
	return emc_lookup(&ctx->emc, key, *h);
}

/* Where a burst tries whether a packet has the one before it's headers or
 * key when the one before did not: packets 1, 4, 8, 12, ... (bit i). After a
 * success every packet tries. A burst of all-distinct flows then pays for
 * few failed compares, and one of a single flow finds it at packet 1. */
#define SAME_TRY_BITS	0x11111112u

/* Exact-match cache → megaflow cache → (miss) pipeline for n parsed packets,
 * then each megaflow's actions over the run of packets that hit it (runs of
 * megaflows that only output to one port: one output call). kp[i] is
 * packet i's key: &keys[i], or, when bit i of same is set, the key of the
 * packet before it (same headers, not copied: most megaflows only output,
 * and read no key). keys[] is working storage the actions may write. */
static void classify(struct dp_pmd *ctx, struct pkt **pkts, struct flow_key *keys,
		     const struct flow_key **kp, uint16_t n, uint32_t same, uint64_t now)
{
	struct mflow_entry *flows[PKT_BURST], *found[PKT_BURST];
	const struct flow_key *mkeys[PKT_BURST];
	uint32_t hs[PKT_BURST];
	uint8_t midx[PKT_BURST];
	uint32_t alias = 0;		/* bit i: takes packet i - 1's megaflow */
	/* alias as pass 1 leaves it (pass 3 consumes alias). A set bit whose
	 * packet before was handled by the pipeline is never reached by a
	 * run: runs start at a live packet, and a set bit after a live one
	 * took its megaflow and is live. */
	uint32_t took_prev;
	uint32_t emc_missed = 0;	/* bit i: looked up in the EMC, missed */
	/* Packets 1, 4, 8, ... compare keys with the one before (no alias
	 * without the EMC: the same exact-match rule as for shared keys). */
	const uint32_t try_bits = ctx->emc.enabled ? SAME_TRY_BITS : 0;
	uint16_t i, nm = 0, hits = 0, mhits = 0, lookups = 0, ehits = 0;
	/* With one megaflow subtable the megaflow lookup is itself an exact
	 * match, on fewer words than the EMC's whole key: the EMC would only
	 * add its hash and compare (closed loop, 1,000 rules, 256 flows:
	 * +6 %). Such bursts count as bypassed. */
	bool use_emc = cls_n_subtables(&dp_mflow.cls) > 1 && emc_burst_active(&ctx->emc);
	bool emc_on = ctx->emc.enabled;

	/* Pass 1, what needs no megaflow lookup: a burst is mostly one flow,
	 * and a packet that shares its key with the one before it (same)
	 * or whose key equals it takes the same megaflow, with no hash and
	 * no cache probe (an exact match, like the EMC's). Then the EMC. */
	for (i = 0; i < n; i++) {
		if (same >> i & 1) {
			uint32_t run = bit_run(same, i);

			alias |= run_mask(run, i);
			i = (uint16_t)(i + run - 1);
			continue;
		}
		/* Tried after a success and on every 4th packet, like the
		 * pipeline's shared keys, so all-distinct flows pay little;
		 * and after an EMC miss: the rest of a new flow's run (TCP,
		 * whose frames differ in IP ID and seq) then takes its
		 * megaflow instead of missing the EMC (its key goes in only
		 * in pass 3) and counting against it in the bypass window. */
		if (((alias << 1 | try_bits | emc_missed << 1) >> i & 1) &&
		    key_same_as_prev(kp[i], kp[i - 1])) {
			alias |= 1u << i;
			continue;
		}
		flows[i] = NULL;
		if (use_emc && emc_can_hold(kp[i])) {
			if (likely((flows[i] = emc_probe(ctx, kp[i], &hs[i], &lookups)) != NULL)) {
				hits++;
				ehits++;
				continue;
			}
			emc_missed |= 1u << i;
		}
		midx[nm] = (uint8_t)i;
		mkeys[nm++] = kp[i];
	}
	took_prev = alias;
	/* Pass 2: the megaflow cache, the whole burst's misses at once. */
	if (nm)
		mflow_lookup_batch(&dp_mflow, mkeys, nm, found);
	/* Pass 3, in order: misses go up to the pipeline, whose megaflow the
	 * packets after them may already take. */
	for (uint16_t j = 0; j < nm || alias;) {
		uint16_t next_m = j < nm ? midx[j] : n;
		uint16_t next_a = alias ? (uint16_t)__builtin_ctz(alias) : n;
		struct mflow_entry *e;

		if (next_a < next_m) {
			i = next_a;
			if (likely(flows[i - 1] != NULL)) {
				/* The whole run of them. */
				uint32_t run = bit_run(alias, i);

				for (uint32_t k = 0; k < run; k++)
					flows[i + k] = flows[i - 1];
				alias &= ~run_mask(run, i);
				hits = (uint16_t)(hits + run);
				continue;
			}
			alias &= alias - 1;
			/* Its predecessor went to the pipeline and was handled
			 * there (not cached): this one looks up on its own. */
			if (use_emc && emc_can_hold(kp[i]) &&
			    (flows[i] = emc_probe(ctx, kp[i], &hs[i], &lookups)) != NULL) {
				hits++;
				ehits++;
				continue;
			}
			e = NULL;
		} else {
			i = next_m;
			e = found[j++];
		}
		/* Pass 2's miss: a packet before it in this burst may have
		 * installed its megaflow since. */
		if (e || (e = mflow_lookup(&dp_mflow, kp[i])) != NULL) {
			mhits++;
		} else if (!(e = upcall(ctx, pkts[i], kp[i], now))) {
			pkts[i] = NULL;	/* handled */
			flows[i] = NULL;
			continue;
		}
		if (use_emc)	/* it leaves out keys it cannot hold */
			emc_insert(&ctx->emc, kp[i], hs[i], e);
		flows[i] = e;
	}
	if (use_emc)
		emc_burst_done(&ctx->emc, lookups, ehits);
	else if (emc_on)
		COUNTER_ADD(ctx->n_emc_bypassed, n);
	COUNTER_ADD(ctx->n_emc_hits, hits);
	COUNTER_ADD(ctx->n_mflow_hits, mhits);
	/* Runs of packets of one megaflow go through its actions together. */
	for (i = 0; i < n;) {
		struct mflow_entry *e = flows[i];
		const struct mflow_actions *a;
		const struct dpact_output *o;
		uint16_t j;

		if (!pkts[i]) {
			i++;
			continue;
		}
		a = mflow_actions(e);
		j = megaflow_run(ctx, pkts, flows, i, n, took_prev, now);
		if ((o = dpact_single_output(a->data, a->len))) {
			/* Runs of other megaflows right after it that only
			 * output to the same port join its output call (many
			 * flows, one decision: a burst of 100,000 flows makes
			 * a megaflow per packet). */
			while (j < n && pkts[j]) {
				const struct mflow_actions *a2 = mflow_actions(flows[j]);
				const struct dpact_output *o2 = dpact_single_output(a2->data, a2->len);

				if (!o2 || o2->port != o->port)
					break;
				j = megaflow_run(ctx, pkts, flows, j, n, took_prev, now);
			}
			dp_output(ctx, o->port, pkts + i, (uint16_t)(j - i));
		} else {
			keys_unshare(ctx, kp, keys, i, j, a);
			dpact_execute_slow(&ctx->act, pkts + i, kp + i, (uint16_t)(j - i),
					   a->data, a->len);
			ctx->act.ct_store = NULL;
		}
		i = j;
	}
}

/* Parse, then classify and act. tun: the burst came out of a tunnel
 * (tnl_rx), a constant in each caller, so each gets its own copy. */
static inline __attribute__((always_inline)) void
pipeline(struct dp_pmd *ctx, uint16_t in_id, struct pkt **pkts, uint16_t n, bool tun)
{
	const struct flow_key *kp[PKT_BURST];
	uint32_t same = 0;		/* bit i: packet i has packet i - 1's key */
	bool prev_same = false;		/* bit i - 1 of same */
	const uint32_t try_bits = ctx->emc.enabled ? SAME_TRY_BITS : 0;

	/* Extract all first: hashing straight after each extract stalls on
	 * the key's stores (measured, parse_bench). */
	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			prefetch0(pkts[i + 1]->data);
		pkts[i]->in_port = in_id;
		/* A frame whose headers are those of the one before it has its
		 * key, shared, not parsed (exact-match, so only with the EMC).
		 * Tried after a success and on every 4th packet, so a burst of
		 * all-distinct flows pays for few failed compares. A frame
		 * that had its predecessor's headers is as eligible as it. */
		if (((same << 1 | try_bits) >> i & 1) &&
		    (prev_same || flow_same_eligible(pkts[i - 1], kp[i - 1])) &&
		    flow_same_frame(pkts[i], pkts[i - 1], tun)) {
			kp[i] = kp[i - 1];
			same |= 1u << i;
			prev_same = true;
		} else {
			flow_extract(pkts[i], &ctx->keys[i]);
			kp[i] = &ctx->keys[i];
			prev_same = false;
		}
	}
	classify(ctx, pkts, ctx->keys, kp, n, same, time_fast_ns());
}

_Static_assert(offsetof(struct flow_key, ct_mark) % 8 == 0 &&
	       offsetof(struct flow_key, dl_dst) % 8 == 0, "dp_recirc: ct fields are whole words");

/* Whether two keys' ct fields (len bytes from off, whole words) are equal. */
static inline bool ct_fields_eq(const struct flow_key *a, const struct flow_key *b, size_t off,
				size_t len)
{
	const flow_word *x = flow_u64(a) + off / 8, *y = flow_u64(b) + off / 8;
	flow_word d = 0;

	if (a == b)
		return true;
	for (size_t i = 0; i < len / 8; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/*
 * The RECIRC action (dpact.h): after ct(table=N). Each packet is parsed again
 * (NAT may have rewritten it), gets the ct fields the CT action left in its
 * old key, the registers and metadata of the pipeline at that point and
 * recirc_id = N + 1, and goes through the caches again: the EMC and the
 * megaflows see a different key (recirc_id, ct_state...) from the first
 * pass, so each pass has its own entries. Nested passes use this frame's
 * keys; the depth is bounded.
 */
void dp_recirc(struct dp_pmd *ctx, struct pkt **pkts, const struct flow_key *const *old,
	       uint16_t n, const struct dpact_recirc *r)
{
	struct flow_key keys[PKT_BURST];
	const struct flow_key *kp[PKT_BURST];
	const size_t ct_from = offsetof(struct flow_key, ct_mark);
	const size_t ct_len = offsetof(struct flow_key, dl_dst) - ct_from;

	if (unlikely(ctx->recirc_depth >= DPACT_MAX_RECIRC)) {
		COUNTER_ADD(ctx->act.drops[DPACT_DROP_RECIRC_TOO_DEEP], n);
		pkt_free_bulk(pkts, n);
		return;
	}
	uint32_t same = 0;

	for (uint16_t i = 0; i < n; i++) {
		/* A frame with its predecessor's headers and ct verdict (a
		 * burst of one flow) has its key, shared, as in pipeline, and
		 * tried as sparingly there. */
		if (i && ctx->emc.enabled && (same >> (i - 1) & 1 || !(i & 3) || i == 1) &&
		    flow_extract_same(pkts[i], pkts[i - 1], kp[i - 1]) &&
		    ct_fields_eq(old[i], old[i - 1], ct_from, ct_len)) {
			kp[i] = kp[i - 1];
			same |= 1u << i;
			continue;
		}
		flow_extract(pkts[i], &keys[i]);
		memcpy((uint8_t *)&keys[i] + ct_from, (const uint8_t *)old[i] + ct_from, ct_len);
		keys[i].recirc_id = r->table + 1u;
		kp[i] = &keys[i];
		keys[i].metadata = r->metadata;
		memcpy(keys[i].regs, r->regs, sizeof(keys[i].regs));
	}
	ctx->recirc_depth++;
	classify(ctx, pkts, keys, kp, n, same, time_fast_ns());
	ctx->recirc_depth--;
}

static void tnl_deliver(void *arg, uint16_t port, struct pkt **pkts, uint16_t n)
{
	pipeline(arg, port, pkts, n, true);
}

void dp_process(struct dp_pmd *ctx, struct port *in, struct pkt **pkts, uint16_t n)
{
	const struct dp_conf *conf = rcu_dereference(dp_conf_rcu);
	uint16_t in_id = in->id, peer;

	if (unlikely(!conf || in_id >= PORT_MAX || conf->ports[in_id] != in)) {
		for (uint16_t i = 0; i < n; i++)
			DROP(ctx, IN_PORT_GONE, pkts[i]);
		return;
	}
	/* An underlay uplink: ARP for our address and tunnel packets are
	 * handled before classification (tnl.h); the rest goes on. */
	if (unlikely(__atomic_load_n(&tnl_uplink_map[in_id], __ATOMIC_RELAXED))) {
		n = tnl_rx(ctx->txq, in, pkts, n, tnl_deliver, ctx);
		if (!n)
			return;
	}
	peer = conf->xc_peer[in_id];
	if (peer == PORT_ID_NONE) {
		pipeline(ctx, in_id, pkts, n, false);
		return;
	}
	/* Cross-connect: the burst goes out whole, unparsed. */
	if (!ctx->tx[peer].port) {
		port_tx_burst(conf->ports[peer], ctx->txq, pkts, n);
		return;
	}
	tx_enqueue_bulk(ctx, conf->ports[peer], pkts, n);
}
