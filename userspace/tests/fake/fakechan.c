// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * A stand-in snapchan module for testing snapchanctl without one: an
 * LD_PRELOAD library that defines ioctl() and write(), which the CLI's
 * libsnapchan calls bind to.  Device files are regular files in
 * $SNAPCHAN_DEV_DIR; an fd on one of them other than "control" is a
 * channel end.  Used by tests/cli-batch.sh.
 *
 * Sending: every message that SEND_BATCH or write() takes is appended to
 * the file as "<len>:<payload>\n", so both paths leave the same file.
 * Receiving: RECV and RECV_BATCH take from a queue of $FAKECHAN_RECV
 * messages "msg1", "msg2", ... (sequence numbers 1, 2, ...).
 *
 *   FAKECHAN_BATCH=0      no batch calls: ENOTTY, and VERSION without
 *                         SNAPCHAN_FEAT_BATCH (default 1)
 *   FAKECHAN_LOG=FILE     one line per call: "SEND_BATCH nr=3 -> 3",
 *                         "write 5 -> 5", "RECV -> EAGAIN", ...
 *   FAKECHAN_SEND_MAX=K   SEND_BATCH takes at most K messages per call
 *   FAKECHAN_MAXMSG=N     a message longer than N: EMSGSIZE
 *   FAKECHAN_RECV=N       messages queued to receive
 *   FAKECHAN_RECV_MAX=K   RECV_BATCH fills at most K entries per call
 *   FAKECHAN_MARKER_AT=K  a user marker (id 5) after message K
 *   FAKECHAN_BIG_AT=K     message K is 10000 bytes of 'x' instead
 *   FAKECHAN_EOF=1        an empty queue is end of file (ENODATA), not
 *                         EAGAIN
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/snapchan.h>

#define BIG_LEN	10000

static long env(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

static ssize_t real_write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

static void logf_(const char *fmt, ...)
{
	const char *path = getenv("FAKECHAN_LOG");
	char line[256];
	va_list ap;
	FILE *f;

	if (!path)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

/* 1: a channel end; 2: the control device; 0: anything else. */
static int kind(int fd)
{
	const char *dir = getenv("SNAPCHAN_DEV_DIR");
	char link[64], path[PATH_MAX], rdir[PATH_MAX];
	ssize_t n;
	size_t dl;

	if (!dir || !realpath(dir, rdir))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = 0;
	dl = strlen(rdir);
	if (strncmp(path, rdir, dl) || path[dl] != '/')
		return 0;
	return strcmp(path + dl + 1, "control") ? 1 : 2;
}

/* Append one message to the channel's file. */
static int store(int fd, const void *buf, size_t len)
{
	char hdr[32];
	int n = snprintf(hdr, sizeof(hdr), "%zu:", len);

	if (len > (size_t)env("FAKECHAN_MAXMSG", LONG_MAX))
		return -EMSGSIZE;
	if (real_write(fd, hdr, n) != n ||
	    real_write(fd, buf, len) != (ssize_t)len ||
	    real_write(fd, "\n", 1) != 1)
		return -EIO;
	return 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	int r;

	if (kind(fd) != 1)
		return real_write(fd, buf, len);
	r = store(fd, buf, len);
	if (r)
		logf_("write %zu -> %s", len, strerrorname_np(-r));
	else
		logf_("write %zu -> %zu", len, len);
	if (r) {
		errno = -r;
		return -1;
	}
	return (ssize_t)len;
}

/* The receive queue: position in it, a marker pending after a message. */
static long next_msg = 1;
static int marker_done;

/* Fill one entry; 1 filled (2: a marker), 0 empty, or -errno. */
static int take(struct snapchan_recv *r)
{
	long n = env("FAKECHAN_RECV", 0), mk = env("FAKECHAN_MARKER_AT", -1);
	char text[32];
	const char *p = text;
	size_t len;

	if (mk >= 0 && next_msg == mk + 1 && !marker_done) {
		r->type = SNAPCHAN_REC_MARKER;
		r->len = 0;
		r->seq = 0;
		r->snap_id = 5;
		if (!(r->flags & SNAPCHAN_RECV_PEEK))
			marker_done = 1;
		return 2;
	}
	if (next_msg > n)
		return 0;
	if (next_msg == env("FAKECHAN_BIG_AT", -1)) {
		static char big[BIG_LEN];

		memset(big, 'x', sizeof(big));
		p = big;
		len = sizeof(big);
	} else {
		len = (size_t)snprintf(text, sizeof(text), "msg%ld", next_msg);
	}
	r->type = SNAPCHAN_REC_DATA;
	r->len = (uint32_t)len;
	if (len > r->buf_len)
		return -EMSGSIZE;
	memcpy((void *)(uintptr_t)r->buf, p, len);
	r->seq = (uint64_t)next_msg;
	r->snap_id = 0;
	r->origin = 0;
	if (!(r->flags & SNAPCHAN_RECV_PEEK))
		next_msg++;
	return 1;
}

static int empty_err(void)
{
	return env("FAKECHAN_EOF", 0) ? -ENODATA : -EAGAIN;
}

static int chan_ioctl(int fd, unsigned long req, void *arg)
{
	int batch = env("FAKECHAN_BATCH", 1);

	if (req == SNAPCHAN_IOC_RECV) {
		int r = take(arg);

		return r > 0 ? 0 : r ? r : empty_err();
	}
	if ((req == SNAPCHAN_IOC_SEND_BATCH || req == SNAPCHAN_IOC_RECV_BATCH) &&
	    batch) {
		struct snapchan_batch *b = arg;
		long max;
		unsigned int i;
		int r = 0;

		if (!b->nr || b->nr > SNAPCHAN_BATCH_MAX || b->flags || b->reserved)
			return -EINVAL;
		if (req == SNAPCHAN_IOC_SEND_BATCH) {
			struct snapchan_send_msg *m = (void *)(uintptr_t)b->msgs;

			max = env("FAKECHAN_SEND_MAX", SNAPCHAN_BATCH_MAX);
			for (i = 0; i < b->nr && i < max; i++) {
				if (m[i].reserved)
					r = -EINVAL;
				else
					r = store(fd, (void *)(uintptr_t)m[i].buf, m[i].len);
				if (r)
					break;
			}
		} else {
			struct snapchan_recv *e = (void *)(uintptr_t)b->msgs;

			max = env("FAKECHAN_RECV_MAX", SNAPCHAN_BATCH_MAX);
			for (i = 0; i < b->nr && i < max; i++) {
				if (e[i].flags || e[i].type || e[i].len || e[i].seq ||
				    e[i].snap_id || e[i].origin || e[i].reserved[0] ||
				    e[i].reserved[1]) {
					r = -EINVAL;
					break;
				}
				r = take(&e[i]);
				if (r == 2) {	/* a marker ends the batch */
					i++;
					r = 0;
					break;
				}
				if (r <= 0) {
					r = r ? r : i ? 0 : empty_err();
					break;
				}
				r = 0;
			}
		}
		return i ? (int)i : r;
	}
	return -ENOTTY;
}

int ioctl(int fd, unsigned long req, ...)
{
	static const char *const names[] = {
		[0x10] = "RECV", [0x13] = "SEND_BATCH", [0x14] = "RECV_BATCH",
	};
	unsigned int nr = _IOC_NR(req);
	char res[32];
	va_list ap;
	void *arg;
	int k = kind(fd), r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (k == 2 && req == SNAPCHAN_IOC_VERSION) {
		struct snapchan_version *v = arg;

		v->abi_version = SNAPCHAN_ABI_VERSION;
		v->reserved = 0;
		v->features = SNAPCHAN_FEAT_CHANNELS | SNAPCHAN_FEAT_MARKERS |
			      SNAPCHAN_FEAT_CAPTURE | SNAPCHAN_FEAT_SNAPSHOTS |
			      (env("FAKECHAN_BATCH", 1) ? SNAPCHAN_FEAT_BATCH : 0);
		return 0;
	}
	if (k != 1) {
		errno = ENOTTY;
		return -1;
	}
	r = chan_ioctl(fd, req, arg);
	snprintf(res, sizeof(res), "%d", r);
	if (r < 0)
		snprintf(res, sizeof(res), "%s", strerrorname_np(-r));
	if (req == SNAPCHAN_IOC_SEND_BATCH || req == SNAPCHAN_IOC_RECV_BATCH)
		logf_("%s nr=%u -> %s", names[nr],
		      ((struct snapchan_batch *)arg)->nr, res);
	else
		logf_("%s -> %s", nr < sizeof(names) / sizeof(names[0]) &&
		      names[nr] ? names[nr] : "?", res);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}
