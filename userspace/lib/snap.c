// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Snapshots (begin, open, info, wait, abort) and saving files atomically.
 *
 * Saving: the bytes go to a temporary file in the destination's own
 * directory (so that rename(2) cannot cross a filesystem), created with
 * mkostemp() (mode 0600, O_EXCL: never someone else's file), written in
 * full, fsync()ed and closed; only then is it renamed over the destination
 * and the directory fsync()ed, so that the new name survives a crash.  A
 * reader of the destination sees the old file or the whole new one, never
 * a part.  On any failure before the rename the temporary file is unlinked
 * and the destination is untouched.
 */
#define _GNU_SOURCE	/* mkostemp(), renameat2() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapchan.h"
#include "syscall.h"
#include "internal.h"

int snapchan_snap_begin(int ctl, const char *group, uint64_t timeout_ns,
			uint64_t budget_bytes, uint64_t *snap_id)
{
	struct snapchan_snap_begin sb;
	int ret;

	if (!snapchan_name_valid(group, 0))
		return -EINVAL;
	memset(&sb, 0, sizeof(sb));
	sc_name_copy(sb.group, group);
	sb.timeout_ns = timeout_ns;
	sb.budget_bytes = budget_bytes;
	ret = sc_ioctl(ctl, SNAPCHAN_IOC_SNAP_BEGIN, &sb);
	if (ret < 0)
		return ret;
	if (snap_id)
		*snap_id = sb.snap_id;
	return sb.fd;
}

int snapchan_snap_open(int ctl, const char *group, uint64_t snap_id)
{
	struct snapchan_snap_open so;
	int ret;

	if (!snapchan_name_valid(group, 0) || !snap_id)
		return -EINVAL;
	memset(&so, 0, sizeof(so));
	sc_name_copy(so.group, group);
	so.snap_id = snap_id;
	ret = sc_ioctl(ctl, SNAPCHAN_IOC_SNAP_OPEN, &so);
	return ret < 0 ? ret : so.fd;
}

int snapchan_snap_info(int fd, struct snapchan_snap_info *info)
{
	memset(info, 0, sizeof(*info));
	return sc_ioctl(fd, SNAPCHAN_IOC_SNAP_INFO, info);
}

int snapchan_snap_abort(int fd)
{
	return sc_ioctl(fd, SNAPCHAN_IOC_SNAP_ABORT, NULL);
}

int snapchan_snap_wait(int fd, int timeout_ms, struct snapchan_snap_info *info)
{
	int64_t deadline = timeout_ms < 0 ? -1 :
			   (int64_t)(__sc_now_ms() + (uint64_t)timeout_ms);
	struct snapchan_snap_info local;
	struct pollfd pfd;
	int ret;

	if (!info)
		info = &local;
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ret = sc_poll(&pfd, 1, __sc_left_ms(deadline));
		if (ret < 0)
			return ret;
		if (pfd.revents & POLLNVAL)
			return -EBADF;
		ret = snapchan_snap_info(fd, info);
		if (ret < 0)
			return ret;
		if (info->state == SNAPCHAN_SNAP_COMPLETE)
			return 0;
		if (info->state == SNAPCHAN_SNAP_ABORTED)
			return -ECANCELED;
		if (__sc_left_ms(deadline) == 0)
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
	}
}

int snapchan_snap_save(int fd, const char *path, unsigned int flags,
		       struct snapchan_image_diag *diag)
{
	struct snapchan_image *img;
	int ret;

	if (flags & ~SNAPCHAN_SAVE_F_ALL)
		return -EINVAL;
	/* read() waits for the end; an aborted snapshot gives -ECANCELED. */
	ret = snapchan_image_open_fd(fd, &img, diag);
	if (ret)
		return ret;
	ret = snapchan_image_save(img, path, flags);
	snapchan_image_close(img);
	return ret;
}

const char *snapchan_snap_state_name(uint32_t state)
{
	switch (state) {
	case SNAPCHAN_SNAP_RUNNING:
		return "running";
	case SNAPCHAN_SNAP_COMPLETE:
		return "complete";
	case SNAPCHAN_SNAP_ABORTED:
		return "aborted";
	default:
		return "unknown";
	}
}

const char *snapchan_abort_reason_name(uint32_t reason)
{
	switch (reason) {
	case SNAPCHAN_ABORT_NONE:
		return "none";
	case SNAPCHAN_ABORT_EXPLICIT:
		return "aborted on request";
	case SNAPCHAN_ABORT_DEADLINE:
		return "deadline passed";
	case SNAPCHAN_ABORT_MEMBER_LEFT:
		return "a member node left before recording";
	case SNAPCHAN_ABORT_BUDGET:
		return "recording budget exceeded";
	case SNAPCHAN_ABORT_TOPOLOGY:
		return "topology change";
	case SNAPCHAN_ABORT_UNLOAD:
		return "module unloaded";
	case SNAPCHAN_ABORT_NOMEM:
		return "out of memory while recording";
	default:
		return "unknown reason";
	}
}

/* --- atomic save ---------------------------------------------------------- */

/* Write all of @buf to @fd, retrying short and interrupted writes. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t w = sc_write(fd, buf, len);

		if (w == -EINTR)
			continue;
		if (w < 0)
			return (int)w;
		if (w == 0)
			return -EIO;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Put @tmp in place as @path without replacing an existing file. */
static int rename_noreplace(const char *tmp, const char *path)
{
	int ret;

	ret = sc_rename_noreplace(tmp, path);
	if (ret != -EINVAL && ret != -ENOSYS)
		return ret;
	/* A filesystem without RENAME_NOREPLACE: link(2) refuses too. */
	ret = sc_link(tmp, path);
	if (!ret)
		sc_unlink(tmp);
	return ret;
}

int snapchan_save_file(const char *path, const void *buf, size_t len,
		       unsigned int flags)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *base, *slash;
	int fd, dfd, ret, n;

	if ((flags & ~SNAPCHAN_SAVE_F_ALL) || !path || !*path ||
	    (len && !buf))
		return -EINVAL;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EISDIR;
	if (!slash)
		n = snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		n = snprintf(dir, sizeof(dir), "/");
	else
		n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
			     path);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.XXXXXX", dir, base);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;

	fd = sc_mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return fd;
	ret = write_all(fd, buf, len);
	if (!ret)
		ret = sc_fsync(fd);
	if (ret) {
		sc_close(fd);
		goto out_unlink;
	}
	ret = sc_close_checked(fd);
	if (ret)
		goto out_unlink;

	if (flags & SNAPCHAN_SAVE_F_NOREPLACE)
		ret = rename_noreplace(tmp, path);
	else
		ret = sc_rename(tmp, path);
	if (ret)
		goto out_unlink;

	/* The new directory entry must reach the disk too. */
	dfd = sc_open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return dfd;
	ret = sc_fsync(dfd);
	sc_close(dfd);
	/* Some filesystems cannot fsync a directory: nothing more to do. */
	if (ret == -EINVAL)
		ret = 0;
	return ret;

out_unlink:
	sc_unlink(tmp);
	return ret;
}

int snapchan_image_save(const struct snapchan_image *img, const char *path,
			unsigned int flags)
{
	size_t len;
	const void *buf = snapchan_image_data(img, &len);
	int ret;

	/* Never write an image a reader would refuse. */
	ret = snapchan_image_verify(img, NULL);
	if (ret)
		return ret;
	return snapchan_save_file(path, buf, len, flags);
}
