// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan image streams: the one format shared by capture fds, snapshot
 * fds and files on disk (uapi/linux/snapchan.h, doc/image-format.md).
 *
 * An image is produced on demand from a description (struct
 * snapchan_img_src) that references the records and node states; nothing
 * is serialised ahead of time.  A reader walks the image part by part
 * (header, node, state, padding, channel, record, payload, padding,
 * trailer), copying each part straight from the referenced memory to user
 * space and folding it into a running CRC32C, so that reads of any size
 * resume exactly where the previous one stopped.
 */

#include <linux/crc32.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <kunit/visibility.h>

#include "snapchan.h"

static const u8 snapchan_zero_pad[8];

static size_t snapchan_pad8(u64 len)
{
	return (8 - (len & 7)) & 7;
}

/**
 * snapchan_img_len() - exact byte length of the image of @src
 * @src: the image description.
 *
 * Return: the length, trailer included.
 */
u64 snapchan_img_len(const struct snapchan_img_src *src)
{
	u64 len = sizeof(struct snapchan_img_header) +
		  sizeof(struct snapchan_img_trailer);
	u32 i, j;

	for (i = 0; i < src->nr_nodes; i++)
		len += sizeof(struct snapchan_img_node) + src->nodes[i].len +
		       snapchan_pad8(src->nodes[i].len);
	for (i = 0; i < src->nr_chans; i++) {
		const struct snapchan_img_chan_src *c = &src->chans[i];

		len += sizeof(struct snapchan_img_chan);
		for (j = 0; j < c->nr_recs; j++)
			len += sizeof(struct snapchan_img_record) +
			       c->recs[j]->len + snapchan_pad8(c->recs[j]->len);
	}
	return len;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_img_len);

/**
 * snapchan_img_reader_init() - start reading the image of @src
 * @r: the reader.
 * @src: the description; it must stay valid and unchanged while @r reads.
 */
void snapchan_img_reader_init(struct snapchan_img_reader *r,
			      const struct snapchan_img_src *src)
{
	memset(r, 0, sizeof(*r));
	r->src = src;
	r->part = SNAPCHAN_IMG_PART_HEADER;
	r->crc = ~0U;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_img_reader_init);

/* The image's section for record @rec. */
static void snapchan_img_rec_hdr(const struct snapchan_rec *rec,
				 struct snapchan_img_record *out)
{
	out->seq = cpu_to_le64(rec->seq);
	out->type = cpu_to_le32(rec->type);
	out->len = cpu_to_le32(rec->len);
	out->snap_id = cpu_to_le64(snapchan_rec_snap_id(rec));
	out->origin = cpu_to_le64(snapchan_rec_origin(rec));
}

/* The bytes of the reader's current part. */
static void snapchan_img_part(struct snapchan_img_reader *r,
			      const void **ptr, size_t *len)
{
	const struct snapchan_img_src *src = r->src;
	const struct snapchan_img_chan_src *c;
	const struct snapchan_rec *rec;

	switch (r->part) {
	case SNAPCHAN_IMG_PART_HEADER:
		*ptr = &src->hdr;
		*len = sizeof(src->hdr);
		return;
	case SNAPCHAN_IMG_PART_NODE:
		*ptr = &src->nodes[r->node].desc;
		*len = sizeof(struct snapchan_img_node);
		return;
	case SNAPCHAN_IMG_PART_NODE_STATE:
		*ptr = src->nodes[r->node].state;
		*len = src->nodes[r->node].len;
		return;
	case SNAPCHAN_IMG_PART_NODE_PAD:
		*ptr = snapchan_zero_pad;
		*len = snapchan_pad8(src->nodes[r->node].len);
		return;
	case SNAPCHAN_IMG_PART_CHAN:
		*ptr = &src->chans[r->chan].desc;
		*len = sizeof(struct snapchan_img_chan);
		return;
	case SNAPCHAN_IMG_PART_REC:
		c = &src->chans[r->chan];
		snapchan_img_rec_hdr(c->recs[r->rec], &r->scratch.rec);
		*ptr = &r->scratch.rec;
		*len = sizeof(r->scratch.rec);
		return;
	case SNAPCHAN_IMG_PART_REC_DATA:
		rec = src->chans[r->chan].recs[r->rec];
		*ptr = snapchan_rec_data(rec);
		*len = rec->len;
		return;
	case SNAPCHAN_IMG_PART_REC_PAD:
		rec = src->chans[r->chan].recs[r->rec];
		*ptr = snapchan_zero_pad;
		*len = snapchan_pad8(rec->len);
		return;
	case SNAPCHAN_IMG_PART_TRAILER:
		/* Built once, when entered: the CRC covers everything before. */
		*ptr = &r->scratch.trailer;
		*len = sizeof(r->scratch.trailer);
		return;
	default:
		*ptr = NULL;
		*len = 0;
		return;
	}
}

/* The part after the current one; enters a node, channel or record. */
static void snapchan_img_next(struct snapchan_img_reader *r)
{
	const struct snapchan_img_src *src = r->src;

	r->off = 0;
	switch (r->part) {
	case SNAPCHAN_IMG_PART_HEADER:
		r->node = 0;
		r->part = SNAPCHAN_IMG_PART_NODE;
		break;
	case SNAPCHAN_IMG_PART_NODE:
		r->part = SNAPCHAN_IMG_PART_NODE_STATE;
		return;
	case SNAPCHAN_IMG_PART_NODE_STATE:
		r->part = SNAPCHAN_IMG_PART_NODE_PAD;
		return;
	case SNAPCHAN_IMG_PART_NODE_PAD:
		r->node++;
		r->part = SNAPCHAN_IMG_PART_NODE;
		break;
	case SNAPCHAN_IMG_PART_CHAN:
		r->rec = 0;
		r->part = SNAPCHAN_IMG_PART_REC;
		break;
	case SNAPCHAN_IMG_PART_REC:
		r->part = SNAPCHAN_IMG_PART_REC_DATA;
		return;
	case SNAPCHAN_IMG_PART_REC_DATA:
		r->part = SNAPCHAN_IMG_PART_REC_PAD;
		return;
	case SNAPCHAN_IMG_PART_REC_PAD:
		r->rec++;
		r->part = SNAPCHAN_IMG_PART_REC;
		break;
	case SNAPCHAN_IMG_PART_TRAILER:
	default:
		r->part = SNAPCHAN_IMG_PART_DONE;
		return;
	}

	/* Skip past exhausted lists: nodes, then channels, then records. */
	if (r->part == SNAPCHAN_IMG_PART_NODE && r->node >= src->nr_nodes) {
		r->chan = 0;
		r->part = SNAPCHAN_IMG_PART_CHAN;
	}
	while (r->part == SNAPCHAN_IMG_PART_REC &&
	       r->rec >= src->chans[r->chan].nr_recs) {
		r->chan++;
		r->part = SNAPCHAN_IMG_PART_CHAN;
	}
	if (r->part == SNAPCHAN_IMG_PART_CHAN && r->chan >= src->nr_chans) {
		r->part = SNAPCHAN_IMG_PART_TRAILER;
		r->scratch.trailer.magic = cpu_to_le32(SNAPCHAN_IMG_END_MAGIC);
		r->scratch.trailer.crc32c = cpu_to_le32(~r->crc);
		r->scratch.trailer.total_len = src->hdr.total_len;
	}
}

/*
 * Small records are copied out in batches: whole records (section, payload
 * and padding) from the current one on are staged in one buffer, and their
 * CRC taken, so that a read costs one user copy per batch instead of two
 * or three per record.  The stage is allocated at the first use and kept
 * until snapchan_img_reader_release(); without it, records go one part at
 * a time.  Returns the number of bytes staged.
 */
#define SNAPCHAN_IMG_STAGE	PAGE_SIZE

static u32 snapchan_img_stage(struct snapchan_img_reader *r)
{
	const struct snapchan_rec *rec;
	size_t n = 0, len, total;

	if (!r->stage) {
		r->stage = kmalloc(SNAPCHAN_IMG_STAGE,
				   GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!r->stage)
			return 0;
	}
	while (r->part == SNAPCHAN_IMG_PART_REC) {
		rec = r->src->chans[r->chan].recs[r->rec];
		len = rec->len;
		total = sizeof(struct snapchan_img_record) + len +
			snapchan_pad8(len);
		if (total > SNAPCHAN_IMG_STAGE - n)
			break;
		/* @n stays a multiple of 8: every record is padded to it. */
		snapchan_img_rec_hdr(rec, (void *)(r->stage + n));
		n += sizeof(struct snapchan_img_record);
		memcpy(r->stage + n, snapchan_rec_data(rec), len);
		memset(r->stage + n + len, 0, snapchan_pad8(len));
		n += len + snapchan_pad8(len);
		r->crc = __crc32c_le(r->crc, r->stage + n - total, total);
		/* The CRC is current before a step may enter the trailer. */
		r->part = SNAPCHAN_IMG_PART_REC_PAD;
		snapchan_img_next(r);
	}
	r->stage_len = n;
	r->stage_off = 0;
	return n;
}

/**
 * snapchan_img_reader_release() - free what a reader allocated
 * @r: the reader, no longer used.
 */
void snapchan_img_reader_release(struct snapchan_img_reader *r)
{
	kfree(r->stage);
	r->stage = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_img_reader_release);

/**
 * snapchan_img_read() - copy the next bytes of the image
 * @r: the reader; the caller serialises calls on it.
 * @to: destination (user memory for read(), kernel memory for tests).
 *
 * Return: bytes copied (0 at the end of the image), or -EFAULT when
 * nothing could be copied.
 */
ssize_t snapchan_img_read(struct snapchan_img_reader *r, struct iov_iter *to)
{
	size_t done = 0;

	while (iov_iter_count(to) && r->part != SNAPCHAN_IMG_PART_DONE) {
		const void *ptr;
		size_t len, want, n;

		if (r->stage_off < r->stage_len) {
			want = min_t(size_t, r->stage_len - r->stage_off,
				     iov_iter_count(to));
			n = copy_to_iter(r->stage + r->stage_off, want, to);
			r->stage_off += n;
			r->pos += n;
			done += n;
			if (n < want)
				return done ? done : -EFAULT;
			continue;
		}
		if (r->part == SNAPCHAN_IMG_PART_REC && !r->off &&
		    snapchan_img_stage(r))
			continue;

		snapchan_img_part(r, &ptr, &len);
		if (r->off >= len) {
			snapchan_img_next(r);
			continue;
		}
		want = min(len - r->off, iov_iter_count(to));
		n = copy_to_iter(ptr + r->off, want, to);
		r->crc = __crc32c_le(r->crc, ptr + r->off, n);
		r->off += n;
		r->pos += n;
		done += n;
		if (n < want)
			return done ? done : -EFAULT;
	}
	return done;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_img_read);

/**
 * snapchan_img_chan_desc() - fill an image channel section from a channel
 * @chan: the channel (its configuration is immutable; no lock needed).
 * @desc: out: the section, little-endian.
 * @recs: the records the section will carry.
 * @nr: how many.
 * @next_seq: the channel's next sequence number when none of @recs is DATA.
 */
void snapchan_img_chan_desc(const struct snapchan_chan *chan,
			    struct snapchan_img_chan *desc,
			    struct snapchan_rec **recs, u32 nr, u64 next_seq)
{
	u64 first = 0, last = 0, bytes = 0;
	u32 i;

	for (i = 0; i < nr; i++) {
		if (recs[i]->type != SNAPCHAN_REC_DATA)
			continue;
		if (!first)
			first = recs[i]->seq;
		last = recs[i]->seq;
		bytes += recs[i]->len;
	}

	memset(desc, 0, sizeof(*desc));
	desc->chan_id = cpu_to_le64(chan->id);
	memcpy(desc->name, chan->cfg.name, SNAPCHAN_NAME_LEN);
	memcpy(desc->group, chan->cfg.group, SNAPCHAN_NAME_LEN);
	desc->capacity_bytes = cpu_to_le64(chan->cfg.capacity_bytes);
	desc->capacity_msgs = cpu_to_le32(chan->cfg.capacity_msgs);
	desc->max_msg = cpu_to_le32(chan->cfg.max_msg);
	desc->flags = cpu_to_le32(chan->cfg.flags);
	desc->mode = cpu_to_le32(chan->cfg.mode);
	desc->first_seq = cpu_to_le64(first ? first : next_seq);
	desc->next_seq = cpu_to_le64(first ? last + 1 : next_seq);
	desc->record_count = cpu_to_le64(nr);
	desc->record_bytes = cpu_to_le64(bytes);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_img_chan_desc);
