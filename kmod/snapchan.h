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
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/snapchan.h>

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
	unsigned int max_capture_mbytes;
};

extern struct snapchan_limits snapchan_limits;

/*
 * struct snapchan_rec - one queued record, DATA or MARKER
 *
 * A record is written once, before it is enqueued, and is immutable after
 * that; it is shared by reference (captures and snapshot recordings hold
 * references, so a record outlives its consumption as long as they need
 * it).  @link is guarded by the lock of the one channel whose queue holds
 * the record; it is unused once the record is consumed.
 */
struct snapchan_rec {
	struct list_head link;
	refcount_t ref;
	u16 type;		/* SNAPCHAN_REC_DATA or SNAPCHAN_REC_MARKER */
	u16 pad;
	u32 len;		/* payload bytes (0 for a marker) */
	u64 seq;		/* DATA: sequence number; MARKER: 0 */
	u64 snap_id;		/* MARKER: id; DATA: 0 */
	u64 origin;		/* MARKER: origin node id; DATA: 0 */
	u8 data[];
};

/* Wake every waiter on @wq (exclusive ones too) with a poll @mask. */
static inline void snapchan_wake_all(struct wait_queue_head *wq, __poll_t mask)
{
	__wake_up(wq, TASK_INTERRUPTIBLE, 0, poll_to_key(mask));
}

struct snapchan_rec *snapchan_rec_alloc_data(u32 len);
struct snapchan_rec *snapchan_rec_alloc_marker(u64 snap_id, u64 origin);

static inline struct snapchan_rec *snapchan_rec_get(struct snapchan_rec *rec)
{
	refcount_inc(&rec->ref);
	return rec;
}

void snapchan_rec_put(struct snapchan_rec *rec);

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
 * Guarded by snapchan_chans_lock (the global registry mutex, chan.c):
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
};

int snapchan_name_check(const char *name, bool allow_empty);
int snapchan_chan_cfg_check(struct snapchan_chan_cfg *cfg);
struct snapchan_chan *snapchan_chan_alloc(const struct snapchan_chan_cfg *cfg);
void snapchan_chan_put(struct snapchan_chan *chan);

static inline void snapchan_chan_get(struct snapchan_chan *chan)
{
	kref_get(&chan->ref);
}

bool snapchan_chan_has_room(struct snapchan_chan *chan, u32 len);
int snapchan_chan_push(struct snapchan_chan *chan, struct snapchan_rec *rec);
void snapchan_chan_push_marker(struct snapchan_chan *chan,
			       struct snapchan_rec *rec);
struct snapchan_rec *snapchan_chan_head(struct snapchan_chan *chan);
struct snapchan_rec *snapchan_chan_pop(struct snapchan_chan *chan);
void snapchan_chan_kill(struct snapchan_chan *chan);

/* Registry and devices (chan.c). */
int snapchan_chan_init(void);
void snapchan_chan_exit(void);
int snapchan_chan_create(struct snapchan_chan_cfg *cfg, u64 *id);
int snapchan_chan_destroy(const char *name);
int snapchan_chan_info(const char *name, struct snapchan_chan_info *info);
int snapchan_chan_list(char *names, u32 max, u32 *count);

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
	struct snapchan_rec *recs[];
};

struct snapchan_cap *snapchan_cap_take(struct snapchan_chan *chan);
void snapchan_cap_free(struct snapchan_cap *cap);
long snapchan_capture_ioctl(struct snapchan_chan *chan, void __user *argp);

#endif /* _SNAPCHAN_H */
