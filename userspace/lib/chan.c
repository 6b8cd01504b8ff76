// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Control device, channel ends and the data path: thin wrappers over the
 * ioctls of uapi/linux/snapchan.h, all through sc_ioctl().
 */
#define _GNU_SOURCE	/* secure_getenv() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "snapchan.h"
#include "syscall.h"
#include "internal.h"

#define SC_DEFAULT_DEV_DIR	"/dev/snapchan"

int snapchan_name_valid(const char *name, unsigned int flags)
{
	size_t len, i;

	if (!name || (flags & ~(SNAPCHAN_NAME_F_CHANNEL |
				SNAPCHAN_NAME_F_EMPTY_OK)))
		return 0;
	len = strnlen(name, SNAPCHAN_NAME_LEN);
	if (len == SNAPCHAN_NAME_LEN)
		return 0;
	if (len == 0)
		return !!(flags & SNAPCHAN_NAME_F_EMPTY_OK);
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	/* As the kernel: never a path's "." or "..". */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if ((flags & SNAPCHAN_NAME_F_CHANNEL) && !strcmp(name, "control"))
		return 0;
	return 1;
}

/* Copy a name, known to be valid, into a SNAPCHAN_NAME_LEN field. */
static void sc_copy_name(char dst[SNAPCHAN_NAME_LEN], const char *src)
{
	memset(dst, 0, SNAPCHAN_NAME_LEN);
	memcpy(dst, src, strlen(src));
}

/* Open <dev dir>/<leaf>. */
static int sc_open_dev(const char *leaf, int oflags)
{
	const char *dir = secure_getenv("SNAPCHAN_DEV_DIR");
	char path[PATH_MAX];
	int n;

	if (!dir || !*dir)
		dir = SC_DEFAULT_DEV_DIR;
	n = snprintf(path, sizeof(path), "%s/%s", dir, leaf);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return sc_open(path, oflags);
}

int snapchan_open_control(void)
{
	return sc_open_dev("control", O_RDWR);
}

int snapchan_version(int ctl, struct snapchan_version *ver)
{
	memset(ver, 0, sizeof(*ver));
	return sc_ioctl(ctl, SNAPCHAN_IOC_VERSION, ver);
}

int snapchan_chan_create(int ctl, struct snapchan_chan_create *cc)
{
	return sc_ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, cc);
}

int snapchan_chan_destroy(int ctl, const char *name, unsigned int flags)
{
	struct snapchan_chan_destroy cd;

	if (!snapchan_name_valid(name, SNAPCHAN_NAME_F_CHANNEL))
		return -EINVAL;
	memset(&cd, 0, sizeof(cd));
	sc_copy_name(cd.name, name);
	cd.flags = flags;
	return sc_ioctl(ctl, SNAPCHAN_IOC_CHAN_DESTROY, &cd);
}

int snapchan_chan_info(int ctl, const char *name,
		       struct snapchan_chan_info *info)
{
	if (!snapchan_name_valid(name, SNAPCHAN_NAME_F_CHANNEL))
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	sc_copy_name(info->name, name);
	return sc_ioctl(ctl, SNAPCHAN_IOC_CHAN_INFO, info);
}

/* Tries before snapchan_chan_list() gives up on a list that keeps growing. */
#define SC_LIST_TRIES	16

int snapchan_chan_list(int ctl, char (**names)[SNAPCHAN_NAME_LEN],
		       size_t *count)
{
	char (*arr)[SNAPCHAN_NAME_LEN] = NULL;
	struct snapchan_chan_list cl;
	uint32_t room = 0;
	int tries, ret;

	for (tries = 0; tries < SC_LIST_TRIES; tries++) {
		uint64_t want;
		uint32_t i;

		memset(&cl, 0, sizeof(cl));
		cl.names = (uint64_t)(uintptr_t)arr;
		cl.max_entries = room;
		ret = sc_ioctl(ctl, SNAPCHAN_IOC_CHAN_LIST, &cl);
		if (ret < 0) {
			free(arr);
			return ret;
		}
		if (cl.count <= room) {
			for (i = 0; i < cl.count; i++)
				arr[i][SNAPCHAN_NAME_LEN - 1] = '\0';
			if (cl.count == 0) {
				free(arr);
				arr = NULL;
			}
			*names = arr;
			*count = cl.count;
			return 0;
		}
		/* It grew (or this is the first call): room and some slack. */
		free(arr);
		want = (uint64_t)cl.count + cl.count / 8 + 8;
		room = want > UINT32_MAX ? UINT32_MAX : (uint32_t)want;
		/* calloc() refuses a product that overflows. */
		arr = calloc(room, SNAPCHAN_NAME_LEN);
		if (!arr)
			return -ENOMEM;
	}
	free(arr);
	return -EAGAIN;
}

int snapchan_chan_open(const char *name, int oflags)
{
	if (!snapchan_name_valid(name, SNAPCHAN_NAME_F_CHANNEL))
		return -EINVAL;
	return sc_open_dev(name, oflags);
}

ssize_t snapchan_send(int fd, const void *buf, size_t len)
{
	return sc_write(fd, buf, len);
}

ssize_t snapchan_recv(int fd, void *buf, size_t len)
{
	return sc_read(fd, buf, len);
}

int snapchan_recv_rec(int fd, struct snapchan_recv *rec)
{
	return sc_ioctl(fd, SNAPCHAN_IOC_RECV, rec);
}

int snapchan_mark(int fd, uint64_t id)
{
	struct snapchan_mark mk;

	memset(&mk, 0, sizeof(mk));
	mk.snap_id = id;
	return sc_ioctl(fd, SNAPCHAN_IOC_MARK, &mk);
}

int snapchan_capture(int fd, struct snapchan_capture *cap)
{
	int ret = sc_ioctl(fd, SNAPCHAN_IOC_CAPTURE, cap);

	return ret < 0 ? ret : cap->fd;
}

/* Fill a struct snapchan_batch and issue one batch ioctl. */
static int sc_batch(int fd, unsigned long req, const void *msgs,
		    unsigned int nr, unsigned int flags)
{
	struct snapchan_batch b;

	memset(&b, 0, sizeof(b));
	b.msgs = (uint64_t)(uintptr_t)msgs;
	b.nr = nr;
	b.flags = flags;
	return sc_ioctl(fd, req, &b);
}

int snapchan_send_batch(int fd, const struct snapchan_send_msg *msgs,
			unsigned int nr, unsigned int flags)
{
	return sc_batch(fd, SNAPCHAN_IOC_SEND_BATCH, msgs, nr, flags);
}

int snapchan_recv_batch(int fd, struct snapchan_recv *recs, unsigned int nr,
			unsigned int flags)
{
	return sc_batch(fd, SNAPCHAN_IOC_RECV_BATCH, recs, nr, flags);
}

/*
 * Entries snapchan_send_many() hands the kernel per call: 2 KiB of stack,
 * and few enough that a blocked call holds back little.
 */
#define SC_SEND_CHUNK	128

ssize_t snapchan_send_many(int fd, const struct iovec *iov, size_t n,
			   unsigned int flags)
{
	struct snapchan_send_msg m[SC_SEND_CHUNK];
	size_t done = 0;

	while (done < n) {
		unsigned int k, nr = 0;
		int ret;

		/* Stop the chunk before a message the ABI cannot carry. */
		while (nr < SC_SEND_CHUNK && done + nr < n &&
		       iov[done + nr].iov_len <= UINT32_MAX) {
			m[nr].buf = (uint64_t)(uintptr_t)iov[done + nr].iov_base;
			m[nr].len = (uint32_t)iov[done + nr].iov_len;
			m[nr].reserved = 0;
			nr++;
		}
		if (!nr)	/* a message longer than any max_msg */
			return done ? (ssize_t)done : -EMSGSIZE;
		ret = snapchan_send_batch(fd, m, nr, flags);
		if (ret < 0)
			return done ? (ssize_t)done : ret;
		k = (unsigned int)ret;
		done += k;
		/* Full (non-blocking), a signal, or entry k refused: the
		 * caller goes on from there and hears why. */
		if (k < nr)
			break;
	}
	return (ssize_t)done;
}
