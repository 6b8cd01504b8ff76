// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan channel ABI selftests: control device (VERSION, CHAN_CREATE,
 * CHAN_DESTROY, CHAN_INFO, CHAN_LIST) and channel devices (open, read,
 * write, RECV, poll, sysfs, permissions).  Contract: uapi/linux/snapchan.h
 * and DESIGN.md 3.1/3.2.
 *
 * Every test uses channels named "kst<pid>-<tag>" (the harness forks per
 * test, so the pid is unique) and destroys them in the fixture teardown,
 * which also wakes any thread still blocked in one of them.  Needs the
 * module loaded, and root for the permission and limit tests.
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
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snapchan_test.h"
#include "kselftest_harness.h"

#define NOBODY		65534
#define MAX_NAMES	64
#define MAX_SAVED	4

static const char *const all_params[] = {
	"default_capacity_bytes", "default_capacity_msgs", "default_max_msg",
	"max_capacity_bytes", "max_capacity_msgs", "max_msg_size",
	"max_channels", "max_channels_per_user", "max_markers",
};

FIXTURE(chan) {
	int ctl;
	int nnames;
	char names[MAX_NAMES][SNAPCHAN_NAME_LEN];
	int nsaved;
	char saved_name[MAX_SAVED][40];
	unsigned long long saved_val[MAX_SAVED];
};

FIXTURE_SETUP(chan)
{
	self->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", SC_CONTROL, strerror(errno));
}

FIXTURE_TEARDOWN(chan)
{
	int i;

	/* Restore lowered limits first, then free the names. */
	for (i = self->nsaved - 1; i >= 0; i--)
		if (sc_param_set(self->saved_name[i], self->saved_val[i]))
			TH_LOG("could not restore %s=%llu", self->saved_name[i],
			       self->saved_val[i]);
	if (self->ctl < 0)
		return;
	for (i = 0; i < self->nnames; i++)
		sc_destroy(self->ctl, self->names[i]);
	close(self->ctl);
}

/* A fresh channel name for this test, destroyed in teardown. */
static const char *new_name(struct __test_metadata *_metadata,
			    FIXTURE_DATA(chan) *self, const char *tag)
{
	char *n;

	ASSERT_LT(self->nnames, MAX_NAMES);
	n = self->names[self->nnames++];
	snprintf(n, SNAPCHAN_NAME_LEN, "kst%d-%s", getpid(), tag);
	return n;
}

static void create_init(struct snapchan_chan_create *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	sc_name(c->name, name);
}

/* Create a standalone channel with explicit sizes; returns its name. */
static const char *make_chan(struct __test_metadata *_metadata,
			     FIXTURE_DATA(chan) *self, const char *tag,
			     unsigned long long cap_bytes, unsigned int cap_msgs,
			     unsigned int max_msg, unsigned int flags)
{
	const char *name = new_name(_metadata, self, tag);
	struct snapchan_chan_create c;

	create_init(&c, name);
	c.capacity_bytes = cap_bytes;
	c.capacity_msgs = cap_msgs;
	c.max_msg = max_msg;
	c.flags = flags;
	ASSERT_EQ(0, sc_create(self->ctl, &c)) TH_LOG("create %s: %s", name, strerror(errno));
	return name;
}

static int open_chan(const char *name, int flags)
{
	return sc_open_chan(name, flags);
}

static unsigned long long param(struct __test_metadata *_metadata, const char *p)
{
	unsigned long long v = 0;

	ASSERT_EQ(0, sc_param(p, &v)) TH_LOG("module parameter %s unreadable", p);
	return v;
}

/* Lower a writable module parameter for this test; restored in teardown. */
static int lower_param(struct __test_metadata *_metadata,
		       FIXTURE_DATA(chan) *self, const char *p,
		       unsigned long long val)
{
	unsigned long long old;

	if (!sc_param_writable(p) || sc_param(p, &old))
		return -EPERM;
	ASSERT_LT(self->nsaved, MAX_SAVED);
	strcpy(self->saved_name[self->nsaved], p);
	self->saved_val[self->nsaved] = old;
	self->nsaved++;
	return sc_param_set(p, val);
}

static unsigned long long depth(struct __test_metadata *_metadata,
				int ctl, const char *name)
{
	struct snapchan_chan_info info;

	ASSERT_EQ(0, sc_info(ctl, name, &info));
	return info.depth_msgs;
}

static unsigned int list_count(struct __test_metadata *_metadata, int ctl)
{
	struct snapchan_chan_list l = { 0 };

	ASSERT_EQ(0, ioctl(ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
	return l.count;
}

static int recv_msg(int fd, void *buf, unsigned int len, unsigned int flags,
		    struct snapchan_recv *r)
{
	memset(r, 0, sizeof(*r));
	r->buf = (uintptr_t)buf;
	r->buf_len = len;
	r->flags = flags;
	return ioctl(fd, SNAPCHAN_IOC_RECV, r) ? -errno : 0;
}

static short poll_events(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

/* Fill with a pattern that depends on (tag, offset). */
static void fill(void *buf, size_t len, unsigned int tag)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(tag * 131 + i * 7 + 1);
}

/* --- a syscall in another thread, to see it block and wake ---------- */

enum op_kind { OP_READ, OP_WRITE, OP_POLL, OP_RECV };

struct op {
	enum op_kind kind;
	int fd;
	void *buf;
	size_t len;
	short events;
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
		op->ret = poll(&p, 1, -1);
		op->revents = p.revents;
		break;
	case OP_RECV:
		op->r.buf = (uintptr_t)op->buf;
		op->r.buf_len = op->len;
		op->ret = ioctl(op->fd, SNAPCHAN_IOC_RECV, &op->r);
		break;
	}
	op->err = op->ret < 0 ? errno : 0;
	atomic_store(&op->done, 1);
	return NULL;
}

/* Start @op in a thread and wait until it sleeps in its syscall. */
static void op_start(struct __test_metadata *_metadata, struct op *op)
{
	int i;

	atomic_store(&op->started, 0);
	atomic_store(&op->done, 0);
	ASSERT_EQ(0, pthread_create(&op->thread, NULL, op_main, op));
	for (i = 0; i < 2000 && !atomic_load(&op->started); i++)
		usleep(1000);
	ASSERT_TRUE(atomic_load(&op->started));
	sc_wait_sleeping(getpid(), op->tid);
}

/* Join @op, failing if it does not finish within @secs seconds. */
static void op_join(struct __test_metadata *_metadata, struct op *op, int secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	ASSERT_EQ(0, pthread_timedjoin_np(op->thread, NULL, &ts))
		TH_LOG("blocked call did not return");
}

/*
 * The same in a child process: it exits with 0 when the call returned
 * @expect_ret, with the errno when it failed, 250 otherwise.
 */
static pid_t proc_start(struct __test_metadata *_metadata, enum op_kind kind,
			int fd, size_t len, ssize_t expect_ret)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *buf = calloc(1, len + 1);
		ssize_t r;

		r = kind == OP_READ ? read(fd, buf, len) : write(fd, buf, len);
		if (r < 0)
			_exit(errno);
		_exit(r == expect_ret ? 0 : 250);
	}
	sc_wait_sleeping(pid, pid);
	return pid;
}

/* Exit code of child @pid, or -1 if it did not exit within @secs. */
static int proc_wait(pid_t pid, int secs)
{
	int status, i;

	for (i = 0; i < secs * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int proc_running(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

static atomic_int sig_count;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&sig_count, 1);
}

static void set_handler(struct __test_metadata *_metadata, int restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	atomic_store(&sig_count, 0);
}

/* ===================================================================== */
/* Control device                                                          */
/* ===================================================================== */

TEST_F(chan, version)
{
	struct snapchan_version v;

	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_VERSION, &v));
	EXPECT_EQ(SNAPCHAN_ABI_VERSION, v.abi_version);
	EXPECT_EQ(0, v.reserved);
	EXPECT_TRUE(v.features & SNAPCHAN_FEAT_CHANNELS);
}

TEST_F(chan, module_params)
{
	unsigned long long v[sizeof(all_params) / sizeof(all_params[0])];
	char path[128];
	struct stat st;
	unsigned int i;

	for (i = 0; i < sizeof(all_params) / sizeof(all_params[0]); i++) {
		snprintf(path, sizeof(path), SC_PARAM_DIR "%s", all_params[i]);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s missing", path);
		EXPECT_EQ(0444, st.st_mode & 0444) TH_LOG("%s not world-readable", path);
		ASSERT_EQ(0, sc_param(all_params[i], &v[i])) TH_LOG("%s unreadable", path);
		EXPECT_NE(0, v[i]) TH_LOG("%s is 0", path);
	}
	/* default_* within max_*, default max message fits the default queue */
	EXPECT_LE(v[0], v[3]);
	EXPECT_LE(v[1], v[4]);
	EXPECT_LE(v[2], v[5]);
	EXPECT_LE(v[2], v[0]);
}

TEST_F(chan, create_device_node)
{
	const char *a = new_name(_metadata, self, "a");
	const char *b = new_name(_metadata, self, "b");
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	char path[64];
	struct stat st;
	__u64 id_a;

	create_init(&c, a);
	c.mode = 0640;
	c.chan_id = 0;
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_CREATE, &c));
	EXPECT_NE(0, c.chan_id);
	id_a = c.chan_id;

	snprintf(path, sizeof(path), SC_DEV_DIR "%s", a);
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_EQ(getuid(), st.st_uid);
	EXPECT_EQ(getgid(), st.st_gid);

	ASSERT_EQ(0, sc_info(self->ctl, a, &info));
	EXPECT_EQ(id_a, info.chan_id);
	EXPECT_EQ(0640, info.mode);
	EXPECT_EQ(getuid(), info.uid);
	EXPECT_EQ(getgid(), info.gid);

	/* mode 0: 0600 */
	create_init(&c, b);
	ASSERT_EQ(0, sc_create(self->ctl, &c));
	EXPECT_NE(0, c.chan_id);
	EXPECT_NE(id_a, c.chan_id);
	snprintf(path, sizeof(path), SC_DEV_DIR "%s", b);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, sc_info(self->ctl, b, &info));
	EXPECT_EQ(0600, info.mode);
}

TEST_F(chan, create_defaults)
{
	const char *name = new_name(_metadata, self, "d");
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;

	create_init(&c, name);
	ASSERT_EQ(0, sc_create(self->ctl, &c));
	memset(&info, 0xa5, sizeof(info));
	memset(info.name, 0, sizeof(info.name));
	memset(info.reserved, 0, sizeof(info.reserved));
	info.reserved0 = 0;
	sc_name(info.name, name);
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_INFO, &info));
	EXPECT_STREQ(name, info.name);
	EXPECT_STREQ("", info.group);
	EXPECT_EQ(c.chan_id, info.chan_id);
	EXPECT_EQ(param(_metadata, "default_capacity_bytes"), info.capacity_bytes);
	EXPECT_EQ(param(_metadata, "default_capacity_msgs"), info.capacity_msgs);
	EXPECT_EQ(param(_metadata, "default_max_msg"), info.max_msg);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0600, info.mode);
	EXPECT_EQ(0, info.markers_queued);
	EXPECT_EQ(0, info.reserved0);
	EXPECT_EQ(0, info.depth_msgs);
	EXPECT_EQ(0, info.depth_bytes);
	EXPECT_EQ(0, info.total_sent);
	EXPECT_EQ(0, info.total_received);
	EXPECT_EQ(1, info.first_seq);
	EXPECT_EQ(1, info.next_seq);
	EXPECT_EQ(0, info.readers);
	EXPECT_EQ(0, info.writers);
	EXPECT_EQ(0, info.sender_node);
	EXPECT_EQ(0, info.receiver_node);
	EXPECT_EQ(0, info.reserved[0] | info.reserved[1] | info.reserved[2] | info.reserved[3]);
}

TEST_F(chan, create_config_and_first_seq)
{
	const char *name = new_name(_metadata, self, "cfg");
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	struct snapchan_recv r;
	char buf[64];
	int wfd, rfd;

	create_init(&c, name);
	c.capacity_bytes = 4096;
	c.capacity_msgs = 16;
	c.max_msg = 512;
	c.first_seq = 1000;
	c.mode = 0660;
	c.flags = SNAPCHAN_CHAN_F_EOF;
	ASSERT_EQ(0, sc_create(self->ctl, &c));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(4096, info.capacity_bytes);
	EXPECT_EQ(16, info.capacity_msgs);
	EXPECT_EQ(512, info.max_msg);
	EXPECT_EQ(SNAPCHAN_CHAN_F_EOF, info.flags);
	EXPECT_EQ(0660, info.mode);
	EXPECT_EQ(1000, info.first_seq);
	EXPECT_EQ(1000, info.next_seq);

	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	rfd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(5, write(wfd, "hello", 5));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(1001, info.next_seq);
	ASSERT_EQ(0, recv_msg(rfd, buf, sizeof(buf), 0, &r));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(5, r.len);
	EXPECT_EQ(1000, r.seq);
	EXPECT_EQ(0, r.snap_id);
	EXPECT_EQ(0, r.origin);
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	close(wfd);
	close(rfd);
}

/*
 * Only reserved fields and undefined flag bits must be zero on input
 * (uapi header, "Conventions"): an out field such as chan_id is ignored,
 * so that a caller may reuse the struct of an earlier call.
 */
TEST_F(chan, create_out_field_ignored)
{
	const char *name = new_name(_metadata, self, "out");
	struct snapchan_chan_create c;

	create_init(&c, name);
	c.chan_id = 0xdeadbeef;
	ASSERT_EQ(0, sc_create(self->ctl, &c)) TH_LOG("%s", strerror(errno));
	EXPECT_NE(0xdeadbeef, c.chan_id);
	EXPECT_NE(0, c.chan_id);
}

static const char *const bad_names[] = {
	"",
	"control",
	"a/b",
	"/",
	".",
	"..",
	" x",
	"x ",
	"a b",
	"a\tb",
	"a\nb",
	"a:b",
	"a*",
	"\xc3\xa9t\xc3\xa9",	/* UTF-8 "ete" with accents */
	"\x7f",
	"caf\xe9",		/* Latin-1 */
};

TEST_F(chan, create_bad_names)
{
	struct snapchan_chan_create c;
	unsigned int before = list_count(_metadata, self->ctl);
	char path[64];
	unsigned int i;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		create_init(&c, bad_names[i]);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_CREATE, &c))
			TH_LOG("name \"%s\" accepted", bad_names[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("name \"%s\": %s", bad_names[i], strerror(errno));
		if (errno == 0 && !strchr(bad_names[i], '/') && strcmp(bad_names[i], "control"))
			sc_destroy(self->ctl, bad_names[i]);
	}

	/* 32 characters: no terminator inside the field */
	create_init(&c, "x");
	memset(c.name, 'n', SNAPCHAN_NAME_LEN);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_CREATE, &c));
	EXPECT_EQ(EINVAL, errno);
	snprintf(path, sizeof(path), SC_DEV_DIR "%.32s", c.name);
	EXPECT_NE(0, access(path, F_OK));

	EXPECT_EQ(before, list_count(_metadata, self->ctl));
}

TEST_F(chan, create_good_names)
{
	char n31[SNAPCHAN_NAME_LEN], mixed[SNAPCHAN_NAME_LEN];
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	size_t len;
	int fd;

	/* 31 characters, the longest */
	snprintf(n31, sizeof(n31), "%s", new_name(_metadata, self, ""));
	len = strlen(n31);
	memset(n31 + len, 'L', 31 - len);
	n31[31] = '\0';
	strcpy(self->names[self->nnames - 1], n31);
	create_init(&c, n31);
	ASSERT_EQ(0, sc_create(self->ctl, &c)) TH_LOG("%s: %s", n31, strerror(errno));
	ASSERT_EQ(0, sc_info(self->ctl, n31, &info));
	EXPECT_STREQ(n31, info.name);
	fd = open_chan(n31, O_RDONLY);
	EXPECT_LE(0, fd);
	close(fd);

	/* every allowed character class */
	snprintf(mixed, sizeof(mixed), "%s", new_name(_metadata, self, "Az09._-"));
	create_init(&c, mixed);
	EXPECT_EQ(0, sc_create(self->ctl, &c)) TH_LOG("%s: %s", mixed, strerror(errno));
}

TEST_F(chan, create_duplicate)
{
	const char *name = make_chan(_metadata, self, "dup", 4096, 8, 256, 0);
	struct snapchan_chan_create c;

	create_init(&c, name);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_CREATE, &c));
	EXPECT_EQ(EEXIST, errno);
	/* a different configuration does not matter */
	create_init(&c, name);
	c.capacity_msgs = 3;
	c.flags = SNAPCHAN_CHAN_F_EOF;
	EXPECT_EQ(-EEXIST, sc_create(self->ctl, &c));
}

static const char *const bad_groups[] = {
	"a/b", " x", "x ", "a b", "a:b", "\xc3\xa9t\xc3\xa9", "caf\xe9", "a\nb",
};

TEST_F(chan, create_group_names)
{
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	const char *name = new_name(_metadata, self, "g");
	char group[SNAPCHAN_NAME_LEN];
	unsigned int i;

	for (i = 0; i < sizeof(bad_groups) / sizeof(bad_groups[0]); i++) {
		create_init(&c, name);
		sc_name(c.group, bad_groups[i]);
		EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c))
			TH_LOG("group \"%s\"", bad_groups[i]);
		EXPECT_EQ(-ENOENT, sc_info(self->ctl, name, &info));
		sc_destroy(self->ctl, name);
	}
	create_init(&c, name);
	memset(c.group, 'g', SNAPCHAN_NAME_LEN);
	EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c));
	EXPECT_EQ(-ENOENT, sc_info(self->ctl, name, &info));

	/* a valid group name, reported back */
	snprintf(group, sizeof(group), "kstg%d", getpid());
	create_init(&c, name);
	sc_name(c.group, group);
	ASSERT_EQ(0, sc_create(self->ctl, &c)) TH_LOG("group %s: %s", group, strerror(errno));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_STREQ(group, info.group);
}

TEST_F(chan, create_size_limits)
{
	unsigned long long max_cap = param(_metadata, "max_capacity_bytes");
	unsigned long long max_msgs = param(_metadata, "max_capacity_msgs");
	unsigned long long max_msg = param(_metadata, "max_msg_size");
	const char *name = new_name(_metadata, self, "sz");
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;

	/* max_msg beyond the parameter */
	create_init(&c, name);
	c.capacity_bytes = max_cap;
	c.max_msg = max_msg + 1;
	EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c));

	/* capacity beyond the parameters */
	create_init(&c, name);
	c.capacity_bytes = max_cap + 1;
	EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c));
	create_init(&c, name);
	c.capacity_bytes = ~0ULL;
	EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c));
	if (max_msgs < 0xffffffffULL) {
		create_init(&c, name);
		c.capacity_msgs = max_msgs + 1;
		EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c));
	}

	/* the queue must hold one message of max size */
	create_init(&c, name);
	c.capacity_bytes = 100;
	c.max_msg = 101;
	EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c));
	EXPECT_EQ(-ENOENT, sc_info(self->ctl, name, &info));

	/* exactly at the limits is fine */
	create_init(&c, name);
	c.capacity_bytes = max_cap;
	c.capacity_msgs = max_msgs;
	c.max_msg = max_msg <= max_cap ? max_msg : max_cap;
	ASSERT_EQ(0, sc_create(self->ctl, &c)) TH_LOG("at limits: %s", strerror(errno));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(max_cap, info.capacity_bytes);
	EXPECT_EQ(max_msgs, info.capacity_msgs);
	EXPECT_EQ(c.max_msg, info.max_msg);
	ASSERT_EQ(0, sc_destroy(self->ctl, name));

	/* capacity_bytes == max_msg is fine */
	create_init(&c, name);
	c.capacity_bytes = 100;
	c.max_msg = 100;
	EXPECT_EQ(0, sc_create(self->ctl, &c));
}

TEST_F(chan, create_bad_mode)
{
	static const unsigned int bad[] = {
		0700, 0777, 0100, 0010, 0001, 01600, 02600, 04600, 010000, 0x80000000,
	};
	static const unsigned int good[] = { 0666, 0444, 0200, 0604 };
	const char *name = new_name(_metadata, self, "m");
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	char path[64];
	struct stat st;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		create_init(&c, name);
		c.mode = bad[i];
		EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c)) TH_LOG("mode %o", bad[i]);
		EXPECT_EQ(-ENOENT, sc_info(self->ctl, name, &info));
		sc_destroy(self->ctl, name);
	}
	snprintf(path, sizeof(path), SC_DEV_DIR "%s", name);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		create_init(&c, name);
		c.mode = good[i];
		ASSERT_EQ(0, sc_create(self->ctl, &c)) TH_LOG("mode %o", good[i]);
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_EQ(good[i], st.st_mode & 07777);
		ASSERT_EQ(0, sc_destroy(self->ctl, name));
	}
}

TEST_F(chan, create_bad_flags_reserved)
{
	const char *name = new_name(_metadata, self, "f");
	unsigned int before = list_count(_metadata, self->ctl);
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	char path[64];
	int i;

	snprintf(path, sizeof(path), SC_DEV_DIR "%s", name);
	for (i = 1; i < 31; i++) {
		create_init(&c, name);
		c.flags = 1U << i;
		if (c.flags & SNAPCHAN_CHAN_F_ALL)
			continue;
		EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c)) TH_LOG("flag bit %d", i);
	}
	for (i = 0; i < 4; i++) {
		create_init(&c, name);
		c.reserved[i] = 1ULL << (i * 13);
		EXPECT_EQ(-EINVAL, sc_create(self->ctl, &c)) TH_LOG("reserved[%d]", i);
	}
	EXPECT_EQ(-ENOENT, sc_info(self->ctl, name, &info));
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_EQ(before, list_count(_metadata, self->ctl));

	/* the topology flag is accepted on create */
	create_init(&c, name);
	c.flags = SNAPCHAN_CHAN_F_EOF | SNAPCHAN_TOPO_F_ABORT;
	EXPECT_EQ(0, sc_create(self->ctl, &c));
}

/*
 * Create channels as @uid until an error; returns how many were created
 * (exit code of a child, names "<base><i>"), or -errno-ish codes >= 200.
 */
static int create_until_error_as(uid_t uid, const char *base, int max, int *err)
{
	int pfd[2], n = -1, status;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct snapchan_chan_create c;
		char name[SNAPCHAN_NAME_LEN];
		int ctl, i, e = 0;

		close(pfd[0]);
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(1);
		ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
		if (ctl < 0)
			_exit(2);
		for (i = 0; i < max; i++) {
			snprintf(name, sizeof(name), "%s%d", base, i);
			create_init(&c, name);
			c.capacity_bytes = 1024;
			c.capacity_msgs = 4;
			c.max_msg = 64;
			if (sc_create(ctl, &c)) {
				e = errno;
				break;
			}
		}
		if (write(pfd[1], &e, sizeof(e)) != sizeof(e))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], err, sizeof(*err)) != sizeof(*err))
		*err = -1;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		/* count what exists */
		char path[64];
		int i;

		for (n = 0, i = 0; i < max; i++) {
			snprintf(path, sizeof(path), SC_DEV_DIR "%s%d", base, i);
			if (access(path, F_OK) == 0)
				n++;
		}
	}
	return n;
}

static int channels_owned_by(struct __test_metadata *_metadata, int ctl, uid_t uid)
{
	unsigned int count = list_count(_metadata, ctl), i;
	struct snapchan_chan_list l = { 0 };
	struct snapchan_chan_info info;
	char (*names)[SNAPCHAN_NAME_LEN];
	int n = 0;

	names = calloc(count + 1, SNAPCHAN_NAME_LEN);
	l.names = (uintptr_t)names;
	l.max_entries = count + 1;
	if (ioctl(ctl, SNAPCHAN_IOC_CHAN_LIST, &l))
		return -1;
	for (i = 0; i < l.count && i < count + 1; i++)
		if (sc_info(ctl, names[i], &info) == 0 && info.uid == uid)
			n++;
	free(names);
	return n;
}

TEST_F(chan, too_many_per_user)
{
	char base[SNAPCHAN_NAME_LEN];
	unsigned long long limit;
	int owned, n, err = 0, i, tries;

	if (geteuid() != 0)
		SKIP(return, "needs root (to act as uid %d)", NOBODY);
	snprintf(base, sizeof(base), "kst%d-u", getpid());
	if (sc_param_writable("max_channels_per_user")) {
		owned = channels_owned_by(_metadata, self->ctl, NOBODY);
		ASSERT_LE(0, owned);
		limit = owned + 3;
		ASSERT_EQ(0, lower_param(_metadata, self, "max_channels_per_user", limit));
	} else {
		limit = param(_metadata, "max_channels_per_user");
		owned = channels_owned_by(_metadata, self->ctl, NOBODY);
		if (limit > 40)
			SKIP(return, "max_channels_per_user=%llu is read-only and large", limit);
	}
	tries = limit + 2;
	for (i = 0; i < tries; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "u%d", i);
		new_name(_metadata, self, tag);
	}
	n = create_until_error_as(NOBODY, base, tries, &err);
	EXPECT_EQ(ENOSPC, err) TH_LOG("error after %d channels: %s", n, strerror(err));
	EXPECT_EQ((int)(limit - owned), n);
}

TEST_F(chan, too_many_global)
{
	char base[SNAPCHAN_NAME_LEN];
	unsigned long long per_user;
	unsigned int count;
	int n, err = 0, i;

	if (geteuid() != 0)
		SKIP(return, "needs root (to change max_channels)");
	if (!sc_param_writable("max_channels"))
		SKIP(return, "max_channels is read-only");
	per_user = param(_metadata, "max_channels_per_user");
	if (per_user < 3 + (unsigned int)channels_owned_by(_metadata, self->ctl, NOBODY))
		SKIP(return, "max_channels_per_user too small for this test");
	count = list_count(_metadata, self->ctl);
	ASSERT_EQ(0, lower_param(_metadata, self, "max_channels", count + 2));
	snprintf(base, sizeof(base), "kst%d-g", getpid());
	for (i = 0; i < 4; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "g%d", i);
		new_name(_metadata, self, tag);
	}
	n = create_until_error_as(NOBODY, base, 4, &err);
	EXPECT_EQ(ENOSPC, err) TH_LOG("error after %d channels: %s", n, strerror(err));
	EXPECT_EQ(2, n);
}

TEST_F(chan, unknown_ioctl)
{
	const char *name = make_chan(_metadata, self, "io", 4096, 8, 256, 0);
	struct snapchan_recv r;
	int rfd, wfd, arg = 0;

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, _IO(SNAPCHAN_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, _IOR('x', 1, int), &arg));
	EXPECT_EQ(ENOTTY, errno);
	/* a channel ioctl on the control device */
	memset(&r, 0, sizeof(r));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_RECV, &r));
	EXPECT_EQ(ENOTTY, errno);
	/* right number, wrong size */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, _IOR(SNAPCHAN_IOC_MAGIC, 0x00, __u32), &arg));
	EXPECT_EQ(ENOTTY, errno);

	rfd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, rfd);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	errno = 0;
	EXPECT_EQ(-1, ioctl(rfd, _IO(SNAPCHAN_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(wfd, _IOR('x', 1, int), &arg));
	EXPECT_EQ(ENOTTY, errno);
	/* a control ioctl on a channel */
	errno = 0;
	EXPECT_EQ(-1, ioctl(rfd, SNAPCHAN_IOC_VERSION, &arg));
	EXPECT_EQ(ENOTTY, errno);
	close(rfd);
	close(wfd);
}

TEST_F(chan, bad_pointers_control)
{
	const char *name = make_chan(_metadata, self, "bp", 4096, 8, 256, 0);
	unsigned int before = list_count(_metadata, self->ctl);
	static void *const bad[] = { NULL, (void *)1 };
	struct snapchan_chan_list l = { 0 };
	struct snapchan_chan_info info;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_VERSION, bad[i]));
		EXPECT_EQ(EFAULT, errno);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_CREATE, bad[i]));
		EXPECT_EQ(EFAULT, errno);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_DESTROY, bad[i]));
		EXPECT_EQ(EFAULT, errno);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_INFO, bad[i]));
		EXPECT_EQ(EFAULT, errno);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, bad[i]));
		EXPECT_EQ(EFAULT, errno);
		/* a good struct with a bad names array */
		l.names = (uintptr_t)bad[i];
		l.max_entries = 4;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
		EXPECT_EQ(EFAULT, errno);
	}
	EXPECT_EQ(before, list_count(_metadata, self->ctl));
	EXPECT_EQ(0, sc_info(self->ctl, name, &info));
}

TEST_F(chan, bad_pointers_channel)
{
	const char *name = make_chan(_metadata, self, "bpc", 4096, 8, 256, 0);
	static void *const bad[] = { NULL, (void *)1 };
	struct snapchan_recv r;
	struct iovec iov[2];
	char buf[64];
	unsigned int i;
	int rfd, wfd;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	wfd = open_chan(name, O_WRONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);

	for (i = 0; i < 2; i++) {
		errno = 0;
		EXPECT_EQ(-1, write(wfd, bad[i], 10));
		EXPECT_EQ(EFAULT, errno);
		iov[0].iov_base = "abc";
		iov[0].iov_len = 3;
		iov[1].iov_base = bad[i];
		iov[1].iov_len = 5;
		errno = 0;
		EXPECT_EQ(-1, writev(wfd, iov, 2));
		EXPECT_EQ(EFAULT, errno);
	}
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));

	ASSERT_EQ(6, write(wfd, "intact", 6));
	for (i = 0; i < 2; i++) {
		errno = 0;
		EXPECT_EQ(-1, read(rfd, bad[i], sizeof(buf)));
		EXPECT_EQ(EFAULT, errno);
		errno = 0;
		EXPECT_EQ(-1, ioctl(rfd, SNAPCHAN_IOC_RECV, bad[i]));
		EXPECT_EQ(EFAULT, errno);
		memset(&r, 0, sizeof(r));
		r.buf = (uintptr_t)bad[i];
		r.buf_len = sizeof(buf);
		errno = 0;
		EXPECT_EQ(-1, ioctl(rfd, SNAPCHAN_IOC_RECV, &r));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(1, depth(_metadata, self->ctl, name));
	}
	ASSERT_EQ(6, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "intact", 6));
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));
	close(rfd);
	close(wfd);
}

/* ===================================================================== */
/* Channel ends                                                            */
/* ===================================================================== */

TEST_F(chan, open_modes)
{
	const char *name = make_chan(_metadata, self, "om", 4096, 8, 256, 0);
	struct snapchan_chan_info info;
	char buf[16];
	int rfd, wfd;

	EXPECT_EQ(-EINVAL, open_chan(name, O_RDWR));
	EXPECT_EQ(-EINVAL, open_chan(name, O_RDWR | O_NONBLOCK));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(0, info.readers);
	EXPECT_EQ(0, info.writers);

	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	rfd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(1, info.readers);
	EXPECT_EQ(1, info.writers);

	/* the VFS refuses the wrong direction */
	errno = 0;
	EXPECT_EQ(-1, write(rfd, "x", 1));
	EXPECT_EQ(EBADF, errno);
	errno = 0;
	EXPECT_EQ(-1, read(wfd, buf, sizeof(buf)));
	EXPECT_EQ(EBADF, errno);

	ASSERT_EQ(3, write(wfd, "dir", 3));
	{
		struct snapchan_recv r;

		/* RECV is for receiving ends */
		EXPECT_EQ(-EBADF, recv_msg(wfd, buf, sizeof(buf), 0, &r));
		EXPECT_EQ(1, depth(_metadata, self->ctl, name));
	}
	ASSERT_EQ(3, read(rfd, buf, sizeof(buf)));
	close(wfd);
	close(rfd);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(0, info.readers);
	EXPECT_EQ(0, info.writers);
}

TEST_F(chan, writev_one_message)
{
	const char *name = make_chan(_metadata, self, "wv", 4096, 8, 256, 0);
	struct snapchan_chan_info info;
	struct iovec iov[3] = {
		{ .iov_base = "one-", .iov_len = 4 },
		{ .iov_base = "two-", .iov_len = 4 },
		{ .iov_base = "three", .iov_len = 5 },
	};
	char buf[64];
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(13, writev(wfd, iov, 3));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(1, info.depth_msgs);
	EXPECT_EQ(13, info.depth_bytes);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(13, read(rfd, buf, sizeof(buf)));
	EXPECT_STREQ("one-two-three", buf);
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

/*
 * A zero-length message is a message.  read() of it returns 0, which a
 * reader cannot tell from end of file; SNAPCHAN_IOC_RECV tells (type DATA,
 * len 0, a sequence number).
 */
TEST_F(chan, zero_length_message)
{
	const char *name = make_chan(_metadata, self, "z", 4096, 8, 256, 0);
	struct snapchan_chan_info info;
	struct snapchan_recv r;
	char buf[16];
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(0, write(wfd, buf, 0));
	/*
	 * (Not writev() with a total length of 0: the 6.1 VFS returns 0
	 * for it without calling the driver, so it sends nothing.)
	 */
	ASSERT_EQ(0, write(wfd, buf, 0));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(2, info.depth_msgs);
	EXPECT_EQ(0, info.depth_bytes);
	EXPECT_EQ(2, info.total_sent);

	ASSERT_EQ(0, recv_msg(rfd, buf, sizeof(buf), 0, &r));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(1, r.seq);
	/* RECV with no buffer at all works for it too */
	ASSERT_EQ(0, recv_msg(rfd, NULL, 0, 0, &r));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(2, r.seq);

	ASSERT_EQ(0, write(wfd, buf, 0));
	ASSERT_EQ(0, read(rfd, buf, sizeof(buf)));	/* the message, not EOF */
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(0, info.depth_msgs);
	EXPECT_EQ(3, info.total_received);
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(chan, write_too_long)
{
	const char *name = make_chan(_metadata, self, "tl", 4096, 8, 256, 0);
	char buf[512];
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY | O_NONBLOCK);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	fill(buf, sizeof(buf), 1);
	errno = 0;
	EXPECT_EQ(-1, write(wfd, buf, 257));
	EXPECT_EQ(EMSGSIZE, errno);
	errno = 0;
	EXPECT_EQ(-1, write(wfd, buf, sizeof(buf)));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));
	EXPECT_EQ(256, write(wfd, buf, 256));
	EXPECT_EQ(1, depth(_metadata, self->ctl, name));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(256, read(rfd, buf, sizeof(buf)));
	{
		char want[256];

		fill(want, sizeof(want), 1);
		EXPECT_EQ(0, memcmp(want, buf, 256));
	}
}

TEST_F(chan, read_too_small)
{
	const char *name = make_chan(_metadata, self, "ts", 4096, 8, 256, 0);
	char msg[100], buf[200];
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	fill(msg, sizeof(msg), 2);
	ASSERT_EQ(100, write(wfd, msg, 100));
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, 99));
	EXPECT_EQ(EMSGSIZE, errno);
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, 1));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(1, depth(_metadata, self->ctl, name));
	ASSERT_EQ(100, read(rfd, buf, 100));
	EXPECT_EQ(0, memcmp(msg, buf, 100));
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));
}

TEST_F(chan, recv_too_small)
{
	const char *name = make_chan(_metadata, self, "rs", 4096, 8, 256, 0);
	struct snapchan_recv r;
	char msg[100], buf[200];
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	fill(msg, sizeof(msg), 3);
	ASSERT_EQ(100, write(wfd, msg, 100));

	EXPECT_EQ(-EMSGSIZE, recv_msg(rfd, buf, 10, 0, &r));
	EXPECT_EQ(100, r.len);
	EXPECT_EQ(-EMSGSIZE, recv_msg(rfd, NULL, 0, 0, &r));
	EXPECT_EQ(100, r.len);
	EXPECT_EQ(-EMSGSIZE, recv_msg(rfd, buf, 99, SNAPCHAN_RECV_PEEK, &r));
	EXPECT_EQ(100, r.len);
	EXPECT_EQ(1, depth(_metadata, self->ctl, name));

	/* unknown flags and reserved: EINVAL, nothing consumed */
	EXPECT_EQ(-EINVAL, recv_msg(rfd, buf, sizeof(buf), 1U << 5, &r));
	memset(&r, 0, sizeof(r));
	r.buf = (uintptr_t)buf;
	r.buf_len = sizeof(buf);
	r.reserved[1] = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(rfd, SNAPCHAN_IOC_RECV, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, depth(_metadata, self->ctl, name));

	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, recv_msg(rfd, buf, 100, 0, &r));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(100, r.len);
	EXPECT_EQ(1, r.seq);
	EXPECT_EQ(0, memcmp(msg, buf, 100));
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));
}

TEST_F(chan, fifo_and_seq)
{
	const char *name = make_chan(_metadata, self, "fifo", 65536, 64, 256, 0);
	struct snapchan_chan_info info;
	struct snapchan_recv r;
	char msg[256], buf[256];
	unsigned int i, len, total = 0;
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	for (i = 0; i < 50; i++) {
		len = 1 + (i * 37) % 256;
		fill(msg, len, i);
		ASSERT_EQ((ssize_t)len, write(wfd, msg, len));
		total += len;
	}
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(50, info.depth_msgs);
	EXPECT_EQ(total, info.depth_bytes);
	EXPECT_EQ(50, info.total_sent);
	EXPECT_EQ(51, info.next_seq);

	for (i = 0; i < 50; i++) {
		len = 1 + (i * 37) % 256;
		fill(msg, len, i);
		memset(buf, 0, sizeof(buf));
		if (i % 2) {
			ASSERT_EQ(0, recv_msg(rfd, buf, sizeof(buf), 0, &r));
			EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
			EXPECT_EQ(i + 1, r.seq);
			ASSERT_EQ(len, r.len);
		} else {
			ASSERT_EQ((ssize_t)len, read(rfd, buf, sizeof(buf)));
		}
		EXPECT_EQ(0, memcmp(msg, buf, len)) TH_LOG("message %u", i);
	}
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(0, info.depth_msgs);
	EXPECT_EQ(0, info.depth_bytes);
	EXPECT_EQ(50, info.total_received);
	EXPECT_EQ(51, info.next_seq);
	/* numbers go on after a drain */
	ASSERT_EQ(1, write(wfd, "x", 1));
	ASSERT_EQ(0, recv_msg(rfd, buf, sizeof(buf), 0, &r));
	EXPECT_EQ(51, r.seq);
}

TEST_F(chan, recv_peek)
{
	const char *name = make_chan(_metadata, self, "pk", 4096, 8, 256, 0);
	struct snapchan_recv r;
	char buf[32];
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(-EAGAIN, recv_msg(rfd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
	ASSERT_EQ(5, write(wfd, "first", 5));
	ASSERT_EQ(6, write(wfd, "second", 6));

	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, recv_msg(rfd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
	EXPECT_EQ(SNAPCHAN_REC_DATA, r.type);
	EXPECT_EQ(5, r.len);
	EXPECT_EQ(1, r.seq);
	EXPECT_STREQ("first", buf);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, recv_msg(rfd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
	EXPECT_EQ(1, r.seq);
	EXPECT_STREQ("first", buf);
	EXPECT_EQ(2, depth(_metadata, self->ctl, name));

	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, recv_msg(rfd, buf, sizeof(buf), 0, &r));
	EXPECT_EQ(1, r.seq);
	EXPECT_STREQ("first", buf);
	EXPECT_EQ(1, depth(_metadata, self->ctl, name));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(6, read(rfd, buf, sizeof(buf)));
	EXPECT_STREQ("second", buf);
}

TEST_F(chan, full_by_messages)
{
	const char *name = make_chan(_metadata, self, "fm", 4096, 4, 256, 0);
	char buf[32];
	int rfd, wfd, i;

	wfd = open_chan(name, O_WRONLY | O_NONBLOCK);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	for (i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "msg%d", i);
		ASSERT_EQ(4, write(wfd, buf, 4));
	}
	errno = 0;
	EXPECT_EQ(-1, write(wfd, "more", 4));
	EXPECT_EQ(EAGAIN, errno);
	errno = 0;
	EXPECT_EQ(-1, write(wfd, buf, 0));	/* takes a message slot too */
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(4, depth(_metadata, self->ctl, name));
	for (i = 0; i < 4; i++) {
		char want[8];

		snprintf(want, sizeof(want), "msg%d", i);
		memset(buf, 0, sizeof(buf));
		ASSERT_EQ(4, read(rfd, buf, sizeof(buf)));
		EXPECT_STREQ(want, buf);
		if (i == 0) {	/* room again */
			ASSERT_EQ(4, write(wfd, "msg4", 4));
		}
	}
	ASSERT_EQ(4, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "msg4", 4));
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(chan, full_by_bytes)
{
	const char *name = make_chan(_metadata, self, "fb", 1000, 100, 600, 0);
	struct snapchan_chan_info info;
	char msg[600], buf[600];
	int rfd, wfd;

	wfd = open_chan(name, O_WRONLY | O_NONBLOCK);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_LE(0, rfd);
	fill(msg, sizeof(msg), 4);
	ASSERT_EQ(600, write(wfd, msg, 600));
	errno = 0;
	EXPECT_EQ(-1, write(wfd, msg, 401));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(400, write(wfd, msg + 1, 400));
	errno = 0;
	EXPECT_EQ(-1, write(wfd, msg, 1));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(2, info.depth_msgs);
	EXPECT_EQ(1000, info.depth_bytes);
	EXPECT_EQ(2, info.total_sent);

	ASSERT_EQ(600, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(msg, buf, 600));
	ASSERT_EQ(400, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(msg + 1, buf, 400));
}

TEST_F(chan, empty_nonblock)
{
	const char *name = make_chan(_metadata, self, "en", 4096, 8, 256, 0);
	struct snapchan_recv r;
	char buf[16];
	int rfd, wfd;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-EAGAIN, recv_msg(rfd, buf, sizeof(buf), 0, &r));
	/* and with writers having come and gone, no EOF flag: still EAGAIN */
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	close(wfd);
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_FALSE(poll_events(rfd, POLLIN) & (POLLIN | POLLHUP));
}

TEST_F(chan, blocking_read)
{
	const char *name = make_chan(_metadata, self, "br", 4096, 8, 256, 0);
	struct op op = { .kind = OP_READ };
	char buf[64] = { 0 };
	int wfd;

	op.fd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, op.fd);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	op.buf = buf;
	op.len = sizeof(buf);
	op_start(_metadata, &op);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&op.done));
	ASSERT_EQ(4, write(wfd, "wake", 4));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(4, op.ret);
	EXPECT_STREQ("wake", buf);

	/* RECV blocks the same way */
	op.kind = OP_RECV;
	memset(buf, 0, sizeof(buf));
	op_start(_metadata, &op);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&op.done));
	ASSERT_EQ(5, write(wfd, "again", 5));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(0, op.ret);
	EXPECT_EQ(5, op.r.len);
	EXPECT_EQ(2, op.r.seq);
	EXPECT_STREQ("again", buf);
}

TEST_F(chan, blocking_read_process)
{
	const char *name = make_chan(_metadata, self, "brp", 4096, 8, 256, 0);
	int rfd, wfd;
	pid_t pid;

	rfd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, rfd);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	pid = proc_start(_metadata, OP_READ, rfd, 64, 7);
	usleep(100000);
	EXPECT_TRUE(proc_running(pid));
	ASSERT_EQ(7, write(wfd, "process", 7));
	EXPECT_EQ(0, proc_wait(pid, 5));
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));
}

TEST_F(chan, blocking_write)
{
	const char *name = make_chan(_metadata, self, "bw", 4096, 2, 256, 0);
	struct op op = { .kind = OP_WRITE };
	char buf[64] = { 0 };
	int rfd;

	op.fd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, op.fd);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(2, write(op.fd, "m1", 2));
	ASSERT_EQ(2, write(op.fd, "m2", 2));
	op.buf = "m3";
	op.len = 2;
	op_start(_metadata, &op);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&op.done));
	EXPECT_EQ(2, depth(_metadata, self->ctl, name));
	ASSERT_EQ(2, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "m1", 2));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(2, op.ret);
	ASSERT_EQ(2, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "m2", 2));
	ASSERT_EQ(2, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "m3", 2));
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(chan, blocking_write_bytes)
{
	/* room for messages, not for bytes: the writer waits for bytes */
	const char *name = make_chan(_metadata, self, "bwb", 300, 10, 200, 0);
	struct op op = { .kind = OP_WRITE };
	char msg[200], buf[200];
	int rfd;

	op.fd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, op.fd);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	fill(msg, sizeof(msg), 5);
	ASSERT_EQ(200, write(op.fd, msg, 200));
	op.buf = msg;
	op.len = 150;
	op_start(_metadata, &op);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&op.done));
	ASSERT_EQ(200, read(rfd, buf, sizeof(buf)));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(150, op.ret);
	ASSERT_EQ(150, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(msg, buf, 150));
}

/*
 * Several readers asleep (exclusive waits), as many messages arriving back
 * to back: every reader must get one.  A wakeup that is not passed on to
 * the next sleeper while data is left shows up as a reader that sleeps
 * with a message queued.  Nobody polls: polling changes how the module
 * wakes.
 */
static void many_blocked_readers(struct __test_metadata *_metadata,
				 FIXTURE_DATA(chan) *self, enum op_kind kind,
				 const char *tag)
{
	const char *name = make_chan(_metadata, self, tag, 4096, 16, 256, 0);
	enum { NR = 4, ROUNDS = 5 };
	struct op ops[NR];
	char bufs[NR][64];
	int wfd, i, round;

	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	memset(ops, 0, sizeof(ops));
	for (i = 0; i < NR; i++) {
		ops[i].fd = open_chan(name, O_RDONLY);
		ASSERT_LE(0, ops[i].fd);
	}
	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < NR; i++) {
			ops[i].kind = kind;
			ops[i].buf = bufs[i];
			ops[i].len = sizeof(bufs[i]);
			memset(&ops[i].r, 0, sizeof(ops[i].r));
			op_start(_metadata, &ops[i]);
		}
		for (i = 0; i < NR; i++)
			ASSERT_EQ(1, write(wfd, "m", 1));
		for (i = 0; i < NR; i++) {
			op_join(_metadata, &ops[i], 5);
			EXPECT_EQ(kind == OP_RECV ? 0 : 1, ops[i].ret);
		}
		ASSERT_EQ(0, depth(_metadata, self->ctl, name));
	}
}

TEST_F(chan, many_blocked_readers_read)
{
	many_blocked_readers(_metadata, self, OP_READ, "mbr");
}

TEST_F(chan, many_blocked_readers_recv)
{
	many_blocked_readers(_metadata, self, OP_RECV, "mbv");
}

/* The same for writers asleep on a full channel. */
TEST_F(chan, many_blocked_writers)
{
	const char *name = make_chan(_metadata, self, "mbw", 4096, 4, 256, 0);
	enum { NW = 4, ROUNDS = 5 };
	struct op ops[NW];
	char buf[64];
	int rfd, i, round;

	rfd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, rfd);
	memset(ops, 0, sizeof(ops));
	for (i = 0; i < NW; i++) {
		ops[i].fd = open_chan(name, O_WRONLY);
		ASSERT_LE(0, ops[i].fd);
	}
	for (i = 0; i < 4; i++)
		ASSERT_EQ(1, write(ops[0].fd, "f", 1));
	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < NW; i++) {
			ops[i].kind = OP_WRITE;
			ops[i].buf = "w";
			ops[i].len = 1;
			op_start(_metadata, &ops[i]);
		}
		for (i = 0; i < NW; i++)
			ASSERT_EQ(1, read(rfd, buf, sizeof(buf)));
		for (i = 0; i < NW; i++) {
			op_join(_metadata, &ops[i], 5);
			EXPECT_EQ(1, ops[i].ret);
		}
		ASSERT_EQ(4, depth(_metadata, self->ctl, name));
	}
}

/* Signal @op's thread until it returns (or @max times); how many sent. */
static int signal_until_done(struct op *op, int max, int interval_ms)
{
	int n;

	for (n = 0; n < max && !atomic_load(&op->done); n++) {
		pthread_kill(op->thread, SIGUSR1);
		usleep(interval_ms * 1000);
	}
	return n;
}

TEST_F(chan, signal_read_eintr)
{
	const char *name = make_chan(_metadata, self, "sre", 4096, 8, 256, 0);
	struct op op = { .kind = OP_READ };
	char buf[64] = { 0 };
	int wfd;

	set_handler(_metadata, 0);
	op.fd = open_chan(name, O_RDONLY);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, op.fd);
	ASSERT_LE(0, wfd);
	op.buf = buf;
	op.len = sizeof(buf);
	op_start(_metadata, &op);
	signal_until_done(&op, 100, 20);
	op_join(_metadata, &op, 5);
	EXPECT_EQ(-1, op.ret);
	EXPECT_EQ(EINTR, op.err);
	EXPECT_LE(1, atomic_load(&sig_count));
	/* nothing lost: the channel still works */
	ASSERT_EQ(2, write(wfd, "ok", 2));
	ASSERT_EQ(2, read(op.fd, buf, sizeof(buf)));
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));
}

TEST_F(chan, signal_write_eintr)
{
	const char *name = make_chan(_metadata, self, "swe", 4096, 1, 256, 0);
	struct snapchan_chan_info info;
	struct op op = { .kind = OP_WRITE };
	char buf[64] = { 0 };
	int rfd;

	set_handler(_metadata, 0);
	op.fd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, op.fd);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(5, write(op.fd, "first", 5));
	op.buf = "blocked";
	op.len = 7;
	op_start(_metadata, &op);
	signal_until_done(&op, 100, 20);
	op_join(_metadata, &op, 5);
	EXPECT_EQ(-1, op.ret);
	EXPECT_EQ(EINTR, op.err);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(1, info.depth_msgs);
	EXPECT_EQ(1, info.total_sent);
	ASSERT_EQ(5, read(rfd, buf, sizeof(buf)));
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(chan, signal_read_restart)
{
	const char *name = make_chan(_metadata, self, "srr", 4096, 8, 256, 0);
	struct op op = { .kind = OP_READ };
	char buf[64] = { 0 };
	int wfd;

	set_handler(_metadata, 1);
	op.fd = open_chan(name, O_RDONLY);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, op.fd);
	ASSERT_LE(0, wfd);
	op.buf = buf;
	op.len = sizeof(buf);
	op_start(_metadata, &op);
	signal_until_done(&op, 5, 40);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("read returned %zd: %s", op.ret, strerror(op.err));
	EXPECT_LE(1, atomic_load(&sig_count));
	ASSERT_EQ(9, write(wfd, "restarted", 9));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(9, op.ret);
	EXPECT_STREQ("restarted", buf);
	EXPECT_EQ(0, depth(_metadata, self->ctl, name));
}

TEST_F(chan, signal_write_restart)
{
	const char *name = make_chan(_metadata, self, "swr", 4096, 1, 256, 0);
	struct snapchan_chan_info info;
	struct op op = { .kind = OP_WRITE };
	char buf[64] = { 0 };
	int rfd;

	set_handler(_metadata, 1);
	op.fd = open_chan(name, O_WRONLY);
	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, op.fd);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(5, write(op.fd, "first", 5));
	op.buf = "second";
	op.len = 6;
	op_start(_metadata, &op);
	signal_until_done(&op, 5, 40);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("write returned %zd: %s", op.ret, strerror(op.err));
	EXPECT_LE(1, atomic_load(&sig_count));
	EXPECT_EQ(1, depth(_metadata, self->ctl, name));
	ASSERT_EQ(5, read(rfd, buf, sizeof(buf)));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(6, op.ret);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(6, read(rfd, buf, sizeof(buf)));
	EXPECT_STREQ("second", buf);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(2, info.total_sent);
	EXPECT_EQ(0, info.depth_msgs);
}

/* ===================================================================== */
/* Destroy                                                                 */
/* ===================================================================== */

TEST_F(chan, destroy_wakes_blocked)
{
	const char *e = make_chan(_metadata, self, "de", 4096, 8, 256, 0);
	const char *f = make_chan(_metadata, self, "df", 4096, 1, 256, 0);
	struct op rd = { .kind = OP_READ }, wr = { .kind = OP_WRITE };
	struct op pl = { .kind = OP_POLL, .events = POLLIN };
	char buf[64];
	pid_t prd, pwr;
	int wfd;

	rd.fd = open_chan(e, O_RDONLY);
	ASSERT_LE(0, rd.fd);
	pl.fd = rd.fd;
	wr.fd = open_chan(f, O_WRONLY);
	ASSERT_LE(0, wr.fd);
	ASSERT_EQ(4, write(wr.fd, "full", 4));
	rd.buf = buf;
	rd.len = sizeof(buf);
	wr.buf = "blocked";
	wr.len = 7;

	op_start(_metadata, &rd);
	op_start(_metadata, &pl);
	op_start(_metadata, &wr);
	prd = proc_start(_metadata, OP_READ, rd.fd, 64, 0);
	pwr = proc_start(_metadata, OP_WRITE, wr.fd, 7, 7);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&rd.done));
	EXPECT_FALSE(atomic_load(&pl.done));
	EXPECT_FALSE(atomic_load(&wr.done));
	EXPECT_TRUE(proc_running(prd));
	EXPECT_TRUE(proc_running(pwr));

	ASSERT_EQ(0, sc_destroy(self->ctl, e));
	ASSERT_EQ(0, sc_destroy(self->ctl, f));
	op_join(_metadata, &rd, 5);
	op_join(_metadata, &pl, 5);
	op_join(_metadata, &wr, 5);
	EXPECT_EQ(-1, rd.ret);
	EXPECT_EQ(ENODEV, rd.err);
	EXPECT_EQ(1, pl.ret);
	EXPECT_TRUE(pl.revents & POLLHUP);
	EXPECT_EQ(-1, wr.ret);
	EXPECT_EQ(ENODEV, wr.err);
	EXPECT_EQ(ENODEV, proc_wait(prd, 5));
	EXPECT_EQ(ENODEV, proc_wait(pwr, 5));

	/* the device node went with it */
	wfd = open_chan(f, O_WRONLY);
	EXPECT_EQ(-ENOENT, wfd);
}

TEST_F(chan, after_destroy)
{
	const char *name = make_chan(_metadata, self, "ad", 4096, 8, 256, 0);
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	struct snapchan_recv r;
	__u64 old_id;
	char buf[64], path[64];
	int rfd, wfd, rfd2, wfd2;

	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	old_id = info.chan_id;
	rfd = open_chan(name, O_RDONLY);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, rfd);
	ASSERT_LE(0, wfd);

	ASSERT_EQ(0, sc_destroy(self->ctl, name));
	EXPECT_EQ(-ENOENT, sc_info(self->ctl, name, &info));
	EXPECT_EQ(-ENOENT, sc_destroy(self->ctl, name));
	snprintf(path, sizeof(path), SC_DEV_DIR "%s", name);
	EXPECT_NE(0, access(path, F_OK));

	/* dead ends: ENODEV, HUP, never block */
	errno = 0;
	EXPECT_EQ(-1, write(wfd, "x", 1));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENODEV, recv_msg(rfd, buf, sizeof(buf), 0, &r));
	EXPECT_TRUE(poll_events(rfd, POLLIN) & POLLHUP);
	EXPECT_TRUE(poll_events(wfd, POLLOUT) & POLLHUP);

	/* the name is free again while the old fds are open */
	create_init(&c, name);
	ASSERT_EQ(0, sc_create(self->ctl, &c));
	EXPECT_NE(old_id, c.chan_id);
	rfd2 = open_chan(name, O_RDONLY | O_NONBLOCK);
	wfd2 = open_chan(name, O_WRONLY);
	ASSERT_LE(0, rfd2);
	ASSERT_LE(0, wfd2);
	errno = 0;
	EXPECT_EQ(-1, write(wfd, "x", 1));	/* old end stays dead */
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(0, info.depth_msgs);
	EXPECT_EQ(1, info.readers);
	EXPECT_EQ(1, info.writers);
	EXPECT_EQ(1, info.next_seq);
	ASSERT_EQ(3, write(wfd2, "new", 3));
	ASSERT_EQ(3, read(rfd2, buf, sizeof(buf)));
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(ENODEV, errno);
	close(rfd);
	close(wfd);
	close(rfd2);
	close(wfd2);
}

/*
 * Destroy discards what is queued: the open ends "see the channel as dead"
 * (DESIGN 3.1), so a reader gets ENODEV, not the old messages, and poll
 * says EPOLLHUP without EPOLLIN.
 */
TEST_F(chan, after_destroy_queued)
{
	const char *name = make_chan(_metadata, self, "adq", 4096, 8, 256, 0);
	struct snapchan_recv r;
	char buf[64];
	int rfd, wfd;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, rfd);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(6, write(wfd, "queued", 6));
	ASSERT_EQ(0, sc_destroy(self->ctl, name));
	EXPECT_EQ(POLLHUP, poll_events(rfd, POLLIN) & (POLLHUP | POLLIN));
	EXPECT_EQ(-ENODEV, recv_msg(rfd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
	EXPECT_EQ(-ENODEV, recv_msg(rfd, buf, sizeof(buf), 0, &r));
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(ENODEV, errno);
	close(rfd);
	close(wfd);
}

TEST_F(chan, destroy_unknown)
{
	struct snapchan_chan_destroy d;
	char name[SNAPCHAN_NAME_LEN];
	const char *live = make_chan(_metadata, self, "du", 4096, 8, 256, 0);

	snprintf(name, sizeof(name), "kst%d-nonexistent", getpid());
	EXPECT_EQ(-ENOENT, sc_destroy(self->ctl, name));
	EXPECT_EQ(-EINVAL, sc_destroy(self->ctl, "a/b"));
	EXPECT_EQ(-EINVAL, sc_destroy(self->ctl, ""));
	memset(&d, 0, sizeof(d));
	sc_name(d.name, live);
	d.flags = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	d.flags = 0;
	d.reserved = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, depth(_metadata, self->ctl, live));	/* still there */
	d.reserved = 0;
	d.flags = SNAPCHAN_TOPO_F_ABORT;
	EXPECT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d));
}

/* ===================================================================== */
/* End of file                                                             */
/* ===================================================================== */

TEST_F(chan, eof_flag)
{
	const char *name = make_chan(_metadata, self, "eof", 4096, 8, 256, SNAPCHAN_CHAN_F_EOF);
	struct op op = { .kind = OP_READ };
	char buf[64];
	int rfd, wfd, wfd2;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	/* no writer ever opened: not EOF */
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_FALSE(poll_events(rfd, POLLIN) & (POLLHUP | POLLIN));

	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	wfd2 = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd2);
	ASSERT_EQ(3, write(wfd, "one", 3));
	ASSERT_EQ(3, write(wfd2, "two", 3));
	close(wfd);
	/* one writer left */
	ASSERT_EQ(3, read(rfd, buf, sizeof(buf)));
	ASSERT_EQ(3, read(rfd, buf, sizeof(buf)));
	errno = 0;
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(5, write(wfd2, "three", 5));
	close(wfd2);

	/* writers gone: queued data first, then EOF */
	EXPECT_TRUE(poll_events(rfd, POLLIN) & POLLIN);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(5, read(rfd, buf, sizeof(buf)));
	EXPECT_STREQ("three", buf);
	EXPECT_EQ(0, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, read(rfd, buf, sizeof(buf)));
	{
		struct snapchan_recv r;

		/* RECV tells end of file from a zero-length message */
		EXPECT_EQ(-ENODATA, recv_msg(rfd, buf, sizeof(buf), 0, &r));
		EXPECT_EQ(-ENODATA, recv_msg(rfd, buf, sizeof(buf), SNAPCHAN_RECV_PEEK, &r));
	}
	EXPECT_TRUE(poll_events(rfd, POLLIN) & POLLHUP);
	EXPECT_FALSE(poll_events(rfd, POLLIN) & POLLIN);
	close(rfd);

	/* a blocking reader sees EOF at once too */
	rfd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(0, read(rfd, buf, sizeof(buf)));

	/* a new writer: no longer EOF */
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	EXPECT_FALSE(poll_events(rfd, POLLIN) & POLLHUP);
	op.fd = rfd;
	op.buf = buf;
	op.len = sizeof(buf);
	op_start(_metadata, &op);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&op.done));
	/* a blocked reader wakes with EOF when the last writer closes */
	close(wfd);
	op_join(_metadata, &op, 5);
	EXPECT_EQ(0, op.ret);
}

TEST_F(chan, no_eof_flag_blocks)
{
	const char *name = make_chan(_metadata, self, "neof", 4096, 8, 256, 0);
	struct op op = { .kind = OP_READ };
	char buf[64];
	int wfd;

	op.fd = open_chan(name, O_RDONLY);
	ASSERT_LE(0, op.fd);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(1, write(wfd, "a", 1));
	close(wfd);
	ASSERT_EQ(1, read(op.fd, buf, sizeof(buf)));
	op.buf = buf;
	op.len = sizeof(buf);
	op_start(_metadata, &op);
	usleep(200000);
	EXPECT_FALSE(atomic_load(&op.done));
	EXPECT_FALSE(poll_events(op.fd, POLLIN) & (POLLIN | POLLHUP));
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(1, write(wfd, "b", 1));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(1, op.ret);
}

/* ===================================================================== */
/* poll and epoll                                                          */
/* ===================================================================== */

TEST_F(chan, poll_in)
{
	const char *name = make_chan(_metadata, self, "pi", 4096, 8, 256, 0);
	struct op op = { .kind = OP_POLL, .events = POLLIN };
	char buf[16];
	int rfd, wfd;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, rfd);
	ASSERT_LE(0, wfd);
	EXPECT_EQ(0, poll_events(rfd, POLLIN));
	ASSERT_EQ(1, write(wfd, "a", 1));
	EXPECT_TRUE(poll_events(rfd, POLLIN) & POLLIN);
	EXPECT_FALSE(poll_events(rfd, POLLIN) & (POLLPRI | POLLHUP | POLLERR));
	ASSERT_EQ(1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, poll_events(rfd, POLLIN));

	/* a sleeping poll wakes on arrival */
	op.fd = rfd;
	op_start(_metadata, &op);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&op.done));
	ASSERT_EQ(1, write(wfd, "b", 1));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(1, op.ret);
	EXPECT_TRUE(op.revents & POLLIN);
}

TEST_F(chan, poll_out)
{
	/* room for two max-size messages by bytes, four messages */
	const char *name = make_chan(_metadata, self, "po", 512, 4, 256, 0);
	struct op op = { .kind = OP_POLL, .events = POLLOUT };
	char buf[256];
	int rfd, wfd;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	wfd = open_chan(name, O_WRONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	ASSERT_LE(0, wfd);
	fill(buf, sizeof(buf), 6);
	EXPECT_TRUE(poll_events(wfd, POLLOUT) & POLLOUT);
	ASSERT_EQ(256, write(wfd, buf, 256));
	EXPECT_TRUE(poll_events(wfd, POLLOUT) & POLLOUT);	/* 256 left */
	ASSERT_EQ(1, write(wfd, buf, 1));
	EXPECT_FALSE(poll_events(wfd, POLLOUT) & POLLOUT);	/* 255 left */
	ASSERT_EQ(256, read(rfd, buf, sizeof(buf)));
	EXPECT_TRUE(poll_events(wfd, POLLOUT) & POLLOUT);	/* 511 left */
	/* by messages: 4 queued, bytes to spare */
	ASSERT_EQ(1, write(wfd, buf, 1));
	ASSERT_EQ(1, write(wfd, buf, 1));
	ASSERT_EQ(1, write(wfd, buf, 1));
	EXPECT_FALSE(poll_events(wfd, POLLOUT) & POLLOUT);

	/* a sleeping poll wakes when a reader makes room */
	op.fd = wfd;
	op_start(_metadata, &op);
	usleep(100000);
	EXPECT_FALSE(atomic_load(&op.done));
	ASSERT_EQ(1, read(rfd, buf, sizeof(buf)));
	op_join(_metadata, &op, 5);
	EXPECT_EQ(1, op.ret);
	EXPECT_TRUE(op.revents & POLLOUT);
}

TEST_F(chan, epoll_edge_triggered)
{
	const char *name = make_chan(_metadata, self, "et", 4096, 8, 256, 0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out[4];
	char buf[16];
	int rfd, wfd, ep;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, rfd);
	ASSERT_LE(0, wfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ev.data.fd = rfd;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, out, 4, 0));

	ASSERT_EQ(1, write(wfd, "1", 1));
	ASSERT_EQ(1, epoll_wait(ep, out, 4, 0));
	EXPECT_TRUE(out[0].events & EPOLLIN);
	EXPECT_EQ(0, epoll_wait(ep, out, 4, 0));	/* no new arrival */

	ASSERT_EQ(1, write(wfd, "2", 1));		/* one more, unread */
	EXPECT_EQ(1, epoll_wait(ep, out, 4, 0));
	EXPECT_EQ(0, epoll_wait(ep, out, 4, 0));

	ASSERT_EQ(1, read(rfd, buf, sizeof(buf)));
	ASSERT_EQ(1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, epoll_wait(ep, out, 4, 0));

	/* a blocking epoll_wait wakes on arrival */
	if (fork() == 0) {
		usleep(100000);
		_exit(write(wfd, "3", 1) == 1 ? 0 : 1);
	}
	EXPECT_EQ(1, epoll_wait(ep, out, 4, 5000));
	EXPECT_TRUE(out[0].events & EPOLLIN);
	wait(NULL);

	/* destroy: EPOLLHUP, once */
	ASSERT_EQ(0, sc_destroy(self->ctl, name));
	ASSERT_EQ(1, epoll_wait(ep, out, 4, 1000));
	EXPECT_TRUE(out[0].events & EPOLLHUP);
	close(ep);
}

TEST_F(chan, epoll_level_triggered)
{
	const char *name = make_chan(_metadata, self, "lt", 4096, 2, 256, 0);
	struct epoll_event ev, out[4];
	char buf[16];
	int rfd, wfd, ep, i, n;

	rfd = open_chan(name, O_RDONLY | O_NONBLOCK);
	wfd = open_chan(name, O_WRONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	ASSERT_LE(0, wfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ev.events = EPOLLIN;
	ev.data.fd = rfd;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev));
	ev.events = EPOLLOUT | EPOLLET;
	ev.data.fd = wfd;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev));

	/* the writer is ready once (edge), the reader is not */
	ASSERT_EQ(1, epoll_wait(ep, out, 4, 0));
	EXPECT_EQ(wfd, out[0].data.fd);
	EXPECT_EQ(0, epoll_wait(ep, out, 4, 0));

	ASSERT_EQ(1, write(wfd, "1", 1));
	ASSERT_EQ(1, write(wfd, "2", 1));	/* now full */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, epoll_wait(ep, out, 4, 0));
		EXPECT_EQ(rfd, out[0].data.fd);
		EXPECT_TRUE(out[0].events & EPOLLIN);
	}
	/* reading one makes room: the edge-triggered writer fires again */
	ASSERT_EQ(1, read(rfd, buf, sizeof(buf)));
	ASSERT_EQ(2, epoll_wait(ep, out, 4, 0));
	ASSERT_EQ(1, epoll_wait(ep, out, 4, 0));
	EXPECT_EQ(rfd, out[0].data.fd);
	ASSERT_EQ(1, read(rfd, buf, sizeof(buf)));
	n = epoll_wait(ep, out, 4, 0);	/* the writer may fire again */
	for (i = 0; i < n; i++)
		EXPECT_NE(rfd, out[i].data.fd);
	close(ep);
}

/* ===================================================================== */
/* Introspection                                                           */
/* ===================================================================== */

TEST_F(chan, chan_list)
{
	const char *a = make_chan(_metadata, self, "la", 4096, 8, 256, 0);
	const char *b = make_chan(_metadata, self, "lb", 4096, 8, 256, 0);
	const char *c = make_chan(_metadata, self, "lc", 4096, 8, 256, 0);
	struct snapchan_chan_list l = { 0 };
	char (*names)[SNAPCHAN_NAME_LEN];
	unsigned int count, i;
	int ia = -1, ib = -1, ic = -1;

	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
	count = l.count;
	ASSERT_LE(3, count);

	names = calloc(count + 2, SNAPCHAN_NAME_LEN);
	ASSERT_NE(NULL, names);
	memset(names, 0x5a, (count + 2) * SNAPCHAN_NAME_LEN);
	l.names = (uintptr_t)names;
	l.max_entries = count + 2;
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
	ASSERT_EQ(count, l.count);
	for (i = 0; i < count; i++) {
		ASSERT_NE(NULL, memchr(names[i], 0, SNAPCHAN_NAME_LEN));
		if (!strcmp(names[i], a))
			ia = i;
		if (!strcmp(names[i], b))
			ib = i;
		if (!strcmp(names[i], c))
			ic = i;
	}
	EXPECT_EQ((char)0x5a, names[count][0]);	/* no more than count */
	ASSERT_LE(0, ia);
	ASSERT_LE(0, ib);
	ASSERT_LE(0, ic);
	EXPECT_LT(ia, ib);	/* creation order */
	EXPECT_LT(ib, ic);

	/* partial fill */
	memset(names, 0x5a, (count + 2) * SNAPCHAN_NAME_LEN);
	l.max_entries = 1;
	l.count = 0;
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
	EXPECT_EQ(count, l.count);
	EXPECT_NE(NULL, memchr(names[0], 0, SNAPCHAN_NAME_LEN));
	EXPECT_EQ((char)0x5a, names[1][0]);

	/* flags and reserved must be zero */
	l.flags = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	l.flags = 0;
	l.reserved = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	l.reserved = 0;

	/* destroyed ones disappear */
	ASSERT_EQ(0, sc_destroy(self->ctl, b));
	l.max_entries = count + 2;
	ASSERT_EQ(0, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_LIST, &l));
	EXPECT_EQ(count - 1, l.count);
	for (i = 0; i < l.count; i++)
		EXPECT_STRNE(b, names[i]);
	free(names);
}

TEST_F(chan, info_counters)
{
	const char *name = make_chan(_metadata, self, "ic", 4096, 8, 256, 0);
	struct snapchan_chan_info info;
	char buf[64];
	int r1, r2, w1;

	r1 = open_chan(name, O_RDONLY | O_NONBLOCK);
	r2 = open_chan(name, O_RDONLY | O_NONBLOCK);
	w1 = open_chan(name, O_WRONLY);
	ASSERT_LE(0, r1);
	ASSERT_LE(0, r2);
	ASSERT_LE(0, w1);
	ASSERT_EQ(10, write(w1, "0123456789", 10));
	ASSERT_EQ(20, write(w1, "01234567890123456789", 20));
	ASSERT_EQ(5, write(w1, "abcde", 5));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(2, info.readers);
	EXPECT_EQ(1, info.writers);
	EXPECT_EQ(3, info.depth_msgs);
	EXPECT_EQ(35, info.depth_bytes);
	EXPECT_EQ(3, info.total_sent);
	EXPECT_EQ(0, info.total_received);
	EXPECT_EQ(4, info.next_seq);
	EXPECT_EQ(0, info.markers_queued);

	ASSERT_EQ(10, read(r1, buf, sizeof(buf)));
	ASSERT_EQ(20, read(r2, buf, sizeof(buf)));
	close(r2);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(1, info.readers);
	EXPECT_EQ(1, info.depth_msgs);
	EXPECT_EQ(5, info.depth_bytes);
	EXPECT_EQ(3, info.total_sent);
	EXPECT_EQ(2, info.total_received);
	close(w1);
	close(r1);
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));
	EXPECT_EQ(0, info.readers);
	EXPECT_EQ(0, info.writers);
	EXPECT_EQ(1, info.depth_msgs);	/* data outlives the ends */

	/* bad input */
	memset(&info, 0, sizeof(info));
	sc_name(info.name, name);
	info.reserved[3] = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, SNAPCHAN_IOC_CHAN_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, sc_info(self->ctl, "a/b", &info));
	snprintf(buf, sizeof(buf), "kst%d-none", getpid());
	EXPECT_EQ(-ENOENT, sc_info(self->ctl, buf, &info));
}

static int attr_u64(const char *name, const char *attr, unsigned long long *v)
{
	char path[128];

	snprintf(path, sizeof(path), SC_CLASS_DIR "%s/%s", name, attr);
	return sc_read_u64(path, v);
}

TEST_F(chan, sysfs_attributes)
{
	const char *name = new_name(_metadata, self, "sy");
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	unsigned long long v;
	char path[128], text[64], group[SNAPCHAN_NAME_LEN], buf[64];
	int rfd, wfd;

	snprintf(group, sizeof(group), "kstg%d", getpid());
	create_init(&c, name);
	sc_name(c.group, group);
	c.capacity_bytes = 3000;
	c.capacity_msgs = 30;
	c.max_msg = 300;
	c.first_seq = 77;
	ASSERT_EQ(0, sc_create(self->ctl, &c));
	rfd = open_chan(name, O_RDONLY);
	wfd = open_chan(name, O_WRONLY);
	ASSERT_LE(0, rfd);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(3, write(wfd, "abc", 3));
	ASSERT_EQ(4, write(wfd, "defg", 4));
	ASSERT_EQ(3, read(rfd, buf, sizeof(buf)));
	ASSERT_EQ(0, sc_info(self->ctl, name, &info));

#define CHECK_ATTR(attr, want) do { \
		ASSERT_EQ(0, attr_u64(name, #attr, &v)) TH_LOG("sysfs %s", #attr); \
		EXPECT_EQ((unsigned long long)(want), v) TH_LOG("sysfs %s", #attr); \
	} while (0)
	CHECK_ATTR(capacity_bytes, info.capacity_bytes);
	CHECK_ATTR(capacity_msgs, info.capacity_msgs);
	CHECK_ATTR(max_msg, info.max_msg);
	CHECK_ATTR(depth_msgs, info.depth_msgs);
	CHECK_ATTR(depth_bytes, info.depth_bytes);
	CHECK_ATTR(total_sent, info.total_sent);
	CHECK_ATTR(total_received, info.total_received);
	CHECK_ATTR(next_seq, info.next_seq);
	CHECK_ATTR(readers, info.readers);
	CHECK_ATTR(writers, info.writers);
	/* and the values themselves */
	CHECK_ATTR(capacity_bytes, 3000);
	CHECK_ATTR(capacity_msgs, 30);
	CHECK_ATTR(max_msg, 300);
	CHECK_ATTR(depth_msgs, 1);
	CHECK_ATTR(depth_bytes, 4);
	CHECK_ATTR(total_sent, 2);
	CHECK_ATTR(total_received, 1);
	CHECK_ATTR(next_seq, 79);
	CHECK_ATTR(readers, 1);
	CHECK_ATTR(writers, 1);
#undef CHECK_ATTR
	snprintf(path, sizeof(path), SC_CLASS_DIR "%s/group", name);
	ASSERT_LE(0, sc_read_text(path, text, sizeof(text)));
	EXPECT_STREQ(group, text);
	EXPECT_STREQ(info.group, text);

	/* live: they follow the traffic */
	ASSERT_EQ(4, read(rfd, buf, sizeof(buf)));
	ASSERT_EQ(0, attr_u64(name, "depth_msgs", &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, attr_u64(name, "total_received", &v));
	EXPECT_EQ(2, v);

	/* gone with the channel */
	ASSERT_EQ(0, sc_destroy(self->ctl, name));
	snprintf(path, sizeof(path), SC_CLASS_DIR "%s", name);
	EXPECT_NE(0, access(path, F_OK));
	close(rfd);
	close(wfd);
}

TEST_F(chan, sysfs_standalone_group_empty)
{
	const char *name = make_chan(_metadata, self, "sg", 4096, 8, 256, 0);
	char path[128], text[64];

	snprintf(path, sizeof(path), SC_CLASS_DIR "%s/group", name);
	ASSERT_LE(0, sc_read_text(path, text, sizeof(text)));
	EXPECT_STREQ("", text);
}

/* ===================================================================== */
/* Permissions                                                             */
/* ===================================================================== */

#define CHILD_CHECK(cond, code) do { \
		if (!(cond)) { \
			fprintf(stderr, "# child: %s failed (errno %d: %s)\n", \
				#cond, errno, strerror(errno)); \
			_exit(code); \
		} \
	} while (0)

TEST_F(chan, permissions)
{
	const char *priv = make_chan(_metadata, self, "priv", 4096, 8, 256, 0);
	const char *pub = new_name(_metadata, self, "pub");
	const char *mine = new_name(_metadata, self, "nobody");
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	struct stat st;
	char path[64];
	int status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root");
	ASSERT_EQ(0, stat(SC_CONTROL, &st));
	if ((st.st_mode & 0006) != 0006)
		SKIP(return, "control is mode %o, not open to all", st.st_mode & 0777);
	create_init(&c, pub);
	c.mode = 0666;
	ASSERT_EQ(0, sc_create(self->ctl, &c));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct snapchan_chan_create mc;
		int ctl, fd;

		CHILD_CHECK(setgroups(0, NULL) == 0, 2);
		CHILD_CHECK(setgid(NOBODY) == 0, 3);
		CHILD_CHECK(setuid(NOBODY) == 0, 4);
		/* root's 0600 channel */
		CHILD_CHECK(sc_open_chan(priv, O_RDONLY) == -EACCES, 10);
		CHILD_CHECK(sc_open_chan(priv, O_WRONLY) == -EACCES, 11);
		/* the control device is open to all */
		ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
		CHILD_CHECK(ctl >= 0, 12);
		CHILD_CHECK(sc_destroy(ctl, priv) == -EPERM, 13);
		/* root's 0666 channel: usable, still not destroyable */
		fd = sc_open_chan(pub, O_WRONLY);
		CHILD_CHECK(fd >= 0, 14);
		CHILD_CHECK(write(fd, "hi", 2) == 2, 15);
		close(fd);
		CHILD_CHECK(sc_destroy(ctl, pub) == -EPERM, 16);
		/* its own channel */
		create_init(&mc, mine);
		CHILD_CHECK(sc_create(ctl, &mc) == 0, 17);
		fd = sc_open_chan(mine, O_WRONLY);
		CHILD_CHECK(fd >= 0, 18);
		close(fd);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d", WEXITSTATUS(status));

	EXPECT_EQ(1, depth(_metadata, self->ctl, pub));
	snprintf(path, sizeof(path), SC_DEV_DIR "%s", mine);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(NOBODY, st.st_uid);
	EXPECT_EQ(NOBODY, st.st_gid);
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, sc_info(self->ctl, mine, &info));
	EXPECT_EQ(NOBODY, info.uid);
	EXPECT_EQ(NOBODY, info.gid);
	/* root (CAP_SYS_ADMIN) may destroy anyone's channel */
	EXPECT_EQ(0, sc_destroy(self->ctl, mine));
	EXPECT_EQ(-ENOENT, sc_info(self->ctl, mine, &info));
}

TEST_F(chan, owner_destroys_own)
{
	const char *mine = new_name(_metadata, self, "own");
	int status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct snapchan_chan_create mc;
		int ctl;

		CHILD_CHECK(setgroups(0, NULL) == 0, 2);
		CHILD_CHECK(setgid(NOBODY) == 0, 3);
		CHILD_CHECK(setuid(NOBODY) == 0, 4);
		ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
		CHILD_CHECK(ctl >= 0, 5);
		create_init(&mc, mine);
		mc.mode = 0640;
		CHILD_CHECK(sc_create(ctl, &mc) == 0, 6);
		CHILD_CHECK(sc_destroy(ctl, mine) == 0, 7);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d", WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	if (access(SC_CONTROL, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("%s missing: is the snapchan module loaded?\n", SC_CONTROL);
	}
	return test_harness_run(argc, argv);
}
