// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan device node selftests (issue 12, defect 4): open() of a
 * channel must not trust the inode alone.  A device node that devtmpfs
 * does not manage (a mknod'd copy in a container's /dev or a chroot) has
 * whatever mode its maker gave it, and outlives the channel.  So:
 *
 * - access is checked in ->open against the channel object: the owner,
 *   group and mode recorded at create, as inode permission does (the
 *   owner's bits for its uid, the group's bits for its gid or a
 *   supplementary group, else the others' bits; CAP_DAC_OVERRIDE passes,
 *   and CAP_DAC_READ_SEARCH for reading): through a copy of mode 0666,
 *   everyone gets exactly what the real /dev/snapchan/<name> gives;
 * - minors are allocated cyclically: a destroyed channel's minor is not
 *   the next channel's, and a stale copy fails (ENODEV or ENXIO) instead
 *   of reaching whichever channel came next.
 *
 * Runs as root; acts as uid 1000 (the channels' owner), 1001 (group
 * member or not) and 65534 in forked children, and as root without
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH.  Copies are made with mknod
 * in a temporary directory under /tmp.  Channel names are "dn<pid>-<tag>";
 * the teardown destroys them and removes the copies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "snapchan_test.h"
#include "kselftest_harness.h"

#define OWNER		1000
#define OTHER_UID	1001
#define NOBODY		65534
#define MAX_NAMES	16
#define NL		SNAPCHAN_NAME_LEN
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Who opens: ids, supplementary groups, capabilities dropped. */
struct who {
	const char *label;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[2];
	bool drop_dac;		/* root without CAP_DAC_OVERRIDE/READ_SEARCH */
};

static const struct who w_root = { "root", 0, 0, 0, { 0 }, false };
static const struct who w_root_nodac = { "root without CAP_DAC_*", 0, 0, 0,
					 { 0 }, true };
static const struct who w_owner = { "owner 1000:1000", OWNER, OWNER, 0,
				    { 0 }, false };
static const struct who w_group = { "uid 1001, gid 1000", OTHER_UID, OWNER,
				    0, { 0 }, false };
static const struct who w_supp = { "uid 1001:1001, groups 1000", OTHER_UID,
				   OTHER_UID, 1, { OWNER }, false };
static const struct who w_stranger = { "uid 1001:1001", OTHER_UID,
				       OTHER_UID, 0, { 0 }, false };
static const struct who w_nobody = { "uid 65534", NOBODY, NOBODY, 0, { 0 },
				     false };

FIXTURE(devnode) {
	int ctl;
	char dir[64];
	char names[MAX_NAMES][NL];
	int nnames;
};

FIXTURE_SETUP(devnode)
{
	self->ctl = -1;
	if (geteuid() != 0)
		SKIP(return, "needs root (mknod, acting as other users)");
	strcpy(self->dir, "/tmp/snapchan-devnode.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir)) TH_LOG("mkdtemp: %s", strerror(errno));
	ASSERT_EQ(0, chmod(self->dir, 0755));
	self->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", SC_CONTROL, strerror(errno));
}

FIXTURE_TEARDOWN(devnode)
{
	char path[128];
	int i;

	for (i = 0; i < self->nnames; i++) {
		sc_destroy(self->ctl, self->names[i]);
		snprintf(path, sizeof(path), "%s/%s", self->dir, self->names[i]);
		unlink(path);
	}
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->dir[0])
		rmdir(self->dir);
}

static const char *new_name(struct __test_metadata *_metadata,
			    FIXTURE_DATA(devnode) *self, const char *tag)
{
	char *n;

	ASSERT_LT(self->nnames, MAX_NAMES);
	n = self->names[self->nnames++];
	snprintf(n, NL, "dn%d-%s", getpid(), tag);
	return n;
}

static int drop_dac(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];
	const int caps[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH };
	unsigned int i;

	if (syscall(SYS_capget, &h, d))
		return -1;
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		d[caps[i] / 32].effective &= ~(1U << (caps[i] % 32));
		d[caps[i] / 32].permitted &= ~(1U << (caps[i] % 32));
	}
	return syscall(SYS_capset, &h, d) ? -1 : 0;
}

static int become(const struct who *w)
{
	if (setgroups(w->ngroups, w->groups) ||
	    setresgid(w->gid, w->gid, w->gid) ||
	    setresuid(w->uid, w->uid, w->uid))
		return -1;
	if (w->drop_dac && drop_dac())
		return -1;
	return 0;
}

/*
 * Exit codes of the children: 0 success, an errno (< 200), or one of
 * these for a failure of the child's own setup.
 */
#define KID_BECOME	250
#define KID_OTHER	251

static int kid_result(pid_t pid)
{
	int status;

	if (pid < 0)
		return -errno;
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (!WIFEXITED(status))
		return -EINTR;
	return WEXITSTATUS(status) ? -WEXITSTATUS(status) : 0;
}

/* Create channel @name as @w with @mode: 0 or -errno. */
static int create_as(const struct who *w, const char *name, unsigned int mode)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		struct snapchan_chan_create c;
		int ctl;

		if (become(w))
			_exit(KID_BECOME);
		ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
		if (ctl < 0)
			_exit(errno);
		memset(&c, 0, sizeof(c));
		sc_name(c.name, name);
		c.mode = mode;
		_exit(ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, &c) ? errno : 0);
	}
	return kid_result(pid);
}

/* open(@path, @flags) as @w: 0 (it opened) or -errno. */
static int open_as(const struct who *w, const char *path, int flags)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int fd;

		if (become(w))
			_exit(KID_BECOME);
		fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
		_exit(fd < 0 ? errno : 0);
	}
	return kid_result(pid);
}

static const char *res_str(int r)
{
	static char buf[4][48];
	static int i;
	char *s = buf[i++ % 4];

	if (r == 0)
		return "opens";
	if (r == -KID_BECOME)
		return "(could not switch ids)";
	snprintf(s, 48, "%s", strerror(-r));
	return s;
}

static dev_t rdev_of(struct __test_metadata *_metadata, const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), SC_DEV_DIR "%s", name);
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("stat %s: %s", path, strerror(errno));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	return st.st_rdev;
}

/* A copy of @name's device node, mode @mode, in the test's directory. */
static void make_copy(struct __test_metadata *_metadata,
		      FIXTURE_DATA(devnode) *self, const char *name,
		      mode_t mode, char *path, size_t size)
{
	dev_t rdev = rdev_of(_metadata, name);

	snprintf(path, size, "%s/%s", self->dir, name);
	ASSERT_EQ(0, mknod(path, S_IFCHR | 0600, rdev))
		TH_LOG("mknod %s: %s", path, strerror(errno));
	ASSERT_EQ(0, chmod(path, mode));	/* exact, whatever the umask */
}

/*
 * Open the copy @copy and the real node of @name as @w, with @flags: the
 * copy must answer @want (0: it opens, or -errno) and, since its mode is
 * wider than the channel's, the same as the real node.
 */
static void check_open(struct __test_metadata *_metadata, const char *check,
		       const char *name, const char *copy,
		       const struct who *w, int flags, int want)
{
	const char *how = (flags & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "O_RDONLY";
	char real[64];
	int got, got_real;

	snprintf(real, sizeof(real), SC_DEV_DIR "%s", name);
	got = open_as(w, copy, flags);
	got_real = open_as(w, real, flags);
	EXPECT_EQ(want, got_real)
		TH_LOG("check %s: %s %s of the real node: %s, expected %s (test bug?)",
		       check, w->label, how, res_str(got_real), res_str(want));
	EXPECT_EQ(want, got)
		TH_LOG("check %s: %s %s of the 0%o copy: %s, expected %s (kernel bug: open() trusts the inode)",
		       check, w->label, how, 0666, res_str(got), res_str(want));
	if (got == want && got_real == want)
		ksft_print_msg("check %s: %s %s: %s, as through the real node\n",
			       check, w->label, how, res_str(got));
}

#define RD	O_RDONLY
#define WR	O_WRONLY

/* 0600, owned by 1000: only the owner and root get through the copy. */
TEST_F(devnode, copy_mode_0600)
{
	const char *a = new_name(_metadata, self, "a");
	struct snapchan_chan_info info;
	char copy[128];

	ASSERT_EQ(0, create_as(&w_owner, a, 0600));
	ASSERT_EQ(0, sc_info(self->ctl, a, &info));
	ASSERT_EQ(OWNER, info.uid);
	ASSERT_EQ(0600, info.mode);
	make_copy(_metadata, self, a, 0666, copy, sizeof(copy));

	check_open(_metadata, "nobody_denied", a, copy, &w_nobody, RD, -EACCES);
	check_open(_metadata, "nobody_denied", a, copy, &w_nobody, WR, -EACCES);
	check_open(_metadata, "stranger_denied", a, copy, &w_stranger, RD, -EACCES);
	check_open(_metadata, "group_denied", a, copy, &w_group, RD, -EACCES);
	check_open(_metadata, "owner_opens", a, copy, &w_owner, RD, 0);
	check_open(_metadata, "owner_opens", a, copy, &w_owner, WR, 0);
	check_open(_metadata, "root_opens", a, copy, &w_root, RD, 0);
	check_open(_metadata, "root_opens", a, copy, &w_root, WR, 0);
}

/* 0640, owned by 1000:1000: the group's bits for gid 1000, however held. */
TEST_F(devnode, copy_mode_0640_group)
{
	const char *a = new_name(_metadata, self, "g");
	char copy[128];

	ASSERT_EQ(0, create_as(&w_owner, a, 0640));
	make_copy(_metadata, self, a, 0666, copy, sizeof(copy));

	check_open(_metadata, "group_reads", a, copy, &w_group, RD, 0);
	check_open(_metadata, "group_no_write", a, copy, &w_group, WR, -EACCES);
	check_open(_metadata, "supp_group_reads", a, copy, &w_supp, RD, 0);
	check_open(_metadata, "supp_group_no_write", a, copy, &w_supp, WR, -EACCES);
	check_open(_metadata, "stranger_denied", a, copy, &w_stranger, RD, -EACCES);
	check_open(_metadata, "nobody_denied", a, copy, &w_nobody, WR, -EACCES);
	check_open(_metadata, "owner_writes", a, copy, &w_owner, WR, 0);
}

/* 0644: others may read through the copy, never write. */
TEST_F(devnode, copy_mode_0644_read_only)
{
	const char *a = new_name(_metadata, self, "r");
	char copy[128];

	ASSERT_EQ(0, create_as(&w_owner, a, 0644));
	make_copy(_metadata, self, a, 0666, copy, sizeof(copy));

	check_open(_metadata, "others_read", a, copy, &w_nobody, RD, 0);
	check_open(_metadata, "others_no_write", a, copy, &w_nobody, WR, -EACCES);
	check_open(_metadata, "owner_reads", a, copy, &w_owner, RD, 0);
	check_open(_metadata, "owner_writes", a, copy, &w_owner, WR, 0);
}

/*
 * 0066: as for an inode, the owner gets the owner's bits (none), even
 * though group and others have more.
 */
TEST_F(devnode, copy_owner_class_exclusive)
{
	const char *a = new_name(_metadata, self, "x");
	char copy[128];
	int ret;

	ret = create_as(&w_owner, a, 0066);
	if (ret == -EINVAL)
		SKIP(return, "mode 0066 refused at create");
	ASSERT_EQ(0, ret);
	make_copy(_metadata, self, a, 0666, copy, sizeof(copy));

	check_open(_metadata, "owner_gets_owner_bits", a, copy, &w_owner, RD, -EACCES);
	check_open(_metadata, "owner_gets_owner_bits", a, copy, &w_owner, WR, -EACCES);
	check_open(_metadata, "others_get_other_bits", a, copy, &w_nobody, RD, 0);
	check_open(_metadata, "others_get_other_bits", a, copy, &w_nobody, WR, 0);
}

/* Root passes by CAP_DAC_OVERRIDE, not by being uid 0. */
TEST_F(devnode, copy_root_without_dac_override)
{
	const char *a = new_name(_metadata, self, "c");
	char copy[128];

	ASSERT_EQ(0, create_as(&w_owner, a, 0600));
	make_copy(_metadata, self, a, 0666, copy, sizeof(copy));

	check_open(_metadata, "root_nodac_denied", a, copy, &w_root_nodac, RD, -EACCES);
	check_open(_metadata, "root_nodac_denied", a, copy, &w_root_nodac, WR, -EACCES);
}

/* Through the copy, the owner reaches that very channel. */
TEST_F(devnode, copy_reaches_its_channel)
{
	const char *a = new_name(_metadata, self, "s");
	struct snapchan_chan_info info;
	char copy[128], buf[16];
	int wfd, rfd;

	ASSERT_EQ(0, create_as(&w_root, a, 0600));
	make_copy(_metadata, self, a, 0600, copy, sizeof(copy));
	wfd = open(copy, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, wfd) TH_LOG("open the copy: %s", strerror(errno));
	ASSERT_EQ(5, write(wfd, "hello", 5));
	ASSERT_EQ(0, sc_info(self->ctl, a, &info));
	EXPECT_EQ(1, info.depth_msgs);
	EXPECT_EQ(1, info.writers);
	rfd = sc_open_chan(a, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(5, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	close(rfd);
	close(wfd);
}

/*
 * Destroy A, create B (and more): none gets A's minor, and A's stale copy
 * fails with ENODEV or ENXIO for everyone instead of reaching B.
 */
TEST_F(devnode, stale_copy_after_destroy)
{
	const char *a = new_name(_metadata, self, "old");
	const char *b = new_name(_metadata, self, "new");
	static const struct who *const whos[] = { &w_root, &w_nobody };
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	char copy[128], more[NL];
	dev_t ra, rb;
	unsigned int i;
	int got;

	memset(&c, 0, sizeof(c));
	sc_name(c.name, a);
	c.mode = 0666;
	ASSERT_EQ(0, sc_create(self->ctl, &c));
	ra = rdev_of(_metadata, a);
	make_copy(_metadata, self, a, 0666, copy, sizeof(copy));
	ASSERT_EQ(0, sc_destroy(self->ctl, a));

	memset(&c, 0, sizeof(c));
	sc_name(c.name, b);
	c.mode = 0666;
	ASSERT_EQ(0, sc_create(self->ctl, &c));
	rb = rdev_of(_metadata, b);
	EXPECT_NE(ra, rb)
		TH_LOG("check new_minor: B got A's minor %u:%u (kernel bug: minors reused lowest-first)",
		       major(ra), minor(ra));
	if (ra != rb)
		ksft_print_msg("check new_minor: A was %u:%u, B is %u:%u\n",
			       major(ra), minor(ra), major(rb), minor(rb));

	for (i = 0; i < ARRAY_SIZE(whos); i++) {
		got = open_as(whos[i], copy, O_RDONLY);
		EXPECT_TRUE(got == -ENODEV || got == -ENXIO)
			TH_LOG("check stale_copy_fails: %s O_RDONLY of A's stale copy: %s, expected ENODEV or ENXIO%s",
			       whos[i]->label, res_str(got),
			       got == 0 ? " (kernel bug: reached another channel)" : "");
		got = open_as(whos[i], copy, O_WRONLY);
		EXPECT_TRUE(got == -ENODEV || got == -ENXIO)
			TH_LOG("check stale_copy_fails: %s O_WRONLY of A's stale copy: %s, expected ENODEV or ENXIO%s",
			       whos[i]->label, res_str(got),
			       got == 0 ? " (kernel bug: reached another channel)" : "");
		if (got == -ENODEV || got == -ENXIO)
			ksft_print_msg("check stale_copy_fails: %s: %s\n",
				       whos[i]->label, res_str(got));
	}
	/* B saw nothing of it. */
	ASSERT_EQ(0, sc_info(self->ctl, b, &info));
	EXPECT_EQ(0, info.readers);
	EXPECT_EQ(0, info.writers);

	/* Nor does any of the next few channels get A's minor. */
	for (i = 0; i < 4; i++) {
		const char *n;

		snprintf(more, sizeof(more), "m%u", i);
		n = new_name(_metadata, self, more);
		memset(&c, 0, sizeof(c));
		sc_name(c.name, n);
		c.mode = 0666;
		ASSERT_EQ(0, sc_create(self->ctl, &c));
		EXPECT_NE(ra, rdev_of(_metadata, n))
			TH_LOG("check minor_not_reused: %s got A's minor", n);
		got = open_as(&w_root, copy, O_RDONLY);
		EXPECT_TRUE(got == -ENODEV || got == -ENXIO)
			TH_LOG("check stale_copy_fails: after %s: %s", n,
			       res_str(got));
	}
}

/* A minor freed by a destroy is not the next one handed out. */
TEST_F(devnode, minors_cyclic)
{
	struct snapchan_chan_create c;
	char tag[NL];
	dev_t seen[6];
	int i, j;

	for (i = 0; i < 6; i++) {
		const char *n;

		snprintf(tag, sizeof(tag), "cy%d", i);
		n = new_name(_metadata, self, tag);
		memset(&c, 0, sizeof(c));
		sc_name(c.name, n);
		ASSERT_EQ(0, sc_create(self->ctl, &c));
		seen[i] = rdev_of(_metadata, n);
		ASSERT_EQ(0, sc_destroy(self->ctl, n));
		for (j = 0; j < i; j++) {
			EXPECT_NE(seen[j], seen[i])
				TH_LOG("check minors_cyclic: channel %d got the minor of channel %d (%u), freed before",
				       i, j, minor(seen[i]));
		}
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
