/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the snapchan selftests: paths, module parameters,
 * sysfs attributes, "is this task blocked" checks.
 */
#ifndef SNAPCHAN_TEST_H
#define SNAPCHAN_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/snapchan.h>

#define SC_DEV_DIR	"/dev/snapchan/"
#define SC_CONTROL	SC_DEV_DIR "control"
#define SC_PARAM_DIR	"/sys/module/snapchan/parameters/"
#define SC_CLASS_DIR	"/sys/class/snapchan/"

/* Read a small text file, strip the trailing newline; length or -errno. */
static inline int sc_read_text(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n;
}

static inline int sc_read_u64(const char *path, unsigned long long *val)
{
	char buf[64], *end;
	int n;

	n = sc_read_text(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (n == 0)
		return -EINVAL;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

static inline int sc_write_text(const char *path, const char *text)
{
	ssize_t n, len = strlen(text);
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : (n == len ? 0 : -EIO);
}

/* A module parameter: 0 and *val, or -errno. */
static inline int sc_param(const char *name, unsigned long long *val)
{
	char path[128];

	snprintf(path, sizeof(path), SC_PARAM_DIR "%s", name);
	return sc_read_u64(path, val);
}

static inline int sc_param_set(const char *name, unsigned long long val)
{
	char path[128], text[32];

	snprintf(path, sizeof(path), SC_PARAM_DIR "%s", name);
	snprintf(text, sizeof(text), "%llu", val);
	return sc_write_text(path, text);
}

/* Is the parameter file writable by its owner (mode 0644 or so)? */
static inline int sc_param_writable(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), SC_PARAM_DIR "%s", name);
	if (stat(path, &st))
		return 0;
	return !!(st.st_mode & S_IWUSR);
}

/* Copy a C string into a name field (no check: tests feed bad names). */
static inline void sc_name(char dst[SNAPCHAN_NAME_LEN], const char *src)
{
	size_t len = strlen(src);

	memset(dst, 0, SNAPCHAN_NAME_LEN);
	memcpy(dst, src, len < SNAPCHAN_NAME_LEN ? len : SNAPCHAN_NAME_LEN);
}

static inline int sc_open_chan(const char *name, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), SC_DEV_DIR "%s", name);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static inline int sc_destroy(int ctl, const char *name)
{
	struct snapchan_chan_destroy d;

	memset(&d, 0, sizeof(d));
	sc_name(d.name, name);
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d) ? -errno : 0;
}

static inline int sc_info(int ctl, const char *name,
			  struct snapchan_chan_info *info)
{
	memset(info, 0, sizeof(*info));
	sc_name(info->name, name);
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_INFO, info) ? -errno : 0;
}

static inline int sc_create(int ctl, struct snapchan_chan_create *c)
{
	return ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, c) ? -errno : 0;
}

static inline double sc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait until task @tid of process @pid (pid == tid for a process) sleeps
 * ('S' in /proc/<pid>/task/<tid>/stat), then a little more so that it is
 * in the call we care about.  Without /proc, just wait.  1 if it sleeps.
 */
static inline int sc_wait_sleeping(pid_t pid, pid_t tid)
{
	char path[96], buf[512], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	for (i = 0; i < 400; i++) {
		if (sc_read_text(path, buf, sizeof(buf)) < 0) {
			usleep(300000);
			return 1;
		}
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S') {
			usleep(50000);
			return 1;
		}
		usleep(10000);
	}
	return 0;
}

/*
 * Every writable module parameter with its range (kmod/main.c), for the
 * tests that set, exhaust or abuse them: one list, so none falls behind.
 */
static const struct {
	const char *name;
	unsigned int min, max;
} snapchan_param_ranges[] __attribute__((unused)) = {
	{ "max_channels",		1, 4096 },
	{ "max_channels_per_user",	1, 4096 },
	{ "default_capacity_msgs",	1, 1 << 20 },
	{ "max_capacity_msgs",		1, 1 << 20 },
	{ "default_capacity_bytes",	1, 1 << 30 },
	{ "max_capacity_bytes",		1, 1 << 30 },
	{ "default_max_msg",		1, 16 << 20 },
	{ "max_msg_size",		1, 16 << 20 },
	{ "max_markers",		1, 1024 },
	{ "max_captures",		1, 65536 },
	{ "max_captures_per_user",	1, 65536 },
	{ "max_capture_mbytes",		1, 1 << 20 },
	{ "max_nodes",			1, 65536 },
	{ "max_nodes_per_user",		1, 65536 },
	{ "max_snapshots",		1, 64 },
	{ "max_retained",		0, 64 },
	{ "max_state_bytes",		0, 64 << 20 },
	{ "default_timeout_ms",		0, 86400000 },
	{ "default_budget_mbytes",	1, 1 << 20 },
};
#define SNAPCHAN_NR_PARAMS \
	(sizeof(snapchan_param_ranges) / sizeof(snapchan_param_ranges[0]))

#endif /* SNAPCHAN_TEST_H */
