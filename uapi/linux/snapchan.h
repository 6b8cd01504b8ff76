/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * snapchan: message channels as character devices, with consistent global
 * snapshots (Chandy-Lamport) of the processes and the messages in flight.
 */

#ifndef _UAPI_LINUX_SNAPCHAN_H
#define _UAPI_LINUX_SNAPCHAN_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/const.h>

/**
 * DOC: snapchan kernel interface
 *
 * Devices: ``/dev/snapchan/control`` (a misc device) and one character
 * device per channel, ``/dev/snapchan/<name>``.
 *
 * Conventions for every ioctl below:
 *
 * * Structures are fixed-width, naturally aligned and have no implicit
 *   padding; user pointers are carried as __u64.
 * * Every field named ``reserved`` and every flag bit that is not defined
 *   must be zero on input, or the call fails with ``EINVAL`` and changes
 *   nothing.  Reserved output fields are written as zero.
 * * An ioctl that the device does not know fails with ``ENOTTY``.
 * * A bad user pointer fails with ``EFAULT``; nothing is changed.
 * * Names (channel, group, node) are NUL-terminated inside a
 *   %SNAPCHAN_NAME_LEN byte field: 1..31 characters of ASCII
 *   ``[A-Za-z0-9._-]``, and neither ``.`` nor ``..`` (a channel name is a
 *   path component under /dev/snapchan).  A missing terminator, another
 *   character or those two names is ``EINVAL``.
 * * New behaviour comes as a new ioctl or a new flag, never as a changed
 *   structure.  %SNAPCHAN_IOC_VERSION reports the feature bits.
 *
 * Waiting, on a channel:
 *
 * * Every caller blocked in read(), write(), %SNAPCHAN_IOC_RECV, the batch
 *   calls or poll() wakes when its own condition holds (data, room for
 *   its message, end of file, destroy), whatever other callers are
 *   blocked on the same channel and however their calls end.
 * * A receive consumes a record only after the whole record (payload and,
 *   for RECV, the argument) reached user memory: a bad buffer fails with
 *   ``EFAULT`` and the record stays queued.  A copy to memory whose fault
 *   stalls (userfaultfd, FUSE) holds no lock while it waits: it delays
 *   no other call, not even another receive on the same channel, which
 *   may then take the record first (the stalled receive then delivers
 *   the next one: every record still goes to exactly one receive, in
 *   queue order).  Such a wait ends on a signal.
 * * A channel's device node grants what the channel's own owner, group
 *   and mode (fixed at create) grant: open() checks them, not the
 *   permissions of the inode used, so a copy of the node made with
 *   mknod grants nothing more.
 */

#define SNAPCHAN_IOC_MAGIC	0xC5
#define SNAPCHAN_ABI_VERSION	1
#define SNAPCHAN_NAME_LEN	32
/* Largest first sequence number: sequence numbers never wrap. */
#define SNAPCHAN_SEQ_MAX	_BITULL(62)

/* Feature bits reported by SNAPCHAN_IOC_VERSION. */
#define SNAPCHAN_FEAT_CHANNELS	_BITULL(0)	/* CHAN_* ioctls, data path */
#define SNAPCHAN_FEAT_MARKERS	_BITULL(1)	/* MARK, RECV */
#define SNAPCHAN_FEAT_CAPTURE	_BITULL(2)	/* CAPTURE */
#define SNAPCHAN_FEAT_SNAPSHOTS	_BITULL(3)	/* NODE_*, SNAP_* */
#define SNAPCHAN_FEAT_BATCH	_BITULL(4)	/* SEND_BATCH, RECV_BATCH */

/**
 * struct snapchan_version - argument of %SNAPCHAN_IOC_VERSION
 * @abi_version: out: %SNAPCHAN_ABI_VERSION of the loaded module.
 * @reserved:    out: zero.
 * @features:    out: SNAPCHAN_FEAT_* bits the module implements.
 */
struct snapchan_version {
	__u32 abi_version;
	__u32 reserved;
	__u64 features;
};

/* Channel creation flags. */
/* Read as end of file once every writer has gone (as a FIFO does). */
#define SNAPCHAN_CHAN_F_EOF		_BITUL(0)
#define SNAPCHAN_CHAN_F_ALL		(SNAPCHAN_CHAN_F_EOF)

/* Topology-change flag (create, destroy, join, attach, detach). */
/* Abort running snapshots of the group instead of waiting for them. */
#define SNAPCHAN_TOPO_F_ABORT		_BITUL(31)

/**
 * struct snapchan_chan_create - argument of %SNAPCHAN_IOC_CHAN_CREATE
 * @name:           in: channel name; the device is /dev/snapchan/<name>.
 *                  ``control`` is refused.
 * @group:          in: group name, or empty for a standalone channel.
 * @capacity_bytes: in: payload bytes the queue holds; 0: the module's
 *                  default.  Must be at least @max_msg.
 * @capacity_msgs:  in: messages the queue holds; 0: the module's default.
 * @max_msg:        in: largest message in bytes; 0: the module's default.
 * @first_seq:      in: sequence number of the first DATA record; 0 means 1;
 *                  at most %SNAPCHAN_SEQ_MAX.
 * @mode:           in: permission bits of the device node, within 0666
 *                  (a channel end is never executable, never set-id);
 *                  0 means 0600.
 * @flags:          in: SNAPCHAN_CHAN_F_* and %SNAPCHAN_TOPO_F_ABORT.
 * @chan_id:        out: the channel's id, unique while the module is loaded.
 * @reserved:       must be zero.
 */
struct snapchan_chan_create {
	char  name[SNAPCHAN_NAME_LEN];
	char  group[SNAPCHAN_NAME_LEN];
	__u64 capacity_bytes;
	__u32 capacity_msgs;
	__u32 max_msg;
	__u64 first_seq;
	__u32 mode;
	__u32 flags;
	__u64 chan_id;
	__u64 reserved[4];
};

/**
 * struct snapchan_chan_destroy - argument of %SNAPCHAN_IOC_CHAN_DESTROY
 * @name:     in: channel to destroy.
 * @flags:    in: %SNAPCHAN_TOPO_F_ABORT or 0.
 * @reserved: must be zero.
 */
struct snapchan_chan_destroy {
	char  name[SNAPCHAN_NAME_LEN];
	__u32 flags;
	__u32 reserved;
};

/**
 * struct snapchan_chan_info - argument of %SNAPCHAN_IOC_CHAN_INFO
 * @name:           in: channel to describe.
 * @group:          out: its group, empty when standalone.
 * @chan_id:        out: channel id.
 * @capacity_bytes: out: payload capacity in bytes.
 * @capacity_msgs:  out: capacity in messages.
 * @max_msg:        out: largest message.
 * @flags:          out: SNAPCHAN_CHAN_F_* given at creation.
 * @mode:           out: device node permission bits.
 * @uid:            out: owner (creator) uid, in the caller's namespace.
 * @gid:            out: owner gid.
 * @markers_queued: out: MARKER records in the queue now.
 * @reserved0:      zero.
 * @depth_msgs:     out: DATA records in the queue now.
 * @depth_bytes:    out: payload bytes in the queue now.
 * @total_sent:     out: DATA records ever enqueued.
 * @total_received: out: DATA records ever consumed.
 * @first_seq:      out: sequence number given to the first DATA record.
 * @next_seq:       out: sequence number the next DATA record will get.
 * @readers:        out: open receiving ends.
 * @writers:        out: open sending ends.
 * @sender_node:    out: id of the attached sending node, 0 if none.
 * @receiver_node:  out: id of the attached receiving node, 0 if none.
 * @reserved:       must be zero on input; zero on output.
 */
struct snapchan_chan_info {
	char  name[SNAPCHAN_NAME_LEN];
	char  group[SNAPCHAN_NAME_LEN];
	__u64 chan_id;
	__u64 capacity_bytes;
	__u32 capacity_msgs;
	__u32 max_msg;
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 markers_queued;
	__u32 reserved0;
	__u64 depth_msgs;
	__u64 depth_bytes;
	__u64 total_sent;
	__u64 total_received;
	__u64 first_seq;
	__u64 next_seq;
	__u32 readers;
	__u32 writers;
	__u64 sender_node;
	__u64 receiver_node;
	__u64 reserved[4];
};

/**
 * struct snapchan_chan_list - argument of %SNAPCHAN_IOC_CHAN_LIST
 * @names:       in: user pointer to an array of @max_entries names of
 *               %SNAPCHAN_NAME_LEN bytes each (may be 0 when @max_entries
 *               is 0).
 * @max_entries: in: room in @names.
 * @count:       out: number of channels that exist; min(@count,
 *               @max_entries) names were written, in creation order.
 * @flags:       in: 0.
 * @reserved:    must be zero.
 */
struct snapchan_chan_list {
	__u64 names;
	__u32 max_entries;
	__u32 count;
	__u32 flags;
	__u32 reserved;
};

/* Record types, in struct snapchan_recv and struct snapchan_img_record. */
#define SNAPCHAN_REC_DATA	1
#define SNAPCHAN_REC_MARKER	2

/* Flags of struct snapchan_recv. */
#define SNAPCHAN_RECV_PEEK	_BITUL(0)	/* leave the record queued */
#define SNAPCHAN_RECV_F_ALL	(SNAPCHAN_RECV_PEEK)

/**
 * struct snapchan_recv - argument of %SNAPCHAN_IOC_RECV
 * @buf:      in: user pointer to the payload buffer (0 allowed when
 *            @buf_len is 0).
 * @buf_len:  in: size of @buf.
 * @flags:    in: %SNAPCHAN_RECV_PEEK or 0.
 * @type:     out: SNAPCHAN_REC_DATA or SNAPCHAN_REC_MARKER.
 * @len:      out: payload length (0 for a marker).  When it exceeds
 *            @buf_len the call fails with ``EMSGSIZE``, @len still tells
 *            the size, and the record stays queued.
 *
 * Errors besides the common ones: ``EAGAIN`` (empty, O_NONBLOCK),
 * ``ENODATA`` (end of file on a %SNAPCHAN_CHAN_F_EOF channel: empty and
 * every writer gone; read() returns 0 there, which a zero-length message
 * also does, so RECV is the unambiguous way), ``ENODEV`` (destroyed),
 * ``EPERM`` (another end is the attached receiver), ``EBADF`` (a sending
 * end).  A MARKER placed by a snapshot (@origin non-zero) is reported but
 * never consumed by RECV: %SNAPCHAN_IOC_NODE_RECORD consumes it.
 * @seq:      out: DATA sequence number (0 for a marker).
 * @snap_id:  out: marker id (0 for data).
 * @origin:   out: id of the node whose record placed the marker (0 for
 *            data and for markers placed with %SNAPCHAN_IOC_MARK).
 * @reserved: must be zero.
 */
struct snapchan_recv {
	__u64 buf;
	__u32 buf_len;
	__u32 flags;
	__u32 type;
	__u32 len;
	__u64 seq;
	__u64 snap_id;
	__u64 origin;
	__u64 reserved[2];
};

/* Flags of struct snapchan_batch. */
#define SNAPCHAN_BATCH_NONBLOCK	_BITUL(0)	/* as O_NONBLOCK, for this call */
#define SNAPCHAN_BATCH_F_ALL	(SNAPCHAN_BATCH_NONBLOCK)

/* Most entries in one batch call. */
#define SNAPCHAN_BATCH_MAX	1024

/**
 * struct snapchan_send_msg - one message of %SNAPCHAN_IOC_SEND_BATCH
 * @buf:      in: user pointer to the payload (0 allowed when @len is 0).
 * @len:      in: payload length, at most the channel's max_msg.
 * @reserved: must be zero.
 */
struct snapchan_send_msg {
	__u64 buf;
	__u32 len;
	__u32 reserved;
};

/**
 * struct snapchan_batch - argument of %SNAPCHAN_IOC_SEND_BATCH and
 *			   %SNAPCHAN_IOC_RECV_BATCH
 * @msgs:     in: user pointer to @nr entries: struct snapchan_send_msg for
 *            SEND_BATCH, struct snapchan_recv for RECV_BATCH.
 * @nr:       in: number of entries, 1..%SNAPCHAN_BATCH_MAX.
 * @flags:    in: %SNAPCHAN_BATCH_NONBLOCK or 0.
 * @reserved: must be zero.
 *
 * Both calls move whole messages, as many as one write() or one
 * %SNAPCHAN_IOC_RECV each, in order, and return how many they moved
 * (at least 1); they fail only when they moved none.  As with sendmmsg()
 * and recvmmsg(), a problem with entry k > 0 ends the call after k
 * entries and is reported by the next call, which starts with it.
 *
 * SEND_BATCH (sending end): each message is one DATA record, atomic, with
 * the next sequence number; they are enqueued in order.  When one does
 * not fit, the call waits for room (interruptibly) unless the end is
 * O_NONBLOCK or @flags has %SNAPCHAN_BATCH_NONBLOCK, in which case it
 * returns what went in (``EAGAIN`` if nothing did).  A signal after at
 * least one message returns the count.  Errors (first entry): ``EMSGSIZE``
 * (longer than max_msg), ``EFAULT`` (entry or payload unreadable: that
 * message is not sent), ``EAGAIN``, ``EPERM`` (another end is the attached
 * sender), ``ENODEV`` (destroyed), ``EBADF`` (a receiving end),
 * ``EINVAL`` (@nr 0 or above %SNAPCHAN_BATCH_MAX, unknown flags, non-zero
 * reserved fields), ``ENOMEM``, ``ERESTARTSYS``.
 *
 * RECV_BATCH (receiving end): waits, as RECV does, until there is a record
 * to look at, then fills entries from the head of the queue without
 * waiting again.  Each entry is a struct snapchan_recv whose @buf and
 * @buf_len are inputs and whose @flags and @reserved must be zero; the
 * other fields are written as RECV writes them.  A MARKER ends the batch:
 * it is the last entry filled (a user marker is consumed, a snapshot's
 * marker is reported and left queued, as RECV does).  A DATA record
 * longer than its entry's @buf_len ends the batch before it (first entry:
 * ``EMSGSIZE`` with @len and @type written, the record stays queued).
 * Nothing is consumed unless its entry was written in full, so a fault
 * (``EFAULT``) loses nothing.  Errors (first entry): ``EMSGSIZE``,
 * ``EFAULT``, ``EAGAIN``, ``ENODATA`` (end of file), ``ENODEV``,
 * ``EPERM`` (another end is the attached receiver), ``EBADF`` (a sending
 * end), ``EINVAL``, ``ERESTARTSYS``.
 */
struct snapchan_batch {
	__u64 msgs;
	__u32 nr;
	__u32 flags;
	__u64 reserved;
};

/**
 * struct snapchan_mark - argument of %SNAPCHAN_IOC_MARK
 * @snap_id:  in: marker id, not 0.
 * @reserved: must be zero.
 */
struct snapchan_mark {
	__u64 snap_id;
	__u64 reserved;
};

/**
 * struct snapchan_capture - argument of %SNAPCHAN_IOC_CAPTURE
 * @flags:     in: 0.
 * @fd:        out: the capture file descriptor (also the return value).
 * @count:     out: records captured (data and markers).
 * @bytes:     out: payload bytes captured.
 * @first_seq: out: sequence number of the first DATA record, 0 if none.
 * @last_seq:  out: sequence number of the last DATA record, 0 if none.
 * @markers:   out: MARKER records among @count.
 * @stream_len: out: exact length of the image that read() will return.
 * @reserved:  must be zero.
 *
 * Needs read permission on the channel (%EACCES otherwise), on either
 * end, checked against its owner, group and mode as open() checks them.
 * %ENOBUFS past max_captures, max_captures_per_user or
 * max_capture_mbytes; %ENODEV on a destroyed channel.
 */
struct snapchan_capture {
	__u32 flags;
	__s32 fd;
	__u64 count;
	__u64 bytes;
	__u64 first_seq;
	__u64 last_seq;
	__u64 markers;
	__u64 stream_len;
	__u64 reserved[2];
};

/**
 * struct snapchan_node_join - argument of %SNAPCHAN_IOC_NODE_JOIN
 * @group:    in: group to join (it must exist: a channel created it).
 * @name:     in: node name, unique in the group.
 * @flags:    in: %SNAPCHAN_TOPO_F_ABORT or 0.
 * @fd:       out: the node file descriptor (also the return value).
 * @node_id:  out: node id, unique while the module is loaded.
 * @reserved: must be zero.
 *
 * %ENOSPC past max_nodes or max_nodes_per_user (counted by effective uid).
 */
struct snapchan_node_join {
	char  group[SNAPCHAN_NAME_LEN];
	char  name[SNAPCHAN_NAME_LEN];
	__u32 flags;
	__s32 fd;
	__u64 node_id;
	__u64 reserved[2];
};

/**
 * struct snapchan_node_attach - argument of %SNAPCHAN_IOC_NODE_ATTACH and
 *                               %SNAPCHAN_IOC_NODE_DETACH
 * @chan_fd:  in: an open channel end: O_WRONLY makes the node its sender,
 *            O_RDONLY its receiver.
 * @flags:    in: %SNAPCHAN_TOPO_F_ABORT or 0.
 * @reserved: must be zero.
 */
struct snapchan_node_attach {
	__s32 chan_fd;
	__u32 flags;
	__u64 reserved;
};

/* Flags of struct snapchan_node_record. */
#define SNAPCHAN_RECORD_F_SNAPFD	_BITUL(0)	/* return a snapshot fd */

/**
 * struct snapchan_node_record - argument of %SNAPCHAN_IOC_NODE_RECORD
 * @snap_id:    in: snapshot to record, or 0 to begin a new snapshot of the
 *              node's group from this node; out: the snapshot id.
 * @state:      in: user pointer to the node's local state blob.
 * @state_len:  in: its length, at most the max_state_bytes parameter.
 * @timeout_ns: in (begin only): deadline after which the snapshot aborts;
 *              0: the module's default.
 * @budget_bytes: in (begin only): recording budget; 0: the default.
 * @flags:      in: %SNAPCHAN_RECORD_F_SNAPFD or 0.
 * @snap_fd:    out: with %SNAPCHAN_RECORD_F_SNAPFD, a snapshot fd; else -1.
 * @reserved:   must be zero.
 */
struct snapchan_node_record {
	__u64 snap_id;
	__u64 state;
	__u64 state_len;
	__u64 timeout_ns;
	__u64 budget_bytes;
	__u32 flags;
	__s32 snap_fd;
	__u64 reserved[2];
};

/* Node event types. */
#define SNAPCHAN_EVENT_NONE	0
#define SNAPCHAN_EVENT_RECORD	1	/* a snapshot asks this node to record */

/**
 * struct snapchan_node_event - argument of %SNAPCHAN_IOC_NODE_EVENT
 * @type:     out: SNAPCHAN_EVENT_*; NONE when nothing is pending.
 * @reserved0: zero.
 * @snap_id:  out: the snapshot that asks (the oldest one not recorded).
 * @node_id:  out: this node's id.
 * @reserved: must be zero.
 */
struct snapchan_node_event {
	__u32 type;
	__u32 reserved0;
	__u64 snap_id;
	__u64 node_id;
	__u64 reserved[2];
};

/**
 * struct snapchan_snap_begin - argument of %SNAPCHAN_IOC_SNAP_BEGIN
 * @group:        in: group to snapshot.
 * @timeout_ns:   in: deadline; 0: the module's default.
 * @budget_bytes: in: recording budget (payload bytes of channel state);
 *                0: the module's default.
 * @flags:        in: 0.
 * @fd:           out: snapshot file descriptor (also the return value).
 * @snap_id:      out: snapshot id.
 * @reserved:     must be zero.
 */
struct snapchan_snap_begin {
	char  group[SNAPCHAN_NAME_LEN];
	__u64 timeout_ns;
	__u64 budget_bytes;
	__u32 flags;
	__s32 fd;
	__u64 snap_id;
	__u64 reserved[2];
};

/**
 * struct snapchan_snap_open - argument of %SNAPCHAN_IOC_SNAP_OPEN
 * @group:    in: group of the snapshot.
 * @snap_id:  in: snapshot id.
 * @flags:    in: 0.
 * @fd:       out: snapshot file descriptor (also the return value).
 * @reserved: must be zero.
 */
struct snapchan_snap_open {
	char  group[SNAPCHAN_NAME_LEN];
	__u64 snap_id;
	__u32 flags;
	__s32 fd;
	__u64 reserved[2];
};

/* Snapshot states. */
#define SNAPCHAN_SNAP_RUNNING	1
#define SNAPCHAN_SNAP_COMPLETE	2
#define SNAPCHAN_SNAP_ABORTED	3

/* Abort reasons. */
#define SNAPCHAN_ABORT_NONE		0
#define SNAPCHAN_ABORT_EXPLICIT		1	/* SNAPCHAN_IOC_SNAP_ABORT */
#define SNAPCHAN_ABORT_DEADLINE		2	/* timeout passed */
#define SNAPCHAN_ABORT_MEMBER_LEFT	3	/* a node left before recording */
#define SNAPCHAN_ABORT_BUDGET		4	/* recording budget exceeded */
#define SNAPCHAN_ABORT_TOPOLOGY		5	/* topology change with ABORT */
#define SNAPCHAN_ABORT_UNLOAD		6	/* module unloaded */
#define SNAPCHAN_ABORT_NOMEM		7	/* allocation failed while recording */

/**
 * struct snapchan_snap_info - argument of %SNAPCHAN_IOC_SNAP_INFO
 * @snap_id:         out: snapshot id.
 * @group:           out: group name.
 * @state:           out: SNAPCHAN_SNAP_*.
 * @abort_reason:    out: SNAPCHAN_ABORT_*.
 * @epoch:           out: the group's topology epoch at begin.
 * @nodes:           out: member nodes.
 * @nodes_recorded:  out: member nodes that recorded.
 * @chans:           out: member channels.
 * @chans_closed:    out: member channels whose recording is closed.
 * @recorded_msgs:   out: DATA records in the channel states.
 * @recorded_bytes:  out: payload bytes in the channel states.
 * @state_bytes:     out: bytes of node state stored.
 * @begin_ns:        out: CLOCK_MONOTONIC time of begin.
 * @end_ns:          out: time it completed or aborted, 0 while running.
 * @image_len:       out: exact length of the image (complete only, else 0).
 * @reserved:        must be zero.
 */
struct snapchan_snap_info {
	__u64 snap_id;
	char  group[SNAPCHAN_NAME_LEN];
	__u32 state;
	__u32 abort_reason;
	__u64 epoch;
	__u32 nodes;
	__u32 nodes_recorded;
	__u32 chans;
	__u32 chans_closed;
	__u64 recorded_msgs;
	__u64 recorded_bytes;
	__u64 state_bytes;
	__u64 begin_ns;
	__u64 end_ns;
	__u64 image_len;
	__u64 reserved[4];
};

/* Control device ioctls. */
#define SNAPCHAN_IOC_VERSION	_IOR(SNAPCHAN_IOC_MAGIC, 0x00, struct snapchan_version)
#define SNAPCHAN_IOC_CHAN_CREATE	_IOWR(SNAPCHAN_IOC_MAGIC, 0x01, struct snapchan_chan_create)
#define SNAPCHAN_IOC_CHAN_DESTROY	_IOW(SNAPCHAN_IOC_MAGIC, 0x02, struct snapchan_chan_destroy)
#define SNAPCHAN_IOC_CHAN_INFO	_IOWR(SNAPCHAN_IOC_MAGIC, 0x03, struct snapchan_chan_info)
#define SNAPCHAN_IOC_CHAN_LIST	_IOWR(SNAPCHAN_IOC_MAGIC, 0x04, struct snapchan_chan_list)
#define SNAPCHAN_IOC_NODE_JOIN	_IOWR(SNAPCHAN_IOC_MAGIC, 0x05, struct snapchan_node_join)
#define SNAPCHAN_IOC_SNAP_BEGIN	_IOWR(SNAPCHAN_IOC_MAGIC, 0x06, struct snapchan_snap_begin)
#define SNAPCHAN_IOC_SNAP_OPEN	_IOWR(SNAPCHAN_IOC_MAGIC, 0x07, struct snapchan_snap_open)

/* Channel device ioctls. */
#define SNAPCHAN_IOC_RECV	_IOWR(SNAPCHAN_IOC_MAGIC, 0x10, struct snapchan_recv)
#define SNAPCHAN_IOC_MARK	_IOW(SNAPCHAN_IOC_MAGIC, 0x11, struct snapchan_mark)
#define SNAPCHAN_IOC_CAPTURE	_IOWR(SNAPCHAN_IOC_MAGIC, 0x12, struct snapchan_capture)
#define SNAPCHAN_IOC_SEND_BATCH	_IOW(SNAPCHAN_IOC_MAGIC, 0x13, struct snapchan_batch)
#define SNAPCHAN_IOC_RECV_BATCH	_IOW(SNAPCHAN_IOC_MAGIC, 0x14, struct snapchan_batch)

/* Node fd ioctls. */
#define SNAPCHAN_IOC_NODE_ATTACH	_IOW(SNAPCHAN_IOC_MAGIC, 0x20, struct snapchan_node_attach)
#define SNAPCHAN_IOC_NODE_DETACH	_IOW(SNAPCHAN_IOC_MAGIC, 0x21, struct snapchan_node_attach)
#define SNAPCHAN_IOC_NODE_RECORD	_IOWR(SNAPCHAN_IOC_MAGIC, 0x22, struct snapchan_node_record)
#define SNAPCHAN_IOC_NODE_EVENT	_IOR(SNAPCHAN_IOC_MAGIC, 0x23, struct snapchan_node_event)

/* Snapshot fd ioctls. */
#define SNAPCHAN_IOC_SNAP_INFO	_IOR(SNAPCHAN_IOC_MAGIC, 0x30, struct snapchan_snap_info)
#define SNAPCHAN_IOC_SNAP_ABORT	_IO(SNAPCHAN_IOC_MAGIC, 0x31)

/*
 * The image format: one format for the snapshot stream (read() on a
 * snapshot fd), the capture stream (read() on a capture fd) and files on
 * disk.  Little-endian; every structure starts on an 8-byte boundary and
 * payloads are zero-padded to one.  See doc/image-format.md.
 *
 *   struct snapchan_img_header
 *   node_count x { struct snapchan_img_node, state, pad }
 *   chan_count x { struct snapchan_img_chan,
 *                  record_count x { struct snapchan_img_record, payload, pad } }
 *   struct snapchan_img_trailer  (CRC32C of every byte before it)
 */
#define SNAPCHAN_IMG_MAGIC	0x48434e53U	/* "SNCH" */
#define SNAPCHAN_IMG_END_MAGIC	0x444e4543U	/* "CEND" */
#define SNAPCHAN_IMG_VERSION	1

#define SNAPCHAN_IMG_KIND_SNAPSHOT	1
#define SNAPCHAN_IMG_KIND_CAPTURE	2

/**
 * struct snapchan_img_header - start of an image (104 bytes)
 * @magic:        %SNAPCHAN_IMG_MAGIC.
 * @version:      %SNAPCHAN_IMG_VERSION.
 * @kind:         SNAPCHAN_IMG_KIND_*.
 * @header_len:   sizeof(struct snapchan_img_header).
 * @flags:        0.
 * @snap_id:      snapshot id (0 for a capture).
 * @group:        group name (a capture: the channel's group).
 * @epoch:        topology epoch of the snapshot (0 for a capture).
 * @begin_ns:     CLOCK_MONOTONIC begin time (capture: time taken).
 * @end_ns:       completion time (capture: time taken).
 * @node_count:   node sections that follow.
 * @chan_count:   channel sections that follow.
 * @record_count: records in all channel sections.
 * @total_len:    length of the whole image, trailer included.
 */
struct snapchan_img_header {
	__le32 magic;
	__le16 version;
	__le16 kind;
	__le32 header_len;
	__le32 flags;
	__le64 snap_id;
	char   group[SNAPCHAN_NAME_LEN];
	__le64 epoch;
	__le64 begin_ns;
	__le64 end_ns;
	__le32 node_count;
	__le32 chan_count;
	__le64 record_count;
	__le64 total_len;
};

/**
 * struct snapchan_img_node - a node section, followed by @state_len bytes
 *                            of state and zero padding to 8 bytes
 * @node_id:   node id.
 * @name:      node name.
 * @state_len: length of the state blob.
 */
struct snapchan_img_node {
	__le64 node_id;
	char   name[SNAPCHAN_NAME_LEN];
	__le64 state_len;
};

/**
 * struct snapchan_img_chan - a channel section, followed by @record_count
 *                            records
 * @chan_id:        channel id.
 * @name:           channel name.
 * @group:          group name, empty when standalone.
 * @capacity_bytes: payload capacity.
 * @capacity_msgs:  message capacity.
 * @max_msg:        largest message.
 * @flags:          SNAPCHAN_CHAN_F_* of the channel.
 * @mode:           device node permission bits.
 * @sender_node:    attached sending node id, 0 if none.
 * @receiver_node:  attached receiving node id, 0 if none.
 * @first_seq:      sequence number of the first recorded DATA record (the
 *                  restored channel's first sequence number); when there
 *                  is none, equal to @next_seq.
 * @next_seq:       the sequence number after the last recorded record.
 * @record_count:   records that follow.
 * @record_bytes:   payload bytes in them.
 */
struct snapchan_img_chan {
	__le64 chan_id;
	char   name[SNAPCHAN_NAME_LEN];
	char   group[SNAPCHAN_NAME_LEN];
	__le64 capacity_bytes;
	__le32 capacity_msgs;
	__le32 max_msg;
	__le32 flags;
	__le32 mode;
	__le64 sender_node;
	__le64 receiver_node;
	__le64 first_seq;
	__le64 next_seq;
	__le64 record_count;
	__le64 record_bytes;
};

/**
 * struct snapchan_img_record - one record, followed by @len payload bytes
 *                              and zero padding to 8 bytes
 * @seq:     DATA sequence number (0 for a marker).
 * @type:    SNAPCHAN_REC_DATA or SNAPCHAN_REC_MARKER.
 * @len:     payload length (0 for a marker).
 * @snap_id: marker id (0 for data).
 * @origin:  marker origin node (0 for data).
 */
struct snapchan_img_record {
	__le64 seq;
	__le32 type;
	__le32 len;
	__le64 snap_id;
	__le64 origin;
};

/**
 * struct snapchan_img_trailer - end of an image
 * @magic:     %SNAPCHAN_IMG_END_MAGIC.
 * @crc32c:    CRC32C (Castagnoli, seed ~0, final xor ~0) of every byte of
 *             the image before this trailer.
 * @total_len: same as the header's @total_len.
 */
struct snapchan_img_trailer {
	__le32 magic;
	__le32 crc32c;
	__le64 total_len;
};

#endif /* _UAPI_LINUX_SNAPCHAN_H */
