// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the snapshot state machine and recording rules, on
 * in-kernel groups, nodes and channels without user space or files:
 * marker at the head, in the middle, or not yet sent; the first-marker
 * channel's empty state; recording that closes when the marker is placed;
 * abort purging markers; concurrent snapshots; budget; self-loops.
 */

#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "../snapchan.h"

#define KFX_MAX 8

struct kfx {
	struct snapchan_group *group;
	struct snapchan_node *nodes[KFX_MAX];
	struct snapchan_chan *chans[KFX_MAX];
	struct snapchan_snap *snaps[KFX_MAX * 2];
	int nr_nodes;
	int nr_chans;
	int nr_snaps;
};

static atomic_t kfx_seq = ATOMIC_INIT(0);

static int kfx_init(struct kunit *test)
{
	struct kfx *fx = kunit_kzalloc(test, sizeof(*fx), GFP_KERNEL);
	char name[SNAPCHAN_NAME_LEN];

	KUNIT_ASSERT_NOT_NULL(test, fx);
	snprintf(name, sizeof(name), "kunit-snap-%d",
		 atomic_inc_return(&kfx_seq));
	fx->group = snapchan_group_get_or_create(name, true);
	KUNIT_ASSERT_FALSE(test, IS_ERR(fx->group));
	test->priv = fx;
	return 0;
}

static void kfx_exit(struct kunit *test)
{
	struct kfx *fx = test->priv;
	struct snapchan_group *group = fx->group;
	int i;

	mutex_lock(&group->lock);
	snapchan_group_abort_running(group, SNAPCHAN_ABORT_UNLOAD);
	for (i = 0; i < fx->nr_chans; i++) {
		struct snapchan_chan *chan = fx->chans[i];

		mutex_lock(&chan->lock);
		kfree(chan->sender_end);
		kfree(chan->receiver_end);
		chan->sender_end = NULL;
		chan->receiver_end = NULL;
		mutex_unlock(&chan->lock);
		list_del_init(&chan->group_link);
	}
	for (i = 0; i < fx->nr_nodes; i++) {
		list_del_init(&fx->nodes[i]->link);
		fx->nodes[i]->dead = true;
	}
	snapchan_group_release_snaps(group);
	mutex_unlock(&group->lock);

	for (i = 0; i < fx->nr_snaps; i++)
		snapchan_snap_put(fx->snaps[i]);
	for (i = 0; i < fx->nr_chans; i++)
		snapchan_chan_put(fx->chans[i]);
	for (i = 0; i < fx->nr_nodes; i++)
		snapchan_node_put(fx->nodes[i]);
	snapchan_group_put(group);
}

static struct snapchan_node *kfx_node(struct kunit *test, const char *name)
{
	struct kfx *fx = test->priv;
	struct snapchan_node *node;

	node = snapchan_node_alloc(fx->group, name);
	KUNIT_ASSERT_FALSE(test, IS_ERR(node));
	mutex_lock(&fx->group->lock);
	list_add_tail(&node->link, &fx->group->nodes);
	node->dead = false;
	mutex_unlock(&fx->group->lock);
	fx->nodes[fx->nr_nodes++] = node;
	return node;
}

static struct snapchan_end *kfx_end(struct kunit *test,
				    struct snapchan_chan *chan,
				    struct snapchan_node *node, bool out)
{
	struct snapchan_end *end = kzalloc(sizeof(*end), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, end);
	end->chan = chan;
	end->out = out;
	INIT_LIST_HEAD(&end->node_link);
	RCU_INIT_POINTER(end->node, node);
	return end;
}

/* A channel of the group from @from to @to, both ends attached. */
static struct snapchan_chan *kfx_chan(struct kunit *test,
				      struct snapchan_node *from,
				      struct snapchan_node *to)
{
	struct kfx *fx = test->priv;
	struct snapchan_chan_cfg cfg = {
		.capacity_msgs = 64, .capacity_bytes = 4096, .max_msg = 256,
	};
	struct snapchan_chan *chan;

	snprintf(cfg.name, sizeof(cfg.name), "c%d", fx->nr_chans);
	strscpy(cfg.group, fx->group->name, sizeof(cfg.group));
	KUNIT_ASSERT_EQ(test, snapchan_chan_cfg_check(&cfg), 0);
	chan = snapchan_chan_alloc(&cfg);
	KUNIT_ASSERT_NOT_NULL(test, chan);
	kref_get(&fx->group->ref);
	chan->group = fx->group;
	mutex_lock(&fx->group->lock);
	mutex_lock(&chan->lock);
	chan->sender_end = kfx_end(test, chan, from, true);
	chan->receiver_end = kfx_end(test, chan, to, false);
	mutex_unlock(&chan->lock);
	list_add_tail(&chan->group_link, &fx->group->chans);
	mutex_unlock(&fx->group->lock);
	fx->chans[fx->nr_chans++] = chan;
	return chan;
}

/* Send as the data path does: enqueue, then feed open recordings. */
static void kfx_send(struct kunit *test, struct snapchan_chan *chan, u8 fill)
{
	struct snapchan_rec *rec = snapchan_rec_alloc_data(8);

	KUNIT_ASSERT_NOT_NULL(test, rec);
	memset(snapchan_rec_data(rec), fill, 8);
	mutex_lock(&chan->lock);
	KUNIT_ASSERT_EQ(test, snapchan_chan_push(chan, rec), 0);
	snapchan_rec_recorded(chan, rec);
	mutex_unlock(&chan->lock);
}

static void kfx_recv(struct kunit *test, struct snapchan_chan *chan)
{
	struct snapchan_rec *rec;

	mutex_lock(&chan->lock);
	rec = snapchan_chan_pop(chan);
	mutex_unlock(&chan->lock);
	KUNIT_ASSERT_NOT_NULL(test, rec);
	KUNIT_EXPECT_EQ(test, (u32)rec->type, (u32)SNAPCHAN_REC_DATA);
	snapchan_rec_put(rec);
}

static struct snapchan_snap *kfx_begin(struct kunit *test, u64 budget)
{
	struct kfx *fx = test->priv;
	struct snapchan_snap *snap;

	mutex_lock(&fx->group->lock);
	snap = snapchan_snap_create(fx->group, 0, budget);
	mutex_unlock(&fx->group->lock);
	KUNIT_ASSERT_FALSE(test, IS_ERR(snap));
	KUNIT_ASSERT_LT(test, fx->nr_snaps, (int)ARRAY_SIZE(fx->snaps));
	fx->snaps[fx->nr_snaps++] = snap;
	return snap;
}

static void kfx_record(struct kunit *test, struct snapchan_snap *snap,
		       struct snapchan_node *node, u32 value)
{
	struct kfx *fx = test->priv;
	u32 *state = kmalloc(sizeof(*state), GFP_KERNEL);
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, state);
	*state = value;
	mutex_lock(&fx->group->lock);
	ret = snapchan_snap_record(snap, snapchan_snap_member(snap, node),
				   node, state, sizeof(*state));
	mutex_unlock(&fx->group->lock);
	KUNIT_ASSERT_EQ(test, ret, 0);
}

/* The recording of @chan in @snap. */
static struct snapchan_schan *kfx_sc(struct snapchan_snap *snap,
				     struct snapchan_chan *chan)
{
	u32 i;

	for (i = 0; i < snap->nr_chans; i++)
		if (snap->chans[i].chan == chan)
			return &snap->chans[i];
	return NULL;
}

static struct snapchan_rec *kfx_head(struct snapchan_chan *chan)
{
	struct snapchan_rec *rec;

	mutex_lock(&chan->lock);
	rec = snapchan_chan_head(chan);
	mutex_unlock(&chan->lock);
	return rec;
}

static void snap_sender_first_marker_at_head(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a"), *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct snapchan_snap *snap = kfx_begin(test, 0);
	struct snapchan_schan *sc = kfx_sc(snap, ab);
	struct snapchan_rec *head;

	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, snap->nr_nodes, 2U);
	KUNIT_EXPECT_EQ(test, snap->nr_chans, 1U);

	kfx_record(test, snap, a, 1);
	KUNIT_EXPECT_EQ(test, sc->state, SNAPCHAN_SCHAN_MARKED);
	head = kfx_head(ab);
	KUNIT_ASSERT_NOT_NULL(test, head);
	KUNIT_EXPECT_EQ(test, (u32)head->type, (u32)SNAPCHAN_REC_MARKER);
	KUNIT_EXPECT_EQ(test, head->mark.snap_id, snap->id);
	KUNIT_EXPECT_EQ(test, head->mark.origin, a->id);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_RUNNING);

	/* The receiver records with the marker at the head: empty state. */
	kfx_record(test, snap, b, 2);
	KUNIT_EXPECT_EQ(test, sc->state, SNAPCHAN_SCHAN_CLOSED);
	KUNIT_EXPECT_EQ(test, sc->nr_recs, 0U);
	KUNIT_EXPECT_EQ(test, ab->markers, 0U);
	KUNIT_EXPECT_NULL(test, kfx_head(ab));
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_COMPLETE);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(snap->img.hdr.node_count), 2U);
}

static void snap_marker_in_middle(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a"), *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct snapchan_snap *snap;
	struct snapchan_schan *sc;

	kfx_send(test, ab, 1);
	kfx_send(test, ab, 2);
	snap = kfx_begin(test, 0);
	sc = kfx_sc(snap, ab);
	kfx_record(test, snap, a, 0);
	kfx_send(test, ab, 3);		/* after the cut: not in the state */
	KUNIT_EXPECT_EQ(test, ab->markers, 1U);
	KUNIT_EXPECT_EQ(test, ab->depth_msgs, 3U);

	kfx_record(test, snap, b, 0);
	KUNIT_EXPECT_EQ(test, sc->state, SNAPCHAN_SCHAN_CLOSED);
	KUNIT_ASSERT_EQ(test, sc->nr_recs, 2U);
	KUNIT_EXPECT_EQ(test, sc->recs[0]->seq, 1ULL);
	KUNIT_EXPECT_EQ(test, sc->recs[1]->seq, 2ULL);
	KUNIT_EXPECT_EQ(test, sc->cut_seq, 3ULL);
	/* Nothing consumed: the receiver still gets all three, no marker. */
	KUNIT_EXPECT_EQ(test, ab->markers, 0U);
	KUNIT_EXPECT_EQ(test, ab->depth_msgs, 3U);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_COMPLETE);
}

static void snap_receiver_first_closes_at_marker(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a"), *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct snapchan_snap *snap;
	struct snapchan_schan *sc;

	kfx_send(test, ab, 1);
	snap = kfx_begin(test, 0);
	sc = kfx_sc(snap, ab);
	kfx_record(test, snap, b, 0);
	KUNIT_EXPECT_EQ(test, sc->state, SNAPCHAN_SCHAN_OPEN);
	KUNIT_EXPECT_EQ(test, sc->nr_recs, 1U);

	/* Received after b recorded, sent before a records: in the state. */
	kfx_recv(test, ab);
	kfx_send(test, ab, 2);
	kfx_send(test, ab, 3);
	KUNIT_EXPECT_EQ(test, sc->nr_recs, 3U);

	kfx_record(test, snap, a, 0);
	KUNIT_EXPECT_EQ(test, sc->state, SNAPCHAN_SCHAN_CLOSED);
	KUNIT_EXPECT_EQ(test, ab->markers, 0U);	/* no marker was needed */
	kfx_send(test, ab, 4);			/* after the cut */
	KUNIT_ASSERT_EQ(test, sc->nr_recs, 3U);
	KUNIT_EXPECT_EQ(test, sc->recs[2]->seq, 3ULL);
	KUNIT_EXPECT_EQ(test, sc->cut_seq, 4ULL);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_COMPLETE);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(snap->img.hdr.record_count), 3ULL);
	KUNIT_EXPECT_EQ(test, atomic64_read(&snap->recorded_bytes), 24LL);
}

static void snap_abort_purges_markers(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a"), *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct snapchan_chan *ba = kfx_chan(test, b, a);
	struct kfx *fx = test->priv;
	struct snapchan_snap *snap;

	kfx_send(test, ab, 1);
	kfx_send(test, ba, 1);
	snap = kfx_begin(test, 0);
	kfx_record(test, snap, a, 0);	/* marker on ab, recording on ba */
	KUNIT_EXPECT_EQ(test, ab->markers, 1U);
	KUNIT_EXPECT_FALSE(test, list_empty(&ba->recordings));

	mutex_lock(&fx->group->lock);
	snapchan_snap_abort(snap, SNAPCHAN_ABORT_EXPLICIT);
	mutex_unlock(&fx->group->lock);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_ABORTED);
	KUNIT_EXPECT_EQ(test, snap->reason, (u32)SNAPCHAN_ABORT_EXPLICIT);
	KUNIT_EXPECT_EQ(test, ab->markers, 0U);
	KUNIT_EXPECT_TRUE(test, list_empty(&ba->recordings));
	KUNIT_EXPECT_EQ(test, kfx_sc(snap, ba)->nr_recs, 0U);
	KUNIT_EXPECT_EQ(test, ab->depth_msgs, 1U);
	KUNIT_EXPECT_EQ(test, (u32)kfx_head(ab)->type, (u32)SNAPCHAN_REC_DATA);
	KUNIT_EXPECT_EQ(test, fx->group->nr_running, 0U);
}

static void snap_concurrent_ids(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a"), *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct snapchan_snap *s1, *s2;
	struct snapchan_schan *sc1, *sc2;

	s1 = kfx_begin(test, 0);
	s2 = kfx_begin(test, 0);
	KUNIT_EXPECT_GT(test, s2->id, s1->id);
	sc1 = kfx_sc(s1, ab);
	sc2 = kfx_sc(s2, ab);

	kfx_send(test, ab, 1);
	kfx_record(test, s1, a, 0);	/* marker 1 */
	kfx_send(test, ab, 2);
	kfx_record(test, s2, a, 0);	/* marker 2 */
	kfx_send(test, ab, 3);
	KUNIT_EXPECT_EQ(test, ab->markers, 2U);

	/* b records s2 first: its state runs up to marker 2. */
	kfx_record(test, s2, b, 0);
	KUNIT_ASSERT_EQ(test, sc2->nr_recs, 2U);
	KUNIT_EXPECT_EQ(test, sc2->recs[1]->seq, 2ULL);
	KUNIT_EXPECT_EQ(test, ab->markers, 1U);
	KUNIT_EXPECT_EQ(test, s2->state, (u32)SNAPCHAN_SNAP_COMPLETE);

	kfx_record(test, s1, b, 0);
	KUNIT_ASSERT_EQ(test, sc1->nr_recs, 1U);
	KUNIT_EXPECT_EQ(test, sc1->recs[0]->seq, 1ULL);
	KUNIT_EXPECT_EQ(test, ab->markers, 0U);
	KUNIT_EXPECT_EQ(test, s1->state, (u32)SNAPCHAN_SNAP_COMPLETE);
	/* Records are shared by reference: queue, s1 and s2 hold seq 1. */
	KUNIT_EXPECT_PTR_EQ(test, sc1->recs[0], sc2->recs[0]);
	KUNIT_EXPECT_EQ(test, refcount_read(&sc1->recs[0]->ref), 3U);
}

static void snap_budget_aborts(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a"), *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct snapchan_snap *snap;

	kfx_send(test, ab, 1);
	kfx_send(test, ab, 2);
	snap = kfx_begin(test, 12);	/* two 8-byte records do not fit */
	kfx_record(test, snap, b, 0);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_ABORTED);
	KUNIT_EXPECT_EQ(test, snap->reason, (u32)SNAPCHAN_ABORT_BUDGET);
	KUNIT_EXPECT_TRUE(test, list_empty(&ab->recordings));
	KUNIT_EXPECT_EQ(test, ab->depth_msgs, 2U);
}

static void snap_self_loop(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a");
	struct snapchan_chan *aa = kfx_chan(test, a, a);
	struct snapchan_snap *snap;
	struct snapchan_schan *sc;

	kfx_send(test, aa, 1);
	kfx_send(test, aa, 2);
	snap = kfx_begin(test, 0);
	sc = kfx_sc(snap, aa);
	kfx_record(test, snap, a, 0);
	KUNIT_EXPECT_EQ(test, sc->state, SNAPCHAN_SCHAN_CLOSED);
	KUNIT_EXPECT_EQ(test, sc->nr_recs, 2U);
	KUNIT_EXPECT_EQ(test, aa->markers, 0U);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_COMPLETE);
}

static void snap_unattached_channel_not_member(struct kunit *test)
{
	struct snapchan_node *a = kfx_node(test, "a"), *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct snapchan_snap *snap;

	mutex_lock(&ab->lock);
	kfree(ab->receiver_end);
	ab->receiver_end = NULL;
	mutex_unlock(&ab->lock);
	snap = kfx_begin(test, 0);
	KUNIT_EXPECT_EQ(test, snap->nr_chans, 0U);
	kfx_record(test, snap, a, 0);
	KUNIT_EXPECT_EQ(test, ab->markers, 0U);
	kfx_record(test, snap, b, 0);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_COMPLETE);
}

static void snap_empty_group_completes(struct kunit *test)
{
	struct snapchan_snap *snap = kfx_begin(test, 0);

	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_COMPLETE);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(snap->img.hdr.total_len),
			(u64)(sizeof(struct snapchan_img_header) +
			      sizeof(struct snapchan_img_trailer)));
}

static void snap_max_running(struct kunit *test)
{
	struct kfx *fx = test->priv;
	unsigned int i, max = snapchan_limits.max_snapshots;
	struct snapchan_snap *snap;

	kfx_node(test, "a");
	for (i = 0; i < max; i++)
		kfx_begin(test, 0);
	mutex_lock(&fx->group->lock);
	snap = snapchan_snap_create(fx->group, 0, 0);
	mutex_unlock(&fx->group->lock);
	KUNIT_EXPECT_EQ(test, PTR_ERR(snap), -EBUSY);
}

/* A wait queue entry that counts its wakeups. */
struct kfx_waiter {
	struct wait_queue_entry wq;
	int woken;
};

static int kfx_wake_fn(struct wait_queue_entry *wq, unsigned int mode,
		       int sync, void *key)
{
	container_of(wq, struct kfx_waiter, wq)->woken++;
	return 0;
}

/*
 * Wakeups owed under the group lock wait for snapchan_wakes_flush(), with
 * a reference on the node, channel and snapshot they concern; none of
 * them is lost, and the references go with the flush.
 */
static void snap_wakes_deferred(struct kunit *test)
{
	struct kfx *fx = test->priv;
	struct snapchan_node *a = kfx_node(test, "a");
	struct snapchan_node *b = kfx_node(test, "b");
	struct snapchan_chan *ab = kfx_chan(test, a, b);
	struct kfx_waiter wn = {}, wc = {}, ws = {};
	struct snapchan_wakes wakes = {};
	struct snapchan_snap *snap;
	u32 *state;
	int ret;

	init_waitqueue_func_entry(&wn.wq, kfx_wake_fn);
	init_waitqueue_func_entry(&wc.wq, kfx_wake_fn);
	init_waitqueue_func_entry(&ws.wq, kfx_wake_fn);
	add_wait_queue(&b->wait, &wn.wq);
	add_wait_queue(&ab->rd_wait, &wc.wq);

	mutex_lock(&fx->group->lock);
	fx->group->wakes = &wakes;
	snap = snapchan_snap_create(fx->group, 0, 0);
	fx->group->wakes = NULL;
	mutex_unlock(&fx->group->lock);
	KUNIT_ASSERT_FALSE(test, IS_ERR(snap));
	fx->snaps[fx->nr_snaps++] = snap;
	KUNIT_EXPECT_EQ(test, wn.woken, 0);
	KUNIT_EXPECT_EQ(test, wakes.nr, 2U);		/* nodes a and b */
	KUNIT_EXPECT_EQ(test, kref_read(&b->ref), 3U);	/* fx, snap, wakes */
	snapchan_wakes_flush(&wakes);
	KUNIT_EXPECT_EQ(test, wn.woken, 1);
	KUNIT_EXPECT_EQ(test, wakes.nr, 0U);
	KUNIT_EXPECT_EQ(test, kref_read(&b->ref), 2U);

	/* The sender's record places a marker: the receiver's wakeup waits. */
	add_wait_queue(&snap->wait, &ws.wq);
	state = kzalloc(sizeof(*state), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, state);
	mutex_lock(&fx->group->lock);
	fx->group->wakes = &wakes;
	ret = snapchan_snap_record(snap, snapchan_snap_member(snap, a), a,
				   state, sizeof(*state));
	fx->group->wakes = NULL;
	mutex_unlock(&fx->group->lock);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, wc.woken, 0);
	KUNIT_EXPECT_EQ(test, kref_read(&ab->ref), 3U);
	snapchan_wakes_flush(&wakes);
	KUNIT_EXPECT_EQ(test, wc.woken, 1);
	KUNIT_EXPECT_EQ(test, kref_read(&ab->ref), 2U);

	/* The last record completes it: its pollers hear it after the flush. */
	state = kzalloc(sizeof(*state), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, state);
	mutex_lock(&fx->group->lock);
	fx->group->wakes = &wakes;
	ret = snapchan_snap_record(snap, snapchan_snap_member(snap, b), b,
				   state, sizeof(*state));
	fx->group->wakes = NULL;
	mutex_unlock(&fx->group->lock);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, snap->state, (u32)SNAPCHAN_SNAP_COMPLETE);
	KUNIT_EXPECT_EQ(test, ws.woken, 0);
	snapchan_wakes_flush(&wakes);
	KUNIT_EXPECT_EQ(test, ws.woken, 1);
	/* b recorded: its request went by recording, no second wakeup. */
	KUNIT_EXPECT_EQ(test, wn.woken, 1);

	remove_wait_queue(&snap->wait, &ws.wq);
	remove_wait_queue(&ab->rd_wait, &wc.wq);
	remove_wait_queue(&b->wait, &wn.wq);
}

static struct kunit_case snapchan_snap_cases[] = {
	KUNIT_CASE(snap_sender_first_marker_at_head),
	KUNIT_CASE(snap_marker_in_middle),
	KUNIT_CASE(snap_receiver_first_closes_at_marker),
	KUNIT_CASE(snap_abort_purges_markers),
	KUNIT_CASE(snap_concurrent_ids),
	KUNIT_CASE(snap_budget_aborts),
	KUNIT_CASE(snap_self_loop),
	KUNIT_CASE(snap_unattached_channel_not_member),
	KUNIT_CASE(snap_empty_group_completes),
	KUNIT_CASE(snap_max_running),
	KUNIT_CASE(snap_wakes_deferred),
	{}
};

static struct kunit_suite snapchan_snap_suite = {
	.name = "snapchan_snapshot",
	.init = kfx_init,
	.exit = kfx_exit,
	.test_cases = snapchan_snap_cases,
};

kunit_test_suite(snapchan_snap_suite);
