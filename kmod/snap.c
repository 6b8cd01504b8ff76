// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan snapshots: Chandy-Lamport in the kernel.
 *
 * THE PROTOCOL
 *
 * Lock order (outer to inner):
 *   snapchan_groups_lock > group->lock > node->io_lock > snapchan_chans_lock
 *   > chan->lock
 * snapchan_groups_lock guards the list of groups; only debugfs holds it
 * while taking a group lock.  Wait queues' own spinlocks are innermost.
 *
 * Members.  A snapshot is created (SNAP_BEGIN, or NODE_RECORD with id 0)
 * under group->lock.  Its members are the group's nodes and the live
 * channels of the group whose sending and receiving ends are both attached
 * at that moment; each member channel gets a recording (struct
 * snapchan_schan) in state INIT.  Topology changes take group->lock and
 * first wait for the running snapshots to end (or abort them), so the
 * member sets never change under a running snapshot.
 *
 * Who enqueues markers.  Only NODE_RECORD does, for the node that records,
 * on each of its outgoing member channels, under group->lock, the node's
 * io_lock held for writing, and the channel's lock:
 *   - recording INIT (receiver has not recorded): the marker is enqueued
 *     behind everything the node sent before; state MARKED.
 *   - recording OPEN (receiver recorded first): no marker is needed; the
 *     recording closes here, so it holds exactly the records enqueued
 *     between the receiver's record and this one; state CLOSED.
 * So a marker is only ever queued for a receiver that has not recorded
 * that snapshot: a node never sees a marker it no longer needs.
 *
 * When recording opens and closes.  NODE_RECORD of the receiving node, on
 * each incoming member channel, under the same locks:
 *   - INIT: every DATA record queued now is referenced (those were sent
 *     before the sender's record and are not yet received), and the
 *     recording is put on chan->recordings: from now on the data path
 *     appends a reference to every DATA record it enqueues on the channel
 *     (snapchan_rec_recorded(), under chan->lock).  State OPEN.
 *   - MARKED: the state is the DATA records queued ahead of the marker;
 *     the marker is removed (it has done its job).  State CLOSED.
 *   A channel whose sending and receiving node is the same node records
 *   the incoming side first, then the outgoing side: its state is what is
 *   queued at that instant.
 *
 * Atomicity.  The node's sends and receives on its attached ends hold its
 * io_lock for reading around the enqueue or dequeue; NODE_RECORD holds it
 * for writing while it handles all of the node's member channels, so no
 * send or receive of that node falls between two of its channels.
 *
 * Markers take no queue capacity and are preallocated before any channel
 * lock, so a record never waits for room and never fails half-way.
 *
 * Completion.  COMPLETE once every member node has recorded and every
 * member channel's recording is CLOSED; checked under group->lock after
 * every record.  Nothing waits for receivers to drain.  ABORTED (under
 * group->lock) purges the snapshot's markers from every queue, closes its
 * open recordings and drops every reference it held; reasons that arise
 * where group->lock cannot be taken (the data path's budget and allocation
 * failures, the deadline timer) are handed to a work item.
 *
 * Who wakes whom.  Enqueueing a marker wakes the channel's readers
 * (EPOLLPRI); removing one wakes them too (the head changed).  A new
 * snapshot wakes every member node's fd (EPOLLPRI: record request).  The
 * end of a snapshot wakes its fds (EPOLLIN complete, EPOLLERR aborted),
 * the member nodes that had not recorded (their request is gone; those
 * that recorded have nothing new to see, and at 100 snapshots a second
 * the spurious wakeups cost) and topology changes waiting on
 * group->topo_wait.  Wakeups owed under group->lock in SNAP_BEGIN and
 * NODE_RECORD are made after it is dropped (struct snapchan_wakes).
 *
 * Why the result is a consistent cut.  Every node's state is taken at its
 * record, at which point all of its outgoing channels get their cut (a
 * marker or a closing), atomically with its sends.  For a channel c from
 * p to q, the records in c's state are exactly those p enqueued before
 * p's record and q had not dequeued at q's record: if p recorded first,
 * they are the ones ahead of p's marker when q records; if q recorded
 * first, they are the ones queued at q's record plus those p enqueued
 * until its record.  FIFO order makes this the sequence p sent after the
 * last one q received and before the cut, so every message is either in
 * q's state (received before q's record), in c's state, or sent after p's
 * record (in no state): none is counted twice, none sent after the cut
 * is counted as received.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include "snapchan.h"

/* The state, for lockless readers: a COMPLETE image is then readable. */
static u32 snapchan_snap_state(struct snapchan_snap *snap)
{
	/* Pairs with smp_store_release() in snapchan_snap_end(). */
	return smp_load_acquire(&snap->state);
}

/* An open snapshot fd: its own position in the image. */
struct snapchan_snap_file {
	struct snapchan_snap *snap;
	struct mutex read_lock;		/* guards @reader, @started */
	struct snapchan_img_reader reader;
	bool started;
};

static struct workqueue_struct *snapchan_wq;

static void snapchan_snap_release(struct kref *ref)
{
	struct snapchan_snap *snap = container_of(ref, struct snapchan_snap, ref);
	u32 i, j;

	for (i = 0; i < snap->nr_chans; i++) {
		struct snapchan_schan *sc = &snap->chans[i];

		for (j = 0; j < sc->nr_recs; j++)
			snapchan_rec_put(sc->recs[j]);
		kvfree(sc->recs);
		snapchan_rec_put(sc->marker);
		snapchan_chan_put(sc->chan);
	}
	for (i = 0; i < snap->nr_nodes; i++) {
		if (snap->nodes[i].node)
			snapchan_node_put(snap->nodes[i].node);
		kvfree(snap->nodes[i].state);
	}
	kvfree(snap->img_nodes);
	kvfree(snap->img_chans);
	kvfree(snap->nodes);
	kvfree(snap->chans);
	snapchan_group_put(snap->group);
	kfree(snap);
}

VISIBLE_IF_KUNIT void snapchan_snap_put(struct snapchan_snap *snap)
{
	kref_put(&snap->ref, snapchan_snap_release);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_snap_put);

/* Hand an abort to the work item: for callers that cannot take the lock. */
static void snapchan_snap_abort_async(struct snapchan_snap *snap, u32 reason)
{
	if (atomic_cmpxchg(&snap->async_reason, 0, reason))
		return;
	kref_get(&snap->ref);
	if (!queue_work(snapchan_wq, &snap->abort_work))
		snapchan_snap_put(snap);
}

/* --- recording (under chan->lock) --------------------------------------- */

/* Move @sc's references into @recs, an array of @room entries. */
/* Wake @kind's wait queue of @obj now (@mask for a channel). */
static void snapchan_wake_now(void *obj, u16 kind, __poll_t mask)
{
	struct snapchan_node *node = obj;
	struct snapchan_chan *chan = obj;
	struct snapchan_snap *snap = obj;
	struct snapchan_group *group = obj;

	switch (kind) {
	case SNAPCHAN_WAKE_NODE:
		wake_up_interruptible_poll(&node->wait, EPOLLPRI);
		break;
	case SNAPCHAN_WAKE_CHAN:
		wake_up_interruptible_poll(&chan->rd_wait, mask);
		break;
	case SNAPCHAN_WAKE_SNAP:
		wake_up_interruptible_all(&snap->wait);
		break;
	case SNAPCHAN_WAKE_TOPO:
		wake_up_interruptible_all(&group->topo_wait);
		break;
	}
}

/*
 * Wake a wait queue of @obj, now or, inside a section that collects them
 * (struct snapchan_wakes), once the group lock is dropped.
 */
static void snapchan_wake(struct snapchan_group *group, void *obj, u16 kind,
			  __poll_t mask)
{
	struct snapchan_wakes *w = group->wakes;

	lockdep_assert_held(&group->lock);
	if (!w || w->nr == SNAPCHAN_WAKES_MAX) {
		snapchan_wake_now(obj, kind, mask);
		return;
	}
	switch (kind) {
	case SNAPCHAN_WAKE_NODE:
		kref_get(&((struct snapchan_node *)obj)->ref);
		break;
	case SNAPCHAN_WAKE_CHAN:
		snapchan_chan_get(obj);
		break;
	case SNAPCHAN_WAKE_SNAP:
		kref_get(&((struct snapchan_snap *)obj)->ref);
		break;
	case SNAPCHAN_WAKE_TOPO:
		kref_get(&((struct snapchan_group *)obj)->ref);
		break;
	}
	w->e[w->nr].obj = obj;
	w->e[w->nr].kind = kind;
	w->e[w->nr].mask = mask;
	w->nr++;
}

/**
 * snapchan_wakes_flush() - make the wakeups a group-locked section owed
 * @w: the collected wakeups; the group lock must no longer be held.
 */
void snapchan_wakes_flush(struct snapchan_wakes *w)
{
	unsigned int i;

	for (i = 0; i < w->nr; i++) {
		void *obj = w->e[i].obj;

		snapchan_wake_now(obj, w->e[i].kind, w->e[i].mask);
		switch (w->e[i].kind) {
		case SNAPCHAN_WAKE_NODE:
			snapchan_node_put(obj);
			break;
		case SNAPCHAN_WAKE_CHAN:
			snapchan_chan_put(obj);
			break;
		case SNAPCHAN_WAKE_SNAP:
			snapchan_snap_put(obj);
			break;
		case SNAPCHAN_WAKE_TOPO:
			snapchan_group_put(obj);
			break;
		}
	}
	w->nr = 0;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_wakes_flush);

static void snapchan_schan_install(struct snapchan_schan *sc,
				   struct snapchan_rec **recs, u32 room)
{
	if (sc->nr_recs)
		memcpy(recs, sc->recs, sc->nr_recs * sizeof(*recs));
	kvfree(sc->recs);
	sc->recs = recs;
	sc->room = room;
}

/*
 * Make room in @sc for a reference to every DATA record queued on @chan,
 * dropping the channel lock to allocate (the queue may grow meanwhile).
 */
static int snapchan_schan_reserve(struct snapchan_schan *sc,
				  struct snapchan_chan *chan)
{
	struct snapchan_rec **recs;
	u32 room;

	lockdep_assert_held(&chan->lock);
	while (sc->nr_recs + chan->depth_msgs > sc->room) {
		room = max3(16U, sc->room * 2, sc->nr_recs + chan->depth_msgs);
		mutex_unlock(&chan->lock);
		recs = kvmalloc_array(room, sizeof(*recs), GFP_KERNEL_ACCOUNT);
		mutex_lock(&chan->lock);
		if (!recs)
			return -ENOMEM;
		snapchan_schan_install(sc, recs, room);
	}
	return 0;
}

/* Append a reference to @rec to @sc, within the snapshot's budget. */
static int snapchan_schan_add(struct snapchan_schan *sc,
			      struct snapchan_rec *rec)
{
	struct snapchan_snap *snap = sc->snap;

	if (atomic64_add_return(rec->len, &snap->recorded_bytes) > snap->budget)
		return -ENOBUFS;
	atomic64_inc(&snap->recorded_msgs);
	sc->recs[sc->nr_recs++] = snapchan_rec_get(rec);
	return 0;
}

/**
 * snapchan_rec_recorded() - the data path's part of recording
 * @chan: the channel, locked.
 * @rec: a DATA record just enqueued on @chan.
 *
 * Appends a reference to @rec to every recording open on @chan.  Growing a
 * recording may fail, and a recording may exceed its snapshot's budget:
 * then that snapshot is aborted (asynchronously), never the send.
 */
void snapchan_rec_recorded(struct snapchan_chan *chan, struct snapchan_rec *rec)
{
	struct snapchan_schan *sc;
	struct snapchan_rec **recs;
	u32 room;

	lockdep_assert_held(&chan->lock);
	list_for_each_entry(sc, &chan->recordings, chan_link) {
		if (sc->failed)
			continue;
		if (sc->nr_recs == sc->room) {
			/* No lock dropping here: the record is already queued. */
			room = max(16U, sc->room * 2);
			recs = kvmalloc_array(room, sizeof(*recs),
					      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
			if (!recs) {
				sc->failed = true;
				snapchan_snap_abort_async(sc->snap,
							  SNAPCHAN_ABORT_NOMEM);
				continue;
			}
			snapchan_schan_install(sc, recs, room);
		}
		if (snapchan_schan_add(sc, rec)) {
			sc->failed = true;
			snapchan_snap_abort_async(sc->snap,
						  SNAPCHAN_ABORT_BUDGET);
		}
	}
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_rec_recorded);

/*
 * The receiving node records: open the recording, or close it if the
 * sender's marker is already queued.  Returns an abort reason or 0.
 */
static u32 snapchan_record_incoming(struct snapchan_snap *snap,
				    struct snapchan_schan *sc)
{
	struct snapchan_chan *chan = sc->chan;
	struct snapchan_rec *rec;
	bool wake = false;
	u32 reason = 0;

	mutex_lock(&chan->lock);
	if (snapchan_schan_reserve(sc, chan)) {
		reason = SNAPCHAN_ABORT_NOMEM;
		goto out_unlock;
	}
	list_for_each_entry(rec, &chan->queue, link) {
		if (rec == sc->marker)
			break;
		if (rec->type != SNAPCHAN_REC_DATA)
			continue;
		if (snapchan_schan_add(sc, rec)) {
			reason = SNAPCHAN_ABORT_BUDGET;
			goto out_unlock;
		}
	}
	if (sc->state == SNAPCHAN_SCHAN_MARKED) {
		snapchan_chan_unlink(chan, sc->marker);
		snapchan_rec_put(sc->marker);	/* the queue's reference */
		snapchan_rec_put(sc->marker);	/* the recording's */
		sc->marker = NULL;
		sc->state = SNAPCHAN_SCHAN_CLOSED;
		snap->chans_closed++;
		wake = true;
	} else {
		sc->state = SNAPCHAN_SCHAN_OPEN;
		list_add_tail(&sc->chan_link, &chan->recordings);
	}
out_unlock:
	mutex_unlock(&chan->lock);
	if (wake)
		snapchan_wake(snap->group, chan, SNAPCHAN_WAKE_CHAN,
			      EPOLLIN | EPOLLPRI);
	return reason;
}

/* The sending node records: place the marker, or close an open recording. */
static void snapchan_record_outgoing(struct snapchan_snap *snap,
				     struct snapchan_schan *sc,
				     struct snapchan_rec **marker)
{
	struct snapchan_chan *chan = sc->chan;
	bool wake = false;

	mutex_lock(&chan->lock);
	sc->cut_seq = chan->next_seq;
	if (sc->state == SNAPCHAN_SCHAN_OPEN) {
		list_del_init(&sc->chan_link);
		sc->state = SNAPCHAN_SCHAN_CLOSED;
		snap->chans_closed++;
	} else {
		/* A reference for the queue, one for the recording. */
		sc->marker = snapchan_rec_get(*marker);
		*marker = NULL;
		snapchan_chan_push_marker(chan, sc->marker);
		sc->state = SNAPCHAN_SCHAN_MARKED;
		wake = true;
	}
	mutex_unlock(&chan->lock);
	if (wake)
		snapchan_wake(snap->group, chan, SNAPCHAN_WAKE_CHAN, EPOLLPRI);
}

/* --- the state machine (under group->lock) ------------------------------ */

static void snapchan_snap_wake_nodes(struct snapchan_snap *snap)
{
	u32 i;

	for (i = 0; i < snap->nr_nodes; i++)
		if (snap->nodes[i].node)
			snapchan_wake(snap->group, snap->nodes[i].node,
				      SNAPCHAN_WAKE_NODE, EPOLLPRI);
}

/* Keep the last max_retained ended snapshots of each kind. */
static void snapchan_group_retain(struct snapchan_group *group, u32 state)
{
	unsigned int *nr = state == SNAPCHAN_SNAP_COMPLETE ?
			   &group->nr_complete : &group->nr_aborted;
	struct snapchan_snap *snap, *tmp;

	lockdep_assert_held(&group->lock);
	(*nr)++;
	list_for_each_entry_safe(snap, tmp, &group->snaps, link) {
		if (*nr <= READ_ONCE(snapchan_limits.max_retained))
			break;
		if (snap->state != state)
			continue;
		list_del_init(&snap->link);
		(*nr)--;
		snapchan_snap_put(snap);
	}
}

/* Common end of COMPLETE and ABORTED. */
static void snapchan_snap_end(struct snapchan_snap *snap, u32 state)
{
	struct snapchan_group *group = snap->group;
	u32 i;

	lockdep_assert_held(&group->lock);
	if (!snap->end_ns)		/* a complete image already has it */
		snap->end_ns = ktime_get_ns();
	/* Publishes the image to lockless readers (snapchan_snap_state()). */
	smp_store_release(&snap->state, state);
	group->nr_running--;
	if (cancel_delayed_work(&snap->deadline_work))
		snapchan_snap_put(snap);

	for (i = 0; i < snap->nr_nodes; i++) {
		if (snap->nodes[i].node && !snap->nodes[i].recorded)
			snapchan_wake(group, snap->nodes[i].node,
				      SNAPCHAN_WAKE_NODE, EPOLLPRI);
		if (snap->nodes[i].node) {
			snapchan_node_put(snap->nodes[i].node);
			snap->nodes[i].node = NULL;
		}
	}
	snapchan_wake(group, snap, SNAPCHAN_WAKE_SNAP, 0);
	snapchan_wake(group, group, SNAPCHAN_WAKE_TOPO, 0);
	/* May drop the list's reference to an older one, never to @snap. */
	snapchan_group_retain(group, state);
}

VISIBLE_IF_KUNIT void snapchan_snap_abort(struct snapchan_snap *snap, u32 reason)
{
	u32 i, j;

	lockdep_assert_held(&snap->group->lock);
	if (snap->state != SNAPCHAN_SNAP_RUNNING)
		return;
	WRITE_ONCE(snap->reason, reason);

	for (i = 0; i < snap->nr_chans; i++) {
		struct snapchan_schan *sc = &snap->chans[i];
		struct snapchan_chan *chan = sc->chan;
		bool wake = false;

		mutex_lock(&chan->lock);
		if (sc->state == SNAPCHAN_SCHAN_MARKED) {
			snapchan_chan_unlink(chan, sc->marker);
			snapchan_rec_put(sc->marker);	/* the queue's */
			wake = true;
		} else if (sc->state == SNAPCHAN_SCHAN_OPEN) {
			list_del_init(&sc->chan_link);
		}
		snapchan_rec_put(sc->marker);
		sc->marker = NULL;
		sc->state = SNAPCHAN_SCHAN_CLOSED;
		for (j = 0; j < sc->nr_recs; j++)
			snapchan_rec_put(sc->recs[j]);
		sc->nr_recs = 0;
		mutex_unlock(&chan->lock);
		if (wake)
			snapchan_wake(snap->group, chan, SNAPCHAN_WAKE_CHAN,
				      EPOLLIN | EPOLLPRI);
	}
	for (i = 0; i < snap->nr_nodes; i++) {
		kvfree(snap->nodes[i].state);
		snap->nodes[i].state = NULL;
		snap->nodes[i].len = 0;
	}
	snapchan_snap_end(snap, SNAPCHAN_SNAP_ABORTED);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_snap_abort);

/* Describe the image of a complete snapshot (arrays preallocated). */
static void snapchan_snap_build_image(struct snapchan_snap *snap)
{
	struct snapchan_img_header *hdr = &snap->img.hdr;
	u64 records = 0;
	u32 i;

	for (i = 0; i < snap->nr_nodes; i++) {
		struct snapchan_img_node_src *n = &snap->img_nodes[i];

		n->desc.node_id = cpu_to_le64(snap->nodes[i].id);
		memcpy(n->desc.name, snap->nodes[i].name, SNAPCHAN_NAME_LEN);
		n->desc.state_len = cpu_to_le64(snap->nodes[i].len);
		n->state = snap->nodes[i].state;
		n->len = snap->nodes[i].len;
	}
	for (i = 0; i < snap->nr_chans; i++) {
		struct snapchan_schan *sc = &snap->chans[i];
		struct snapchan_img_chan_src *c = &snap->img_chans[i];

		snapchan_img_chan_desc(sc->chan, &c->desc, sc->recs, sc->nr_recs,
				       sc->cut_seq);
		c->desc.sender_node = cpu_to_le64(sc->sender_id);
		c->desc.receiver_node = cpu_to_le64(sc->receiver_id);
		c->recs = sc->recs;
		c->nr_recs = sc->nr_recs;
		records += sc->nr_recs;
	}
	snap->img.nodes = snap->img_nodes;
	snap->img.nr_nodes = snap->nr_nodes;
	snap->img.chans = snap->img_chans;
	snap->img.nr_chans = snap->nr_chans;

	hdr->magic = cpu_to_le32(SNAPCHAN_IMG_MAGIC);
	hdr->version = cpu_to_le16(SNAPCHAN_IMG_VERSION);
	hdr->kind = cpu_to_le16(SNAPCHAN_IMG_KIND_SNAPSHOT);
	hdr->header_len = cpu_to_le32(sizeof(*hdr));
	hdr->snap_id = cpu_to_le64(snap->id);
	memcpy(hdr->group, snap->group->name, SNAPCHAN_NAME_LEN);
	hdr->epoch = cpu_to_le64(snap->epoch);
	hdr->begin_ns = cpu_to_le64(snap->begin_ns);
	hdr->end_ns = cpu_to_le64(snap->end_ns);
	hdr->node_count = cpu_to_le32(snap->nr_nodes);
	hdr->chan_count = cpu_to_le32(snap->nr_chans);
	hdr->record_count = cpu_to_le64(records);
	hdr->total_len = cpu_to_le64(snapchan_img_len(&snap->img));
}

static void snapchan_snap_check_complete(struct snapchan_snap *snap)
{
	lockdep_assert_held(&snap->group->lock);
	if (snap->state != SNAPCHAN_SNAP_RUNNING ||
	    snap->nodes_recorded < snap->nr_nodes ||
	    snap->chans_closed < snap->nr_chans)
		return;
	/* A recording that failed in the data path: never complete it. */
	if (atomic_read(&snap->async_reason)) {
		snapchan_snap_abort(snap, atomic_read(&snap->async_reason));
		return;
	}
	snap->end_ns = ktime_get_ns();
	snapchan_snap_build_image(snap);
	snapchan_snap_end(snap, SNAPCHAN_SNAP_COMPLETE);
}

static void snapchan_snap_abort_work(struct work_struct *work)
{
	struct snapchan_snap *snap =
		container_of(work, struct snapchan_snap, abort_work);

	mutex_lock(&snap->group->lock);
	snapchan_snap_abort(snap, atomic_read(&snap->async_reason));
	mutex_unlock(&snap->group->lock);
	snapchan_snap_put(snap);
}

static void snapchan_snap_deadline_work(struct work_struct *work)
{
	struct snapchan_snap *snap = container_of(to_delayed_work(work),
						  struct snapchan_snap,
						  deadline_work);

	mutex_lock(&snap->group->lock);
	snapchan_snap_abort(snap, SNAPCHAN_ABORT_DEADLINE);
	mutex_unlock(&snap->group->lock);
	snapchan_snap_put(snap);
}

static bool snapchan_chan_is_member(struct snapchan_chan *chan)
{
	return !chan->dead && chan->sender_end && chan->receiver_end;
}

/*
 * Begin a snapshot of @group: members are its nodes and its channels with
 * both ends attached.  Returns it with a reference for the caller (the
 * group's list holds another), or an ERR_PTR.
 */
VISIBLE_IF_KUNIT struct snapchan_snap *
snapchan_snap_create(struct snapchan_group *group, u64 timeout_ns, u64 budget)
{
	struct snapchan_snap *snap;
	struct snapchan_node *node;
	struct snapchan_chan *chan;
	u32 n = 0, c = 0;

	lockdep_assert_held(&group->lock);
	if (group->nr_running >= READ_ONCE(snapchan_limits.max_snapshots))
		return ERR_PTR(-EBUSY);

	snap = kzalloc(sizeof(*snap), GFP_KERNEL_ACCOUNT);
	if (!snap)
		return ERR_PTR(-ENOMEM);
	list_for_each_entry(node, &group->nodes, link)
		n++;
	list_for_each_entry(chan, &group->chans, group_link)
		if (snapchan_chan_is_member(chan))
			c++;
	snap->nodes = kvcalloc(n, sizeof(*snap->nodes), GFP_KERNEL_ACCOUNT);
	snap->img_nodes = kvcalloc(n, sizeof(*snap->img_nodes),
				   GFP_KERNEL_ACCOUNT);
	snap->chans = kvcalloc(c, sizeof(*snap->chans), GFP_KERNEL_ACCOUNT);
	snap->img_chans = kvcalloc(c, sizeof(*snap->img_chans),
				   GFP_KERNEL_ACCOUNT);
	if ((n && (!snap->nodes || !snap->img_nodes)) ||
	    (c && (!snap->chans || !snap->img_chans)))
		goto out_free;

	kref_init(&snap->ref);		/* the group list's reference */
	kref_get(&group->ref);
	snap->group = group;
	INIT_LIST_HEAD(&snap->link);
	INIT_WORK(&snap->abort_work, snapchan_snap_abort_work);
	INIT_DELAYED_WORK(&snap->deadline_work, snapchan_snap_deadline_work);
	init_waitqueue_head(&snap->wait);
	atomic64_set(&snap->recorded_bytes, 0);
	atomic64_set(&snap->recorded_msgs, 0);
	atomic_set(&snap->async_reason, 0);
	snap->id = ++group->next_snap_id;
	snap->epoch = group->epoch;
	snap->state = SNAPCHAN_SNAP_RUNNING;
	snap->begin_ns = ktime_get_ns();
	snap->budget = budget ? budget :
		(u64)READ_ONCE(snapchan_limits.default_budget_mbytes) << 20;
	if (!timeout_ns)
		timeout_ns = (u64)READ_ONCE(snapchan_limits.default_timeout_ms) *
			     NSEC_PER_MSEC;

	snap->nr_nodes = n;
	n = 0;
	list_for_each_entry(node, &group->nodes, link) {
		struct snapchan_snode *sn = &snap->nodes[n++];

		kref_get(&node->ref);
		sn->node = node;
		sn->id = node->id;
		memcpy(sn->name, node->name, SNAPCHAN_NAME_LEN);
	}
	snap->nr_chans = c;
	c = 0;
	list_for_each_entry(chan, &group->chans, group_link) {
		struct snapchan_schan *sc;
		struct snapchan_node *s, *r;

		if (!snapchan_chan_is_member(chan))
			continue;
		sc = &snap->chans[c++];
		snapchan_chan_get(chan);
		sc->chan = chan;
		sc->snap = snap;
		/* Stable: attachments change under group->lock too. */
		s = rcu_dereference_protected(chan->sender_end->node,
					      lockdep_is_held(&group->lock));
		r = rcu_dereference_protected(chan->receiver_end->node,
					      lockdep_is_held(&group->lock));
		sc->sender_id = s->id;
		sc->receiver_id = r->id;
		sc->state = SNAPCHAN_SCHAN_INIT;
		INIT_LIST_HEAD(&sc->chan_link);
	}

	list_add_tail(&snap->link, &group->snaps);
	group->nr_running++;
	kref_get(&snap->ref);		/* the caller's */
	if (timeout_ns) {
		kref_get(&snap->ref);	/* the deadline's */
		if (!queue_delayed_work(snapchan_wq, &snap->deadline_work,
					nsecs_to_jiffies(timeout_ns)))
			snapchan_snap_put(snap);
	}
	snapchan_snap_wake_nodes(snap);
	snapchan_snap_check_complete(snap);
	return snap;

out_free:
	kvfree(snap->nodes);
	kvfree(snap->img_nodes);
	kvfree(snap->chans);
	kvfree(snap->img_chans);
	kfree(snap);
	return ERR_PTR(-ENOMEM);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_snap_create);

/*
 * Undo snapchan_snap_create() within the same group-locked section, before
 * any node recorded: nobody saw the snapshot, so it leaves no trace (not
 * retained, not counted, its id given back).  A deadline work item that is
 * already running finds it ended and does nothing.
 */
static void snapchan_snap_discard(struct snapchan_snap *snap)
{
	struct snapchan_group *group = snap->group;

	lockdep_assert_held(&group->lock);
	if (WARN_ON_ONCE(snap->state != SNAPCHAN_SNAP_RUNNING ||
			 snap->nodes_recorded)) {
		snapchan_snap_abort(snap, SNAPCHAN_ABORT_NOMEM);
		return;
	}
	WRITE_ONCE(snap->reason, SNAPCHAN_ABORT_NOMEM);
	/* Pairs with snapchan_snap_state(), as in snapchan_snap_end(). */
	smp_store_release(&snap->state, SNAPCHAN_SNAP_ABORTED);
	list_del_init(&snap->link);
	group->nr_running--;
	if (group->next_snap_id == snap->id)
		group->next_snap_id--;
	if (cancel_delayed_work(&snap->deadline_work))
		snapchan_snap_put(snap);
	snapchan_snap_put(snap);	/* the group list's reference */
}

static struct snapchan_snap *snapchan_snap_find(struct snapchan_group *group,
						u64 id)
{
	struct snapchan_snap *snap;

	lockdep_assert_held(&group->lock);
	list_for_each_entry(snap, &group->snaps, link)
		if (snap->id == id)
			return snap;
	return NULL;
}

VISIBLE_IF_KUNIT struct snapchan_snode *
snapchan_snap_member(struct snapchan_snap *snap, struct snapchan_node *node)
{
	u32 i;

	for (i = 0; i < snap->nr_nodes; i++)
		if (snap->nodes[i].id == node->id)
			return &snap->nodes[i];
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_snap_member);

/*
 * The record: store @state (taken over), then handle every member channel
 * of @node, incoming sides first, with the node's io_lock held for writing.
 */
VISIBLE_IF_KUNIT int snapchan_snap_record(struct snapchan_snap *snap,
					  struct snapchan_snode *sn,
					  struct snapchan_node *node,
					  void *state, u64 len)
{
	struct snapchan_rec **markers;
	u32 i, k, nr_markers = 0, reason = 0;
	int ret = 0;

	lockdep_assert_held(&snap->group->lock);

	/* Preallocate the markers: the record must not fail half-way. */
	for (i = 0; i < snap->nr_chans; i++)
		if (snap->chans[i].sender_id == node->id)
			nr_markers++;
	markers = kcalloc(nr_markers, sizeof(*markers), GFP_KERNEL);
	if (nr_markers && !markers)
		return -ENOMEM;
	for (k = 0; k < nr_markers; k++) {
		markers[k] = snapchan_rec_alloc_marker(snap->id, node->id);
		if (!markers[k]) {
			ret = -ENOMEM;
			goto out_put_markers;
		}
	}
	/*
	 * Size the incoming recordings for what is queued now, so that the
	 * record itself only allocates if a sender outruns this: a failure
	 * here changes nothing (the snapshot goes on), one during the record
	 * aborts the snapshot (NOMEM).
	 */
	for (i = 0; i < snap->nr_chans; i++) {
		struct snapchan_schan *sc = &snap->chans[i];

		if (sc->receiver_id != node->id)
			continue;
		mutex_lock(&sc->chan->lock);
		ret = snapchan_schan_reserve(sc, sc->chan);
		mutex_unlock(&sc->chan->lock);
		if (ret)
			goto out_put_markers;
	}

	snapchan_delay_point();
	down_write(&node->io_lock);
	for (i = 0; i < snap->nr_chans && !reason; i++) {
		if (snap->chans[i].receiver_id != node->id)
			continue;
		snapchan_delay_point();
		reason = snapchan_record_incoming(snap, &snap->chans[i]);
	}
	k = 0;
	for (i = 0; i < snap->nr_chans && !reason; i++) {
		if (snap->chans[i].sender_id != node->id)
			continue;
		snapchan_delay_point();
		snapchan_record_outgoing(snap, &snap->chans[i], &markers[k++]);
	}
	up_write(&node->io_lock);

	sn->recorded = true;
	sn->state = state;
	sn->len = len;
	snap->state_bytes += len;
	snap->nodes_recorded++;
	if (reason)
		snapchan_snap_abort(snap, reason);
	else
		snapchan_snap_check_complete(snap);
	k = nr_markers;
	ret = 0;

out_put_markers:
	/* Markers that were placed are NULL here; the others were not used. */
	while (k--)
		snapchan_rec_put(markers[k]);
	kfree(markers);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_snap_record);

/* --- snapshot fds --------------------------------------------------------- */

static ssize_t snapchan_snap_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct snapchan_snap_file *sf = file->private_data;
	struct snapchan_snap *snap = sf->snap;
	ssize_t ret;
	u32 state;

	state = snapchan_snap_state(snap);
	if (state == SNAPCHAN_SNAP_RUNNING) {
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(snap->wait,
					     snapchan_snap_state(snap) !=
					     SNAPCHAN_SNAP_RUNNING))
			return -ERESTARTSYS;
		state = snapchan_snap_state(snap);
	}
	if (state == SNAPCHAN_SNAP_ABORTED)
		return -ECANCELED;

	/* Complete: the image is immutable from here on. */
	if (mutex_lock_interruptible(&sf->read_lock))
		return -ERESTARTSYS;
	if (!sf->started) {
		snapchan_img_reader_init(&sf->reader, &snap->img);
		sf->started = true;
	}
	ret = snapchan_img_read(&sf->reader, to);
	mutex_unlock(&sf->read_lock);
	return ret;
}

static __poll_t snapchan_snap_poll(struct file *file, poll_table *wait)
{
	struct snapchan_snap_file *sf = file->private_data;

	poll_wait(file, &sf->snap->wait, wait);
	switch (snapchan_snap_state(sf->snap)) {
	case SNAPCHAN_SNAP_COMPLETE:
		return EPOLLIN | EPOLLRDNORM;
	case SNAPCHAN_SNAP_ABORTED:
		return EPOLLERR;
	default:
		return 0;
	}
}

static long snapchan_snap_info(struct snapchan_snap *snap, void __user *argp)
{
	struct snapchan_snap_info info = {};

	mutex_lock(&snap->group->lock);
	info.snap_id = snap->id;
	memcpy(info.group, snap->group->name, SNAPCHAN_NAME_LEN);
	info.state = snap->state;
	info.abort_reason = snap->reason;
	info.epoch = snap->epoch;
	info.nodes = snap->nr_nodes;
	info.nodes_recorded = snap->nodes_recorded;
	info.chans = snap->nr_chans;
	info.chans_closed = snap->chans_closed;
	info.recorded_msgs = atomic64_read(&snap->recorded_msgs);
	info.recorded_bytes = atomic64_read(&snap->recorded_bytes);
	info.state_bytes = snap->state_bytes;
	info.begin_ns = snap->begin_ns;
	info.end_ns = snap->state == SNAPCHAN_SNAP_RUNNING ? 0 : snap->end_ns;
	if (snap->state == SNAPCHAN_SNAP_COMPLETE)
		info.image_len = le64_to_cpu(snap->img.hdr.total_len);
	mutex_unlock(&snap->group->lock);
	return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
}

static long snapchan_snap_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct snapchan_snap_file *sf = file->private_data;
	struct snapchan_snap *snap = sf->snap;
	long ret = 0;

	switch (cmd) {
	case SNAPCHAN_IOC_SNAP_INFO:
		return snapchan_snap_info(snap, (void __user *)arg);
	case SNAPCHAN_IOC_SNAP_ABORT:
		mutex_lock(&snap->group->lock);
		if (snap->state == SNAPCHAN_SNAP_RUNNING)
			snapchan_snap_abort(snap, SNAPCHAN_ABORT_EXPLICIT);
		else
			ret = -EALREADY;
		mutex_unlock(&snap->group->lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int snapchan_snap_release_file(struct inode *inode, struct file *file)
{
	struct snapchan_snap_file *sf = file->private_data;

	if (sf->snap)		/* NULL: discarded before it was bound */
		snapchan_snap_put(sf->snap);
	snapchan_img_reader_release(&sf->reader);
	mutex_destroy(&sf->read_lock);
	kfree(sf);
	return 0;
}

static const struct file_operations snapchan_snap_fops = {
	.owner		= THIS_MODULE,
	.read_iter	= snapchan_snap_read_iter,
	.poll		= snapchan_snap_poll,
	.unlocked_ioctl	= snapchan_snap_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= snapchan_snap_release_file,
	.llseek		= no_llseek,
};

/*
 * A snapshot fd, made before the snapshot it will show so that nothing
 * can fail after a snapshot is begun or recorded: returns the file, not
 * yet bound to a snapshot (snapchan_snap_file_bind()), and its reserved fd
 * number, not yet installed; snapchan_snap_file_discard() undoes it.
 */
static struct file *snapchan_snap_file_new(int *fdp)
{
	struct snapchan_snap_file *sf;
	struct file *file;
	int fd, ret;

	sf = kzalloc(sizeof(*sf), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&sf->read_lock);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_free_sf;
	}
	file = anon_inode_getfile("[snapchan-snapshot]", &snapchan_snap_fops,
				  sf, O_RDONLY | O_CLOEXEC);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_put_fd;
	}
	file->f_mode |= FMODE_STREAM;
	*fdp = fd;
	return file;

out_put_fd:
	put_unused_fd(fd);
out_free_sf:
	mutex_destroy(&sf->read_lock);
	kfree(sf);
	return ERR_PTR(ret);
}

/* Bind a new snapshot fd to @snap, taking over the caller's reference. */
static void snapchan_snap_file_bind(struct file *file,
				    struct snapchan_snap *snap)
{
	struct snapchan_snap_file *sf = file->private_data;

	sf->snap = snap;
}

static void snapchan_snap_file_discard(struct file *file, int fd)
{
	put_unused_fd(fd);
	fput(file);
}

/* --- ioctls --------------------------------------------------------------- */

/**
 * snapchan_node_record_ioctl() - SNAPCHAN_IOC_NODE_RECORD
 * @node: the recording node.
 * @argp: user pointer to struct snapchan_node_record.
 *
 * Return: 0 or the snapshot fd (with SNAPCHAN_RECORD_F_SNAPFD); -EFAULT,
 * -EINVAL, -EFBIG (state too large), -ENOENT (no such snapshot, or this
 * node is not one of its members), -EALREADY (recorded already),
 * -ECANCELED (aborted), -EBUSY (too many running, for id 0), -ENOMEM.
 */
long snapchan_node_record_ioctl(struct snapchan_node *node, void __user *argp)
{
	struct snapchan_group *group = node->group;
	struct snapchan_node_record arg;
	struct snapchan_snap *snap;
	struct snapchan_snode *sn;
	struct snapchan_wakes wakes;
	struct file *file = NULL;
	void *state = NULL;
	int fd = -1;
	long ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SNAPCHAN_RECORD_F_SNAPFD) || arg.reserved[0] ||
	    arg.reserved[1])
		return -EINVAL;
	if (arg.snap_id && (arg.timeout_ns || arg.budget_bytes))
		return -EINVAL;
	if (arg.state_len > READ_ONCE(snapchan_limits.max_state_bytes))
		return -EFBIG;
	/* Fail on an unwritable argument before anything is committed. */
	if (copy_to_user(argp, &arg, sizeof(arg)))
		return -EFAULT;
	if (arg.state_len) {
		state = kvmalloc(arg.state_len, GFP_KERNEL_ACCOUNT);
		if (!state)
			return -ENOMEM;
		if (copy_from_user(state, u64_to_user_ptr(arg.state),
				   arg.state_len)) {
			ret = -EFAULT;
			goto out_free_state;
		}
	}
	/* The fd first: a record cannot be taken back. */
	if (arg.flags & SNAPCHAN_RECORD_F_SNAPFD) {
		file = snapchan_snap_file_new(&fd);
		if (IS_ERR(file)) {
			ret = PTR_ERR(file);
			file = NULL;
			goto out_free_state;
		}
	}

	wakes.nr = 0;
	snapchan_delay_point();
	mutex_lock(&group->lock);
	group->wakes = &wakes;
	if (!arg.snap_id) {
		snap = snapchan_snap_create(group, arg.timeout_ns,
					    arg.budget_bytes);
		if (IS_ERR(snap)) {
			ret = PTR_ERR(snap);
			goto out_unlock;
		}
	} else {
		snap = snapchan_snap_find(group, arg.snap_id);
		if (!snap) {
			ret = -ENOENT;
			goto out_unlock;
		}
		kref_get(&snap->ref);
	}
	sn = snapchan_snap_member(snap, node);
	if (!sn)
		ret = -ENOENT;
	else if (snap->state == SNAPCHAN_SNAP_ABORTED)
		ret = -ECANCELED;
	else if (sn->recorded)
		ret = -EALREADY;
	else
		ret = snapchan_snap_record(snap, sn, node, state, arg.state_len);
	if (ret) {
		/* A snapshot begun here is not left behind half-made. */
		if (!arg.snap_id)
			snapchan_snap_discard(snap);
		group->wakes = NULL;
		mutex_unlock(&group->lock);
		snapchan_wakes_flush(&wakes);
		snapchan_snap_put(snap);
		goto out_free_state;
	}
	state = NULL;
	arg.snap_id = snap->id;
	group->wakes = NULL;
	mutex_unlock(&group->lock);
	snapchan_wakes_flush(&wakes);

	if (file)
		snapchan_snap_file_bind(file, snap);
	else
		snapchan_snap_put(snap);
	arg.snap_fd = fd;
	/*
	 * Only if the argument was unmapped since it was probed: the record
	 * stands (the snapshot goes on, SNAP_OPEN can still reach it).
	 */
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		if (file)
			snapchan_snap_file_discard(file, fd);
		return -EFAULT;
	}
	if (file) {
		fd_install(fd, file);
		return fd;
	}
	return 0;

out_unlock:
	group->wakes = NULL;
	mutex_unlock(&group->lock);
	snapchan_wakes_flush(&wakes);
out_free_state:
	if (file)
		snapchan_snap_file_discard(file, fd);
	kvfree(state);
	return ret;
}

/* The oldest running snapshot that @node has yet to record, or NULL. */
static struct snapchan_snap *snapchan_node_pending(struct snapchan_node *node)
{
	struct snapchan_snap *snap;
	struct snapchan_snode *sn;

	lockdep_assert_held(&node->group->lock);
	list_for_each_entry(snap, &node->group->snaps, link) {
		if (snap->state != SNAPCHAN_SNAP_RUNNING)
			continue;
		sn = snapchan_snap_member(snap, node);
		if (sn && !sn->recorded)
			return snap;
	}
	return NULL;
}

/**
 * snapchan_node_event_ioctl() - SNAPCHAN_IOC_NODE_EVENT
 * @node: the node.
 * @argp: user pointer to struct snapchan_node_event.
 *
 * Return: 0 (type NONE when nothing is pending), -EFAULT, -EINVAL.
 */
long snapchan_node_event_ioctl(struct snapchan_node *node, void __user *argp)
{
	struct snapchan_node_event ev;
	struct snapchan_snap *snap;

	if (copy_from_user(&ev, argp, sizeof(ev)))
		return -EFAULT;
	if (ev.reserved0 || ev.reserved[0] || ev.reserved[1])
		return -EINVAL;
	memset(&ev, 0, sizeof(ev));
	ev.node_id = node->id;
	mutex_lock(&node->group->lock);
	snap = snapchan_node_pending(node);
	if (snap) {
		ev.type = SNAPCHAN_EVENT_RECORD;
		ev.snap_id = snap->id;
	}
	mutex_unlock(&node->group->lock);
	return copy_to_user(argp, &ev, sizeof(ev)) ? -EFAULT : 0;
}

/**
 * snapchan_node_poll_events() - EPOLLPRI if a snapshot asks @node to record
 * @node: the node.
 */
__poll_t snapchan_node_poll_events(struct snapchan_node *node)
{
	__poll_t mask;

	mutex_lock(&node->group->lock);
	mask = snapchan_node_pending(node) ? EPOLLPRI : 0;
	mutex_unlock(&node->group->lock);
	return mask;
}

/**
 * snapchan_node_leaving() - a node's fd is closing
 * @node: the node; group lock held.
 *
 * Running snapshots that it has not recorded abort (member left); those it
 * recorded go on without it.
 */
void snapchan_node_leaving(struct snapchan_node *node)
{
	struct snapchan_snap *snap, *tmp;
	struct snapchan_snode *sn;

	lockdep_assert_held(&node->group->lock);
	list_for_each_entry_safe(snap, tmp, &node->group->snaps, link) {
		if (snap->state != SNAPCHAN_SNAP_RUNNING)
			continue;
		sn = snapchan_snap_member(snap, node);
		if (!sn)
			continue;
		if (!sn->recorded) {
			snapchan_snap_abort(snap, SNAPCHAN_ABORT_MEMBER_LEFT);
		} else if (sn->node) {
			snapchan_node_put(sn->node);
			sn->node = NULL;
		}
	}
}

/**
 * snapchan_group_abort_running() - abort every running snapshot of @group
 * @group: the group, locked.
 * @reason: SNAPCHAN_ABORT_*.
 */
void snapchan_group_abort_running(struct snapchan_group *group, u32 reason)
{
	struct snapchan_snap *snap, *tmp;

	lockdep_assert_held(&group->lock);
	list_for_each_entry_safe(snap, tmp, &group->snaps, link)
		snapchan_snap_abort(snap, reason);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_group_abort_running);

/**
 * snapchan_group_release_snaps() - drop the group's references to its
 *				    ended snapshots
 * @group: the group, locked, with no running snapshot.
 *
 * Called when the group loses its last member: nothing can open them by
 * id any more; open fds keep theirs.
 */
void snapchan_group_release_snaps(struct snapchan_group *group)
{
	struct snapchan_snap *snap, *tmp;

	lockdep_assert_held(&group->lock);
	list_for_each_entry_safe(snap, tmp, &group->snaps, link) {
		if (WARN_ON_ONCE(snap->state == SNAPCHAN_SNAP_RUNNING))
			continue;
		list_del_init(&snap->link);
		snapchan_snap_put(snap);
	}
	group->nr_complete = 0;
	group->nr_aborted = 0;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_group_release_snaps);

/* Look up @name for a caller who must be allowed to snapshot it. */
static struct snapchan_group *snapchan_group_for_snap(const char *name)
{
	struct snapchan_group *group;
	int ret;

	group = snapchan_group_get_or_create(name, false);
	if (IS_ERR(group))
		return group;
	ret = snapchan_group_may_use(group);
	if (ret) {
		snapchan_group_put(group);
		return ERR_PTR(ret);
	}
	return group;
}

/**
 * snapchan_snap_begin_ioctl() - SNAPCHAN_IOC_SNAP_BEGIN on the control device
 * @argp: user pointer to struct snapchan_snap_begin.
 *
 * Return: the snapshot fd; -EFAULT, -EINVAL, -ENOENT (no such group),
 * -EPERM (not the group's owner), -EBUSY (too many running), -ENOMEM,
 * -EMFILE.
 */
long snapchan_snap_begin_ioctl(void __user *argp)
{
	struct snapchan_snap_begin arg;
	struct snapchan_wakes wakes;
	struct snapchan_group *group;
	struct snapchan_snap *snap;
	struct file *file;
	int fd;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved[0] || arg.reserved[1])
		return -EINVAL;
	if (snapchan_name_check(arg.group, false))
		return -EINVAL;
	/* Fail on an unwritable argument before a snapshot exists. */
	if (copy_to_user(argp, &arg, sizeof(arg)))
		return -EFAULT;
	group = snapchan_group_for_snap(arg.group);
	if (IS_ERR(group))
		return PTR_ERR(group);
	/* The fd first: a snapshot nobody holds must not start. */
	file = snapchan_snap_file_new(&fd);
	if (IS_ERR(file)) {
		snapchan_group_put(group);
		return PTR_ERR(file);
	}

	wakes.nr = 0;
	mutex_lock(&group->lock);
	group->wakes = &wakes;
	snap = snapchan_snap_create(group, arg.timeout_ns, arg.budget_bytes);
	group->wakes = NULL;
	mutex_unlock(&group->lock);
	snapchan_wakes_flush(&wakes);
	if (IS_ERR(snap)) {
		snapchan_snap_file_discard(file, fd);
		snapchan_group_put(group);
		return PTR_ERR(snap);
	}
	snapchan_snap_file_bind(file, snap);

	arg.snap_id = snap->id;
	arg.fd = fd;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		/* Unmapped since the probe: withdraw the snapshot. */
		mutex_lock(&group->lock);
		snapchan_snap_abort(snap, SNAPCHAN_ABORT_EXPLICIT);
		mutex_unlock(&group->lock);
		snapchan_snap_file_discard(file, fd);
		snapchan_group_put(group);
		return -EFAULT;
	}
	snapchan_group_put(group);
	fd_install(fd, file);
	return fd;
}

/**
 * snapchan_snap_open_ioctl() - SNAPCHAN_IOC_SNAP_OPEN on the control device
 * @argp: user pointer to struct snapchan_snap_open.
 *
 * Return: the snapshot fd; -EFAULT, -EINVAL, -ENOENT (no such group or
 * snapshot, or no longer retained), -EPERM, -ENOMEM, -EMFILE.
 */
long snapchan_snap_open_ioctl(void __user *argp)
{
	struct snapchan_snap_open arg;
	struct snapchan_group *group;
	struct snapchan_snap *snap;
	struct file *file;
	int fd;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved[0] || arg.reserved[1] || !arg.snap_id)
		return -EINVAL;
	if (snapchan_name_check(arg.group, false))
		return -EINVAL;
	group = snapchan_group_for_snap(arg.group);
	if (IS_ERR(group))
		return PTR_ERR(group);

	mutex_lock(&group->lock);
	snap = snapchan_snap_find(group, arg.snap_id);
	if (snap)
		kref_get(&snap->ref);
	mutex_unlock(&group->lock);
	snapchan_group_put(group);
	if (!snap)
		return -ENOENT;

	file = snapchan_snap_file_new(&fd);
	if (IS_ERR(file)) {
		snapchan_snap_put(snap);
		return PTR_ERR(file);
	}
	snapchan_snap_file_bind(file, snap);
	arg.fd = fd;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		snapchan_snap_file_discard(file, fd);
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;
}

/* debugfs: every snapshot the groups hold, with per-member progress. */
int snapchan_debugfs_snaps(struct seq_file *m)
{
	static const char * const states[] = { "?", "running", "complete",
					       "aborted" };
	struct snapchan_group *group;
	struct snapchan_snap *snap;
	u32 i;

	seq_puts(m, "group id state reason nodes_recorded chans_closed bytes members\n");
	mutex_lock(&snapchan_groups_lock);
	list_for_each_entry(group, &snapchan_groups, list) {
		mutex_lock(&group->lock);
		list_for_each_entry(snap, &group->snaps, link) {
			seq_printf(m, "%s %llu %s %u %u/%u %u/%u %lld", group->name,
				   snap->id, states[snap->state % 4], snap->reason,
				   snap->nodes_recorded, snap->nr_nodes,
				   snap->chans_closed, snap->nr_chans,
				   (long long)atomic64_read(&snap->recorded_bytes));
			for (i = 0; i < snap->nr_nodes; i++)
				seq_printf(m, " node:%s=%s", snap->nodes[i].name,
					   snap->nodes[i].recorded ? "rec" : "wait");
			for (i = 0; i < snap->nr_chans; i++)
				seq_printf(m, " chan:%s=%d", snap->chans[i].chan->cfg.name,
					   snap->chans[i].state);
			seq_putc(m, '\n');
		}
		mutex_unlock(&group->lock);
	}
	mutex_unlock(&snapchan_groups_lock);
	return 0;
}

int snapchan_snap_init(void)
{
	snapchan_wq = alloc_workqueue("snapchan", WQ_UNBOUND, 0);
	return snapchan_wq ? 0 : -ENOMEM;
}

void snapchan_snap_exit(void)
{
	destroy_workqueue(snapchan_wq);
}
