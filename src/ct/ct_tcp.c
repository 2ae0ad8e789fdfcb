/*
 * TCP tracking: the netfilter state machine and window check, written from
 * its description (nf_conntrack_proto_tcp.c: the transition table, Guido van
 * Rooij's "Real Stateful TCP Packet Filtering in IP Filter" window bounds).
 *
 * We are a middlebox: we see every packet but do not know which ones reach
 * their destination, so the table accepts what a correct stack might send
 * and the window check refuses only what no correct stack would accept.
 *
 * Everything here runs under the connection's lock (ct_proc.c).
 */
#include "ct_priv.h"

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PSH	0x08
#define TH_ACK	0x10
#define TH_URG	0x20
#define TH_ECE	0x40
#define TH_CWR	0x80

const char *const ct_tcp_state_names[CT_TCP_MAX] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
	"TIME_WAIT", "CLOSE", "SYN_SENT2",
};

enum { IX_SYN, IX_SYNACK, IX_FIN, IX_ACK, IX_RST, IX_NONE, IX_MAX };

#define sNO CT_TCP_NONE
#define sSS CT_TCP_SYN_SENT
#define sSR CT_TCP_SYN_RECV
#define sES CT_TCP_ESTABLISHED
#define sFW CT_TCP_FIN_WAIT
#define sCW CT_TCP_CLOSE_WAIT
#define sLA CT_TCP_LAST_ACK
#define sTW CT_TCP_TIME_WAIT
#define sCL CT_TCP_CLOSE
#define sS2 CT_TCP_SYN_SENT2
#define sIV CT_TCP_MAX
#define sIG CT_TCP_IGNORE

/* [direction][segment class][old state] -> new state. */
static const uint8_t tcp_next[2][IX_MAX][CT_TCP_MAX] = {
	{ /* original direction */
	/*	     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
	/* syn */  { sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
	/* synack */{ sIV, sIV, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
	/* fin */  { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
	/* ack */  { sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
	/* rst */  { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
	/* none */ { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	},
	{ /* reply direction */
	/*	     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
	/* syn */  { sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
	/* synack */{ sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
	/* fin */  { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
	/* ack */  { sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
	/* rst */  { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
	/* none */ { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	},
};

static inline bool before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool after(uint32_t a, uint32_t b)
{
	return before(b, a);
}

bool ct_tcp_valid_flags(uint8_t f)
{
	f &= (uint8_t)~(TH_ECE | TH_CWR | TH_PSH);
	switch (f) {
	case TH_SYN: case TH_SYN | TH_URG: case TH_SYN | TH_ACK:
	case TH_RST: case TH_RST | TH_ACK:
	case TH_FIN | TH_ACK: case TH_FIN | TH_ACK | TH_URG:
	case TH_ACK: case TH_ACK | TH_URG:
		return true;
	}
	return false;
}

static int seg_index(uint8_t f)
{
	if (f & TH_RST)
		return IX_RST;
	if (f & TH_SYN)
		return f & TH_ACK ? IX_SYNACK : IX_SYN;
	if (f & TH_FIN)
		return IX_FIN;
	if (f & TH_ACK)
		return IX_ACK;
	return IX_NONE;
}

/* seq + payload length + SYN + FIN: the sequence space the segment uses. */
static uint32_t seg_end(const uint8_t *th, uint32_t l4_len)
{
	uint32_t hl = (th[12] >> 4) * 4u;

	return ct_be32(th + 4) + (l4_len - hl) + !!(th[13] & TH_SYN) + !!(th[13] & TH_FIN);
}

/* Call fn for each option of the segment (kind, option bytes incl. kind and
 * length, size) until it returns true; stops at a malformed option. */
static void tcp_options_walk(const uint8_t *th, bool (*fn)(int kind, const uint8_t *o, int sz,
							   void *arg), void *arg)
{
	int len = (int)((th[12] >> 4) * 4u) - 20;
	const uint8_t *o = th + 20;

	while (len > 0) {
		int kind = o[0], sz;

		if (kind == 0)
			return;
		if (kind == 1) {
			o++;
			len--;
			continue;
		}
		if (len < 2)
			return;
		sz = o[1];
		if (sz < 2 || sz > len)
			return;
		if (fn(kind, o, sz, arg))
			return;
		o += sz;
		len -= sz;
	}
}

static bool opt_syn(int kind, const uint8_t *o, int sz, void *arg)
{
	struct ct_tcp_peer *p = arg;

	if (kind == 4 && sz == 2)
		p->flags |= CT_TCPF_SACK_PERM;
	else if (kind == 3 && sz == 3) {
		p->scale = o[2] > 14 ? 14 : o[2];
		p->flags |= CT_TCPF_WSCALE;
	}
	return false;
}

/* Window scale and SACK-permitted from a SYN's options. */
static void tcp_options(const uint8_t *th, struct ct_tcp_peer *p)
{
	p->scale = 0;
	p->flags &= (uint8_t)~(CT_TCPF_WSCALE | CT_TCPF_SACK_PERM);
	tcp_options_walk(th, opt_syn, p);
}

static bool opt_sack(int kind, const uint8_t *o, int sz, void *arg)
{
	uint32_t *sack = arg;

	if (kind != 5 || sz < 10 || (sz - 2) % 8)
		return false;
	for (int i = 2; i < sz; i += 8) {
		uint32_t r = ct_be32(o + i + 4);

		if ((int32_t)(r - *sack) > 0)
			*sack = r;
	}
	return true;
}

/* The highest right edge of the SACK blocks, if any beats *sack. */
static void tcp_sack(const uint8_t *th, uint32_t *sack)
{
	tcp_options_walk(th, opt_sack, sack);
}

#define MAXACKWINCONST	66000
#define MAXACKWINDOW(s)	((s)->maxwin > MAXACKWINCONST ? (s)->maxwin : MAXACKWINCONST)

/* Is the segment within what the receiver could accept and the sender
 * could have been acked for? Updates the window state when it is. */
static bool in_window(struct ct_tcp *st, int dir, int index, const uint8_t *th,
		      uint32_t l4_len)
{
	struct ct_tcp_peer *snd = &st->peer[dir], *rcv = &st->peer[!dir];
	uint32_t seq = ct_be32(th + 4), ack = ct_be32(th + 8), sack = ack;
	uint32_t win = ct_be16(th + 14), end = seg_end(th, l4_len), swin;
	uint8_t fl = th[13];

	if (rcv->flags & CT_TCPF_SACK_PERM)
		tcp_sack(th, &sack);
	if (snd->maxwin == 0) {
		/* First segment from this side. */
		if (fl & TH_SYN) {
			/* SYN-ACK in reply to a SYN, or a simultaneous open. */
			snd->end = snd->maxend = end;
			snd->maxwin = win ? win : 1;
			tcp_options(th, snd);
			if (!(snd->flags & CT_TCPF_WSCALE && rcv->flags & CT_TCPF_WSCALE))
				snd->scale = rcv->scale = 0;
			if (!(fl & TH_ACK))
				return true;	/* simultaneous open */
		} else {
			snd->end = end;
			swin = win << snd->scale;
			snd->maxwin = swin ? swin : 1;
			snd->maxend = end + snd->maxwin;
			if (rcv->maxwin == 0)
				rcv->end = rcv->maxend = sack;
		}
	} else if (((st->state == CT_TCP_SYN_SENT && dir == CT_DIR_ORIG) ||
		    (st->state == CT_TCP_SYN_RECV && dir == CT_DIR_REPLY)) &&
		   after(end, snd->end)) {
		/* A retransmitted SYN (or SYN-ACK) with a new ISN. */
		snd->end = snd->maxend = end;
		snd->maxwin = win ? win : 1;
		tcp_options(th, snd);
	}
	if (!(fl & TH_ACK) || ((fl & (TH_ACK | TH_RST)) == (TH_ACK | TH_RST) && ack == 0))
		ack = sack = rcv->end;	/* nothing acked: take it as acking all */
	if (seq == end && (!(fl & TH_RST) || (seq == 0 && st->state == CT_TCP_SYN_SENT)))
		seq = end = snd->end;	/* pure ACK (or the old-BSD RST) */

	if (!(before(seq, snd->maxend + 1) &&
	      after(end, snd->end - rcv->maxwin - 1) &&
	      before(sack, rcv->end + 1) &&
	      after(sack, rcv->end - MAXACKWINDOW(snd) - 1)))
		return false;
	if (!(fl & TH_SYN))
		win <<= snd->scale;
	swin = win + (sack - ack);
	if (snd->maxwin < swin)
		snd->maxwin = swin;
	if (after(end, snd->end)) {
		snd->end = end;
		snd->flags |= CT_TCPF_UNACKED;
	}
	if (fl & TH_ACK) {
		if (!(snd->flags & CT_TCPF_MAXACK_SET)) {
			snd->maxack = ack;
			snd->flags |= CT_TCPF_MAXACK_SET;
		} else if (after(ack, snd->maxack)) {
			snd->maxack = ack;
		}
	}
	if (rcv->maxwin != 0 && after(end, snd->maxend))
		rcv->maxwin += end - snd->maxend;
	if (after(sack + win, rcv->maxend - 1)) {
		rcv->maxend = sack + win;
		if (win == 0)
			rcv->maxend++;
	}
	if (ack == rcv->end)
		rcv->flags &= (uint8_t)~CT_TCPF_UNACKED;
	if (index == IX_ACK) {
		if (st->last_dir == dir && st->last_seq == seq && st->last_ack == ack &&
		    st->last_end == end && st->last_win == win) {
			if (st->retrans < 255)
				st->retrans++;
		} else {
			st->last_dir = (uint8_t)dir;
			st->last_seq = seq;
			st->last_ack = ack;
			st->last_end = end;
			st->last_win = win;
			st->retrans = 0;
		}
	}
	return true;
}

int ct_tcp_new(struct ct_conn *c, const uint8_t *th, uint32_t l4_len)
{
	struct ct_tcp *st = &c->tcp;
	struct ct_tcp_peer *s = &st->peer[CT_DIR_ORIG];
	uint32_t win = ct_be16(th + 14);

	if ((th[13] & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN)
		return CT_INV_TCP_NO_SYN + 1;
	memset(st, 0, sizeof(*st));
	s->end = s->maxend = seg_end(th, l4_len);
	s->maxwin = win ? win : 1;
	tcp_options(th, s);
	st->state = CT_TCP_SYN_SENT;
	st->last_index = IX_SYN;
	st->last_dir = CT_DIR_ORIG;
	return 0;
}

int ct_tcp_update(struct ct_conn *c, int dir, const uint8_t *th, uint32_t l4_len, int *kill)
{
	struct ct_tcp *st = &c->tcp;
	uint8_t fl = th[13];
	int index, old, next;
	bool seen_reply;

	*kill = 0;
	if (!ct_tcp_valid_flags(fl))
		return CT_INV_TCP_FLAGS + 1;
	index = seg_index(fl);
	old = st->state;
	next = tcp_next[dir][index][old];
	switch (next) {
	case CT_TCP_SYN_SENT:
		if (old < CT_TCP_TIME_WAIT)
			break;
		/* A SYN on a closed or closing connection reopens it, once
		 * either side has started the close (RFC 1122 4.2.2.13):
		 * the old connection goes, the SYN makes a new one. */
		if (((st->peer[0].flags | st->peer[1].flags) & CT_TCPF_CLOSE_INIT) ||
		    (st->last_dir == dir && st->last_index == IX_RST)) {
			*kill = CT_TCP_REOPEN;
			return 0;
		}
		/* fall through */
	case CT_TCP_IGNORE:
		/* A SYN-ACK answering a SYN we ignored (the connection was
		 * reset and restarted faster than we saw): take the two as
		 * the new handshake. */
		if (index == IX_SYNACK && st->last_index == IX_SYN && st->last_dir != dir &&
		    ct_be32(th + 8) == st->last_end) {
			struct ct_tcp_peer *p = &st->peer[st->last_dir];

			old = CT_TCP_SYN_SENT;
			next = CT_TCP_SYN_RECV;
			p->end = p->maxend = st->last_end;
			p->maxwin = st->last_win ? st->last_win : 1;
			p->scale = st->last_wscale;
			p->flags = st->last_flags;
			memset(&st->peer[dir], 0, sizeof(st->peer[dir]));
			break;
		}
		st->last_index = (uint8_t)index;
		st->last_dir = (uint8_t)dir;
		st->last_seq = ct_be32(th + 4);
		st->last_end = seg_end(th, l4_len);
		st->last_win = ct_be16(th + 14);
		if (index == IX_SYN && dir == CT_DIR_ORIG) {
			struct ct_tcp_peer seen = { 0 };

			tcp_options(th, &seen);
			st->last_flags = seen.flags;
			st->last_wscale = seen.scale;
		}
		/* Ignored, not invalid: let it pass without changing state. */
		return 0;
	case CT_TCP_MAX:
		return CT_INV_TCP_STATE + 1;
	case CT_TCP_CLOSE:
		if (index == IX_RST && (st->peer[!dir].flags & CT_TCPF_MAXACK_SET) &&
		    before(ct_be32(th + 4), st->peer[!dir].maxack))
			return CT_INV_TCP_RST + 1;	/* RST for data already acked */
		if (index == IX_RST &&
		    (((c->flags & CT_C_SEEN_REPLY) && st->last_index == IX_SYN) ||
		     (!(c->flags & CT_C_ASSURED) && st->last_index == IX_ACK)) &&
		    ct_be32(th + 8) == st->last_end)
			goto in_window;	/* RST answering the segment we saw last */
		break;
	default:
		break;
	}
	if (!in_window(st, dir, index, th, l4_len))
		return (index == IX_RST ? CT_INV_TCP_RST : CT_INV_TCP_WINDOW) + 1;
in_window:
	st->last_index = (uint8_t)index;
	st->last_dir = (uint8_t)dir;
	st->state = (uint8_t)next;
	if (old != next && next == CT_TCP_FIN_WAIT)
		st->peer[dir].flags |= CT_TCPF_CLOSE_INIT;
	/* Both tests below read "a reply was seen" as it was before this
	 * segment, as netfilter does (it sets IPS_SEEN_REPLY after the TCP
	 * handler): a RST that is the first reply is "only a RST came back". */
	seen_reply = c->flags & CT_C_SEEN_REPLY;
	if (dir == CT_DIR_REPLY && !seen_reply)
		__atomic_or_fetch(&c->flags, CT_C_SEEN_REPLY, __ATOMIC_RELAXED);
	if (!seen_reply) {
		/* Only a RST came back: no connection was ever made, so
		 * keep none (netfilter kills it at once too). */
		if (fl & TH_RST)
			*kill = CT_TCP_REMOVE;
	} else if (!(c->flags & CT_C_ASSURED) &&
		   (old == CT_TCP_SYN_RECV || old == CT_TCP_ESTABLISHED) &&
		   next == CT_TCP_ESTABLISHED) {
		__atomic_or_fetch(&c->flags, CT_C_ASSURED, __ATOMIC_RELAXED);
	}
	return 0;
}

enum ct_tmo ct_tcp_tmo(const struct ct_conn *c)
{
	static const uint8_t by_state[CT_TCP_MAX] = {
		[CT_TCP_NONE] = CT_TMO_TCP_CLOSE,
		[CT_TCP_SYN_SENT] = CT_TMO_TCP_SYN_SENT,
		[CT_TCP_SYN_RECV] = CT_TMO_TCP_SYN_RECV,
		[CT_TCP_ESTABLISHED] = CT_TMO_TCP_ESTABLISHED,
		[CT_TCP_FIN_WAIT] = CT_TMO_TCP_FIN_WAIT,
		[CT_TCP_CLOSE_WAIT] = CT_TMO_TCP_CLOSE_WAIT,
		[CT_TCP_LAST_ACK] = CT_TMO_TCP_LAST_ACK,
		[CT_TCP_TIME_WAIT] = CT_TMO_TCP_TIME_WAIT,
		[CT_TCP_CLOSE] = CT_TMO_TCP_CLOSE,
		[CT_TCP_SYN_SENT2] = CT_TMO_TCP_SYN_SENT2,
	};
	enum ct_tmo t = (enum ct_tmo)by_state[c->tcp.state < CT_TCP_MAX ? c->tcp.state : 0];

	/* Data in flight that nobody acks: do not hold it for days. */
	if (((c->tcp.peer[0].flags | c->tcp.peer[1].flags) & CT_TCPF_UNACKED) &&
	    ct_timeouts_ms[t] > ct_timeouts_ms[CT_TMO_TCP_UNACK])
		t = CT_TMO_TCP_UNACK;
	return t;
}
