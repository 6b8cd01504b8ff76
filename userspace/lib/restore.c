// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Restore a group from a snapshot image, all or nothing.
 *
 *   1. Check, touching nothing: flags and group name; the image again
 *      (magic, version, structure, CRC32C: snapchan_image_verify()); that
 *      it is a snapshot (a capture is one channel's buffer, not a group's
 *      state); that no channel of the image exists already (CHAN_INFO
 *      answers ENOENT for each).
 *   2. For each channel, in image order: create it in the target group
 *      with the image's configuration and first sequence number, its
 *      capacity raised if the recorded state does not fit in it (a channel
 *      state holds what was in flight, which may exceed what the queue
 *      holds: records sent after the receiver recorded are appended to
 *      the state while the receiver goes on consuming); check with
 *      CHAN_INFO that it starts at that number; write the recorded DATA
 *      records in order, each one write(2), so that they get the recorded
 *      sequence numbers again; check with CHAN_INFO that next_seq and the
 *      depth are those of the image.
 *   3. Any failure destroys every channel created so far (newest first)
 *      and says why in the diagnostic.
 *
 * Markers in a channel state (a snapshot's own recording never holds any,
 * but the format allows them) belong to snapshots of the old group and
 * are not restored.  The node states are returned by name; the processes
 * that take them join the group under the same names and attach the same
 * ends (snapchan_restore_chan() tells which).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapchan.h"
#include "syscall.h"
#include "internal.h"

struct sc_rnode {
	char      name[SNAPCHAN_NAME_LEN];
	uint64_t  old_id;
	uint8_t  *state;
	uint64_t  len;
};

struct sc_rchan {
	char     name[SNAPCHAN_NAME_LEN];
	char     sender[SNAPCHAN_NAME_LEN];
	char     receiver[SNAPCHAN_NAME_LEN];
	uint64_t capacity_bytes;	/* as created */
	uint32_t capacity_msgs;
	uint32_t max_msg;
	uint32_t flags;
	uint32_t mode;
	uint64_t first_seq;		/* as created */
	uint64_t next_seq;		/* expected after the records */
	uint64_t data_count;		/* DATA records to write */
	uint64_t data_bytes;
	size_t   img_index;		/* channel index in the image */
	int      raised;		/* capacity raised to fit the state */
	int      created;
};

struct snapchan_restore {
	char             group[SNAPCHAN_NAME_LEN];
	char             old_group[SNAPCHAN_NAME_LEN];
	uint64_t         snap_id;
	unsigned int     flags;
	size_t           nnodes;
	size_t           nchans;
	struct sc_rnode *nodes;
	struct sc_rchan *chans;
};

static int __attribute__((format(printf, 3, 4)))
rfail(struct snapchan_image_diag *d, int err, const char *fmt, ...)
{
	va_list ap;

	if (d) {
		memset(d, 0, sizeof(*d));
		d->error = err;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

void snapchan_restore_free(struct snapchan_restore *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nnodes; i++)
		free(r->nodes[i].state);
	free(r->nodes);
	free(r->chans);
	free(r);
}

/* Destroy the channels @r created, newest first; the first error. */
static int undo(int ctl, struct snapchan_restore *r)
{
	int ret = 0, err;
	size_t i;

	for (i = r->nchans; i-- > 0;) {
		struct sc_rchan *c = &r->chans[i];

		if (!c->created)
			continue;
		err = snapchan_chan_destroy(ctl, c->name,
					    r->flags & SNAPCHAN_TOPO_F_ABORT);
		if (err && err != -ENOENT && !ret)
			ret = err;
		else
			c->created = 0;
	}
	return ret;
}

int snapchan_restore_undo(int ctl, struct snapchan_restore *r)
{
	return undo(ctl, r);
}

/* The image's node name for id @id ("" if none: verified not to happen). */
static void node_name(const struct snapchan_image *img, uint64_t id,
		      char out[SNAPCHAN_NAME_LEN])
{
	struct snapchan_image_node_view nv;
	size_t i;

	memset(out, 0, SNAPCHAN_NAME_LEN);
	for (i = 0; i < snapchan_image_node_count(img); i++) {
		snapchan_image_node(img, i, &nv);
		if (nv.id == id) {
			sc_name_copy(out, nv.name);
			return;
		}
	}
}

/* Step 1 after the checks of the image itself: the plan, in memory. */
static int plan(const struct snapchan_image *img, const char *group,
		unsigned int flags, struct snapchan_restore **rp,
		struct snapchan_image_diag *diag)
{
	struct snapchan_image_header_view h;
	struct snapchan_restore *r;
	size_t i;
	uint64_t j;

	snapchan_image_header(img, &h);
	r = calloc(1, sizeof(*r));
	if (!r)
		return rfail(diag, -ENOMEM, "out of memory");
	sc_name_copy(r->group, group);
	sc_name_copy(r->old_group, h.group);
	r->snap_id = h.snap_id;
	r->flags = flags;
	r->nnodes = snapchan_image_node_count(img);
	r->nchans = snapchan_image_chan_count(img);
	r->nodes = calloc(r->nnodes ? r->nnodes : 1, sizeof(*r->nodes));
	r->chans = calloc(r->nchans ? r->nchans : 1, sizeof(*r->chans));
	if (!r->nodes || !r->chans)
		goto nomem;

	for (i = 0; i < r->nnodes; i++) {
		struct snapchan_image_node_view nv;
		struct sc_rnode *n = &r->nodes[i];

		snapchan_image_node(img, i, &nv);
		sc_name_copy(n->name, nv.name);
		n->old_id = nv.id;
		n->len = nv.state_len;
		if (nv.state_len) {
			if (nv.state_len > SIZE_MAX)
				goto nomem;
			n->state = malloc((size_t)nv.state_len);
			if (!n->state)
				goto nomem;
			memcpy(n->state, nv.state, (size_t)nv.state_len);
		}
	}

	for (i = 0; i < r->nchans; i++) {
		struct snapchan_image_chan_view cv;
		struct sc_rchan *c = &r->chans[i];

		snapchan_image_chan(img, i, &cv);
		sc_name_copy(c->name, cv.name);
		node_name(img, cv.sender_node, c->sender);
		node_name(img, cv.receiver_node, c->receiver);
		c->img_index = i;
		c->max_msg = cv.max_msg;
		c->flags = cv.flags;
		c->mode = cv.mode;
		c->capacity_bytes = cv.capacity_bytes;
		c->capacity_msgs = cv.capacity_msgs;
		if (flags & SNAPCHAN_RESTORE_DROP_CHANNEL_STATE) {
			/* Empty, numbered on from where the cut was. */
			c->first_seq = cv.next_seq;
			c->next_seq = cv.next_seq;
			continue;
		}
		for (j = 0; j < cv.record_count; j++) {
			struct snapchan_image_record_view rv;

			snapchan_image_record(img, i, j, &rv);
			if (rv.type != SNAPCHAN_REC_DATA)
				continue;
			c->data_count++;
			c->data_bytes += rv.len;
		}
		c->first_seq = cv.first_seq;
		c->next_seq = cv.next_seq;
		if (c->data_count > UINT32_MAX) {
			snapchan_restore_free(r);
			return rfail(diag, -EFBIG,
				     "channel %s: %" PRIu64 " records do not fit any channel",
				     cv.name, c->data_count);
		}
		if (c->data_bytes > c->capacity_bytes) {
			c->capacity_bytes = c->data_bytes;
			c->raised = 1;
		}
		if (c->data_count > c->capacity_msgs) {
			c->capacity_msgs = (uint32_t)c->data_count;
			c->raised = 1;
		}
	}
	*rp = r;
	return 0;

nomem:
	snapchan_restore_free(r);
	return rfail(diag, -ENOMEM, "out of memory");
}

/* Create channel @c of @r and fill it from the image. */
static int restore_chan(int ctl, const struct snapchan_image *img,
			struct snapchan_restore *r, struct sc_rchan *c,
			struct snapchan_image_diag *diag)
{
	struct snapchan_image_chan_view cv;
	struct snapchan_chan_create cc;
	struct snapchan_chan_info info;
	uint64_t j, count;
	int ret, fd;

	memset(&cc, 0, sizeof(cc));
	sc_name_copy(cc.name, c->name);
	sc_name_copy(cc.group, r->group);
	cc.capacity_bytes = c->capacity_bytes;
	cc.capacity_msgs = c->capacity_msgs;
	cc.max_msg = c->max_msg;
	cc.first_seq = c->first_seq;
	cc.mode = c->mode;
	cc.flags = c->flags | (r->flags & SNAPCHAN_TOPO_F_ABORT);
	ret = snapchan_chan_create(ctl, &cc);
	if (ret == -EINVAL && c->raised)
		return rfail(diag, ret,
			     "channel %s: create refused; its recorded state needs a capacity of %" PRIu64 " bytes, %" PRIu32 " messages: above the module's max_capacity_bytes/_msgs?",
			     c->name, c->capacity_bytes, c->capacity_msgs);
	if (ret)
		return rfail(diag, ret, "channel %s: create failed: %s",
			     c->name, strerror(-ret));
	c->created = 1;

	ret = snapchan_chan_info(ctl, c->name, &info);
	if (ret)
		return rfail(diag, ret, "channel %s: info failed: %s",
			     c->name, strerror(-ret));
	if (info.next_seq != c->first_seq || info.depth_msgs)
		return rfail(diag, -EIO,
			     "channel %s: created with next_seq %" PRIu64 " and %" PRIu64 " messages, expected %" PRIu64 " and none",
			     c->name, (uint64_t)info.next_seq,
			     (uint64_t)info.depth_msgs, c->first_seq);
	if (!c->data_count)
		return 0;

	fd = snapchan_chan_open(c->name, O_WRONLY | O_NONBLOCK);
	if (fd < 0)
		return rfail(diag, fd, "channel %s: cannot open its sending end: %s",
			     c->name, strerror(-fd));
	snapchan_image_chan(img, c->img_index, &cv);
	count = cv.record_count;
	for (j = 0; j < count; j++) {
		struct snapchan_image_record_view rv;
		ssize_t w;

		snapchan_image_record(img, c->img_index, j, &rv);
		if (rv.type != SNAPCHAN_REC_DATA)
			continue;
		do
			w = snapchan_send(fd, rv.payload, rv.len);
		while (w == -EINTR);
		if (w != (ssize_t)rv.len) {
			sc_close(fd);
			if (w >= 0)
				w = -EIO;
			return rfail(diag, (int)w,
				     "channel %s: re-enqueueing record seq %" PRIu64 " failed: %s",
				     c->name, rv.seq, strerror((int)-w));
		}
	}
	sc_close(fd);

	ret = snapchan_chan_info(ctl, c->name, &info);
	if (ret)
		return rfail(diag, ret, "channel %s: info failed: %s",
			     c->name, strerror(-ret));
	if (info.next_seq != c->next_seq || info.depth_msgs != c->data_count)
		return rfail(diag, -EIO,
			     "channel %s: after re-enqueueing, next_seq %" PRIu64 " and %" PRIu64 " messages, expected %" PRIu64 " and %" PRIu64,
			     c->name, (uint64_t)info.next_seq,
			     (uint64_t)info.depth_msgs, c->next_seq,
			     c->data_count);
	return 0;
}

int snapchan_restore(int ctl, const struct snapchan_image *img,
		     const char *group, unsigned int flags,
		     struct snapchan_restore **rp,
		     struct snapchan_image_diag *diag)
{
	struct snapchan_image_header_view h;
	struct snapchan_chan_info info;
	struct snapchan_restore *r = NULL;
	size_t i;
	int ret;

	if (flags & ~SNAPCHAN_RESTORE_F_ALL)
		return rfail(diag, -EINVAL, "unknown restore flags %#x",
			     (unsigned int)(flags & ~SNAPCHAN_RESTORE_F_ALL));
	if (group && !snapchan_name_valid(group, 0))
		return rfail(diag, -EINVAL, "invalid group name \"%.*s\"",
			     SNAPCHAN_NAME_LEN, group);

	/* The image, again: memory may have changed since it was opened. */
	ret = snapchan_image_verify(img, diag);
	if (ret)
		return ret;
	snapchan_image_header(img, &h);
	if (h.kind != SNAPCHAN_IMG_KIND_SNAPSHOT)
		return rfail(diag, -EINVAL,
			     "not a snapshot image (kind %u: a channel capture); only a complete snapshot can be restored",
			     h.kind);
	if (!group)
		group = h.group;
	if (!snapchan_name_valid(group, 0))
		return rfail(diag, -EINVAL,
			     "the image has no group name; give one");

	ret = plan(img, group, flags, &r, diag);
	if (ret)
		return ret;

	/* Refuse, untouched, if any of the channels exists. */
	for (i = 0; i < r->nchans; i++) {
		ret = snapchan_chan_info(ctl, r->chans[i].name, &info);
		if (ret == -ENOENT)
			continue;
		if (!ret) {
			ret = rfail(diag, -EEXIST,
				    "channel %s exists already (group \"%s\"); destroy it first",
				    r->chans[i].name, info.group);
		} else {
			ret = rfail(diag, ret,
				    "channel %s: cannot check whether it exists: %s",
				    r->chans[i].name, strerror(-ret));
		}
		snapchan_restore_free(r);
		return ret;
	}

	for (i = 0; i < r->nchans; i++) {
		ret = restore_chan(ctl, img, r, &r->chans[i], diag);
		if (ret) {
			undo(ctl, r);
			snapchan_restore_free(r);
			return ret;
		}
	}
	if (diag)
		memset(diag, 0, sizeof(*diag));
	*rp = r;
	return 0;
}

int snapchan_restore_file(int ctl, const char *path, const char *group,
			  unsigned int flags, struct snapchan_restore **rp,
			  struct snapchan_image_diag *diag)
{
	struct snapchan_image *img;
	int ret;

	if (flags & ~SNAPCHAN_RESTORE_F_ALL)
		return rfail(diag, -EINVAL, "unknown restore flags %#x",
			     (unsigned int)(flags & ~SNAPCHAN_RESTORE_F_ALL));
	ret = snapchan_image_open_file(path, &img, diag);
	if (ret)
		return ret;
	ret = snapchan_restore(ctl, img, group, flags, rp, diag);
	snapchan_image_close(img);
	return ret;
}

const char *snapchan_restore_group(const struct snapchan_restore *r)
{
	return r->group;
}

uint64_t snapchan_restore_snap_id(const struct snapchan_restore *r)
{
	return r->snap_id;
}

size_t snapchan_restore_node_count(const struct snapchan_restore *r)
{
	return r->nnodes;
}

int snapchan_restore_node(const struct snapchan_restore *r, size_t i,
			  struct snapchan_restore_node_view *v)
{
	const struct sc_rnode *n;

	if (i >= r->nnodes)
		return -ERANGE;
	n = &r->nodes[i];
	memset(v, 0, sizeof(*v));
	v->name = n->name;
	v->old_id = n->old_id;
	v->state = n->state;
	v->state_len = n->len;
	return 0;
}

int snapchan_restore_state(const struct snapchan_restore *r, const char *name,
			   const void **state, uint64_t *len)
{
	size_t i;

	for (i = 0; i < r->nnodes; i++) {
		if (strncmp(r->nodes[i].name, name, SNAPCHAN_NAME_LEN))
			continue;
		if (state)
			*state = r->nodes[i].state;
		if (len)
			*len = r->nodes[i].len;
		return (int)i;
	}
	return -ENOENT;
}

size_t snapchan_restore_chan_count(const struct snapchan_restore *r)
{
	return r->nchans;
}

int snapchan_restore_chan(const struct snapchan_restore *r, size_t i,
			  struct snapchan_restore_chan_view *v)
{
	const struct sc_rchan *c;

	if (i >= r->nchans)
		return -ERANGE;
	c = &r->chans[i];
	memset(v, 0, sizeof(*v));
	v->name = c->name;
	v->sender = c->sender;
	v->receiver = c->receiver;
	v->capacity_bytes = c->capacity_bytes;
	v->capacity_msgs = c->capacity_msgs;
	v->capacity_raised = c->raised;
	v->first_seq = c->first_seq;
	v->next_seq = c->next_seq;
	v->records = c->data_count;
	v->record_bytes = c->data_bytes;
	return 0;
}
