// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan user markers and captures: SNAPCHAN_IOC_MARK, SNAPCHAN_IOC_RECV
 * on MARKER records, read()/poll with a marker at the head, and
 * SNAPCHAN_IOC_CAPTURE with its capture fd (counts, image stream, limits).
 * Contract: uapi/linux/snapchan.h, doc/image-format.md, doc/decisions.md
 * ("Markers and captures").
 *
 * Every test uses channels named "km<pid>-<tag>" and, for group channels,
 * the group "kmg<pid>" (the harness forks per test, so the pid is unique).
 * The fixture teardown closes every fd the test kept (captures included,
 * last opened first), destroys its channels and restores the module
 * parameters it changed.  Images are parsed and verified with libsnapchan
 * (userspace/lib, linked statically).  Needs the module loaded, and root
 * for the tests that lower max_markers, max_captures or
 * max_capture_mbytes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "snap_util.h"
#include "kselftest_harness.h"

#define MAX_CHANS	16
#define MAX_FDS		320
#define MAX_SAVED	4

/* Sizes of the image parts (doc/image-format.md). */
#define IMG_HDR		104
#define IMG_CHAN	144
#define IMG_REC		32
#define IMG_TRAILER	16
#define IMG_EMPTY	(IMG_HDR + IMG_CHAN + IMG_TRAILER)

FIXTURE(mark) {
	int ctl;
	char group[SNAPCHAN_NAME_LEN];
	int nchans;
	char chans[MAX_CHANS][SNAPCHAN_NAME_LEN];
	int nfds;
	int fds[MAX_FDS];
	int nsaved;
	char saved_name[MAX_SAVED][40];
	unsigned long long saved_val[MAX_SAVED];
};

FIXTURE_SETUP(mark)
{
	self->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", SC_CONTROL, strerror(errno));
	snprintf(self->group, sizeof(self->group), "kmg%d", getpid());
}

FIXTURE_TEARDOWN(mark)
{
	int i;

	for (i = self->nfds - 1; i >= 0; i--)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
	self->nfds = 0;
	if (self->ctl >= 0) {
		for (i = 0; i < self->nchans; i++)
			sc_destroy(self->ctl, self->chans[i]);
		close(self->ctl);
	}
	for (i = self->nsaved - 1; i >= 0; i--)
		if (sc_param_set(self->saved_name[i], self->saved_val[i]))
			TH_LOG("could not restore %s=%llu", self->saved_name[i],
			       self->saved_val[i]);
	self->nsaved = 0;
}

/* Remember @fd for the teardown; returns it. */
static int keep(FIXTURE_DATA(mark) *self, int fd)
{
	if (fd >= 0 && self->nfds < MAX_FDS)
		self->fds[self->nfds++] = fd;
	return fd;
}

/* Close a kept fd now (and forget it). */
static void drop(FIXTURE_DATA(mark) *self, int fd)
{
	int i;

	for (i = 0; i < self->nfds; i++) {
		if (self->fds[i] == fd) {
			self->fds[i] = -1;
			break;
		}
	}
	close(fd);
}

/* Create "km<pid>-<tag>" in @group (NULL: standalone); *@id its id. */
static const char *new_chan_ex(struct __test_metadata *_metadata,
			       FIXTURE_DATA(mark) *self, const char *tag,
			       const char *group, unsigned long long cap_bytes,
			       unsigned int cap_msgs, unsigned int max_msg,
			       uint64_t first_seq, uint64_t *id)
{
	struct snapchan_chan_create c;
	char *n;

	ASSERT_LT(self->nchans, MAX_CHANS);
	n = self->chans[self->nchans++];
	snprintf(n, SNAPCHAN_NAME_LEN, "km%d-%s", getpid(), tag);
	memset(&c, 0, sizeof(c));
	sc_name(c.name, n);
	if (group)
		sc_name(c.group, group);
	c.capacity_bytes = cap_bytes;
	c.capacity_msgs = cap_msgs;
	c.max_msg = max_msg;
	c.first_seq = first_seq;
	ASSERT_EQ(0, sc_create(self->ctl, &c))
		TH_LOG("create %s: %s", n, strerror(errno));
	if (id)
		*id = c.chan_id;
	return n;
}

static const char *new_chan(struct __test_metadata *_metadata,
			    FIXTURE_DATA(mark) *self, const char *tag,
			    unsigned long long cap_bytes, unsigned int cap_msgs,
			    unsigned int max_msg)
{
	return new_chan_ex(_metadata, self, tag, NULL, cap_bytes, cap_msgs,
			   max_msg, 0, NULL);
}

/* Open an end with @flags, kept for the teardown. */
static int open_end(struct __test_metadata *_metadata, FIXTURE_DATA(mark) *self,
		    const char *chan, int flags)
{
	int fd = sc_open_chan(chan, flags);

	ASSERT_LE(0, fd) TH_LOG("open %s: %s", chan, strerror(-fd));
	return keep(self, fd);
}

static struct snapchan_chan_info info_of(struct __test_metadata *_metadata,
					 FIXTURE_DATA(mark) *self,
					 const char *chan)
{
	struct snapchan_chan_info info;

	memset(&info, 0, sizeof(info));
	EXPECT_EQ(0, sc_info(self->ctl, chan, &info)) TH_LOG("info %s", chan);
	return info;
}

static unsigned long long param(struct __test_metadata *_metadata,
				const char *p)
{
	unsigned long long v = 0;

	ASSERT_EQ(0, sc_param(p, &v)) TH_LOG("module parameter %s unreadable", p);
	return v;
}

/*
 * Remember a module parameter's value, restored in the teardown; -EPERM
 * when this process cannot change it.
 */
static int save_param(struct __test_metadata *_metadata,
		      FIXTURE_DATA(mark) *self, const char *p)
{
	unsigned long long old;

	if (geteuid() != 0 || !sc_param_writable(p))
		return -EPERM;
	ASSERT_EQ(0, sc_param(p, &old));
	ASSERT_LT(self->nsaved, MAX_SAVED);
	strcpy(self->saved_name[self->nsaved], p);
	self->saved_val[self->nsaved] = old;
	self->nsaved++;
	return 0;
}

/* Set a module parameter for this test; restored in the teardown. */
static int set_param(struct __test_metadata *_metadata,
		     FIXTURE_DATA(mark) *self, const char *p,
		     unsigned long long val)
{
	int ret;

	if (save_param(_metadata, self, p))
		return -EPERM;
	ret = sc_param_set(p, val);
	ASSERT_EQ(0, ret) TH_LOG("set %s=%llu: %s", p, val, strerror(-ret));
	return 0;
}

static int mark(int fd, uint64_t id)
{
	struct snapchan_mark m = { .snap_id = id };

	return ioctl(fd, SNAPCHAN_IOC_MARK, &m) ? -errno : 0;
}

static int recv_rec(int fd, void *buf, unsigned int len, unsigned int flags,
		    struct snapchan_recv *r)
{
	memset(r, 0, sizeof(*r));
	r->buf = (uintptr_t)buf;
	r->buf_len = len;
	r->flags = flags;
	return ioctl(fd, SNAPCHAN_IOC_RECV, r) ? -errno : 0;
}

/* CAPTURE: the capture fd (kept) or -errno. */
static int capture(FIXTURE_DATA(mark) *self, int fd, struct snapchan_capture *cap)
{
	int ret;

	memset(cap, 0, sizeof(*cap));
	cap->fd = -2;
	ret = ioctl(fd, SNAPCHAN_IOC_CAPTURE, cap);
	if (ret < 0)
		return -errno;
	return keep(self, ret);
}

/* A pattern that depends on (tag, offset). */
static void fill(void *buf, size_t len, unsigned int tag)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(tag * 131 + i * 7 + 1);
}

static int check_fill(const void *buf, size_t len, unsigned int tag)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(tag * 131 + i * 7 + 1))
			return 0;
	return 1;
}

/* Write a @len byte message of pattern @tag; asserts it all went. */
static void send_msg(struct __test_metadata *_metadata, int fd, size_t len,
		     unsigned int tag)
{
	char *buf = malloc(len + 1);

	ASSERT_NE(NULL, buf);
	fill(buf, len, tag);
	ASSERT_EQ((ssize_t)len, write(fd, buf, len))
		TH_LOG("write %zu bytes: %s", len, strerror(errno));
	free(buf);
}

/* Receive the next record and check it is DATA @seq of pattern @tag. */
static void expect_data(struct __test_metadata *_metadata, int fd,
			uint64_t seq, size_t len, unsigned int tag)
{
	static char buf[1 << 17];
	struct snapchan_recv r;

	ASSERT_EQ(0, recv_rec(fd, buf, sizeof(buf), 0, &r))
		TH_LOG("RECV (expecting seq %llu): %s", (unsigned long long)seq,
		       strerror(errno));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(seq, r.seq);
	EXPECT_EQ(len, r.len);
	EXPECT_EQ(0, r.snap_id);
	EXPECT_EQ(0, r.origin);
	EXPECT_TRUE(r.len == len && check_fill(buf, len, tag))
		TH_LOG("payload of seq %llu differs", (unsigned long long)seq);
}

/* Receive the next record and check it is the user marker @id. */
static void expect_marker(struct __test_metadata *_metadata, int fd,
			  uint64_t id)
{
	struct snapchan_recv r;

	ASSERT_EQ(0, recv_rec(fd, NULL, 0, 0, &r))
		TH_LOG("RECV (expecting marker %llu): %s",
		       (unsigned long long)id, strerror(errno));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, r.type);
	EXPECT_EQ(id, r.snap_id);
	EXPECT_EQ(0, r.seq);
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(0, r.origin);
}

static short poll_events(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

/* Open file descriptors of this process. */
static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A page that user space may read but the kernel may not write. */
static void *ro_copy(struct __test_metadata *_metadata, const void *src,
		     size_t len)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	memcpy(p, src, len);
	ASSERT_EQ(0, mprotect(p, 4096, PROT_READ));
	return p;
}

/* An address with nothing mapped. */
static void *unmapped(struct __test_metadata *_metadata)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	munmap(p, 4096);
	return p;
}

static uint64_t pad8(uint64_t len)
{
	return (len + 7) & ~7ULL;
}

/* --- images -------------------------------------------------------------- */

struct capimg {
	void *buf;
	ssize_t len;
	struct snapchan_image *img;
	struct snapchan_image_header_view hdr;
	struct snapchan_image_chan_view chan;
};

static void capimg_free(struct capimg *ci)
{
	if (ci->img)
		snapchan_image_close(ci->img);
	free(ci->buf);
	memset(ci, 0, sizeof(*ci));
}

/*
 * Parse and verify an image already read into @ci->buf; check everything a
 * capture's image must say about itself and agree on with @cap.
 */
static void capimg_parse(struct __test_metadata *_metadata,
			 const struct snapchan_capture *cap, struct capimg *ci)
{
	struct snapchan_image_record_view r;
	struct snapchan_image_diag diag;
	uint64_t j, markers = 0, bytes = 0;
	int ret;

	ASSERT_EQ(cap->stream_len, (uint64_t)ci->len);
	memset(&diag, 0, sizeof(diag));
	ret = snapchan_image_from_buffer(ci->buf, ci->len, &ci->img, &diag);
	ASSERT_EQ(0, ret) TH_LOG("capture image refused (%s): %s at offset %llu",
				 strerror(-ret), diag.msg,
				 (unsigned long long)diag.offset);
	ASSERT_EQ(0, snapchan_image_verify(ci->img, &diag)) TH_LOG("%s", diag.msg);
	ASSERT_EQ(0, snapchan_image_header(ci->img, &ci->hdr));
	EXPECT_EQ(SNAPCHAN_IMG_VERSION, ci->hdr.version);
	EXPECT_EQ(SNAPCHAN_IMG_KIND_CAPTURE, ci->hdr.kind);
	EXPECT_EQ(0, ci->hdr.flags);
	EXPECT_EQ(0, ci->hdr.snap_id);
	EXPECT_EQ(0, ci->hdr.epoch);
	EXPECT_NE(0, ci->hdr.begin_ns);
	EXPECT_EQ(ci->hdr.begin_ns, ci->hdr.end_ns);
	EXPECT_EQ(0, ci->hdr.node_count);
	ASSERT_EQ(1, ci->hdr.chan_count);
	EXPECT_EQ(cap->count, ci->hdr.record_count);
	EXPECT_EQ((uint64_t)ci->len, ci->hdr.total_len);
	EXPECT_EQ(0, sc_image_crc_ok(ci->buf, ci->len));
	ASSERT_EQ(0, snapchan_image_chan(ci->img, 0, &ci->chan));
	EXPECT_EQ(cap->count, ci->chan.record_count);
	EXPECT_EQ(cap->bytes, ci->chan.record_bytes);
	EXPECT_STREQ(ci->hdr.group, ci->chan.group);
	EXPECT_EQ(0, ci->chan.sender_node);
	EXPECT_EQ(0, ci->chan.receiver_node);
	if (cap->first_seq) {
		EXPECT_EQ(cap->first_seq, ci->chan.first_seq);
		EXPECT_EQ(cap->last_seq + 1, ci->chan.next_seq);
	} else {
		EXPECT_EQ(0, cap->last_seq);
		EXPECT_EQ(ci->chan.next_seq, ci->chan.first_seq);
	}
	for (j = 0; j < ci->chan.record_count; j++) {
		ASSERT_EQ(0, snapchan_image_record(ci->img, 0, j, &r));
		if (r.type == SNAPCHAN_REC_MARKER)
			markers++;
		bytes += r.len;
	}
	EXPECT_EQ(cap->markers, markers);
	EXPECT_EQ(cap->bytes, bytes);
}

/* Read a capture fd to the end in @chunk byte reads, parse and verify. */
static void capimg_read(struct __test_metadata *_metadata, int cfd,
			size_t chunk, const struct snapchan_capture *cap,
			struct capimg *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->len = sc_read_image(cfd, chunk, &ci->buf);
	ASSERT_LE(0, ci->len) TH_LOG("read capture: %s", strerror(-ci->len));
	capimg_parse(_metadata, cap, ci);
}

/* The channel section agrees with the channel's configuration. */
static void expect_chan_section(struct __test_metadata *_metadata,
				FIXTURE_DATA(mark) *self,
				const struct capimg *ci, const char *chan,
				uint64_t id)
{
	struct snapchan_chan_info info = info_of(_metadata, self, chan);

	EXPECT_EQ(id, ci->chan.id);
	EXPECT_STREQ(chan, ci->chan.name);
	EXPECT_STREQ(info.group, ci->chan.group);
	EXPECT_STREQ(info.group, ci->hdr.group);
	EXPECT_EQ(info.capacity_bytes, ci->chan.capacity_bytes);
	EXPECT_EQ(info.capacity_msgs, ci->chan.capacity_msgs);
	EXPECT_EQ(info.max_msg, ci->chan.max_msg);
	EXPECT_EQ(info.flags, ci->chan.flags);
	EXPECT_EQ(info.mode, ci->chan.mode);
}

/* Record @j of the image is DATA @seq, @len bytes of pattern @tag. */
static void expect_img_data(struct __test_metadata *_metadata,
			    const struct capimg *ci, uint64_t j, uint64_t seq,
			    size_t len, unsigned int tag)
{
	struct snapchan_image_record_view r;

	ASSERT_EQ(0, snapchan_image_record(ci->img, 0, j, &r));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type) TH_LOG("record %llu", (unsigned long long)j);
	EXPECT_EQ(seq, r.seq) TH_LOG("record %llu", (unsigned long long)j);
	EXPECT_EQ(len, r.len) TH_LOG("record %llu", (unsigned long long)j);
	EXPECT_EQ(0, r.snap_id);
	EXPECT_EQ(0, r.origin);
	EXPECT_TRUE(r.len == len && (!len || check_fill(r.payload, len, tag)))
		TH_LOG("record %llu: payload differs", (unsigned long long)j);
}

static void expect_img_marker(struct __test_metadata *_metadata,
			      const struct capimg *ci, uint64_t j, uint64_t id)
{
	struct snapchan_image_record_view r;

	ASSERT_EQ(0, snapchan_image_record(ci->img, 0, j, &r));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, r.type) TH_LOG("record %llu", (unsigned long long)j);
	EXPECT_EQ(id, r.snap_id) TH_LOG("record %llu", (unsigned long long)j);
	EXPECT_EQ(0, r.seq);
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(0, r.origin);
}

/* ===================================================================== */
/* Markers                                                                 */
/* ===================================================================== */

TEST_F(mark, params)
{
	static const char *const p[] = {
		"max_markers", "max_captures", "max_capture_mbytes",
	};
	unsigned long long v[3];
	unsigned int i;

	EXPECT_EQ(16, param(_metadata, "max_markers"));
	EXPECT_EQ(256, param(_metadata, "max_captures"));
	EXPECT_LE(1, param(_metadata, "max_capture_mbytes"));
	if (geteuid() != 0)
		return;
	/* Limits refuse values that would break them (decisions.md). */
	for (i = 0; i < 3; i++) {
		v[i] = param(_metadata, p[i]);
		if (save_param(_metadata, self, p[i]))
			continue;
		EXPECT_EQ(-EINVAL, sc_param_set(p[i], 0)) TH_LOG("%s=0", p[i]);
		EXPECT_EQ(v[i], param(_metadata, p[i]));
	}
}

TEST_F(mark, version_features)
{
	struct snapchan_version v;

	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_VERSION, &v));
	EXPECT_TRUE(v.features & SNAPCHAN_FEAT_MARKERS);
	EXPECT_TRUE(v.features & SNAPCHAN_FEAT_CAPTURE);
}

/* Markers and data share one FIFO; markers take no sequence number. */
TEST_F(mark, fifo_order_and_seq)
{
	struct snapchan_chan_info info;
	const char *c;
	char buf[64];
	int wr, rd;

	c = new_chan_ex(_metadata, self, "fifo", NULL, 0, 0, 0, 1000, NULL);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);

	send_msg(_metadata, wr, 10, 1);
	ASSERT_EQ(0, mark(wr, 101));
	send_msg(_metadata, wr, 20, 2);
	ASSERT_EQ(0, mark(wr, 102));
	ASSERT_EQ(0, mark(wr, 0xffffffffffffffffULL));
	send_msg(_metadata, wr, 0, 3);
	ASSERT_EQ(0, mark(wr, 103));

	info = info_of(_metadata, self, c);
	EXPECT_EQ(3, info.depth_msgs);
	EXPECT_EQ(30, info.depth_bytes);
	EXPECT_EQ(4, info.markers_queued);
	EXPECT_EQ(3, info.total_sent);
	EXPECT_EQ(1003, info.next_seq) TH_LOG("markers must not take sequence numbers");

	/* read() takes data at the head. */
	ASSERT_EQ(10, read(rd, buf, sizeof(buf)));
	EXPECT_TRUE(check_fill(buf, 10, 1));
	/* A marker at the head: ENOMSG, nothing consumed, however often. */
	EXPECT_EQ(-1, read(rd, buf, sizeof(buf)));
	EXPECT_EQ(ENOMSG, errno);
	EXPECT_EQ(-1, read(rd, buf, sizeof(buf)));
	EXPECT_EQ(ENOMSG, errno);
	info = info_of(_metadata, self, c);
	EXPECT_EQ(2, info.depth_msgs);
	EXPECT_EQ(4, info.markers_queued);
	EXPECT_EQ(1, info.total_received);

	expect_marker(_metadata, rd, 101);
	expect_data(_metadata, rd, 1001, 20, 2);
	EXPECT_EQ(-1, read(rd, buf, sizeof(buf)));
	EXPECT_EQ(ENOMSG, errno);
	expect_marker(_metadata, rd, 102);
	expect_marker(_metadata, rd, 0xffffffffffffffffULL);
	/* The zero-length message behind two markers: read() returns 0. */
	ASSERT_EQ(0, read(rd, buf, sizeof(buf)));
	expect_marker(_metadata, rd, 103);
	EXPECT_EQ(-1, read(rd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);

	info = info_of(_metadata, self, c);
	EXPECT_EQ(0, info.depth_msgs);
	EXPECT_EQ(0, info.markers_queued);
	EXPECT_EQ(3, info.total_received);
	EXPECT_EQ(1003, info.next_seq);

	/* Numbering goes on after the markers. */
	send_msg(_metadata, wr, 5, 4);
	expect_data(_metadata, rd, 1003, 5, 4);
}

/* The same id may be queued more than once; each copy is delivered. */
TEST_F(mark, same_id_twice)
{
	const char *c = new_chan(_metadata, self, "dup", 0, 0, 0);
	int wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	int rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);

	ASSERT_EQ(0, mark(wr, 7));
	ASSERT_EQ(0, mark(wr, 7));
	EXPECT_EQ(2, info_of(_metadata, self, c).markers_queued);
	expect_marker(_metadata, rd, 7);
	expect_marker(_metadata, rd, 7);
	EXPECT_EQ(0, info_of(_metadata, self, c).markers_queued);
}

/* poll: EPOLLPRI for a marker at the head, EPOLLIN only for data there. */
TEST_F(mark, poll_pri_and_in)
{
	struct epoll_event ev, out;
	const char *c;
	char buf[16];
	int wr, rd, ep;
	short rev;

	c = new_chan(_metadata, self, "poll", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);

	EXPECT_EQ(0, poll_events(rd, POLLIN | POLLPRI));
	ASSERT_EQ(0, mark(wr, 1));
	rev = poll_events(rd, POLLIN | POLLPRI | POLLRDNORM);
	EXPECT_EQ(POLLPRI, rev) TH_LOG("marker at the head: revents %#x", rev);
	/* Data behind the marker does not make the end readable. */
	send_msg(_metadata, wr, 3, 1);
	rev = poll_events(rd, POLLIN | POLLPRI | POLLRDNORM);
	EXPECT_EQ(POLLPRI, rev) TH_LOG("marker then data: revents %#x", rev);
	EXPECT_EQ(0, poll_events(rd, POLLIN | POLLRDNORM));
	/* The writer's side: markers take no room. */
	EXPECT_EQ(POLLOUT, poll_events(wr, POLLOUT) & POLLOUT);

	ep = keep(self, epoll_create1(EPOLL_CLOEXEC));
	ASSERT_LE(0, ep);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLPRI;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, rd, &ev));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 0));
	EXPECT_EQ(EPOLLPRI, out.events);

	expect_marker(_metadata, rd, 1);
	rev = poll_events(rd, POLLIN | POLLPRI | POLLRDNORM);
	EXPECT_EQ(POLLIN | POLLRDNORM, rev) TH_LOG("data at the head: revents %#x", rev);
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 0));
	EXPECT_EQ(EPOLLIN, out.events);

	/* Data at the head, marker behind it: EPOLLIN only. */
	ASSERT_EQ(0, mark(wr, 2));
	rev = poll_events(rd, POLLIN | POLLPRI | POLLRDNORM);
	EXPECT_EQ(POLLIN | POLLRDNORM, rev) TH_LOG("data then marker: revents %#x", rev);
	ASSERT_EQ(3, read(rd, buf, sizeof(buf)));
	rev = poll_events(rd, POLLIN | POLLPRI | POLLRDNORM);
	EXPECT_EQ(POLLPRI, rev);
	expect_marker(_metadata, rd, 2);
	EXPECT_EQ(0, poll_events(rd, POLLIN | POLLPRI));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
}

/* --- a call in another thread ------------------------------------------ */

enum op_kind { OP_READ, OP_POLL, OP_WRITE, OP_MARK, OP_RECV };

struct op {
	enum op_kind kind;
	int fd;
	char buf[64];
	size_t len;
	short events;
	uint64_t id;
	pthread_t thread;
	pid_t tid;
	atomic_int started;
	atomic_int done;
	ssize_t ret;
	int err;
	short revents;
	struct snapchan_recv r;
};

static void *op_main(void *arg)
{
	struct op *op = arg;
	struct pollfd p;

	op->tid = gettid();
	atomic_store(&op->started, 1);
	switch (op->kind) {
	case OP_READ:
		op->ret = read(op->fd, op->buf, op->len);
		break;
	case OP_WRITE:
		op->ret = write(op->fd, op->buf, op->len);
		break;
	case OP_POLL:
		p.fd = op->fd;
		p.events = op->events;
		p.revents = 0;
		op->ret = poll(&p, 1, 20000);
		op->revents = p.revents;
		break;
	case OP_MARK:
		op->ret = mark(op->fd, op->id);
		if (op->ret < 0) {
			errno = -op->ret;
			op->ret = -1;
		}
		break;
	case OP_RECV:
		memset(&op->r, 0, sizeof(op->r));
		op->r.buf = (uintptr_t)op->buf;
		op->r.buf_len = op->len;
		op->ret = ioctl(op->fd, SNAPCHAN_IOC_RECV, &op->r);
		break;
	}
	op->err = op->ret < 0 ? errno : 0;
	atomic_store(&op->done, 1);
	return NULL;
}

/* Start @op in a thread and wait until it sleeps in its call (if it does). */
static void op_start(struct __test_metadata *_metadata, struct op *op)
{
	int i;

	atomic_store(&op->started, 0);
	atomic_store(&op->done, 0);
	ASSERT_EQ(0, pthread_create(&op->thread, NULL, op_main, op));
	for (i = 0; i < 2000 && !atomic_load(&op->started); i++)
		usleep(1000);
	ASSERT_TRUE(atomic_load(&op->started));
	if (op->kind != OP_MARK)
		sc_wait_sleeping(getpid(), op->tid);
}

static void op_join(struct __test_metadata *_metadata, struct op *op, int secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	ASSERT_EQ(0, pthread_timedjoin_np(op->thread, NULL, &ts))
		TH_LOG("the call in the thread did not return");
}

/* A marker wakes a reader blocked in read(): it returns ENOMSG. */
TEST_F(mark, wakes_blocked_read)
{
	const char *c = new_chan(_metadata, self, "wr", 0, 0, 0);
	int wr = open_end(_metadata, self, c, O_WRONLY);
	int rd = open_end(_metadata, self, c, O_RDONLY);
	struct op op = { .kind = OP_READ, .fd = rd, .len = 64 };

	op_start(_metadata, &op);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("read() did not block");
	ASSERT_EQ(0, mark(wr, 5));
	op_join(_metadata, &op, 10);
	EXPECT_EQ(-1, op.ret);
	EXPECT_EQ(ENOMSG, op.err);
	EXPECT_EQ(1, info_of(_metadata, self, c).markers_queued);
	expect_marker(_metadata, rd, 5);
}

/* A marker wakes a poll() waiting for POLLPRI. */
TEST_F(mark, wakes_blocked_poll)
{
	const char *c = new_chan(_metadata, self, "wp", 0, 0, 0);
	int wr = open_end(_metadata, self, c, O_WRONLY);
	int rd = open_end(_metadata, self, c, O_RDONLY);
	struct op op = { .kind = OP_POLL, .fd = rd, .events = POLLPRI };

	op_start(_metadata, &op);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("poll() did not block");
	ASSERT_EQ(0, mark(wr, 6));
	op_join(_metadata, &op, 10);
	EXPECT_EQ(1, op.ret);
	EXPECT_EQ(POLLPRI, op.revents);
}

/* A marker wakes a reader blocked in RECV, which returns (consumes) it. */
TEST_F(mark, wakes_blocked_recv)
{
	const char *c = new_chan(_metadata, self, "wv", 0, 0, 0);
	int wr = open_end(_metadata, self, c, O_WRONLY);
	int rd = open_end(_metadata, self, c, O_RDONLY);
	struct op op = { .kind = OP_RECV, .fd = rd, .len = 64 };

	op_start(_metadata, &op);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("RECV did not block");
	ASSERT_EQ(0, mark(wr, 8));
	op_join(_metadata, &op, 10);
	EXPECT_EQ(0, op.ret) TH_LOG("RECV: %s", strerror(op.err));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, op.r.type);
	EXPECT_EQ(8, op.r.snap_id);
	EXPECT_EQ(0, op.r.origin);
	EXPECT_EQ(0, info_of(_metadata, self, c).markers_queued);
}

/* Edge-triggered epoll: once polled, every marker arrival is an event. */
TEST_F(mark, epoll_edge_triggered)
{
	struct epoll_event ev, out;
	const char *c = new_chan(_metadata, self, "et", 0, 0, 0);
	int wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	int rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	int ep = keep(self, epoll_create1(EPOLL_CLOEXEC));

	ASSERT_LE(0, ep);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLPRI | EPOLLET;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, rd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	ASSERT_EQ(0, mark(wr, 1));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 1000));
	EXPECT_EQ(EPOLLPRI, out.events);
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	/* A second marker behind the first: a new edge. */
	ASSERT_EQ(0, mark(wr, 2));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 1000)) TH_LOG("no event for the second marker");
	EXPECT_EQ(EPOLLPRI, out.events);
	/* Data behind them: an event, still PRI (a marker is at the head). */
	send_msg(_metadata, wr, 4, 1);
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 1000)) TH_LOG("no event for data");
	EXPECT_EQ(EPOLLPRI, out.events);
	expect_marker(_metadata, rd, 1);
	expect_marker(_metadata, rd, 2);
	expect_data(_metadata, rd, 1, 4, 1);
}

/* A marker is not lost at end of file: it comes before EOF. */
TEST_F(mark, marker_before_eof)
{
	struct snapchan_chan_create cc;
	struct snapchan_recv r;
	char name[SNAPCHAN_NAME_LEN], buf[16];
	int wr, rd;
	short rev;

	ASSERT_LT(self->nchans, MAX_CHANS);
	snprintf(name, sizeof(name), "km%d-eof", getpid());
	strcpy(self->chans[self->nchans++], name);
	memset(&cc, 0, sizeof(cc));
	sc_name(cc.name, name);
	cc.flags = SNAPCHAN_CHAN_F_EOF;
	ASSERT_EQ(0, sc_create(self->ctl, &cc));
	wr = open_end(_metadata, self, name, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, name, O_RDONLY | O_NONBLOCK);
	send_msg(_metadata, wr, 3, 1);
	ASSERT_EQ(0, mark(wr, 9));
	drop(self, wr);

	ASSERT_EQ(3, read(rd, buf, sizeof(buf)));
	rev = poll_events(rd, POLLIN | POLLPRI);
	EXPECT_TRUE(rev & POLLPRI) TH_LOG("revents %#x", rev);
	EXPECT_FALSE(rev & POLLIN) TH_LOG("revents %#x", rev);
	EXPECT_EQ(-1, read(rd, buf, sizeof(buf))) TH_LOG("EOF before the marker");
	EXPECT_EQ(ENOMSG, errno);
	expect_marker(_metadata, rd, 9);
	EXPECT_EQ(0, read(rd, buf, sizeof(buf)));
	EXPECT_EQ(-ENODATA, recv_rec(rd, buf, sizeof(buf), 0, &r));
	EXPECT_TRUE(poll_events(rd, POLLIN | POLLPRI) & POLLHUP);
}

/* RECV with PEEK leaves either record type queued; without it consumes. */
TEST_F(mark, recv_peek)
{
	struct snapchan_recv r;
	const char *c;
	char buf[64];
	int wr, rd, i;

	c = new_chan_ex(_metadata, self, "peek", NULL, 0, 0, 0, 40, NULL);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	ASSERT_EQ(0, mark(wr, 55));
	send_msg(_metadata, wr, 12, 9);

	for (i = 0; i < 3; i++) {
		memset(&r, 0xa5, sizeof(r));
		ASSERT_EQ(0, recv_rec(rd, NULL, 0, SNAPCHAN_RECV_PEEK, &r));
		EXPECT_EQ(SNAPCHAN_REC_MARKER, r.type);
		EXPECT_EQ(55, r.snap_id);
		EXPECT_EQ(0, r.origin);
		EXPECT_EQ(0, r.seq);
		EXPECT_EQ(0, r.len);
		EXPECT_EQ(SNAPCHAN_RECV_PEEK, r.flags);
	}
	EXPECT_EQ(1, info_of(_metadata, self, c).markers_queued);
	EXPECT_EQ(POLLPRI, poll_events(rd, POLLIN | POLLPRI));
	/* A payload buffer is fine for a marker too. */
	ASSERT_EQ(0, recv_rec(rd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, r.type);
	EXPECT_EQ(0, r.len);

	expect_marker(_metadata, rd, 55);
	EXPECT_EQ(0, info_of(_metadata, self, c).markers_queued);

	/* Peek data: stays; a short buffer is EMSGSIZE with the length. */
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, recv_rec(rd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(40, r.seq);
	EXPECT_EQ(12, r.len);
	EXPECT_TRUE(check_fill(buf, 12, 9));
	EXPECT_EQ(-EMSGSIZE, recv_rec(rd, buf, 11, 0, &r));
	EXPECT_EQ(12, r.len);
	EXPECT_EQ(1, info_of(_metadata, self, c).depth_msgs);
	expect_data(_metadata, rd, 40, 12, 9);
	EXPECT_EQ(-EAGAIN, recv_rec(rd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
}

/*
 * A marker on a full channel: MARK succeeds at once, data stays refused,
 * and the reader gets data, marker, data in order.
 */
TEST_F(mark, full_channel)
{
	struct snapchan_chan_info info;
	const char *c;
	char buf[64];
	int wr, wrb, rd, i;
	struct op op = { .kind = OP_MARK, .id = 77 };
	struct op blocked = { .kind = OP_WRITE, .len = 16 };

	c = new_chan(_metadata, self, "full", 64, 4, 16);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	wrb = open_end(_metadata, self, c, O_WRONLY);	/* blocking */
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	for (i = 0; i < 4; i++)
		send_msg(_metadata, wr, 16, 10 + i);
	EXPECT_EQ(-1, write(wr, buf, 1));
	EXPECT_EQ(EAGAIN, errno);

	/* From a blocking end, in a thread: it must not wait for room. */
	op.fd = wrb;
	op_start(_metadata, &op);
	op_join(_metadata, &op, 10);
	EXPECT_EQ(0, op.ret) TH_LOG("MARK on a full channel: %s", strerror(op.err));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, mark(wr, 78 + i));

	info = info_of(_metadata, self, c);
	EXPECT_EQ(4, info.depth_msgs);
	EXPECT_EQ(64, info.depth_bytes);
	EXPECT_EQ(4, info.markers_queued);
	/* Markers take no room: still full, and only for data. */
	EXPECT_EQ(-1, write(wr, buf, 1));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, poll_events(wr, POLLOUT));

	/* A blocked writer stays blocked until data is consumed. */
	fill(blocked.buf, 16, 20);
	blocked.fd = wrb;
	op_start(_metadata, &blocked);
	EXPECT_FALSE(atomic_load(&blocked.done));
	EXPECT_EQ(0, mark(wr, 90));
	usleep(100000);
	EXPECT_FALSE(atomic_load(&blocked.done)) TH_LOG("a marker made room");

	expect_data(_metadata, rd, 1, 16, 10);
	op_join(_metadata, &blocked, 10);
	EXPECT_EQ(16, blocked.ret);
	/* Exactly one message of room was made, and it was taken. */
	EXPECT_EQ(-1, write(wr, buf, 1));
	EXPECT_EQ(EAGAIN, errno);

	expect_data(_metadata, rd, 2, 16, 11);
	expect_data(_metadata, rd, 3, 16, 12);
	expect_data(_metadata, rd, 4, 16, 13);
	for (i = 0; i < 4; i++)
		expect_marker(_metadata, rd, 77 + i);
	/* The marker placed while the writer waited went ahead of its data. */
	expect_marker(_metadata, rd, 90);
	expect_data(_metadata, rd, 5, 16, 20);
	EXPECT_EQ(-EAGAIN, recv_rec(rd, buf, sizeof(buf), 0, &(struct snapchan_recv){0}));
}

/* Full by bytes rather than by messages: the same. */
TEST_F(mark, full_by_bytes)
{
	const char *c = new_chan(_metadata, self, "fullb", 100, 10, 100);
	int wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	int rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	char buf[8];

	send_msg(_metadata, wr, 100, 1);
	EXPECT_EQ(-1, write(wr, buf, 1));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, mark(wr, 3));
	EXPECT_EQ(100, info_of(_metadata, self, c).depth_bytes);
	expect_data(_metadata, rd, 1, 100, 1);
	send_msg(_metadata, wr, 100, 2);
	expect_marker(_metadata, rd, 3);
	expect_data(_metadata, rd, 2, 100, 2);
}

/* max_markers per channel, then ENOBUFS; consuming makes room again. */
TEST_F(mark, max_markers)
{
	unsigned long long max = param(_metadata, "max_markers");
	const char *a, *b;
	struct snapchan_recv r;
	int wa, ra, wb;
	unsigned int i;

	ASSERT_LE(1, max);
	ASSERT_GE(1024, max);
	a = new_chan(_metadata, self, "mma", 0, 0, 0);
	b = new_chan(_metadata, self, "mmb", 0, 0, 0);
	wa = open_end(_metadata, self, a, O_WRONLY | O_NONBLOCK);
	ra = open_end(_metadata, self, a, O_RDONLY | O_NONBLOCK);
	wb = open_end(_metadata, self, b, O_WRONLY | O_NONBLOCK);

	send_msg(_metadata, wa, 4, 1);
	for (i = 0; i < max; i++)
		ASSERT_EQ(0, mark(wa, 1000 + i)) TH_LOG("marker %u of %llu", i, max);
	EXPECT_EQ(-ENOBUFS, mark(wa, 5000));
	EXPECT_EQ(-ENOBUFS, mark(wa, 5001));
	EXPECT_EQ(max, info_of(_metadata, self, a).markers_queued);
	/* Data is unaffected, and the bound is per channel. */
	send_msg(_metadata, wa, 4, 2);
	EXPECT_EQ(0, mark(wb, 1));
	EXPECT_EQ(1, info_of(_metadata, self, b).markers_queued);

	/* PEEK frees nothing; consuming one marker allows one more. */
	expect_data(_metadata, ra, 1, 4, 1);
	ASSERT_EQ(0, recv_rec(ra, NULL, 0, SNAPCHAN_RECV_PEEK, &r));
	EXPECT_EQ(-ENOBUFS, mark(wa, 5002));
	expect_marker(_metadata, ra, 1000);
	EXPECT_EQ(0, mark(wa, 6000));
	EXPECT_EQ(-ENOBUFS, mark(wa, 5003));
	EXPECT_EQ(max, info_of(_metadata, self, a).markers_queued);

	/* Everything arrives in order, none of the refused ones. */
	for (i = 1; i < max; i++)
		expect_marker(_metadata, ra, 1000 + i);
	expect_data(_metadata, ra, 2, 4, 2);
	expect_marker(_metadata, ra, 6000);
	EXPECT_EQ(-EAGAIN, recv_rec(ra, NULL, 0, 0, &r));
	EXPECT_EQ(0, info_of(_metadata, self, a).markers_queued);
	for (i = 0; i < max; i++)
		ASSERT_EQ(0, mark(wa, 7000 + i));
	EXPECT_EQ(-ENOBUFS, mark(wa, 5004));
}

/* The max_markers parameter applies at once, to queued markers too. */
TEST_F(mark, max_markers_param)
{
	const char *c;
	int wr, rd;

	c = new_chan(_metadata, self, "mmp", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	if (set_param(_metadata, self, "max_markers", 3))
		SKIP(return, "needs root and a writable max_markers");
	ASSERT_EQ(0, mark(wr, 1));
	ASSERT_EQ(0, mark(wr, 2));
	ASSERT_EQ(0, mark(wr, 3));
	EXPECT_EQ(-ENOBUFS, mark(wr, 4));
	/* Lowered below what is queued: refused until enough are consumed. */
	ASSERT_EQ(0, sc_param_set("max_markers", 2));
	expect_marker(_metadata, rd, 1);
	EXPECT_EQ(-ENOBUFS, mark(wr, 5));
	expect_marker(_metadata, rd, 2);
	EXPECT_EQ(0, mark(wr, 6));
	EXPECT_EQ(-ENOBUFS, mark(wr, 7));
	ASSERT_EQ(0, sc_param_set("max_markers", 4));
	EXPECT_EQ(0, mark(wr, 8));
	EXPECT_EQ(0, mark(wr, 9));
	EXPECT_EQ(-ENOBUFS, mark(wr, 10));
	expect_marker(_metadata, rd, 3);
	expect_marker(_metadata, rd, 6);
	expect_marker(_metadata, rd, 8);
	expect_marker(_metadata, rd, 9);
}

TEST_F(mark, bad_input)
{
	struct snapchan_mark m, *ro;
	const char *c, *g;
	int wr, rd, gw, gr;

	c = new_chan(_metadata, self, "bad", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);

	/* Id 0 and reserved bits. */
	EXPECT_EQ(-EINVAL, mark(wr, 0));
	memset(&m, 0, sizeof(m));
	m.snap_id = 1;
	m.reserved = 1;
	EXPECT_EQ(-1, ioctl(wr, SNAPCHAN_IOC_MARK, &m));
	EXPECT_EQ(EINVAL, errno);
	m.reserved = 1ULL << 63;
	EXPECT_EQ(-1, ioctl(wr, SNAPCHAN_IOC_MARK, &m));
	EXPECT_EQ(EINVAL, errno);
	/* Bad pointers. */
	EXPECT_EQ(-1, ioctl(wr, SNAPCHAN_IOC_MARK, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(wr, SNAPCHAN_IOC_MARK, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	/* The receiving end. */
	EXPECT_EQ(-EBADF, mark(rd, 1));
	/* The control device does not know MARK. */
	EXPECT_EQ(-ENOTTY, mark(self->ctl, 1));
	EXPECT_EQ(0, info_of(_metadata, self, c).markers_queued);

	/* The argument is input only: read-only memory is fine. */
	memset(&m, 0, sizeof(m));
	m.snap_id = 42;
	ro = ro_copy(_metadata, &m, sizeof(m));
	EXPECT_EQ(0, ioctl(wr, SNAPCHAN_IOC_MARK, ro)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(1, info_of(_metadata, self, c).markers_queued);
	expect_marker(_metadata, rd, 42);

	/* A group channel: EPERM from its sending end, EBADF from the other. */
	g = new_chan_ex(_metadata, self, "grp", self->group, 0, 0, 0, 0, NULL);
	gw = open_end(_metadata, self, g, O_WRONLY | O_NONBLOCK);
	gr = open_end(_metadata, self, g, O_RDONLY | O_NONBLOCK);
	EXPECT_EQ(-EPERM, mark(gw, 1));
	EXPECT_EQ(-EBADF, mark(gr, 1));
	EXPECT_EQ(0, info_of(_metadata, self, g).markers_queued);

	/* A destroyed channel. */
	ASSERT_EQ(0, sc_destroy(self->ctl, c));
	EXPECT_EQ(-ENODEV, mark(wr, 1));
}

/* ===================================================================== */
/* Captures                                                                */
/* ===================================================================== */

TEST_F(mark, capture_empty)
{
	struct snapchan_capture cap;
	struct capimg ci;
	uint64_t id;
	const char *c;
	int wr, rd, cfd, i;

	c = new_chan_ex(_metadata, self, "empty", NULL, 0, 0, 0, 77, &id);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);

	for (i = 0; i < 2; i++) {
		memset(&cap, 0xa5, sizeof(cap));
		cap.flags = 0;
		cap.reserved[0] = cap.reserved[1] = 0;
		cfd = keep(self, ioctl(i ? wr : rd, SNAPCHAN_IOC_CAPTURE, &cap));
		ASSERT_LE(0, cfd) TH_LOG("CAPTURE: %s", strerror(errno));
		EXPECT_EQ(cfd, cap.fd);
		EXPECT_EQ(0, cap.flags);
		EXPECT_EQ(0, cap.count);
		EXPECT_EQ(0, cap.bytes);
		EXPECT_EQ(0, cap.first_seq);
		EXPECT_EQ(0, cap.last_seq);
		EXPECT_EQ(0, cap.markers);
		EXPECT_EQ(IMG_EMPTY, cap.stream_len);
		EXPECT_EQ(0, cap.reserved[0] | cap.reserved[1]);
		capimg_read(_metadata, cfd, 0, &cap, &ci);
		expect_chan_section(_metadata, self, &ci, c, id);
		EXPECT_STREQ("", ci.hdr.group);
		EXPECT_EQ(77, ci.chan.first_seq);
		EXPECT_EQ(77, ci.chan.next_seq);
		capimg_free(&ci);
	}
}

/* The lengths of the partial test: zero, odd, exactly 8, spanning pads. */
static const size_t part_len[] = { 0, 1, 7, 8, 9, 100, 3 };
#define NPART (sizeof(part_len) / sizeof(part_len[0]))

TEST_F(mark, capture_partial)
{
	struct snapchan_capture cap, cap2;
	struct snapchan_chan_info info;
	struct capimg ci, ci2;
	uint64_t id, expect_len, bytes = 0;
	const char *c;
	int wr, rd, cfd, cfd2;
	unsigned int i;

	c = new_chan_ex(_metadata, self, "part", NULL, 4096, 64, 512, 500, &id);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);

	/* 500: consumed before the capture.  Then d501 M11 d502.. M12 at end */
	send_msg(_metadata, wr, 33, 99);
	expect_data(_metadata, rd, 500, 33, 99);
	for (i = 0; i < NPART; i++) {
		send_msg(_metadata, wr, part_len[i], i);
		bytes += part_len[i];
		if (i == 0)
			ASSERT_EQ(0, mark(wr, 11));
	}
	ASSERT_EQ(0, mark(wr, 12));
	info = info_of(_metadata, self, c);

	cfd = capture(self, rd, &cap);
	ASSERT_LE(0, cfd) TH_LOG("CAPTURE: %s", strerror(-cfd));
	EXPECT_EQ(cfd, cap.fd);
	EXPECT_EQ(NPART + 2, cap.count);
	EXPECT_EQ(bytes, cap.bytes);
	EXPECT_EQ(501, cap.first_seq);
	EXPECT_EQ(500 + NPART, cap.last_seq);
	EXPECT_EQ(2, cap.markers);
	expect_len = IMG_EMPTY + (NPART + 2) * IMG_REC;
	for (i = 0; i < NPART; i++)
		expect_len += pad8(part_len[i]);
	EXPECT_EQ(expect_len, cap.stream_len);

	/* Nothing was consumed; traffic goes on while the capture is open. */
	{
		struct snapchan_chan_info now = info_of(_metadata, self, c);

		EXPECT_EQ(info.depth_msgs, now.depth_msgs);
		EXPECT_EQ(info.depth_bytes, now.depth_bytes);
		EXPECT_EQ(info.markers_queued, now.markers_queued);
		EXPECT_EQ(info.total_received, now.total_received);
		EXPECT_EQ(info.next_seq, now.next_seq);
	}
	send_msg(_metadata, wr, 5, 50);		/* after the capture: not in it */
	ASSERT_EQ(0, mark(wr, 13));
	expect_data(_metadata, rd, 501, part_len[0], 0);

	/* The same capture from the sending end, taken now. */
	cfd2 = capture(self, wr, &cap2);
	ASSERT_LE(0, cfd2);
	EXPECT_EQ(NPART + 3, cap2.count);	/* 501 gone; 5 bytes and M13 in */
	EXPECT_EQ(502, cap2.first_seq);
	EXPECT_EQ(501 + NPART, cap2.last_seq);
	EXPECT_EQ(3, cap2.markers);

	capimg_read(_metadata, cfd, 0, &cap, &ci);
	expect_chan_section(_metadata, self, &ci, c, id);
	EXPECT_EQ(501, ci.chan.first_seq);
	EXPECT_EQ(501 + NPART, ci.chan.next_seq);
	expect_img_data(_metadata, &ci, 0, 501, part_len[0], 0);
	expect_img_marker(_metadata, &ci, 1, 11);
	for (i = 1; i < NPART; i++)
		expect_img_data(_metadata, &ci, i + 1, 501 + i, part_len[i], i);
	expect_img_marker(_metadata, &ci, NPART + 1, 12);
	capimg_free(&ci);

	capimg_read(_metadata, cfd2, 0, &cap2, &ci2);
	expect_img_marker(_metadata, &ci2, 0, 11);
	for (i = 1; i < NPART; i++)
		expect_img_data(_metadata, &ci2, i, 501 + i, part_len[i], i);
	expect_img_marker(_metadata, &ci2, NPART, 12);
	expect_img_data(_metadata, &ci2, NPART + 1, 501 + NPART, 5, 50);
	expect_img_marker(_metadata, &ci2, NPART + 2, 13);
	capimg_free(&ci2);

	/* The reader still gets everything, in order. */
	expect_marker(_metadata, rd, 11);
	for (i = 1; i < NPART; i++)
		expect_data(_metadata, rd, 501 + i, part_len[i], i);
	expect_marker(_metadata, rd, 12);
	expect_data(_metadata, rd, 501 + NPART, 5, 50);
	expect_marker(_metadata, rd, 13);
}

TEST_F(mark, capture_full)
{
	struct snapchan_capture cap;
	struct capimg ci;
	uint64_t id;
	const char *c;
	int wr, rd, cfd, i;
	char buf[4];

	c = new_chan_ex(_metadata, self, "cfull", NULL, 2048, 8, 256, 0, &id);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	for (i = 0; i < 8; i++) {
		send_msg(_metadata, wr, 256, i);
		if (i == 3)
			ASSERT_EQ(0, mark(wr, 333));
	}
	ASSERT_EQ(0, mark(wr, 444));
	EXPECT_EQ(-1, write(wr, buf, 1));
	EXPECT_EQ(EAGAIN, errno);

	cfd = capture(self, wr, &cap);
	ASSERT_LE(0, cfd);
	EXPECT_EQ(10, cap.count);
	EXPECT_EQ(2048, cap.bytes);
	EXPECT_EQ(1, cap.first_seq);
	EXPECT_EQ(8, cap.last_seq);
	EXPECT_EQ(2, cap.markers);
	EXPECT_EQ(IMG_EMPTY + 10 * IMG_REC + 2048, cap.stream_len);
	/* Still full: the capture made no room. */
	EXPECT_EQ(-1, write(wr, buf, 1));
	EXPECT_EQ(EAGAIN, errno);

	capimg_read(_metadata, cfd, 4096, &cap, &ci);
	expect_chan_section(_metadata, self, &ci, c, id);
	for (i = 0; i < 4; i++)
		expect_img_data(_metadata, &ci, i, 1 + i, 256, i);
	expect_img_marker(_metadata, &ci, 4, 333);
	for (i = 4; i < 8; i++)
		expect_img_data(_metadata, &ci, i + 1, 1 + i, 256, i);
	expect_img_marker(_metadata, &ci, 9, 444);
	EXPECT_EQ(9, ci.chan.next_seq);
	capimg_free(&ci);

	for (i = 0; i < 4; i++)
		expect_data(_metadata, rd, 1 + i, 256, i);
	expect_marker(_metadata, rd, 333);
	for (i = 4; i < 8; i++)
		expect_data(_metadata, rd, 1 + i, 256, i);
	expect_marker(_metadata, rd, 444);
}

/* Only markers buffered: no sequence numbers; first_seq == next_seq. */
TEST_F(mark, capture_only_markers)
{
	struct snapchan_capture cap;
	struct capimg ci;
	const char *c;
	int wr, rd, cfd;

	c = new_chan_ex(_metadata, self, "onlym", NULL, 0, 0, 0, 9, NULL);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	send_msg(_metadata, wr, 3, 1);
	ASSERT_EQ(0, mark(wr, 21));
	ASSERT_EQ(0, mark(wr, 22));
	expect_data(_metadata, rd, 9, 3, 1);

	cfd = capture(self, rd, &cap);
	ASSERT_LE(0, cfd);
	EXPECT_EQ(2, cap.count);
	EXPECT_EQ(2, cap.markers);
	EXPECT_EQ(0, cap.bytes);
	EXPECT_EQ(0, cap.first_seq);
	EXPECT_EQ(0, cap.last_seq);
	EXPECT_EQ(IMG_EMPTY + 2 * IMG_REC, cap.stream_len);
	capimg_read(_metadata, cfd, 0, &cap, &ci);
	EXPECT_EQ(10, ci.chan.first_seq);
	EXPECT_EQ(10, ci.chan.next_seq);
	expect_img_marker(_metadata, &ci, 0, 21);
	expect_img_marker(_metadata, &ci, 1, 22);
	capimg_free(&ci);
}

/* A group channel may be captured; the image names its group. */
TEST_F(mark, capture_group_channel)
{
	struct snapchan_capture cap;
	struct capimg ci;
	uint64_t id;
	const char *c;
	int wr, cfd;

	c = new_chan_ex(_metadata, self, "gc", self->group, 0, 0, 0, 0, &id);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	send_msg(_metadata, wr, 10, 4);
	cfd = capture(self, wr, &cap);
	ASSERT_LE(0, cfd) TH_LOG("CAPTURE: %s", strerror(-cfd));
	EXPECT_EQ(1, cap.count);
	capimg_read(_metadata, cfd, 0, &cap, &ci);
	EXPECT_STREQ(self->group, ci.hdr.group);
	EXPECT_STREQ(self->group, ci.chan.group);
	expect_chan_section(_metadata, self, &ci, c, id);
	expect_img_data(_metadata, &ci, 0, 1, 10, 4);
	capimg_free(&ci);
}

/* --- capture under traffic ------------------------------------------------ */

#define FLOW_MARK_EVERY	50

struct flow {
	int wr, rd;
	unsigned int n;
	int with_markers;
	uint64_t first_seq;
	atomic_int writer_done;
	atomic_int reader_done;
	atomic_int failed;
	atomic_uint sent;	/* messages write() returned for */
	atomic_uint recvd;	/* messages RECV returned */
	char err[200];
	unsigned int received;
	unsigned int markers;
};

static void flow_fail(struct flow *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void flow_fail(struct flow *f, const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&f->failed, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

static size_t flow_len(uint64_t i)
{
	return 8 + (i * 13) % 57;
}

static void flow_fill(unsigned char *buf, uint64_t i)
{
	size_t len = flow_len(i);

	memcpy(buf, &i, 8);
	fill(buf + 8, len - 8, (unsigned int)i);
}

/* Message @i is well formed. */
static int flow_ok(const unsigned char *buf, size_t len, uint64_t i)
{
	uint64_t v;

	if (len != flow_len(i))
		return 0;
	memcpy(&v, buf, 8);
	return v == i && check_fill(buf + 8, len - 8, (unsigned int)i);
}

static void *flow_writer(void *arg)
{
	struct flow *f = arg;
	unsigned char buf[128];
	uint64_t i;
	ssize_t n;
	int ret;

	for (i = 0; i < f->n && !atomic_load(&f->failed); i++) {
		flow_fill(buf, i);
		n = write(f->wr, buf, flow_len(i));
		if (n != (ssize_t)flow_len(i)) {
			flow_fail(f, "write %llu: %zd (%s)", (unsigned long long)i,
				  n, strerror(errno));
			break;
		}
		atomic_store(&f->sent, i + 1);
		/* Marker k follows message k - 1. */
		if (f->with_markers && (i + 1) % FLOW_MARK_EVERY == 0) {
			ret = mark(f->wr, i + 1);
			if (ret) {
				flow_fail(f, "MARK %llu: %s",
					  (unsigned long long)i + 1, strerror(-ret));
				break;
			}
		}
	}
	atomic_store(&f->writer_done, 1);
	return NULL;
}

static void *flow_reader(void *arg)
{
	struct flow *f = arg;
	unsigned int want_markers = f->with_markers ? f->n / FLOW_MARK_EVERY : 0;
	unsigned char buf[128];
	struct snapchan_recv r;
	int ret;

	while ((f->received < f->n || f->markers < want_markers) &&
	       !atomic_load(&f->failed)) {
		ret = recv_rec(f->rd, buf, sizeof(buf), 0, &r);
		if (ret) {
			flow_fail(f, "RECV after %u: %s", f->received, strerror(-ret));
			break;
		}
		if (r.type == SNAPCHAN_REC_MARKER) {
			if (!f->with_markers || r.snap_id != f->received ||
			    r.snap_id % FLOW_MARK_EVERY || r.origin) {
				flow_fail(f, "marker %llu after %u messages",
					  (unsigned long long)r.snap_id, f->received);
				break;
			}
			f->markers++;
			continue;
		}
		if (r.type != SNAPCHAN_REC_DATA ||
		    r.seq != f->first_seq + f->received ||
		    !flow_ok(buf, r.len, f->received)) {
			flow_fail(f, "message %u: type %u seq %llu len %u", f->received,
				  r.type, (unsigned long long)r.seq, r.len);
			break;
		}
		f->received++;
		atomic_store(&f->recvd, f->received);
	}
	atomic_store(&f->reader_done, 1);
	return NULL;
}

/* One capture taken under traffic: everything about it is consistent. */
static void flow_check_capture(struct __test_metadata *_metadata,
			       struct flow *f, const struct snapchan_capture *cap,
			       const struct capimg *ci)
{
	struct snapchan_image_record_view r;
	uint64_t j, data = 0, seq = cap->first_seq, prev_index = UINT64_MAX;
	int last_was_data = 0;

	for (j = 0; j < ci->chan.record_count; j++) {
		ASSERT_EQ(0, snapchan_image_record(ci->img, 0, j, &r));
		if (r.type == SNAPCHAN_REC_MARKER) {
			ASSERT_TRUE(f->with_markers);
			ASSERT_EQ(0, r.snap_id % FLOW_MARK_EVERY);
			/* Right behind the message before it, if captured. */
			if (last_was_data) {
				ASSERT_EQ(r.snap_id, prev_index + 1)
					TH_LOG("marker %llu after message %llu",
					       (unsigned long long)r.snap_id,
					       (unsigned long long)prev_index);
			} else if (data == 0 && cap->first_seq) {
				ASSERT_EQ(r.snap_id, cap->first_seq - f->first_seq)
					TH_LOG("marker %llu before message %llu",
					       (unsigned long long)r.snap_id,
					       (unsigned long long)(cap->first_seq - f->first_seq));
			}
			last_was_data = 0;
			continue;
		}
		ASSERT_EQ(SNAPCHAN_REC_DATA, r.type);
		ASSERT_EQ(seq, r.seq) TH_LOG("record %llu: a hole in the capture",
					     (unsigned long long)j);
		/* Between messages k - 1 and k, marker k was buffered too. */
		if (f->with_markers && last_was_data &&
		    (prev_index + 1) % FLOW_MARK_EVERY == 0)
			ASSERT_TRUE(0) TH_LOG("marker %llu missing from the capture",
					      (unsigned long long)prev_index + 1);
		prev_index = r.seq - f->first_seq;
		ASSERT_TRUE(flow_ok(r.payload, r.len, prev_index))
			TH_LOG("message %llu: payload differs",
			       (unsigned long long)prev_index);
		seq++;
		data++;
		last_was_data = 1;
	}
	if (data) {
		ASSERT_EQ(data, cap->last_seq - cap->first_seq + 1);
	} else {
		ASSERT_EQ(0, cap->first_seq);
	}
	ASSERT_EQ(cap->count, data + cap->markers);
	if (!f->with_markers)
		ASSERT_EQ(0, cap->markers);
}

static void capture_under_traffic(struct __test_metadata *_metadata,
				  FIXTURE_DATA(mark) *self, int with_markers)
{
	static const size_t chunks[] = { 0, 4096, 333, 65536 + 7 };
	struct snapchan_capture cap;
	struct snapchan_chan_info info;
	uint64_t prev_first = 0, prev_last = 0;
	unsigned int ncaps = 0, nonempty = 0, full = 0;
	struct flow f;
	struct capimg ci;
	pthread_t tw, tr;
	struct timespec ts;
	const char *c;
	int cfd;

	c = new_chan_ex(_metadata, self, with_markers ? "flowm" : "flow", NULL,
			0, 64, 128, 1000, NULL);
	memset(&f, 0, sizeof(f));
	f.n = 6000;
	f.with_markers = with_markers;
	f.first_seq = 1000;
	f.wr = open_end(_metadata, self, c, O_WRONLY);
	f.rd = open_end(_metadata, self, c, O_RDONLY);
	ASSERT_EQ(0, pthread_create(&tw, NULL, flow_writer, &f));
	ASSERT_EQ(0, pthread_create(&tr, NULL, flow_reader, &f));

	while (!atomic_load(&f.reader_done)) {
		unsigned int r0, w0, r1, w1;
		uint64_t next;

		r0 = atomic_load(&f.recvd);
		w0 = atomic_load(&f.sent);
		cfd = capture(self, ncaps & 1 ? f.wr : f.rd, &cap);
		w1 = atomic_load(&f.sent);
		r1 = atomic_load(&f.recvd);
		ASSERT_LE(0, cfd) TH_LOG("CAPTURE %u: %s", ncaps, strerror(-cfd));
		ASSERT_EQ(cfd, cap.fd);
		capimg_read(_metadata, cfd, chunks[ncaps % 4], &cap, &ci);
		flow_check_capture(_metadata, &f, &cap, &ci);
		/*
		 * Every message buffered at one instant between the two
		 * pairs of loads: sent by then and not yet consumed (one
		 * write and one RECV may be in flight).
		 */
		next = ci.chan.next_seq - f.first_seq;
		ASSERT_LE(w0, next) TH_LOG("capture misses messages sent before it");
		ASSERT_GE(w1 + 1ULL, next) TH_LOG("capture has messages sent after it");
		if (cap.first_seq) {
			ASSERT_LE(r0, cap.first_seq - f.first_seq)
				TH_LOG("capture has messages consumed before it");
			ASSERT_GE(r1 + 1ULL, cap.first_seq - f.first_seq)
				TH_LOG("capture misses messages consumed after it");
		} else {
			ASSERT_LE(r0, next);
			ASSERT_GE(r1 + 1ULL, next);
		}
		/* Point in time: the reader only moves forward. */
		if (cap.first_seq) {
			ASSERT_LE(prev_first, cap.first_seq);
			ASSERT_LE(prev_last, cap.last_seq);
			prev_first = cap.first_seq;
			prev_last = cap.last_seq;
			nonempty++;
			if (cap.last_seq - cap.first_seq + 1 == 64)
				full++;
		} else {
			ASSERT_LE(prev_last + 1, ci.chan.next_seq);
		}
		capimg_free(&ci);
		drop(self, cfd);
		ncaps++;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	ASSERT_EQ(0, pthread_timedjoin_np(tr, NULL, &ts));
	ASSERT_EQ(0, pthread_timedjoin_np(tw, NULL, &ts));
	ASSERT_FALSE(atomic_load(&f.failed)) TH_LOG("%s", f.err);
	EXPECT_EQ(f.n, f.received);
	info = info_of(_metadata, self, c);
	EXPECT_EQ(f.n, info.total_sent);
	EXPECT_EQ(f.n, info.total_received);
	EXPECT_EQ(0, info.depth_msgs);
	EXPECT_EQ(0, info.markers_queued);
	EXPECT_EQ(1000 + f.n, info.next_seq);
	TH_LOG("%u captures, %u with data, %u of a full queue", ncaps, nonempty, full);
	EXPECT_LT(0, nonempty);
}

TEST_F_TIMEOUT(mark, capture_under_traffic, 240)
{
	capture_under_traffic(_metadata, self, 0);
}

TEST_F_TIMEOUT(mark, capture_under_traffic_markers, 240)
{
	capture_under_traffic(_metadata, self, 1);
}

/* A capture keeps its records: after they were consumed, after destroy. */
TEST_F(mark, capture_outlives_records)
{
	struct snapchan_capture a, b, d;
	struct capimg ca, cb, cd;
	char first[100];
	const char *c;
	int wr, rd, fa, fb, fd, i;
	ssize_t n;

	c = new_chan(_metadata, self, "life", 0, 0, 1024);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	for (i = 0; i < 3; i++)
		send_msg(_metadata, wr, 300 + i, 30 + i);
	ASSERT_EQ(0, mark(wr, 31337));

	fa = capture(self, rd, &a);
	ASSERT_LE(0, fa);
	fb = capture(self, wr, &b);
	ASSERT_LE(0, fb);
	fd = capture(self, rd, &d);
	ASSERT_LE(0, fd);
	EXPECT_EQ(4, a.count);
	/* Part of one stream before everything goes. */
	n = read(fd, first, sizeof(first));
	ASSERT_EQ(sizeof(first), n);

	/* Consume everything: capture A still has it all. */
	for (i = 0; i < 3; i++)
		expect_data(_metadata, rd, 1 + i, 300 + i, 30 + i);
	expect_marker(_metadata, rd, 31337);
	EXPECT_EQ(0, info_of(_metadata, self, c).depth_msgs);
	capimg_read(_metadata, fa, 1000, &a, &ca);
	for (i = 0; i < 3; i++)
		expect_img_data(_metadata, &ca, i, 1 + i, 300 + i, 30 + i);
	expect_img_marker(_metadata, &ca, 3, 31337);

	/* Destroy the channel and close its ends: B and D still read. */
	ASSERT_EQ(0, sc_destroy(self->ctl, c));
	drop(self, wr);
	drop(self, rd);
	capimg_read(_metadata, fb, 0, &b, &cb);
	for (i = 0; i < 3; i++)
		expect_img_data(_metadata, &cb, i, 1 + i, 300 + i, 30 + i);
	expect_img_marker(_metadata, &cb, 3, 31337);
	ASSERT_EQ(ca.len, cb.len);
	EXPECT_EQ(0, memcmp((char *)ca.buf + IMG_HDR, (char *)cb.buf + IMG_HDR,
			    ca.len - IMG_HDR - IMG_TRAILER));

	/* The rest of D, read after the destroy, completes the image. */
	memset(&cd, 0, sizeof(cd));
	cd.len = sc_read_image(fd, 0, &cd.buf);
	ASSERT_LE(0, cd.len);
	ASSERT_EQ(d.stream_len, cd.len + sizeof(first));
	{
		char *whole = malloc(d.stream_len);

		ASSERT_NE(NULL, whole);
		memcpy(whole, first, sizeof(first));
		memcpy(whole + sizeof(first), cd.buf, cd.len);
		free(cd.buf);
		cd.buf = whole;
		cd.len = d.stream_len;
	}
	capimg_parse(_metadata, &d, &cd);
	for (i = 0; i < 3; i++)
		expect_img_data(_metadata, &cd, i, 1 + i, 300 + i, 30 + i);
	expect_img_marker(_metadata, &cd, 3, 31337);
	capimg_free(&ca);
	capimg_free(&cb);
	capimg_free(&cd);
}

/*
 * Short reads resume exactly.  Every capture has its own time stamps (and
 * so its own CRC), so images are compared with those fields masked; each
 * one is also verified in full.
 */
static void mask_times(void *buf, size_t len)
{
	memset((char *)buf + offsetof(struct snapchan_img_header, begin_ns), 0, 16);
	memset((char *)buf + len - IMG_TRAILER +
	       offsetof(struct snapchan_img_trailer, crc32c), 0, 4);
}

TEST_F(mark, capture_short_reads)
{
	static const size_t chunks[] = { 1, 3, 7, 4096, 0 };
	struct snapchan_capture cap;
	struct capimg ci[5], mixed;
	const char *c;
	int wr, cfd, i;
	unsigned int k;

	c = new_chan(_metadata, self, "short", 0, 0, 2048);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	for (i = 0; i < 12; i++) {
		send_msg(_metadata, wr, (i * 37) % 150, i);
		if (i % 5 == 2)
			ASSERT_EQ(0, mark(wr, 900 + i));
	}
	send_msg(_metadata, wr, 2048, 99);

	for (k = 0; k < 5; k++) {
		cfd = capture(self, wr, &cap);
		ASSERT_LE(0, cfd);
		EXPECT_EQ(15, cap.count);
		/* sc_read_image checks nothing about sizes: do it here. */
		memset(&ci[k], 0, sizeof(ci[k]));
		if (chunks[k]) {
			size_t room = cap.stream_len + 8192, len = 0;
			char *buf = malloc(room);
			ssize_t n;

			ASSERT_NE(NULL, buf);
			for (;;) {
				n = read(cfd, buf + len, chunks[k]);
				ASSERT_LE(0, n) TH_LOG("read: %s", strerror(errno));
				if (!n)
					break;
				ASSERT_GE(chunks[k], n);
				len += n;
				/* A short read happens only at the end. */
				if ((size_t)n < chunks[k])
					ASSERT_EQ(cap.stream_len, len);
				ASSERT_GE(cap.stream_len, len);
			}
			ci[k].buf = buf;
			ci[k].len = len;
			capimg_parse(_metadata, &cap, &ci[k]);
		} else {
			capimg_read(_metadata, cfd, 0, &cap, &ci[k]);
		}
		drop(self, cfd);
	}
	for (k = 0; k < 5; k++)
		mask_times(ci[k].buf, ci[k].len);
	for (k = 1; k < 5; k++) {
		ASSERT_EQ(ci[0].len, ci[k].len);
		EXPECT_EQ(0, memcmp(ci[0].buf, ci[k].buf, ci[0].len))
			TH_LOG("reads of %zu bytes gave other bytes than reads of 1",
			       chunks[k]);
	}

	/* One stream read in every size in turn, then with readv(). */
	cfd = capture(self, wr, &cap);
	ASSERT_LE(0, cfd);
	memset(&mixed, 0, sizeof(mixed));
	mixed.buf = malloc(cap.stream_len + 64);
	ASSERT_NE(NULL, mixed.buf);
	{
		size_t len = 0;
		ssize_t n;

		for (k = 0; len < 300; k++) {
			n = read(cfd, (char *)mixed.buf + len, chunks[k % 3]);
			ASSERT_EQ(chunks[k % 3], n);
			len += n;
		}
		while (len < cap.stream_len) {
			char *p = (char *)mixed.buf + len;
			struct iovec iov[4] = {
				{ p, 1 }, { p + 1, 5 }, { p + 6, 0 }, { p + 6, 11 },
			};

			n = readv(cfd, iov, 4);
			ASSERT_LT(0, n);
			len += n;
		}
		ASSERT_EQ(cap.stream_len, len);
		ASSERT_EQ(0, read(cfd, (char *)mixed.buf + len, 64));
		mixed.len = len;
	}
	capimg_parse(_metadata, &cap, &mixed);
	mask_times(mixed.buf, mixed.len);
	EXPECT_EQ(0, memcmp(ci[0].buf, mixed.buf, mixed.len));
	capimg_free(&mixed);
	for (k = 0; k < 5; k++)
		capimg_free(&ci[k]);
}

/* Not seekable; EOF stays EOF; read-only; no ioctls; bad buffers. */
TEST_F(mark, capture_fd_properties)
{
	struct snapchan_capture cap, cap2;
	struct capimg ci;
	const char *c;
	char buf[64];
	int wr, cfd, cfd2;

	c = new_chan(_metadata, self, "props", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	send_msg(_metadata, wr, 50, 1);
	cfd = capture(self, wr, &cap);
	ASSERT_LE(0, cfd);

	EXPECT_EQ(-1, lseek(cfd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, lseek(cfd, 0, SEEK_CUR));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, lseek(cfd, 0, SEEK_END));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, pread(cfd, buf, sizeof(buf), 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, write(cfd, "x", 1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioctl(cfd, SNAPCHAN_IOC_CAPTURE, &cap2));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(cfd, SNAPCHAN_IOC_MARK, &(struct snapchan_mark){ .snap_id = 1 }));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(0, read(cfd, buf, 0));
	/* A bad buffer: EFAULT, and the stream has not moved. */
	EXPECT_EQ(-1, read(cfd, unmapped(_metadata), 64));
	EXPECT_EQ(EFAULT, errno);

	capimg_read(_metadata, cfd, 0, &cap, &ci);
	expect_img_data(_metadata, &ci, 0, 1, 50, 1);
	capimg_free(&ci);

	/*
	 * A read that faults part-way returns what it copied; the stream
	 * resumes right after it.
	 */
	{
		char *page, *first;
		ssize_t n, m;
		void *rest;

		cfd2 = capture(self, wr, &cap2);
		ASSERT_LE(0, cfd2);
		page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, page);
		ASSERT_EQ(0, munmap(page + 4096, 4096));
		n = read(cfd2, page + 4096 - 10, 100);
		ASSERT_LT(0, n) TH_LOG("read across a fault: %s", strerror(errno));
		ASSERT_GE(10, n);
		first = malloc(n);
		ASSERT_NE(NULL, first);
		memcpy(first, page + 4096 - 10, n);
		m = sc_read_image(cfd2, 0, &rest);
		ASSERT_LE(0, m);
		ASSERT_EQ(cap2.stream_len, (uint64_t)(n + m));
		memset(&ci, 0, sizeof(ci));
		ci.buf = malloc(n + m);
		ASSERT_NE(NULL, ci.buf);
		memcpy(ci.buf, first, n);
		memcpy((char *)ci.buf + n, rest, m);
		ci.len = n + m;
		free(first);
		free(rest);
		capimg_parse(_metadata, &cap2, &ci);
		expect_img_data(_metadata, &ci, 0, 1, 50, 1);
		capimg_free(&ci);
		munmap(page, 4096);
	}
	/* End of file, again and again. */
	EXPECT_EQ(0, read(cfd, buf, sizeof(buf)));
	EXPECT_EQ(0, read(cfd, buf, sizeof(buf)));
	EXPECT_EQ(-1, lseek(cfd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(0, read(cfd, buf, 1));
}

/* Up to max_captures open at once, then ENOBUFS; closing one frees one. */
TEST_F(mark, capture_max_captures)
{
	struct snapchan_capture cap;
	const char *c, *e;
	int wr, rd, er, fds[8], i, nfd, cfd;

	c = new_chan(_metadata, self, "maxc", 0, 0, 0);
	e = new_chan(_metadata, self, "maxce", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	er = open_end(_metadata, self, e, O_RDONLY | O_NONBLOCK);
	send_msg(_metadata, wr, 100, 1);
	if (set_param(_metadata, self, "max_captures", 8))
		SKIP(return, "needs root and a writable max_captures");

	for (i = 0; i < 8; i++) {
		fds[i] = capture(self, i & 1 ? wr : rd, &cap);
		ASSERT_LE(0, fds[i]) TH_LOG("capture %d of 8: %s", i, strerror(-fds[i]));
	}
	nfd = count_fds();
	EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
	EXPECT_EQ(-ENOBUFS, capture(self, wr, &cap));
	/* The limit is global: an empty capture of another channel too. */
	EXPECT_EQ(-ENOBUFS, capture(self, er, &cap));
	EXPECT_EQ(nfd, count_fds()) TH_LOG("a refused capture left an fd");

	drop(self, fds[3]);
	cfd = capture(self, er, &cap);
	ASSERT_LE(0, cfd) TH_LOG("after closing one: %s", strerror(-cfd));
	EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
	/* Traffic is unaffected by the limit. */
	expect_data(_metadata, rd, 1, 100, 1);
	EXPECT_EQ(0, mark(wr, 5));

	/* Lowering the limit below what is open refuses new ones only. */
	ASSERT_EQ(0, sc_param_set("max_captures", 2));
	EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
	for (i = 0; i < 8; i++)
		if (i != 3)
			drop(self, fds[i]);
	/* cfd is open: one more fits, and only one. */
	fds[0] = capture(self, rd, &cap);
	ASSERT_LE(0, fds[0]) TH_LOG("1 of 2 open: %s", strerror(-fds[0]));
	EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
	drop(self, cfd);
	fds[1] = capture(self, wr, &cap);
	ASSERT_LE(0, fds[1]) TH_LOG("1 of 2 open: %s", strerror(-fds[1]));
	EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
	EXPECT_EQ(nfd - 8 + 2, count_fds());
}

/* The memory bound: max_capture_mbytes of payload held, all captures. */
TEST_F(mark, capture_max_mbytes)
{
	struct snapchan_capture cap;
	const char *c, *e;
	int wr, rd, er, a, b, nfd, i;

	c = new_chan(_metadata, self, "mbyt", 4 << 20, 64, 65536);
	e = new_chan(_metadata, self, "mbyte", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	er = open_end(_metadata, self, e, O_RDONLY | O_NONBLOCK);
	if (set_param(_metadata, self, "max_capture_mbytes", 1))
		SKIP(return, "needs root and a writable max_capture_mbytes");

	/* 640 KiB buffered: one capture fits, two do not. */
	for (i = 0; i < 10; i++)
		send_msg(_metadata, wr, 65536, i);
	a = capture(self, rd, &cap);
	ASSERT_LE(0, a) TH_LOG("640 KiB under a 1 MiB limit: %s", strerror(-a));
	EXPECT_EQ(10 * 65536, cap.bytes);
	nfd = count_fds();
	EXPECT_EQ(-ENOBUFS, capture(self, wr, &cap));
	EXPECT_EQ(nfd, count_fds()) TH_LOG("a refused capture left an fd");
	/* A small capture still fits beside it. */
	b = capture(self, er, &cap);
	ASSERT_LE(0, b) TH_LOG("empty capture beside 640 KiB: %s", strerror(-b));
	drop(self, b);

	/* Consumed records still count while the capture holds them. */
	for (i = 0; i < 10; i++)
		expect_data(_metadata, rd, 1 + i, 65536, i);
	for (i = 0; i < 10; i++)
		send_msg(_metadata, wr, 65536, 10 + i);
	EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
	drop(self, a);
	b = capture(self, rd, &cap);
	ASSERT_LE(0, b) TH_LOG("after closing the first: %s", strerror(-b));
	drop(self, b);

	/* 1.25 MiB buffered: too much even alone. */
	for (i = 0; i < 10; i++)
		send_msg(_metadata, wr, 65536, 20 + i);
	EXPECT_EQ(20, info_of(_metadata, self, c).depth_msgs);
	EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
	EXPECT_EQ(-ENOBUFS, capture(self, wr, &cap));
	EXPECT_EQ(nfd - 1, count_fds());
	/* 960 KiB: fits again. */
	for (i = 0; i < 5; i++)
		expect_data(_metadata, rd, 11 + i, 65536, 10 + i);
	a = capture(self, rd, &cap);
	ASSERT_LE(0, a) TH_LOG("960 KiB under a 1 MiB limit: %s", strerror(-a));
	EXPECT_EQ(15 * 65536, cap.bytes);
	/* And raising the limit lets a second one in. */
	ASSERT_EQ(0, sc_param_set("max_capture_mbytes", 2));
	b = capture(self, wr, &cap);
	ASSERT_LE(0, b) TH_LOG("second under 2 MiB: %s", strerror(-b));
}

TEST_F(mark, capture_bad_input)
{
	struct snapchan_capture cap, *ro;
	const char *c;
	int wr, rd, nfd, cfd, i;

	c = new_chan(_metadata, self, "cbad", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	send_msg(_metadata, wr, 10, 1);
	nfd = count_fds();

	for (i = 0; i < 32; i++) {
		memset(&cap, 0, sizeof(cap));
		cap.flags = 1U << i;
		EXPECT_EQ(-1, ioctl(rd, SNAPCHAN_IOC_CAPTURE, &cap));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flags %#x", 1U << i);
	}
	memset(&cap, 0, sizeof(cap));
	cap.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(rd, SNAPCHAN_IOC_CAPTURE, &cap));
	EXPECT_EQ(EINVAL, errno);
	cap.reserved[0] = 0;
	cap.reserved[1] = 1ULL << 63;
	EXPECT_EQ(-1, ioctl(wr, SNAPCHAN_IOC_CAPTURE, &cap));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(rd, SNAPCHAN_IOC_CAPTURE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(wr, SNAPCHAN_IOC_CAPTURE, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CAPTURE, &cap));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(nfd, count_fds());

	/* Readable but not writable: EFAULT, and no fd, no capture left. */
	memset(&cap, 0, sizeof(cap));
	ro = ro_copy(_metadata, &cap, sizeof(cap));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-1, ioctl(rd, SNAPCHAN_IOC_CAPTURE, ro));
		EXPECT_EQ(EFAULT, errno);
	}
	EXPECT_EQ(nfd, count_fds()) TH_LOG("a failed capture left an fd");
	EXPECT_EQ(1, info_of(_metadata, self, c).depth_msgs);
	if (set_param(_metadata, self, "max_captures", 1) == 0) {
		/* The failed ones were uncharged: one fits, and only one. */
		EXPECT_EQ(-1, ioctl(rd, SNAPCHAN_IOC_CAPTURE, ro));
		EXPECT_EQ(EFAULT, errno);
		cfd = capture(self, rd, &cap);
		ASSERT_LE(0, cfd) TH_LOG("after EFAULT: %s", strerror(-cfd));
		EXPECT_EQ(-ENOBUFS, capture(self, rd, &cap));
		drop(self, cfd);
	}

	/* Out fields on input are ignored. */
	memset(&cap, 0xff, sizeof(cap));
	cap.flags = 0;
	cap.reserved[0] = cap.reserved[1] = 0;
	cfd = keep(self, ioctl(rd, SNAPCHAN_IOC_CAPTURE, &cap));
	ASSERT_LE(0, cfd) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(cfd, cap.fd);
	EXPECT_EQ(1, cap.count);
	EXPECT_EQ(10, cap.bytes);
	EXPECT_EQ(0, cap.markers);
}

/* A destroyed channel cannot be captured, from either end. */
TEST_F(mark, capture_destroyed)
{
	struct snapchan_capture cap;
	const char *c;
	int wr, rd, nfd;

	c = new_chan(_metadata, self, "dead", 0, 0, 0);
	wr = open_end(_metadata, self, c, O_WRONLY | O_NONBLOCK);
	rd = open_end(_metadata, self, c, O_RDONLY | O_NONBLOCK);
	send_msg(_metadata, wr, 10, 1);
	ASSERT_EQ(0, mark(wr, 1));
	ASSERT_EQ(0, sc_destroy(self->ctl, c));
	nfd = count_fds();
	EXPECT_EQ(-ENODEV, capture(self, rd, &cap));
	EXPECT_EQ(-ENODEV, capture(self, wr, &cap));
	EXPECT_EQ(nfd, count_fds());
}

int main(int argc, char **argv)
{
	if (access(SC_CONTROL, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("%s missing: is the snapchan module loaded?\n", SC_CONTROL);
	}
	return test_harness_run(argc, argv);
}
