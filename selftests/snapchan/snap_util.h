/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the snapshot selftests (snap_test.c, snap_invariant.c):
 * thin wrappers of the node and snapshot ioctls that return -errno, poll
 * one fd, read a whole snapshot image, and look at the debugfs tables.
 * Images are parsed with libsnapchan (userspace/lib, linked statically).
 */
#ifndef SNAP_UTIL_H
#define SNAP_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/snapchan.h>

#include "snapchan_test.h"
#include "snapchan.h"		/* libsnapchan */

#define SC_DEBUGFS_DIR	"/sys/kernel/debug/snapchan/"

/* Create a channel in @group (NULL or "": standalone); 0 or -errno. */
static inline int sc_create_in(int ctl, const char *name, const char *group,
			       unsigned long long cap_bytes,
			       unsigned int cap_msgs, unsigned int max_msg,
			       unsigned int flags)
{
	struct snapchan_chan_create c;

	memset(&c, 0, sizeof(c));
	sc_name(c.name, name);
	if (group)
		sc_name(c.group, group);
	c.capacity_bytes = cap_bytes;
	c.capacity_msgs = cap_msgs;
	c.max_msg = max_msg;
	c.flags = flags;
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, &c) ? -errno : 0;
}

static inline int sc_destroy_flags(int ctl, const char *name,
				   unsigned int flags)
{
	struct snapchan_chan_destroy d;

	memset(&d, 0, sizeof(d));
	sc_name(d.name, name);
	d.flags = flags;
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d) ? -errno : 0;
}

/* NODE_JOIN: the node fd or -errno; *@id gets the node id. */
static inline int sc_join(int ctl, const char *group, const char *name,
			  unsigned int flags, uint64_t *id)
{
	struct snapchan_node_join j;
	int ret;

	memset(&j, 0, sizeof(j));
	sc_name(j.group, group);
	sc_name(j.name, name);
	j.flags = flags;
	j.fd = -1;
	ret = ioctl(ctl, SNAPCHAN_IOC_NODE_JOIN, &j);
	if (ret < 0)
		return -errno;
	if (j.fd != ret)
		return -EPROTO;
	if (id)
		*id = j.node_id;
	return ret;
}

static inline int sc_attach_flags(int node, int chan_fd, unsigned int flags)
{
	struct snapchan_node_attach a;

	memset(&a, 0, sizeof(a));
	a.chan_fd = chan_fd;
	a.flags = flags;
	return ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a) ? -errno : 0;
}

static inline int sc_attach(int node, int chan_fd)
{
	return sc_attach_flags(node, chan_fd, 0);
}

static inline int sc_detach_flags(int node, int chan_fd, unsigned int flags)
{
	struct snapchan_node_attach a;

	memset(&a, 0, sizeof(a));
	a.chan_fd = chan_fd;
	a.flags = flags;
	return ioctl(node, SNAPCHAN_IOC_NODE_DETACH, &a) ? -errno : 0;
}

static inline int sc_detach(int node, int chan_fd)
{
	return sc_detach_flags(node, chan_fd, 0);
}

/*
 * NODE_RECORD of @id (0: begin one) with @len bytes of @state.  Returns
 * the ioctl's value (0 or a snapshot fd) or -errno; *@out_id gets the id.
 */
static inline int sc_record_ex(int node, uint64_t id, const void *state,
			       uint64_t len, unsigned int flags,
			       uint64_t timeout_ns, uint64_t budget,
			       uint64_t *out_id)
{
	struct snapchan_node_record r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.snap_id = id;
	r.state = (uintptr_t)state;
	r.state_len = len;
	r.flags = flags;
	r.timeout_ns = timeout_ns;
	r.budget_bytes = budget;
	r.snap_fd = -2;
	ret = ioctl(node, SNAPCHAN_IOC_NODE_RECORD, &r);
	if (ret < 0)
		return -errno;
	if (flags & SNAPCHAN_RECORD_F_SNAPFD) {
		if (r.snap_fd != ret)
			return -EPROTO;
	} else if (ret != 0 || r.snap_fd != -1) {
		return -EPROTO;
	}
	if (out_id)
		*out_id = r.snap_id;
	return ret;
}

static inline int sc_record(int node, uint64_t id, const void *state,
			    uint64_t len)
{
	return sc_record_ex(node, id, state, len, 0, 0, 0, NULL);
}

/* Record a C string (without its NUL) as the state. */
static inline int sc_record_str(int node, uint64_t id, const char *state)
{
	return sc_record(node, id, state, strlen(state));
}

/* NODE_EVENT: 0 or -errno. */
static inline int sc_event(int node, struct snapchan_node_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	return ioctl(node, SNAPCHAN_IOC_NODE_EVENT, ev) ? -errno : 0;
}

/* The id the node is asked to record, 0 for none, or -errno. */
static inline int64_t sc_pending(int node)
{
	struct snapchan_node_event ev;
	int ret = sc_event(node, &ev);

	if (ret)
		return ret;
	return ev.type == SNAPCHAN_EVENT_RECORD ? (int64_t)ev.snap_id : 0;
}

/* SNAP_BEGIN: snapshot fd or -errno; *@id gets its id. */
static inline int sc_begin(int ctl, const char *group, uint64_t timeout_ns,
			   uint64_t budget, uint64_t *id)
{
	struct snapchan_snap_begin b;
	int ret;

	memset(&b, 0, sizeof(b));
	sc_name(b.group, group);
	b.timeout_ns = timeout_ns;
	b.budget_bytes = budget;
	b.fd = -2;
	ret = ioctl(ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b);
	if (ret < 0)
		return -errno;
	if (b.fd != ret || !b.snap_id)
		return -EPROTO;
	if (id)
		*id = b.snap_id;
	return ret;
}

/* SNAP_OPEN: snapshot fd or -errno. */
static inline int sc_snap_open(int ctl, const char *group, uint64_t id)
{
	struct snapchan_snap_open o;
	int ret;

	memset(&o, 0, sizeof(o));
	sc_name(o.group, group);
	o.snap_id = id;
	o.fd = -2;
	ret = ioctl(ctl, SNAPCHAN_IOC_SNAP_OPEN, &o);
	if (ret < 0)
		return -errno;
	return o.fd == ret ? ret : -EPROTO;
}

static inline int sc_snap_info(int snap, struct snapchan_snap_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(snap, SNAPCHAN_IOC_SNAP_INFO, info) ? -errno : 0;
}

static inline int sc_snap_abort(int snap)
{
	return ioctl(snap, SNAPCHAN_IOC_SNAP_ABORT) ? -errno : 0;
}

/* State of a snapshot fd (SNAPCHAN_SNAP_*) or -errno. */
static inline int sc_snap_state(int snap, uint32_t *reason)
{
	struct snapchan_snap_info info;
	int ret = sc_snap_info(snap, &info);

	if (ret)
		return ret;
	if (reason)
		*reason = info.abort_reason;
	return info.state;
}

/* poll() one fd: revents (0 on timeout) or -errno. */
static inline int sc_poll1(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ret;

	do {
		ret = poll(&p, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret ? p.revents : 0;
}

/* Wait for a snapshot to end; its state, or -ETIMEDOUT / -errno. */
static inline int sc_snap_wait(int snap, int timeout_ms, uint32_t *reason)
{
	int ret = sc_poll1(snap, POLLIN, timeout_ms);

	if (ret < 0)
		return ret;
	if (!ret)
		return -ETIMEDOUT;
	return sc_snap_state(snap, reason);
}

/*
 * Read an image from @fd in reads of @chunk bytes (0: 64 KiB) until end of
 * file.  Returns the length, with a malloc()ed copy in *@bufp, or -errno.
 */
static inline ssize_t sc_read_image(int fd, size_t chunk, void **bufp)
{
	size_t len = 0, room = 0;
	char *buf = NULL, *nb;
	ssize_t n;

	if (!chunk)
		chunk = 65536;
	for (;;) {
		if (room - len < chunk) {
			room = room ? room * 2 : 65536;
			while (room - len < chunk)
				room *= 2;
			nb = realloc(buf, room);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	*bufp = buf;
	return len;
}

static inline uint64_t sc_le64(const void *p)
{
	const unsigned char *b = p;
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static inline uint32_t sc_le32(const void *p)
{
	const unsigned char *b = p;

	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

/*
 * Check the trailer of an image by hand: magic, total_len and the CRC32C
 * of every byte before it.  0 if good, else a negative number saying what.
 */
static inline int sc_image_crc_ok(const void *buf, size_t len)
{
	const struct snapchan_img_trailer *t;
	const unsigned char *b = buf;

	if (len < sizeof(struct snapchan_img_header) + sizeof(*t) || len % 8)
		return -1;
	t = (const void *)(b + len - sizeof(*t));
	if (sc_le32(&t->magic) != SNAPCHAN_IMG_END_MAGIC)
		return -2;
	if (sc_le64(&t->total_len) != len)
		return -3;
	if (sc_le64(b + offsetof(struct snapchan_img_header, total_len)) != len)
		return -4;
	if (snapchan_crc32c(0, b, len - sizeof(*t)) != sc_le32(&t->crc32c))
		return -5;
	return 0;
}

/*
 * Lines of a debugfs table after its header: the count, or -errno.  With
 * @needle, only the lines containing it (as a whole word) count.
 */
static inline int sc_debugfs_rows(const char *table, const char *needle,
				  char *dump, size_t dump_len)
{
	char path[128], line[1024];
	int rows = 0, first = 1;
	size_t used = 0;
	FILE *f;

	snprintf(path, sizeof(path), SC_DEBUGFS_DIR "%s", table);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (dump && dump_len)
		dump[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (first) {
			first = 0;
			continue;
		}
		if (needle) {
			char *p = line;
			size_t nl = strlen(needle);
			int hit = 0;

			while ((p = strstr(p, needle))) {
				char before = p == line ? ' ' : p[-1];
				char after = p[nl];

				if ((before == ' ' || before == ':' || before == '<' ||
				     before == '>') &&
				    (after == ' ' || after == '\n' || after == '\0' ||
				     after == '='))
					hit = 1;
				p += nl;
			}
			if (!hit)
				continue;
		}
		rows++;
		if (dump && used + strlen(line) + 1 < dump_len) {
			strcpy(dump + used, line);
			used += strlen(line);
		}
	}
	fclose(f);
	return rows;
}

static inline int sc_have_debugfs(void)
{
	return access(SC_DEBUGFS_DIR "groups", R_OK) == 0;
}

#endif /* SNAP_UTIL_H */
