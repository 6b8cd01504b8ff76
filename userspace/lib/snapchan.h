/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libsnapchan: a small C library over the snapchan kernel interface
 * (uapi/linux/snapchan.h): message channels as character devices, and
 * images of consistent global snapshots.
 *
 * Conventions, for every function below unless its comment says otherwise:
 *
 * - The return value is >= 0 on success and a negative errno value on
 *   failure (-EINVAL, -ENOENT, ...).  errno is never the way an error is
 *   reported; its value after a call is unspecified.
 * - File descriptors the library opens are O_CLOEXEC.
 * - Pointers that the caller passes must be valid; the library does not
 *   check for NULL unless the comment says a NULL is allowed.
 * - Names (channel, group, node) are C strings of 1..31 characters of
 *   [A-Za-z0-9._-] (see snapchan_name_valid()).
 * - The library keeps no global state and is thread-safe: concurrent calls
 *   on different objects need no locking; an image may be read from several
 *   threads at once; a builder must not be used by two threads at once.
 *
 * Link with -lsnapchan (pkg-config libsnapchan).  Exported symbols are
 * versioned: LIBSNAPCHAN_1 (release 1.0) and LIBSNAPCHAN_1.1 (1.1: the
 * batch calls), which a program that uses them needs at run time.
 */
#ifndef LIBSNAPCHAN_H
#define LIBSNAPCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/snapchan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Names                                                                  */
/* ---------------------------------------------------------------------- */

/* Flags of snapchan_name_valid(). */
#define SNAPCHAN_NAME_F_CHANNEL		(1U << 0)
#define SNAPCHAN_NAME_F_EMPTY_OK	(1U << 1)

/**
 * snapchan_name_valid() - is @name a valid snapchan name?
 * @name:  the name; NULL is never valid.
 * @flags: 0 for a node or group name;
 *         %SNAPCHAN_NAME_F_CHANNEL for a channel name, which must also not
 *         be "control" (the control device);
 *         %SNAPCHAN_NAME_F_EMPTY_OK to accept "" as well (the group of a
 *         standalone channel).
 *
 * A name is 1..31 (%SNAPCHAN_NAME_LEN - 1) characters of [A-Za-z0-9._-],
 * and not "." or ".." (a channel name is a path component under
 * /dev/snapchan; the kernel refuses these for every kind of name).
 * At most %SNAPCHAN_NAME_LEN bytes of @name are read.
 *
 * Return: 1 if valid, 0 if not (never a negative value).  Unknown @flags
 * bits make every name invalid.
 */
int snapchan_name_valid(const char *name, unsigned int flags);

/* ---------------------------------------------------------------------- */
/* Control device                                                         */
/* ---------------------------------------------------------------------- */

/**
 * snapchan_open_control() - open the control device
 *
 * Opens "/dev/snapchan/control" read-write.  The directory may be
 * overridden with the environment variable SNAPCHAN_DEV_DIR (read with
 * secure_getenv(), so ignored in set-id programs), for tests.
 *
 * Return: the file descriptor, or -errno (-ENOENT when the module is not
 * loaded, -EACCES, ...).
 */
int snapchan_open_control(void);

/**
 * snapchan_version() - ABI version and features of the loaded module
 * @ctl: the control device.
 * @ver: out: abi_version and features (SNAPCHAN_FEAT_*).
 *
 * Return: 0 or -errno.
 */
int snapchan_version(int ctl, struct snapchan_version *ver);

/**
 * snapchan_chan_create() - create a channel (%SNAPCHAN_IOC_CHAN_CREATE)
 * @ctl: the control device.
 * @cc:  in: name, group, capacities, max_msg, first_seq, mode, flags (see
 *       the uapi header; zero-fill what is unused, reserved must be zero);
 *       out: chan_id.
 *
 * The name and group are checked by the kernel, not here.
 *
 * Return: 0 or -errno (-EEXIST, -ENOSPC, -EINVAL, ...).
 */
int snapchan_chan_create(int ctl, struct snapchan_chan_create *cc);

/**
 * snapchan_chan_destroy() - destroy a channel (%SNAPCHAN_IOC_CHAN_DESTROY)
 * @ctl:   the control device.
 * @name:  the channel.
 * @flags: %SNAPCHAN_TOPO_F_ABORT or 0.
 *
 * Return: 0 or -errno; -EINVAL if @name is not a valid channel name.
 */
int snapchan_chan_destroy(int ctl, const char *name, unsigned int flags);

/**
 * snapchan_chan_info() - describe a channel (%SNAPCHAN_IOC_CHAN_INFO)
 * @ctl:  the control device.
 * @name: the channel.
 * @info: out: configuration and live counters (it is cleared first).
 *
 * Return: 0 or -errno; -EINVAL if @name is not a valid channel name.
 */
int snapchan_chan_info(int ctl, const char *name,
		       struct snapchan_chan_info *info);

/**
 * snapchan_chan_list() - list the channels (%SNAPCHAN_IOC_CHAN_LIST)
 * @ctl:   the control device.
 * @names: out: a malloc()ed array of *@count names, in creation order, each
 *         NUL-terminated; NULL when there is none.  Free it with free().
 * @count: out: number of names.
 *
 * Asks the kernel how many channels exist, allocates, and asks again; if
 * channels were created in between, it retries with more room.
 *
 * Return: 0 or -errno (-ENOMEM; -EAGAIN if the list kept growing faster
 * than it could be read).  On failure *@names and *@count are unchanged.
 */
int snapchan_chan_list(int ctl, char (**names)[SNAPCHAN_NAME_LEN],
		       size_t *count);

/* ---------------------------------------------------------------------- */
/* Channel ends and data                                                  */
/* ---------------------------------------------------------------------- */

/**
 * snapchan_chan_open() - open an end of a channel
 * @name:   the channel; checked with snapchan_name_valid() first.
 * @oflags: open(2) flags: O_WRONLY (a sending end) or O_RDONLY (a receiving
 *          end), optionally O_NONBLOCK; O_CLOEXEC is always added.
 *
 * Opens "/dev/snapchan/<name>" (the directory can be overridden as for
 * snapchan_open_control()).
 *
 * Return: the file descriptor, or -errno; -EINVAL for an invalid name,
 * -ENOENT for a channel that does not exist.
 */
int snapchan_chan_open(const char *name, int oflags);

/**
 * snapchan_send() - send one DATA message (write(2) on a sending end)
 * @fd:  a sending end.
 * @buf: the payload (may be NULL when @len is 0).
 * @len: payload length, at most the channel's max_msg.
 *
 * The message is enqueued whole or not at all.  A signal that interrupts a
 * blocked send gives -EINTR; nothing was sent then.
 *
 * Return: @len, or -errno (-EMSGSIZE, -EAGAIN, -EPERM, -ENODEV, -EINTR...).
 */
ssize_t snapchan_send(int fd, const void *buf, size_t len);

/**
 * snapchan_recv() - receive the next DATA message (read(2))
 * @fd:  a receiving end.
 * @buf: where to put the payload.
 * @len: size of @buf.
 *
 * Return: the message length (the whole message), or -errno: -EMSGSIZE if
 * it does not fit (it stays queued), -ENOMSG if a MARKER is at the head
 * (take it with snapchan_recv_rec()), -EAGAIN, -ENODEV, -EINTR...
 * 0 means either a zero-length message or, on a %SNAPCHAN_CHAN_F_EOF
 * channel, end of file; use snapchan_recv_rec() to tell them apart.
 */
ssize_t snapchan_recv(int fd, void *buf, size_t len);

/**
 * snapchan_recv_rec() - receive the next record, DATA or MARKER
 *                       (%SNAPCHAN_IOC_RECV)
 * @fd:  a receiving end.
 * @rec: in: buf, buf_len, flags (%SNAPCHAN_RECV_PEEK); reserved zero.
 *       out: type, len, seq, snap_id, origin.
 *
 * Return: 0 or -errno; with -EMSGSIZE, @rec->len tells the needed size.
 */
int snapchan_recv_rec(int fd, struct snapchan_recv *rec);

/**
 * snapchan_mark() - enqueue a MARKER on a standalone channel
 *                   (%SNAPCHAN_IOC_MARK)
 * @fd: a sending end.
 * @id: the marker id, not 0.
 *
 * Return: 0 or -errno (-EINVAL for id 0, -EPERM on a group channel,
 * -ENOBUFS when too many markers are queued).
 */
int snapchan_mark(int fd, uint64_t id);

/**
 * snapchan_capture() - take a capture of the records buffered in a channel
 *                      (%SNAPCHAN_IOC_CAPTURE)
 * @fd:  a channel end.
 * @cap: in: flags (0), reserved zero; out: fd, count, bytes, first_seq,
 *       last_seq, markers, stream_len.
 *
 * read() on the capture fd streams an image of kind
 * %SNAPCHAN_IMG_KIND_CAPTURE; snapchan_image_open_fd() reads it.
 *
 * Return: the capture file descriptor (also in @cap->fd), or -errno.
 */
int snapchan_capture(int fd, struct snapchan_capture *cap);

/*
 * Batch calls (since LIBSNAPCHAN_1.1; the module reports
 * %SNAPCHAN_FEAT_BATCH): many whole messages per system call, in the
 * spirit of sendmmsg() and recvmmsg().  A call moves 1..nr messages and
 * fails only when it moved none; a problem with entry k > 0 ends the call
 * after k entries and is what the next call, which starts with that
 * entry, reports.  A module without batch calls fails them with -ENOTTY:
 * fall back to snapchan_send() and snapchan_recv_rec(), one message per
 * call, which move the same records.
 */

/**
 * snapchan_send_batch() - send several DATA messages in one call
 *                         (%SNAPCHAN_IOC_SEND_BATCH)
 * @fd:    a sending end.
 * @msgs:  the messages: @buf, a pointer cast to uint64_t (0 allowed when
 *         @len is 0); @len, at most the channel's max_msg; reserved zero.
 * @nr:    how many, 1..%SNAPCHAN_BATCH_MAX.
 * @flags: %SNAPCHAN_BATCH_NONBLOCK (this call does not wait, as with
 *         O_NONBLOCK) or 0.
 *
 * Each message becomes one DATA record, enqueued whole and in order with
 * the next sequence number, exactly as one snapchan_send() would.  When a
 * message does not fit, the call waits for room, unless the end is
 * O_NONBLOCK or @flags says %SNAPCHAN_BATCH_NONBLOCK: then it returns the
 * messages that went in.  A signal after at least one message returns the
 * count too.
 *
 * Return: the number of messages sent, 1..@nr (fewer than @nr: the channel
 * was full, a signal came, or message [count] was refused and the next
 * call starting there tells why); or, when none was sent, -errno:
 * -EMSGSIZE (longer than max_msg), -EAGAIN (full, non-blocking), -EFAULT
 * (a message unreadable: it was not sent), -EINTR, -EPERM (another end is
 * the attached sender), -ENODEV (destroyed), -EBADF (a receiving end),
 * -EINVAL (@nr 0 or above %SNAPCHAN_BATCH_MAX, unknown flags, non-zero
 * reserved), -ENOMEM, -ENOTTY (the module has no batch calls).
 */
int snapchan_send_batch(int fd, const struct snapchan_send_msg *msgs,
			unsigned int nr, unsigned int flags);

/**
 * snapchan_recv_batch() - receive several records in one call
 *                         (%SNAPCHAN_IOC_RECV_BATCH)
 * @fd:    a receiving end.
 * @recs:  @nr entries; in: @buf and @buf_len of each (where its payload
 *         goes), every other field zero (@flags must be 0: no PEEK);
 *         out, for each entry filled: type, len, seq, snap_id, origin, as
 *         snapchan_recv_rec() writes them.
 * @nr:    how many, 1..%SNAPCHAN_BATCH_MAX.
 * @flags: %SNAPCHAN_BATCH_NONBLOCK or 0.
 *
 * Waits, as snapchan_recv_rec() does, until there is a record at the head
 * (unless O_NONBLOCK or %SNAPCHAN_BATCH_NONBLOCK), then fills entries from
 * the head of the queue without waiting again.  A MARKER ends the batch:
 * it is the last entry filled (a marker placed with snapchan_mark() is
 * consumed; a snapshot's marker is reported and stays queued, for the
 * node to record).  A DATA record longer than its entry's @buf_len ends
 * the batch before it, and stays queued.  Nothing is consumed unless its
 * entry was written in full, so a fault (-EFAULT) loses nothing.
 *
 * Return: the number of entries filled, 1..@nr; or, when none was, -errno:
 * -EMSGSIZE (the head is longer than @recs[0].buf_len, whose len and type
 * tell its size), -EAGAIN (empty, non-blocking), -ENODATA (end of file on
 * a %SNAPCHAN_CHAN_F_EOF channel), -EFAULT, -EINTR, -ENODEV, -EPERM
 * (another end is the attached receiver), -EBADF (a sending end), -EINVAL,
 * -ENOTTY (the module has no batch calls).
 */
int snapchan_recv_batch(int fd, struct snapchan_recv *recs, unsigned int nr,
			unsigned int flags);

/**
 * snapchan_send_many() - send @n buffers as @n messages, in batches
 * @fd:    a sending end.
 * @iov:   the messages: @iov[i] is the whole payload of message i (unlike
 *         writev(), which gathers its vector into one message).
 * @n:     how many; 0 sends nothing and makes no system call.
 * @flags: %SNAPCHAN_BATCH_NONBLOCK or 0, for every call.
 *
 * Issues snapchan_send_batch() over successive runs of @iov (up to 128
 * messages per call) until all are sent or a call sends fewer than it was
 * given: then it stops there, so that a full non-blocking channel, a
 * signal or a refused message ends it at once.  Call it again with
 * @iov + ret and @n - ret to go on; that call reports why it stopped.
 *
 * Return: the number of messages sent (0..@n; @n when all went), or, when
 * none was sent, -errno as for snapchan_send_batch(); -EMSGSIZE for a
 * first message longer than 4 GiB - 1.
 */
ssize_t snapchan_send_many(int fd, const struct iovec *iov, size_t n,
			   unsigned int flags);

/* ---------------------------------------------------------------------- */
/* CRC32C                                                                 */
/* ---------------------------------------------------------------------- */

/**
 * snapchan_crc32c() - CRC32C (Castagnoli) of a buffer
 * @crc: 0 to start, or the value returned for the preceding bytes, so that
 *       snapchan_crc32c(snapchan_crc32c(0, a, n), b, m) is the CRC of a
 *       followed by b.
 * @buf: the bytes (may be NULL when @len is 0).
 * @len: their number.
 *
 * Reflected polynomial 0x82F63B78, initial value ~0, final xor ~0 (as in
 * iSCSI, ext4 and the kernel's crc32c() with seed ~0 and a final ~):
 * snapchan_crc32c(0, "123456789", 9) == 0xE3069283.
 *
 * Return: the CRC (never an error).
 */
uint32_t snapchan_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---------------------------------------------------------------------- */
/* Images: reading and verifying                                          */
/* ---------------------------------------------------------------------- */

/*
 * An image is what read() returns on a snapshot fd or a capture fd, and
 * what is saved on disk; its layout is in uapi/linux/snapchan.h.  The
 * reader copies it, verifies all of it, and then hands out views in host
 * byte order that point into its copy (valid until snapchan_image_close()).
 *
 * Errors of the open and verify functions:
 *   -ENOEXEC          not an image: wrong magic (or fewer than 4 bytes).
 *   -EPROTONOSUPPORT  an image of a version this library does not read.
 *   -EBADMSG          corrupted: truncated, bad length, bad structure,
 *                     non-zero padding, bad sequence numbers, CRC mismatch.
 *   -ENOMEM, or an errno of open(2)/read(2).
 * The optional struct snapchan_image_diag tells which check failed first
 * and at which byte offset.
 */
struct snapchan_image;

/**
 * struct snapchan_image_diag - why an image was refused
 * @error:  the negative errno returned; 0 when the image is valid.
 * @offset: byte offset in the image of the field that failed the check
 *          (for a length mismatch: the offset of the length field).
 * @msg:    a NUL-terminated English description, e.g.
 *          "chan 0 record 3: seq 7, expected 6".
 */
struct snapchan_image_diag {
	int      error;
	uint32_t reserved;
	uint64_t offset;
	char     msg[160];
};

/**
 * struct snapchan_image_header_view - an image header in host byte order
 * @version:      image format version (%SNAPCHAN_IMG_VERSION).
 * @kind:         SNAPCHAN_IMG_KIND_*.
 * @flags:        header flags (0).
 * @snap_id:      snapshot id (0 for a capture).
 * @group:        group name, "" for a standalone channel's capture.
 * @epoch:        topology epoch (0 for a capture).
 * @begin_ns:     CLOCK_MONOTONIC begin time.
 * @end_ns:       completion time.
 * @node_count:   node sections.
 * @chan_count:   channel sections.
 * @record_count: records in all channels.
 * @total_len:    image length, trailer included.
 * @crc32c:       the trailer's CRC32C.
 *
 * snapchan_image_builder_begin() reads only @kind, @snap_id, @group,
 * @epoch, @begin_ns and @end_ns.
 */
struct snapchan_image_header_view {
	uint16_t    version;
	uint16_t    kind;
	uint32_t    flags;
	uint64_t    snap_id;
	const char *group;
	uint64_t    epoch;
	uint64_t    begin_ns;
	uint64_t    end_ns;
	uint32_t    node_count;
	uint32_t    chan_count;
	uint64_t    record_count;
	uint64_t    total_len;
	uint32_t    crc32c;
};

/**
 * struct snapchan_image_node_view - a node section
 * @id:        node id.
 * @name:      node name.
 * @state:     the node's state blob (NULL when @state_len is 0).
 * @state_len: its length.
 */
struct snapchan_image_node_view {
	uint64_t    id;
	const char *name;
	const void *state;
	uint64_t    state_len;
};

/**
 * struct snapchan_image_chan_view - a channel section (fields as in
 *                                   struct snapchan_img_chan)
 * @id:             channel id.
 * @name:           channel name.
 * @group:          group name, "" when standalone.
 * @capacity_bytes: payload capacity.
 * @capacity_msgs:  message capacity.
 * @max_msg:        largest message.
 * @flags:          SNAPCHAN_CHAN_F_*.
 * @mode:           device node permission bits.
 * @sender_node:    sending node id, 0 if none.
 * @receiver_node:  receiving node id, 0 if none.
 * @first_seq:      sequence number of the first DATA record (== @next_seq
 *                  when there is none).
 * @next_seq:       sequence number after the last DATA record.
 * @record_count:   records (DATA and MARKER) in the section.
 * @record_bytes:   payload bytes in them.
 *
 * For snapchan_image_builder_add_chan(): a NULL @group means the header's
 * group; @first_seq 0 means 1; @next_seq 0 means "one after the last DATA
 * record added" (or @first_seq if none); @record_count and @record_bytes
 * are ignored (computed).
 */
struct snapchan_image_chan_view {
	uint64_t    id;
	const char *name;
	const char *group;
	uint64_t    capacity_bytes;
	uint32_t    capacity_msgs;
	uint32_t    max_msg;
	uint32_t    flags;
	uint32_t    mode;
	uint64_t    sender_node;
	uint64_t    receiver_node;
	uint64_t    first_seq;
	uint64_t    next_seq;
	uint64_t    record_count;
	uint64_t    record_bytes;
};

/**
 * struct snapchan_image_record_view - one record of a channel section
 * @seq:     DATA sequence number (0 for a marker).
 * @type:    %SNAPCHAN_REC_DATA or %SNAPCHAN_REC_MARKER.
 * @len:     payload length (0 for a marker).
 * @payload: the payload (NULL when @len is 0).
 * @snap_id: marker id (0 for data).
 * @origin:  marker origin node (0 for data).
 *
 * For snapchan_image_builder_add_record(): a DATA record with @seq 0 gets
 * the next sequence number of its channel.
 */
struct snapchan_image_record_view {
	uint64_t    seq;
	uint32_t    type;
	uint32_t    len;
	const void *payload;
	uint64_t    snap_id;
	uint64_t    origin;
};

/**
 * snapchan_image_verify_buffer() - verify an image in memory, without
 *                                  keeping anything
 * @buf:  the image.
 * @len:  its length.
 * @diag: out, may be NULL: what failed (or error 0 when valid).
 *
 * The checks, in order: magic; version; the header (header_len, kind,
 * flags 0, total_len equal to @len and a multiple of 8); the trailer
 * (magic, total_len); the CRC32C; then every section: in bounds, 8-byte
 * aligned, zero padding, valid NUL-terminated names, node ids non-zero and
 * unique, node and channel names unique, every channel in the header's
 * group, known channel flags and mode within 0666, records of a known type,
 * DATA with snap_id and origin 0, length at most max_msg and sequence
 * numbers first_seq, first_seq + 1, ..., next_seq - 1 (first_seq >= 1);
 * MARKER with seq 0, len 0 and a non-zero id; record counts and bytes equal
 * to those in the headers; no byte left between the last section and the
 * trailer.  A snapshot's channels may only name nodes of the image as
 * sender or receiver; a capture has snap_id 0, epoch 0, no node and one
 * channel.  Lengths up to UINT64_MAX are handled without overflow.
 *
 * Unknown channel flags are refused rather than dropped: a restore must
 * not recreate a channel that differs from the one recorded.
 *
 * Return: 0 if valid; otherwise -ENOEXEC, -EPROTONOSUPPORT, -EBADMSG (see
 * above), -ENOMEM, or -EFBIG for more than INT_MAX nodes or channels (the
 * *_by_name() lookups return an int index).
 */
int snapchan_image_verify_buffer(const void *buf, size_t len,
				 struct snapchan_image_diag *diag);

/**
 * snapchan_image_from_buffer() - open an image held in memory
 * @buf:  the image; it is copied, the caller keeps ownership.
 * @len:  its length.
 * @imgp: out: the image, to close with snapchan_image_close().
 * @diag: out, may be NULL: why it was refused.
 *
 * Return: 0, or -errno as for snapchan_image_verify_buffer(); *@imgp is
 * set only on success.
 */
int snapchan_image_from_buffer(const void *buf, size_t len,
			       struct snapchan_image **imgp,
			       struct snapchan_image_diag *diag);

/**
 * snapchan_image_open_fd() - read an image from a file descriptor
 * @fd:   a regular file, a pipe, a snapshot fd or a capture fd, read from
 *        its current position to end of file (the fd is not closed).
 * @imgp: out: the image.
 * @diag: out, may be NULL: why it was refused.
 *
 * Reads no more than the header's total_len plus one byte (so a bogus
 * length or an endless stream cannot make it allocate without bound beyond
 * what the stream really holds); bytes after total_len are an error.
 * Interrupted reads are retried.
 *
 * Return: 0, or -errno: those of snapchan_image_verify_buffer(), or of
 * read(2).
 */
int snapchan_image_open_fd(int fd, struct snapchan_image **imgp,
			   struct snapchan_image_diag *diag);

/**
 * snapchan_image_open_file() - read an image from a file
 * @path: the file.
 * @imgp: out: the image.
 * @diag: out, may be NULL: why it was refused.
 *
 * Return: 0, or -errno: those of open(2) and of snapchan_image_open_fd().
 */
int snapchan_image_open_file(const char *path, struct snapchan_image **imgp,
			     struct snapchan_image_diag *diag);

/**
 * snapchan_image_verify() - verify an open image again
 * @img:  the image.
 * @diag: out, may be NULL.
 *
 * Every image was verified when it was opened, so this fails only if its
 * memory was overwritten since.
 *
 * Return: 0 or an error of snapchan_image_verify_buffer().
 */
int snapchan_image_verify(const struct snapchan_image *img,
			  struct snapchan_image_diag *diag);

/**
 * snapchan_image_close() - free an image and everything its views point to
 * @img: the image, or NULL.
 */
void snapchan_image_close(struct snapchan_image *img);

/**
 * snapchan_image_data() - the raw bytes of an image (for saving it)
 * @img: the image.
 * @len: out, may be NULL: its length (total_len).
 *
 * Return: a pointer to the image's bytes, valid until it is closed.
 */
const void *snapchan_image_data(const struct snapchan_image *img,
				size_t *len);

/**
 * snapchan_image_header() - the header of an image
 * @img: the image.
 * @hdr: out: its fields in host byte order.
 *
 * Return: 0.
 */
int snapchan_image_header(const struct snapchan_image *img,
			  struct snapchan_image_header_view *hdr);

/**
 * snapchan_image_node_count() - number of node sections
 * @img: the image.
 *
 * Return: the count (never an error).
 */
size_t snapchan_image_node_count(const struct snapchan_image *img);

/**
 * snapchan_image_node() - the i-th node section
 * @img:  the image.
 * @i:    index, below snapchan_image_node_count().
 * @node: out: the node.
 *
 * Return: 0, or -ERANGE if @i is out of range.
 */
int snapchan_image_node(const struct snapchan_image *img, size_t i,
			struct snapchan_image_node_view *node);

/**
 * snapchan_image_node_by_name() - find a node section by node name
 * @img:  the image.
 * @name: the node name.
 * @node: out, may be NULL: the node.
 *
 * Return: its index (>= 0), or -ENOENT.
 */
int snapchan_image_node_by_name(const struct snapchan_image *img,
				const char *name,
				struct snapchan_image_node_view *node);

/**
 * snapchan_image_chan_count() - number of channel sections
 * @img: the image.
 *
 * Return: the count (never an error).
 */
size_t snapchan_image_chan_count(const struct snapchan_image *img);

/**
 * snapchan_image_chan() - the i-th channel section
 * @img:  the image.
 * @i:    index, below snapchan_image_chan_count().
 * @chan: out: the channel.
 *
 * Return: 0, or -ERANGE if @i is out of range.
 */
int snapchan_image_chan(const struct snapchan_image *img, size_t i,
			struct snapchan_image_chan_view *chan);

/**
 * snapchan_image_chan_by_name() - find a channel section by channel name
 * @img:  the image.
 * @name: the channel name.
 * @chan: out, may be NULL: the channel.
 *
 * Return: its index (>= 0), or -ENOENT.
 */
int snapchan_image_chan_by_name(const struct snapchan_image *img,
				const char *name,
				struct snapchan_image_chan_view *chan);

/**
 * snapchan_image_record() - the j-th record of the i-th channel
 * @img:  the image.
 * @chan: channel index.
 * @j:    record index in that channel, below its record_count.
 * @rec:  out: the record; rec->payload points into the image.
 *
 * Return: 0, or -ERANGE if @chan or @j is out of range.
 */
int snapchan_image_record(const struct snapchan_image *img, size_t chan,
			  uint64_t j, struct snapchan_image_record_view *rec);

/* ---------------------------------------------------------------------- */
/* Images: building                                                       */
/* ---------------------------------------------------------------------- */

/*
 * A builder assembles a valid image in memory: begin with the header
 * fields, add nodes and channels in the order they are to appear (nodes and
 * channels may be interleaved: nodes always come first in the image), add
 * each channel's records right after the channel, then finish.
 */
struct snapchan_image_builder;

/**
 * snapchan_image_builder_begin() - start building an image
 * @bp:  out: the builder, to free with snapchan_image_builder_free().
 * @hdr: kind, snap_id, group (NULL means ""), epoch, begin_ns and end_ns;
 *       the other fields are ignored.
 *
 * Return: 0, -EINVAL (unknown kind, invalid group name) or -ENOMEM.
 */
int snapchan_image_builder_begin(struct snapchan_image_builder **bp,
				 const struct snapchan_image_header_view *hdr);

/**
 * snapchan_image_builder_add_node() - add a node section
 * @b:         the builder.
 * @name:      node name.
 * @id:        node id, not 0.
 * @state:     the state blob, copied (may be NULL when @state_len is 0).
 * @state_len: its length.
 *
 * Return: 0, -EINVAL (invalid name, id 0, NULL state), -EFBIG (too large
 * for memory) or -ENOMEM.
 */
int snapchan_image_builder_add_node(struct snapchan_image_builder *b,
				    const char *name, uint64_t id,
				    const void *state, uint64_t state_len);

/**
 * snapchan_image_builder_add_chan() - add a channel section
 * @b:    the builder.
 * @desc: the channel (see struct snapchan_image_chan_view for defaults).
 *
 * Following records go to this channel.
 *
 * Return: 0, -EINVAL (invalid name or group) or -ENOMEM.
 */
int snapchan_image_builder_add_chan(struct snapchan_image_builder *b,
				    const struct snapchan_image_chan_view *desc);

/**
 * snapchan_image_builder_add_record() - add a record to the last channel
 * @b:   the builder.
 * @rec: the record; its payload is copied.
 *
 * Return: 0, -EINVAL (no channel yet, unknown type, NULL payload with a
 * non-zero length) or -ENOMEM.
 */
int snapchan_image_builder_add_record(struct snapchan_image_builder *b,
				      const struct snapchan_image_record_view *rec);

/**
 * snapchan_image_builder_finish() - produce the image
 * @b:    the builder.
 * @bufp: out: the image, malloc()ed; the caller free()s it.
 * @lenp: out: its length.
 * @diag: out, may be NULL: why the result was refused.
 *
 * Lays out header, nodes, channels and trailer, with total_len, counts,
 * padding and CRC32C, then verifies the result as a reader would: an image
 * that a reader would refuse (a sequence gap, a record longer than
 * max_msg, a duplicate name, ...) is never returned.  The builder stays
 * valid (more may be added and finish called again).
 *
 * Return: 0, an error of snapchan_image_verify_buffer() or -ENOMEM;
 * *@bufp and *@lenp are set only on success.
 */
int snapchan_image_builder_finish(struct snapchan_image_builder *b,
				  void **bufp, size_t *lenp,
				  struct snapchan_image_diag *diag);

/**
 * snapchan_image_builder_free() - free a builder
 * @b: the builder, or NULL.
 */
void snapchan_image_builder_free(struct snapchan_image_builder *b);

/* ---------------------------------------------------------------------- */
/* Saving files atomically                                                */
/* ---------------------------------------------------------------------- */

/* Flags of snapchan_save_file(), snapchan_image_save(), snapchan_snap_save(). */
#define SNAPCHAN_SAVE_F_NOREPLACE	(1U << 0)	/* -EEXIST if @path exists */
#define SNAPCHAN_SAVE_F_ALL		(SNAPCHAN_SAVE_F_NOREPLACE)

/**
 * snapchan_save_file() - write a file atomically
 * @path:  the destination.
 * @buf:   its new contents (may be NULL when @len is 0).
 * @len:   their length.
 * @flags: %SNAPCHAN_SAVE_F_NOREPLACE to refuse an existing @path, or 0 to
 *         replace it.
 *
 * Writes a temporary file ".<name>.tmp.XXXXXX" in @path's directory (mode
 * 0600: an image holds every member's state and the data in flight; chmod
 * it afterwards to share it), fsync()s and closes it, renames it to @path
 * and fsync()s the directory.  Whoever opens @path sees either what was
 * there before or all of @buf, never a part, even across a crash.
 *
 * Return: 0, or -errno: -EINVAL (flags), -EISDIR (@path names a directory
 * entry such as "dir/"), -ENAMETOOLONG, -EEXIST (with
 * %SNAPCHAN_SAVE_F_NOREPLACE), or an error of mkostemp(3), write(2),
 * fsync(2), close(2) or rename(2).  On an error the temporary file is
 * removed and @path is untouched, except for an error of the final fsync
 * of the directory, which is returned with the new file in place.
 */
int snapchan_save_file(const char *path, const void *buf, size_t len,
		       unsigned int flags);

/**
 * snapchan_image_save() - save an image to a file atomically
 * @img:   the image.
 * @path:  the destination.
 * @flags: as for snapchan_save_file().
 *
 * Verifies the image (a corrupted one is never written) and saves it with
 * snapchan_save_file().
 *
 * Return: 0, an error of snapchan_image_verify() or of
 * snapchan_save_file().
 */
int snapchan_image_save(const struct snapchan_image *img, const char *path,
			unsigned int flags);

/* ---------------------------------------------------------------------- */
/* Snapshots                                                              */
/* ---------------------------------------------------------------------- */

/*
 * A snapshot fd (from snapchan_snap_begin(), snapchan_snap_open() or
 * snapchan_node_begin()) polls POLLIN when the snapshot is complete and
 * POLLERR when it was aborted; read() on it streams the image once (a
 * second fd from snapchan_snap_open() reads it again), and waits while the
 * snapshot runs.  Close it with close(2).
 */

/**
 * snapchan_snap_begin() - begin a snapshot of a group
 *                         (%SNAPCHAN_IOC_SNAP_BEGIN)
 * @ctl:          the control device.
 * @group:        the group.
 * @timeout_ns:   abort it if it is not complete after this long; 0: the
 *                module's default (parameter default_timeout_ms).
 * @budget_bytes: abort it if the channel states grow beyond this many
 *                payload bytes; 0: the module's default.
 * @snap_id:      out, may be NULL: the snapshot id.
 *
 * Every member node gets a record request on its node fd.
 *
 * Return: the snapshot fd, or -errno: -EINVAL (invalid group name),
 * -ENOENT (no such group), -EPERM (not the group's owner), -EBUSY (too
 * many snapshots of the group running), -ENOMEM, -EMFILE.
 */
int snapchan_snap_begin(int ctl, const char *group, uint64_t timeout_ns,
			uint64_t budget_bytes, uint64_t *snap_id);

/**
 * snapchan_snap_open() - another fd on an existing snapshot
 *                        (%SNAPCHAN_IOC_SNAP_OPEN)
 * @ctl:     the control device.
 * @group:   its group.
 * @snap_id: its id, not 0.
 *
 * Running snapshots and the last few that ended (module parameter
 * max_retained) can be opened.
 *
 * Return: the snapshot fd, or -errno (-ENOENT: no such group or snapshot,
 * or no longer retained; -EPERM; -EINVAL).
 */
int snapchan_snap_open(int ctl, const char *group, uint64_t snap_id);

/**
 * snapchan_snap_info() - progress and result of a snapshot
 *                        (%SNAPCHAN_IOC_SNAP_INFO)
 * @fd:   a snapshot fd.
 * @info: out: id, group, state (SNAPCHAN_SNAP_*), abort reason, members
 *        and how many recorded or closed, recorded messages and bytes,
 *        times, image length.
 *
 * Return: 0 or -errno.
 */
int snapchan_snap_info(int fd, struct snapchan_snap_info *info);

/**
 * snapchan_snap_wait() - wait for a snapshot to end
 * @fd:         a snapshot fd.
 * @timeout_ms: at most this long; -1: no limit; 0: just look.
 * @info:       out, may be NULL: its info when the call returns (also on
 *              -ETIMEDOUT, for progress reports).
 *
 * Return: 0 when it is complete; -ECANCELED when it was aborted
 * (@info->abort_reason says why); -ETIMEDOUT when it still runs after
 * @timeout_ms (-EAGAIN with a @timeout_ms of 0); -EINTR when a signal
 * interrupted the wait; other -errno.
 */
int snapchan_snap_wait(int fd, int timeout_ms, struct snapchan_snap_info *info);

/**
 * snapchan_snap_abort() - abort a running snapshot (%SNAPCHAN_IOC_SNAP_ABORT)
 * @fd: a snapshot fd.
 *
 * Its markers leave every queue and its recordings are freed.
 *
 * Return: 0, or -EALREADY if it had ended already, or -errno.
 */
int snapchan_snap_abort(int fd);

/**
 * snapchan_snap_save() - read a snapshot's image and save it atomically
 * @fd:    a snapshot fd that has not been read yet.
 * @path:  the destination file.
 * @flags: as for snapchan_save_file().
 * @diag:  out, may be NULL: why the image was refused.
 *
 * Waits for the snapshot to end (read() on the fd does), reads and verifies
 * its image (snapchan_image_open_fd()), then saves it with
 * snapchan_save_file().  Nothing is written unless the image is whole and
 * valid.
 *
 * Return: 0, -ECANCELED (the snapshot was aborted), an error of
 * snapchan_image_open_fd() or of snapchan_save_file().
 */
int snapchan_snap_save(int fd, const char *path, unsigned int flags,
		       struct snapchan_image_diag *diag);

/**
 * snapchan_snap_state_name() - "running", "complete", "aborted"
 * @state: SNAPCHAN_SNAP_*.
 *
 * Return: a static string ("unknown" for another value).
 */
const char *snapchan_snap_state_name(uint32_t state);

/**
 * snapchan_abort_reason_name() - a short English text for an abort reason
 * @reason: SNAPCHAN_ABORT_*.
 *
 * Return: a static string, e.g. "deadline passed" ("unknown reason" for
 * another value).
 */
const char *snapchan_abort_reason_name(uint32_t reason);

/* ---------------------------------------------------------------------- */
/* Nodes                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * A node is one Chandy-Lamport process of a group: the node fd that
 * SNAPCHAN_IOC_NODE_JOIN returns, and the channel ends it attached (the
 * library opens and owns them).  Attached channels are named by an index,
 * stable until snapchan_node_detach().  A node must not be used by two
 * threads at once.
 *
 * Receiving: snapchan_node_recv() waits on every incoming channel and on
 * the node fd, and returns one of
 *   - %SNAPCHAN_NODE_MSG_RECORD: a snapshot asks this node to record (a
 *     request on the node fd, or a marker at the head of an incoming
 *     channel).  Call snapchan_node_record() with @snap_id and the node's
 *     state now: the marker stays at the head of its channel, and the
 *     channel yields nothing else, until the node records.  Record
 *     requests come before data.
 *   - %SNAPCHAN_NODE_MSG_DATA: the next DATA message of one incoming
 *     channel, with its sequence number (channels are served in turn).
 *   - %SNAPCHAN_NODE_MSG_HANGUP: an incoming channel was destroyed
 *     (@error -ENODEV) or, for a %SNAPCHAN_CHAN_F_EOF channel, reached end
 *     of file (@error -ENODATA).  It is reported once and no longer polled.
 * Sending: snapchan_node_send() on an outgoing index.
 *
 * A node that exits before it records a running snapshot aborts that
 * snapshot; one that records promptly and never blocks on a full channel
 * cannot deadlock with the others: open outgoing ends with O_NONBLOCK and
 * handle -EAGAIN by keeping on receiving.
 */
struct snapchan_node;

/* Types of struct snapchan_node_msg. */
#define SNAPCHAN_NODE_MSG_DATA		1
#define SNAPCHAN_NODE_MSG_RECORD	2
#define SNAPCHAN_NODE_MSG_HANGUP	3

/**
 * struct snapchan_node_msg - what snapchan_node_recv() received
 * @type:      SNAPCHAN_NODE_MSG_*.
 * @chan:      index of the incoming channel, or -1 for a record request
 *             that came on the node fd.
 * @chan_name: that channel's name (NULL when @chan is -1); valid while the
 *             channel is attached.
 * @seq:       DATA: its sequence number.
 * @snap_id:   RECORD: the snapshot to record.
 * @len:       DATA: payload length, in the caller's buffer; with
 *             -EMSGSIZE, the buffer size needed.
 * @error:     HANGUP: -ENODEV (destroyed) or -ENODATA (end of file).
 */
struct snapchan_node_msg {
	uint32_t    type;
	int32_t     chan;
	const char *chan_name;
	uint64_t    seq;
	uint64_t    snap_id;
	uint32_t    len;
	int32_t     error;
};

/**
 * struct snapchan_node_chan_view - an attached channel
 * @name:     channel name.
 * @fd:       the end the node uses (owned by the node: do not close it).
 * @outgoing: 1 for a sending end, 0 for a receiving end.
 * @hungup:   1 once a hangup was reported for it.
 */
struct snapchan_node_chan_view {
	const char *name;
	int         fd;
	int         outgoing;
	int         hungup;
	int         reserved;
};

/**
 * snapchan_node_join() - join a group as a node (%SNAPCHAN_IOC_NODE_JOIN)
 * @ctl:   the control device (not kept: it may be closed afterwards).
 * @group: the group; it must exist (a channel of it created it).
 * @name:  the node's name, unique in the group.
 * @flags: %SNAPCHAN_TOPO_F_ABORT (abort running snapshots of the group
 *         instead of waiting for them) or 0.
 * @np:    out: the node, to free with snapchan_node_close().
 *
 * Return: 0 or -errno: -EINVAL, -ENOENT (no such group), -EPERM (not the
 * group's owner), -EEXIST (name taken), -ENOSPC, -EINTR, -ENOMEM.
 */
int snapchan_node_join(int ctl, const char *group, const char *name,
		       unsigned int flags, struct snapchan_node **np);

/**
 * snapchan_node_close() - leave the group and free the node
 * @n: the node, or NULL.
 *
 * Closes the node fd (which detaches every end and aborts running
 * snapshots it has not recorded) and every end it opened.
 */
void snapchan_node_close(struct snapchan_node *n);

/**
 * snapchan_node_fd() - the node fd (polls POLLPRI on a record request)
 * @n: the node.
 *
 * Return: the fd (owned by the node).
 */
int snapchan_node_fd(const struct snapchan_node *n);

/**
 * snapchan_node_id() - the node id the kernel gave
 * @n: the node.
 *
 * Return: the id (never an error).
 */
uint64_t snapchan_node_id(const struct snapchan_node *n);

/**
 * snapchan_node_name() - the node's name
 * @n: the node.
 *
 * Return: the name, valid until snapchan_node_close().
 */
const char *snapchan_node_name(const struct snapchan_node *n);

/**
 * snapchan_node_group() - the node's group
 * @n: the node.
 *
 * Return: the group name, valid until snapchan_node_close().
 */
const char *snapchan_node_group(const struct snapchan_node *n);

/**
 * snapchan_node_attach() - open a channel end and attach it to the node
 *                          (%SNAPCHAN_IOC_NODE_ATTACH)
 * @n:      the node.
 * @chan:   the channel, in the node's group.
 * @oflags: O_RDONLY: the node receives on it (opened O_NONBLOCK, always);
 *          O_WRONLY: the node sends on it, optionally | O_NONBLOCK (then
 *          snapchan_node_send() gives -EAGAIN on a full channel instead of
 *          waiting).
 * @flags:  %SNAPCHAN_TOPO_F_ABORT or 0.
 *
 * Return: the channel's index in the node (>= 0), or -errno: -EINVAL,
 * -EBUSY (the node has that end already, or another node has it), -EXDEV
 * (not in the node's group), -ENOENT (no such channel), -EACCES, -EINTR,
 * -ENOMEM.
 */
int snapchan_node_attach(struct snapchan_node *n, const char *chan,
			 int oflags, unsigned int flags);

/**
 * snapchan_node_detach() - detach and close an end
 *                          (%SNAPCHAN_IOC_NODE_DETACH)
 * @n:     the node.
 * @chan:  its index.
 * @flags: %SNAPCHAN_TOPO_F_ABORT or 0.
 *
 * Return: 0 or -errno (-EINVAL for an index not in use, -EINTR).
 */
int snapchan_node_detach(struct snapchan_node *n, int chan, unsigned int flags);

/**
 * snapchan_node_chan_find() - the index of an attached channel
 * @n:        the node.
 * @name:     the channel.
 * @outgoing: 1 for its sending end, 0 for its receiving end.
 *
 * Return: the index, or -ENOENT.
 */
int snapchan_node_chan_find(const struct snapchan_node *n, const char *name,
			    int outgoing);

/**
 * snapchan_node_chan() - describe an attached channel
 * @n:    the node.
 * @chan: its index.
 * @v:    out: name, fd, direction.
 *
 * Return: 0, or -ERANGE for an index not in use.
 */
int snapchan_node_chan(const struct snapchan_node *n, int chan,
		       struct snapchan_node_chan_view *v);

/**
 * snapchan_node_chan_slots() - one more than the largest index ever used
 * @n: the node.
 *
 * For iterating with snapchan_node_chan() (which skips free slots with
 * -ERANGE).
 *
 * Return: the count (never an error).
 */
size_t snapchan_node_chan_slots(const struct snapchan_node *n);

/**
 * snapchan_node_send() - send one DATA message on an outgoing channel
 * @n:    the node.
 * @chan: an outgoing index.
 * @buf:  the payload (may be NULL when @len is 0).
 * @len:  its length, at most the channel's max_msg.
 *
 * Return: @len, or -errno as for snapchan_send() (-EAGAIN: full, with
 * O_NONBLOCK); -EINVAL for an index that is not an outgoing end.
 */
ssize_t snapchan_node_send(struct snapchan_node *n, int chan, const void *buf,
			   size_t len);

/**
 * snapchan_node_recv() - the next thing the node must handle
 * @n:          the node.
 * @buf:        where a DATA payload goes.
 * @len:        size of @buf.
 * @msg:        out: what it is (see struct snapchan_node_msg).
 * @timeout_ms: wait at most this long; -1: no limit; 0: do not wait.
 *
 * Return: 0 with @msg filled; -EMSGSIZE when the next DATA of @msg->chan
 * is longer than @len (@msg->len tells its size; it stays queued);
 * -ETIMEDOUT when nothing came in @timeout_ms (-EAGAIN with 0); -EINTR
 * when a signal interrupted the wait; other -errno.
 */
int snapchan_node_recv(struct snapchan_node *n, void *buf, size_t len,
		       struct snapchan_node_msg *msg, int timeout_ms);

/**
 * snapchan_node_record() - record the node's state for a snapshot
 *                          (%SNAPCHAN_IOC_NODE_RECORD)
 * @n:       the node.
 * @snap_id: the snapshot (from a %SNAPCHAN_NODE_MSG_RECORD), not 0.
 * @state:   the node's local state, copied by the kernel (may be NULL when
 *           @len is 0).
 * @len:     its length, at most the module's max_state_bytes.
 *
 * In one step, atomic with respect to the node's sends and receives: the
 * state is stored, the snapshot's marker leaves the head of the incoming
 * channel that brought it, markers go out on every outgoing channel and
 * recording starts on the other incoming ones.
 *
 * Return: 0 or -errno: -EALREADY (recorded already), -ENOENT (no such
 * snapshot, or this node is not a member), -ECANCELED (aborted), -EFBIG
 * (state too large), -EINVAL, -ENOMEM.  The first three mean the request
 * is gone: nothing to do.
 */
int snapchan_node_record(struct snapchan_node *n, uint64_t snap_id,
			 const void *state, size_t len);

/**
 * snapchan_node_begin() - begin a snapshot of the node's group from this
 *                         node, recording its state first
 * @n:            the node.
 * @state:        the node's state (may be NULL when @len is 0).
 * @len:          its length.
 * @timeout_ns:   as for snapchan_snap_begin().
 * @budget_bytes: as for snapchan_snap_begin().
 * @snap_id:      out, may be NULL: the new snapshot's id.
 *
 * Return: a snapshot fd (see snapchan_snap_wait()), or -errno as for
 * snapchan_node_record() and -EBUSY (too many snapshots running).
 */
int snapchan_node_begin(struct snapchan_node *n, const void *state,
			size_t len, uint64_t timeout_ns, uint64_t budget_bytes,
			uint64_t *snap_id);

/**
 * snapchan_node_event() - the oldest snapshot that asks the node to record
 *                         (%SNAPCHAN_IOC_NODE_EVENT)
 * @n:       the node.
 * @snap_id: out, may be NULL: its id, 0 if none.
 *
 * Return: 1 if a snapshot asks, 0 if none, or -errno.
 */
int snapchan_node_event(struct snapchan_node *n, uint64_t *snap_id);

/**
 * struct snapchan_node_ops - callbacks of snapchan_node_run()
 * @message:  a DATA message: @payload holds @msg->len bytes.
 * @save:     a snapshot asks for the node's state: set *@state and *@len
 *            (the bytes must stay valid until the callback returns to the
 *            loop, which records them at once).  NULL: record an empty
 *            state.
 * @recorded: after the record: @result is 0, or -ECANCELED, -ENOENT or
 *            -EALREADY when the snapshot had gone (not an error).  May be
 *            NULL.
 * @hangup:   an incoming channel hung up.  May be NULL (ignored).
 * @tick:     called every tick_ms of snapchan_node_run(), whatever the
 *            traffic: the place to send.  May be NULL.
 *
 * Every callback returns 0 to go on, or another value to make
 * snapchan_node_run() return it.
 */
struct snapchan_node_ops {
	int (*message)(struct snapchan_node *n,
		       const struct snapchan_node_msg *msg,
		       const void *payload, void *arg);
	int (*save)(struct snapchan_node *n, uint64_t snap_id,
		    const void **state, size_t *len, void *arg);
	int (*recorded)(struct snapchan_node *n, uint64_t snap_id, int result,
			void *arg);
	int (*hangup)(struct snapchan_node *n,
		      const struct snapchan_node_msg *msg, void *arg);
	int (*tick)(struct snapchan_node *n, void *arg);
};

/**
 * snapchan_node_run() - an event loop for a node
 * @n:       the node.
 * @ops:     the callbacks.
 * @arg:     passed to them.
 * @tick_ms: period of @ops->tick in milliseconds; <= 0: no tick.
 *
 * Loops on snapchan_node_recv(): DATA goes to @ops->message, a record
 * request to @ops->save and then snapchan_node_record() (so the node
 * records as soon as it is asked), a hangup to @ops->hangup; @ops->tick
 * runs when due.  The payload buffer grows to fit any message.
 *
 * Return: the first non-zero value a callback returned, or -errno from
 * receiving or recording (-EINTR when a signal interrupted a wait; the
 * loop may be entered again).
 */
int snapchan_node_run(struct snapchan_node *n,
		      const struct snapchan_node_ops *ops, void *arg,
		      int tick_ms);

/* ---------------------------------------------------------------------- */
/* Restore                                                                */
/* ---------------------------------------------------------------------- */

/*
 * Restore recreates a group's channels from a snapshot image, with the
 * messages that were in flight, and hands back each node's state by name.
 * The processes that take those states then join the group with
 * snapchan_node_join() under the same names and attach the same ends
 * (snapchan_restore_chan() tells which node sends and which receives on
 * each channel).  A group lives while a channel, a node or a snapshot fd of
 * it does: restored after all of those are gone, it is a new group whose
 * snapshot ids start again at 1.
 */
struct snapchan_restore;

/* Flags of snapchan_restore(). */
/* Recreate every channel empty (first_seq = the image's next_seq): the
 * messages that were in flight are lost.  An escape hatch, never the
 * default. */
#define SNAPCHAN_RESTORE_DROP_CHANNEL_STATE	(1U << 0)
#define SNAPCHAN_RESTORE_F_ALL	(SNAPCHAN_RESTORE_DROP_CHANNEL_STATE | \
				 SNAPCHAN_TOPO_F_ABORT)

/**
 * struct snapchan_restore_node_view - a node to restart
 * @name:      its name (join under it).
 * @old_id:    its id in the image.
 * @state:     its recorded state (NULL when @state_len is 0).
 * @state_len: the state's length.
 */
struct snapchan_restore_node_view {
	const char *name;
	uint64_t    old_id;
	const void *state;
	uint64_t    state_len;
};

/**
 * struct snapchan_restore_chan_view - a channel that restore created
 * @name:            channel name.
 * @sender:          name of the node that sends on it ("" if none).
 * @receiver:        name of the node that receives on it ("" if none).
 * @capacity_bytes:  capacity it was created with.
 * @capacity_msgs:   capacity in messages it was created with.
 * @capacity_raised: 1 if that is more than the image's, to hold the
 *                   recorded channel state.
 * @first_seq:       its first sequence number.
 * @next_seq:        the next sequence number after the re-enqueued records
 *                   (the image's next_seq).
 * @records:         DATA records re-enqueued.
 * @record_bytes:    their payload bytes.
 */
struct snapchan_restore_chan_view {
	const char *name;
	const char *sender;
	const char *receiver;
	uint64_t    capacity_bytes;
	uint32_t    capacity_msgs;
	uint32_t    capacity_raised;
	uint64_t    first_seq;
	uint64_t    next_seq;
	uint64_t    records;
	uint64_t    record_bytes;
};

/**
 * snapchan_restore() - recreate a group from a snapshot image
 * @ctl:   the control device.
 * @img:   the image.
 * @group: the group to create the channels in; NULL: the image's group.
 * @flags: %SNAPCHAN_RESTORE_DROP_CHANNEL_STATE, %SNAPCHAN_TOPO_F_ABORT
 *         (passed to the creates), or 0.
 * @rp:    out: the result, to free with snapchan_restore_free().
 * @diag:  out, may be NULL: why it failed (@offset is meaningful only for
 *         the image's own verification errors).
 *
 * All or nothing.  First, touching nothing, it checks the image again
 * (snapchan_image_verify(): magic, version, structure, CRC32C), that it is
 * a snapshot (kind %SNAPCHAN_IMG_KIND_SNAPSHOT: a capture is refused) and
 * that none of its channels exists.  Then it creates every channel in
 * @group with its recorded configuration and first sequence number and
 * writes the recorded DATA records back in order, so that they carry
 * their recorded sequence numbers again; it checks with CHAN_INFO that
 * each channel's next sequence number is then the image's.  A channel's
 * recorded state can hold more than its capacity (messages sent after the
 * receiver recorded are recorded while it goes on consuming): then the
 * channel is created with its capacity raised to fit them
 * (@capacity_raised in snapchan_restore_chan()).  Any failure destroys
 * the channels created so far.
 *
 * The channels belong to the caller.  On a %SNAPCHAN_CHAN_F_EOF channel
 * with re-enqueued records, a reader that empties it before the new
 * sender opens it sees end of file.
 *
 * Return: 0, or -errno: those of snapchan_image_verify() (-ENOEXEC,
 * -EPROTONOSUPPORT, -EBADMSG); -EINVAL (not a snapshot, invalid group
 * name, unknown flags); -EEXIST (a channel exists: nothing was touched);
 * -EFBIG; -EIO (a channel did not end at the expected sequence number);
 * or an error of creating, opening or writing a channel (-EINVAL when the
 * raised capacity is above the module's limits, -ENOSPC, -EPERM, ...).
 */
int snapchan_restore(int ctl, const struct snapchan_image *img,
		     const char *group, unsigned int flags,
		     struct snapchan_restore **rp,
		     struct snapchan_image_diag *diag);

/**
 * snapchan_restore_file() - snapchan_image_open_file() and
 *                           snapchan_restore()
 * @ctl:   the control device.
 * @path:  the image file.
 * @group: as for snapchan_restore().
 * @flags: as for snapchan_restore().
 * @rp:    out: the result.
 * @diag:  out, may be NULL.
 *
 * Return: as for snapchan_image_open_file() and snapchan_restore().
 */
int snapchan_restore_file(int ctl, const char *path, const char *group,
			  unsigned int flags, struct snapchan_restore **rp,
			  struct snapchan_image_diag *diag);

/**
 * snapchan_restore_undo() - destroy the channels a restore created
 * @ctl: the control device.
 * @r:   the result of snapchan_restore().
 *
 * For a caller whose node processes failed to start.  Channels already
 * gone are skipped.
 *
 * Return: 0, or the first error of snapchan_chan_destroy().
 */
int snapchan_restore_undo(int ctl, struct snapchan_restore *r);

/**
 * snapchan_restore_free() - free a restore result (the channels stay)
 * @r: the result, or NULL.
 */
void snapchan_restore_free(struct snapchan_restore *r);

/**
 * snapchan_restore_group() - the group the channels were created in
 * @r: the result.
 *
 * Return: the name, valid until snapchan_restore_free().
 */
const char *snapchan_restore_group(const struct snapchan_restore *r);

/**
 * snapchan_restore_snap_id() - the id of the snapshot that was restored
 * @r: the result.
 *
 * Return: the id (never an error).
 */
uint64_t snapchan_restore_snap_id(const struct snapchan_restore *r);

/**
 * snapchan_restore_node_count() - number of nodes to restart
 * @r: the result.
 *
 * Return: the count (never an error).
 */
size_t snapchan_restore_node_count(const struct snapchan_restore *r);

/**
 * snapchan_restore_node() - the i-th node to restart
 * @r: the result.
 * @i: index, below snapchan_restore_node_count().
 * @v: out: name and state (valid until snapchan_restore_free()).
 *
 * Return: 0, or -ERANGE.
 */
int snapchan_restore_node(const struct snapchan_restore *r, size_t i,
			  struct snapchan_restore_node_view *v);

/**
 * snapchan_restore_state() - a node's state, by name
 * @r:     the result.
 * @name:  the node's name.
 * @state: out, may be NULL: its state (NULL when empty).
 * @len:   out, may be NULL: its length.
 *
 * Return: the node's index (>= 0), or -ENOENT.
 */
int snapchan_restore_state(const struct snapchan_restore *r, const char *name,
			   const void **state, uint64_t *len);

/**
 * snapchan_restore_chan_count() - number of channels created
 * @r: the result.
 *
 * Return: the count (never an error).
 */
size_t snapchan_restore_chan_count(const struct snapchan_restore *r);

/**
 * snapchan_restore_chan() - the i-th channel created
 * @r: the result.
 * @i: index, below snapchan_restore_chan_count().
 * @v: out: name, sender and receiver node names, sequence numbers.
 *
 * Return: 0, or -ERANGE.
 */
int snapchan_restore_chan(const struct snapchan_restore *r, size_t i,
			  struct snapchan_restore_chan_view *v);

#ifdef __cplusplus
}
#endif

#endif /* LIBSNAPCHAN_H */
