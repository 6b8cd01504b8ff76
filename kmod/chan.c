// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan channels: the queue of records and the character device's
 * file operations (open, read, write, poll, RECV, MARK, the batch calls).
 * Records are in rec.c; the registry, devices and sysfs in registry.c.
 *
 * Locking:
 *  - chan->lock (mutex, one per channel) guards the queue and its
 *    counters.  It is held for short, bounded sections only: never across
 *    a user copy that may fault, never across a wait.
 *  - The write side copies the payload into a fresh record before taking
 *    any lock.
 *  - The read side copies the head record out under chan->lock with page
 *    faults disabled; if that copy would fault, the locks are dropped, the
 *    record (referenced, immutable) is copied with faults allowed and no
 *    lock held, and it is consumed afterwards only if it is still at the
 *    head (else the receive starts over with the new head).  A stalled
 *    fault (userfaultfd, FUSE) therefore holds no lock at all: it delays
 *    the caller alone.  A fault that fails (EFAULT) consumes nothing.
 *  - No spinlock is ever held across a user copy.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <kunit/visibility.h>

#include "snapchan.h"

static atomic64_t snapchan_next_chan_id = ATOMIC64_INIT(0);

/* --- the queue ------------------------------------------------------------ */

/**
 * snapchan_chan_alloc() - allocate a channel that is not yet registered
 * @cfg: a configuration that passed snapchan_chan_cfg_check().
 *
 * Return: the channel with one reference, or NULL.
 */
struct snapchan_chan *snapchan_chan_alloc(const struct snapchan_chan_cfg *cfg)
{
	struct snapchan_chan *chan;

	chan = kzalloc(sizeof(*chan), GFP_KERNEL_ACCOUNT);
	if (!chan)
		return NULL;
	kref_init(&chan->ref);
	chan->id = atomic64_inc_return(&snapchan_next_chan_id);
	chan->cfg = *cfg;
	INIT_LIST_HEAD(&chan->list);
	chan->minor = -1;
	mutex_init(&chan->lock);
	INIT_LIST_HEAD(&chan->queue);
	chan->next_seq = cfg->first_seq;
	init_waitqueue_head(&chan->rd_wait);
	spin_lock_init(&chan->spare_lock);
	INIT_LIST_HEAD(&chan->spares);
	init_waitqueue_head(&chan->wr_wait);
	INIT_LIST_HEAD(&chan->group_link);
	INIT_LIST_HEAD(&chan->recordings);
	return chan;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_alloc);

static void snapchan_chan_release(struct kref *ref)
{
	struct snapchan_chan *chan = container_of(ref, struct snapchan_chan, ref);
	struct snapchan_rec *rec, *tmp;

	WARN_ON_ONCE(!list_empty(&chan->recordings));
	list_for_each_entry_safe(rec, tmp, &chan->queue, link) {
		list_del(&rec->link);
		snapchan_rec_put(rec);
	}
	list_for_each_entry_safe(rec, tmp, &chan->spares, link)
		snapchan_rec_free(rec);
	snapchan_group_put(chan->group);
	mutex_destroy(&chan->lock);
	kfree(chan);
}

void snapchan_chan_put(struct snapchan_chan *chan)
{
	if (chan)
		kref_put(&chan->ref, snapchan_chan_release);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_put);

static bool snapchan_room_for(struct snapchan_chan *chan, u32 len)
{
	return READ_ONCE(chan->depth_msgs) < chan->cfg.capacity_msgs &&
	       READ_ONCE(chan->depth_bytes) + len <= chan->cfg.capacity_bytes;
}

/**
 * snapchan_chan_push() - enqueue a DATA record, taking over its reference
 * @chan: the channel, locked.
 * @rec: a DATA record; it gets the next sequence number.
 *
 * Return: 0, -ENODEV if the channel is dead, -EAGAIN if it does not fit;
 * on error the caller keeps its reference.
 */
int snapchan_chan_push(struct snapchan_chan *chan, struct snapchan_rec *rec)
{
	lockdep_assert_held(&chan->lock);

	if (chan->dead)
		return -ENODEV;
	if (!snapchan_room_for(chan, rec->len))
		return -EAGAIN;
	rec->seq = chan->next_seq;
	WRITE_ONCE(chan->next_seq, chan->next_seq + 1);
	list_add_tail(&rec->link, &chan->queue);
	WRITE_ONCE(chan->depth_msgs, chan->depth_msgs + 1);
	WRITE_ONCE(chan->depth_bytes, chan->depth_bytes + rec->len);
	WRITE_ONCE(chan->total_sent, chan->total_sent + 1);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_push);

/**
 * snapchan_chan_push_marker() - enqueue a MARKER record, taking over its
 *				 reference
 * @chan: the channel, locked.
 * @rec: a MARKER record.
 *
 * Markers take no capacity and never fail for lack of room; callers bound
 * how many can be queued.
 */
void snapchan_chan_push_marker(struct snapchan_chan *chan,
			       struct snapchan_rec *rec)
{
	lockdep_assert_held(&chan->lock);
	list_add_tail(&rec->link, &chan->queue);
	WRITE_ONCE(chan->markers, chan->markers + 1);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_push_marker);

/**
 * snapchan_chan_head() - the record at the head of the queue
 * @chan: the channel, locked.
 *
 * Return: the head record (still owned by the queue), or NULL when empty.
 */
struct snapchan_rec *snapchan_chan_head(struct snapchan_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return list_first_entry_or_null(&chan->queue, struct snapchan_rec, link);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_head);

/**
 * snapchan_chan_unlink() - take a record out of the queue, wherever it is
 * @chan: the channel, locked.
 * @rec: a record queued on @chan; the queue's reference passes to the
 *	 caller.
 */
void snapchan_chan_unlink(struct snapchan_chan *chan, struct snapchan_rec *rec)
{
	lockdep_assert_held(&chan->lock);
	list_del_init(&rec->link);
	if (rec->type == SNAPCHAN_REC_DATA) {
		WRITE_ONCE(chan->depth_msgs, chan->depth_msgs - 1);
		WRITE_ONCE(chan->depth_bytes, chan->depth_bytes - rec->len);
		WRITE_ONCE(chan->total_received, chan->total_received + 1);
	} else {
		WRITE_ONCE(chan->markers, chan->markers - 1);
		if (!rec->mark.origin)
			WRITE_ONCE(chan->user_markers, chan->user_markers - 1);
	}
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_unlink);

/**
 * snapchan_chan_pop() - dequeue the head record
 * @chan: the channel, locked.
 *
 * Return: the record, whose queue reference passes to the caller, or NULL.
 */
struct snapchan_rec *snapchan_chan_pop(struct snapchan_chan *chan)
{
	struct snapchan_rec *rec;

	lockdep_assert_held(&chan->lock);
	rec = snapchan_chan_head(chan);
	if (rec)
		snapchan_chan_unlink(chan, rec);
	return rec;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_pop);

/**
 * snapchan_chan_kill() - mark a channel dead and wake everybody
 * @chan: the channel, unlocked.
 *
 * Blocked readers and writers return -ENODEV, pollers see EPOLLHUP.  The
 * queue is freed with the last reference.
 */
void snapchan_chan_kill(struct snapchan_chan *chan)
{
	struct snapchan_rec *rec, *tmp;
	LIST_HEAD(purged);

	mutex_lock(&chan->lock);
	WRITE_ONCE(chan->dead, true);
	/*
	 * A dead channel delivers nothing more: its messages go now, not
	 * when the last handle closes, so that open handles to destroyed
	 * channels cannot pin memory past the per-user channel limit.
	 * Markers stay (few, and owned by the snapshot protocol); captures
	 * and recordings keep the records they reference.
	 */
	list_for_each_entry_safe(rec, tmp, &chan->queue, link) {
		if (rec->type != SNAPCHAN_REC_DATA)
			continue;
		list_move_tail(&rec->link, &purged);
		WRITE_ONCE(chan->depth_msgs, chan->depth_msgs - 1);
		WRITE_ONCE(chan->depth_bytes, chan->depth_bytes - rec->len);
	}
	mutex_unlock(&chan->lock);
	list_for_each_entry_safe(rec, tmp, &purged, link) {
		list_del_init(&rec->link);
		snapchan_rec_put(rec);
	}
	spin_lock(&chan->spare_lock);
	list_splice_init(&chan->spares, &purged);
	chan->nr_spares = 0;
	chan->spare_bytes = 0;
	spin_unlock(&chan->spare_lock);
	list_for_each_entry_safe(rec, tmp, &purged, link)
		snapchan_rec_free(rec);
	snapchan_wake_all(&chan->rd_wait, EPOLLHUP);
	snapchan_wake_all(&chan->wr_wait, EPOLLHUP);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_kill);

/* --- waiting and waking --------------------------------------------------- */

/*
 * THE WAIT RULE.  A caller blocked on a channel must wake whenever its own
 * condition holds, whoever else is blocked beside it.
 *
 * Readers wait on @rd_wait exclusively, because they all wait for the
 * same thing: something at the head (or end of file, or death).  One
 * wakeup per arrival is enough only if no reader keeps a wakeup it did
 * not use, so every receive, whatever its outcome, ends in
 * snapchan_recv_unlock(), which wakes the next sleeping reader while
 * records remain queued.  A reader that consumed passes on the rest; one
 * that could not take the head (buffer too small, a marker for read(),
 * a fault, a peek, another end attached) passes on the head itself.  A
 * reader goes back to sleep only after finding the queue empty, when
 * there is nothing to pass on.
 *
 * Writers wait on @wr_wait non-exclusively, because each waits for room
 * for its own message: a wakeup one writer cannot use may be another's,
 * and passing it on among writers that do not fit would spin.  Receives
 * wake them all when they free room in a channel that had no room for a
 * max_msg message (the only state in which a writer can be waiting).
 *
 * Destroy and end of file wake everybody.  Pollers sit on both queues,
 * non-exclusively; once a channel has been polled every arrival and
 * every consumption wakes (edge-triggered epoll needs an event each).
 */

/* Readers may sleep until this holds. */
static bool snapchan_chan_readable(struct snapchan_chan *chan)
{
	return !list_empty_careful(&chan->queue) || READ_ONCE(chan->dead) ||
	       ((chan->cfg.flags & SNAPCHAN_CHAN_F_EOF) &&
		READ_ONCE(chan->had_writer) && !READ_ONCE(chan->writers));
}

static bool snapchan_chan_writable(struct snapchan_chan *chan, u32 len)
{
	return snapchan_room_for(chan, len) || READ_ONCE(chan->dead);
}

/* Sleep, with no lock held, until a reader has something to look at. */
static int snapchan_wait_readable(struct snapchan_chan *chan)
{
	int ret;

	ret = wait_event_interruptible_exclusive(chan->rd_wait,
						 snapchan_chan_readable(chan));
	return ret ? -ERESTARTSYS : 0;
}

/* Sleep, with no lock held, until @len bytes fit or the channel dies. */
static int snapchan_wait_writable(struct snapchan_chan *chan, u32 len)
{
	int ret;

	ret = wait_event_interruptible(chan->wr_wait,
				       snapchan_chan_writable(chan, len));
	return ret ? -ERESTARTSYS : 0;
}

static void snapchan_wake_readers(struct snapchan_chan *chan)
{
	if (wq_has_sleeper(&chan->rd_wait))
		wake_up_interruptible_sync_poll(&chan->rd_wait,
						EPOLLIN | EPOLLRDNORM | EPOLLPRI);
}

static void snapchan_wake_writers(struct snapchan_chan *chan)
{
	if (wq_has_sleeper(&chan->wr_wait))
		wake_up_interruptible_sync_poll(&chan->wr_wait,
						EPOLLOUT | EPOLLWRNORM);
}

static bool snapchan_chan_eof(struct snapchan_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return (chan->cfg.flags & SNAPCHAN_CHAN_F_EOF) && chan->had_writer &&
	       !chan->writers && list_empty(&chan->queue);
}

/* --- open and release ----------------------------------------------------- */

/**
 * snapchan_chan_permission() - may the caller read or write @chan?
 * @chan: the channel.
 * @mask: MAY_READ or MAY_WRITE.
 *
 * Checked against the owner, group and mode recorded at create, not
 * against the inode that was opened: a device node that devtmpfs does not
 * manage (a mknod'd copy in a container or a chroot) grants nothing the
 * channel's own mode does not.  As generic_permission(): the owner's
 * bits for the fsuid, the group's for a member, else the others'; and
 * CAP_DAC_OVERRIDE in a namespace where owner and group are mapped.
 *
 * Return: 0 or -EACCES.
 */
int snapchan_chan_permission(struct snapchan_chan *chan, int mask)
{
	unsigned int mode = chan->cfg.mode;
	unsigned int want = (mask & MAY_WRITE ? 2 : 0) | (mask & MAY_READ ? 4 : 0);
	struct user_namespace *ns = current_user_ns();

	if (uid_eq(current_fsuid(), chan->cfg.uid))
		mode >>= 6;
	else if (in_group_p(chan->cfg.gid))
		mode >>= 3;
	if ((mode & want) == want)
		return 0;
	if (ns_capable(ns, CAP_DAC_OVERRIDE) &&
	    kuid_has_mapping(ns, chan->cfg.uid) &&
	    kgid_has_mapping(ns, chan->cfg.gid))
		return 0;
	return -EACCES;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_permission);

static int snapchan_chan_open(struct inode *inode, struct file *file)
{
	struct snapchan_chan *chan;
	struct snapchan_end *end;
	int ret;

	switch (file->f_flags & O_ACCMODE) {
	case O_RDONLY:
	case O_WRONLY:
		break;
	default:
		return -EINVAL;
	}
	end = kzalloc(sizeof(*end), GFP_KERNEL_ACCOUNT);
	if (!end)
		return -ENOMEM;

	chan = snapchan_chan_get_by_minor(iminor(inode));
	if (!chan) {
		ret = -ENODEV;
		goto out_free_end;
	}
	ret = snapchan_chan_permission(chan, file->f_mode & FMODE_WRITE ?
					     MAY_WRITE : MAY_READ);
	if (ret)
		goto out_put_chan;

	mutex_lock(&chan->lock);
	if (chan->dead) {
		ret = -ENODEV;
	} else if (file->f_mode & FMODE_WRITE) {
		WRITE_ONCE(chan->writers, chan->writers + 1);
		WRITE_ONCE(chan->had_writer, true);
	} else {
		WRITE_ONCE(chan->readers, chan->readers + 1);
	}
	mutex_unlock(&chan->lock);
	if (ret)
		goto out_put_chan;

	end->chan = chan;
	end->file = file;
	end->out = file->f_mode & FMODE_WRITE;
	INIT_LIST_HEAD(&end->node_link);
	file->private_data = end;
	stream_open(inode, file);
	return 0;

out_put_chan:
	snapchan_chan_put(chan);
out_free_end:
	kfree(end);
	return ret;
}

/* The last reference to the file: a node holds one while attached. */
static int snapchan_chan_release_file(struct inode *inode, struct file *file)
{
	struct snapchan_end *end = file->private_data;
	struct snapchan_chan *chan = end->chan;
	bool wake_readers = false;

	WARN_ON_ONCE(rcu_access_pointer(end->node));
	mutex_lock(&chan->lock);
	if (end->out) {
		WRITE_ONCE(chan->writers, chan->writers - 1);
		wake_readers = !chan->writers &&
			       (chan->cfg.flags & SNAPCHAN_CHAN_F_EOF);
	} else {
		WRITE_ONCE(chan->readers, chan->readers - 1);
	}
	mutex_unlock(&chan->lock);
	if (wake_readers)
		snapchan_wake_all(&chan->rd_wait, EPOLLHUP);
	snapchan_chan_put(chan);
	kfree(end);
	return 0;
}

/**
 * snapchan_chan_from_file() - the channel of a channel file, else NULL
 * @file: any file.
 */
struct snapchan_chan *snapchan_chan_from_file(struct file *file)
{
	struct snapchan_end *end;

	if (file->f_op != &snapchan_chan_fops)
		return NULL;
	end = file->private_data;
	return end->chan;
}

static bool snapchan_nonblock(struct file *file, struct kiocb *iocb)
{
	return (file->f_flags & O_NONBLOCK) ||
	       (iocb && (iocb->ki_flags & IOCB_NOWAIT));
}

/* Drop what snapchan_recv_head() or the send loop holds. */
static void snapchan_end_unlock(struct snapchan_chan *chan,
				struct snapchan_node *node)
{
	mutex_unlock(&chan->lock);
	snapchan_end_unlock_node(node);
}

/* --- sending -------------------------------------------------------------- */

/*
 * Enqueue @recs[0..@n) in order through @end, waiting for room for each
 * unless @nonblock.  Returns how many went in (the queue owns those, each
 * with the next sequence number), or an errno when none did: -EPERM
 * (another end is the attached sender), -ENODEV, -EAGAIN, -ERESTARTSYS.
 * The caller keeps the records that did not go in.
 */
static long snapchan_send_recs(struct snapchan_end *end,
			       struct snapchan_rec **recs, u32 n,
			       bool nonblock)
{
	struct snapchan_chan *chan = end->chan;
	struct snapchan_node *node;
	bool was_empty, polled;
	u32 i = 0, first;
	long ret = 0;

	while (i < n) {
		snapchan_delay_point();
		node = snapchan_end_lock_node(end);
		mutex_lock(&chan->lock);
		first = i;
		was_empty = list_empty(&chan->queue);
		if (chan->sender_end && chan->sender_end != end) {
			ret = -EPERM;
		} else {
			for (; i < n; i++) {
				ret = snapchan_chan_push(chan, recs[i]);
				if (ret)
					break;
				/* Recordings take references of their own. */
				if (!list_empty(&chan->recordings))
					snapchan_rec_recorded(chan, recs[i]);
			}
		}
		polled = chan->poll_usage;
		snapchan_end_unlock(chan, node);

		/* Readers sleep only on an empty queue (THE WAIT RULE). */
		if (i > first && (was_empty || polled))
			snapchan_wake_readers(chan);
		if (ret != -EAGAIN || nonblock)
			break;
		ret = snapchan_wait_writable(chan, recs[i]->len);
		if (ret)
			break;
	}
	return i ? i : ret;
}

static ssize_t snapchan_chan_write_iter(struct kiocb *iocb,
					struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct snapchan_end *end = file->private_data;
	struct snapchan_chan *chan = end->chan;
	size_t len = iov_iter_count(from);
	struct snapchan_rec *rec;
	long ret;

	if (len > chan->cfg.max_msg)
		return -EMSGSIZE;
	/* The payload is copied before any lock is taken. */
	rec = snapchan_chan_rec_alloc(chan, len);
	if (!rec)
		return -ENOMEM;
	if (!copy_from_iter_full(snapchan_rec_data(rec), len, from)) {
		ret = -EFAULT;
		goto out_put_rec;
	}
	ret = snapchan_send_recs(end, &rec, 1, snapchan_nonblock(file, iocb));
	if (ret == 1)
		return len;
out_put_rec:
	snapchan_chan_rec_put(chan, rec);
	return ret;
}

/*
 * Read and check the argument of a batch call: 0, -EFAULT or -EINVAL.
 * *@nonblock: the call must not wait (O_NONBLOCK or the flag).
 */
static int snapchan_batch_get(struct file *file, void __user *argp,
			      struct snapchan_batch *arg, bool *nonblock)
{
	if (copy_from_user(arg, argp, sizeof(*arg)))
		return -EFAULT;
	if ((arg->flags & ~SNAPCHAN_BATCH_F_ALL) || arg->reserved ||
	    !arg->nr || arg->nr > SNAPCHAN_BATCH_MAX)
		return -EINVAL;
	*nonblock = snapchan_nonblock(file, NULL) ||
		    (arg->flags & SNAPCHAN_BATCH_NONBLOCK);
	return 0;
}

/* Messages one SEND_BATCH copies in before it takes the channel lock. */
#define SNAPCHAN_SEND_CHUNK	32

/* SNAPCHAN_IOC_SEND_BATCH: many whole messages, in order. */
static long snapchan_chan_ioc_send_batch(struct snapchan_end *end,
					 struct file *file, void __user *argp)
{
	struct snapchan_chan *chan = end->chan;
	struct snapchan_rec *recs[SNAPCHAN_SEND_CHUNK];
	struct snapchan_send_msg __user *um;
	struct snapchan_send_msg m;
	struct snapchan_batch arg;
	u32 done = 0, n, i;
	u64 bytes;
	bool nonblock;
	long ret, err = 0;

	if (!end->out)
		return -EBADF;
	ret = snapchan_batch_get(file, argp, &arg, &nonblock);
	if (ret)
		return ret;
	um = u64_to_user_ptr(arg.msgs);

	while (done < arg.nr && !err) {
		/*
		 * Copy a chunk in with no lock held, at most a queue's worth
		 * of bytes (and one message) at a time.
		 */
		for (n = 0, bytes = 0; n < SNAPCHAN_SEND_CHUNK &&
		     done + n < arg.nr && (!n || bytes < chan->cfg.capacity_bytes);
		     n++) {
			if (copy_from_user(&m, um + done + n, sizeof(m))) {
				err = -EFAULT;
				break;
			}
			if (m.reserved) {
				err = -EINVAL;
				break;
			}
			if (m.len > chan->cfg.max_msg) {
				err = -EMSGSIZE;
				break;
			}
			recs[n] = snapchan_chan_rec_alloc(chan, m.len);
			if (!recs[n]) {
				err = -ENOMEM;
				break;
			}
			if (copy_from_user(snapchan_rec_data(recs[n]),
					   u64_to_user_ptr(m.buf), m.len)) {
				snapchan_chan_rec_put(chan, recs[n]);
				err = -EFAULT;
				break;
			}
			bytes += m.len;
		}
		if (!n)
			break;
		ret = snapchan_send_recs(end, recs, n, nonblock);
		i = ret > 0 ? ret : 0;
		done += i;
		if (ret < 0)
			err = ret;
		else if (i < n && !err)
			err = -EAGAIN;	/* stopped: full, or a signal */
		for (; i < n; i++)
			snapchan_chan_rec_put(chan, recs[i]);
	}
	return done ? done : err;
}

/* --- receiving ------------------------------------------------------------ */

/*
 * Every receive ends here, with the locks of snapchan_recv_head() held:
 * drop them and pass the wakeup on while records remain (THE WAIT RULE).
 */
static void snapchan_recv_unlock(struct snapchan_chan *chan,
				 struct snapchan_node *node)
{
	bool more = !list_empty(&chan->queue);

	snapchan_end_unlock(chan, node);
	if (more)
		snapchan_wake_readers(chan);
}

/*
 * Whether @end may receive now; chan->lock held.  -EPERM: another end is
 * the attached receiver.  -ENODEV: destroyed (a destroyed channel
 * delivers nothing more, queued or not).
 */
static int snapchan_recv_check(struct snapchan_end *end)
{
	struct snapchan_chan *chan = end->chan;

	lockdep_assert_held(&chan->lock);
	if (chan->receiver_end && chan->receiver_end != end)
		return -EPERM;
	if (chan->dead)
		return -ENODEV;
	return 0;
}

/*
 * Wait until a receive through @end has a record to look at.  Returns the
 * head record with chan->lock held and the attached node, if any, pinned
 * in *@nodep; NULL at end of file (locks held); or an ERR_PTR: -EPERM,
 * -ENODEV, -EAGAIN, -ERESTARTSYS (no locks held).
 */
static struct snapchan_rec *snapchan_recv_head(struct snapchan_end *end,
					       bool nonblock,
					       struct snapchan_node **nodep)
{
	struct snapchan_chan *chan = end->chan;
	struct snapchan_node *node;
	struct snapchan_rec *rec;
	int ret;

	for (;;) {
		snapchan_delay_point();
		node = snapchan_end_lock_node(end);
		mutex_lock(&chan->lock);
		ret = snapchan_recv_check(end);
		if (ret)
			break;
		rec = snapchan_chan_head(chan);
		if (rec || snapchan_chan_eof(chan)) {
			*nodep = node;
			return rec;
		}
		if (nonblock) {
			ret = -EAGAIN;
			break;
		}
		snapchan_end_unlock(chan, node);
		ret = snapchan_wait_readable(chan);
		if (ret)
			return ERR_PTR(ret);
	}
	snapchan_recv_unlock(chan, node);
	return ERR_PTR(ret);
}

/*
 * After a copy made with no lock held: take the locks again and check that
 * @rec is still at the head and @end may still receive.  Returns 0 with
 * the locks held; -EAGAIN (the head changed: start over), -EPERM or
 * -ENODEV with them dropped.  @rec is referenced by the caller, so it
 * cannot have been freed and reused at the head meanwhile.
 */
static int snapchan_recv_relock(struct snapchan_end *end,
				struct snapchan_rec *rec,
				struct snapchan_node **nodep)
{
	struct snapchan_chan *chan = end->chan;
	struct snapchan_node *node;
	int ret;

	snapchan_delay_point();
	node = snapchan_end_lock_node(end);
	mutex_lock(&chan->lock);
	ret = snapchan_recv_check(end);
	if (!ret && snapchan_chan_head(chan) != rec)
		ret = -EAGAIN;
	if (!ret) {
		*nodep = node;
		return 0;
	}
	snapchan_recv_unlock(chan, node);
	return ret;
}

/*
 * Consume the head record @rec (chan->lock held): its queue reference
 * moves to @done, to be dropped after unlocking.  Sets *@wake_writers
 * when the room it frees may let a waiting writer in.
 */
static void snapchan_recv_pop(struct snapchan_chan *chan,
			      struct snapchan_rec *rec, struct list_head *done,
			      bool *wake_writers)
{
	if (!snapchan_room_for(chan, chan->cfg.max_msg) || chan->poll_usage)
		*wake_writers = true;
	snapchan_chan_unlink(chan, rec);
	list_add_tail(&rec->link, done);
}

/* Drop the consumed records and wake the writers they made room for. */
static void snapchan_recv_finish(struct snapchan_chan *chan,
				 struct list_head *done, bool wake_writers)
{
	struct snapchan_rec *rec, *tmp;

	list_for_each_entry_safe(rec, tmp, done, link) {
		list_del_init(&rec->link);
		snapchan_chan_rec_put(chan, rec);
	}
	if (wake_writers)
		snapchan_wake_writers(chan);
}

/* Copy @rec's payload to @to with page faults disabled: all or nothing. */
static bool snapchan_copy_nofault(struct iov_iter *to,
				  const struct snapchan_rec *rec)
{
	size_t n;

	pagefault_disable();
	n = copy_to_iter(snapchan_rec_data(rec), rec->len, to);
	pagefault_enable();
	if (n == rec->len)
		return true;
	iov_iter_revert(to, n);
	return false;
}

static ssize_t snapchan_chan_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct snapchan_end *end = file->private_data;
	struct snapchan_chan *chan = end->chan;
	bool nonblock = snapchan_nonblock(file, iocb);
	bool wake_writers = false;
	struct snapchan_node *node;
	struct snapchan_rec *rec;
	LIST_HEAD(done);
	ssize_t ret;
	size_t n;

	for (;;) {
		rec = snapchan_recv_head(end, nonblock, &node);
		if (IS_ERR(rec))
			return PTR_ERR(rec);
		if (!rec)
			ret = 0;		/* end of file */
		else if (rec->type != SNAPCHAN_REC_DATA)
			ret = -ENOMSG;
		else if (rec->len > iov_iter_count(to))
			ret = -EMSGSIZE;
		else
			ret = snapchan_copy_nofault(to, rec) ? 1 : -EFAULT;
		if (ret == 1)
			break;
		if (ret != -EFAULT) {
			snapchan_recv_unlock(chan, node);
			return ret;
		}

		/* The copy would fault: make it with no lock held. */
		snapchan_rec_get(rec);
		snapchan_recv_unlock(chan, node);
		n = copy_to_iter(snapchan_rec_data(rec), rec->len, to);
		ret = n == rec->len ? snapchan_recv_relock(end, rec, &node) :
				      -EFAULT;
		snapchan_rec_put(rec);	/* the queue or @done holds another */
		if (!ret)
			break;
		iov_iter_revert(to, n);
		if (ret != -EAGAIN)
			return ret;
	}
	ret = rec->len;
	snapchan_recv_pop(chan, rec, &done, &wake_writers);
	snapchan_recv_unlock(chan, node);
	snapchan_recv_finish(chan, &done, wake_writers);
	return ret;
}

/* Fill the output fields of a receive entry from @rec. */
static void snapchan_recv_fill(struct snapchan_recv *e,
			       const struct snapchan_rec *rec)
{
	e->type = rec->type;
	e->len = rec->len;
	e->seq = rec->seq;
	e->snap_id = snapchan_rec_snap_id(rec);
	e->origin = snapchan_rec_origin(rec);
}

/*
 * Deliver @rec to the entry @e (inputs read, outputs filled here) at @ue,
 * chan->lock held, page faults disabled: the payload to e->buf, then the
 * entry.  Return: 0 or -EFAULT (would fault).
 */
static int snapchan_recv_deliver(struct snapchan_recv __user *ue,
				 struct snapchan_recv *e,
				 const struct snapchan_rec *rec)
{
	void __user *buf = u64_to_user_ptr(e->buf);

	snapchan_recv_fill(e, rec);
	return copy_to_user_nofault(buf, snapchan_rec_data(rec), rec->len) ||
	       copy_to_user_nofault(ue, e, sizeof(*e)) ? -EFAULT : 0;
}

/*
 * With no lock held: copy @rec's payload to e->buf and fault in the entry
 * at @ue, which is written later, under the lock.  Return: 0 or -EFAULT.
 */
static int snapchan_recv_prefault(struct snapchan_recv __user *ue,
				  struct snapchan_recv *e,
				  const struct snapchan_rec *rec)
{
	snapchan_recv_fill(e, rec);
	if (copy_to_user(u64_to_user_ptr(e->buf), snapchan_rec_data(rec),
			 rec->len) ||
	    fault_in_safe_writeable((const char __user *)ue, sizeof(*e)))
		return -EFAULT;
	return 0;
}

/*
 * Whether a receive into @e consumes @rec: data and user markers, unless
 * peeking.  Kernel-placed markers are consumed only by NODE_RECORD.
 */
static bool snapchan_recv_consumes(const struct snapchan_recv *e,
				   const struct snapchan_rec *rec)
{
	if (e->flags & SNAPCHAN_RECV_PEEK)
		return false;
	return rec->type == SNAPCHAN_REC_DATA || !rec->mark.origin;
}

/* Whether @rec ends a batch after entry @e. */
static bool snapchan_recv_stops(const struct snapchan_recv *e,
				const struct snapchan_rec *rec)
{
	return rec->type != SNAPCHAN_REC_DATA ||
	       (e->flags & SNAPCHAN_RECV_PEEK);
}

/* The input fields of a receive entry: -EINVAL if they are not valid. */
static int snapchan_recv_entry_check(const struct snapchan_recv *e,
				     u32 flags_ok)
{
	if ((e->flags & ~flags_ok) || e->reserved[0] || e->reserved[1])
		return -EINVAL;
	return 0;
}

/*
 * Receive into the @nr struct snapchan_recv entries at @ue (RECV: one,
 * peeking allowed; RECV_BATCH: up to SNAPCHAN_BATCH_MAX).  Waits (unless
 * @nonblock) for the first record, then takes what is queued: it stops
 * after a marker or a peek, before a record that an entry cannot take,
 * and at the end of the queue.  Under the channel lock the entries are
 * written with page faults disabled; an entry that would fault is
 * written with no lock held and its record consumed only if still at the
 * head (THE LOCKING, at the top).
 *
 * Return: the number of entries filled, or an errno when none was.
 */
static long snapchan_recv_entries(struct snapchan_end *end,
				  struct snapchan_recv __user *ue, u32 nr,
				  bool nonblock, u32 flags_ok)
{
	struct snapchan_chan *chan = end->chan;
	bool wake_writers = false, have_entry = false, stop = false;
	struct snapchan_node *node;
	struct snapchan_rec *rec;
	struct snapchan_recv e;
	LIST_HEAD(done);
	u32 k = 0;
	long ret = 0;

	while (k < nr && !stop) {
		if (!have_entry && copy_from_user(&e, ue + k, sizeof(e))) {
			ret = -EFAULT;
			break;
		}
		have_entry = false;
		ret = snapchan_recv_entry_check(&e, flags_ok);
		if (ret)
			break;
		rec = snapchan_recv_head(end, nonblock || k, &node);
		if (IS_ERR(rec)) {
			ret = PTR_ERR(rec);
			break;
		}
		/* As many records as the entries take, faults disabled. */
		for (;;) {
			if (!rec) {
				ret = k ? 0 : -ENODATA;	/* end of file */
				stop = true;
				break;
			}
			if (rec->type == SNAPCHAN_REC_DATA &&
			    rec->len > e.buf_len) {
				snapchan_recv_fill(&e, rec);
				ret = -EMSGSIZE;
				stop = true;
				break;
			}
			ret = snapchan_recv_deliver(ue + k, &e, rec);
			if (ret)
				break;
			k++;
			if (snapchan_recv_consumes(&e, rec))
				snapchan_recv_pop(chan, rec, &done,
						  &wake_writers);
			if (snapchan_recv_stops(&e, rec) || k == nr) {
				stop = true;
				break;
			}
			rec = snapchan_chan_head(chan);
			if (!rec) {
				stop = true;
				break;
			}
			if (copy_from_user_nofault(&e, ue + k, sizeof(e))) {
				have_entry = false;	/* read it unlocked */
				break;
			}
			have_entry = true;
			ret = snapchan_recv_entry_check(&e, flags_ok);
			if (ret) {
				stop = true;
				break;
			}
		}
		if (ret != -EFAULT) {
			snapchan_recv_unlock(chan, node);
			continue;
		}

		/*
		 * Entry k would fault: copy the payload and fault the entry
		 * in with no lock held, then write the entry only once the
		 * record is known to be still at the head, so that no entry
		 * past the count is ever written.
		 */
		snapchan_rec_get(rec);
		snapchan_recv_unlock(chan, node);
		ret = snapchan_recv_prefault(ue + k, &e, rec);
		if (!ret)
			ret = snapchan_recv_relock(end, rec, &node);
		if (!ret && copy_to_user_nofault(ue + k, &e, sizeof(e))) {
			snapchan_recv_unlock(chan, node);
			ret = -EAGAIN;	/* paged out again meanwhile */
		}
		if (!ret) {
			k++;
			have_entry = false;
			if (snapchan_recv_consumes(&e, rec))
				snapchan_recv_pop(chan, rec, &done,
						  &wake_writers);
			stop = snapchan_recv_stops(&e, rec);
			snapchan_recv_unlock(chan, node);
		} else if (ret == -EAGAIN) {
			have_entry = true;	/* the head changed: again */
			ret = 0;
		} else {
			stop = true;
		}
		snapchan_rec_put(rec);
	}
	snapchan_recv_finish(chan, &done, wake_writers);
	/* A record too big for the first entry: tell its size and type. */
	if (!k && ret == -EMSGSIZE && copy_to_user(ue, &e, sizeof(e)))
		ret = -EFAULT;
	return k ? k : ret;
}

/* SNAPCHAN_IOC_RECV: framed receive of the next record. */
static long snapchan_chan_ioc_recv(struct snapchan_end *end, struct file *file,
				   void __user *argp)
{
	long ret;

	if (end->out)
		return -EBADF;
	ret = snapchan_recv_entries(end, argp, 1, snapchan_nonblock(file, NULL),
				    SNAPCHAN_RECV_F_ALL);
	return ret < 0 ? ret : 0;
}

/* SNAPCHAN_IOC_RECV_BATCH: many records, stopping at a marker. */
static long snapchan_chan_ioc_recv_batch(struct snapchan_end *end,
					 struct file *file, void __user *argp)
{
	struct snapchan_batch arg;
	bool nonblock;
	int ret;

	if (end->out)
		return -EBADF;
	ret = snapchan_batch_get(file, argp, &arg, &nonblock);
	if (ret)
		return ret;
	return snapchan_recv_entries(end, u64_to_user_ptr(arg.msgs), arg.nr,
				     nonblock, 0);
}

/* --- poll, MARK, ioctl ---------------------------------------------------- */

static __poll_t snapchan_chan_poll(struct file *file, poll_table *wait)
{
	struct snapchan_end *end = file->private_data;
	struct snapchan_chan *chan = end->chan;
	struct snapchan_rec *rec;
	__poll_t mask = 0;

	if (end->out)
		poll_wait(file, &chan->wr_wait, wait);
	else
		poll_wait(file, &chan->rd_wait, wait);

	mutex_lock(&chan->lock);
	chan->poll_usage = true;
	if (chan->dead) {
		mask = EPOLLHUP;
	} else if (!end->out) {
		rec = snapchan_chan_head(chan);
		if (rec && rec->type == SNAPCHAN_REC_DATA)
			mask |= EPOLLIN | EPOLLRDNORM;
		else if (rec)
			mask |= EPOLLPRI;
		else if (snapchan_chan_eof(chan))
			mask |= EPOLLHUP;
	} else if (snapchan_room_for(chan, chan->cfg.max_msg)) {
		mask |= EPOLLOUT | EPOLLWRNORM;
	}
	mutex_unlock(&chan->lock);
	return mask;
}

/* SNAPCHAN_IOC_MARK: a user marker on a standalone channel. */
static long snapchan_chan_ioc_mark(struct snapchan_end *end, void __user *argp)
{
	struct snapchan_chan *chan = end->chan;
	struct snapchan_mark arg;
	struct snapchan_rec *rec;
	bool was_empty = false;
	long ret = 0;

	if (!end->out)
		return -EBADF;
	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved || !arg.snap_id)
		return -EINVAL;
	if (chan->group)
		return -EPERM;

	rec = snapchan_rec_alloc_marker(arg.snap_id, 0);
	if (!rec)
		return -ENOMEM;

	mutex_lock(&chan->lock);
	if (chan->dead) {
		ret = -ENODEV;
	} else if (chan->user_markers >= READ_ONCE(snapchan_limits.max_markers)) {
		ret = -ENOBUFS;
	} else {
		was_empty = list_empty(&chan->queue);
		snapchan_chan_push_marker(chan, rec);
		WRITE_ONCE(chan->user_markers, chan->user_markers + 1);
		rec = NULL;
	}
	mutex_unlock(&chan->lock);
	if (rec) {
		snapchan_rec_put(rec);
		return ret;
	}
	if (was_empty || READ_ONCE(chan->poll_usage))
		wake_up_interruptible_poll(&chan->rd_wait, EPOLLPRI);
	return 0;
}

static long snapchan_chan_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct snapchan_end *end = file->private_data;
	void __user *argp = (void __user *)arg;
	int ret;

	switch (cmd) {
	case SNAPCHAN_IOC_RECV:
		return snapchan_chan_ioc_recv(end, file, argp);
	case SNAPCHAN_IOC_MARK:
		return snapchan_chan_ioc_mark(end, argp);
	case SNAPCHAN_IOC_SEND_BATCH:
		return snapchan_chan_ioc_send_batch(end, file, argp);
	case SNAPCHAN_IOC_RECV_BATCH:
		return snapchan_chan_ioc_recv_batch(end, file, argp);
	case SNAPCHAN_IOC_CAPTURE:
		/*
		 * A capture reads the queue: it needs read permission on the
		 * channel, whichever end it is made on (a 0622 mailbox lets
		 * others write, not read).
		 */
		ret = snapchan_chan_permission(end->chan, MAY_READ);
		if (ret)
			return ret;
		return snapchan_capture_ioctl(end->chan, argp);
	default:
		return -ENOTTY;
	}
}

const struct file_operations snapchan_chan_fops = {
	.owner		= THIS_MODULE,
	.open		= snapchan_chan_open,
	.release	= snapchan_chan_release_file,
	.read_iter	= snapchan_chan_read_iter,
	.write_iter	= snapchan_chan_write_iter,
	.poll		= snapchan_chan_poll,
	.unlocked_ioctl	= snapchan_chan_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

