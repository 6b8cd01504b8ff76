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

/* close(2) for an fd the library opened; an error there changes nothing. */
static inline void sc_close(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

#endif /* SNAPCHAN_SYSCALL_H */
