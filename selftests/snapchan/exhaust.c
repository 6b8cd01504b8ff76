// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan exhaust: every limit, reached and released twice.
 *
 * Each test lowers module parameters (as root, through
 * /sys/module/snapchan/parameters/) so that the limit is quick to reach,
 * creates objects until the limit's errno comes back, checks how many were
 * made, releases everything, and does it again: the same number must fit
 * the second time (nothing leaked, no counter drifted).  The parameters are
 * restored in the teardown, whatever happened.
 *
 *   channels   ENOSPC at max_channels_per_user (per uid, root included)
 *              and at max_channels (all uids); lowering a limit below the
 *              current count refuses new channels until enough are gone
 *   nodes      ENOSPC at max_nodes; a failed join (EEXIST) takes no slot
 *   captures   ENOBUFS at max_captures, and at max_capture_mbytes
 *   snapshots  EBUSY at max_snapshots running in a group (SNAP_BEGIN and
 *              NODE_RECORD with id 0)
 *   markers    ENOBUFS at max_markers user markers queued on a channel
 *   state      EFBIG above max_state_bytes
 *   parameters values outside a parameter's range (0 for the counts and
 *              capacities, max + 1, "-1", "abc") are EINVAL and change
 *              nothing; read-only control_mode cannot be written
 *
 * The counts assume nothing else uses the module meanwhile (the selftests
 * run one at a time); a test skips if channels or nodes already exist.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snapchan_test.h"
#include "kselftest_harness.h"

#define DEBUGFS_NODES	"/sys/kernel/debug/snapchan/nodes"
#define MAX_FDS		128
#define NOBODY		65534

FIXTURE(ex)
{
	int ctl;
	const char *skip;
	bool saved;
	unsigned long long values[SNAPCHAN_NR_PARAMS];
	int fds[MAX_FDS];
	int nfds;
};

static int param_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < SNAPCHAN_NR_PARAMS; i++)
		if (!strcmp(snapchan_param_ranges[i].name, name))
			return i;
	return -1;
}

static int nr_channels(int ctl)
{
	struct snapchan_chan_list l;

	memset(&l, 0, sizeof(l));
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_LIST, &l) ? -errno : (int)l.count;
}

/* Rows of the debugfs nodes table, 0 without debugfs. */
static int nr_nodes(void)
{
	char line[256];
	int rows = -1;
	FILE *f = fopen(DEBUGFS_NODES, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		rows++;
	fclose(f);
	return rows < 0 ? 0 : rows;
}

FIXTURE_SETUP(ex)
{
	unsigned int i;

	self->ctl = -1;
	self->nfds = 0;
	if (geteuid()) {
		self->skip = "needs root (module parameters)";
		return;
	}
	if (access(SC_CONTROL, F_OK)) {
		self->skip = "module not loaded";
		return;
	}
	for (i = 0; i < SNAPCHAN_NR_PARAMS; i++) {
		if (sc_param(snapchan_param_ranges[i].name, &self->values[i]) ||
		    !sc_param_writable(snapchan_param_ranges[i].name)) {
			self->skip = "module parameters not readable/writable";
			return;
		}
	}
	self->saved = true;
	self->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", SC_CONTROL, strerror(errno));
	if (nr_channels(self->ctl) || nr_nodes())
		self->skip = "channels or nodes exist already: counts would be off";
}

static void destroy_ex_channels(int ctl)
{
	static char names[4096][SNAPCHAN_NAME_LEN];
	struct snapchan_chan_list l;
	struct snapchan_chan_destroy d;
	uint32_t i;

	memset(&l, 0, sizeof(l));
	l.names = (uintptr_t)names;
	l.max_entries = 4096;
	if (ioctl(ctl, SNAPCHAN_IOC_CHAN_LIST, &l))
		return;
	for (i = 0; i < l.count && i < 4096; i++) {
		if (strncmp(names[i], "ex", 2))
			continue;
		memset(&d, 0, sizeof(d));
		memcpy(d.name, names[i], SNAPCHAN_NAME_LEN);
		d.flags = SNAPCHAN_TOPO_F_ABORT;
		ioctl(ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d);
	}
}

FIXTURE_TEARDOWN(ex)
{
	unsigned int i;

	while (self->nfds)
		close(self->fds[--self->nfds]);
	if (self->ctl >= 0) {
		destroy_ex_channels(self->ctl);
		close(self->ctl);
	}
	if (!self->saved)
		return;
	for (i = 0; i < SNAPCHAN_NR_PARAMS; i++) {
		const char *name = snapchan_param_ranges[i].name;
		unsigned long long v = self->values[i];

		EXPECT_EQ(0, sc_param_set(name, v))
			TH_LOG("restoring %s=%llu", name, v);
	}
}

#define CHECK_SKIP() do {					\
	if (self->skip)						\
		SKIP(return, "%s", self->skip);			\
} while (0)

static int keep(FIXTURE_DATA(ex) *self, int fd)
{
	if (fd >= 0 && self->nfds < MAX_FDS)
		self->fds[self->nfds++] = fd;
	return fd;
}

static void close_all(FIXTURE_DATA(ex) *self)
{
	while (self->nfds)
		close(self->fds[--self->nfds]);
}

/* Set a parameter; 0 or -errno. */
static int set(const char *name, unsigned long long v)
{
	return sc_param_set(name, v);
}

static int create(int ctl, const char *name, const char *group,
		  unsigned int max_msg, unsigned long long cap_bytes)
{
	struct snapchan_chan_create c;

	memset(&c, 0, sizeof(c));
	sc_name(c.name, name);
	if (group)
		sc_name(c.group, group);
	c.max_msg = max_msg;
	c.capacity_bytes = cap_bytes;
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, &c) ? -errno : 0;
}

/* Create <prefix>0, <prefix>1, ... until an error: how many, and *err. */
static int create_until_error(int ctl, const char *prefix, int limit, int *err)
{
	char name[SNAPCHAN_NAME_LEN];
	int n, ret = 0;

	for (n = 0; n < limit; n++) {
		snprintf(name, sizeof(name), "%s%d", prefix, n);
		ret = create(ctl, name, NULL, 0, 0);
		if (ret)
			break;
	}
	*err = -ret;
	return n;
}

static int destroy_prefix(int ctl, const char *prefix, int n)
{
	char name[SNAPCHAN_NAME_LEN];
	int i, fails = 0;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if (sc_destroy(ctl, name))
			fails++;
	}
	return fails;
}

/*
 * In a child running as nobody: create channels exn0, exn1, ... until an
 * error.  Exit status: the count, or 200 + errno bucket on setup failure;
 * *err gets the errno of the failing create (sent through a pipe).
 */
static int create_as_nobody(const char *prefix, int limit, int *err)
{
	int pfd[2], st, n, e = 0;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int ctl;

		close(pfd[0]);
		if (setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(201);
		ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
		if (ctl < 0)
			_exit(202);
		n = create_until_error(ctl, prefix, limit, &e);
		if (write(pfd[1], &e, sizeof(e)) != sizeof(e))
			_exit(203);
		_exit(n);
	}
	close(pfd[1]);
	if (read(pfd[0], &e, sizeof(e)) != sizeof(e))
		e = -1;
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	*err = e;
	return WEXITSTATUS(st);
}

TEST_F(ex, channels)
{
	int round, n, err;

	CHECK_SKIP();
	ASSERT_EQ(0, set("max_channels", 8));
	ASSERT_EQ(0, set("max_channels_per_user", 5));

	for (round = 0; round < 2; round++) {
		/* root: its own limit first. */
		n = create_until_error(self->ctl, "exr", 100, &err);
		EXPECT_EQ(5, n) TH_LOG("round %d: root made %d channels", round, n);
		EXPECT_EQ(ENOSPC, err) TH_LOG("round %d: %s", round, strerror(err));

		/* nobody: the global limit leaves 3. */
		n = create_as_nobody("exn", 100, &err);
		EXPECT_EQ(3, n) TH_LOG("round %d: nobody made %d channels", round, n);
		EXPECT_EQ(ENOSPC, err) TH_LOG("round %d: %s", round, strerror(err));
		EXPECT_EQ(8, nr_channels(self->ctl));

		/* root still at its limit, and the global one. */
		EXPECT_EQ(-ENOSPC, create(self->ctl, "exextra", NULL, 0, 0));

		/* Release everything (root may destroy nobody's channels). */
		EXPECT_EQ(0, destroy_prefix(self->ctl, "exr", 5));
		EXPECT_EQ(0, destroy_prefix(self->ctl, "exn", 3));
		EXPECT_EQ(0, nr_channels(self->ctl));
	}

	/* The global limit alone. */
	ASSERT_EQ(0, set("max_channels_per_user", 100));
	ASSERT_EQ(0, set("max_channels", 3));
	for (round = 0; round < 2; round++) {
		n = create_until_error(self->ctl, "exg", 100, &err);
		EXPECT_EQ(3, n);
		EXPECT_EQ(ENOSPC, err);
		EXPECT_EQ(0, destroy_prefix(self->ctl, "exg", 3));
	}

	/* A limit lowered below the current count. */
	ASSERT_EQ(0, set("max_channels", 100));
	n = create_until_error(self->ctl, "exl", 5, &err);
	ASSERT_EQ(5, n);
	ASSERT_EQ(0, set("max_channels_per_user", 2));
	EXPECT_EQ(-ENOSPC, create(self->ctl, "exlx", NULL, 0, 0));
	EXPECT_EQ(0, sc_destroy(self->ctl, "exl0"));
	EXPECT_EQ(0, sc_destroy(self->ctl, "exl1"));
	EXPECT_EQ(0, sc_destroy(self->ctl, "exl2"));
	EXPECT_EQ(-ENOSPC, create(self->ctl, "exlx", NULL, 0, 0));	/* 2 of 2 */
	EXPECT_EQ(0, sc_destroy(self->ctl, "exl3"));
	EXPECT_EQ(0, create(self->ctl, "exlx", NULL, 0, 0));
	EXPECT_EQ(-ENOSPC, create(self->ctl, "exly", NULL, 0, 0));
	EXPECT_EQ(0, sc_destroy(self->ctl, "exl4"));
	EXPECT_EQ(0, sc_destroy(self->ctl, "exlx"));

	/* Failed creates take no slot: EEXIST, EINVAL, then fill up. */
	ASSERT_EQ(0, set("max_channels_per_user", 2));
	ASSERT_EQ(0, create(self->ctl, "exe0", NULL, 0, 0));
	for (n = 0; n < 10; n++) {
		EXPECT_EQ(-EEXIST, create(self->ctl, "exe0", NULL, 0, 0));
		EXPECT_EQ(-EINVAL, create(self->ctl, "exe1", NULL, 1 << 30, 0));
	}
	EXPECT_EQ(0, create(self->ctl, "exe1", NULL, 0, 0));
	EXPECT_EQ(-ENOSPC, create(self->ctl, "exe2", NULL, 0, 0));
}

static int join(int ctl, const char *group, const char *name)
{
	struct snapchan_node_join j;
	int fd;

	memset(&j, 0, sizeof(j));
	sc_name(j.group, group);
	sc_name(j.name, name);
	fd = ioctl(ctl, SNAPCHAN_IOC_NODE_JOIN, &j);
	return fd < 0 ? -errno : fd;
}

TEST_F(ex, nodes)
{
	char name[SNAPCHAN_NAME_LEN];
	int round, n, ret = 0;

	CHECK_SKIP();
	ASSERT_EQ(0, create(self->ctl, "exnode", "exgrp", 0, 0));
	ASSERT_EQ(0, create(self->ctl, "exnode2", "exgrp2", 0, 0));
	ASSERT_EQ(0, set("max_nodes", 4));

	for (round = 0; round < 2; round++) {
		for (n = 0; n < 100; n++) {
			snprintf(name, sizeof(name), "n%d", n);
			ret = keep(self, join(self->ctl, "exgrp", name));
			if (ret < 0)
				break;
			/* Below the limit, a taken name fails, using no slot. */
			if (n < 3)
				EXPECT_EQ(-EEXIST, join(self->ctl, "exgrp", name));
		}
		EXPECT_EQ(4, n) TH_LOG("round %d: %d nodes", round, n);
		EXPECT_EQ(-ENOSPC, ret) TH_LOG("round %d: %s", round,
					       strerror(-ret));
		/* The limit is global: another group is full too. */
		EXPECT_EQ(-ENOSPC, join(self->ctl, "exgrp2", "x"));
		close_all(self);
	}

	/* Lowered below the current count: no join until enough leave. */
	ASSERT_EQ(0, set("max_nodes", 10));
	for (n = 0; n < 3; n++) {
		snprintf(name, sizeof(name), "m%d", n);
		ASSERT_LE(0, keep(self, join(self->ctl, "exgrp", name)));
	}
	ASSERT_EQ(0, set("max_nodes", 2));
	EXPECT_EQ(-ENOSPC, join(self->ctl, "exgrp2", "mx"));
	close(self->fds[--self->nfds]);
	EXPECT_EQ(-ENOSPC, join(self->ctl, "exgrp2", "mx"));
	close(self->fds[--self->nfds]);
	EXPECT_LE(0, keep(self, join(self->ctl, "exgrp2", "mx")));
	close_all(self);
}

static int capture(int chan)
{
	struct snapchan_capture c;
	int fd;

	memset(&c, 0, sizeof(c));
	fd = ioctl(chan, SNAPCHAN_IOC_CAPTURE, &c);
	return fd < 0 ? -errno : fd;
}

TEST_F(ex, captures)
{
	int round, n, ret = 0, chan, cap, i;
	static char msg[256 << 10];

	CHECK_SKIP();
	ASSERT_EQ(0, create(self->ctl, "excap", NULL, 0, 0));
	chan = keep(self, sc_open_chan("excap", O_RDONLY | O_NONBLOCK));
	ASSERT_LE(0, chan);
	ASSERT_EQ(0, set("max_captures", 5));

	for (round = 0; round < 2; round++) {
		for (n = 0; n < 100; n++) {
			ret = capture(chan);
			if (ret < 0)
				break;
			keep(self, ret);
		}
		EXPECT_EQ(5, n) TH_LOG("round %d: %d captures", round, n);
		EXPECT_EQ(-ENOBUFS, ret) TH_LOG("round %d: %s", round,
						strerror(-ret));
		while (self->nfds > 1)
			close(self->fds[--self->nfds]);
	}

	/* Memory: three 256 KiB messages fit once under 1 MiB, not twice. */
	ASSERT_EQ(0, set("max_captures", 100));
	ASSERT_EQ(0, set("max_capture_mbytes", 1));
	ASSERT_EQ(0, create(self->ctl, "excapbig", NULL, sizeof(msg), 1 << 20));
	i = keep(self, sc_open_chan("excapbig", O_WRONLY | O_NONBLOCK));
	ASSERT_LE(0, i);
	memset(msg, 'x', sizeof(msg));
	for (n = 0; n < 3; n++)
		ASSERT_EQ((ssize_t)sizeof(msg), write(i, msg, sizeof(msg)));
	for (round = 0; round < 2; round++) {
		cap = capture(i);
		ASSERT_LE(0, cap) TH_LOG("round %d: %s", round, strerror(-cap));
		EXPECT_EQ(-ENOBUFS, capture(i));
		/* Small captures still fit beside it. */
		ret = capture(chan);
		EXPECT_LE(0, ret);
		if (ret >= 0)
			close(ret);
		close(cap);
	}
	/*
	 * A capture keeps its charge after the channel is gone: a new
	 * channel with the same load cannot be captured until it is closed.
	 */
	cap = capture(i);
	ASSERT_LE(0, cap);
	close(self->fds[--self->nfds]);
	EXPECT_EQ(0, sc_destroy(self->ctl, "excapbig"));
	ASSERT_EQ(0, create(self->ctl, "excapbig", NULL, sizeof(msg), 1 << 20));
	i = keep(self, sc_open_chan("excapbig", O_WRONLY | O_NONBLOCK));
	ASSERT_LE(0, i);
	for (n = 0; n < 3; n++)
		ASSERT_EQ((ssize_t)sizeof(msg), write(i, msg, sizeof(msg)));
	EXPECT_EQ(-ENOBUFS, capture(i));
	close(cap);
	ret = capture(i);
	EXPECT_LE(0, ret);
	if (ret >= 0)
		close(ret);
}

static int begin(int ctl, const char *group)
{
	struct snapchan_snap_begin b;
	int fd;

	memset(&b, 0, sizeof(b));
	sc_name(b.group, group);
	b.timeout_ns = 60ULL * 1000000000ULL;
	fd = ioctl(ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b);
	return fd < 0 ? -errno : fd;
}

static int record(int node, uint64_t id, uint64_t state_len, uint64_t *idp)
{
	static char state[64];
	struct snapchan_node_record r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.snap_id = id;
	r.state = (uintptr_t)state;
	r.state_len = state_len;
	if (!id)
		r.timeout_ns = 60ULL * 1000000000ULL;
	ret = ioctl(node, SNAPCHAN_IOC_NODE_RECORD, &r);
	if (idp)
		*idp = r.snap_id;
	return ret < 0 ? -errno : ret;
}

static uint32_t snap_state(int snap)
{
	struct snapchan_snap_info in;

	memset(&in, 0, sizeof(in));
	if (ioctl(snap, SNAPCHAN_IOC_SNAP_INFO, &in))
		return 0;
	return in.state;
}

TEST_F(ex, snapshots)
{
	struct snapchan_snap_info in;
	int snaps[16], round, n, i, ret = 0, node, other;
	uint64_t id;

	CHECK_SKIP();
	ASSERT_EQ(0, create(self->ctl, "exsnap", "exsg", 0, 0));
	node = join(self->ctl, "exsg", "n0");
	ASSERT_LE(0, node);
	ASSERT_EQ(0, set("max_snapshots", 3));

	/* Begun from outside; ended by an abort, a record, the node leaving. */
	for (round = 0; round < 3; round++) {
		for (n = 0; n < 16; n++) {
			ret = begin(self->ctl, "exsg");
			if (ret < 0)
				break;
			snaps[n] = ret;
			EXPECT_EQ(SNAPCHAN_SNAP_RUNNING, snap_state(ret));
		}
		EXPECT_EQ(3, n) TH_LOG("round %d: %d snapshots", round, n);
		EXPECT_EQ(-EBUSY, ret) TH_LOG("round %d: %s", round,
					      strerror(-ret));
		/* A node cannot begin a fourth either. */
		EXPECT_EQ(-EBUSY, record(node, 0, 0, NULL));
		for (i = 0; i < n; i++) {
			if (round == 0) {
				EXPECT_EQ(0, ioctl(snaps[i], SNAPCHAN_IOC_SNAP_ABORT));
			} else if (round == 1) {
				memset(&in, 0, sizeof(in));
				ASSERT_EQ(0, ioctl(snaps[i], SNAPCHAN_IOC_SNAP_INFO, &in));
				EXPECT_EQ(0, record(node, in.snap_id, 8, NULL));
				EXPECT_EQ(SNAPCHAN_SNAP_COMPLETE, snap_state(snaps[i]));
			}
		}
		if (round == 2) {
			close(node);
			node = join(self->ctl, "exsg", "n0");
			ASSERT_LE(0, node);
		}
		for (i = 0; i < n; i++) {
			if (round != 1)
				EXPECT_EQ(SNAPCHAN_SNAP_ABORTED, snap_state(snaps[i]));
			close(snaps[i]);
		}
	}

	/*
	 * Begun by a node with NODE_RECORD id 0: they stay running while a
	 * second node has not recorded; its leaving aborts them all.
	 */
	for (round = 0; round < 2; round++) {
		other = join(self->ctl, "exsg", "n1");
		ASSERT_LE(0, other);
		for (n = 0; n < 16; n++) {
			ret = record(node, 0, 0, &id);
			if (ret < 0)
				break;
		}
		EXPECT_EQ(3, n) TH_LOG("round %d: %d snapshots", round, n);
		EXPECT_EQ(-EBUSY, ret);
		EXPECT_EQ(-EBUSY, begin(self->ctl, "exsg"));
		close(other);
	}
	ret = begin(self->ctl, "exsg");
	EXPECT_LE(0, ret);
	if (ret >= 0)
		close(ret);
	close(node);
}

static int mark(int fd, uint64_t id)
{
	struct snapchan_mark m = { .snap_id = id };

	return ioctl(fd, SNAPCHAN_IOC_MARK, &m) ? -errno : 0;
}

TEST_F(ex, markers)
{
	int round, n, ret = 0, w, r;
	struct snapchan_recv rv;
	char buf[8];

	CHECK_SKIP();
	ASSERT_EQ(0, create(self->ctl, "exmark", NULL, 0, 0));
	w = keep(self, sc_open_chan("exmark", O_WRONLY | O_NONBLOCK));
	r = keep(self, sc_open_chan("exmark", O_RDONLY | O_NONBLOCK));
	ASSERT_LE(0, w);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, set("max_markers", 4));

	for (round = 0; round < 2; round++) {
		for (n = 0; n < 100; n++) {
			ret = mark(w, n + 1);
			if (ret)
				break;
		}
		EXPECT_EQ(4, n) TH_LOG("round %d: %d markers", round, n);
		EXPECT_EQ(-ENOBUFS, ret) TH_LOG("round %d: %s", round,
						strerror(-ret));
		/* Data still goes in beside them. */
		EXPECT_EQ(3, write(w, "abc", 3));
		/* RECV consumes user markers: the slots come back. */
		for (n = 0; n < 5; n++) {
			memset(&rv, 0, sizeof(rv));
			rv.buf = (uintptr_t)buf;
			rv.buf_len = sizeof(buf);
			ASSERT_EQ(0, ioctl(r, SNAPCHAN_IOC_RECV, &rv))
				TH_LOG("RECV %d: %s", n, strerror(errno));
			EXPECT_EQ(n < 4 ? SNAPCHAN_REC_MARKER : SNAPCHAN_REC_DATA,
				  rv.type);
		}
		memset(&rv, 0, sizeof(rv));
		EXPECT_EQ(-1, ioctl(r, SNAPCHAN_IOC_RECV, &rv));
		EXPECT_EQ(EAGAIN, errno);
	}
}

TEST_F(ex, state_bytes)
{
	int node, snap;
	uint64_t id;

	CHECK_SKIP();
	ASSERT_EQ(0, create(self->ctl, "exstate", "exstg", 0, 0));
	node = keep(self, join(self->ctl, "exstg", "n0"));
	ASSERT_LE(0, node);
	ASSERT_EQ(0, set("max_state_bytes", 16));
	EXPECT_EQ(-EFBIG, record(node, 0, 17, NULL));
	EXPECT_EQ(-EFBIG, record(node, 0, 64, NULL));
	EXPECT_EQ(0, record(node, 0, 16, &id));
	ASSERT_EQ(0, set("max_state_bytes", 0));
	EXPECT_EQ(-EFBIG, record(node, 0, 1, NULL));
	EXPECT_EQ(0, record(node, 0, 0, NULL));
	/* Nothing was left running by the refused records. */
	snap = begin(self->ctl, "exstg");
	EXPECT_LE(0, snap);
	if (snap >= 0)
		close(snap);
}

/* Write @text to a parameter: 0 or -errno. */
static int set_text(const char *name, const char *text)
{
	char path[128];

	snprintf(path, sizeof(path), SC_PARAM_DIR "%s", name);
	return sc_write_text(path, text);
}

TEST_F(ex, parameter_ranges)
{
	static const char *const junk[] = { "-1", "abc", "1x", "99999999999",
					    "4294967296", " " };
	unsigned long long v, before;
	unsigned int i, j;
	struct dirent *de;
	DIR *d;
	int ret;

	CHECK_SKIP();
	for (i = 0; i < SNAPCHAN_NR_PARAMS; i++) {
		const char *name = snapchan_param_ranges[i].name;

		ASSERT_EQ(0, sc_param(name, &before));
		if (snapchan_param_ranges[i].min > 0) {
			EXPECT_EQ(-EINVAL, set(name, 0)) TH_LOG("%s=0", name);
			ASSERT_EQ(0, sc_param(name, &v));
			EXPECT_EQ(before, v) TH_LOG("%s changed by 0", name);
		}
		EXPECT_EQ(-EINVAL, set(name, (unsigned long long)snapchan_param_ranges[i].max + 1))
			TH_LOG("%s=%u", name, snapchan_param_ranges[i].max + 1);
		ASSERT_EQ(0, sc_param(name, &v));
		EXPECT_EQ(before, v) TH_LOG("%s changed by max + 1", name);
		for (j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
			ret = set_text(name, junk[j]);
			EXPECT_NE(0, ret) TH_LOG("%s='%s' accepted", name, junk[j]);
			ASSERT_EQ(0, sc_param(name, &v));
			EXPECT_EQ(before, v) TH_LOG("%s changed by '%s'", name,
						    junk[j]);
		}
		/* The bounds themselves are accepted. */
		EXPECT_EQ(0, set(name, snapchan_param_ranges[i].min)) TH_LOG("%s=min", name);
		ASSERT_EQ(0, sc_param(name, &v));
		EXPECT_EQ(snapchan_param_ranges[i].min, v);
		EXPECT_EQ(0, set(name, snapchan_param_ranges[i].max)) TH_LOG("%s=max", name);
		ASSERT_EQ(0, sc_param(name, &v));
		EXPECT_EQ(snapchan_param_ranges[i].max, v);
		EXPECT_EQ(0, set(name, before));
	}
	/* control_mode is read-only once loaded. */
	ASSERT_EQ(0, sc_param("control_mode", &before));
	EXPECT_NE(0, set("control_mode", 0600));
	ASSERT_EQ(0, sc_param("control_mode", &v));
	EXPECT_EQ(before, v);
	/* Every parameter the module has is in the table above. */
	d = opendir(SC_PARAM_DIR);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		/* inject_delay: a debug-build test knob, not a limit. */
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "control_mode") ||
		    !strcmp(de->d_name, "inject_delay"))
			continue;
		EXPECT_LE(0, param_index(de->d_name))
			TH_LOG("parameter %s has no range test", de->d_name);
	}
	closedir(d);
}

/* A channel configuration that the defaults would make invalid is refused. */
TEST_F(ex, defaults_stay_valid)
{
	struct snapchan_chan_info in;

	CHECK_SKIP();
	/* default_max_msg above max_msg_size: the default is clamped. */
	ASSERT_EQ(0, set("max_msg_size", 64));
	ASSERT_EQ(0, set("default_max_msg", 4096));
	ASSERT_EQ(0, set("default_capacity_bytes", 16));
	ASSERT_EQ(0, create(self->ctl, "exdef", NULL, 0, 0));
	ASSERT_EQ(0, sc_info(self->ctl, "exdef", &in));
	EXPECT_EQ(64, in.max_msg);
	/* capacity 0 means the default, raised to max_msg. */
	EXPECT_EQ(64, in.capacity_bytes);
	EXPECT_LE(1, in.capacity_msgs);
	/* An explicit max_msg above the limit is EINVAL. */
	EXPECT_EQ(-EINVAL, create(self->ctl, "exdef2", NULL, 65, 0));
	ASSERT_EQ(0, set("max_capacity_msgs", 2));
	ASSERT_EQ(0, set("default_capacity_msgs", 100));
	ASSERT_EQ(0, create(self->ctl, "exdef3", NULL, 0, 0));
	ASSERT_EQ(0, sc_info(self->ctl, "exdef3", &in));
	EXPECT_EQ(2, in.capacity_msgs);
}

TEST_HARNESS_MAIN
