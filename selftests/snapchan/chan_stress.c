// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan channel stress test: W writers and R readers on one standalone
 * channel whose queue is small, so that it is full and empty all the
 * time.  Each writer sends N messages of pseudo-random length carrying
 * (writer id, per-writer counter) and a payload derived from them; half
 * the writers block, half use O_NONBLOCK and poll(POLLOUT), and every
 * third message goes out as a 3-part writev().  Half the readers block in
 * SNAPCHAN_IOC_RECV, half use O_NONBLOCK and poll(POLLIN).
 *
 * Checked at the end:
 *   - every message received exactly once, payload intact;
 *   - per reader and per writer, counters strictly increasing (FIFO);
 *   - the sequence numbers are unique and contiguous from first_seq, each
 *     reader sees them increasing, and each writer's messages got
 *     increasing numbers;
 *   - CHAN_INFO totals match, the queue is empty, next_seq is right.
 * Finally the channel is destroyed with readers still blocked: they must
 * wake with ENODEV.
 *
 * Three runs (-m picks one): "threads" and "processes" as above, and
 * "blocking", threads that never poll nor use O_NONBLOCK (the module
 * wakes waiters differently once a channel has been polled).
 * Message lengths are 8..256 (not 1..256): 8 bytes of header carry the
 * writer id and counter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snapchan_test.h"
#include "kselftest.h"

#define HDR_LEN		8
#define MAX_LEN		256
#define MAX_WORKERS	256

struct rec {
	uint64_t seq;
	uint32_t writer;
	uint32_t counter;
	uint32_t reader;
	uint32_t len;
};

struct shared {
	atomic_ulong nrecv;	/* slots handed out */
	atomic_ulong bytes;
	atomic_uint writers_done;
	atomic_ulong full;	/* EAGAIN on a nonblocking write */
	atomic_ulong empty;	/* EAGAIN on a nonblocking RECV */
	atomic_int errors;
	atomic_int err_reported;
	char errmsg[256];
	struct rec recs[];
};

static struct {
	unsigned long n;	/* messages per writer */
	unsigned int writers, readers;
	unsigned int cap_msgs;
	unsigned long long cap_bytes;
	unsigned int timeout;
	uint64_t seed;
} opt = {
	.n = 25000, .writers = 4, .readers = 4,
	.cap_msgs = 8, .cap_bytes = 1024, .timeout = 600, .seed = 1,
};

static struct shared *sh;
static unsigned long total;
static char chan_name[SNAPCHAN_NAME_LEN];
static pid_t kids[2 * MAX_WORKERS];
static int nkids;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t msg_hash(uint32_t w, uint32_t c)
{
	return mix(opt.seed ^ ((uint64_t)w << 40) ^ c);
}

static unsigned int msg_len(uint64_t h)
{
	return HDR_LEN + h % (MAX_LEN - HDR_LEN + 1);
}

static void msg_build(unsigned char *buf, uint32_t w, uint32_t c, unsigned int *len)
{
	uint64_t h = msg_hash(w, c);
	unsigned int i;

	*len = msg_len(h);
	memcpy(buf, &w, 4);
	memcpy(buf + 4, &c, 4);
	for (i = HDR_LEN; i < *len; i++)
		buf[i] = (unsigned char)(h >> ((i % 8) * 8)) ^ (unsigned char)i;
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&sh->errors, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(sh->errmsg, sizeof(sh->errmsg), fmt, ap);
		va_end(ap);
	}
}

/* ------------------------------------------------------------------ */

struct worker {
	unsigned int id;
	int fd;
	bool nonblock;
};

static void writer_loop(struct worker *wk);

static void *writer_main(void *arg)
{
	writer_loop(arg);
	atomic_fetch_add(&sh->writers_done, 1);
	return NULL;
}

static void writer_loop(struct worker *wk)
{
	unsigned char buf[MAX_LEN];
	struct iovec iov[3];
	unsigned int len;
	unsigned long c;
	ssize_t r;

	for (c = 0; c < opt.n && !atomic_load(&sh->errors); c++) {
		msg_build(buf, wk->id, c, &len);
		for (;;) {
			if (c % 3 == 2) {
				iov[0].iov_base = buf;
				iov[0].iov_len = 3;
				iov[1].iov_base = buf + 3;
				iov[1].iov_len = len / 2 - 3 + 1;
				iov[2].iov_base = buf + iov[0].iov_len + iov[1].iov_len;
				iov[2].iov_len = len - iov[0].iov_len - iov[1].iov_len;
				r = writev(wk->fd, iov, 3);
			} else {
				r = write(wk->fd, buf, len);
			}
			if (r == (ssize_t)len)
				break;
			if (r < 0 && errno == EAGAIN && wk->nonblock) {
				struct pollfd p = { .fd = wk->fd, .events = POLLOUT };

				atomic_fetch_add(&sh->full, 1);
				if (poll(&p, 1, 1000) < 0 && errno != EINTR) {
					fail("writer %u: poll: %s", wk->id, strerror(errno));
					return;
				}
				if (p.revents & (POLLHUP | POLLERR)) {
					fail("writer %u: poll revents %#x", wk->id, p.revents);
					return;
				}
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			fail("writer %u msg %lu: write returned %zd (%s), wanted %u",
			     wk->id, c, r, r < 0 ? strerror(errno) : "short", len);
			return;
		}
	}
	return;
}

static void *reader_main(void *arg)
{
	struct worker *wk = arg;
	unsigned char buf[MAX_LEN + 16], want[MAX_LEN];
	struct snapchan_recv r;
	unsigned int len;
	uint32_t w, c;
	unsigned long slot;

	for (;;) {
		memset(&r, 0, sizeof(r));
		r.buf = (uintptr_t)buf;
		r.buf_len = sizeof(buf);
		if (ioctl(wk->fd, SNAPCHAN_IOC_RECV, &r)) {
			if (errno == ENODEV)
				return NULL;	/* destroyed: the end */
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && wk->nonblock) {
				struct pollfd p = { .fd = wk->fd, .events = POLLIN };

				atomic_fetch_add(&sh->empty, 1);
				if (poll(&p, 1, 1000) < 0 && errno != EINTR) {
					fail("reader %u: poll: %s", wk->id, strerror(errno));
					return NULL;
				}
				continue;	/* POLLHUP: RECV says ENODEV */
			}
			fail("reader %u: RECV: %s", wk->id, strerror(errno));
			return NULL;
		}
		if (r.type != SNAPCHAN_REC_DATA || r.len < HDR_LEN || r.len > MAX_LEN) {
			fail("reader %u: record type %u len %u", wk->id, r.type, r.len);
			return NULL;
		}
		memcpy(&w, buf, 4);
		memcpy(&c, buf + 4, 4);
		if (w >= opt.writers || c >= opt.n) {
			fail("reader %u: bad header writer %u counter %u", wk->id, w, c);
			return NULL;
		}
		msg_build(want, w, c, &len);
		if (len != r.len || memcmp(want, buf, len)) {
			fail("reader %u: writer %u msg %u: corrupt (len %u, want %u)",
			     wk->id, w, c, r.len, len);
			return NULL;
		}
		slot = atomic_fetch_add(&sh->nrecv, 1);
		if (slot >= total) {
			fail("reader %u: more messages than were sent", wk->id);
			return NULL;
		}
		sh->recs[slot] = (struct rec){
			.seq = r.seq, .writer = w, .counter = c,
			.reader = wk->id, .len = r.len,
		};
		atomic_fetch_add(&sh->bytes, r.len);
	}
}

/* ------------------------------------------------------------------ */

static int verify(uint64_t first_seq)
{
	uint64_t *seq_of = calloc(total, sizeof(*seq_of));
	unsigned char *seen = calloc(total, 1), *seq_seen = calloc(total, 1);
	int64_t *last_c = malloc(sizeof(*last_c) * opt.readers * opt.writers);
	uint64_t *last_seq = calloc(opt.readers, sizeof(*last_seq));
	unsigned long i, idx;
	unsigned int w;
	int bad = 0;

	if (!seq_of || !seen || !seq_seen || !last_c || !last_seq) {
		ksft_print_msg("out of memory verifying\n");
		return 1;
	}
	for (i = 0; i < opt.readers * opt.writers; i++)
		last_c[i] = -1;

	for (i = 0; i < total && bad < 10; i++) {
		struct rec *rc = &sh->recs[i];

		idx = rc->writer * opt.n + rc->counter;
		if (seen[idx]++) {
			ksft_print_msg("writer %u msg %u received twice\n", rc->writer, rc->counter);
			bad++;
		}
		seq_of[idx] = rc->seq;
		if (rc->seq < first_seq || rc->seq - first_seq >= total) {
			ksft_print_msg("seq %llu outside [%llu, %llu)\n",
				       (unsigned long long)rc->seq,
				       (unsigned long long)first_seq,
				       (unsigned long long)(first_seq + total));
			bad++;
		} else if (seq_seen[rc->seq - first_seq]++) {
			ksft_print_msg("seq %llu given twice\n", (unsigned long long)rc->seq);
			bad++;
		}
		/* this reader's view: FIFO per writer, seq increasing */
		if (last_c[rc->reader * opt.writers + rc->writer] >= (int64_t)rc->counter) {
			ksft_print_msg("reader %u: writer %u msg %u after msg %lld\n",
				       rc->reader, rc->writer, rc->counter,
				       (long long)last_c[rc->reader * opt.writers + rc->writer]);
			bad++;
		}
		last_c[rc->reader * opt.writers + rc->writer] = rc->counter;
		if (last_seq[rc->reader] >= rc->seq) {
			ksft_print_msg("reader %u: seq %llu after %llu\n", rc->reader,
				       (unsigned long long)rc->seq,
				       (unsigned long long)last_seq[rc->reader]);
			bad++;
		}
		last_seq[rc->reader] = rc->seq;
	}
	for (i = 0; i < total && bad < 10; i++) {
		if (!seen[i]) {
			ksft_print_msg("writer %lu msg %lu never received\n", i / opt.n, i % opt.n);
			bad++;
		}
	}
	/* each writer's messages were numbered in the order it sent them */
	for (w = 0; w < opt.writers && !bad; w++)
		for (i = 1; i < opt.n; i++)
			if (seq_of[w * opt.n + i] <= seq_of[w * opt.n + i - 1]) {
				ksft_print_msg("writer %u: msg %lu seq %llu <= msg %lu seq %llu\n",
					       w, i, (unsigned long long)seq_of[w * opt.n + i],
					       i - 1, (unsigned long long)seq_of[w * opt.n + i - 1]);
				bad++;
				break;
			}
	free(seq_of);
	free(seen);
	free(seq_seen);
	free(last_c);
	free(last_seq);
	return bad;
}

static void watchdog(int sig)
{
	int i;

	(void)sig;
	for (i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	printf("Bail out! run timed out after %u s (received %lu of %lu)\n",
	       opt.timeout, sh ? atomic_load(&sh->nrecv) : 0, total);
	fflush(stdout);
	_exit(KSFT_FAIL);
}

static int run(bool procs, bool mixed)
{
	struct worker wk[2 * MAX_WORKERS];
	pthread_t th[2 * MAX_WORKERS];
	unsigned int tidx[2 * MAX_WORKERS], nthreads = 0;
	struct snapchan_chan_create c;
	struct snapchan_chan_info info;
	unsigned int nw = opt.writers, nr = opt.readers, i;
	unsigned long last = 0;
	double t0, t1, stall;
	size_t shsize;
	int ctl, bad = 0, status;

	total = opt.n * nw;
	shsize = sizeof(*sh) + total * sizeof(struct rec);
	sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		ksft_print_msg("mmap %zu: %s\n", shsize, strerror(errno));
		return 1;
	}

	ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		ksft_print_msg("open %s: %s\n", SC_CONTROL, strerror(errno));
		return 1;
	}
	snprintf(chan_name, sizeof(chan_name), "kss%d-%s%s", getpid(),
		 procs ? "p" : "t", mixed ? "m" : "b");
	memset(&c, 0, sizeof(c));
	sc_name(c.name, chan_name);
	c.capacity_bytes = opt.cap_bytes;
	c.capacity_msgs = opt.cap_msgs;
	c.max_msg = MAX_LEN;
	if (sc_create(ctl, &c)) {
		ksft_print_msg("create %s: %s\n", chan_name, strerror(errno));
		close(ctl);
		return 1;
	}
	if (sc_info(ctl, chan_name, &info)) {
		ksft_print_msg("info %s: %s\n", chan_name, strerror(errno));
		bad = 1;
		goto out;
	}

	for (i = 0; i < nw + nr; i++)
		wk[i].fd = -1;
	/* every end is open before anything runs */
	for (i = 0; i < nw + nr; i++) {
		bool writer = i < nw;

		wk[i].id = writer ? i : i - nw;
		wk[i].nonblock = mixed && wk[i].id % 2;
		wk[i].fd = sc_open_chan(chan_name, (writer ? O_WRONLY : O_RDONLY) |
					(wk[i].nonblock ? O_NONBLOCK : 0));
		if (wk[i].fd < 0) {
			ksft_print_msg("open %s: %s\n", chan_name, strerror(-wk[i].fd));
			bad = 1;
			goto out;
		}
	}

	alarm(opt.timeout);	/* per run */
	t0 = sc_now();
	fflush(stdout);
	fflush(stderr);
	nkids = 0;
	/* readers first, so that the writers find someone draining */
	for (i = nw; i < nw + nr; i++) {
		if (procs) {
			pid_t pid = fork();

			if (pid == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				reader_main(&wk[i]);
				_exit(0);
			}
			if (pid < 0) {
				fail("fork: %s", strerror(errno));
				break;
			}
			kids[nkids++] = pid;
		} else if (pthread_create(&th[i], NULL, reader_main, &wk[i])) {
			fail("pthread_create failed");
			break;
		} else {
			tidx[nthreads++] = i;
		}
	}
	for (i = 0; i < nw && !atomic_load(&sh->errors); i++) {
		if (procs) {
			pid_t pid = fork();

			if (pid == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				writer_main(&wk[i]);
				_exit(0);
			}
			if (pid < 0) {
				fail("fork: %s", strerror(errno));
				break;
			}
			kids[nkids++] = pid;
		} else if (pthread_create(&th[i], NULL, writer_main, &wk[i])) {
			fail("pthread_create failed");
			break;
		} else {
			tidx[nthreads++] = i;
		}
	}
	/*
	 * Until every writer is done and every message received; on an error
	 * or when nothing moves for 30 s, stop (the destroy below wakes
	 * whoever is blocked).
	 */
	stall = sc_now();
	for (;;) {
		unsigned long now = atomic_load(&sh->nrecv);

		if (atomic_load(&sh->errors))
			break;
		if (now == total && atomic_load(&sh->writers_done) == nw)
			break;
		if (now != last) {
			last = now;
			stall = sc_now();
		} else if (sc_now() - stall > 30) {
			fail("no progress for 30 s: received %lu of %lu, %u writers done",
			     now, total, atomic_load(&sh->writers_done));
			break;
		}
		usleep(2000);
	}
	t1 = sc_now();

	if (sc_info(ctl, chan_name, &info) == 0) {
		if (!atomic_load(&sh->errors) &&
		    (info.total_sent != total || info.total_received != total ||
		     info.depth_msgs || info.depth_bytes ||
		     info.next_seq != info.first_seq + total ||
		     info.readers != nr || info.writers != nw)) {
			fail("CHAN_INFO: sent %llu received %llu depth %llu/%llu next_seq %llu first_seq %llu readers %u writers %u",
			     (unsigned long long)info.total_sent,
			     (unsigned long long)info.total_received,
			     (unsigned long long)info.depth_msgs,
			     (unsigned long long)info.depth_bytes,
			     (unsigned long long)info.next_seq,
			     (unsigned long long)info.first_seq, info.readers, info.writers);
		}
	} else {
		fail("CHAN_INFO: %s", strerror(errno));
	}

	/* destroy with the readers blocked: they wake with ENODEV and stop */
	if (sc_destroy(ctl, chan_name))
		fail("destroy: %s", strerror(errno));
	if (procs) {
		for (i = 0; i < (unsigned int)nkids; i++) {
			waitpid(kids[i], &status, 0);
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				fail("process %u: status %#x", i, status);
		}
	} else {
		for (i = 0; i < nthreads; i++)
			pthread_join(th[tidx[i]], NULL);
	}
	nkids = 0;

	if (atomic_load(&sh->errors)) {
		ksft_print_msg("%s (%d errors)\n", sh->errmsg, atomic_load(&sh->errors));
		bad = 1;
	} else {
		bad = verify(info.first_seq) != 0;
	}
	ksft_print_msg("%s: %u writers x %lu msgs, %u readers, capacity %u msgs/%llu bytes: %lu messages, %lu bytes, %.2f s, %.0f msgs/s\n",
		       procs ? "processes" : mixed ? "threads" : "blocking", nw, opt.n, nr, opt.cap_msgs,
		       opt.cap_bytes, atomic_load(&sh->nrecv), atomic_load(&sh->bytes),
		       t1 - t0, atomic_load(&sh->nrecv) / (t1 - t0 > 0 ? t1 - t0 : 1));
	if (mixed)
		ksft_print_msg("%s: nonblocking writers found it full %lu times, nonblocking readers found it empty %lu times\n",
			       procs ? "processes" : "threads",
			       atomic_load(&sh->full), atomic_load(&sh->empty));
out:
	for (i = 0; i < nw + nr; i++)
		if (wk[i].fd >= 0)
			close(wk[i].fd);
	sc_destroy(ctl, chan_name);
	close(ctl);
	munmap(sh, shsize);
	sh = NULL;
	return bad;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n msgs per writer] [-w writers] [-r readers]\n"
		"          [-m threads|processes|blocking|all] [-c capacity msgs]\n"
		"          [-b capacity bytes] [-s seed] [-t timeout s per run]\n", prog);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	bool threads = true, procs = true, blocking = true;
	int ch;

	while ((ch = getopt(argc, argv, "n:w:r:m:c:b:s:t:h")) != -1) {
		switch (ch) {
		case 'n': opt.n = strtoul(optarg, NULL, 0); break;
		case 'w': opt.writers = strtoul(optarg, NULL, 0); break;
		case 'r': opt.readers = strtoul(optarg, NULL, 0); break;
		case 'c': opt.cap_msgs = strtoul(optarg, NULL, 0); break;
		case 'b': opt.cap_bytes = strtoull(optarg, NULL, 0); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 't': opt.timeout = strtoul(optarg, NULL, 0); break;
		case 'm':
			threads = !strcmp(optarg, "threads") || !strcmp(optarg, "all");
			procs = !strcmp(optarg, "processes") || !strcmp(optarg, "all");
			blocking = !strcmp(optarg, "blocking") || !strcmp(optarg, "all");
			if (!threads && !procs && !blocking)
				usage(argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!opt.n || !opt.writers || !opt.readers || opt.writers > MAX_WORKERS ||
	    opt.readers > MAX_WORKERS || opt.n > UINT32_MAX || opt.cap_bytes < MAX_LEN)
		usage(argv[0]);

	ksft_print_header();
	if (access(SC_CONTROL, F_OK))
		ksft_exit_skip("%s missing: is the snapchan module loaded?\n", SC_CONTROL);
	ksft_set_plan(threads + procs + blocking);
	signal(SIGALRM, watchdog);
	signal(SIGPIPE, SIG_IGN);

	if (threads)
		ksft_test_result(run(false, true) == 0, "stress_threads\n");
	if (procs)
		ksft_test_result(run(true, true) == 0, "stress_processes\n");
	if (blocking)
		ksft_test_result(run(false, false) == 0, "stress_blocking\n");
	alarm(0);
	ksft_finished();
	return 0;
}
