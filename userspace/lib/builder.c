// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Image builder: assembles an image in memory in the layout described at
 * the top of image.c, then verifies it with the reader's own checks, so
 * that it can only hand out images that a reader accepts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapchan.h"
#include "internal.h"

struct sc_buf {
	uint8_t *p;
	size_t   len;
	size_t   cap;
};

/* Bookkeeping of one channel section, patched into it by finish. */
struct sc_bchan {
	size_t   off;		/* of its struct in the builder's chans */
	uint64_t count;
	uint64_t bytes;
	uint64_t next_given;	/* next_seq asked for, 0: computed */
	uint64_t next_auto;	/* one after the last DATA record */
};

struct snapchan_image_builder {
	uint16_t         kind;
	uint64_t         snap_id;
	char             group[SNAPCHAN_NAME_LEN];
	uint64_t         epoch;
	uint64_t         begin_ns;
	uint64_t         end_ns;
	struct sc_buf    nodes;		/* the node sections */
	struct sc_buf    chans;		/* the channel sections */
	uint32_t         node_count;
	struct sc_bchan *chan;
	size_t           chan_count;
	size_t           chan_cap;
	uint64_t         record_count;
};

/* Append @n bytes of @src (zeroes if NULL) and the padding to 8. */
static int buf_append(struct sc_buf *b, const void *src, uint64_t n)
{
	uint64_t pad = img_pad(n);
	size_t need;

	if (n > SIZE_MAX - 8 || n + pad > SIZE_MAX - b->len)
		return -EFBIG;
	need = b->len + (size_t)(n + pad);
	if (need > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (ncap < need)
			ncap = ncap <= SIZE_MAX / 2 ? ncap * 2 : need;
		np = realloc(b->p, ncap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	if (src)
		memcpy(b->p + b->len, src, (size_t)n);
	else
		memset(b->p + b->len, 0, (size_t)n);
	memset(b->p + b->len + n, 0, (size_t)pad);
	b->len = need;
	return 0;
}

static void put_name(uint8_t *field, const char *name)
{
	memset(field, 0, SNAPCHAN_NAME_LEN);
	memcpy(field, name, strlen(name));
}

int snapchan_image_builder_begin(struct snapchan_image_builder **bp,
				 const struct snapchan_image_header_view *hdr)
{
	const char *group = hdr->group ? hdr->group : "";
	struct snapchan_image_builder *b;

	if (hdr->kind != SNAPCHAN_IMG_KIND_SNAPSHOT &&
	    hdr->kind != SNAPCHAN_IMG_KIND_CAPTURE)
		return -EINVAL;
	if (!snapchan_name_valid(group, SNAPCHAN_NAME_F_EMPTY_OK))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->kind = hdr->kind;
	b->snap_id = hdr->snap_id;
	put_name((uint8_t *)b->group, group);
	b->epoch = hdr->epoch;
	b->begin_ns = hdr->begin_ns;
	b->end_ns = hdr->end_ns;
	*bp = b;
	return 0;
}

void snapchan_image_builder_free(struct snapchan_image_builder *b)
{
	if (!b)
		return;
	free(b->nodes.p);
	free(b->chans.p);
	free(b->chan);
	free(b);
}

int snapchan_image_builder_add_node(struct snapchan_image_builder *b,
				    const char *name, uint64_t id,
				    const void *state, uint64_t state_len)
{
	uint8_t n[IMG_NODE_LEN];
	size_t undo = b->nodes.len;
	int ret;

	if (!snapchan_name_valid(name, 0) || !id || (!state && state_len))
		return -EINVAL;
	if (b->node_count == UINT32_MAX || state_len > SIZE_MAX - 8)
		return -EFBIG;
	memset(n, 0, sizeof(n));
	IMG_PUT64(n, snapchan_img_node, node_id, id);
	put_name(IMG_FIELD(n, snapchan_img_node, name), name);
	IMG_PUT64(n, snapchan_img_node, state_len, state_len);
	ret = buf_append(&b->nodes, n, sizeof(n));
	if (!ret)
		ret = buf_append(&b->nodes, state, state_len);
	if (ret) {
		b->nodes.len = undo;
		return ret;
	}
	b->node_count++;
	return 0;
}

int snapchan_image_builder_add_chan(struct snapchan_image_builder *b,
				    const struct snapchan_image_chan_view *desc)
{
	const char *group = desc->group ? desc->group : b->group;
	uint64_t first = desc->first_seq ? desc->first_seq : 1;
	uint8_t c[IMG_CHAN_LEN];
	struct sc_bchan *bc;
	int ret;

	if (!snapchan_name_valid(desc->name, SNAPCHAN_NAME_F_CHANNEL) ||
	    !snapchan_name_valid(group, SNAPCHAN_NAME_F_EMPTY_OK))
		return -EINVAL;
	if (b->chan_count == UINT32_MAX)
		return -EFBIG;
	if (b->chan_count == b->chan_cap) {
		size_t ncap = b->chan_cap ? b->chan_cap * 2 : 8;

		bc = realloc(b->chan, ncap * sizeof(*bc));
		if (!bc)
			return -ENOMEM;
		b->chan = bc;
		b->chan_cap = ncap;
	}
	memset(c, 0, sizeof(c));
	IMG_PUT64(c, snapchan_img_chan, chan_id, desc->id);
	put_name(IMG_FIELD(c, snapchan_img_chan, name), desc->name);
	put_name(IMG_FIELD(c, snapchan_img_chan, group), group);
	IMG_PUT64(c, snapchan_img_chan, capacity_bytes, desc->capacity_bytes);
	IMG_PUT32(c, snapchan_img_chan, capacity_msgs, desc->capacity_msgs);
	IMG_PUT32(c, snapchan_img_chan, max_msg, desc->max_msg);
	IMG_PUT32(c, snapchan_img_chan, flags, desc->flags);
	IMG_PUT32(c, snapchan_img_chan, mode, desc->mode);
	IMG_PUT64(c, snapchan_img_chan, sender_node, desc->sender_node);
	IMG_PUT64(c, snapchan_img_chan, receiver_node, desc->receiver_node);
	IMG_PUT64(c, snapchan_img_chan, first_seq, first);
	/* next_seq, record_count and record_bytes: set by finish. */
	ret = buf_append(&b->chans, c, sizeof(c));
	if (ret)
		return ret;
	bc = &b->chan[b->chan_count++];
	memset(bc, 0, sizeof(*bc));
	bc->off = b->chans.len - sizeof(c);
	bc->next_given = desc->next_seq;
	bc->next_auto = first;
	return 0;
}

int snapchan_image_builder_add_record(struct snapchan_image_builder *b,
				      const struct snapchan_image_record_view *rec)
{
	uint8_t r[IMG_REC_LEN];
	size_t undo = b->chans.len;
	struct sc_bchan *bc;
	uint64_t seq = rec->seq;
	int ret;

	if (!b->chan_count)
		return -EINVAL;
	if (rec->type != SNAPCHAN_REC_DATA && rec->type != SNAPCHAN_REC_MARKER)
		return -EINVAL;
	if (!rec->payload && rec->len)
		return -EINVAL;
	bc = &b->chan[b->chan_count - 1];
	if (rec->type == SNAPCHAN_REC_DATA && !seq)
		seq = bc->next_auto;
	memset(r, 0, sizeof(r));
	IMG_PUT64(r, snapchan_img_record, seq, seq);
	IMG_PUT32(r, snapchan_img_record, type, rec->type);
	IMG_PUT32(r, snapchan_img_record, len, rec->len);
	IMG_PUT64(r, snapchan_img_record, snap_id, rec->snap_id);
	IMG_PUT64(r, snapchan_img_record, origin, rec->origin);
	ret = buf_append(&b->chans, r, sizeof(r));
	if (!ret)
		ret = buf_append(&b->chans, rec->payload, rec->len);
	if (ret) {
		b->chans.len = undo;
		return ret;
	}
	if (rec->type == SNAPCHAN_REC_DATA)
		bc->next_auto = seq + 1;
	bc->count++;
	bc->bytes += rec->len;
	b->record_count++;
	return 0;
}

int snapchan_image_builder_finish(struct snapchan_image_builder *b,
				  void **bufp, size_t *lenp,
				  struct snapchan_image_diag *diag)
{
	size_t total, off, i;
	uint8_t *out;
	int ret;

	for (i = 0; i < b->chan_count; i++) {
		struct sc_bchan *bc = &b->chan[i];
		uint8_t *c = b->chans.p + bc->off;

		IMG_PUT64(c, snapchan_img_chan, next_seq,
			  bc->next_given ? bc->next_given : bc->next_auto);
		IMG_PUT64(c, snapchan_img_chan, record_count, bc->count);
		IMG_PUT64(c, snapchan_img_chan, record_bytes, bc->bytes);
	}
	total = IMG_HDR_LEN + IMG_TRL_LEN;
	if (b->nodes.len > SIZE_MAX - total)
		return -EFBIG;
	total += b->nodes.len;
	if (b->chans.len > SIZE_MAX - total)
		return -EFBIG;
	total += b->chans.len;

	out = malloc(total);
	if (!out)
		return -ENOMEM;
	memset(out, 0, IMG_HDR_LEN);
	IMG_PUT32(out, snapchan_img_header, magic, SNAPCHAN_IMG_MAGIC);
	IMG_PUT16(out, snapchan_img_header, version, SNAPCHAN_IMG_VERSION);
	IMG_PUT16(out, snapchan_img_header, kind, b->kind);
	IMG_PUT32(out, snapchan_img_header, header_len, IMG_HDR_LEN);
	IMG_PUT64(out, snapchan_img_header, snap_id, b->snap_id);
	memcpy(IMG_FIELD(out, snapchan_img_header, group), b->group,
	       SNAPCHAN_NAME_LEN);
	IMG_PUT64(out, snapchan_img_header, epoch, b->epoch);
	IMG_PUT64(out, snapchan_img_header, begin_ns, b->begin_ns);
	IMG_PUT64(out, snapchan_img_header, end_ns, b->end_ns);
	IMG_PUT32(out, snapchan_img_header, node_count, b->node_count);
	IMG_PUT32(out, snapchan_img_header, chan_count, (uint32_t)b->chan_count);
	IMG_PUT64(out, snapchan_img_header, record_count, b->record_count);
	IMG_PUT64(out, snapchan_img_header, total_len, total);
	off = IMG_HDR_LEN;
	if (b->nodes.len)
		memcpy(out + off, b->nodes.p, b->nodes.len);
	off += b->nodes.len;
	if (b->chans.len)
		memcpy(out + off, b->chans.p, b->chans.len);
	off += b->chans.len;
	IMG_PUT32(out + off, snapchan_img_trailer, magic,
		  SNAPCHAN_IMG_END_MAGIC);
	IMG_PUT32(out + off, snapchan_img_trailer, crc32c,
		  snapchan_crc32c(0, out, off));
	IMG_PUT64(out + off, snapchan_img_trailer, total_len, total);

	ret = snapchan_image_verify_buffer(out, total, diag);
	if (ret) {
		free(out);
		return ret;
	}
	*bufp = out;
	*lenp = total;
	return 0;
}
