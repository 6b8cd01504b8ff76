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
 * versioned LIBSNAPCHAN_1.
 */
#ifndef LIBSNAPCHAN_H
#define LIBSNAPCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
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

#ifdef __cplusplus
}
#endif

#endif /* LIBSNAPCHAN_H */
