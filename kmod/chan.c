// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan channels: the queue of records, the registry of channels, and
 * the character device /dev/snapchan/<name> with its data path.
 *
 * Locking:
 *  - snapchan_chans_lock (mutex) guards the registry: the list of live
 *    channels, the minor number map and device creation/removal.
 *  - chan->lock (mutex, one per channel) guards the queue and its counters.
 *    It is taken inside snapchan_chans_lock, never the other way round.
 *  - User memory is copied outside chan->lock on the write side (the record
 *    is filled before it is enqueued); on the read side the head record is
 *    copied out under chan->lock so that a fault leaves it queued, as
 *    fs/pipe.c does.  No spinlock is held across a user copy.
 *  - Waiters sleep with no lock held; wakeups happen after unlocking, only
 *    on a state change (empty -> non-empty, full -> room, death, EOF), or
 *    on every arrival once the channel has been polled (edge-triggered
 *    epoll needs one wakeup per arrival).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "snapchan.h"

#define SNAPCHAN_MINORS		4096

static DEFINE_MUTEX(snapchan_chans_lock);
static LIST_HEAD(snapchan_chans);
static unsigned int snapchan_nr_chans;
static DEFINE_XARRAY_ALLOC(snapchan_minor_map);
static dev_t snapchan_devt;
static struct cdev snapchan_cdev;
static struct class *snapchan_class;
static atomic64_t snapchan_next_chan_id = ATOMIC64_INIT(0);
static const struct file_operations snapchan_chan_fops;

/* --- records ----------------------------------------------------------- */

/* Payloads that would take a record past a page get their own buffer. */
static bool snapchan_rec_is_ext(u32 len)
{
	return SNAPCHAN_REC_HDR + (size_t)len > PAGE_SIZE;
}

/*
 * The allocation a record of @len payload bytes needs, as the allocator
 * rounds it: two records of the same class can stand in for each other.
 */
static size_t snapchan_rec_class(u32 len)
{
	if (snapchan_rec_is_ext(len))
		return kmalloc_size_roundup(len);
	return kmalloc_size_roundup(SNAPCHAN_REC_HDR + len);
}

static void snapchan_rec_free(struct snapchan_rec *rec)
{
	if (rec->ext)
		kvfree(rec->ext_data);
	kfree(rec);
}

/* (Re)initialise the header of a record that is about to be filled. */
static void snapchan_rec_init(struct snapchan_rec *rec, u32 type, u32 len)
{
	refcount_set(&rec->ref, 1);
	rec->type = type;
	rec->len = len;
	rec->seq = 0;
}

/**
 * snapchan_rec_alloc_data() - allocate a DATA record with room for @len bytes
 * @len: payload length; the caller fills snapchan_rec_data(rec).
 *
 * Not zeroed beyond the header: the caller overwrites every payload byte
 * before the record is visible to anyone.
 *
 * Return: the record with one reference, or NULL.
 */
struct snapchan_rec *snapchan_rec_alloc_data(u32 len)
{
	bool ext = snapchan_rec_is_ext(len);
	struct snapchan_rec *rec;

	/*
	 * Ask for the whole size class, which costs nothing more: a spare can
	 * then take any payload of its class (and KASAN knows it may).
	 */
	rec = kmalloc(ext ? sizeof(*rec) : snapchan_rec_class(len),
		      GFP_KERNEL_ACCOUNT);
	if (!rec)
		return NULL;
	rec->ext = ext;
	if (ext) {
		rec->ext_data = kvmalloc(snapchan_rec_class(len),
					 GFP_KERNEL_ACCOUNT);
		if (!rec->ext_data)
			goto out_free_rec;
	}
	INIT_LIST_HEAD(&rec->link);
	snapchan_rec_init(rec, SNAPCHAN_REC_DATA, len);
	return rec;

out_free_rec:
	kfree(rec);
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_rec_alloc_data);

/**
 * snapchan_rec_alloc_marker() - allocate a MARKER record
 * @snap_id: marker id.
 * @origin: id of the node that placed it, 0 for a user MARK.
 *
 * Return: the record with one reference, or NULL.
 */
struct snapchan_rec *snapchan_rec_alloc_marker(u64 snap_id, u64 origin)
{
	struct snapchan_rec *rec;

	rec = kmalloc(sizeof(*rec), GFP_KERNEL_ACCOUNT);
	if (!rec)
		return NULL;
	INIT_LIST_HEAD(&rec->link);
	rec->ext = 0;
	snapchan_rec_init(rec, SNAPCHAN_REC_MARKER, 0);
	rec->mark.snap_id = snap_id;
	rec->mark.origin = origin;
	return rec;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_rec_alloc_marker);

void snapchan_rec_put(struct snapchan_rec *rec)
{
	if (rec && refcount_dec_and_test(&rec->ref))
		snapchan_rec_free(rec);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_rec_put);

/**
 * snapchan_chan_rec_alloc() - a DATA record for a write to @chan
 * @chan: the channel the record is for.
 * @len: payload length.
 *
 * Reuses a record the channel's readers consumed when the most recent
 * spare is of the same size class, which saves the allocation, its zeroing
 * and its memcg charge on every message of a steady stream; a spare of
 * another class is freed (the spares follow the sizes being written).
 *
 * Return: the record with one reference, or NULL.
 */
struct snapchan_rec *snapchan_chan_rec_alloc(struct snapchan_chan *chan,
					     u32 len)
{
	struct snapchan_rec *rec = NULL;

	if (list_empty_careful(&chan->spares))
		return snapchan_rec_alloc_data(len);
	spin_lock(&chan->spare_lock);
	rec = list_first_entry_or_null(&chan->spares, struct snapchan_rec,
				       link);
	if (rec) {
		list_del(&rec->link);
		chan->nr_spares--;
		chan->spare_bytes -= rec->len;
	}
	spin_unlock(&chan->spare_lock);
	if (!rec)
		return snapchan_rec_alloc_data(len);
	if (rec->len != len &&
	    (rec->ext != snapchan_rec_is_ext(len) ||
	     snapchan_rec_class(rec->len) != snapchan_rec_class(len))) {
		snapchan_rec_free(rec);
		return snapchan_rec_alloc_data(len);
	}
	snapchan_rec_init(rec, SNAPCHAN_REC_DATA, len);
	return rec;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_rec_alloc);

/*
 * Whether @chan may keep one more spare of @len payload bytes: queued and
 * spare records together stay within what a full queue holds (messages
 * and payload bytes, as the capacity counts them), and within
 * SNAPCHAN_SPARE_MAX_BYTES.
 */
static bool snapchan_spare_room(struct snapchan_chan *chan, u32 len)
{
	lockdep_assert_held(&chan->spare_lock);
	return chan->nr_spares + READ_ONCE(chan->depth_msgs) <
		       chan->cfg.capacity_msgs &&
	       chan->spare_bytes + READ_ONCE(chan->depth_bytes) + len <=
		       chan->cfg.capacity_bytes &&
	       chan->spare_bytes + len <= SNAPCHAN_SPARE_MAX_BYTES;
}

/**
 * snapchan_chan_rec_put() - drop a reference to a record consumed from @chan
 * @chan: the channel the record was queued on.
 * @rec: a record, or NULL.
 *
 * The last reference to a DATA record keeps it as one of the channel's
 * spares while there is room (snapchan_spare_room()); anything else is
 * freed.
 */
void snapchan_chan_rec_put(struct snapchan_chan *chan,
			   struct snapchan_rec *rec)
{
	if (!rec || !refcount_dec_and_test(&rec->ref))
		return;
	if (rec->type == SNAPCHAN_REC_DATA && !READ_ONCE(chan->dead)) {
		spin_lock(&chan->spare_lock);
		if (snapchan_spare_room(chan, rec->len)) {
			list_add(&rec->link, &chan->spares);
			chan->nr_spares++;
			chan->spare_bytes += rec->len;
			rec = NULL;
		}
		spin_unlock(&chan->spare_lock);
	}
	if (rec)
		snapchan_rec_free(rec);
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_rec_put);

/* --- configuration ------------------------------------------------------ */

/**
 * snapchan_name_check() - validate a name field
 * @name: a SNAPCHAN_NAME_LEN byte field from user space.
 * @allow_empty: whether "" is acceptable (a standalone channel's group).
 *
 * Return: 0, or -EINVAL unless @name is 1..31 characters of
 * [A-Za-z0-9._-], NUL-terminated, and neither "." nor "..".
 */
int snapchan_name_check(const char *name, bool allow_empty)
{
	size_t len = strnlen(name, SNAPCHAN_NAME_LEN);
	size_t i;

	if (len == SNAPCHAN_NAME_LEN)
		return -EINVAL;
	if (len == 0) {
		if (!allow_empty)
			return -EINVAL;
		/* Bytes after the terminator never reach a copy. */
		memset((char *)name, 0, SNAPCHAN_NAME_LEN);
		return 0;
	}
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		/* ASCII only: the kernel's isalnum() also takes Latin-1. */
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-')
			return -EINVAL;
	}
	/* Bytes after the terminator are ignored; keep them out of copies. */
	memset((char *)name + len, 0, SNAPCHAN_NAME_LEN - len);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_name_check);

/**
 * snapchan_chan_cfg_check() - validate a channel configuration and fill in
 *			       the defaults
 * @cfg: the configuration; zero fields are replaced by the defaults.
 *
 * Return: 0 or -EINVAL.
 */
int snapchan_chan_cfg_check(struct snapchan_chan_cfg *cfg)
{
	const struct snapchan_limits *lim = &snapchan_limits;

	if (snapchan_name_check(cfg->name, false) ||
	    !strcmp(cfg->name, "control"))
		return -EINVAL;
	if (snapchan_name_check(cfg->group, true))
		return -EINVAL;
	if (cfg->flags & ~SNAPCHAN_CHAN_F_ALL)
		return -EINVAL;
	if (cfg->mode & ~0666U)
		return -EINVAL;
	if (!cfg->mode)
		cfg->mode = 0600;

	if (!cfg->max_msg) {
		/* A default that fits the capacity asked for, or allowed. */
		cfg->max_msg = min(READ_ONCE(lim->default_max_msg),
				   READ_ONCE(lim->max_msg_size));
		cfg->max_msg = min_t(u64, cfg->max_msg,
				     cfg->capacity_bytes ? :
				     READ_ONCE(lim->max_capacity_bytes));
	}
	if (cfg->max_msg > READ_ONCE(lim->max_msg_size))
		return -EINVAL;

	if (!cfg->capacity_msgs)
		cfg->capacity_msgs = min(READ_ONCE(lim->default_capacity_msgs),
					 READ_ONCE(lim->max_capacity_msgs));
	if (cfg->capacity_msgs > READ_ONCE(lim->max_capacity_msgs))
		return -EINVAL;

	if (!cfg->capacity_bytes)
		cfg->capacity_bytes =
			max(cfg->max_msg,
			    min(READ_ONCE(lim->default_capacity_bytes),
				READ_ONCE(lim->max_capacity_bytes)));
	if (cfg->capacity_bytes > READ_ONCE(lim->max_capacity_bytes) ||
	    cfg->capacity_bytes < cfg->max_msg)
		return -EINVAL;

	/* Sequence numbers never wrap (0 means "none" in images). */
	if (cfg->first_seq > SNAPCHAN_SEQ_MAX)
		return -EINVAL;
	if (!cfg->first_seq)
		cfg->first_seq = 1;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(snapchan_chan_cfg_check);

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

/* --- the character device ------------------------------------------------ */

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

	ret = wait_event_interruptible_exclusive(chan->wr_wait,
						 snapchan_chan_writable(chan, len));
	return ret ? -ERESTARTSYS : 0;
}

static bool snapchan_chan_eof(struct snapchan_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return (chan->cfg.flags & SNAPCHAN_CHAN_F_EOF) && chan->had_writer &&
	       !chan->writers && list_empty(&chan->queue);
}

static int snapchan_chan_open(struct inode *inode, struct file *file)
{
	struct snapchan_chan *chan;
	struct snapchan_end *end;
	int ret = 0;

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

	mutex_lock(&snapchan_chans_lock);
	chan = xa_load(&snapchan_minor_map, iminor(inode));
	if (chan)
		snapchan_chan_get(chan);
	mutex_unlock(&snapchan_chans_lock);
	if (!chan) {
		ret = -ENODEV;
		goto out_free_end;
	}

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

/* Drop what snapchan_recv_head() or the write loop holds. */
static void snapchan_end_unlock(struct snapchan_chan *chan,
				struct snapchan_node *node)
{
	mutex_unlock(&chan->lock);
	snapchan_end_unlock_node(node);
}

/*
 * Wait until a receive through @end has a record to look at.  Returns the
 * head record with chan->lock held and the attached node, if any, pinned
 * in *@nodep; NULL at end of file; or an ERR_PTR: -EPERM (another end is
 * the attached receiver), -ENODEV, -EAGAIN, -ERESTARTSYS.  Only the
 * non-error returns hold the locks.
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
		node = snapchan_end_lock_node(end);
		mutex_lock(&chan->lock);
		if (chan->receiver_end && chan->receiver_end != end) {
			ret = -EPERM;
			break;
		}
		/* A destroyed channel delivers nothing more, queued or not. */
		if (chan->dead) {
			ret = -ENODEV;
			break;
		}
		rec = snapchan_chan_head(chan);
		if (rec) {
			*nodep = node;
			return rec;
		}
		if (snapchan_chan_eof(chan)) {
			*nodep = node;
			return NULL;
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
	snapchan_end_unlock(chan, node);
	return ERR_PTR(ret);
}

/*
 * Consume the head record @rec (chan->lock held), drop the locks and wake
 * whoever the change concerns.
 */
static void snapchan_recv_consume(struct snapchan_chan *chan,
				  struct snapchan_node *node,
				  struct snapchan_rec *rec)
{
	bool was_full = !snapchan_room_for(chan, chan->cfg.max_msg);
	bool more;

	snapchan_chan_pop(chan);
	more = !list_empty(&chan->queue);
	snapchan_end_unlock(chan, node);
	snapchan_chan_rec_put(chan, rec);

	if ((was_full || READ_ONCE(chan->poll_usage)) &&
	    wq_has_sleeper(&chan->wr_wait))
		wake_up_interruptible_sync_poll(&chan->wr_wait,
						EPOLLOUT | EPOLLWRNORM);
	/* Pass an exclusive wakeup on to the next reader while data lasts. */
	if (more && wq_has_sleeper(&chan->rd_wait))
		wake_up_interruptible_sync_poll(&chan->rd_wait,
						EPOLLIN | EPOLLRDNORM);
}

static bool snapchan_nonblock(struct file *file, struct kiocb *iocb)
{
	return (file->f_flags & O_NONBLOCK) ||
	       (iocb && (iocb->ki_flags & IOCB_NOWAIT));
}

static ssize_t snapchan_chan_write_iter(struct kiocb *iocb,
					struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct snapchan_end *end = file->private_data;
	struct snapchan_chan *chan = end->chan;
	bool nonblock = snapchan_nonblock(file, iocb);
	size_t len = iov_iter_count(from);
	bool was_empty, wake_writer, polled;
	struct snapchan_node *node;
	struct snapchan_rec *rec;
	int ret;

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

	for (;;) {
		node = snapchan_end_lock_node(end);
		mutex_lock(&chan->lock);
		if (chan->sender_end && chan->sender_end != end) {
			ret = -EPERM;
			break;
		}
		was_empty = list_empty(&chan->queue);
		ret = snapchan_chan_push(chan, rec);
		if (ret != -EAGAIN || nonblock)
			break;
		snapchan_end_unlock(chan, node);
		ret = snapchan_wait_writable(chan, len);
		if (ret)
			goto out_put_rec;
	}
	if (ret) {
		snapchan_end_unlock(chan, node);
		goto out_put_rec;
	}
	/* The queue owns @rec now; recordings take references of their own. */
	if (!list_empty(&chan->recordings))
		snapchan_rec_recorded(chan, rec);
	wake_writer = snapchan_room_for(chan, 0);
	polled = chan->poll_usage;
	snapchan_end_unlock(chan, node);

	if ((was_empty || polled) && wq_has_sleeper(&chan->rd_wait))
		wake_up_interruptible_sync_poll(&chan->rd_wait,
						EPOLLIN | EPOLLRDNORM);
	/* An exclusive wakeup may have been ours: pass it on while room lasts. */
	if (wake_writer && wq_has_sleeper(&chan->wr_wait))
		wake_up_interruptible_sync_poll(&chan->wr_wait,
						EPOLLOUT | EPOLLWRNORM);
	return len;

out_put_rec:
	snapchan_rec_put(rec);
	return ret;
}

static ssize_t snapchan_chan_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct snapchan_end *end = file->private_data;
	struct snapchan_chan *chan = end->chan;
	struct snapchan_node *node;
	struct snapchan_rec *rec;
	ssize_t ret;

	rec = snapchan_recv_head(end, snapchan_nonblock(file, iocb), &node);
	if (IS_ERR(rec))
		return PTR_ERR(rec);
	if (!rec) {
		ret = 0;		/* end of file */
		goto out_unlock;
	}
	if (rec->type != SNAPCHAN_REC_DATA) {
		ret = -ENOMSG;
		goto out_unlock;
	}
	if (rec->len > iov_iter_count(to)) {
		ret = -EMSGSIZE;
		goto out_unlock;
	}
	/* Copied under the lock: a fault leaves the record at the head. */
	if (copy_to_iter(snapchan_rec_data(rec), rec->len, to) != rec->len) {
		ret = -EFAULT;
		goto out_unlock;
	}
	ret = rec->len;
	snapchan_recv_consume(chan, node, rec);
	return ret;

out_unlock:
	snapchan_end_unlock(chan, node);
	return ret;
}

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

/* SNAPCHAN_IOC_RECV: framed receive of the next record. */
static long snapchan_chan_ioc_recv(struct snapchan_end *end, struct file *file,
				   void __user *argp)
{
	struct snapchan_chan *chan = end->chan;
	struct snapchan_node *node;
	struct snapchan_recv arg;
	struct snapchan_rec *rec;
	long ret;

	if (end->out)
		return -EBADF;
	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SNAPCHAN_RECV_F_ALL) || arg.reserved[0] ||
	    arg.reserved[1])
		return -EINVAL;

	rec = snapchan_recv_head(end, snapchan_nonblock(file, NULL), &node);
	if (IS_ERR(rec))
		return PTR_ERR(rec);
	if (!rec) {
		ret = -ENODATA;		/* end of file */
		goto out_unlock;
	}
	arg.type = rec->type;
	arg.len = rec->len;
	arg.seq = rec->seq;
	arg.snap_id = snapchan_rec_snap_id(rec);
	arg.origin = snapchan_rec_origin(rec);
	if (rec->len > arg.buf_len) {
		snapchan_end_unlock(chan, node);
		/* Tell the size; the record stays queued. */
		return copy_to_user(argp, &arg, sizeof(arg)) ? -EFAULT :
			-EMSGSIZE;
	}
	if (copy_to_user(u64_to_user_ptr(arg.buf),
			 snapchan_rec_data(rec), rec->len) ||
	    copy_to_user(argp, &arg, sizeof(arg))) {
		ret = -EFAULT;
		goto out_unlock;
	}
	/* Kernel-placed markers are consumed only by NODE_RECORD. */
	if ((arg.flags & SNAPCHAN_RECV_PEEK) ||
	    (rec->type == SNAPCHAN_REC_MARKER && rec->mark.origin)) {
		ret = 0;
		goto out_unlock;
	}
	snapchan_recv_consume(chan, node, rec);
	return 0;

out_unlock:
	snapchan_end_unlock(chan, node);
	return ret;
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
	case SNAPCHAN_IOC_CAPTURE:
		/*
		 * A capture reads the queue: it needs read permission on the
		 * channel, whichever end it is made on (a 0622 mailbox lets
		 * others write, not read).
		 */
		ret = inode_permission(file_mnt_user_ns(file),
				       file_inode(file), MAY_READ);
		if (ret)
			return ret;
		return snapchan_capture_ioctl(end->chan, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations snapchan_chan_fops = {
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

/* --- sysfs ---------------------------------------------------------------- */

#define SNAPCHAN_ATTR(_name, _fmt, _expr)				\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct snapchan_chan *chan = dev_get_drvdata(dev);		\
									\
	return sysfs_emit(buf, _fmt "\n", _expr);			\
}									\
static DEVICE_ATTR_RO(_name)

SNAPCHAN_ATTR(chan_id, "%llu", chan->id);
SNAPCHAN_ATTR(group, "%s", chan->cfg.group);
SNAPCHAN_ATTR(capacity_bytes, "%llu", chan->cfg.capacity_bytes);
SNAPCHAN_ATTR(capacity_msgs, "%u", chan->cfg.capacity_msgs);
SNAPCHAN_ATTR(max_msg, "%u", chan->cfg.max_msg);
SNAPCHAN_ATTR(flags, "%#x", chan->cfg.flags);
SNAPCHAN_ATTR(first_seq, "%llu", chan->cfg.first_seq);
SNAPCHAN_ATTR(depth_msgs, "%u", READ_ONCE(chan->depth_msgs));
SNAPCHAN_ATTR(depth_bytes, "%llu", READ_ONCE(chan->depth_bytes));
SNAPCHAN_ATTR(markers_queued, "%u", READ_ONCE(chan->markers));
SNAPCHAN_ATTR(total_sent, "%llu", READ_ONCE(chan->total_sent));
SNAPCHAN_ATTR(total_received, "%llu", READ_ONCE(chan->total_received));
SNAPCHAN_ATTR(next_seq, "%llu", READ_ONCE(chan->next_seq));
SNAPCHAN_ATTR(readers, "%u", READ_ONCE(chan->readers));
SNAPCHAN_ATTR(writers, "%u", READ_ONCE(chan->writers));

static struct attribute *snapchan_chan_attrs[] = {
	&dev_attr_chan_id.attr,
	&dev_attr_group.attr,
	&dev_attr_capacity_bytes.attr,
	&dev_attr_capacity_msgs.attr,
	&dev_attr_max_msg.attr,
	&dev_attr_flags.attr,
	&dev_attr_first_seq.attr,
	&dev_attr_depth_msgs.attr,
	&dev_attr_depth_bytes.attr,
	&dev_attr_markers_queued.attr,
	&dev_attr_total_sent.attr,
	&dev_attr_total_received.attr,
	&dev_attr_next_seq.attr,
	&dev_attr_readers.attr,
	&dev_attr_writers.attr,
	NULL
};
ATTRIBUTE_GROUPS(snapchan_chan);

static char *snapchan_chan_devnode(struct device *dev, umode_t *mode,
				   kuid_t *uid, kgid_t *gid)
{
	struct snapchan_chan *chan = dev_get_drvdata(dev);

	if (mode)
		*mode = chan->cfg.mode;
	if (uid)
		*uid = chan->cfg.uid;
	if (gid)
		*gid = chan->cfg.gid;
	/*
	 * devtmpfs cannot be told this failed: it would fall back to the
	 * bare name, /dev/<name>, on create and leave the node behind on
	 * delete.  A few dozen bytes: do not fail.
	 */
	return kasprintf(GFP_KERNEL | __GFP_NOFAIL, "snapchan/%s",
			 chan->cfg.name);
}

static void snapchan_dev_release(struct device *dev)
{
	kfree(dev);
}

static const struct device_type snapchan_chan_type = {
	.name		= "snapchan_channel",
	.devnode	= snapchan_chan_devnode,
};

/* --- registry --------------------------------------------------------------- */

static struct snapchan_chan *snapchan_chan_find(const char *name)
{
	struct snapchan_chan *chan;

	lockdep_assert_held(&snapchan_chans_lock);
	list_for_each_entry(chan, &snapchan_chans, list)
		if (!strcmp(chan->cfg.name, name))
			return chan;
	return NULL;
}

static unsigned int snapchan_chans_of(kuid_t uid)
{
	struct snapchan_chan *chan;
	unsigned int n = 0;

	lockdep_assert_held(&snapchan_chans_lock);
	list_for_each_entry(chan, &snapchan_chans, list)
		if (uid_eq(chan->cfg.uid, uid))
			n++;
	return n;
}

/**
 * snapchan_chan_create() - create and register a channel and its device
 * @cfg: configuration (validated here; defaults filled in).
 * @flags: SNAPCHAN_TOPO_F_ABORT or 0: what to do about running snapshots
 *	   of the channel's group.
 * @id: out: the channel id.
 *
 * Return: 0; -EINVAL for a bad configuration, -EEXIST for a name in use,
 * -ENOSPC past max_channels or max_channels_per_user, -EPERM for a group
 * that belongs to another user, -ERESTARTSYS, -ENOMEM.
 */
int snapchan_chan_create(struct snapchan_chan_cfg *cfg, u32 flags, u64 *id)
{
	struct snapchan_group *group = NULL;
	struct snapchan_chan *chan;
	struct device *dev;
	u32 minor;
	int ret;

	ret = snapchan_chan_cfg_check(cfg);
	if (ret)
		return ret;
	if (cfg->group[0]) {
		group = snapchan_group_get_or_create(cfg->group, true);
		if (IS_ERR(group))
			return PTR_ERR(group);
		ret = snapchan_group_may_use(group);
		if (ret)
			goto out_put_group;
	}
	chan = snapchan_chan_alloc(cfg);
	if (!chan) {
		ret = -ENOMEM;
		goto out_put_group;
	}
	if (group) {
		ret = snapchan_group_topo_lock(group, flags);
		if (ret)
			goto out_put_chan;
		/*
		 * Set before the channel is visible: a racing destroy must see
		 * the group and wait on its lock until we have linked it.
		 */
		chan->group = group;
	}

	mutex_lock(&snapchan_chans_lock);
	if (snapchan_chan_find(cfg->name)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	if (snapchan_nr_chans >= READ_ONCE(snapchan_limits.max_channels) ||
	    snapchan_chans_of(cfg->uid) >=
	    READ_ONCE(snapchan_limits.max_channels_per_user)) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	ret = xa_alloc(&snapchan_minor_map, &minor, chan,
		       XA_LIMIT(0, SNAPCHAN_MINORS - 1), GFP_KERNEL);
	if (ret == -EBUSY)
		ret = -ENOSPC;
	if (ret)
		goto out_unlock;
	chan->minor = minor;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev) {
		ret = -ENOMEM;
		goto out_erase_minor;
	}
	device_initialize(dev);
	dev->class = snapchan_class;
	dev->type = &snapchan_chan_type;
	dev->devt = MKDEV(MAJOR(snapchan_devt), minor);
	dev->groups = snapchan_chan_groups;
	dev->release = snapchan_dev_release;
	dev_set_drvdata(dev, chan);
	ret = dev_set_name(dev, "%s", cfg->name);
	if (!ret)
		ret = device_add(dev);
	if (ret)
		goto out_put_device;
	chan->dev = dev;
	chan->registered = true;
	list_add_tail(&chan->list, &snapchan_chans);
	snapchan_nr_chans++;
	*id = chan->id;
	mutex_unlock(&snapchan_chans_lock);
	if (group) {
		/* The channel owns the group reference from here. */
		list_add_tail(&chan->group_link, &group->chans);
		snapchan_group_topo_unlock(group, true);
	}
	return 0;

out_put_device:
	put_device(dev);
out_erase_minor:
	xa_erase(&snapchan_minor_map, minor);
out_unlock:
	mutex_unlock(&snapchan_chans_lock);
	if (group) {
		chan->group = NULL;	/* the reference is put below */
		snapchan_group_topo_unlock(group, false);
	}
out_put_chan:
	snapchan_chan_put(chan);
out_put_group:
	snapchan_group_put(group);
	return ret;
}

/* Take a channel out of the registry; the caller then kills and puts it. */
static void snapchan_chan_unregister(struct snapchan_chan *chan)
{
	lockdep_assert_held(&snapchan_chans_lock);
	list_del_init(&chan->list);
	snapchan_nr_chans--;
	xa_erase(&snapchan_minor_map, chan->minor);
	device_unregister(chan->dev);
	chan->dev = NULL;
	chan->registered = false;
}

/*
 * Unregister @chan (referenced by the caller), take it out of its group
 * and kill it.  Returns -ENOENT if somebody else removed it first.
 */
static int snapchan_chan_remove(struct snapchan_chan *chan, u32 flags)
{
	struct snapchan_group *group = chan->group;
	bool registered;
	int ret;

	if (group) {
		ret = snapchan_group_topo_lock(group, flags);
		if (ret)
			return ret;
	}
	mutex_lock(&snapchan_chans_lock);
	registered = chan->registered;
	if (registered)
		snapchan_chan_unregister(chan);
	mutex_unlock(&snapchan_chans_lock);
	if (group) {
		if (registered)
			list_del_init(&chan->group_link);
		snapchan_group_topo_unlock(group, registered);
	}
	if (!registered)
		return -ENOENT;
	snapchan_chan_kill(chan);
	snapchan_chan_put(chan);	/* the registry's reference */
	return 0;
}

/**
 * snapchan_chan_destroy() - destroy a channel by name
 * @name: a checked name.
 * @flags: SNAPCHAN_TOPO_F_ABORT or 0 (wait for running snapshots).
 *
 * Open handles stay valid and see the channel dead; the memory goes with
 * the last one.
 *
 * Return: 0; -ENOENT if there is no such channel; -EPERM unless the caller
 * owns it or has CAP_SYS_ADMIN; -ERESTARTSYS.
 */
int snapchan_chan_destroy(const char *name, u32 flags)
{
	struct snapchan_chan *chan;
	int ret;

	mutex_lock(&snapchan_chans_lock);
	chan = snapchan_chan_find(name);
	if (!chan) {
		mutex_unlock(&snapchan_chans_lock);
		return -ENOENT;
	}
	if (!uid_eq(chan->cfg.uid, current_euid()) && !capable(CAP_SYS_ADMIN)) {
		mutex_unlock(&snapchan_chans_lock);
		return -EPERM;
	}
	snapchan_chan_get(chan);
	mutex_unlock(&snapchan_chans_lock);

	ret = snapchan_chan_remove(chan, flags);
	snapchan_chan_put(chan);
	return ret;
}

/* The id of the node attached through @end (chan->lock held), or 0. */
static u64 snapchan_end_node_id(struct snapchan_chan *chan,
				struct snapchan_end *end)
{
	struct snapchan_node *node;

	if (!end)
		return 0;
	node = rcu_dereference_protected(end->node,
					 lockdep_is_held(&chan->lock));
	return node ? node->id : 0;
}

/**
 * snapchan_chan_info() - configuration and live counters of a channel
 * @name: a checked name.
 * @info: out: filled in (name included), reserved fields zero.
 *
 * Return: 0 or -ENOENT.
 */
int snapchan_chan_info(const char *name, struct snapchan_chan_info *info)
{
	struct snapchan_chan *chan;

	mutex_lock(&snapchan_chans_lock);
	chan = snapchan_chan_find(name);
	if (!chan) {
		mutex_unlock(&snapchan_chans_lock);
		return -ENOENT;
	}
	memset(info, 0, sizeof(*info));
	memcpy(info->name, chan->cfg.name, SNAPCHAN_NAME_LEN);
	memcpy(info->group, chan->cfg.group, SNAPCHAN_NAME_LEN);
	info->chan_id = chan->id;
	info->capacity_bytes = chan->cfg.capacity_bytes;
	info->capacity_msgs = chan->cfg.capacity_msgs;
	info->max_msg = chan->cfg.max_msg;
	info->flags = chan->cfg.flags;
	info->mode = chan->cfg.mode;
	info->uid = from_kuid_munged(current_user_ns(), chan->cfg.uid);
	info->gid = from_kgid_munged(current_user_ns(), chan->cfg.gid);
	info->first_seq = chan->cfg.first_seq;

	mutex_lock(&chan->lock);
	info->markers_queued = chan->markers;
	info->depth_msgs = chan->depth_msgs;
	info->depth_bytes = chan->depth_bytes;
	info->total_sent = chan->total_sent;
	info->total_received = chan->total_received;
	info->next_seq = chan->next_seq;
	info->readers = chan->readers;
	info->writers = chan->writers;
	info->sender_node = snapchan_end_node_id(chan, chan->sender_end);
	info->receiver_node = snapchan_end_node_id(chan, chan->receiver_end);
	mutex_unlock(&chan->lock);
	mutex_unlock(&snapchan_chans_lock);
	return 0;
}

/**
 * snapchan_chan_list() - names of the live channels, in creation order
 * @names: kernel buffer of @max names of SNAPCHAN_NAME_LEN bytes.
 * @max: room in @names.
 * @count: out: how many channels exist.
 *
 * Return: 0.
 */
int snapchan_chan_list(char *names, u32 max, u32 *count)
{
	struct snapchan_chan *chan;
	u32 n = 0;

	mutex_lock(&snapchan_chans_lock);
	list_for_each_entry(chan, &snapchan_chans, list) {
		if (n < max)
			memcpy(names + (size_t)n * SNAPCHAN_NAME_LEN,
			       chan->cfg.name, SNAPCHAN_NAME_LEN);
		n++;
	}
	mutex_unlock(&snapchan_chans_lock);
	*count = n;
	return 0;
}

/**
 * snapchan_chan_init() - register the device class and the minor range
 *
 * Return: 0 or a negative errno.
 */
int snapchan_chan_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&snapchan_devt, 0, SNAPCHAN_MINORS,
				  "snapchan");
	if (ret)
		return ret;
	cdev_init(&snapchan_cdev, &snapchan_chan_fops);
	snapchan_cdev.owner = THIS_MODULE;
	ret = cdev_add(&snapchan_cdev, snapchan_devt, SNAPCHAN_MINORS);
	if (ret)
		goto out_unregister_region;
	snapchan_class = class_create(THIS_MODULE, "snapchan");
	if (IS_ERR(snapchan_class)) {
		ret = PTR_ERR(snapchan_class);
		goto out_del_cdev;
	}
	return 0;

out_del_cdev:
	cdev_del(&snapchan_cdev);
out_unregister_region:
	unregister_chrdev_region(snapchan_devt, SNAPCHAN_MINORS);
	return ret;
}

/**
 * snapchan_chan_exit() - destroy every channel and unregister the class
 *
 * Open channel, node and snapshot files hold the module, so none is open
 * here and no snapshot runs.
 */
void snapchan_chan_exit(void)
{
	struct snapchan_chan *chan;

	for (;;) {
		mutex_lock(&snapchan_chans_lock);
		chan = list_first_entry_or_null(&snapchan_chans,
						struct snapchan_chan, list);
		if (chan)
			snapchan_chan_get(chan);
		mutex_unlock(&snapchan_chans_lock);
		if (!chan)
			break;
		snapchan_chan_remove(chan, SNAPCHAN_TOPO_F_ABORT);
		snapchan_chan_put(chan);
	}
	class_destroy(snapchan_class);
	cdev_del(&snapchan_cdev);
	unregister_chrdev_region(snapchan_devt, SNAPCHAN_MINORS);
	xa_destroy(&snapchan_minor_map);
}
