// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for captures and the image stream: a capture keeps its
 * records intact after they are consumed and after the channel is gone;
 * the stream is the same whatever the read sizes; its CRC and lengths are
 * right.
 */

#include <kunit/test.h>
#include <linux/crc32.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uio.h>

#include "../snapchan.h"

static struct snapchan_chan *cap_chan(struct kunit *test)
{
	struct snapchan_chan_cfg cfg = {
		.capacity_msgs = 32, .capacity_bytes = 4096, .max_msg = 256,
	};
	struct snapchan_chan *chan;

	strscpy(cfg.name, "kcap", sizeof(cfg.name));
	strscpy(cfg.group, "g", sizeof(cfg.group));
	KUNIT_ASSERT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	chan = snapchan_chan_alloc(&cfg);
	KUNIT_ASSERT_NOT_NULL(test, chan);
	return chan;
}

static void cap_push(struct kunit *test, struct snapchan_chan *chan, u32 len)
{
	struct snapchan_rec *rec = snapchan_rec_alloc_data(len);
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, rec);
	for (i = 0; i < len; i++)
		snapchan_rec_data(rec)[i] = (u8)(len + i);
	mutex_lock(&chan->lock);
	KUNIT_ASSERT_EQ(test, snapchan_chan_push(chan, rec), 0);
	mutex_unlock(&chan->lock);
}

static void cap_push_marker(struct kunit *test, struct snapchan_chan *chan,
			    u64 id)
{
	struct snapchan_rec *rec = snapchan_rec_alloc_marker(id, 0);

	KUNIT_ASSERT_NOT_NULL(test, rec);
	mutex_lock(&chan->lock);
	snapchan_chan_push_marker(chan, rec);
	mutex_unlock(&chan->lock);
}

/* Read the whole stream in chunks of @chunk bytes into a new buffer. */
static u8 *cap_read_all(struct kunit *test, struct snapchan_cap *cap,
			size_t chunk, size_t *lenp)
{
	size_t total = le64_to_cpu(cap->src.hdr.total_len), off = 0;
	u8 *buf = kunit_kzalloc(test, total + 16, GFP_KERNEL);
	struct snapchan_img_reader r;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	snapchan_img_reader_init(&r, &cap->src);
	for (;;) {
		struct kvec kv = { .iov_base = buf + off,
				   .iov_len = min(chunk, total + 16 - off) };
		struct iov_iter it;
		ssize_t n;

		iov_iter_kvec(&it, ITER_DEST, &kv, 1, kv.iov_len);
		n = snapchan_img_read(&r, &it);
		KUNIT_ASSERT_GE(test, n, 0);
		if (!n)
			break;
		off += n;
	}
	snapchan_img_reader_release(&r);
	*lenp = off;
	return buf;
}

static void capture_survives_consumption_and_destroy(struct kunit *test)
{
	struct snapchan_chan *chan = cap_chan(test);
	const struct snapchan_img_header *hdr;
	const struct snapchan_img_chan *desc;
	const struct snapchan_img_record *rec;
	const struct snapchan_img_trailer *trl;
	struct snapchan_cap *cap;
	size_t len, off;
	u8 *img;
	int i;

	cap_push(test, chan, 5);
	cap_push(test, chan, 0);
	cap_push_marker(test, chan, 42);
	cap_push(test, chan, 17);

	cap = snapchan_cap_take(chan);
	KUNIT_ASSERT_FALSE(test, IS_ERR(cap));
	KUNIT_EXPECT_EQ(test, cap->count, 4ULL);
	KUNIT_EXPECT_EQ(test, cap->markers, 1ULL);
	KUNIT_EXPECT_EQ(test, cap->bytes, 22ULL);
	KUNIT_EXPECT_EQ(test, cap->first_seq, 1ULL);
	KUNIT_EXPECT_EQ(test, cap->last_seq, 3ULL);

	/* Consume everything and drop the channel: the capture holds on. */
	for (i = 0; i < 4; i++) {
		mutex_lock(&chan->lock);
		snapchan_rec_put(snapchan_chan_pop(chan));
		mutex_unlock(&chan->lock);
	}
	snapchan_chan_put(chan);

	img = cap_read_all(test, cap, 4096, &len);
	KUNIT_ASSERT_EQ(test, len, (size_t)le64_to_cpu(cap->src.hdr.total_len));
	hdr = (const void *)img;
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr->magic), SNAPCHAN_IMG_MAGIC);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(hdr->kind),
			(u16)SNAPCHAN_IMG_KIND_CAPTURE);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr->chan_count), 1U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(hdr->record_count), 4ULL);
	KUNIT_EXPECT_STREQ(test, hdr->group, "g");

	off = sizeof(*hdr);
	desc = (const void *)(img + off);
	KUNIT_EXPECT_STREQ(test, desc->name, "kcap");
	KUNIT_EXPECT_EQ(test, le64_to_cpu(desc->first_seq), 1ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(desc->next_seq), 4ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(desc->record_bytes), 22ULL);
	off += sizeof(*desc);

	/* First record: seq 1, 5 bytes, padded to 8. */
	rec = (const void *)(img + off);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(rec->seq), 1ULL);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(rec->len), 5U);
	KUNIT_EXPECT_EQ(test, img[off + sizeof(*rec) + 4], (u8)(5 + 4));
	KUNIT_EXPECT_EQ(test, img[off + sizeof(*rec) + 5], 0);
	off += sizeof(*rec) + 8;
	/* Second: zero length. */
	rec = (const void *)(img + off);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(rec->seq), 2ULL);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(rec->len), 0U);
	off += sizeof(*rec);
	/* Third: the marker. */
	rec = (const void *)(img + off);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(rec->type), (u32)SNAPCHAN_REC_MARKER);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(rec->snap_id), 42ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(rec->seq), 0ULL);
	off += sizeof(*rec);
	/* Fourth: 17 bytes, intact after the channel is gone. */
	rec = (const void *)(img + off);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(rec->seq), 3ULL);
	KUNIT_EXPECT_EQ(test, img[off + sizeof(*rec) + 16], (u8)(17 + 16));
	off += sizeof(*rec) + 24;

	trl = (const void *)(img + off);
	KUNIT_EXPECT_EQ(test, off + sizeof(*trl), len);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(trl->magic), SNAPCHAN_IMG_END_MAGIC);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(trl->crc32c),
			~__crc32c_le(~0U, img, off));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(trl->total_len), (u64)len);

	snapchan_cap_free(cap);
}

/* Reads of 1, 3, 7 and 64 bytes give the same stream as one big read. */
static void capture_stream_resumes_short_reads(struct kunit *test)
{
	static const size_t chunks[] = { 1, 3, 7, 64 };
	struct snapchan_chan *chan = cap_chan(test);
	struct snapchan_cap *cap;
	size_t len, len2, i;
	u8 *ref, *img;

	for (i = 0; i < 9; i++)
		cap_push(test, chan, i * 11);
	cap = snapchan_cap_take(chan);
	KUNIT_ASSERT_FALSE(test, IS_ERR(cap));
	ref = cap_read_all(test, cap, 1 << 16, &len);
	for (i = 0; i < ARRAY_SIZE(chunks); i++) {
		img = cap_read_all(test, cap, chunks[i], &len2);
		KUNIT_EXPECT_EQ(test, len2, len);
		KUNIT_EXPECT_EQ_MSG(test, memcmp(img, ref, len), 0,
				    "chunk %zu", chunks[i]);
	}
	snapchan_cap_free(cap);
	snapchan_chan_put(chan);
}

/*
 * Small records are streamed in staged batches, big ones part by part:
 * a mix of both, across several batches and read in odd chunk sizes, gives
 * the same bytes, every record intact and in order, and a CRC over them.
 */
static void capture_stream_batches(struct kunit *test)
{
	static const u32 sizes[] = { 60, 0, 5000, 7, 4064, 4065, 1, 13 };
	struct snapchan_chan_cfg cfg = {
		.capacity_msgs = 1024, .capacity_bytes = 1 << 20,
		.max_msg = 8192,
	};
	static const size_t chunks[] = { 1, 100, 4096, 65536 };
	const struct snapchan_img_record *ir;
	struct snapchan_chan *chan;
	struct snapchan_cap *cap;
	u8 *img, *first = NULL;
	size_t len, first_len = 0, off, c;
	u32 i, n = 0, j;

	strscpy(cfg.name, "kcapb", sizeof(cfg.name));
	KUNIT_ASSERT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	chan = snapchan_chan_alloc(&cfg);
	KUNIT_ASSERT_NOT_NULL(test, chan);
	for (i = 0; i < 200; i++) {
		cap_push(test, chan, sizes[i % ARRAY_SIZE(sizes)]);
		if (i % 50 == 49)
			cap_push_marker(test, chan, i);
	}
	cap = snapchan_cap_take(chan);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(cap));

	for (c = 0; c < ARRAY_SIZE(chunks); c++) {
		img = cap_read_all(test, cap, chunks[c], &len);
		KUNIT_ASSERT_EQ(test, len,
				(size_t)le64_to_cpu(cap->src.hdr.total_len));
		if (!first) {
			first = img;
			first_len = len;
		}
		KUNIT_EXPECT_EQ(test, len, first_len);
		KUNIT_EXPECT_EQ(test, memcmp(img, first, len), 0);
	}

	/* Walk the records: headers, payloads, padding, markers. */
	off = sizeof(struct snapchan_img_header) +
	      sizeof(struct snapchan_img_chan);
	for (i = 0; i < 200; i++) {
		u32 want = sizes[i % ARRAY_SIZE(sizes)];

		ir = (const void *)(first + off);
		KUNIT_ASSERT_EQ(test, le32_to_cpu(ir->type),
				(u32)SNAPCHAN_REC_DATA);
		KUNIT_ASSERT_EQ(test, le32_to_cpu(ir->len), want);
		KUNIT_EXPECT_EQ(test, le64_to_cpu(ir->seq), (u64)i + 1);
		KUNIT_EXPECT_EQ(test, le64_to_cpu(ir->snap_id), 0ULL);
		off += sizeof(*ir);
		for (j = 0; j < want; j++)
			if (first[off + j] != (u8)(want + j))
				n++;
		off += want;
		for (j = 0; j < (8 - want % 8) % 8; j++)
			n += first[off++] != 0;
		if (i % 50 == 49) {
			ir = (const void *)(first + off);
			KUNIT_EXPECT_EQ(test, le32_to_cpu(ir->type),
					(u32)SNAPCHAN_REC_MARKER);
			KUNIT_EXPECT_EQ(test, le64_to_cpu(ir->snap_id), (u64)i);
			off += sizeof(*ir);
		}
	}
	KUNIT_EXPECT_EQ(test, n, 0U);
	KUNIT_ASSERT_EQ(test, off + sizeof(struct snapchan_img_trailer),
			first_len);
	KUNIT_EXPECT_EQ(test,
			le32_to_cpu(((const struct snapchan_img_trailer *)
				     (first + off))->crc32c),
			~__crc32c_le(~0U, first, off));
	snapchan_cap_free(cap);
	snapchan_chan_put(chan);
}

static void capture_empty_channel(struct kunit *test)
{
	struct snapchan_chan *chan = cap_chan(test);
	const struct snapchan_img_chan *desc;
	struct snapchan_cap *cap;
	size_t len;
	u8 *img;

	cap_push(test, chan, 1);
	mutex_lock(&chan->lock);
	snapchan_rec_put(snapchan_chan_pop(chan));
	mutex_unlock(&chan->lock);

	cap = snapchan_cap_take(chan);
	KUNIT_ASSERT_FALSE(test, IS_ERR(cap));
	KUNIT_EXPECT_EQ(test, cap->count, 0ULL);
	KUNIT_EXPECT_EQ(test, cap->first_seq, 0ULL);
	img = cap_read_all(test, cap, 4096, &len);
	KUNIT_EXPECT_EQ(test, len, sizeof(struct snapchan_img_header) +
			sizeof(struct snapchan_img_chan) +
			sizeof(struct snapchan_img_trailer));
	desc = (const void *)(img + sizeof(struct snapchan_img_header));
	/* No record: first == next == the channel's next sequence number. */
	KUNIT_EXPECT_EQ(test, le64_to_cpu(desc->first_seq), 2ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(desc->next_seq), 2ULL);
	snapchan_cap_free(cap);
	snapchan_chan_put(chan);
}

static void capture_dead_channel(struct kunit *test)
{
	struct snapchan_chan *chan = cap_chan(test);

	snapchan_chan_kill(chan);
	KUNIT_EXPECT_EQ(test, PTR_ERR(snapchan_cap_take(chan)), -ENODEV);
	snapchan_chan_put(chan);
}

static struct kunit_case snapchan_capture_cases[] = {
	KUNIT_CASE(capture_survives_consumption_and_destroy),
	KUNIT_CASE(capture_stream_resumes_short_reads),
	KUNIT_CASE(capture_stream_batches),
	KUNIT_CASE(capture_empty_channel),
	KUNIT_CASE(capture_dead_channel),
	{}
};

static struct kunit_suite snapchan_capture_suite = {
	.name = "snapchan_capture",
	.test_cases = snapchan_capture_cases,
};

kunit_test_suite(snapchan_capture_suite);
