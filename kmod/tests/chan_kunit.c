// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for the snapchan queue: ordering, capacity accounting in
 * bytes and messages, sequence numbers, markers, configuration limits.
 * They drive in-kernel channels directly, without devices or user space.
 */

#include <kunit/test.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "../snapchan.h"

static struct snapchan_chan *kunit_chan(struct kunit *test, u32 msgs,
					u64 bytes, u32 max_msg, u64 first_seq)
{
	struct snapchan_chan_cfg cfg = {
		.capacity_msgs = msgs,
		.capacity_bytes = bytes,
		.max_msg = max_msg,
		.first_seq = first_seq,
	};
	struct snapchan_chan *chan;

	strscpy(cfg.name, "kunit", sizeof(cfg.name));
	KUNIT_ASSERT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	chan = snapchan_chan_alloc(&cfg);
	KUNIT_ASSERT_NOT_NULL(test, chan);
	return chan;
}

/* Push a DATA record whose payload is @len copies of @fill. */
static int kunit_push(struct kunit *test, struct snapchan_chan *chan,
		      u32 len, u8 fill)
{
	struct snapchan_rec *rec = snapchan_rec_alloc_data(len);
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, rec);
	memset(snapchan_rec_data(rec), fill, len);
	mutex_lock(&chan->lock);
	ret = snapchan_chan_push(chan, rec);
	mutex_unlock(&chan->lock);
	if (ret)
		snapchan_rec_put(rec);
	return ret;
}

static struct snapchan_rec *kunit_pop(struct snapchan_chan *chan)
{
	struct snapchan_rec *rec;

	mutex_lock(&chan->lock);
	rec = snapchan_chan_pop(chan);
	mutex_unlock(&chan->lock);
	return rec;
}

static void queue_fifo_order_and_seq(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 64, 4096, 64, 0);
	struct snapchan_rec *rec;
	int i;

	for (i = 0; i < 10; i++)
		KUNIT_EXPECT_EQ(test, kunit_push(test, chan, i + 1, i), 0);
	KUNIT_EXPECT_EQ(test, chan->next_seq, 11ULL);
	for (i = 0; i < 10; i++) {
		rec = kunit_pop(chan);
		KUNIT_ASSERT_NOT_NULL(test, rec);
		KUNIT_EXPECT_EQ(test, (u32)rec->type, (u32)SNAPCHAN_REC_DATA);
		KUNIT_EXPECT_EQ(test, rec->seq, (u64)i + 1);
		KUNIT_EXPECT_EQ(test, (u32)rec->len, (u32)i + 1);
		KUNIT_EXPECT_EQ(test, snapchan_rec_data(rec)[0], (u8)i);
		snapchan_rec_put(rec);
	}
	KUNIT_EXPECT_NULL(test, kunit_pop(chan));
	KUNIT_EXPECT_EQ(test, chan->total_sent, 10ULL);
	KUNIT_EXPECT_EQ(test, chan->total_received, 10ULL);
	snapchan_chan_put(chan);
}

static void queue_first_seq(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 4, 4096, 64, 1000);
	struct snapchan_rec *rec;

	KUNIT_EXPECT_EQ(test, chan->next_seq, 1000ULL);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 3, 1), 0);
	rec = kunit_pop(chan);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	KUNIT_EXPECT_EQ(test, rec->seq, 1000ULL);
	snapchan_rec_put(rec);
	KUNIT_EXPECT_EQ(test, chan->next_seq, 1001ULL);
	snapchan_chan_put(chan);
}

static void queue_capacity_msgs(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 3, 4096, 64, 0);

	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 0, 0), -EAGAIN);
	/* A refused record takes no sequence number. */
	KUNIT_EXPECT_EQ(test, chan->next_seq, 4ULL);
	KUNIT_EXPECT_EQ(test, chan->depth_msgs, 3U);
	snapchan_rec_put(kunit_pop(chan));
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 0, 0), 0);
	snapchan_chan_put(chan);
}

static void queue_capacity_bytes(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 100, 100, 60, 0);

	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 60, 1), 0);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 41, 2), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 40, 3), 0);
	KUNIT_EXPECT_EQ(test, chan->depth_bytes, 100ULL);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 1, 0), -EAGAIN);
	snapchan_rec_put(kunit_pop(chan));
	KUNIT_EXPECT_EQ(test, chan->depth_bytes, 40ULL);
	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 60, 4), 0);
	snapchan_chan_put(chan);
}

/* Fill and drain many times: the counters come back to zero every time. */
static void queue_wraparound(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 7, 700, 100, 0);
	u64 expect = 1;
	int round, i, n;

	for (round = 0; round < 50; round++) {
		n = 1 + round % 7;
		for (i = 0; i < n; i++)
			KUNIT_ASSERT_EQ(test, kunit_push(test, chan,
							 (round * 13 + i) % 100,
							 i), 0);
		for (i = 0; i < n; i++) {
			struct snapchan_rec *rec = kunit_pop(chan);

			KUNIT_ASSERT_NOT_NULL(test, rec);
			KUNIT_EXPECT_EQ(test, rec->seq, expect++);
			snapchan_rec_put(rec);
		}
		KUNIT_EXPECT_EQ(test, chan->depth_msgs, 0U);
		KUNIT_EXPECT_EQ(test, chan->depth_bytes, 0ULL);
	}
	snapchan_chan_put(chan);
}

static void queue_markers_take_no_capacity(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 1, 64, 64, 0);
	struct snapchan_rec *rec;

	KUNIT_EXPECT_EQ(test, kunit_push(test, chan, 64, 1), 0);
	rec = snapchan_rec_alloc_marker(7, 3);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	mutex_lock(&chan->lock);
	snapchan_chan_push_marker(chan, rec);
	mutex_unlock(&chan->lock);
	KUNIT_EXPECT_EQ(test, chan->markers, 1U);
	KUNIT_EXPECT_EQ(test, chan->depth_msgs, 1U);
	KUNIT_EXPECT_EQ(test, chan->next_seq, 2ULL);

	rec = kunit_pop(chan);
	KUNIT_EXPECT_EQ(test, (u32)rec->type, (u32)SNAPCHAN_REC_DATA);
	snapchan_rec_put(rec);
	rec = kunit_pop(chan);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	KUNIT_EXPECT_EQ(test, (u32)rec->type, (u32)SNAPCHAN_REC_MARKER);
	KUNIT_EXPECT_EQ(test, rec->mark.snap_id, 7ULL);
	KUNIT_EXPECT_EQ(test, rec->mark.origin, 3ULL);
	KUNIT_EXPECT_EQ(test, rec->seq, 0ULL);
	snapchan_rec_put(rec);
	KUNIT_EXPECT_EQ(test, chan->markers, 0U);
	snapchan_chan_put(chan);
}

/* A reference taken on a queued record keeps it intact after it is popped. */
static void rec_reference_outlives_queue(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 4, 256, 64, 0);
	struct snapchan_rec *held, *rec;

	KUNIT_ASSERT_EQ(test, kunit_push(test, chan, 16, 0xab), 0);
	mutex_lock(&chan->lock);
	held = snapchan_rec_get(snapchan_chan_head(chan));
	mutex_unlock(&chan->lock);
	rec = kunit_pop(chan);
	KUNIT_EXPECT_PTR_EQ(test, rec, held);
	snapchan_rec_put(rec);
	snapchan_chan_put(chan);
	KUNIT_EXPECT_EQ(test, snapchan_rec_data(held)[15], (u8)0xab);
	KUNIT_EXPECT_EQ(test, refcount_read(&held->ref), 1U);
	snapchan_rec_put(held);
}

/*
 * Record layout: 32-byte header, small payloads inline (a 64-byte message
 * fits kmalloc-96), payloads past a page in their own buffer.
 */
static void rec_layout(struct kunit *test)
{
	struct snapchan_rec *rec;

	KUNIT_EXPECT_EQ(test, SNAPCHAN_REC_HDR, (size_t)32);
	rec = snapchan_rec_alloc_data(64);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	KUNIT_EXPECT_FALSE(test, rec->ext);
	KUNIT_EXPECT_EQ(test, ksize(rec), (size_t)96);
	KUNIT_EXPECT_PTR_EQ(test, snapchan_rec_data(rec), (u8 *)rec + 32);
	snapchan_rec_put(rec);

	rec = snapchan_rec_alloc_data(PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	KUNIT_EXPECT_TRUE(test, rec->ext);
	KUNIT_EXPECT_EQ(test, ksize(snapchan_rec_data(rec)), (size_t)PAGE_SIZE);
	memset(snapchan_rec_data(rec), 0x5a, PAGE_SIZE);
	snapchan_rec_put(rec);

	rec = snapchan_rec_alloc_marker(9, 4);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	KUNIT_EXPECT_EQ(test, snapchan_rec_snap_id(rec), 9ULL);
	KUNIT_EXPECT_EQ(test, snapchan_rec_origin(rec), 4ULL);
	snapchan_rec_put(rec);
}

static struct snapchan_rec *kunit_first_spare(struct snapchan_chan *chan)
{
	return list_first_entry_or_null(&chan->spares, struct snapchan_rec,
					link);
}

/*
 * A consumed record becomes a spare the next write of the same size class
 * reuses; a record still referenced (captured), a marker or a spare of
 * another class is not reused; the spares are bounded by the capacity.
 */
static void rec_spare_reuse(struct kunit *test)
{
	struct snapchan_chan *chan = kunit_chan(test, 3, 4096, 2048, 0);
	struct snapchan_rec *a, *b, *c, *held;

	a = snapchan_chan_rec_alloc(chan, 64);
	KUNIT_ASSERT_NOT_NULL(test, a);
	snapchan_chan_rec_put(chan, a);		/* last reference: spare */
	KUNIT_EXPECT_PTR_EQ(test, kunit_first_spare(chan), a);
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 1U);
	KUNIT_EXPECT_EQ(test, chan->spare_bytes, (size_t)64);

	b = snapchan_chan_rec_alloc(chan, 60);	/* same class (96) */
	KUNIT_EXPECT_PTR_EQ(test, b, a);
	KUNIT_EXPECT_EQ(test, (u32)b->len, 60U);
	KUNIT_EXPECT_EQ(test, refcount_read(&b->ref), 1U);
	KUNIT_EXPECT_EQ(test, b->seq, 0ULL);
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 0U);
	KUNIT_EXPECT_EQ(test, chan->spare_bytes, (size_t)0);

	/* Another class: the spare is not handed out for it. */
	snapchan_chan_rec_put(chan, b);
	b = snapchan_chan_rec_alloc(chan, 1000);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_PTR_NE(test, b, a);
	KUNIT_EXPECT_GE(test, ksize(b), SNAPCHAN_REC_HDR + 1000);
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 0U);

	/* A record someone else still holds is not recycled. */
	held = snapchan_rec_get(b);
	snapchan_chan_rec_put(chan, b);
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 0U);
	KUNIT_EXPECT_EQ(test, refcount_read(&held->ref), 1U);
	snapchan_rec_put(held);

	/* Markers are never kept. */
	a = snapchan_rec_alloc_marker(1, 0);
	KUNIT_ASSERT_NOT_NULL(test, a);
	snapchan_chan_rec_put(chan, a);
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 0U);

	/* At most capacity_msgs (3) minus queued ones; kmemleak checks. */
	a = snapchan_chan_rec_alloc(chan, 8);
	b = snapchan_chan_rec_alloc(chan, 8);
	c = snapchan_chan_rec_alloc(chan, 8);
	held = snapchan_chan_rec_alloc(chan, 8);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_NOT_NULL(test, held);
	KUNIT_ASSERT_EQ(test, kunit_push(test, chan, 8, 1), 0);
	snapchan_chan_rec_put(chan, a);
	snapchan_chan_rec_put(chan, b);
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 2U);
	snapchan_chan_rec_put(chan, c);		/* 1 queued + 2 spares: full */
	snapchan_chan_rec_put(chan, held);
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 2U);
	KUNIT_EXPECT_PTR_EQ(test, kunit_first_spare(chan), b);
	snapchan_chan_put(chan);

	/* And at most capacity_bytes of payload, queued ones included. */
	chan = kunit_chan(test, 8, 99, 64, 0);
	a = snapchan_chan_rec_alloc(chan, 40);
	b = snapchan_chan_rec_alloc(chan, 40);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_EQ(test, kunit_push(test, chan, 20, 1), 0);
	snapchan_chan_rec_put(chan, a);		/* 20 + 40 <= 99 */
	snapchan_chan_rec_put(chan, b);		/* 20 + 80 > 99: freed */
	KUNIT_EXPECT_EQ(test, chan->nr_spares, 1U);
	KUNIT_EXPECT_EQ(test, chan->spare_bytes, (size_t)40);
	snapchan_chan_put(chan);
}

static void cfg_names(struct kunit *test)
{
	static const char * const bad[] = {
		"", ".", "..", "a/b", " x", "x y", "\xc3\xa9", "control",
	};
	struct snapchan_chan_cfg cfg;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&cfg, 0, sizeof(cfg));
		strscpy(cfg.name, bad[i], sizeof(cfg.name));
		KUNIT_EXPECT_EQ_MSG(test, snapchan_chan_cfg_check(&cfg),
				    -EINVAL, "name '%s'", bad[i]);
	}
	memset(&cfg, 0, sizeof(cfg));
	memset(cfg.name, 'a', sizeof(cfg.name));	/* no terminator */
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);

	memset(&cfg, 0, sizeof(cfg));
	memset(cfg.name, 'a', sizeof(cfg.name) - 1);	/* 31 chars: fine */
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	strscpy(cfg.group, "bad group", sizeof(cfg.group));
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	strscpy(cfg.group, "A-z_0.9", sizeof(cfg.group));
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
}

static void cfg_limits_and_defaults(struct kunit *test)
{
	const struct snapchan_limits *lim = &snapchan_limits;
	struct snapchan_chan_cfg cfg = {};

	strscpy(cfg.name, "x", sizeof(cfg.name));
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	KUNIT_EXPECT_EQ(test, cfg.first_seq, 1ULL);
	KUNIT_EXPECT_EQ(test, cfg.mode, 0600U);
	KUNIT_EXPECT_EQ(test, cfg.max_msg, lim->default_max_msg);
	KUNIT_EXPECT_EQ(test, cfg.capacity_msgs, lim->default_capacity_msgs);
	KUNIT_EXPECT_GE(test, cfg.capacity_bytes, (u64)cfg.max_msg);

	/* Default capacity is raised to a large max_msg. */
	memset(&cfg, 0, sizeof(cfg));
	strscpy(cfg.name, "x", sizeof(cfg.name));
	cfg.max_msg = lim->max_msg_size;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	KUNIT_EXPECT_EQ(test, cfg.capacity_bytes, (u64)lim->max_msg_size);

	cfg.max_msg = lim->max_msg_size + 1;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	cfg.max_msg = 100;
	cfg.capacity_bytes = 99;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	cfg.capacity_bytes = (u64)lim->max_capacity_bytes + 1;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	cfg.capacity_bytes = 100;
	cfg.capacity_msgs = lim->max_capacity_msgs + 1;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	cfg.capacity_msgs = 1;
	cfg.mode = 0700;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	cfg.mode = 0640;
	cfg.flags = 1U << 30;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	cfg.flags = SNAPCHAN_CHAN_F_EOF;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	/* Sequence numbers must not be able to wrap to 0. */
	cfg.first_seq = SNAPCHAN_SEQ_MAX;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	cfg.first_seq = SNAPCHAN_SEQ_MAX + 1;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
	cfg.first_seq = U64_MAX;
	KUNIT_EXPECT_EQ(test, snapchan_chan_cfg_check(&cfg), -EINVAL);
}

/*
 * snapchan_chan_permission() as fsuid @uid and fsgid @gid, with no
 * capabilities unless @dac_override.
 */
static int kunit_perm_as(struct kunit *test, struct snapchan_chan *chan,
			 u32 uid, u32 gid, bool dac_override, int mask)
{
	const struct cred *old;
	struct cred *cred;
	int ret;

	cred = prepare_creds();
	KUNIT_ASSERT_NOT_NULL(test, cred);
	cred->fsuid = KUIDT_INIT(uid);
	cred->fsgid = KGIDT_INIT(gid);
	cap_clear(cred->cap_effective);
	if (dac_override)
		cap_raise(cred->cap_effective, CAP_DAC_OVERRIDE);
	old = override_creds(cred);
	ret = snapchan_chan_permission(chan, mask);
	revert_creds(old);
	put_cred(cred);
	return ret;
}

/*
 * Open and CAPTURE check the channel's own owner, group and mode, with
 * generic_permission()'s classes: the owner's bits alone for the owner,
 * the group's alone for a member, else the others'.
 */
static void cfg_permission(struct kunit *test)
{
	static const struct {
		u32 mode, uid, gid;
		bool cap;
		int mask, want;
	} t[] = {
		{ 0640, 1000, 100, false, MAY_READ, 0 },
		{ 0640, 1000, 100, false, MAY_WRITE, 0 },
		{ 0640, 2000, 100, false, MAY_READ, 0 },
		{ 0640, 2000, 100, false, MAY_WRITE, -EACCES },
		{ 0640, 2000, 200, false, MAY_READ, -EACCES },
		{ 0602, 2000, 200, false, MAY_WRITE, 0 },
		{ 0602, 2000, 200, false, MAY_READ, -EACCES },
		/* The group class does not fall back to the others' bits. */
		{ 0606, 2000, 100, false, MAY_WRITE, -EACCES },
		/* Nor the owner's to the group's. */
		{ 0060, 1000, 100, false, MAY_READ, -EACCES },
		{ 0600, 2000, 200, true, MAY_READ, 0 },
		{ 0600, 2000, 200, true, MAY_WRITE, 0 },
		{ 0000, 1000, 100, false, MAY_READ, -EACCES },
	};
	struct snapchan_chan *chan = kunit_chan(test, 4, 4096, 64, 0);
	size_t i;

	chan->cfg.uid = KUIDT_INIT(1000);
	chan->cfg.gid = KGIDT_INIT(100);
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		chan->cfg.mode = t[i].mode;
		KUNIT_EXPECT_EQ_MSG(test, t[i].want,
				    kunit_perm_as(test, chan, t[i].uid,
						  t[i].gid, t[i].cap,
						  t[i].mask),
				    "case %zu: mode %04o uid %u gid %u", i,
				    t[i].mode, t[i].uid, t[i].gid);
	}
	snapchan_chan_put(chan);
}

static struct kunit_case snapchan_queue_cases[] = {
	KUNIT_CASE(queue_fifo_order_and_seq),
	KUNIT_CASE(queue_first_seq),
	KUNIT_CASE(queue_capacity_msgs),
	KUNIT_CASE(queue_capacity_bytes),
	KUNIT_CASE(queue_wraparound),
	KUNIT_CASE(queue_markers_take_no_capacity),
	KUNIT_CASE(rec_reference_outlives_queue),
	KUNIT_CASE(rec_layout),
	KUNIT_CASE(rec_spare_reuse),
	{}
};

static struct kunit_suite snapchan_queue_suite = {
	.name = "snapchan_queue",
	.test_cases = snapchan_queue_cases,
};

static struct kunit_case snapchan_cfg_cases[] = {
	KUNIT_CASE(cfg_names),
	KUNIT_CASE(cfg_limits_and_defaults),
	KUNIT_CASE(cfg_permission),
	{}
};

static struct kunit_suite snapchan_cfg_suite = {
	.name = "snapchan_cfg",
	.test_cases = snapchan_cfg_cases,
};

kunit_test_suites(&snapchan_queue_suite, &snapchan_cfg_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit tests for snapchan");
MODULE_LICENSE("GPL");
