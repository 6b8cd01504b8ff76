// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Image reader and verifier.
 *
 * The layout (uapi/linux/snapchan.h; every integer little-endian, every
 * structure at an offset that is a multiple of 8):
 *
 *   offset 0    struct snapchan_img_header            104 bytes
 *               magic "SNCH", version 1, kind, header_len 104, flags 0,
 *               snap_id, group, epoch, begin_ns, end_ns, node_count,
 *               chan_count, record_count, total_len
 *   then        node_count x node section:
 *                 struct snapchan_img_node             48 bytes
 *                 state_len bytes of state, zero padding to a multiple of 8
 *   then        chan_count x channel section:
 *                 struct snapchan_img_chan            144 bytes
 *                 record_count x record:
 *                   struct snapchan_img_record          32 bytes
 *                   len bytes of payload, zero padding to a multiple of 8
 *   total_len-16 struct snapchan_img_trailer            16 bytes
 *               magic "CEND", crc32c of bytes [0, total_len - 16),
 *               total_len again
 *
 * So total_len is a multiple of 8 and at least 120; the sections fill the
 * bytes between header and trailer exactly.  Within a channel, DATA
 * records carry the sequence numbers first_seq, first_seq + 1, ...,
 * next_seq - 1 in that order (markers, seq 0, may sit anywhere between
 * them); a channel without DATA has first_seq == next_seq.
 *
 * The verifier (sc_parse()) never reads outside [buf, buf + len) and does
 * its bounds arithmetic as "is the length greater than what is left"
 * (a subtraction that cannot wrap) rather than "offset + length > end"
 * (an addition that can), so any 64-bit length is safe.  It checks, in
 * this order: magic (-ENOEXEC), version (-EPROTONOSUPPORT), then the
 * header, the lengths, the trailer, the CRC32C and finally the structure
 * of every section (-EBADMSG); snapchan.h lists every check.  While it
 * walks it builds the index (offsets of every node, channel and record)
 * that the accessors use, so that they are O(1) and trust nothing but it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapchan.h"
#include "syscall.h"
#include "internal.h"

struct sc_index {
	size_t    node_count;
	size_t    chan_count;
	size_t    record_count;
	size_t   *node_off;	/* [node_count]: offset of each node struct */
	size_t   *chan_off;	/* [chan_count]: offset of each chan struct */
	size_t   *chan_rec;	/* [chan_count + 1]: first record of each chan */
	size_t   *rec_off;	/* [record_count]: offset of each record */
};

struct snapchan_image {
	uint8_t        *buf;
	size_t          len;
	struct sc_index ix;
};

/* A name or id and where it is, to find duplicates by sorting. */
struct sc_key {
	uint64_t    id;
	const char *name;
	size_t      off;
};

static int __attribute__((format(printf, 4, 5)))
fail(struct snapchan_image_diag *d, int err, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	if (d) {
		d->error = err;
		d->offset = off;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

static void diag_ok(struct snapchan_image_diag *d)
{
	if (d)
		memset(d, 0, sizeof(*d));
}

static void index_free(struct sc_index *ix)
{
	free(ix->node_off);
	free(ix->chan_off);
	free(ix->chan_rec);
	free(ix->rec_off);
	memset(ix, 0, sizeof(*ix));
}

/* A SNAPCHAN_NAME_LEN field holding a NUL-terminated valid name. */
static int name_ok(const uint8_t *field, unsigned int flags)
{
	if (!memchr(field, 0, SNAPCHAN_NAME_LEN))
		return 0;
	return snapchan_name_valid((const char *)field, flags);
}

/* Offset of the first non-zero byte in [p, p + n), or n. */
static uint64_t first_nonzero(const uint8_t *p, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return i;
	return n;
}

static int cmp_id(const void *a, const void *b)
{
	const struct sc_key *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_name(const void *a, const void *b)
{
	const struct sc_key *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Index of a duplicate in @keys once sorted with @cmp, or -1. */
static ssize_t find_dup(struct sc_key *keys, size_t n,
			int (*cmp)(const void *, const void *))
{
	size_t i;

	if (n < 2)
		return -1;
	qsort(keys, n, sizeof(*keys), cmp);
	for (i = 1; i < n; i++)
		if (!cmp(&keys[i - 1], &keys[i]))
			return (ssize_t)i;
	return -1;
}

static void *alloc_array(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

#define HDR(f)	offsetof(struct snapchan_img_header, f)
#define NODE(f)	offsetof(struct snapchan_img_node, f)
#define CHAN(f)	offsetof(struct snapchan_img_chan, f)
#define REC(f)	offsetof(struct snapchan_img_record, f)
#define TRL(f)	offsetof(struct snapchan_img_trailer, f)

/* State of one verification pass. */
struct sc_parse {
	const uint8_t              *b;
	size_t                      end;	/* offset of the trailer */
	size_t                      off;	/* next byte to parse */
	uint16_t                    kind;
	const char                 *group;	/* the header's group */
	struct sc_index            *ix;
	struct sc_key              *nodes;	/* [node_count], sorted by id */
	struct snapchan_image_diag *d;
};

static int parse_nodes(struct sc_parse *ps)
{
	struct sc_index *ix = ps->ix;
	struct sc_key *keys = ps->nodes;
	size_t i;
	ssize_t dup;

	for (i = 0; i < ix->node_count; i++) {
		size_t off = ps->off, left = ps->end - off;
		const uint8_t *p = ps->b + off;
		uint64_t slen, pad, nz;

		if (left < IMG_NODE_LEN)
			return fail(ps->d, -EBADMSG, off,
				    "node %zu: section header runs past the end (%zu bytes left)",
				    i, left);
		keys[i].id = IMG_GET64(p, snapchan_img_node, node_id);
		keys[i].name = (const char *)(p + NODE(name));
		keys[i].off = off;
		if (!keys[i].id)
			return fail(ps->d, -EBADMSG, off + NODE(node_id),
				    "node %zu: node_id is 0", i);
		if (!name_ok(p + NODE(name), 0))
			return fail(ps->d, -EBADMSG, off + NODE(name),
				    "node %zu: invalid or unterminated name", i);
		slen = IMG_GET64(p, snapchan_img_node, state_len);
		left -= IMG_NODE_LEN;
		if (slen > left)
			return fail(ps->d, -EBADMSG, off + NODE(state_len),
				    "node %zu: state_len %" PRIu64 " runs past the end (%zu bytes left)",
				    i, slen, left);
		left -= slen;
		pad = img_pad(slen);
		if (pad > left)
			return fail(ps->d, -EBADMSG, off + IMG_NODE_LEN + slen,
				    "node %zu: state padding runs past the end", i);
		nz = first_nonzero(p + IMG_NODE_LEN + slen, pad);
		if (nz < pad)
			return fail(ps->d, -EBADMSG,
				    off + IMG_NODE_LEN + slen + nz,
				    "node %zu: non-zero padding after the state", i);
		ix->node_off[i] = off;
		ps->off = off + IMG_NODE_LEN + slen + pad;
	}

	dup = find_dup(keys, ix->node_count, cmp_name);
	if (dup >= 0)
		return fail(ps->d, -EBADMSG, keys[dup].off + NODE(name),
			    "node name \"%s\" appears twice", keys[dup].name);
	/* Leave the keys sorted by id: channels look their nodes up. */
	dup = find_dup(keys, ix->node_count, cmp_id);
	if (dup >= 0)
		return fail(ps->d, -EBADMSG, keys[dup].off + NODE(node_id),
			    "node id %" PRIu64 " appears twice", keys[dup].id);
	return 0;
}

static int node_known(const struct sc_parse *ps, uint64_t id)
{
	struct sc_key k = { .id = id };

	return bsearch(&k, ps->nodes, ps->ix->node_count, sizeof(k),
		       cmp_id) != NULL;
}

/* The records of channel @j, whose struct is at @coff; *@ri: next record. */
static int parse_records(struct sc_parse *ps, size_t j, size_t coff,
			 size_t *ri)
{
	const uint8_t *c = ps->b + coff;
	uint64_t count = IMG_GET64(c, snapchan_img_chan, record_count);
	uint64_t bytes = IMG_GET64(c, snapchan_img_chan, record_bytes);
	uint64_t first = IMG_GET64(c, snapchan_img_chan, first_seq);
	uint64_t next = IMG_GET64(c, snapchan_img_chan, next_seq);
	uint32_t max_msg = IMG_GET32(c, snapchan_img_chan, max_msg);
	uint64_t r, expect = first, sum = 0;

	for (r = 0; r < count; r++) {
		size_t off = ps->off, left = ps->end - off;
		const uint8_t *p = ps->b + off;
		uint64_t seq, snap, origin, pad, nz;
		uint32_t type, len;

		if (left < IMG_REC_LEN)
			return fail(ps->d, -EBADMSG, off,
				    "chan %zu record %" PRIu64 ": runs past the end (%zu bytes left; record_count %" PRIu64 ")",
				    j, r, left, count);
		if (*ri >= ps->ix->record_count)
			return fail(ps->d, -EBADMSG, off,
				    "chan %zu record %" PRIu64 ": more records than the header's record_count %zu",
				    j, r, ps->ix->record_count);
		seq = IMG_GET64(p, snapchan_img_record, seq);
		type = IMG_GET32(p, snapchan_img_record, type);
		len = IMG_GET32(p, snapchan_img_record, len);
		snap = IMG_GET64(p, snapchan_img_record, snap_id);
		origin = IMG_GET64(p, snapchan_img_record, origin);
		switch (type) {
		case SNAPCHAN_REC_DATA:
			if (seq != expect)
				return fail(ps->d, -EBADMSG, off + REC(seq),
					    "chan %zu record %" PRIu64 ": seq %" PRIu64 ", expected %" PRIu64,
					    j, r, seq, expect);
			if (expect == next)
				return fail(ps->d, -EBADMSG, off + REC(seq),
					    "chan %zu record %" PRIu64 ": seq %" PRIu64 " is not below next_seq",
					    j, r, seq);
			if (snap || origin)
				return fail(ps->d, -EBADMSG, off + REC(snap_id),
					    "chan %zu record %" PRIu64 ": DATA with a snap_id or origin",
					    j, r);
			if (len > max_msg)
				return fail(ps->d, -EBADMSG, off + REC(len),
					    "chan %zu record %" PRIu64 ": len %" PRIu32 " above max_msg %" PRIu32,
					    j, r, len, max_msg);
			expect++;
			break;
		case SNAPCHAN_REC_MARKER:
			if (seq)
				return fail(ps->d, -EBADMSG, off + REC(seq),
					    "chan %zu record %" PRIu64 ": MARKER with seq %" PRIu64,
					    j, r, seq);
			if (len)
				return fail(ps->d, -EBADMSG, off + REC(len),
					    "chan %zu record %" PRIu64 ": MARKER with len %" PRIu32,
					    j, r, len);
			if (!snap)
				return fail(ps->d, -EBADMSG, off + REC(snap_id),
					    "chan %zu record %" PRIu64 ": MARKER with snap_id 0",
					    j, r);
			break;
		default:
			return fail(ps->d, -EBADMSG, off + REC(type),
				    "chan %zu record %" PRIu64 ": unknown type %" PRIu32,
				    j, r, type);
		}
		left -= IMG_REC_LEN;
		if (len > left)
			return fail(ps->d, -EBADMSG, off + REC(len),
				    "chan %zu record %" PRIu64 ": len %" PRIu32 " runs past the end (%zu bytes left)",
				    j, r, len, left);
		left -= len;
		pad = img_pad(len);
		if (pad > left)
			return fail(ps->d, -EBADMSG, off + IMG_REC_LEN + len,
				    "chan %zu record %" PRIu64 ": padding runs past the end",
				    j, r);
		nz = first_nonzero(p + IMG_REC_LEN + len, pad);
		if (nz < pad)
			return fail(ps->d, -EBADMSG,
				    off + IMG_REC_LEN + len + nz,
				    "chan %zu record %" PRIu64 ": non-zero padding after the payload",
				    j, r);
		sum += len;
		ps->ix->rec_off[(*ri)++] = off;
		ps->off = off + IMG_REC_LEN + len + pad;
	}
	if (expect != next)
		return fail(ps->d, -EBADMSG, coff + CHAN(next_seq),
			    "chan %zu: next_seq %" PRIu64 " but the DATA records end before seq %" PRIu64,
			    j, next, expect);
	if (sum != bytes)
		return fail(ps->d, -EBADMSG, coff + CHAN(record_bytes),
			    "chan %zu: record_bytes %" PRIu64 " but the payloads hold %" PRIu64,
			    j, bytes, sum);
	return 0;
}

static int parse_chans(struct sc_parse *ps)
{
	struct sc_index *ix = ps->ix;
	struct sc_key *names = NULL, *ids = NULL;
	size_t j, ri = 0;
	ssize_t dup;
	int ret = -ENOMEM;

	names = alloc_array(ix->chan_count, sizeof(*names));
	ids = alloc_array(ix->chan_count, sizeof(*ids));
	if (!names || !ids)
		goto out;

	for (j = 0; j < ix->chan_count; j++) {
		size_t off = ps->off, left = ps->end - off;
		const uint8_t *c = ps->b + off;
		uint64_t id, first, next, sender, receiver;
		uint32_t flags, mode;

		if (left < IMG_CHAN_LEN) {
			ret = fail(ps->d, -EBADMSG, off,
				   "chan %zu: section header runs past the end (%zu bytes left)",
				   j, left);
			goto out;
		}
		id = IMG_GET64(c, snapchan_img_chan, chan_id);
		first = IMG_GET64(c, snapchan_img_chan, first_seq);
		next = IMG_GET64(c, snapchan_img_chan, next_seq);
		flags = IMG_GET32(c, snapchan_img_chan, flags);
		mode = IMG_GET32(c, snapchan_img_chan, mode);
		sender = IMG_GET64(c, snapchan_img_chan, sender_node);
		receiver = IMG_GET64(c, snapchan_img_chan, receiver_node);
		ids[j].id = id;
		ids[j].off = off;
		names[j].name = (const char *)(c + CHAN(name));
		names[j].off = off;

		if (!id)
			ret = fail(ps->d, -EBADMSG, off + CHAN(chan_id),
				   "chan %zu: chan_id is 0", j);
		else if (!name_ok(c + CHAN(name), SNAPCHAN_NAME_F_CHANNEL))
			ret = fail(ps->d, -EBADMSG, off + CHAN(name),
				   "chan %zu: invalid or unterminated name", j);
		else if (!name_ok(c + CHAN(group), SNAPCHAN_NAME_F_EMPTY_OK))
			ret = fail(ps->d, -EBADMSG, off + CHAN(group),
				   "chan %zu: invalid or unterminated group", j);
		else if (strcmp((const char *)(c + CHAN(group)), ps->group))
			ret = fail(ps->d, -EBADMSG, off + CHAN(group),
				   "chan %zu: group \"%s\" is not the image's \"%s\"",
				   j, (const char *)(c + CHAN(group)), ps->group);
		else if (flags & ~SNAPCHAN_CHAN_F_ALL)
			ret = fail(ps->d, -EBADMSG, off + CHAN(flags),
				   "chan %zu: unknown flags 0x%" PRIx32, j, flags);
		else if (mode & ~0666U)
			ret = fail(ps->d, -EBADMSG, off + CHAN(mode),
				   "chan %zu: mode 0%" PRIo32 " not within 0666",
				   j, mode);
		else if (!first)
			ret = fail(ps->d, -EBADMSG, off + CHAN(first_seq),
				   "chan %zu: first_seq is 0", j);
		else if (first > next)
			ret = fail(ps->d, -EBADMSG, off + CHAN(next_seq),
				   "chan %zu: next_seq %" PRIu64 " below first_seq %" PRIu64,
				   j, next, first);
		else if (ps->kind == SNAPCHAN_IMG_KIND_SNAPSHOT &&
			 sender && !node_known(ps, sender))
			ret = fail(ps->d, -EBADMSG, off + CHAN(sender_node),
				   "chan %zu: sender_node %" PRIu64 " is not in the image",
				   j, sender);
		else if (ps->kind == SNAPCHAN_IMG_KIND_SNAPSHOT &&
			 receiver && !node_known(ps, receiver))
			ret = fail(ps->d, -EBADMSG, off + CHAN(receiver_node),
				   "chan %zu: receiver_node %" PRIu64 " is not in the image",
				   j, receiver);
		else
			ret = 0;
		if (ret)
			goto out;

		ix->chan_off[j] = off;
		ix->chan_rec[j] = ri;
		ps->off = off + IMG_CHAN_LEN;
		ret = parse_records(ps, j, off, &ri);
		if (ret)
			goto out;
	}
	ix->chan_rec[ix->chan_count] = ri;
	if (ri != ix->record_count) {
		ret = fail(ps->d, -EBADMSG, HDR(record_count),
			   "header record_count %zu but the channels hold %zu",
			   ix->record_count, ri);
		goto out;
	}

	dup = find_dup(names, ix->chan_count, cmp_name);
	if (dup >= 0) {
		ret = fail(ps->d, -EBADMSG, names[dup].off + CHAN(name),
			   "chan name \"%s\" appears twice", names[dup].name);
		goto out;
	}
	dup = find_dup(ids, ix->chan_count, cmp_id);
	if (dup >= 0) {
		ret = fail(ps->d, -EBADMSG, ids[dup].off + CHAN(chan_id),
			   "chan id %" PRIu64 " appears twice", ids[dup].id);
		goto out;
	}
	ret = 0;
out:
	free(names);
	free(ids);
	return ret;
}

/* The header, lengths, trailer and CRC: everything before the sections. */
static int parse_envelope(const uint8_t *b, size_t n,
			  struct snapchan_image_diag *d)
{
	uint64_t total;
	uint32_t v32, crc;
	uint16_t kind;
	const uint8_t *t;

	if (n < sizeof(uint32_t))
		return fail(d, -EBADMSG, 0,
			    "truncated: %zu bytes, a header is %u", n,
			    IMG_HDR_LEN);
	v32 = IMG_GET32(b, snapchan_img_header, magic);
	if (v32 != SNAPCHAN_IMG_MAGIC)
		return fail(d, -ENOEXEC, HDR(magic),
			    "bad magic 0x%08" PRIx32 ": not a snapchan image",
			    v32);
	if (n < HDR(version) + sizeof(uint16_t))
		return fail(d, -EBADMSG, 0,
			    "truncated: %zu bytes, a header is %u", n,
			    IMG_HDR_LEN);
	v32 = IMG_GET16(b, snapchan_img_header, version);
	if (v32 != SNAPCHAN_IMG_VERSION)
		return fail(d, -EPROTONOSUPPORT, HDR(version),
			    "image version %" PRIu32 ", this library reads version %u",
			    v32, SNAPCHAN_IMG_VERSION);
	if (n < IMG_HDR_LEN)
		return fail(d, -EBADMSG, 0,
			    "truncated: %zu bytes, a header is %u", n,
			    IMG_HDR_LEN);
	v32 = IMG_GET32(b, snapchan_img_header, header_len);
	if (v32 != IMG_HDR_LEN)
		return fail(d, -EBADMSG, HDR(header_len),
			    "header_len %" PRIu32 ", expected %u", v32,
			    IMG_HDR_LEN);
	kind = IMG_GET16(b, snapchan_img_header, kind);
	if (kind != SNAPCHAN_IMG_KIND_SNAPSHOT &&
	    kind != SNAPCHAN_IMG_KIND_CAPTURE)
		return fail(d, -EBADMSG, HDR(kind), "unknown kind %u", kind);
	v32 = IMG_GET32(b, snapchan_img_header, flags);
	if (v32)
		return fail(d, -EBADMSG, HDR(flags),
			    "unknown header flags 0x%" PRIx32, v32);
	total = IMG_GET64(b, snapchan_img_header, total_len);
	if (total != n)
		return fail(d, -EBADMSG, HDR(total_len),
			    "total_len %" PRIu64 " but the image is %zu bytes (truncated or extended)",
			    total, n);
	if (n < IMG_HDR_LEN + IMG_TRL_LEN || n % 8)
		return fail(d, -EBADMSG, HDR(total_len),
			    "total_len %zu: below %u or not a multiple of 8",
			    n, IMG_HDR_LEN + IMG_TRL_LEN);
	t = b + n - IMG_TRL_LEN;
	v32 = IMG_GET32(t, snapchan_img_trailer, magic);
	if (v32 != SNAPCHAN_IMG_END_MAGIC)
		return fail(d, -EBADMSG, n - IMG_TRL_LEN + TRL(magic),
			    "bad trailer magic 0x%08" PRIx32, v32);
	total = IMG_GET64(t, snapchan_img_trailer, total_len);
	if (total != n)
		return fail(d, -EBADMSG, n - IMG_TRL_LEN + TRL(total_len),
			    "trailer total_len %" PRIu64 " but the image is %zu bytes",
			    total, n);
	v32 = IMG_GET32(t, snapchan_img_trailer, crc32c);
	crc = snapchan_crc32c(0, b, n - IMG_TRL_LEN);
	if (v32 != crc)
		return fail(d, -EBADMSG, n - IMG_TRL_LEN + TRL(crc32c),
			    "CRC32C mismatch: trailer 0x%08" PRIx32 ", computed 0x%08" PRIx32,
			    v32, crc);
	return 0;
}

/*
 * Verify @n bytes at @b; on success fill @ix (to free with index_free()).
 */
static int sc_parse(const uint8_t *b, size_t n, struct sc_index *ix,
		    struct snapchan_image_diag *d)
{
	struct sc_parse ps = { .b = b, .ix = ix, .d = d };
	uint64_t nodes, chans, records;
	size_t body;
	int ret;

	memset(ix, 0, sizeof(*ix));
	ret = parse_envelope(b, n, d);
	if (ret)
		return ret;

	ps.kind = IMG_GET16(b, snapchan_img_header, kind);
	ps.group = (const char *)(b + HDR(group));
	ps.end = n - IMG_TRL_LEN;
	ps.off = IMG_HDR_LEN;
	body = ps.end - IMG_HDR_LEN;
	nodes = IMG_GET32(b, snapchan_img_header, node_count);
	chans = IMG_GET32(b, snapchan_img_header, chan_count);
	records = IMG_GET64(b, snapchan_img_header, record_count);

	if (!name_ok(b + HDR(group), ps.kind == SNAPCHAN_IMG_KIND_CAPTURE ?
				     SNAPCHAN_NAME_F_EMPTY_OK : 0))
		return fail(d, -EBADMSG, HDR(group),
			    "invalid or unterminated group name");
	if (ps.kind == SNAPCHAN_IMG_KIND_CAPTURE) {
		if (IMG_GET64(b, snapchan_img_header, snap_id))
			return fail(d, -EBADMSG, HDR(snap_id),
				    "a capture with a non-zero snap_id");
		if (IMG_GET64(b, snapchan_img_header, epoch))
			return fail(d, -EBADMSG, HDR(epoch),
				    "a capture with a non-zero epoch");
		if (nodes != 0)
			return fail(d, -EBADMSG, HDR(node_count),
				    "a capture with %" PRIu64 " nodes", nodes);
		if (chans != 1)
			return fail(d, -EBADMSG, HDR(chan_count),
				    "a capture with %" PRIu64 " channels, not 1",
				    chans);
	}
	/* Cheap bounds first, so that the index is never oversized. */
	if (nodes > body / IMG_NODE_LEN)
		return fail(d, -EBADMSG, HDR(node_count),
			    "node_count %" PRIu64 " cannot fit in %zu bytes",
			    nodes, body);
	if (chans > body / IMG_CHAN_LEN)
		return fail(d, -EBADMSG, HDR(chan_count),
			    "chan_count %" PRIu64 " cannot fit in %zu bytes",
			    chans, body);
	if (records > body / IMG_REC_LEN)
		return fail(d, -EBADMSG, HDR(record_count),
			    "record_count %" PRIu64 " cannot fit in %zu bytes",
			    records, body);
	if (nodes > INT_MAX || chans > INT_MAX)
		return fail(d, -EFBIG, HDR(node_count),
			    "more than INT_MAX nodes or channels");

	ix->node_count = nodes;
	ix->chan_count = chans;
	ix->record_count = records;
	ix->node_off = alloc_array(nodes, sizeof(size_t));
	ix->chan_off = alloc_array(chans, sizeof(size_t));
	ix->chan_rec = alloc_array(chans + 1, sizeof(size_t));
	ix->rec_off = alloc_array(records, sizeof(size_t));
	ps.nodes = alloc_array(nodes, sizeof(*ps.nodes));
	if (!ix->node_off || !ix->chan_off || !ix->chan_rec ||
	    !ix->rec_off || !ps.nodes) {
		ret = fail(d, -ENOMEM, 0, "out of memory");
		goto out;
	}

	ret = parse_nodes(&ps);
	if (!ret)
		ret = parse_chans(&ps);
	if (!ret && ps.off != ps.end)
		ret = fail(d, -EBADMSG, ps.off,
			   "%zu bytes between the last section and the trailer",
			   ps.end - ps.off);
	if (ret == -ENOMEM)
		fail(d, -ENOMEM, 0, "out of memory");
out:
	free(ps.nodes);
	if (ret)
		index_free(ix);
	else
		diag_ok(d);
	return ret;
}

int snapchan_image_verify_buffer(const void *buf, size_t len,
				 struct snapchan_image_diag *diag)
{
	struct sc_index ix;
	int ret;

	ret = sc_parse(buf, len, &ix, diag);
	if (!ret)
		index_free(&ix);
	return ret;
}

/* Take ownership of @buf (malloc()ed) and verify it. */
static int image_adopt(uint8_t *buf, size_t len, struct snapchan_image **imgp,
		       struct snapchan_image_diag *diag)
{
	struct snapchan_image *img;
	int ret;

	img = calloc(1, sizeof(*img));
	if (!img) {
		free(buf);
		return fail(diag, -ENOMEM, 0, "out of memory");
	}
	img->buf = buf;
	img->len = len;
	ret = sc_parse(buf, len, &img->ix, diag);
	if (ret) {
		free(buf);
		free(img);
		return ret;
	}
	*imgp = img;
	return 0;
}

int snapchan_image_from_buffer(const void *buf, size_t len,
			       struct snapchan_image **imgp,
			       struct snapchan_image_diag *diag)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return fail(diag, -ENOMEM, 0, "out of memory");
	if (len)
		memcpy(copy, buf, len);
	return image_adopt(copy, len, imgp, diag);
}

/* Read into @buf until @want bytes or end of file; *@got counts. */
static int read_upto(int fd, uint8_t *buf, size_t want, size_t *got)
{
	while (*got < want) {
		ssize_t r = sc_read(fd, buf + *got, want - *got);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return (int)r;
		if (r == 0)
			return 0;
		*got += (size_t)r;
	}
	return 0;
}

#define SC_READ_CHUNK	(64u * 1024)

int snapchan_image_open_fd(int fd, struct snapchan_image **imgp,
			   struct snapchan_image_diag *diag)
{
	size_t cap = IMG_HDR_LEN, got = 0, target;
	int from_header = 0, ret;
	struct stat st;
	uint8_t *buf, *nbuf;

	buf = malloc(cap);
	if (!buf)
		return fail(diag, -ENOMEM, 0, "out of memory");
	ret = read_upto(fd, buf, IMG_HDR_LEN, &got);
	if (ret)
		goto err_read;

	/*
	 * With a plausible header, read exactly total_len bytes (and one more
	 * to see that nothing follows); otherwise stop here and let the
	 * verifier say what is wrong with what was read.
	 */
	target = got;
	if (got == IMG_HDR_LEN &&
	    IMG_GET32(buf, snapchan_img_header, magic) == SNAPCHAN_IMG_MAGIC &&
	    IMG_GET16(buf, snapchan_img_header, version) == SNAPCHAN_IMG_VERSION) {
		uint64_t total = IMG_GET64(buf, snapchan_img_header, total_len);

		if (total > IMG_HDR_LEN && total < SIZE_MAX) {
			target = (size_t)total;
			from_header = 1;
		}
	}
	while (got < target) {
		if (got == cap) {
			size_t ncap = cap < SC_READ_CHUNK ? SC_READ_CHUNK :
				      cap <= SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;

			/* A regular file says how much it can give. */
			if (cap == IMG_HDR_LEN && !fstat(fd, &st) &&
			    S_ISREG(st.st_mode) && st.st_size > 0 &&
			    (uint64_t)st.st_size > ncap)
				ncap = (size_t)st.st_size;
			if (ncap > target)
				ncap = target;
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				ret = -ENOMEM;
				goto err_read;
			}
			buf = nbuf;
			cap = ncap;
		}
		ret = read_upto(fd, buf, cap, &got);
		if (ret)
			goto err_read;
		if (got < cap)
			break;	/* end of file */
	}
	if (from_header && got == target) {
		uint8_t extra;
		size_t more = 0;

		ret = read_upto(fd, &extra, 1, &more);
		if (ret)
			goto err_read;
		if (more) {
			free(buf);
			return fail(diag, -EBADMSG, target,
				    "data after total_len %zu", target);
		}
	}
	return image_adopt(buf, got, imgp, diag);

err_read:
	free(buf);
	return fail(diag, ret, got, "read failed at byte %zu: %s", got,
		    strerror(-ret));
}

int snapchan_image_open_file(const char *path, struct snapchan_image **imgp,
			     struct snapchan_image_diag *diag)
{
	int fd, ret;

	fd = sc_open(path, O_RDONLY);
	if (fd < 0)
		return fail(diag, fd, 0, "cannot open %s: %s", path,
			    strerror(-fd));
	ret = snapchan_image_open_fd(fd, imgp, diag);
	sc_close(fd);
	return ret;
}

int snapchan_image_verify(const struct snapchan_image *img,
			  struct snapchan_image_diag *diag)
{
	return snapchan_image_verify_buffer(img->buf, img->len, diag);
}

void snapchan_image_close(struct snapchan_image *img)
{
	if (!img)
		return;
	index_free(&img->ix);
	free(img->buf);
	free(img);
}

const void *snapchan_image_data(const struct snapchan_image *img, size_t *len)
{
	if (len)
		*len = img->len;
	return img->buf;
}

int snapchan_image_header(const struct snapchan_image *img,
			  struct snapchan_image_header_view *h)
{
	const uint8_t *b = img->buf;
	const uint8_t *t = b + img->len - IMG_TRL_LEN;

	memset(h, 0, sizeof(*h));
	h->version = IMG_GET16(b, snapchan_img_header, version);
	h->kind = IMG_GET16(b, snapchan_img_header, kind);
	h->flags = IMG_GET32(b, snapchan_img_header, flags);
	h->snap_id = IMG_GET64(b, snapchan_img_header, snap_id);
	h->group = (const char *)(b + HDR(group));
	h->epoch = IMG_GET64(b, snapchan_img_header, epoch);
	h->begin_ns = IMG_GET64(b, snapchan_img_header, begin_ns);
	h->end_ns = IMG_GET64(b, snapchan_img_header, end_ns);
	h->node_count = IMG_GET32(b, snapchan_img_header, node_count);
	h->chan_count = IMG_GET32(b, snapchan_img_header, chan_count);
	h->record_count = IMG_GET64(b, snapchan_img_header, record_count);
	h->total_len = IMG_GET64(b, snapchan_img_header, total_len);
	h->crc32c = IMG_GET32(t, snapchan_img_trailer, crc32c);
	return 0;
}

size_t snapchan_image_node_count(const struct snapchan_image *img)
{
	return img->ix.node_count;
}

int snapchan_image_node(const struct snapchan_image *img, size_t i,
			struct snapchan_image_node_view *v)
{
	const uint8_t *p;

	if (i >= img->ix.node_count)
		return -ERANGE;
	p = img->buf + img->ix.node_off[i];
	v->id = IMG_GET64(p, snapchan_img_node, node_id);
	v->name = (const char *)(p + NODE(name));
	v->state_len = IMG_GET64(p, snapchan_img_node, state_len);
	v->state = v->state_len ? p + IMG_NODE_LEN : NULL;
	return 0;
}

int snapchan_image_node_by_name(const struct snapchan_image *img,
				const char *name,
				struct snapchan_image_node_view *v)
{
	size_t i;

	for (i = 0; i < img->ix.node_count; i++) {
		const uint8_t *p = img->buf + img->ix.node_off[i];

		if (!strcmp((const char *)(p + NODE(name)), name)) {
			if (v)
				snapchan_image_node(img, i, v);
			return (int)i;
		}
	}
	return -ENOENT;
}

size_t snapchan_image_chan_count(const struct snapchan_image *img)
{
	return img->ix.chan_count;
}

int snapchan_image_chan(const struct snapchan_image *img, size_t i,
			struct snapchan_image_chan_view *v)
{
	const uint8_t *c;

	if (i >= img->ix.chan_count)
		return -ERANGE;
	c = img->buf + img->ix.chan_off[i];
	v->id = IMG_GET64(c, snapchan_img_chan, chan_id);
	v->name = (const char *)(c + CHAN(name));
	v->group = (const char *)(c + CHAN(group));
	v->capacity_bytes = IMG_GET64(c, snapchan_img_chan, capacity_bytes);
	v->capacity_msgs = IMG_GET32(c, snapchan_img_chan, capacity_msgs);
	v->max_msg = IMG_GET32(c, snapchan_img_chan, max_msg);
	v->flags = IMG_GET32(c, snapchan_img_chan, flags);
	v->mode = IMG_GET32(c, snapchan_img_chan, mode);
	v->sender_node = IMG_GET64(c, snapchan_img_chan, sender_node);
	v->receiver_node = IMG_GET64(c, snapchan_img_chan, receiver_node);
	v->first_seq = IMG_GET64(c, snapchan_img_chan, first_seq);
	v->next_seq = IMG_GET64(c, snapchan_img_chan, next_seq);
	v->record_count = IMG_GET64(c, snapchan_img_chan, record_count);
	v->record_bytes = IMG_GET64(c, snapchan_img_chan, record_bytes);
	return 0;
}

int snapchan_image_chan_by_name(const struct snapchan_image *img,
				const char *name,
				struct snapchan_image_chan_view *v)
{
	size_t i;

	for (i = 0; i < img->ix.chan_count; i++) {
		const uint8_t *c = img->buf + img->ix.chan_off[i];

		if (!strcmp((const char *)(c + CHAN(name)), name)) {
			if (v)
				snapchan_image_chan(img, i, v);
			return (int)i;
		}
	}
	return -ENOENT;
}

int snapchan_image_record(const struct snapchan_image *img, size_t chan,
			  uint64_t j, struct snapchan_image_record_view *v)
{
	const uint8_t *p;
	size_t first, n;

	if (chan >= img->ix.chan_count)
		return -ERANGE;
	first = img->ix.chan_rec[chan];
	n = img->ix.chan_rec[chan + 1] - first;
	if (j >= n)
		return -ERANGE;
	p = img->buf + img->ix.rec_off[first + j];
	v->seq = IMG_GET64(p, snapchan_img_record, seq);
	v->type = IMG_GET32(p, snapchan_img_record, type);
	v->len = IMG_GET32(p, snapchan_img_record, len);
	v->payload = v->len ? p + IMG_REC_LEN : NULL;
	v->snap_id = IMG_GET64(p, snapchan_img_record, snap_id);
	v->origin = IMG_GET64(p, snapchan_img_record, origin);
	return 0;
}
