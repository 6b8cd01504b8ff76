// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan snapshot ABI selftests: nodes (NODE_JOIN, NODE_ATTACH,
 * NODE_DETACH, NODE_RECORD, NODE_EVENT, node fd poll), snapshots
 * (SNAP_BEGIN, SNAP_OPEN, snapshot fd read/poll, SNAP_INFO, SNAP_ABORT),
 * markers on attached channels, the images, aborts (explicit, deadline,
 * budget, member left, topology), topology changes, concurrency, retention,
 * permissions and the debugfs tables.  Contract: uapi/linux/snapchan.h and
 * DESIGN.md 3.1, 3.3, 3.4 and 3.5.
 *
 * Every test uses the group "kg<pid>" (the harness forks per test, so the
 * pid is unique), channels "kc<pid>-<tag>" and nodes named per test.  The
 * fixture teardown kills helper processes, closes every fd the test opened
 * (last opened first), destroys its channels with
 * SNAPCHAN_TOPO_F_ABORT (so that it never waits for a snapshot), restores
 * the module parameters it changed and then checks that the debugfs tables
 * no longer mention its groups.  Needs the module loaded, root, and
 * debugfs for the table checks (skipped without it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snap_util.h"
#include "kselftest_harness.h"

#define NOBODY		65534
#define MAX_CHANS	16
#define MAX_FDS		96
#define MAX_PIDS	8
#define MAX_SAVED	6
#define MAX_GROUPS	3

FIXTURE(snap) {
	int ctl;
	int ngroups;
	char groups[MAX_GROUPS][SNAPCHAN_NAME_LEN];
	const char *group;
	int nchans;
	char chans[MAX_CHANS][SNAPCHAN_NAME_LEN];
	int nfds;
	int fds[MAX_FDS];
	int npids;
	pid_t pids[MAX_PIDS];
	int nsaved;
	char saved_name[MAX_SAVED][40];
	unsigned long long saved_val[MAX_SAVED];
	int cleaned;
};

/* Remember @fd for the teardown; returns it. */
static int keep(FIXTURE_DATA(snap) *self, int fd)
{
	if (fd >= 0 && self->nfds < MAX_FDS)
		self->fds[self->nfds++] = fd;
	return fd;
}

/* Close a kept fd now (and forget it). */
static void drop(FIXTURE_DATA(snap) *self, int fd)
{
	int i;

	for (i = 0; i < self->nfds; i++) {
		if (self->fds[i] == fd) {
			self->fds[i] = -1;
			close(fd);
			return;
		}
	}
	close(fd);
}

static void kill_children(FIXTURE_DATA(snap) *self)
{
	int i;

	for (i = 0; i < self->npids; i++) {
		if (self->pids[i] > 0) {
			kill(self->pids[i], SIGKILL);
			waitpid(self->pids[i], NULL, 0);
			self->pids[i] = 0;
		}
	}
	self->npids = 0;
}

/* Close everything, destroy the channels, restore the parameters. */
static void cleanup(FIXTURE_DATA(snap) *self)
{
	int i;

	if (self->cleaned)
		return;
	self->cleaned = 1;
	kill_children(self);
	for (i = self->nfds - 1; i >= 0; i--)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
	self->nfds = 0;
	for (i = 0; i < self->nchans; i++)
		sc_destroy_flags(self->ctl, self->chans[i], SNAPCHAN_TOPO_F_ABORT);
	for (i = self->nsaved - 1; i >= 0; i--)
		sc_param_set(self->saved_name[i], self->saved_val[i]);
	self->nsaved = 0;
}

FIXTURE_SETUP(snap)
{
	self->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", SC_CONTROL, strerror(errno));
	snprintf(self->groups[0], SNAPCHAN_NAME_LEN, "kg%d", getpid());
	snprintf(self->groups[1], SNAPCHAN_NAME_LEN, "kg%dx", getpid());
	snprintf(self->groups[2], SNAPCHAN_NAME_LEN, "kg%dn", getpid());
	self->ngroups = MAX_GROUPS;
	self->group = self->groups[0];
}

FIXTURE_TEARDOWN(snap)
{
	static const char *const tables[] = { "groups", "nodes", "snapshots" };
	char dump[1024];
	int g, t, rows;

	if (self->ctl < 0)
		return;
	cleanup(self);
	if (sc_have_debugfs()) {
		for (g = 0; g < self->ngroups; g++) {
			for (t = 0; t < 3; t++) {
				rows = sc_debugfs_rows(tables[t], self->groups[g],
						       dump, sizeof(dump));
				EXPECT_EQ(0, rows)
					TH_LOG("debugfs %s still lists group %s after cleanup:\n%s",
					       tables[t], self->groups[g], dump);
			}
		}
	}
	close(self->ctl);
}

/* A fresh channel "kc<pid>-<tag>" in @group (NULL: standalone). */
static const char *new_chan_ex(struct __test_metadata *_metadata,
			       FIXTURE_DATA(snap) *self, const char *tag,
			       const char *group, unsigned long long cap_bytes,
			       unsigned int cap_msgs, unsigned int max_msg)
{
	char *n;
	int ret;

	ASSERT_LT(self->nchans, MAX_CHANS);
	n = self->chans[self->nchans++];
	snprintf(n, SNAPCHAN_NAME_LEN, "kc%d-%s", getpid(), tag);
	ret = sc_create_in(self->ctl, n, group, cap_bytes, cap_msgs, max_msg, 0);
	ASSERT_EQ(0, ret) TH_LOG("create %s in %s: %s", n, group ? group : "-",
				 strerror(-ret));
	return n;
}

static const char *new_chan(struct __test_metadata *_metadata,
			    FIXTURE_DATA(snap) *self, const char *tag,
			    const char *group)
{
	return new_chan_ex(_metadata, self, tag, group, 0, 0, 0);
}

static int open_end(struct __test_metadata *_metadata, FIXTURE_DATA(snap) *self,
		    const char *chan, int flags)
{
	int fd = sc_open_chan(chan, flags | O_NONBLOCK);

	ASSERT_LE(0, fd) TH_LOG("open %s: %s", chan, strerror(-fd));
	return keep(self, fd);
}

static int join(struct __test_metadata *_metadata, FIXTURE_DATA(snap) *self,
		const char *group, const char *name, uint64_t *id)
{
	int fd = sc_join(self->ctl, group, name, 0, id);

	ASSERT_LE(0, fd) TH_LOG("join %s/%s: %s", group, name, strerror(-fd));
	return keep(self, fd);
}

static unsigned long long param(struct __test_metadata *_metadata,
				const char *p)
{
	unsigned long long v = 0;

	ASSERT_EQ(0, sc_param(p, &v)) TH_LOG("module parameter %s unreadable", p);
	return v;
}

/* Set a module parameter for this test; restored in teardown. */
static void set_param(struct __test_metadata *_metadata,
		      FIXTURE_DATA(snap) *self, const char *p,
		      unsigned long long val)
{
	unsigned long long old;
	int ret;

	ASSERT_TRUE(sc_param_writable(p)) TH_LOG("parameter %s is read-only", p);
	ASSERT_EQ(0, sc_param(p, &old));
	ASSERT_LT(self->nsaved, MAX_SAVED);
	strcpy(self->saved_name[self->nsaved], p);
	self->saved_val[self->nsaved] = old;
	self->nsaved++;
	ret = sc_param_set(p, val);
	ASSERT_EQ(0, ret) TH_LOG("set %s=%llu: %s", p, val, strerror(-ret));
}

/* Two nodes joined by one channel: snd sends on it, rcv receives. */
struct pipeline {
	const char *chan;
	int wr, rd;		/* the attached ends (O_NONBLOCK) */
	int snd, rcv;		/* node fds */
	uint64_t snd_id, rcv_id;
};

static void make_pipeline_ex(struct __test_metadata *_metadata,
			     FIXTURE_DATA(snap) *self, struct pipeline *p,
			     const char *tag, unsigned int max_msg)
{
	char name[SNAPCHAN_NAME_LEN];

	p->chan = new_chan_ex(_metadata, self, tag, self->group, 0, 0, max_msg);
	p->wr = open_end(_metadata, self, p->chan, O_WRONLY);
	p->rd = open_end(_metadata, self, p->chan, O_RDONLY);
	snprintf(name, sizeof(name), "%s-snd", tag);
	p->snd = join(_metadata, self, self->group, name, &p->snd_id);
	snprintf(name, sizeof(name), "%s-rcv", tag);
	p->rcv = join(_metadata, self, self->group, name, &p->rcv_id);
	ASSERT_NE(0, p->snd_id);
	ASSERT_NE(0, p->rcv_id);
	ASSERT_NE(p->snd_id, p->rcv_id);
	ASSERT_EQ(0, sc_attach(p->snd, p->wr));
	ASSERT_EQ(0, sc_attach(p->rcv, p->rd));
}

static void make_pipeline(struct __test_metadata *_metadata,
			  FIXTURE_DATA(snap) *self, struct pipeline *p)
{
	make_pipeline_ex(_metadata, self, p, "p", 0);
}

static void send_str(struct __test_metadata *_metadata, int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	ASSERT_EQ((ssize_t)strlen(s), n) TH_LOG("write '%s': %s", s, strerror(errno));
}

static void send_len(struct __test_metadata *_metadata, int fd, size_t len,
		     int fill)
{
	char *buf = malloc(len);
	ssize_t n;

	ASSERT_NE(NULL, buf);
	memset(buf, fill, len);
	n = write(fd, buf, len);
	free(buf);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("write %zu: %s", len, strerror(errno));
}

/* read() one message: its length, or -errno; NUL-terminates @buf. */
static ssize_t recv_str(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static void expect_recv(struct __test_metadata *_metadata, int fd,
			const char *s)
{
	char buf[256];
	ssize_t n = recv_str(fd, buf, sizeof(buf));

	ASSERT_EQ((ssize_t)strlen(s), n) TH_LOG("read: %s", n < 0 ? strerror(-n) : buf);
	ASSERT_STREQ(s, buf);
}

static int recv_rec(int fd, struct snapchan_recv *r, unsigned int flags)
{
	static char buf[4096];

	memset(r, 0, sizeof(*r));
	r->buf = (uintptr_t)buf;
	r->buf_len = sizeof(buf);
	r->flags = flags;
	return ioctl(fd, SNAPCHAN_IOC_RECV, r) ? -errno : 0;
}

static struct snapchan_chan_info chan_info(struct __test_metadata *_metadata,
					   FIXTURE_DATA(snap) *self,
					   const char *chan)
{
	struct snapchan_chan_info info;

	ASSERT_EQ(0, sc_info(self->ctl, chan, &info));
	return info;
}

static struct snapchan_snap_info snap_info(struct __test_metadata *_metadata,
					   int fd)
{
	struct snapchan_snap_info info;
	int ret = sc_snap_info(fd, &info);

	ASSERT_EQ(0, ret) TH_LOG("SNAP_INFO: %s", strerror(-ret));
	return info;
}

static int begin(struct __test_metadata *_metadata, FIXTURE_DATA(snap) *self,
		 uint64_t timeout_ns, uint64_t budget, uint64_t *id)
{
	int fd = sc_begin(self->ctl, self->group, timeout_ns, budget, id);

	ASSERT_LE(0, fd) TH_LOG("SNAP_BEGIN %s: %s", self->group, strerror(-fd));
	return keep(self, fd);
}

static void record(struct __test_metadata *_metadata, int node, uint64_t id,
		   const char *state)
{
	int ret = sc_record_str(node, id, state);

	ASSERT_EQ(0, ret) TH_LOG("NODE_RECORD %llu: %s", (unsigned long long)id,
				 strerror(-ret));
}

/* Epoch of the group now: begin a snapshot, read it, abort it. */
static uint64_t group_epoch(struct __test_metadata *_metadata,
			    FIXTURE_DATA(snap) *self)
{
	struct snapchan_snap_info info;
	int fd = begin(_metadata, self, 0, 0, NULL);

	info = snap_info(_metadata, fd);
	/* Without members it completes at once; else abort it. */
	if (info.state == SNAPCHAN_SNAP_RUNNING)
		ASSERT_EQ(0, sc_snap_abort(fd));
	drop(self, fd);
	return info.epoch;
}

/* Wait (10 s at most) for @snap to end in @state with @reason. */
static void expect_ended(struct __test_metadata *_metadata, int snap,
			 int state, uint32_t reason)
{
	struct snapchan_snap_info info;
	short want = state == SNAPCHAN_SNAP_COMPLETE ? POLLIN : POLLERR;
	int rev = sc_poll1(snap, POLLIN, 10000);

	ASSERT_LT(0, rev) TH_LOG("snapshot did not end within 10 s");
	EXPECT_TRUE(rev & want) TH_LOG("revents %#x", rev);
	info = snap_info(_metadata, snap);
	EXPECT_EQ(state, (int)info.state);
	EXPECT_EQ(reason, info.abort_reason);
	EXPECT_NE(0, info.end_ns);
	EXPECT_LE(info.begin_ns, info.end_ns);
}

/* Read a snapshot image (in @chunk byte reads), check it, parse it. */
static struct snapchan_image *read_image(struct __test_metadata *_metadata,
					 int snap, size_t chunk)
{
	struct snapchan_image_diag diag;
	struct snapchan_snap_info info;
	struct snapchan_image *img = NULL;
	void *buf = NULL;
	ssize_t len;
	int ret;

	info = snap_info(_metadata, snap);
	ASSERT_EQ(SNAPCHAN_SNAP_COMPLETE, info.state);
	len = sc_read_image(snap, chunk, &buf);
	ASSERT_LT(0, len) TH_LOG("reading the image: %s", strerror(-len));
	EXPECT_EQ(info.image_len, (uint64_t)len);
	ret = sc_image_crc_ok(buf, len);
	EXPECT_EQ(0, ret) TH_LOG("image trailer/CRC check failed (%d)", ret);
	memset(&diag, 0, sizeof(diag));
	ret = snapchan_image_from_buffer(buf, len, &img, &diag);
	free(buf);
	ASSERT_EQ(0, ret) TH_LOG("image refused: %s at %llu: %s", strerror(-ret),
				 (unsigned long long)diag.offset, diag.msg);
	ASSERT_EQ(0, snapchan_image_verify(img, NULL));
	return img;
}

static void expect_header(struct __test_metadata *_metadata,
			  struct snapchan_image *img, int snap,
			  unsigned int nodes, unsigned int chans)
{
	struct snapchan_image_header_view h;
	struct snapchan_snap_info info = snap_info(_metadata, snap);

	ASSERT_EQ(0, snapchan_image_header(img, &h));
	EXPECT_EQ(SNAPCHAN_IMG_VERSION, h.version);
	EXPECT_EQ(SNAPCHAN_IMG_KIND_SNAPSHOT, h.kind);
	EXPECT_EQ(info.snap_id, h.snap_id);
	EXPECT_STREQ(info.group, h.group);
	EXPECT_EQ(info.epoch, h.epoch);
	EXPECT_EQ(info.begin_ns, h.begin_ns);
	/* end_ns: see image_times_match_info */
	EXPECT_EQ(info.image_len, h.total_len);
	EXPECT_EQ(info.recorded_msgs, h.record_count);
	EXPECT_EQ(nodes, h.node_count);
	EXPECT_EQ(chans, h.chan_count);
	EXPECT_EQ(nodes, info.nodes);
	EXPECT_EQ(chans, info.chans);
}

static void expect_node(struct __test_metadata *_metadata,
			struct snapchan_image *img, const char *name,
			uint64_t id, const void *state, size_t len)
{
	struct snapchan_image_node_view n;

	ASSERT_LE(0, snapchan_image_node_by_name(img, name, &n))
		TH_LOG("node %s not in the image", name);
	EXPECT_EQ(id, n.id);
	ASSERT_EQ(len, n.state_len);
	if (len)
		EXPECT_EQ(0, memcmp(state, n.state, len));
}

static void expect_node_str(struct __test_metadata *_metadata,
			    struct snapchan_image *img, const char *name,
			    uint64_t id, const char *state)
{
	expect_node(_metadata, img, name, id, state, strlen(state));
}

/*
 * The channel section @name holds exactly DATA records with sequence
 * numbers first_seq.. and the payloads @payloads[0..n-1]; the cut is
 * @next_seq.
 */
static void expect_chan(struct __test_metadata *_metadata,
			struct snapchan_image *img, const char *name,
			uint64_t sender, uint64_t receiver, uint64_t first_seq,
			uint64_t next_seq, int n, const char *const *payloads)
{
	struct snapchan_image_record_view r;
	struct snapchan_image_chan_view c;
	uint64_t bytes = 0;
	int idx, j;

	idx = snapchan_image_chan_by_name(img, name, &c);
	ASSERT_LE(0, idx) TH_LOG("channel %s not in the image", name);
	EXPECT_EQ(sender, c.sender_node);
	EXPECT_EQ(receiver, c.receiver_node);
	EXPECT_EQ(first_seq, c.first_seq);
	EXPECT_EQ(next_seq, c.next_seq);
	ASSERT_EQ((uint64_t)n, c.record_count)
		TH_LOG("channel %s: %llu records, expected %d", name,
		       (unsigned long long)c.record_count, n);
	for (j = 0; j < n; j++) {
		ASSERT_EQ(0, snapchan_image_record(img, idx, j, &r));
		EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
		EXPECT_EQ(first_seq + j, r.seq);
		ASSERT_EQ(strlen(payloads[j]), r.len);
		if (r.len)
			EXPECT_EQ(0, memcmp(payloads[j], r.payload, r.len))
			TH_LOG("record %d: payload differs", j);
		EXPECT_EQ(0, r.snap_id);
		EXPECT_EQ(0, r.origin);
		bytes += r.len;
	}
	EXPECT_EQ(bytes, c.record_bytes);
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

static int debugfs_rows(const char *table, const char *needle)
{
	if (!sc_have_debugfs())
		return -ENOENT;
	return sc_debugfs_rows(table, needle, NULL, 0);
}

/* --- a topology change in another thread ------------------------------ */

enum topo_op { T_JOIN, T_CREATE, T_DESTROY, T_ATTACH, T_DETACH };

struct topo_call {
	enum topo_op op;
	int ctl;
	int node;
	int chan_fd;
	char group[SNAPCHAN_NAME_LEN];
	char name[SNAPCHAN_NAME_LEN];
	unsigned int flags;
	pthread_t thread;
	atomic_int tid;
	atomic_int done;
	int ret;
};

static void *topo_main(void *arg)
{
	struct topo_call *c = arg;

	atomic_store(&c->tid, gettid());
	switch (c->op) {
	case T_JOIN:
		c->ret = sc_join(c->ctl, c->group, c->name, c->flags, NULL);
		break;
	case T_CREATE: {
		struct snapchan_chan_create cc;

		memset(&cc, 0, sizeof(cc));
		sc_name(cc.name, c->name);
		sc_name(cc.group, c->group);
		cc.flags = c->flags;
		c->ret = ioctl(c->ctl, SNAPCHAN_IOC_CHAN_CREATE, &cc) ? -errno : 0;
		break;
	}
	case T_DESTROY:
		c->ret = sc_destroy_flags(c->ctl, c->name, c->flags);
		break;
	case T_ATTACH:
		c->ret = sc_attach_flags(c->node, c->chan_fd, c->flags);
		break;
	case T_DETACH:
		c->ret = sc_detach_flags(c->node, c->chan_fd, c->flags);
		break;
	}
	atomic_store(&c->done, 1);
	return NULL;
}

static void topo_start(struct __test_metadata *_metadata, struct topo_call *c)
{
	int i;

	atomic_store(&c->tid, 0);
	atomic_store(&c->done, 0);
	ASSERT_EQ(0, pthread_create(&c->thread, NULL, topo_main, c));
	for (i = 0; i < 2000 && !atomic_load(&c->tid); i++)
		usleep(1000);
	ASSERT_NE(0, atomic_load(&c->tid));
}

/* Wait up to @secs for the call to return; 1 if it did. */
static int topo_finish(struct topo_call *c, int secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	return pthread_timedjoin_np(c->thread, NULL, &ts) == 0;
}

/* ===================================================================== */
/* NODE_JOIN                                                               */
/* ===================================================================== */

TEST_F(snap, join_missing_group)
{
	char g[SNAPCHAN_NAME_LEN];
	const char *c;

	snprintf(g, sizeof(g), "%snope", self->group);
	EXPECT_EQ(-ENOENT, sc_join(self->ctl, g, "a", 0, NULL));
	EXPECT_EQ(-ENOENT, sc_join(self->ctl, self->group, "a", 0, NULL));

	/* A channel creates the group; when it is gone, so is the group. */
	c = new_chan(_metadata, self, "c", self->group);
	join(_metadata, self, self->group, "a", NULL);
	cleanup(self);
	self->cleaned = 0;
	EXPECT_EQ(-ENOENT, sc_destroy(self->ctl, c));
	EXPECT_EQ(-ENOENT, sc_join(self->ctl, self->group, "a", 0, NULL));
}

TEST_F(snap, join_returns_node)
{
	struct snapchan_node_event ev;
	uint64_t id1 = 0, id2 = 0;
	int a, b, flags;

	new_chan(_metadata, self, "c", self->group);
	a = join(_metadata, self, self->group, "a", &id1);
	b = join(_metadata, self, self->group, "b", &id2);
	EXPECT_NE(0, id1);
	EXPECT_NE(0, id2);
	EXPECT_NE(id1, id2);
	flags = fcntl(a, F_GETFD);
	EXPECT_TRUE(flags & FD_CLOEXEC);
	ASSERT_EQ(0, sc_event(a, &ev));
	EXPECT_EQ(SNAPCHAN_EVENT_NONE, ev.type);
	EXPECT_EQ(id1, ev.node_id);
	EXPECT_EQ(0, ev.snap_id);
	ASSERT_EQ(0, sc_event(b, &ev));
	EXPECT_EQ(id2, ev.node_id);
	EXPECT_EQ(0, sc_poll1(a, POLLIN | POLLPRI | POLLOUT, 0));
	if (sc_have_debugfs())
		EXPECT_EQ(2, debugfs_rows("nodes", self->group));
}

TEST_F(snap, join_duplicate_name)
{
	int a;

	new_chan(_metadata, self, "c", self->group);
	new_chan(_metadata, self, "d", self->groups[1]);
	a = join(_metadata, self, self->group, "a", NULL);
	EXPECT_EQ(-EEXIST, sc_join(self->ctl, self->group, "a", 0, NULL));
	/* The same name in another group is another node. */
	join(_metadata, self, self->groups[1], "a", NULL);
	/* Once the node is gone its name is free. */
	drop(self, a);
	join(_metadata, self, self->group, "a", NULL);
}

TEST_F(snap, join_bad_flags_reserved)
{
	struct snapchan_node_join j;

	new_chan(_metadata, self, "c", self->group);
	memset(&j, 0, sizeof(j));
	sc_name(j.group, self->group);
	sc_name(j.name, "a");

	j.flags = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, &j));
	EXPECT_EQ(EINVAL, errno);
	j.flags = SNAPCHAN_TOPO_F_ABORT >> 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, &j));
	EXPECT_EQ(EINVAL, errno);
	j.flags = 0;
	j.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, &j));
	EXPECT_EQ(EINVAL, errno);
	j.reserved[0] = 0;
	j.reserved[1] = 1ULL << 63;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, &j));
	EXPECT_EQ(EINVAL, errno);
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("nodes", self->group));

	/* Output fields are not input: garbage there is fine. */
	j.reserved[1] = 0;
	j.fd = 12345;
	j.node_id = ~0ULL;
	j.flags = SNAPCHAN_TOPO_F_ABORT;
	ASSERT_LE(0, keep(self, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, &j)));
	EXPECT_NE(12345, j.fd);
	EXPECT_NE(~0ULL, j.node_id);
}

TEST_F(snap, join_bad_names)
{
	static const char *const bad[] = {
		"", "a/b", "a b", ".", "..", "a\n", "\xc3\xa9t\xc3\xa9", "x*",
	};
	struct snapchan_node_join j;
	unsigned int i;

	new_chan(_metadata, self, "c", self->group);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, sc_join(self->ctl, self->group, bad[i], 0, NULL))
			TH_LOG("node name '%s'", bad[i]);
		EXPECT_EQ(-EINVAL, sc_join(self->ctl, bad[i], "a", 0, NULL))
			TH_LOG("group name '%s'", bad[i]);
	}
	/* No terminator in the 32 bytes. */
	memset(&j, 0, sizeof(j));
	sc_name(j.group, self->group);
	memset(j.name, 'n', sizeof(j.name));
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, &j));
	EXPECT_EQ(EINVAL, errno);
	memset(&j, 0, sizeof(j));
	memset(j.group, 'g', sizeof(j.group));
	sc_name(j.name, "a");
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, &j));
	EXPECT_EQ(EINVAL, errno);
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("nodes", self->group));
	/* 31 characters, all of the allowed kinds, is fine. */
	join(_metadata, self, self->group, "Az09._-xxxxxxxxxxxxxxxxxxxxxxxx", NULL);
}

TEST_F(snap, join_bad_pointers)
{
	new_chan(_metadata, self, "c", self->group);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("nodes", self->group));
}

/*
 * The argument can be read but not written back: EFAULT, and nothing
 * changed, not even the group's topology epoch, and no fd is left open.
 */
TEST_F(snap, join_readonly_arg_nothing_changed)
{
	struct snapchan_node_join j, *ro;
	uint64_t e0, e1;
	int probe, next;

	new_chan(_metadata, self, "c", self->group);
	e0 = group_epoch(_metadata, self);
	memset(&j, 0, sizeof(j));
	sc_name(j.group, self->group);
	sc_name(j.name, "a");
	ro = ro_copy(_metadata, &j, sizeof(j));
	probe = dup(0);
	ASSERT_LE(0, probe);
	close(probe);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_JOIN, ro));
	EXPECT_EQ(EFAULT, errno);
	next = dup(0);
	EXPECT_EQ(probe, next) TH_LOG("an fd was left behind");
	close(next);
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("nodes", self->group));
	e1 = group_epoch(_metadata, self);
	EXPECT_EQ(e0, e1) TH_LOG("a failed NODE_JOIN changed the group's epoch");
	join(_metadata, self, self->group, "a", NULL);
}

/* ===================================================================== */
/* NODE_ATTACH / NODE_DETACH                                               */
/* ===================================================================== */

TEST_F(snap, attach_sets_ends)
{
	struct snapchan_chan_info info;
	struct pipeline p;
	char dump[512];

	make_pipeline(_metadata, self, &p);
	info = chan_info(_metadata, self, p.chan);
	EXPECT_EQ(p.snd_id, info.sender_node);
	EXPECT_EQ(p.rcv_id, info.receiver_node);
	EXPECT_STREQ(self->group, info.group);
	if (sc_have_debugfs()) {
		EXPECT_EQ(2, sc_debugfs_rows("nodes", p.chan, dump, sizeof(dump)));
		EXPECT_NE(NULL, strstr(dump, ">")) TH_LOG("%s", dump);
		EXPECT_NE(NULL, strstr(dump, "<")) TH_LOG("%s", dump);
	}
	ASSERT_EQ(0, sc_detach(p.snd, p.wr));
	info = chan_info(_metadata, self, p.chan);
	EXPECT_EQ(0, info.sender_node);
	EXPECT_EQ(p.rcv_id, info.receiver_node);
	ASSERT_EQ(0, sc_detach(p.rcv, p.rd));
	info = chan_info(_metadata, self, p.chan);
	EXPECT_EQ(0, info.receiver_node);
	/* Data flows through any end again. */
	send_str(_metadata, p.wr, "x");
	expect_recv(_metadata, p.rd, "x");
	/* Closing a node detaches its ends. */
	ASSERT_EQ(0, sc_attach(p.snd, p.wr));
	drop(self, p.snd);
	info = chan_info(_metadata, self, p.chan);
	EXPECT_EQ(0, info.sender_node);
}

TEST_F(snap, attach_bad_flags_reserved)
{
	struct snapchan_node_attach a;
	const char *c;
	int node, wr;

	c = new_chan(_metadata, self, "c", self->group);
	wr = open_end(_metadata, self, c, O_WRONLY);
	node = join(_metadata, self, self->group, "a", NULL);
	memset(&a, 0, sizeof(a));
	a.chan_fd = wr;
	a.flags = 1;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = SNAPCHAN_TOPO_F_ABORT >> 1;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = 0;
	a.reserved = 1;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, chan_info(_metadata, self, c).sender_node);

	a.reserved = 0;
	ASSERT_EQ(0, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	a.flags = 4;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = 0;
	a.reserved = 1ULL << 40;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_NE(0, chan_info(_metadata, self, c).sender_node);
	a.reserved = 0;
	a.flags = SNAPCHAN_TOPO_F_ABORT;
	EXPECT_EQ(0, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, &a));
	EXPECT_EQ(0, chan_info(_metadata, self, c).sender_node);
}

TEST_F(snap, attach_bad_fds)
{
	struct snapchan_capture cap;
	struct snapchan_node_attach a;
	const char *c;
	int node, other, wr, pfd[2], cfd, snapfd, opath, closed;
	char path[64];

	c = new_chan(_metadata, self, "c", self->group);
	wr = open_end(_metadata, self, c, O_WRONLY);
	node = join(_metadata, self, self->group, "a", NULL);
	other = join(_metadata, self, self->group, "b", NULL);
	snapfd = begin(_metadata, self, 0, 0, NULL);
	ASSERT_EQ(0, sc_snap_abort(snapfd));
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	keep(self, pfd[0]);
	keep(self, pfd[1]);
	memset(&cap, 0, sizeof(cap));
	cfd = keep(self, ioctl(wr, SNAPCHAN_IOC_CAPTURE, &cap));
	ASSERT_LE(0, cfd) TH_LOG("CAPTURE: %s", strerror(errno));
	snprintf(path, sizeof(path), SC_DEV_DIR "%s", c);
	opath = keep(self, open(path, O_PATH | O_CLOEXEC));
	ASSERT_LE(0, opath);
	closed = dup(wr);
	ASSERT_LE(0, closed);
	close(closed);

	memset(&a, 0, sizeof(a));
	a.chan_fd = -1;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EBADF, errno);
	a.chan_fd = closed;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EBADF, errno);
	a.chan_fd = opath;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EBADF, errno);
	a.chan_fd = pfd[0];
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.chan_fd = pfd[1];
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.chan_fd = cfd;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.chan_fd = self->ctl;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.chan_fd = node;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.chan_fd = other;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.chan_fd = snapfd;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	/* Detach checks the fd the same way. */
	a.chan_fd = -1;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, &a));
	EXPECT_EQ(EBADF, errno);
	a.chan_fd = pfd[0];
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, &a));
	EXPECT_EQ(EINVAL, errno);
	a.chan_fd = cfd;
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, chan_info(_metadata, self, c).sender_node);
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("nodes", c));
}

TEST_F(snap, attach_bad_pointers)
{
	struct snapchan_node_attach a, *ro;
	const char *c;
	int node, wr;

	c = new_chan(_metadata, self, "c", self->group);
	wr = open_end(_metadata, self, c, O_WRONLY);
	node = join(_metadata, self, self->group, "a", NULL);
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, chan_info(_metadata, self, c).sender_node);
	/* Input-only arguments may be read-only. */
	memset(&a, 0, sizeof(a));
	a.chan_fd = wr;
	ro = ro_copy(_metadata, &a, sizeof(a));
	EXPECT_EQ(0, ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, ro))
		TH_LOG("attach with a read-only argument: %s", strerror(errno));
	EXPECT_NE(0, chan_info(_metadata, self, c).sender_node);
	EXPECT_EQ(0, ioctl(node, SNAPCHAN_IOC_NODE_DETACH, ro))
		TH_LOG("detach with a read-only argument: %s", strerror(errno));
	EXPECT_EQ(0, chan_info(_metadata, self, c).sender_node);
}

TEST_F(snap, attach_ebusy)
{
	const char *c;
	int a, b, wr, wr2, rd, rd2;

	c = new_chan(_metadata, self, "c", self->group);
	wr = open_end(_metadata, self, c, O_WRONLY);
	wr2 = open_end(_metadata, self, c, O_WRONLY);
	rd = open_end(_metadata, self, c, O_RDONLY);
	rd2 = open_end(_metadata, self, c, O_RDONLY);
	a = join(_metadata, self, self->group, "a", NULL);
	b = join(_metadata, self, self->group, "b", NULL);

	ASSERT_EQ(0, sc_attach(a, wr));
	EXPECT_EQ(-EBUSY, sc_attach(a, wr));
	EXPECT_EQ(-EBUSY, sc_attach(b, wr));
	EXPECT_EQ(-EBUSY, sc_attach(b, wr2));
	EXPECT_EQ(-EBUSY, sc_attach(a, wr2));
	ASSERT_EQ(0, sc_attach(b, rd));
	EXPECT_EQ(-EBUSY, sc_attach(a, rd2));
	EXPECT_EQ(-EBUSY, sc_attach(b, rd2));
	/* The node that sends may also receive (a loop), through one fd each. */
	ASSERT_EQ(0, sc_detach(b, rd));
	EXPECT_EQ(0, sc_attach(a, rd2));
	/* Once detached the end is free for another node. */
	ASSERT_EQ(0, sc_detach(a, wr));
	EXPECT_EQ(0, sc_attach(b, wr2));
}

TEST_F(snap, detach_not_attached_enoent)
{
	const char *c;
	int a, b, wr, wr2, rd;

	c = new_chan(_metadata, self, "c", self->group);
	wr = open_end(_metadata, self, c, O_WRONLY);
	wr2 = open_end(_metadata, self, c, O_WRONLY);
	rd = open_end(_metadata, self, c, O_RDONLY);
	a = join(_metadata, self, self->group, "a", NULL);
	b = join(_metadata, self, self->group, "b", NULL);
	EXPECT_EQ(-ENOENT, sc_detach(a, wr));
	EXPECT_EQ(-ENOENT, sc_detach(a, rd));
	ASSERT_EQ(0, sc_attach(a, wr));
	/* Another node, another fd of the same side: not attached to it. */
	EXPECT_EQ(-ENOENT, sc_detach(b, wr));
	EXPECT_EQ(-ENOENT, sc_detach(a, wr2));
	EXPECT_EQ(-ENOENT, sc_detach(a, rd));
	ASSERT_EQ(0, sc_detach(a, wr));
	EXPECT_EQ(-ENOENT, sc_detach(a, wr));
}

TEST_F(snap, attach_other_group_exdev)
{
	const char *c2, *s;
	int a, w2, r2, ws, rs;

	new_chan(_metadata, self, "c", self->group);
	c2 = new_chan(_metadata, self, "x", self->groups[1]);
	s = new_chan(_metadata, self, "s", NULL);
	w2 = open_end(_metadata, self, c2, O_WRONLY);
	r2 = open_end(_metadata, self, c2, O_RDONLY);
	ws = open_end(_metadata, self, s, O_WRONLY);
	rs = open_end(_metadata, self, s, O_RDONLY);
	a = join(_metadata, self, self->group, "a", NULL);
	EXPECT_EQ(-EXDEV, sc_attach(a, w2));
	EXPECT_EQ(-EXDEV, sc_attach(a, r2));
	EXPECT_EQ(-EXDEV, sc_attach(a, ws));
	EXPECT_EQ(-EXDEV, sc_attach(a, rs));
	EXPECT_EQ(0, chan_info(_metadata, self, c2).sender_node);
	EXPECT_EQ(0, chan_info(_metadata, self, s).receiver_node);
}

TEST_F(snap, attached_ends_exclusive_eperm)
{
	struct snapchan_recv r;
	struct pipeline p;
	int wr2, rd2;

	make_pipeline(_metadata, self, &p);
	wr2 = open_end(_metadata, self, p.chan, O_WRONLY);
	rd2 = open_end(_metadata, self, p.chan, O_RDONLY);

	EXPECT_EQ(-1, write(wr2, "x", 1));
	EXPECT_EQ(EPERM, errno);
	send_str(_metadata, p.wr, "m1");
	EXPECT_EQ(-1, read(rd2, &r, sizeof(r)));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-EPERM, recv_rec(rd2, &r, 0));
	EXPECT_EQ(-EPERM, recv_rec(rd2, &r, SNAPCHAN_RECV_PEEK));
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).depth_msgs);
	expect_recv(_metadata, p.rd, "m1");

	/* Detached: every end works again. */
	ASSERT_EQ(0, sc_detach(p.snd, p.wr));
	ASSERT_EQ(0, sc_detach(p.rcv, p.rd));
	send_str(_metadata, wr2, "m2");
	expect_recv(_metadata, rd2, "m2");
}

/* ===================================================================== */
/* NODE_RECORD, NODE_EVENT: bad input                                      */
/* ===================================================================== */

TEST_F(snap, record_bad_flags_reserved)
{
	struct snapchan_node_record r;
	struct snapchan_snap_info info;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	memset(&r, 0, sizeof(r));
	r.snap_id = id;
	r.flags = 2;
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(EINVAL, errno);
	r.flags = 1U << 31;
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(EINVAL, errno);
	r.flags = 0;
	r.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(EINVAL, errno);
	r.reserved[0] = 0;
	r.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(EINVAL, errno);

	/* Nothing happened. */
	info = snap_info(_metadata, s);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, info.state);
	EXPECT_EQ(0, info.nodes_recorded);
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);

	/* The out field is not input. */
	r.reserved[1] = 0;
	r.snap_fd = 77;
	EXPECT_EQ(0, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(-1, r.snap_fd);
	EXPECT_EQ(id, r.snap_id);
	EXPECT_EQ(1, snap_info(_metadata, s).nodes_recorded);
}

TEST_F(snap, record_state_too_big_efbig)
{
	unsigned long long max = param(_metadata, "max_state_bytes");
	struct snapchan_snap_info info;
	struct pipeline p;
	uint64_t id = 0;
	char *state;
	int s;

	make_pipeline(_metadata, self, &p);
	state = calloc(1, max + 1);
	ASSERT_NE(NULL, state);
	s = begin(_metadata, self, 0, 0, &id);
	EXPECT_EQ(-EFBIG, sc_record(p.snd, id, state, max + 1));
	EXPECT_EQ(-EFBIG, sc_record(p.snd, id, state, ~0ULL));
	/* A new snapshot is not begun with a state that is too big. */
	EXPECT_EQ(-EFBIG, sc_record(p.rcv, 0, state, max + 1));
	info = snap_info(_metadata, s);
	EXPECT_EQ(0, info.nodes_recorded);
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
	EXPECT_EQ((int64_t)id, sc_pending(p.rcv));
	/* Exactly the limit is fine. */
	state[0] = 'S';
	state[max - 1] = 'E';
	EXPECT_EQ(0, sc_record(p.snd, id, state, max));
	EXPECT_EQ(0, sc_record(p.rcv, id, NULL, 0));
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	info = snap_info(_metadata, s);
	EXPECT_EQ(max, info.state_bytes);
	{
		struct snapchan_image *img = read_image(_metadata, s, 0);

		expect_node(_metadata, img, "p-snd", p.snd_id, state, max);
		expect_node(_metadata, img, "p-rcv", p.rcv_id, NULL, 0);
		snapchan_image_close(img);
	}
	free(state);
}

TEST_F(snap, record_lowered_max_state_bytes)
{
	struct pipeline p;
	char state[65];
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	set_param(_metadata, self, "max_state_bytes", 64);
	memset(state, 's', sizeof(state));
	s = begin(_metadata, self, 0, 0, &id);
	EXPECT_EQ(-EFBIG, sc_record(p.snd, id, state, 65));
	EXPECT_EQ(0, sc_record(p.snd, id, state, 64));
	set_param(_metadata, self, "max_state_bytes", 0);
	EXPECT_EQ(-EFBIG, sc_record(p.rcv, id, state, 1));
	EXPECT_EQ(0, sc_record(p.rcv, id, state, 0));
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
}

TEST_F(snap, record_bad_pointers)
{
	struct snapchan_snap_info info;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-EFAULT, sc_record(p.snd, id, NULL, 8));
	EXPECT_EQ(-EFAULT, sc_record(p.snd, id, unmapped(_metadata), 8));
	/* id 0 with a bad state: no snapshot is begun either. */
	EXPECT_EQ(-EFAULT, sc_record(p.snd, 0, NULL, 8));
	info = snap_info(_metadata, s);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, info.state);
	EXPECT_EQ(0, info.nodes_recorded);
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	if (sc_have_debugfs())
		EXPECT_EQ(1, debugfs_rows("snapshots", self->group));
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
}

/*
 * The argument can be read but not written back (snap_id and snap_fd are
 * out fields): EFAULT and nothing changed, so the node can still record.
 */
TEST_F(snap, record_readonly_arg_nothing_changed)
{
	struct snapchan_node_record r, *ro;
	struct snapchan_snap_info info;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	memset(&r, 0, sizeof(r));
	r.snap_id = id;
	ro = ro_copy(_metadata, &r, sizeof(r));
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, ro));
	EXPECT_EQ(EFAULT, errno);
	info = snap_info(_metadata, s);
	EXPECT_EQ(0, info.nodes_recorded)
		TH_LOG("NODE_RECORD failed with EFAULT but the node recorded");
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ(0, sc_record_str(p.snd, id, "A"));
}

TEST_F(snap, record_unknown_snapshot_enoent)
{
	struct pipeline p;
	uint64_t id = 0, id2 = 0;
	int s, s2, x, xr;
	const char *c2;

	make_pipeline(_metadata, self, &p);
	EXPECT_EQ(-ENOENT, sc_record_str(p.snd, 1, "A"));
	EXPECT_EQ(-ENOENT, sc_record_str(p.snd, ~0ULL, "A"));
	s = begin(_metadata, self, 0, 0, &id);
	EXPECT_EQ(-ENOENT, sc_record_str(p.snd, id + 1000, "A"));
	/* A snapshot of another group is unknown here. */
	c2 = new_chan(_metadata, self, "x", self->groups[1]);
	x = join(_metadata, self, self->groups[1], "x", NULL);
	xr = open_end(_metadata, self, c2, O_RDONLY);
	ASSERT_EQ(0, sc_attach(x, xr));
	s2 = keep(self, sc_begin(self->ctl, self->groups[1], 0, 0, &id2));
	ASSERT_LE(0, s2);
	if (id2 != id)
		EXPECT_EQ(-ENOENT, sc_record_str(p.snd, id2, "A"));
	EXPECT_EQ(-ENOENT, sc_record_str(x, id2 == id ? id + 1 : id, "X"));
	record(_metadata, x, id2, "X");
	expect_ended(_metadata, s2, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(0, snap_info(_metadata, s).nodes_recorded);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
}

/* A node that joined after a snapshot began is not one of its members. */
TEST_F(snap, record_not_member_enoent)
{
	struct pipeline p;
	uint64_t id = 0;
	int s, late;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	late = join(_metadata, self, self->group, "late", NULL);
	EXPECT_EQ(0, sc_pending(late));
	EXPECT_EQ(-ENOENT, sc_record_str(late, id, "L"));
}

TEST_F(snap, event_bad_input)
{
	struct snapchan_node_event ev;
	struct pipeline p;
	uint64_t id = 0;

	make_pipeline(_metadata, self, &p);
	begin(_metadata, self, 0, 0, &id);
	memset(&ev, 0, sizeof(ev));
	ev.reserved0 = 1;
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_EVENT, &ev));
	EXPECT_EQ(EINVAL, errno);
	memset(&ev, 0, sizeof(ev));
	ev.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_EVENT, &ev));
	EXPECT_EQ(EINVAL, errno);
	memset(&ev, 0, sizeof(ev));
	ev.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_EVENT, &ev));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_EVENT, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_EVENT, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	/* Out fields hold garbage on input: fine. */
	memset(&ev, 0, sizeof(ev));
	ev.type = 77;
	ev.snap_id = 99;
	ev.node_id = 99;
	ASSERT_EQ(0, ioctl(p.snd, SNAPCHAN_IOC_NODE_EVENT, &ev));
	EXPECT_EQ(SNAPCHAN_EVENT_RECORD, ev.type);
	EXPECT_EQ(id, ev.snap_id);
	EXPECT_EQ(p.snd_id, ev.node_id);
	EXPECT_EQ(0, ev.reserved0);
	/* Reading the event does not consume it. */
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
}

/* ===================================================================== */
/* SNAP_BEGIN, SNAP_OPEN, snapshot fds: bad input                          */
/* ===================================================================== */

TEST_F(snap, begin_bad_input)
{
	static const char *const bad[] = { "", "a/b", ".", "..", "g g" };
	struct snapchan_snap_begin b;
	char g[SNAPCHAN_NAME_LEN];
	struct pipeline p;
	unsigned int i;

	make_pipeline(_metadata, self, &p);
	memset(&b, 0, sizeof(b));
	sc_name(b.group, self->group);
	b.flags = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b));
	EXPECT_EQ(EINVAL, errno);
	b.flags = 1U << 31;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b));
	EXPECT_EQ(EINVAL, errno);
	b.flags = 0;
	b.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b));
	EXPECT_EQ(EINVAL, errno);
	b.reserved[0] = 0;
	b.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b));
	EXPECT_EQ(EINVAL, errno);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, sc_begin(self->ctl, bad[i], 0, 0, NULL))
			TH_LOG("bad group name #%u", i);
	memset(&b, 0, sizeof(b));
	memset(b.group, 'g', sizeof(b.group));
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b));
	EXPECT_EQ(EINVAL, errno);
	snprintf(g, sizeof(g), "%snope", self->group);
	EXPECT_EQ(-ENOENT, sc_begin(self->ctl, g, 0, 0, NULL));
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);

	/* Nothing was begun. */
	EXPECT_EQ(0, sc_pending(p.snd));
	EXPECT_EQ(0, sc_poll1(p.rcv, POLLPRI, 0));
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("snapshots", self->group));

	/* Out fields are not input. */
	memset(&b, 0, sizeof(b));
	sc_name(b.group, self->group);
	b.fd = 555;
	b.snap_id = 555;
	ASSERT_LE(0, keep(self, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b)));
	EXPECT_NE(555, b.fd);
	EXPECT_NE(555, b.snap_id);
	EXPECT_TRUE(fcntl(b.fd, F_GETFD) & FD_CLOEXEC);
}

/* The argument is readable but not writable: EFAULT, nothing begun. */
TEST_F(snap, begin_readonly_arg_nothing_changed)
{
	struct snapchan_snap_begin b, *ro;
	struct pipeline p;
	int probe, next;

	make_pipeline(_metadata, self, &p);
	memset(&b, 0, sizeof(b));
	sc_name(b.group, self->group);
	ro = ro_copy(_metadata, &b, sizeof(b));
	probe = dup(0);
	close(probe);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_BEGIN, ro));
	EXPECT_EQ(EFAULT, errno);
	next = dup(0);
	EXPECT_EQ(probe, next) TH_LOG("an fd was left behind");
	close(next);
	EXPECT_EQ(0, sc_pending(p.snd))
		TH_LOG("SNAP_BEGIN failed with EFAULT but a snapshot is running");
	EXPECT_EQ(0, sc_poll1(p.rcv, POLLPRI, 0));
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("snapshots", self->group));
}

TEST_F(snap, open_bad_input)
{
	static const char *const bad[] = { "", "a/b", ".", ".." };
	struct snapchan_snap_open o;
	char g[SNAPCHAN_NAME_LEN];
	struct pipeline p;
	unsigned int i;
	uint64_t id = 0;
	int ret;

	make_pipeline(_metadata, self, &p);
	begin(_metadata, self, 0, 0, &id);
	memset(&o, 0, sizeof(o));
	sc_name(o.group, self->group);
	o.snap_id = id;
	o.flags = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_OPEN, &o));
	EXPECT_EQ(EINVAL, errno);
	o.flags = 0;
	o.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_OPEN, &o));
	EXPECT_EQ(EINVAL, errno);
	o.reserved[0] = 0;
	o.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_OPEN, &o));
	EXPECT_EQ(EINVAL, errno);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, sc_snap_open(self->ctl, bad[i], id))
			TH_LOG("bad group name #%u", i);
	snprintf(g, sizeof(g), "%snope", self->group);
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, g, id));
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, id + 1));
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, ~0ULL));
	ret = sc_snap_open(self->ctl, self->group, 0);
	EXPECT_TRUE(ret == -EINVAL || ret == -ENOENT) TH_LOG("id 0: %d", ret);
	keep(self, ret);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_OPEN, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_OPEN, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	/* Out field is not input. */
	o.reserved[1] = 0;
	o.fd = 999;
	ret = keep(self, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_OPEN, &o));
	ASSERT_LE(0, ret);
	EXPECT_EQ(ret, o.fd);
	EXPECT_EQ(id, snap_info(_metadata, ret).snap_id);
}

TEST_F(snap, snapfd_info_bad_pointers)
{
	struct snapchan_snap_info info, *ro;
	struct pipeline p;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, NULL);
	EXPECT_EQ(-1, ioctl(s, SNAPCHAN_IOC_SNAP_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(s, SNAPCHAN_IOC_SNAP_INFO, unmapped(_metadata)));
	EXPECT_EQ(EFAULT, errno);
	memset(&info, 0, sizeof(info));
	ro = ro_copy(_metadata, &info, sizeof(info));
	EXPECT_EQ(-1, ioctl(s, SNAPCHAN_IOC_SNAP_INFO, ro));
	EXPECT_EQ(EFAULT, errno);
	/* Output: reserved fields zero whatever was there. */
	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, ioctl(s, SNAPCHAN_IOC_SNAP_INFO, &info));
	EXPECT_EQ(0, info.reserved[0]);
	EXPECT_EQ(0, info.reserved[3]);
	EXPECT_EQ(0, info.end_ns);
	EXPECT_EQ(0, info.image_len);
	EXPECT_EQ(0, info.abort_reason);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, info.state);
}

TEST_F(snap, wrong_fd_kinds_enotty)
{
	struct snapchan_node_record r;
	struct snapchan_snap_begin b;
	struct snapchan_node_join j;
	struct pipeline p;
	char buf[8];
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, NULL);
	memset(&r, 0, sizeof(r));
	memset(&b, 0, sizeof(b));
	memset(&j, 0, sizeof(j));
	sc_name(b.group, self->group);
	sc_name(j.group, self->group);
	sc_name(j.name, "zz");

	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.wr, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(s, SNAPCHAN_IOC_NODE_RECORD, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_NODE_JOIN, &j));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_SNAP_BEGIN, &b));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(s, SNAPCHAN_IOC_SNAP_BEGIN, &b));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_SNAP_INFO, buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.snd, SNAPCHAN_IOC_SNAP_ABORT));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_SNAP_ABORT));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.rd, SNAPCHAN_IOC_SNAP_ABORT));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(s, SNAPCHAN_IOC_NODE_EVENT, buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(s, SNAPCHAN_IOC_NODE_ATTACH, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.rd, SNAPCHAN_IOC_NODE_ATTACH, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p.snd, _IO(SNAPCHAN_IOC_MAGIC, 0x2f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(s, _IO(SNAPCHAN_IOC_MAGIC, 0x3f)));
	EXPECT_EQ(ENOTTY, errno);
	/* Nothing above began, joined or recorded anything. */
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	EXPECT_EQ(0, snap_info(_metadata, s).nodes_recorded);
	/* A node fd has no data path. */
	EXPECT_EQ(-1, read(p.snd, buf, sizeof(buf)));
	EXPECT_EQ(-1, write(s, buf, 1));
}

/* ===================================================================== */
/* The protocol on a two-node pipeline                                     */
/* ===================================================================== */

TEST_F(snap, begin_requests_record)
{
	struct snapchan_snap_info info;
	struct snapchan_node_event ev;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	EXPECT_EQ(0, sc_poll1(p.snd, POLLPRI, 0));
	EXPECT_EQ(0, sc_poll1(p.rcv, POLLPRI, 0));
	s = begin(_metadata, self, 0, 0, &id);
	EXPECT_TRUE(fcntl(s, F_GETFD) & FD_CLOEXEC);

	info = snap_info(_metadata, s);
	EXPECT_EQ(id, info.snap_id);
	EXPECT_STREQ(self->group, info.group);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, info.state);
	EXPECT_EQ(SNAPCHAN_ABORT_NONE, info.abort_reason);
	EXPECT_EQ(2, info.nodes);
	EXPECT_EQ(1, info.chans);
	EXPECT_EQ(0, info.nodes_recorded);
	EXPECT_EQ(0, info.chans_closed);
	EXPECT_NE(0, info.begin_ns);
	EXPECT_EQ(0, info.end_ns);
	EXPECT_EQ(0, info.image_len);
	EXPECT_EQ(0, sc_poll1(s, POLLIN, 0));

	EXPECT_EQ(POLLPRI, sc_poll1(p.snd, POLLIN | POLLPRI, 0));
	EXPECT_EQ(POLLPRI, sc_poll1(p.rcv, POLLIN | POLLPRI, 0));
	ASSERT_EQ(0, sc_event(p.snd, &ev));
	EXPECT_EQ(SNAPCHAN_EVENT_RECORD, ev.type);
	EXPECT_EQ(id, ev.snap_id);
	EXPECT_EQ(p.snd_id, ev.node_id);
	ASSERT_EQ(0, sc_event(p.rcv, &ev));
	EXPECT_EQ(SNAPCHAN_EVENT_RECORD, ev.type);
	EXPECT_EQ(id, ev.snap_id);
	EXPECT_EQ(p.rcv_id, ev.node_id);
	/* No marker before anyone recorded. */
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ(0, sc_poll1(p.rd, POLLPRI | POLLIN, 0));

	/* The request goes away for the node that recorded, and only it. */
	record(_metadata, p.snd, id, "A");
	EXPECT_EQ(0, sc_poll1(p.snd, POLLPRI, 0));
	EXPECT_EQ(0, sc_pending(p.snd));
	EXPECT_EQ(POLLPRI, sc_poll1(p.rcv, POLLPRI, 0));
	EXPECT_EQ(1, snap_info(_metadata, s).nodes_recorded);
	record(_metadata, p.rcv, id, "B");
	EXPECT_EQ(0, sc_poll1(p.rcv, POLLPRI, 0));
	EXPECT_EQ(0, sc_pending(p.rcv));
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
}

static void *poll_thread(void *arg)
{
	int *fd = arg;
	int ret = sc_poll1(*fd, POLLPRI, 10000);

	return (void *)(intptr_t)ret;
}

TEST_F(snap, node_poll_wakes_on_begin)
{
	struct pipeline p;
	pthread_t t;
	void *ret;
	int s;

	make_pipeline(_metadata, self, &p);
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &p.rcv));
	usleep(200000);
	s = begin(_metadata, self, 0, 0, NULL);
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(POLLPRI, (int)(intptr_t)ret);
	(void)s;
}

TEST_F(snap, sender_first_marker_at_head)
{
	struct snapchan_chan_info ci;
	struct snapchan_recv r, r2;
	struct snapchan_image *img;
	struct pipeline p;
	char buf[64];
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "sender-state");

	/* The marker is at the head of the receiver's channel. */
	EXPECT_EQ(-ENOMSG, recv_str(p.rd, buf, sizeof(buf)));
	EXPECT_EQ(POLLPRI, sc_poll1(p.rd, POLLIN | POLLPRI, 0));
	ASSERT_EQ(0, recv_rec(p.rd, &r, 0));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, r.type);
	EXPECT_EQ(id, r.snap_id);
	EXPECT_EQ(p.snd_id, r.origin);
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(0, r.seq);
	/* RECV does not consume it; neither does a peek. */
	ASSERT_EQ(0, recv_rec(p.rd, &r2, 0));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, r2.type);
	EXPECT_EQ(id, r2.snap_id);
	ASSERT_EQ(0, recv_rec(p.rd, &r2, SNAPCHAN_RECV_PEEK));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, r2.type);
	EXPECT_EQ(-ENOMSG, recv_str(p.rd, buf, sizeof(buf)));
	ci = chan_info(_metadata, self, p.chan);
	EXPECT_EQ(1, ci.markers_queued);
	EXPECT_EQ(0, ci.depth_msgs);
	/* Data behind the marker waits. */
	send_str(_metadata, p.wr, "after");
	EXPECT_EQ(-ENOMSG, recv_str(p.rd, buf, sizeof(buf)));

	EXPECT_EQ((int64_t)id, sc_pending(p.rcv));
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	EXPECT_EQ(0, snap_info(_metadata, s).chans_closed);

	/* The receiver records: the marker is consumed, state empty. */
	record(_metadata, p.rcv, id, "receiver-state");
	ci = chan_info(_metadata, self, p.chan);
	EXPECT_EQ(0, ci.markers_queued);
	EXPECT_EQ(POLLIN, sc_poll1(p.rd, POLLIN | POLLPRI, 0));
	expect_recv(_metadata, p.rd, "after");
	EXPECT_EQ(-EAGAIN, recv_str(p.rd, buf, sizeof(buf)));
	EXPECT_EQ(0, sc_poll1(p.rd, POLLIN | POLLPRI, 0));

	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(1, snap_info(_metadata, s).chans_closed);
	EXPECT_EQ(2, snap_info(_metadata, s).nodes_recorded);
	EXPECT_EQ(0, snap_info(_metadata, s).recorded_msgs);
	img = read_image(_metadata, s, 0);
	expect_header(_metadata, img, s, 2, 1);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "sender-state");
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "receiver-state");
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 1, 0, NULL);
	snapchan_image_close(img);
}

/* Messages the receiver had not taken when the sender recorded. */
TEST_F(snap, sender_first_state_ahead_of_marker)
{
	static const char *const want[] = { "m2", "m3" };
	struct snapchan_image *img;
	struct snapchan_recv r;
	struct pipeline p;
	char buf[64];
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	send_str(_metadata, p.wr, "m2");
	send_str(_metadata, p.wr, "m3");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	send_str(_metadata, p.wr, "m4");
	/* Data ahead of the marker is received as usual. */
	EXPECT_EQ(POLLIN, sc_poll1(p.rd, POLLIN | POLLPRI, 0));
	expect_recv(_metadata, p.rd, "m1");
	ASSERT_EQ(0, recv_rec(p.rd, &r, SNAPCHAN_RECV_PEEK));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(2, r.seq);
	record(_metadata, p.rcv, id, "B");
	/* The marker is gone: everything reads in order, no ENOMSG. */
	expect_recv(_metadata, p.rd, "m2");
	expect_recv(_metadata, p.rd, "m3");
	expect_recv(_metadata, p.rd, "m4");
	EXPECT_EQ(-EAGAIN, recv_str(p.rd, buf, sizeof(buf)));
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(2, snap_info(_metadata, s).recorded_msgs);
	EXPECT_EQ(4, snap_info(_metadata, s).recorded_bytes);
	img = read_image(_metadata, s, 0);
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 2, 4, 2, want);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A");
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "B");
	snapchan_image_close(img);
}

/*
 * Receiver first: the channel's state is what was queued at its record
 * plus what the sender sent until its own record.
 */
TEST_F(snap, receiver_first_then_sends)
{
	static const char *const want[] = { "m1", "m2", "m3", "m4", "m5" };
	struct snapchan_snap_info info;
	struct snapchan_image *img;
	struct pipeline p;
	char buf[64];
	uint64_t id = 0;
	int s, i;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	send_str(_metadata, p.wr, "m2");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.rcv, id, "B-state");
	EXPECT_EQ(0, sc_pending(p.rcv));
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
	info = snap_info(_metadata, s);
	EXPECT_EQ(1, info.nodes_recorded);
	EXPECT_EQ(0, info.chans_closed);
	EXPECT_EQ(2, info.recorded_msgs);
	/* Receiving goes on at full speed while the recording is open. */
	expect_recv(_metadata, p.rd, "m1");
	send_str(_metadata, p.wr, "m3");
	send_str(_metadata, p.wr, "m4");
	send_str(_metadata, p.wr, "m5");
	EXPECT_EQ(5, snap_info(_metadata, s).recorded_msgs);
	record(_metadata, p.snd, id, "A-state");
	send_str(_metadata, p.wr, "m6");
	/* No marker ever reached the receiver. */
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	for (i = 2; i <= 6; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		expect_recv(_metadata, p.rd, buf);
	}
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	info = snap_info(_metadata, s);
	EXPECT_EQ(5, info.recorded_msgs);
	EXPECT_EQ(10, info.recorded_bytes);
	EXPECT_EQ(14, info.state_bytes);
	img = read_image(_metadata, s, 0);
	expect_header(_metadata, img, s, 2, 1);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A-state");
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "B-state");
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 6, 5, want);
	snapchan_image_close(img);
}

/* The image: read in small pieces, by several fds, header and sections. */
TEST_F(snap, image_stream_and_sections)
{
	static const char *const want[] = { "hello", "" , "world!!" };
	static const unsigned char bin[13] = { 0, 1, 2, 3, 0xff, 0, 7, 8, 9, 10, 11, 12, 0 };
	struct snapchan_image_chan_view cv;
	struct snapchan_chan_info ci;
	struct snapchan_image *img;
	void *b1 = NULL, *b2 = NULL;
	ssize_t l1, l2;
	struct pipeline p;
	char buf[8];
	uint64_t id = 0;
	int s, o;

	make_pipeline_ex(_metadata, self, &p, "img", 64);
	send_str(_metadata, p.wr, "hello");
	ASSERT_EQ(0, write(p.wr, "", 0));
	send_str(_metadata, p.wr, "world!!");
	s = begin(_metadata, self, 0, 0, &id);
	ASSERT_EQ(0, sc_record(p.snd, id, bin, sizeof(bin)));
	ASSERT_EQ(0, sc_record(p.rcv, id, NULL, 0));
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);

	o = keep(self, sc_snap_open(self->ctl, self->group, id));
	ASSERT_LE(0, o);
	l1 = sc_read_image(s, 7, &b1);
	l2 = sc_read_image(o, 0, &b2);
	ASSERT_LT(0, l1);
	ASSERT_EQ(l1, l2);
	EXPECT_EQ(0, memcmp(b1, b2, l1));
	EXPECT_EQ(snap_info(_metadata, s).image_len, (uint64_t)l1);
	EXPECT_EQ(0, l1 % 8);
	EXPECT_EQ(0, sc_image_crc_ok(b1, l1));
	EXPECT_EQ(SNAPCHAN_IMG_MAGIC, sc_le32(b1));
	/* End of file stays end of file. */
	EXPECT_EQ(0, read(s, buf, sizeof(buf)));
	EXPECT_EQ(0, read(o, buf, sizeof(buf)));
	/* A corrupted copy is refused by the library (the CRC is real). */
	((unsigned char *)b2)[l2 / 2] ^= 0x10;
	EXPECT_NE(0, snapchan_image_verify_buffer(b2, l2, NULL));
	free(b1);
	free(b2);

	/* Each new fd streams the image from its start. */
	o = keep(self, sc_snap_open(self->ctl, self->group, id));
	img = read_image(_metadata, o, 3);
	expect_header(_metadata, img, s, 2, 1);
	expect_node(_metadata, img, "img-snd", p.snd_id, bin, sizeof(bin));
	expect_node(_metadata, img, "img-rcv", p.rcv_id, NULL, 0);
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 4, 3, want);
	ci = chan_info(_metadata, self, p.chan);
	ASSERT_LE(0, snapchan_image_chan_by_name(img, p.chan, &cv));
	EXPECT_EQ(ci.chan_id, cv.id);
	EXPECT_STREQ(self->group, cv.group);
	EXPECT_EQ(ci.capacity_bytes, cv.capacity_bytes);
	EXPECT_EQ(ci.capacity_msgs, cv.capacity_msgs);
	EXPECT_EQ(64, cv.max_msg);
	EXPECT_EQ(ci.mode, cv.mode);
	EXPECT_EQ(ci.flags, cv.flags);
	snapchan_image_close(img);
}

/* The image's times are the snapshot's (SNAP_INFO). */
TEST_F(snap, image_times_match_info)
{
	struct snapchan_image_header_view h;
	struct snapchan_snap_info info;
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	info = snap_info(_metadata, s);
	img = read_image(_metadata, s, 0);
	ASSERT_EQ(0, snapchan_image_header(img, &h));
	EXPECT_EQ(info.begin_ns, h.begin_ns);
	EXPECT_EQ(info.end_ns, h.end_ns)
		TH_LOG("image end_ns differs from SNAP_INFO end_ns by %lld ns",
		       (long long)(info.end_ns - h.end_ns));
	EXPECT_LE(h.begin_ns, h.end_ns);
	snapchan_image_close(img);
}

/* A complete image outlives its channels, nodes and group. */
TEST_F(snap, image_survives_teardown)
{
	static const char *const want[] = { "m1" };
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id = 0;
	int s, i;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	/* Everything but the snapshot fd goes. */
	for (i = 0; i < self->nfds; i++)
		if (self->fds[i] != s && self->fds[i] >= 0)
			drop(self, self->fds[i]);
	ASSERT_EQ(0, sc_destroy(self->ctl, p.chan));
	img = read_image(_metadata, s, 5);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A");
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 2, 1, want);
	snapchan_image_close(img);
}

TEST_F(snap, snapfd_is_a_stream)
{
	struct pipeline p;
	uint64_t id = 0;
	char buf[16];
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(-1, lseek(s, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, pread(s, buf, sizeof(buf), 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, write(s, buf, 1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ((ssize_t)sizeof(buf), read(s, buf, sizeof(buf)));
	EXPECT_EQ(SNAPCHAN_IMG_MAGIC, sc_le32(buf));
}

TEST_F(snap, begin_huge_timeout_and_budget)
{
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	send_len(_metadata, p.wr, 100, 'x');
	s = begin(_metadata, self, ~0ULL, ~0ULL, &id);
	usleep(100000);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	record(_metadata, p.rcv, id, "B");
	send_len(_metadata, p.wr, 100, 'y');
	record(_metadata, p.snd, id, "A");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(200, snap_info(_metadata, s).recorded_bytes);
}

TEST_F(snap, node_record_begins_with_snapfd)
{
	static const char *const want[] = { "x1" };
	struct snapchan_node_record r;
	struct snapchan_snap_info info;
	struct snapchan_image *img;
	struct snapchan_recv rr;
	struct pipeline p;
	uint64_t id = 0;
	int s, o;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "x1");
	memset(&r, 0, sizeof(r));
	r.state = (uintptr_t)"A0";
	r.state_len = 2;
	r.flags = SNAPCHAN_RECORD_F_SNAPFD;
	r.snap_fd = -5;
	s = keep(self, ioctl(p.snd, SNAPCHAN_IOC_NODE_RECORD, &r));
	ASSERT_LE(0, s) TH_LOG("NODE_RECORD id 0: %s", strerror(errno));
	EXPECT_EQ(s, r.snap_fd);
	id = r.snap_id;
	EXPECT_NE(0, id);
	EXPECT_TRUE(fcntl(s, F_GETFD) & FD_CLOEXEC);
	info = snap_info(_metadata, s);
	EXPECT_EQ(id, info.snap_id);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, info.state);
	EXPECT_EQ(1, info.nodes_recorded);
	EXPECT_EQ(2, info.nodes);
	EXPECT_EQ(0, sc_pending(p.snd));
	EXPECT_EQ(POLLPRI, sc_poll1(p.rcv, POLLPRI, 0));
	EXPECT_EQ((int64_t)id, sc_pending(p.rcv));
	expect_recv(_metadata, p.rd, "x1");
	ASSERT_EQ(0, recv_rec(p.rd, &rr, 0));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, rr.type);
	EXPECT_EQ(id, rr.snap_id);
	EXPECT_EQ(p.snd_id, rr.origin);

	/* An observer may open it while it runs. */
	o = keep(self, sc_snap_open(self->ctl, self->group, id));
	ASSERT_LE(0, o);
	EXPECT_EQ(0, sc_poll1(o, POLLIN, 0));
	record(_metadata, p.rcv, id, "B0");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	expect_ended(_metadata, o, SNAPCHAN_SNAP_COMPLETE, 0);
	img = read_image(_metadata, s, 0);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A0");
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "B0");
	/* x1 was received before the receiver recorded: not in flight. */
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 2, 2, 0, want);
	snapchan_image_close(img);
}

TEST_F(snap, node_record_begins_without_snapfd)
{
	struct pipeline p;
	uint64_t id = 0, id2 = 0;
	int ret, o;

	make_pipeline(_metadata, self, &p);
	/* Receiver begins: the sender is then asked. */
	ret = sc_record_ex(p.rcv, 0, "B", 1, 0, 0, 0, &id);
	ASSERT_EQ(0, ret) TH_LOG("NODE_RECORD id 0: %s", strerror(-ret));
	EXPECT_NE(0, id);
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
	o = keep(self, sc_snap_open(self->ctl, self->group, id));
	ASSERT_LE(0, o);
	record(_metadata, p.snd, id, "A");
	expect_ended(_metadata, o, SNAPCHAN_SNAP_COMPLETE, 0);
	/* Ids increase. */
	ASSERT_EQ(0, sc_record_ex(p.snd, 0, "A", 1, 0, 0, 0, &id2));
	EXPECT_LT(id, id2);
	record(_metadata, p.rcv, id2, "B");
}

TEST_F(snap, record_twice_ealready)
{
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	EXPECT_EQ(-EALREADY, sc_record_str(p.snd, id, "A2"));
	EXPECT_EQ(1, snap_info(_metadata, s).nodes_recorded);
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).markers_queued);
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(-EALREADY, sc_record_str(p.snd, id, "A3"));
	EXPECT_EQ(-EALREADY, sc_record_str(p.rcv, id, "B3"));
	{
		struct snapchan_image *img = read_image(_metadata, s, 0);

		expect_node_str(_metadata, img, "p-snd", p.snd_id, "A");
		snapchan_image_close(img);
	}
}

/* A node attached to both ends of one channel: recorded in one go. */
TEST_F(snap, self_loop_channel)
{
	static const char *const want[] = { "m1", "m2" };
	struct snapchan_image *img;
	const char *c;
	uint64_t id = 0, nid;
	int node, wr, rd, s;

	c = new_chan(_metadata, self, "loop", self->group);
	wr = open_end(_metadata, self, c, O_WRONLY);
	rd = open_end(_metadata, self, c, O_RDONLY);
	node = join(_metadata, self, self->group, "solo", &nid);
	ASSERT_EQ(0, sc_attach(node, wr));
	ASSERT_EQ(0, sc_attach(node, rd));
	send_str(_metadata, wr, "m1");
	send_str(_metadata, wr, "m2");
	s = keep(self, sc_record_ex(node, 0, "S", 1, SNAPCHAN_RECORD_F_SNAPFD,
				    0, 0, &id));
	ASSERT_LE(0, s);
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(0, chan_info(_metadata, self, c).markers_queued);
	send_str(_metadata, wr, "m3");
	expect_recv(_metadata, rd, "m1");
	img = read_image(_metadata, s, 0);
	expect_header(_metadata, img, s, 1, 1);
	expect_node_str(_metadata, img, "solo", nid, "S");
	expect_chan(_metadata, img, c, nid, nid, 1, 3, 2, want);
	snapchan_image_close(img);
}

/* A record never waits for room: markers take no capacity. */
TEST_F(snap, record_on_full_channel)
{
	static const char *const want[] = { "m1", "m2" };
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id = 0;
	double t0;
	int s;

	p.chan = new_chan_ex(_metadata, self, "full", self->group, 64, 2, 16);
	p.wr = open_end(_metadata, self, p.chan, O_WRONLY);
	p.rd = open_end(_metadata, self, p.chan, O_RDONLY);
	p.snd = join(_metadata, self, self->group, "s", &p.snd_id);
	p.rcv = join(_metadata, self, self->group, "r", &p.rcv_id);
	ASSERT_EQ(0, sc_attach(p.snd, p.wr));
	ASSERT_EQ(0, sc_attach(p.rcv, p.rd));
	send_str(_metadata, p.wr, "m1");
	send_str(_metadata, p.wr, "m2");
	EXPECT_EQ(-1, write(p.wr, "m3", 2));
	EXPECT_EQ(EAGAIN, errno);
	t0 = sc_now();
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	EXPECT_GT(2.0, sc_now() - t0);
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).markers_queued);
	/* The marker does not make the channel look fuller either. */
	EXPECT_EQ(-1, write(p.wr, "m3", 2));
	EXPECT_EQ(EAGAIN, errno);
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	img = read_image(_metadata, s, 0);
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 3, 2, want);
	snapchan_image_close(img);
}

struct blocked_call {
	int fd;
	int poll;		/* poll(POLLPRI) instead of read() */
	atomic_int tid;
	int ret;
	int err;
};

static void *blocked_main(void *arg)
{
	struct blocked_call *c = arg;
	char buf[64];

	atomic_store(&c->tid, gettid());
	if (c->poll) {
		c->ret = sc_poll1(c->fd, POLLPRI | POLLIN, 10000);
		c->err = 0;
	} else {
		c->ret = read(c->fd, buf, sizeof(buf));
		c->err = c->ret < 0 ? errno : 0;
	}
	return NULL;
}

static void marker_wakes(struct __test_metadata *_metadata,
			 FIXTURE_DATA(snap) *self, int use_poll)
{
	struct blocked_call c;
	struct timespec ts;
	struct pipeline p;
	pthread_t t;
	uint64_t id = 0;
	int fl;

	make_pipeline(_metadata, self, &p);
	begin(_metadata, self, 0, 0, &id);
	memset(&c, 0, sizeof(c));
	c.fd = p.rd;
	c.poll = use_poll;
	/* A blocking reader on the attached end. */
	fl = fcntl(p.rd, F_GETFL);
	ASSERT_EQ(0, fcntl(p.rd, F_SETFL, fl & ~O_NONBLOCK));
	ASSERT_EQ(0, pthread_create(&t, NULL, blocked_main, &c));
	while (!atomic_load(&c.tid))
		usleep(1000);
	sc_wait_sleeping(getpid(), atomic_load(&c.tid));
	record(_metadata, p.snd, id, "A");
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	ASSERT_EQ(0, pthread_timedjoin_np(t, NULL, &ts)) TH_LOG("the marker did not wake the receiver");
	ASSERT_EQ(0, fcntl(p.rd, F_SETFL, fl));
	if (use_poll) {
		EXPECT_EQ(POLLPRI, c.ret);
	} else {
		EXPECT_EQ(-1, c.ret);
		EXPECT_EQ(ENOMSG, c.err);
	}
	record(_metadata, p.rcv, id, "B");
}

TEST_F(snap, marker_wakes_blocked_read)
{
	marker_wakes(_metadata, self, 0);
}

TEST_F(snap, marker_wakes_poll)
{
	marker_wakes(_metadata, self, 1);
}

/* Nobody needs to hold a snapshot fd for a snapshot to run and complete. */
TEST_F(snap, snapshot_runs_without_fds)
{
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id = 0;
	int s, o;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	drop(self, s);
	EXPECT_EQ((int64_t)id, sc_pending(p.snd));
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	o = keep(self, sc_snap_open(self->ctl, self->group, id));
	ASSERT_LE(0, o);
	expect_ended(_metadata, o, SNAPCHAN_SNAP_COMPLETE, 0);
	img = read_image(_metadata, o, 0);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A");
	snapchan_image_close(img);
}

TEST_F(snap, join_max_nodes_enospc)
{
	int nodes, a;

	if (!sc_have_debugfs())
		SKIP(return, "needs debugfs to count the nodes");
	new_chan(_metadata, self, "c", self->group);
	nodes = debugfs_rows("nodes", NULL);
	ASSERT_LE(0, nodes);
	set_param(_metadata, self, "max_nodes", nodes + 1);
	a = join(_metadata, self, self->group, "a", NULL);
	EXPECT_EQ(-ENOSPC, sc_join(self->ctl, self->group, "b", 0, NULL));
	drop(self, a);
	join(_metadata, self, self->group, "b", NULL);
}

/* ===================================================================== */
/* Aborts                                                                  */
/* ===================================================================== */

TEST_F(snap, abort_explicit_purges_marker)
{
	struct snapchan_snap_info info;
	struct pipeline p;
	char buf[64];
	uint64_t id = 0;
	int s, rev;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	send_str(_metadata, p.wr, "m2");
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).markers_queued);
	ASSERT_EQ(0, sc_snap_abort(s));

	rev = sc_poll1(s, POLLIN, 0);
	EXPECT_TRUE(rev & POLLERR) TH_LOG("revents %#x", rev);
	EXPECT_FALSE(rev & POLLIN);
	info = snap_info(_metadata, s);
	EXPECT_EQ(SNAPCHAN_SNAP_ABORTED, info.state);
	EXPECT_EQ(SNAPCHAN_ABORT_EXPLICIT, info.abort_reason);
	EXPECT_NE(0, info.end_ns);
	EXPECT_EQ(0, info.image_len);
	EXPECT_EQ(-ECANCELED, sc_record_str(p.rcv, id, "B"));
	EXPECT_EQ(-1, read(s, buf, sizeof(buf)));
	EXPECT_EQ(ECANCELED, errno);
	EXPECT_EQ(-EALREADY, sc_snap_abort(s));

	/* The marker is gone: the receiver reads on, nobody is asked. */
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ(POLLIN, sc_poll1(p.rd, POLLIN | POLLPRI, 0));
	expect_recv(_metadata, p.rd, "m1");
	expect_recv(_metadata, p.rd, "m2");
	EXPECT_EQ(-EAGAIN, recv_str(p.rd, buf, sizeof(buf)));
	EXPECT_EQ(0, sc_pending(p.rcv));
	EXPECT_EQ(0, sc_pending(p.snd));
	EXPECT_EQ(0, sc_poll1(p.rcv, POLLPRI, 0));
}

TEST_F(snap, abort_open_recording)
{
	struct pipeline p;
	uint64_t id, id2;
	int s, s2;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.rcv, id, "B");
	ASSERT_EQ(0, sc_snap_abort(s));
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_EXPLICIT);
	send_str(_metadata, p.wr, "m2");
	EXPECT_EQ(-ECANCELED, sc_record_str(p.snd, id, "A"));
	expect_recv(_metadata, p.rd, "m1");
	expect_recv(_metadata, p.rd, "m2");
	/* The next snapshot is unaffected. */
	s2 = begin(_metadata, self, 0, 0, &id2);
	EXPECT_LT(id, id2);
	record(_metadata, p.snd, id2, "A");
	record(_metadata, p.rcv, id2, "B");
	expect_ended(_metadata, s2, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(0, snap_info(_metadata, s2).recorded_msgs);
}

TEST_F(snap, abort_complete_ealready)
{
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(-EALREADY, sc_snap_abort(s));
	EXPECT_EQ(SNAPCHAN_SNAP_COMPLETE, snap_info(_metadata, s).state);
	{
		struct snapchan_image *img = read_image(_metadata, s, 0);

		snapchan_image_close(img);
	}
}

struct read_call {
	int fd;
	ssize_t ret;
	int err;
	atomic_int tid;
	char buf[65536];
};

static void *read_main(void *arg)
{
	struct read_call *c = arg;

	atomic_store(&c->tid, gettid());
	c->ret = read(c->fd, c->buf, sizeof(c->buf));
	c->err = c->ret < 0 ? errno : 0;
	return NULL;
}

TEST_F(snap, read_running_blocks_or_eagain)
{
	static struct read_call c;
	struct timespec ts;
	struct pipeline p;
	pthread_t t;
	uint64_t id = 0;
	char buf[8];
	int s, fl;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	fl = fcntl(s, F_GETFL);
	ASSERT_EQ(0, fcntl(s, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, read(s, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, fcntl(s, F_SETFL, fl & ~O_NONBLOCK));

	c.fd = s;
	ASSERT_EQ(0, pthread_create(&t, NULL, read_main, &c));
	while (!atomic_load(&c.tid))
		usleep(1000);
	sc_wait_sleeping(getpid(), atomic_load(&c.tid));
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	EXPECT_NE(0, pthread_timedjoin_np(t, NULL, &ts)) TH_LOG("read did not block");
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	ASSERT_EQ(0, pthread_timedjoin_np(t, NULL, &ts));
	ASSERT_LT(0, c.ret) TH_LOG("read: %s", strerror(c.err));
	EXPECT_EQ(snap_info(_metadata, s).image_len, (uint64_t)c.ret);
	EXPECT_EQ(0, sc_image_crc_ok(c.buf, c.ret));
}

TEST_F(snap, read_blocked_then_aborted_ecanceled)
{
	static struct read_call c;
	struct timespec ts;
	struct pipeline p;
	pthread_t t;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, NULL);
	c.fd = s;
	ASSERT_EQ(0, pthread_create(&t, NULL, read_main, &c));
	while (!atomic_load(&c.tid))
		usleep(1000);
	sc_wait_sleeping(getpid(), atomic_load(&c.tid));
	ASSERT_EQ(0, sc_snap_abort(s));
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	ASSERT_EQ(0, pthread_timedjoin_np(t, NULL, &ts));
	EXPECT_EQ(-1, c.ret);
	EXPECT_EQ(ECANCELED, c.err);
}

TEST_F(snap, deadline_abort)
{
	struct snapchan_snap_info info;
	struct pipeline p;
	uint64_t id = 0;
	double t0;
	int s;

	make_pipeline(_metadata, self, &p);
	t0 = sc_now();
	s = begin(_metadata, self, 50 * 1000 * 1000ULL, 0, &id);
	record(_metadata, p.snd, id, "A");
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).markers_queued);
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_DEADLINE);
	EXPECT_LE(45, (int)((sc_now() - t0) * 1000));
	info = snap_info(_metadata, s);
	EXPECT_LE(45 * 1000 * 1000ULL, info.end_ns - info.begin_ns);
	EXPECT_EQ(-ECANCELED, sc_record_str(p.rcv, id, "B"));
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ(0, sc_pending(p.rcv));
}

TEST_F(snap, deadline_abort_node_begun)
{
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = keep(self, sc_record_ex(p.snd, 0, "A", 1, SNAPCHAN_RECORD_F_SNAPFD,
				    50 * 1000 * 1000ULL, 0, &id));
	ASSERT_LE(0, s);
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_DEADLINE);
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ(-ECANCELED, sc_record_str(p.rcv, id, "B"));
}

TEST_F(snap, deadline_default_param)
{
	struct pipeline p;
	int s;

	make_pipeline(_metadata, self, &p);
	set_param(_metadata, self, "default_timeout_ms", 100);
	s = begin(_metadata, self, 0, 0, NULL);
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_DEADLINE);
}

/* A snapshot that completes before its deadline stays complete. */
TEST_F(snap, deadline_after_complete)
{
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 100 * 1000 * 1000ULL, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	usleep(300000);
	EXPECT_EQ(SNAPCHAN_SNAP_COMPLETE, snap_info(_metadata, s).state);
	EXPECT_EQ(POLLIN, sc_poll1(s, POLLIN, 0));
}

TEST_F(snap, budget_abort_at_record)
{
	struct pipeline p;
	uint64_t id = 0;
	char buf[1100];
	int s, i, ret;

	make_pipeline(_metadata, self, &p);
	for (i = 0; i < 8; i++)
		send_len(_metadata, p.wr, 1000, 'a' + i);
	s = begin(_metadata, self, 0, 4096, &id);
	record(_metadata, p.snd, id, "A");
	ret = sc_record_str(p.rcv, id, "B");
	EXPECT_TRUE(ret == 0 || ret == -ECANCELED) TH_LOG("record: %d", ret);
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_BUDGET);
	/* The data is intact and the marker gone. */
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(1000, read(p.rd, buf, sizeof(buf)));
		EXPECT_EQ('a' + i, buf[999]);
	}
}

TEST_F(snap, budget_abort_data_path)
{
	struct pipeline p;
	char buf[1100];
	uint64_t id = 0;
	int s, i;

	make_pipeline(_metadata, self, &p);
	send_len(_metadata, p.wr, 1000, 'a');
	send_len(_metadata, p.wr, 1000, 'b');
	s = begin(_metadata, self, 0, 2500, &id);
	record(_metadata, p.rcv, id, "B");
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	/* The send that goes over the budget succeeds; the snapshot aborts. */
	send_len(_metadata, p.wr, 1000, 'c');
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_BUDGET);
	EXPECT_EQ(-ECANCELED, sc_record_str(p.snd, id, "A"));
	send_len(_metadata, p.wr, 1000, 'd');
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(1000, read(p.rd, buf, sizeof(buf)));
		EXPECT_EQ('a' + i, buf[0]);
	}
}

TEST_F(snap, budget_exactly_fits)
{
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	send_len(_metadata, p.wr, 1000, 'a');
	send_len(_metadata, p.wr, 1000, 'b');
	s = begin(_metadata, self, 0, 2000, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(2000, snap_info(_metadata, s).recorded_bytes);
}

TEST_F(snap, member_left_before_record)
{
	struct snapchan_chan_info ci;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).markers_queued);
	drop(self, p.rcv);
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_MEMBER_LEFT);
	ci = chan_info(_metadata, self, p.chan);
	EXPECT_EQ(0, ci.markers_queued);
	EXPECT_EQ(0, ci.receiver_node);
	EXPECT_EQ(0, sc_pending(p.snd));
}

TEST_F(snap, member_left_after_record_sender)
{
	static const char *const want[] = { "m1" };
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A-left");
	drop(self, p.snd);
	usleep(50000);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	img = read_image(_metadata, s, 0);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A-left");
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "B");
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 2, 1, want);
	snapchan_image_close(img);
}

TEST_F(snap, member_left_after_record_receiver)
{
	static const char *const want[] = { "m1", "m2" };
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.rcv, id, "B-left");
	drop(self, p.rcv);
	send_str(_metadata, p.wr, "m2");
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	record(_metadata, p.snd, id, "A");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	img = read_image(_metadata, s, 0);
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "B-left");
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 3, 2, want);
	snapchan_image_close(img);
}

/* A child process joins as a node and signals readiness on @ready. */
static pid_t spawn_member(struct __test_metadata *_metadata,
			  FIXTURE_DATA(snap) *self, const char *name,
			  int record_on_request)
{
	int ready[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int node;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		node = sc_join(self->ctl, self->group, name, 0, NULL);
		if (node < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;) {
			if (record_on_request &&
			    sc_poll1(node, POLLPRI, 1000) > 0) {
				int64_t id = sc_pending(node);

				if (id > 0 && !sc_record_str(node, id, "child"))
					if (write(ready[1], "d", 1) != 1)
						_exit(3);
			} else if (!record_on_request) {
				pause();
			}
		}
	}
	close(ready[1]);
	ASSERT_LT(self->npids, MAX_PIDS);
	self->pids[self->npids++] = pid;
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("child did not join");
	EXPECT_EQ('r', c);
	if (record_on_request)
		return keep(self, ready[0]) < 0 ? -1 : pid;
	close(ready[0]);
	return pid;
}

TEST_F(snap, member_killed_before_record)
{
	struct pipeline p;
	uint64_t id = 0;
	pid_t pid;
	int s;

	make_pipeline(_metadata, self, &p);
	pid = spawn_member(_metadata, self, "kid", 0);
	s = begin(_metadata, self, 0, 0, &id);
	EXPECT_EQ(3, snap_info(_metadata, s).nodes);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	usleep(50000);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	self->pids[0] = 0;
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_MEMBER_LEFT);
	if (sc_have_debugfs())
		EXPECT_EQ(2, debugfs_rows("nodes", self->group));
}

TEST_F(snap, member_killed_after_record)
{
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id = 0;
	pid_t pid;
	char c;
	int s, ready;

	make_pipeline(_metadata, self, &p);
	pid = spawn_member(_metadata, self, "kid", 1);
	ready = self->fds[self->nfds - 1];
	s = begin(_metadata, self, 0, 0, &id);
	ASSERT_EQ(1, read(ready, &c, 1)) TH_LOG("child did not record");
	EXPECT_EQ('d', c);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	self->pids[0] = 0;
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	img = read_image(_metadata, s, 0);
	expect_header(_metadata, img, s, 3, 1);
	{
		struct snapchan_image_node_view n;

		ASSERT_LE(0, snapchan_image_node_by_name(img, "kid", &n));
		ASSERT_EQ(5, n.state_len);
		EXPECT_EQ(0, memcmp("child", n.state, 5));
	}
	snapchan_image_close(img);
}

/* ===================================================================== */
/* Topology changes                                                        */
/* ===================================================================== */

/*
 * Prepare @c for @op on the pipeline's group; the change must wait while
 * a snapshot runs (or abort it with @flags = SNAPCHAN_TOPO_F_ABORT).
 */
static void topo_prepare(struct __test_metadata *_metadata,
			 FIXTURE_DATA(snap) *self, struct pipeline *p,
			 struct topo_call *c, enum topo_op op, unsigned int flags)
{
	const char *x;

	memset(c, 0, sizeof(*c));
	c->op = op;
	c->ctl = self->ctl;
	c->flags = flags;
	strcpy(c->group, self->group);
	switch (op) {
	case T_JOIN:
		strcpy(c->name, "late");
		break;
	case T_CREATE:
		ASSERT_LT(self->nchans, MAX_CHANS);
		snprintf(self->chans[self->nchans], SNAPCHAN_NAME_LEN, "kc%d-new",
			 getpid());
		strcpy(c->name, self->chans[self->nchans++]);
		break;
	case T_DESTROY:
		x = new_chan(_metadata, self, "old", self->group);
		strcpy(c->name, x);
		break;
	case T_ATTACH:
		x = new_chan(_metadata, self, "att", self->group);
		c->node = p->snd;
		c->chan_fd = open_end(_metadata, self, x, O_WRONLY);
		break;
	case T_DETACH:
		x = new_chan(_metadata, self, "det", self->group);
		c->node = p->snd;
		c->chan_fd = open_end(_metadata, self, x, O_WRONLY);
		ASSERT_EQ(0, sc_attach(p->snd, c->chan_fd));
		break;
	}
}

static void topo_wait_case(struct __test_metadata *_metadata,
			   FIXTURE_DATA(snap) *self, enum topo_op op)
{
	struct snapchan_snap_info i1, i2;
	struct topo_call c;
	struct pipeline p;
	uint64_t id = 0;
	int s, s2;

	make_pipeline(_metadata, self, &p);
	topo_prepare(_metadata, self, &p, &c, op, 0);
	s = begin(_metadata, self, 0, 0, &id);
	topo_start(_metadata, &c);
	sc_wait_sleeping(getpid(), atomic_load(&c.tid));
	usleep(100000);
	EXPECT_EQ(0, atomic_load(&c.done)) TH_LOG("the change did not wait");
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	ASSERT_TRUE(topo_finish(&c, 10)) TH_LOG("the change did not proceed");
	ASSERT_LE(0, c.ret) TH_LOG("the change failed: %s", strerror(-c.ret));
	if (op == T_JOIN)
		keep(self, c.ret);
	i1 = snap_info(_metadata, s);
	s2 = begin(_metadata, self, 0, 0, NULL);
	i2 = snap_info(_metadata, s2);
	EXPECT_LT(i1.epoch, i2.epoch);
	if (op == T_JOIN)
		EXPECT_EQ(3, i2.nodes);
	ASSERT_EQ(0, sc_snap_abort(s2));
}

static void topo_abort_case(struct __test_metadata *_metadata,
			    FIXTURE_DATA(snap) *self, enum topo_op op)
{
	struct topo_call c;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	topo_prepare(_metadata, self, &p, &c, op, SNAPCHAN_TOPO_F_ABORT);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	topo_start(_metadata, &c);
	ASSERT_TRUE(topo_finish(&c, 10)) TH_LOG("the change waited");
	ASSERT_LE(0, c.ret) TH_LOG("the change failed: %s", strerror(-c.ret));
	if (op == T_JOIN)
		keep(self, c.ret);
	expect_ended(_metadata, s, SNAPCHAN_SNAP_ABORTED, SNAPCHAN_ABORT_TOPOLOGY);
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ(-ECANCELED, sc_record_str(p.rcv, id, "B"));
}

TEST_F(snap, topology_join_waits)
{
	topo_wait_case(_metadata, self, T_JOIN);
}

TEST_F(snap, topology_create_waits)
{
	topo_wait_case(_metadata, self, T_CREATE);
}

TEST_F(snap, topology_destroy_waits)
{
	topo_wait_case(_metadata, self, T_DESTROY);
}

TEST_F(snap, topology_attach_waits)
{
	topo_wait_case(_metadata, self, T_ATTACH);
}

TEST_F(snap, topology_detach_waits)
{
	topo_wait_case(_metadata, self, T_DETACH);
}

TEST_F(snap, topology_join_abort_flag)
{
	topo_abort_case(_metadata, self, T_JOIN);
}

TEST_F(snap, topology_create_abort_flag)
{
	topo_abort_case(_metadata, self, T_CREATE);
}

TEST_F(snap, topology_destroy_abort_flag)
{
	topo_abort_case(_metadata, self, T_DESTROY);
}

TEST_F(snap, topology_attach_abort_flag)
{
	topo_abort_case(_metadata, self, T_ATTACH);
}

TEST_F(snap, topology_detach_abort_flag)
{
	topo_abort_case(_metadata, self, T_DETACH);
}

static void on_usr1(int sig)
{
	(void)sig;
}

TEST_F(snap, topology_wait_interrupted)
{
	struct sigaction sa;
	struct topo_call c;
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	topo_prepare(_metadata, self, &p, &c, T_JOIN, 0);
	s = begin(_metadata, self, 0, 0, &id);
	topo_start(_metadata, &c);
	sc_wait_sleeping(getpid(), atomic_load(&c.tid));
	EXPECT_EQ(0, atomic_load(&c.done));
	pthread_kill(c.thread, SIGUSR1);
	ASSERT_TRUE(topo_finish(&c, 10)) TH_LOG("the signal did not interrupt");
	EXPECT_EQ(-EINTR, c.ret);
	if (c.ret >= 0)
		keep(self, c.ret);
	/* Nothing changed: the snapshot runs on, the node is not there. */
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s).state);
	if (sc_have_debugfs())
		EXPECT_EQ(2, debugfs_rows("nodes", self->group));
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	join(_metadata, self, self->group, "late", NULL);
}

TEST_F(snap, epoch_increases_with_topology)
{
	uint64_t e[8];
	const char *c2;
	struct pipeline p;
	int n = 0, x, w, i;

	make_pipeline(_metadata, self, &p);
	e[n++] = group_epoch(_metadata, self);
	e[n] = group_epoch(_metadata, self);
	EXPECT_EQ(e[n - 1], e[n]) TH_LOG("epoch moved without a topology change");
	x = join(_metadata, self, self->group, "x", NULL);
	e[n++] = group_epoch(_metadata, self);
	c2 = new_chan(_metadata, self, "c2", self->group);
	e[n++] = group_epoch(_metadata, self);
	w = open_end(_metadata, self, c2, O_WRONLY);
	ASSERT_EQ(0, sc_attach(x, w));
	e[n++] = group_epoch(_metadata, self);
	ASSERT_EQ(0, sc_detach(x, w));
	e[n++] = group_epoch(_metadata, self);
	ASSERT_EQ(0, sc_destroy(self->ctl, c2));
	e[n++] = group_epoch(_metadata, self);
	drop(self, x);
	e[n++] = group_epoch(_metadata, self);
	for (i = 1; i < n; i++)
		EXPECT_LT(e[i - 1], e[i]) TH_LOG("change %d did not bump the epoch", i);
}

/* ===================================================================== */
/* Several snapshots                                                       */
/* ===================================================================== */

TEST_F(snap, max_snapshots_ebusy)
{
	uint64_t ids[4], extra;
	struct pipeline p;
	int s[4], i, more, ret;

	make_pipeline(_metadata, self, &p);
	set_param(_metadata, self, "max_snapshots", 3);
	for (i = 0; i < 3; i++)
		s[i] = begin(_metadata, self, 0, 0, &ids[i]);
	ret = keep(self, sc_begin(self->ctl, self->group, 0, 0, NULL));
	EXPECT_EQ(-EBUSY, ret);
	EXPECT_EQ(-EBUSY, sc_record_ex(p.snd, 0, "A", 1, 0, 0, 0, NULL));
	EXPECT_EQ(-EBUSY, sc_record_ex(p.snd, 0, "A", 1, SNAPCHAN_RECORD_F_SNAPFD,
				       0, 0, NULL));
	/* The failed begins recorded nothing. */
	EXPECT_EQ((int64_t)ids[0], sc_pending(p.snd));
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	/* Complete the middle one: the others still run, a slot is free. */
	record(_metadata, p.snd, ids[1], "A1");
	record(_metadata, p.rcv, ids[1], "B1");
	expect_ended(_metadata, s[1], SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s[0]).state);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s[2]).state);
	more = begin(_metadata, self, 0, 0, &extra);
	EXPECT_LT(ids[2], extra);
	ret = keep(self, sc_begin(self->ctl, self->group, 0, 0, NULL));
	EXPECT_EQ(-EBUSY, ret);
	ASSERT_EQ(0, sc_snap_abort(more));
	/* Raising the limit lets more run: 0, 2, 3 and one more. */
	set_param(_metadata, self, "max_snapshots", 4);
	s[3] = begin(_metadata, self, 0, 0, &ids[3]);
	more = begin(_metadata, self, 0, 0, &extra);
	ret = keep(self, sc_begin(self->ctl, self->group, 0, 0, NULL));
	EXPECT_EQ(-EBUSY, ret);
	ASSERT_EQ(0, sc_snap_abort(more));
	for (i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		record(_metadata, p.snd, ids[i], "A");
		record(_metadata, p.rcv, ids[i], "B");
		expect_ended(_metadata, s[i], SNAPCHAN_SNAP_COMPLETE, 0);
	}
}

/*
 * Two snapshots at once with messages in between: each has its own
 * markers and its own channel state, and they complete independently.
 */
TEST_F(snap, concurrent_independent)
{
	static const char *const want2[] = { "m1", "m2", "m3" };
	struct snapchan_image *img;
	struct snapchan_recv r;
	struct pipeline p;
	uint64_t id1, id2;
	char buf[64];
	int s1, s2;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	send_str(_metadata, p.wr, "m2");
	s1 = begin(_metadata, self, 0, 0, &id1);
	record(_metadata, p.snd, id1, "A1");
	send_str(_metadata, p.wr, "m3");
	s2 = begin(_metadata, self, 0, 0, &id2);
	record(_metadata, p.snd, id2, "A2");
	send_str(_metadata, p.wr, "m4");
	EXPECT_EQ(2, chan_info(_metadata, self, p.chan).markers_queued);
	/* The oldest request first. */
	EXPECT_EQ((int64_t)id1, sc_pending(p.rcv));

	/* The newer one completes first, the older runs on. */
	record(_metadata, p.rcv, id2, "B2");
	expect_ended(_metadata, s2, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_info(_metadata, s1).state);
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ((int64_t)id1, sc_pending(p.rcv));

	expect_recv(_metadata, p.rd, "m1");
	expect_recv(_metadata, p.rd, "m2");
	EXPECT_EQ(-ENOMSG, recv_str(p.rd, buf, sizeof(buf)));
	ASSERT_EQ(0, recv_rec(p.rd, &r, 0));
	EXPECT_EQ(SNAPCHAN_REC_MARKER, r.type);
	EXPECT_EQ(id1, r.snap_id);
	record(_metadata, p.rcv, id1, "B1");
	expect_ended(_metadata, s1, SNAPCHAN_SNAP_COMPLETE, 0);
	expect_recv(_metadata, p.rd, "m3");
	expect_recv(_metadata, p.rd, "m4");
	EXPECT_EQ(-EAGAIN, recv_str(p.rd, buf, sizeof(buf)));

	img = read_image(_metadata, s1, 0);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A1");
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "B1");
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 3, 3, 0, NULL);
	snapchan_image_close(img);
	img = read_image(_metadata, s2, 0);
	expect_node_str(_metadata, img, "p-snd", p.snd_id, "A2");
	expect_node_str(_metadata, img, "p-rcv", p.rcv_id, "B2");
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 4, 3, want2);
	snapchan_image_close(img);
}

/* One snapshot aborting leaves another, running at the same time, alone. */
TEST_F(snap, concurrent_abort_one)
{
	static const char *const want[] = { "m1" };
	struct snapchan_image *img;
	struct pipeline p;
	uint64_t id1, id2;
	int s1, s2;

	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	s1 = begin(_metadata, self, 0, 0, &id1);
	s2 = begin(_metadata, self, 0, 0, &id2);
	record(_metadata, p.snd, id1, "A1");
	record(_metadata, p.snd, id2, "A2");
	ASSERT_EQ(0, sc_snap_abort(s1));
	EXPECT_EQ(1, chan_info(_metadata, self, p.chan).markers_queued);
	EXPECT_EQ((int64_t)id2, sc_pending(p.rcv));
	record(_metadata, p.rcv, id2, "B2");
	expect_ended(_metadata, s2, SNAPCHAN_SNAP_COMPLETE, 0);
	img = read_image(_metadata, s2, 0);
	expect_chan(_metadata, img, p.chan, p.snd_id, p.rcv_id, 1, 2, 1, want);
	snapchan_image_close(img);
	expect_recv(_metadata, p.rd, "m1");
}

/* ===================================================================== */
/* Retention                                                               */
/* ===================================================================== */

TEST_F(snap, retention_keeps_last_complete)
{
	void *b_new = NULL, *b_open = NULL, *b_old = NULL;
	ssize_t l_new, l_open, l_old;
	struct pipeline p;
	uint64_t ids[5];
	char st[8];
	int keepfd_new = -1, keepfd_old = -1, s, i, o, ab;
	uint64_t abid;

	make_pipeline(_metadata, self, &p);
	set_param(_metadata, self, "max_retained", 2);
	for (i = 0; i < 5; i++) {
		snprintf(st, sizeof(st), "A%d", i);
		s = sc_record_ex(p.snd, 0, st, strlen(st),
				 (i == 0 || i == 4) ? SNAPCHAN_RECORD_F_SNAPFD : 0,
				 0, 0, &ids[i]);
		ASSERT_LE(0, s) TH_LOG("NODE_RECORD id 0: %s", strerror(-s));
		if (i == 0)
			keepfd_old = keep(self, s);
		if (i == 4)
			keepfd_new = keep(self, s);
		record(_metadata, p.rcv, ids[i], "B");
	}
	expect_ended(_metadata, keepfd_new, SNAPCHAN_SNAP_COMPLETE, 0);
	/* The oldest ones are forgotten, the last two are kept. */
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, ids[0]));
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, ids[1]));
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, ids[2]));
	o = keep(self, sc_snap_open(self->ctl, self->group, ids[3]));
	EXPECT_LE(0, o);
	o = keep(self, sc_snap_open(self->ctl, self->group, ids[4]));
	ASSERT_LE(0, o);
	l_new = sc_read_image(keepfd_new, 0, &b_new);
	l_open = sc_read_image(o, 0, &b_open);
	ASSERT_LT(0, l_new);
	ASSERT_EQ(l_new, l_open);
	EXPECT_EQ(0, memcmp(b_new, b_open, l_new));
	/* An fd keeps a forgotten snapshot alive. */
	l_old = sc_read_image(keepfd_old, 0, &b_old);
	ASSERT_LT(0, l_old) TH_LOG("read: %s", strerror(-l_old));
	EXPECT_EQ(0, sc_image_crc_ok(b_old, l_old));
	free(b_new);
	free(b_open);
	free(b_old);

	/* Aborted snapshots are retained apart and do not push out complete ones. */
	ab = begin(_metadata, self, 0, 0, &abid);
	ASSERT_EQ(0, sc_snap_abort(ab));
	o = keep(self, sc_snap_open(self->ctl, self->group, abid));
	ASSERT_LE(0, o);
	EXPECT_TRUE(sc_poll1(o, POLLIN, 0) & POLLERR);
	EXPECT_EQ(SNAPCHAN_ABORT_EXPLICIT, snap_info(_metadata, o).abort_reason);
	o = keep(self, sc_snap_open(self->ctl, self->group, ids[3]));
	EXPECT_LE(0, o);
}

TEST_F(snap, retention_zero)
{
	struct pipeline p;
	uint64_t id = 0;
	int s;

	make_pipeline(_metadata, self, &p);
	set_param(_metadata, self, "max_retained", 0);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, id));
	/* The fd still reads it. */
	{
		struct snapchan_image *img = read_image(_metadata, s, 0);

		snapchan_image_close(img);
	}
}

/*
 * With nothing retained and no fd open, a snapshot goes as soon as it
 * ends, whichever way it ends: complete, member left, deadline, budget.
 */
TEST_F(snap, retention_zero_no_fds)
{
	struct pipeline p;
	uint64_t id = 0;
	int s, rcv2;

	make_pipeline(_metadata, self, &p);
	set_param(_metadata, self, "max_retained", 0);

	s = begin(_metadata, self, 0, 0, &id);
	drop(self, s);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, id));

	s = begin(_metadata, self, 50 * 1000 * 1000ULL, 0, &id);
	drop(self, s);
	record(_metadata, p.snd, id, "A");
	usleep(300000);
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, id));
	EXPECT_EQ(0, sc_pending(p.rcv));
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);

	send_len(_metadata, p.wr, 1000, 'a');
	s = begin(_metadata, self, 0, 1500, &id);
	drop(self, s);
	record(_metadata, p.rcv, id, "B");
	send_len(_metadata, p.wr, 1000, 'b');
	usleep(300000);
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, id));
	EXPECT_EQ(0, sc_pending(p.snd));

	s = begin(_metadata, self, 0, 0, &id);
	drop(self, s);
	record(_metadata, p.snd, id, "A");
	drop(self, p.rcv);
	EXPECT_EQ(-ENOENT, sc_snap_open(self->ctl, self->group, id));
	EXPECT_EQ(0, sc_pending(p.snd));
	EXPECT_EQ(0, chan_info(_metadata, self, p.chan).markers_queued);
	rcv2 = join(_metadata, self, self->group, "r2", NULL);
	(void)rcv2;
	if (sc_have_debugfs())
		EXPECT_EQ(0, debugfs_rows("snapshots", self->group));
}

/* ===================================================================== */
/* Permissions                                                             */
/* ===================================================================== */

static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return -1;
	return 0;
}

TEST_F(snap, other_user_eperm)
{
	struct pipeline p;
	int results[5], st[2], i;
	uint64_t id = 0;
	pid_t pid;
	int s, status;

	if (geteuid() != 0)
		SKIP(return, "needs root");
	make_pipeline(_metadata, self, &p);
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);

	ASSERT_EQ(0, pipe2(st, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char name[SNAPCHAN_NAME_LEN];
		int ctl, r[5];

		close(st[0]);
		for (i = 0; i < 5; i++)
			r[i] = 1;
		if (drop_to_nobody())
			_exit(2);
		ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
		if (ctl < 0)
			_exit(3);
		r[0] = sc_join(ctl, self->group, "intruder", 0, NULL);
		r[1] = sc_begin(ctl, self->group, 0, 0, NULL);
		r[2] = sc_snap_open(ctl, self->group, id);
		snprintf(name, sizeof(name), "kc%d-evil", getppid());
		r[3] = sc_create_in(ctl, name, self->group, 0, 0, 0, 0);
		r[4] = sc_join(ctl, self->group, "intruder", SNAPCHAN_TOPO_F_ABORT, NULL);
		if (write(st[1], r, sizeof(r)) != sizeof(r))
			_exit(4);
		_exit(0);
	}
	close(st[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ((ssize_t)sizeof(results), read(st[0], results, sizeof(results)));
	close(st[0]);
	EXPECT_EQ(-EPERM, results[0]) TH_LOG("NODE_JOIN by another user");
	EXPECT_EQ(-EPERM, results[1]) TH_LOG("SNAP_BEGIN by another user");
	EXPECT_EQ(-EPERM, results[2]) TH_LOG("SNAP_OPEN by another user");
	EXPECT_EQ(-EPERM, results[3]) TH_LOG("CHAN_CREATE in another user's group");
	EXPECT_EQ(-EPERM, results[4]) TH_LOG("NODE_JOIN with ABORT by another user");
	if (sc_have_debugfs())
		EXPECT_EQ(2, debugfs_rows("nodes", self->group));
	{
		char name[SNAPCHAN_NAME_LEN];
		struct snapchan_chan_info ci;

		snprintf(name, sizeof(name), "kc%d-evil", getpid());
		EXPECT_EQ(-ENOENT, sc_info(self->ctl, name, &ci));
	}
	EXPECT_EQ(SNAPCHAN_SNAP_COMPLETE, snap_info(_metadata, s).state);
}

/* CAP_SYS_ADMIN may use another user's group. */
TEST_F(snap, admin_uses_other_users_group)
{
	char name[SNAPCHAN_NAME_LEN];
	int node, s, status;
	uint64_t id = 0;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root");
	ASSERT_LT(self->nchans, MAX_CHANS);
	snprintf(name, sizeof(name), "kc%d-nob", getpid());
	strcpy(self->chans[self->nchans++], name);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ctl;

		if (drop_to_nobody())
			_exit(2);
		ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
		if (ctl < 0)
			_exit(3);
		_exit(sc_create_in(ctl, name, self->groups[2], 0, 0, 0, 0) ? 4 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("nobody could not create a group");
	node = join(_metadata, self, self->groups[2], "root", NULL);
	s = keep(self, sc_begin(self->ctl, self->groups[2], 0, 0, &id));
	ASSERT_LE(0, s);
	record(_metadata, node, id, "R");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	EXPECT_LE(0, keep(self, sc_snap_open(self->ctl, self->groups[2], id)));
}

/* ===================================================================== */
/* debugfs                                                                 */
/* ===================================================================== */

TEST_F(snap, debugfs_tables_empty_after_cleanup)
{
	static const char *const tables[] = { "groups", "nodes", "snapshots" };
	struct pipeline p;
	uint64_t id, id2, id3;
	char dump[2048];
	int s, s2, s3, t, rows;

	if (!sc_have_debugfs())
		SKIP(return, "no debugfs");
	make_pipeline(_metadata, self, &p);
	send_str(_metadata, p.wr, "m1");
	s = begin(_metadata, self, 0, 0, &id);
	record(_metadata, p.snd, id, "A");
	record(_metadata, p.rcv, id, "B");
	expect_ended(_metadata, s, SNAPCHAN_SNAP_COMPLETE, 0);
	s2 = begin(_metadata, self, 0, 0, &id2);
	ASSERT_EQ(0, sc_snap_abort(s2));
	/* One left running, with a marker queued and a recording open. */
	s3 = begin(_metadata, self, 0, 0, &id3);
	record(_metadata, p.snd, id3, "A");
	(void)s3;
	EXPECT_EQ(1, debugfs_rows("groups", self->group));
	EXPECT_EQ(2, debugfs_rows("nodes", self->group));
	EXPECT_EQ(3, debugfs_rows("snapshots", self->group));

	cleanup(self);
	for (t = 0; t < 3; t++) {
		rows = sc_debugfs_rows(tables[t], NULL, dump, sizeof(dump));
		EXPECT_EQ(0, rows) TH_LOG("debugfs %s not empty:\n%s", tables[t], dump);
	}
}

int main(int argc, char **argv)
{
	if (access(SC_CONTROL, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("%s missing: is the snapchan module loaded?\n",
			       SC_CONTROL);
	}
	return test_harness_run(argc, argv);
}
