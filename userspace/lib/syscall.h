/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Internal: the library's only doors into the kernel.  Each wraps one
 * system call and turns the libc convention (-1 and errno) into the
 * library's (-errno), so that no public function relies on errno.
 * sc_ioctl() is the one ioctl funnel: every SNAPCHAN_IOC_* goes through it.
 */
#ifndef SNAPCHAN_SYSCALL_H
#define SNAPCHAN_SYSCALL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <unistd.h>

static inline int sc_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

static inline int sc_open(const char *path, int flags)
{
	int ret = open(path, flags | O_CLOEXEC);

	return ret < 0 ? -errno : ret;
}

static inline ssize_t sc_read(int fd, void *buf, size_t len)
{
	ssize_t ret = read(fd, buf, len);

	return ret < 0 ? -errno : ret;
}

static inline ssize_t sc_write(int fd, const void *buf, size_t len)
{
	ssize_t ret = write(fd, buf, len);

	return ret < 0 ? -errno : ret;
}

static inline int sc_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	int ret = poll(fds, n, timeout_ms);

	return ret < 0 ? -errno : ret;
}

static inline int sc_fsync(int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

static inline int sc_rename(const char *from, const char *to)
{
	return rename(from, to) < 0 ? -errno : 0;
}

/* Needs _GNU_SOURCE before the first #include (mkostemp, renameat2). */
#ifdef _GNU_SOURCE
#include <stdlib.h>

static inline int sc_mkostemp(char *tmpl, int flags)
{
	int ret = mkostemp(tmpl, flags);

	return ret < 0 ? -errno : ret;
}

static inline int sc_rename_noreplace(const char *from, const char *to)
{
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0 ?
	       -errno : 0;
}
#endif

static inline int sc_link(const char *from, const char *to)
{
	return link(from, to) < 0 ? -errno : 0;
}

/* close(2) whose result matters (a file just written): -errno or 0. */
static inline int sc_close_checked(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

/* unlink(2) of a temporary file; an error there changes nothing. */
static inline void sc_unlink(const char *path)
{
	int saved = errno;

	unlink(path);
	errno = saved;
}

/* close(2) for an fd the library opened; an error there changes nothing. */
static inline void sc_close(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

#endif /* SNAPCHAN_SYSCALL_H */
