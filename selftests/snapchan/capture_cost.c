// SPDX-License-Identifier: GPL-2.0
/*
 * capture_cost: what SNAPCHAN_IOC_CAPTURE costs per queued message, beside
 * draining the same queue with read().  A measurement, not a timed test:
 * it prints figures as TAP comments; it fails only if a capture is wrong
 * (count, sequence range, stream length, or the stream's records).
 *
 * For each depth (16, 256, 1000 and the channel's capacity) it fills a
 * channel with 64-byte messages, times CAPTURE plus reading the whole
 * stream, and CAPTURE alone, then times draining the queue with read().
 *
 *   capture_cost [-r rounds] [-c capacity_msgs]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/snapchan.h>

static int failures;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void fail(const char *what)
{
	printf("# FAIL: %s (errno %d: %s)\n", what, errno, strerror(errno));
	failures++;
}

static void fill(int wr, unsigned int n)
{
	char msg[64];
	unsigned int i;

	memset(msg, 'x', sizeof(msg));
	for (i = 0; i < n; i++)
		if (write(wr, msg, sizeof(msg)) != sizeof(msg)) {
			fail("write");
			return;
		}
}

/* CAPTURE, check it, optionally read its whole stream; returns ns. */
static double capture_once(int rd, unsigned int n, uint64_t first,
			   int read_stream)
{
	static char buf[1 << 16];
	struct snapchan_capture cap;
	uint64_t got = 0;
	double t0, t1;
	ssize_t r;
	int fd;

	memset(&cap, 0, sizeof(cap));
	t0 = now_ns();
	fd = ioctl(rd, SNAPCHAN_IOC_CAPTURE, &cap);
	if (fd < 0) {
		fail("CAPTURE");
		return 0;
	}
	if (read_stream) {
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			got += r;
		if (r < 0)
			fail("read capture stream");
	}
	t1 = now_ns();
	close(fd);
	if (cap.count != n || cap.first_seq != first ||
	    cap.last_seq != first + n - 1 || cap.bytes != 64ULL * n) {
		printf("# FAIL: capture of %u: count %llu seq %llu..%llu bytes %llu\n",
		       n, (unsigned long long)cap.count,
		       (unsigned long long)cap.first_seq,
		       (unsigned long long)cap.last_seq,
		       (unsigned long long)cap.bytes);
		failures++;
	}
	if (read_stream && got != cap.stream_len) {
		printf("# FAIL: stream %llu bytes, expected %llu\n",
		       (unsigned long long)got,
		       (unsigned long long)cap.stream_len);
		failures++;
	}
	return t1 - t0;
}

static double drain(int rd, unsigned int n)
{
	char buf[64];
	unsigned int i;
	double t0 = now_ns();

	for (i = 0; i < n; i++)
		if (read(rd, buf, sizeof(buf)) != sizeof(buf)) {
			fail("drain read");
			break;
		}
	return now_ns() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned int depths[4] = { 16, 256, 1000, 4096 };
	unsigned int rounds = 7, cap_msgs = 4096, d, r;
	struct snapchan_chan_create cc;
	char name[32];
	int ctl, opt;

	while ((opt = getopt(argc, argv, "r:c:")) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 'c')
			cap_msgs = atoi(optarg);
		else
			return 2;
	}
	if (rounds < 1 || rounds > 99 || cap_msgs < 1000)
		return 2;
	depths[3] = cap_msgs;

	printf("TAP version 13\n1..1\n");
	ctl = open("/dev/snapchan/control", O_RDWR);
	if (ctl < 0) {
		printf("not ok 1 capture_cost # open control: %s\n",
		       strerror(errno));
		return 1;
	}
	snprintf(name, sizeof(name), "capcost%d", getpid());
	memset(&cc, 0, sizeof(cc));
	strcpy(cc.name, name);
	cc.capacity_msgs = cap_msgs;
	cc.capacity_bytes = 64ULL * cap_msgs;
	cc.max_msg = 64;
	if (ioctl(ctl, SNAPCHAN_IOC_CHAN_CREATE, &cc)) {
		printf("not ok 1 capture_cost # create: %s\n", strerror(errno));
		return 1;
	}

	printf("# depth  capture+stream ns/msg  capture-only ns/msg  drain ns/msg  capture/drain\n");
	for (d = 0; d < 4; d++) {
		double full[99], only[99], dr[99];
		unsigned int n = depths[d];
		char path[64];
		uint64_t first;
		int wr, rd;

		snprintf(path, sizeof(path), "/dev/snapchan/%s", name);
		wr = open(path, O_WRONLY | O_NONBLOCK);
		rd = open(path, O_RDONLY | O_NONBLOCK);
		if (wr < 0 || rd < 0) {
			fail("open channel");
			break;
		}
		first = 1;
		for (r = 0; r < rounds; r++) {
			struct snapchan_chan_info info;

			memset(&info, 0, sizeof(info));
			strcpy(info.name, name);
			if (ioctl(ctl, SNAPCHAN_IOC_CHAN_INFO, &info))
				fail("CHAN_INFO");
			first = info.next_seq;
			fill(wr, n);
			full[r] = capture_once(rd, n, first, 1) / n;
			only[r] = capture_once(rd, n, first, 0) / n;
			dr[r] = drain(rd, n) / n;
		}
		qsort(full, rounds, sizeof(double), cmp_double);
		qsort(only, rounds, sizeof(double), cmp_double);
		qsort(dr, rounds, sizeof(double), cmp_double);
		printf("# %5u  %21.1f  %19.1f  %12.1f  %13.2f\n", n,
		       full[rounds / 2], only[rounds / 2], dr[rounds / 2],
		       full[rounds / 2] / dr[rounds / 2]);
		close(wr);
		close(rd);
	}

	{
		struct snapchan_chan_destroy cd;

		memset(&cd, 0, sizeof(cd));
		strcpy(cd.name, name);
		if (ioctl(ctl, SNAPCHAN_IOC_CHAN_DESTROY, &cd))
			fail("destroy");
	}
	printf("%s 1 capture_cost\n", failures ? "not ok" : "ok");
	return failures ? 1 : 0;
}
