/* SPDX-License-Identifier: GPL-2.0 */
/*
 * snapchan internal interfaces shared by the module's files and its KUnit
 * suites.  The user-visible contract is uapi/linux/snapchan.h.
 */
#ifndef _SNAPCHAN_H
#define _SNAPCHAN_H

#include <linux/cdev.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/snapchan.h>

/*
 * Delay injection (main.c), in modules built for the debug and race
 * detector kernels only: the inject_delay parameter (microseconds, 0 off)
 * makes snapchan_delay_point() yield or sleep at random at the data
 * path's and the record path's lock boundaries, so that rare
 * interleavings become common under the stress programs.  Callers may
 * sleep; no spinlock is held.
 */
#if IS_ENABLED(CONFIG_PROVE_LOCKING) || IS_ENABLED(CONFIG_KCSAN)
#define SNAPCHAN_DELAY_INJECTION 1
void snapchan_delay_point(void);
#else
static inline void snapchan_delay_point(void)
{
}
#endif

/* Limits, settable as module parameters (main.c). */
struct snapchan_limits {
	unsigned int max_channels;
	unsigned int max_channels_per_user;
	unsigned int default_capacity_msgs;
	unsigned int max_capacity_msgs;
	unsigned int default_capacity_bytes;
	unsigned int max_capacity_bytes;
	unsigned int default_max_msg;
	unsigned int max_msg_size;
	unsigned int max_markers;
	unsigned int max_captures;
	unsigned int max_captures_per_user;
	unsigned int max_capture_mbytes;
	unsigned int max_nodes;
	unsigned int max_nodes_per_user;
	unsigned int max_snapshots;
	unsigned int max_retained;
	unsigned int max_state_bytes;
	unsigned int default_timeout_ms;
	unsigned int default_budget_mbytes;
};

extern struct snapchan_limits snapchan_limits;

/* Per-user counts of one kind of object (main.c): nodes, captures. */
struct xarray;
extern struct xarray snapchan_node_users;
extern struct xarray snapchan_capture_users;
int snapchan_user_charge(struct xarray *counts, kuid_t uid, unsigned int max);
void snapchan_user_uncharge(struct xarray *counts, kuid_t uid);

/*
 * struct snapchan_rec - one queued record, DATA or MARKER
 *
 * A record is written once, before it is enqueued, and is immutable after
 * that; it is shared by reference (captures and snapshot recordings hold
 * references, so a record outlives its consumption as long as they need
 * it).  @link is guarded by the lock of the one channel whose queue holds
 * the record; it is unused once the record is consumed.
 *
 * The header is 32 bytes, so a 64-byte message fits kmalloc-96.  Small
 * payloads live inline after the header; a payload that would push the
 * record past a page lives in its own buffer (@ext, pointer in @ext_data),
 * so a 4 KiB message costs one page plus a small header, not an 8 KiB
 * object.  A MARKER has no payload; its ids take the payload's place.
 */
struct snapchan_rec {
	struct list_head link;
	refcount_t ref;
	u32 len : 28;		/* payload bytes (0 for a marker) */
	u32 type : 2;		/* SNAPCHAN_REC_DATA or SNAPCHAN_REC_MARKER */
	u32 ext : 1;		/* payload in @ext_data, not inline */
	u64 seq;		/* DATA: sequence number; MARKER: 0 */
	union {
		DECLARE_FLEX_ARRAY(u8, inline_data);
		u8 *ext_data;
		struct {
			u64 snap_id;	/* marker id */
			u64 origin;	/* node that placed it, 0 for MARK */
		} mark;
	};
};

/* Most bytes of consumed records a channel keeps for reuse. */
#define SNAPCHAN_SPARE_MAX_BYTES	(256 << 10)

#define SNAPCHAN_REC_HDR	offsetof(struct snapchan_rec, inline_data)

/* The payload of a DATA record. */
static inline u8 *snapchan_rec_data(const struct snapchan_rec *rec)
{
	return rec->ext ? rec->ext_data : (u8 *)rec->inline_data;
}

/* A marker's id and origin; 0 for a DATA record (its payload is there). */
static inline u64 snapchan_rec_snap_id(const struct snapchan_rec *rec)
{
	return rec->type == SNAPCHAN_REC_MARKER ? rec->mark.snap_id : 0;
}

static inline u64 snapchan_rec_origin(const struct snapchan_rec *rec)
{
	return rec->type == SNAPCHAN_REC_MARKER ? rec->mark.origin : 0;
}

/* Wake every waiter on @wq (exclusive ones too) with a poll @mask. */
static inline void snapchan_wake_all(struct wait_queue_head *wq, __poll_t mask)
{
	__wake_up(wq, TASK_INTERRUPTIBLE, 0, poll_to_key(mask));
}

struct snapchan_chan;

struct snapchan_rec *snapchan_rec_alloc_data(u32 len);
struct snapchan_rec *snapchan_chan_rec_alloc(struct snapchan_chan *chan,
					     u32 len);
void snapchan_chan_rec_put(struct snapchan_chan *chan,
			   struct snapchan_rec *rec);
struct snapchan_rec *snapchan_rec_alloc_marker(u64 snap_id, u64 origin);

static inline struct snapchan_rec *snapchan_rec_get(struct snapchan_rec *rec)
{
	refcount_inc(&rec->ref);
	return rec;
}

void snapchan_rec_put(struct snapchan_rec *rec);
void snapchan_rec_free(struct snapchan_rec *rec);

/* Channel configuration, validated by snapchan_chan_cfg_check(). */
struct snapchan_chan_cfg {
	char name[SNAPCHAN_NAME_LEN];
	char group[SNAPCHAN_NAME_LEN];
	u64 capacity_bytes;
	u32 capacity_msgs;
	u32 max_msg;
	u64 first_seq;
	u32 mode;
	u32 flags;
	kuid_t uid;
	kgid_t gid;
};

/*
 * struct snapchan_chan - one channel: a FIFO of records and its device
 *
 * Immutable after snapchan_chan_alloc(): @id, @cfg.
 *
 * Guarded by snapchan_chans_lock (the global registry mutex, registry.c):
 * @list, @minor, @dev, @registered.
 *
 * Guarded by @lock (one per channel: the queue lock): @queue,
 * @depth_msgs, @depth_bytes, @markers, @user_markers, @next_seq,
 * @total_sent, @total_received, @readers, @writers, @had_writer, @dead,
 * @poll_usage.  Lock-free readers (wait conditions, poll) use READ_ONCE
 * on the counters; every writer of those fields holds @lock and uses
 * WRITE_ONCE.
 *
 * @rd_wait: readers waiting for a record, and pollers of receiving ends.
 * @wr_wait: writers waiting for room, and pollers of sending ends.
 */
struct snapchan_chan {
	struct kref ref;
	u64 id;
	struct snapchan_chan_cfg cfg;

	struct list_head list;
	int minor;
	struct device *dev;
	bool registered;

	struct mutex lock;		/* the queue lock, see above */
	struct list_head queue;
	u32 depth_msgs;
	u64 depth_bytes;
	u32 markers;
	u32 user_markers;
	u64 next_seq;
	u64 total_sent;
	u64 total_received;
	u32 readers;
	u32 writers;
	bool had_writer;
	bool dead;
	bool poll_usage;

	wait_queue_head_t rd_wait;
	wait_queue_head_t wr_wait;

	/*
	 * Consumed DATA records kept for reuse by later writes (as a pipe
	 * keeps its tmp_page), guarded by @spare_lock: @spares (through
	 * rec->link, most recent first), @nr_spares, @spare_bytes (their
	 * payload lengths).  Bounded so that queued and spare records
	 * together never exceed a full queue, and by SNAPCHAN_SPARE_MAX_BYTES.
	 */
	spinlock_t spare_lock;
	struct list_head spares;
	u32 nr_spares;
	size_t spare_bytes;

	/*
	 * Group membership (node.c).  @group is set at creation and holds a
	 * reference.  @group_link is guarded by the group's lock.
	 * @sender_end and @receiver_end (the attached ends, NULL when none)
	 * change under both the group lock and @lock, so either lock keeps
	 * them stable.  @recordings (struct snapchan_schan.chan_link, the
	 * snapshot recordings open on this channel) is guarded by @lock.
	 */
	struct snapchan_group *group;
	struct list_head group_link;
	struct snapchan_end *sender_end;
	struct snapchan_end *receiver_end;
	struct list_head recordings;
};

/*
 * struct snapchan_end - an open channel file (its private data)
 *
 * @chan and @out are immutable.  @node (the node this end is attached to,
 * or NULL) and @node_link (in node->ends) change under the group lock and
 * the node's io_lock held for writing; the data path reads @node under RCU
 * and then holds the node's io_lock for reading (snapchan_end_lock_node()).
 */
struct snapchan_end {
	struct snapchan_chan *chan;
	struct file *file;
	bool out;
	struct snapchan_node __rcu *node;
	struct list_head node_link;
};

int snapchan_name_check(const char *name, bool allow_empty);
int snapchan_chan_cfg_check(struct snapchan_chan_cfg *cfg);
struct snapchan_chan *snapchan_chan_alloc(const struct snapchan_chan_cfg *cfg);
void snapchan_chan_put(struct snapchan_chan *chan);

static inline void snapchan_chan_get(struct snapchan_chan *chan)
{
	kref_get(&chan->ref);
}

int snapchan_chan_push(struct snapchan_chan *chan, struct snapchan_rec *rec);
void snapchan_chan_push_marker(struct snapchan_chan *chan,
			       struct snapchan_rec *rec);
struct snapchan_rec *snapchan_chan_head(struct snapchan_chan *chan);
struct snapchan_rec *snapchan_chan_pop(struct snapchan_chan *chan);
void snapchan_chan_kill(struct snapchan_chan *chan);
void snapchan_chan_unlink(struct snapchan_chan *chan, struct snapchan_rec *rec);
struct snapchan_chan *snapchan_chan_from_file(struct file *file);
int snapchan_chan_permission(struct snapchan_chan *chan, int mask);
extern const struct file_operations snapchan_chan_fops;

/* Registry and devices (registry.c). */
int snapchan_chan_init(void);
void snapchan_chan_exit(void);
int snapchan_chan_create(struct snapchan_chan_cfg *cfg, u32 flags, u64 *id);
int snapchan_chan_destroy(const char *name, u32 flags);
int snapchan_chan_info(const char *name, struct snapchan_chan_info *info);
int snapchan_chan_list(char *names, u32 max, u32 *count);
struct snapchan_chan *snapchan_chan_get_by_minor(unsigned int minor);

/* --- images (image.c) ---------------------------------------------------- */

/* A node section: its description and the state it carries. */
struct snapchan_img_node_src {
	struct snapchan_img_node desc;
	const void *state;
	u64 len;
};

/* A channel section: its description and the records it carries. */
struct snapchan_img_chan_src {
	struct snapchan_img_chan desc;
	struct snapchan_rec **recs;
	u32 nr_recs;
};

/*
 * What an image is made of.  Immutable while any reader reads it; the
 * owner (a capture or a snapshot) holds the references.
 */
struct snapchan_img_src {
	struct snapchan_img_header hdr;
	struct snapchan_img_node_src *nodes;
	u32 nr_nodes;
	struct snapchan_img_chan_src *chans;
	u32 nr_chans;
};

enum snapchan_img_part {
	SNAPCHAN_IMG_PART_HEADER,
	SNAPCHAN_IMG_PART_NODE,
	SNAPCHAN_IMG_PART_NODE_STATE,
	SNAPCHAN_IMG_PART_NODE_PAD,
	SNAPCHAN_IMG_PART_CHAN,
	SNAPCHAN_IMG_PART_REC,
	SNAPCHAN_IMG_PART_REC_DATA,
	SNAPCHAN_IMG_PART_REC_PAD,
	SNAPCHAN_IMG_PART_TRAILER,
	SNAPCHAN_IMG_PART_DONE,
};

/* A position in an image stream; the owner serialises its use. */
struct snapchan_img_reader {
	const struct snapchan_img_src *src;
	enum snapchan_img_part part;
	u32 node;
	u32 chan;
	u32 rec;
	size_t off;
	u64 pos;
	u32 crc;
	u8 *stage;		/* whole small records, ready to copy */
	u32 stage_len;
	u32 stage_off;
	union {
		struct snapchan_img_record rec;
		struct snapchan_img_trailer trailer;
	} scratch;
};

struct iov_iter;

u64 snapchan_img_len(const struct snapchan_img_src *src);
void snapchan_img_reader_init(struct snapchan_img_reader *r,
			      const struct snapchan_img_src *src);
ssize_t snapchan_img_read(struct snapchan_img_reader *r, struct iov_iter *to);
void snapchan_img_reader_release(struct snapchan_img_reader *r);
void snapchan_img_chan_desc(const struct snapchan_chan *chan,
			    struct snapchan_img_chan *desc,
			    struct snapchan_rec **recs, u32 nr, u64 next_seq);

/* --- captures (capture.c) --------------------------------------------------- */

/*
 * struct snapchan_cap - a point-in-time set of references to the
 * records buffered in one channel, and the image stream over them.
 *
 * Immutable after snapchan_cap_take(): everything but @reader and
 * @read_lock.  @read_lock guards @reader.
 */
struct snapchan_cap {
	struct snapchan_img_src src;
	struct snapchan_img_chan_src chan;
	struct mutex read_lock;		/* serialises reads of @reader */
	struct snapchan_img_reader reader;
	u64 count;
	u64 bytes;
	u64 markers;
	u64 first_seq;
	u64 last_seq;
	u64 held;			/* bytes charged to the capture budget */
	kuid_t uid;			/* charged for max_captures_per_user */
	struct snapchan_rec *recs[];
};

struct snapchan_cap *snapchan_cap_take(struct snapchan_chan *chan);
void snapchan_cap_free(struct snapchan_cap *cap);
long snapchan_capture_ioctl(struct snapchan_chan *chan, void __user *argp);

/* --- groups and nodes (node.c) ------------------------------------------ */

/*
 * struct snapchan_group - the nodes and channels one snapshot covers
 *
 * @name and @owner are immutable.  @list is guarded by
 * snapchan_groups_lock.  Everything else is guarded by @lock: @nodes,
 * @chans, @epoch, @next_snap_id, @snaps, @nr_running, @nr_complete,
 * @nr_aborted, @wakes.  @topo_wait wakes topology changes waiting for the running
 * snapshots to end.
 */
struct snapchan_wakes;

struct snapchan_group {
	struct kref ref;
	char name[SNAPCHAN_NAME_LEN];
	kuid_t owner;
	struct list_head list;
	struct mutex lock;		/* the group lock, see above */
	struct list_head nodes;
	struct list_head chans;
	u64 epoch;
	u64 next_snap_id;
	struct list_head snaps;
	unsigned int nr_running;
	unsigned int nr_complete;
	unsigned int nr_aborted;
	wait_queue_head_t topo_wait;
	struct snapchan_wakes *wakes;	/* see struct snapchan_wakes */
};

/*
 * struct snapchan_node - a Chandy-Lamport process: a member of one group
 *
 * @group, @id, @uid and @name are immutable.  @link, @ends and @dead are guarded
 * by the group lock.  @io_lock is held for reading by this node's sends
 * and receives on its attached ends, and for writing by NODE_RECORD (so
 * that the record is atomic with respect to them) and by attach/detach.
 * @wait: pollers of the node fd (EPOLLPRI: a snapshot asks to record).
 * Freed after an RCU grace period (the data path finds it under RCU).
 */
struct snapchan_node {
	struct kref ref;
	struct rcu_head rcu;
	struct snapchan_group *group;
	u64 id;
	kuid_t uid;			/* charged for max_nodes_per_user */
	char name[SNAPCHAN_NAME_LEN];
	struct list_head link;
	struct list_head ends;
	bool dead;
	struct rw_semaphore io_lock;	/* see above */
	wait_queue_head_t wait;
};

extern struct mutex snapchan_groups_lock;
extern struct list_head snapchan_groups;

struct snapchan_group *snapchan_group_get_or_create(const char *name,
						    bool create);
void snapchan_group_put(struct snapchan_group *group);
int snapchan_group_may_use(struct snapchan_group *group);
int snapchan_group_topo_lock(struct snapchan_group *group, u32 flags);
void snapchan_group_topo_unlock(struct snapchan_group *group, bool changed);
struct snapchan_node *snapchan_node_alloc(struct snapchan_group *group,
					  const char *name);
void snapchan_node_put(struct snapchan_node *node);
struct snapchan_node *snapchan_end_lock_node(struct snapchan_end *end);
void snapchan_end_unlock_node(struct snapchan_node *node);
long snapchan_node_join_ioctl(void __user *argp);

/* --- snapshots (snap.c) --------------------------------------------------- */

enum snapchan_schan_state {
	SNAPCHAN_SCHAN_INIT,	/* neither end recorded */
	SNAPCHAN_SCHAN_MARKED,	/* sender recorded: marker queued */
	SNAPCHAN_SCHAN_OPEN,	/* receiver recorded: recording arrivals */
	SNAPCHAN_SCHAN_CLOSED,	/* both recorded: the state is final */
};

struct snapchan_snap;

/*
 * struct snapchan_schan - one member channel of one snapshot: its
 * recording.  @chan, @snap, @sender_id and @receiver_id are immutable.
 * @state, @marker, @recs, @nr_recs, @room, @cut_seq, @chan_link are
 * guarded by the channel's lock while the snapshot runs, and immutable
 * after it completes.
 */
struct snapchan_schan {
	struct snapchan_chan *chan;
	struct snapchan_snap *snap;
	u64 sender_id;
	u64 receiver_id;
	enum snapchan_schan_state state;
	bool failed;
	struct snapchan_rec *marker;
	struct snapchan_rec **recs;
	u32 nr_recs;
	u32 room;
	u64 cut_seq;
	struct list_head chan_link;
};

/* A member node of a snapshot. */
struct snapchan_snode {
	struct snapchan_node *node;	/* reference while running */
	u64 id;
	char name[SNAPCHAN_NAME_LEN];
	bool recorded;
	void *state;
	u64 len;
};

/*
 * struct snapchan_snap - one global snapshot of a group
 *
 * Immutable after creation: @group, @id, @epoch, @begin_ns, @budget,
 * @nr_nodes, @nr_chans, the identity fields of @nodes and @chans.
 * Guarded by the group lock: @link, @state, @reason, @end_ns,
 * @nodes_recorded, @chans_closed, @state_bytes, the @nodes' state fields,
 * and @img (built at completion, immutable afterwards).  @state and
 * @reason are also read locklessly (READ_ONCE) by poll and read.
 * The recordings in @chans are guarded as struct snapchan_schan says.
 */
struct snapchan_snap {
	struct kref ref;
	struct snapchan_group *group;
	struct list_head link;
	u64 id;
	u64 epoch;
	u32 state;
	u32 reason;
	u64 begin_ns;
	u64 end_ns;
	u64 budget;
	atomic64_t recorded_bytes;
	atomic64_t recorded_msgs;
	u64 state_bytes;
	atomic_t async_reason;
	struct work_struct abort_work;
	struct delayed_work deadline_work;
	wait_queue_head_t wait;
	u32 nr_nodes;
	u32 nodes_recorded;
	struct snapchan_snode *nodes;
	u32 nr_chans;
	u32 chans_closed;
	struct snapchan_schan *chans;
	struct snapchan_img_src img;
	struct snapchan_img_node_src *img_nodes;
	struct snapchan_img_chan_src *img_chans;
};

/*
 * struct snapchan_wakes - wakeups owed by a section under a group lock
 *
 * A hot ioctl (SNAP_BEGIN, NODE_RECORD) points group->wakes at one of
 * these, on its stack, while it holds the group lock; the snapshot state
 * machine then queues its wakeups here instead of making them, and the
 * ioctl makes them after dropping the lock (snapchan_wakes_flush()).  A
 * task woken under the lock would, on the same CPU, preempt the waker and
 * then block on the group lock at once: two context switches per wakeup.
 * Each entry holds a reference on the object that owns the wait queue.
 * When it is full, or outside such a section, wakeups are immediate.
 */
#define SNAPCHAN_WAKES_MAX	16

enum snapchan_wake_kind {
	SNAPCHAN_WAKE_NODE,	/* node->wait, EPOLLPRI */
	SNAPCHAN_WAKE_CHAN,	/* chan->rd_wait, @mask, one exclusive */
	SNAPCHAN_WAKE_SNAP,	/* snap->wait, all */
	SNAPCHAN_WAKE_TOPO,	/* group->topo_wait, all */
};

struct snapchan_wakes {
	unsigned int nr;
	struct {
		void *obj;
		u16 kind;
		__poll_t mask;
	} e[SNAPCHAN_WAKES_MAX];
};

void snapchan_wakes_flush(struct snapchan_wakes *w);
void snapchan_rec_recorded(struct snapchan_chan *chan, struct snapchan_rec *rec);
long snapchan_node_record_ioctl(struct snapchan_node *node, void __user *argp);
long snapchan_node_event_ioctl(struct snapchan_node *node, void __user *argp);
__poll_t snapchan_node_poll_events(struct snapchan_node *node);
void snapchan_node_leaving(struct snapchan_node *node);
long snapchan_snap_begin_ioctl(void __user *argp);
long snapchan_snap_open_ioctl(void __user *argp);
void snapchan_group_abort_running(struct snapchan_group *group, u32 reason);
void snapchan_group_release_snaps(struct snapchan_group *group);

#if IS_ENABLED(CONFIG_KUNIT)
/* Internal steps, visible to the KUnit suites (static otherwise). */
void snapchan_snap_put(struct snapchan_snap *snap);
void snapchan_snap_abort(struct snapchan_snap *snap, u32 reason);
struct snapchan_snap *snapchan_snap_create(struct snapchan_group *group,
					   u64 timeout_ns, u64 budget);
struct snapchan_snode *snapchan_snap_member(struct snapchan_snap *snap,
					    struct snapchan_node *node);
int snapchan_snap_record(struct snapchan_snap *snap,
			 struct snapchan_snode *sn, struct snapchan_node *node,
			 void *state, u64 len);
#endif
int snapchan_snap_init(void);
void snapchan_snap_exit(void);

/* --- debugfs (debugfs.c) -------------------------------------------------- */

struct seq_file;

int snapchan_debugfs_groups(struct seq_file *m);
int snapchan_debugfs_nodes(struct seq_file *m);
int snapchan_debugfs_snaps(struct seq_file *m);
void snapchan_debugfs_init(void);
void snapchan_debugfs_exit(void);

#endif /* _SNAPCHAN_H */
