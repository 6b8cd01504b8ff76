// SPDX-License-Identifier: GPL-2.0
/*
 * snapchan faultinj: fail every allocation site (and every user copy) of
 * every snapchan call, one at a time, with the kernel's fail-nth interface
 * (Documentation/fault-injection/fault-injection.rst, "fail-nth").
 *
 * For each operation (one TAP test each; the table "ops" below) and for
 * n = 1, 2, ...:
 *   1. build a fresh scenario (channels, nodes, queued messages, snapshots)
 *      and take a fingerprint of everything observable (below);
 *   2. write n to /proc/thread-self/fail-nth, make the call, read fail-nth
 *      back: non-zero means the call has fewer than n fault sites (stop);
 *   3. the fault fired, so the call either
 *        - failed with an errno the operation allows (ENOMEM, EFAULT, ...),
 *          and then the fingerprint must be exactly as before, and the same
 *          call retried without injection must succeed; or
 *        - succeeded (an allocation with a fallback: kvmalloc, kmemleak's
 *          pool, SLUB's lower-order retry, ...);
 *      either way the end state (fingerprint after success) must equal the
 *      one of a clean reference run, modulo ids and times, plus per-
 *      operation checks (device nodes, snapshot progress, image CRC);
 *   4. every queued message must still be readable, in order, with
 *      consecutive sequence numbers and its payload intact;
 *   5. tear down (close every fd, destroy the channels) and wait for the
 *      global state to be back to the baseline: no fd, no channel, no
 *      device node in /dev/snapchan (or a stray /dev/<name>), no row left in
 *      the debugfs tables, the module's reference count unchanged.
 *
 * The fingerprint: /proc/self/fd (number and target), /dev/snapchan and
 * /dev/<prefix>* nodes (mode, owner, and whether the node is its
 * channel's device: minors are allocated cyclically, so a run's minors
 * differ from the last run's), /sys/class/snapchan,
 * /sys/module/snapchan/refcnt, CHAN_LIST and CHAN_INFO of every channel
 * (every counter and attached node), the debugfs tables groups, nodes and
 * snapshots, and for the scenario's fds: poll() events, the queue content
 * of channels (CAPTURE: type, sequence number, length and CRC of every
 * record), NODE_EVENT of nodes, SNAP_INFO of snapshots.
 *
 * Fault kinds: failslab, fail_page_alloc and fail_usercopy all count for
 * fail-nth, so every n is one of them; we tell which from each
 * attribute's "times" counter, which the kernel decrements on every
 * injected failure.  A faulted copy_from_user() or copy_to_user() is a
 * site like an allocation: EFAULT is a clean errno, and nothing may have
 * changed.  Before the tests the attributes are set so that sleeping
 * allocations can fail (ignore-gfp-wait=N, ignore-gfp-highmem=N for
 * vmalloc pages), quietly (verbose=0), never at random (probability=0);
 * everything is restored at exit.  The process is mlockall()ed so that no
 * page fault of its own consumes a count.
 *
 * Each operation gets two sweeps, each with a stable sequence of sites:
 * the slab sweep (failslab and usercopy; fail_page_alloc's min-order=64
 * counts no page allocation) and the page sweep (fail_page_alloc with
 * min-order=0 and usercopy; failslab's cache-filter=Y, with no cache
 * marked, counts no slab allocation).  Mixing them, the page allocator's
 * sites (a slab refilling itself) shift the others from one call to the
 * next and a sweep steps over some.  Sites: the distinct n that fired in
 * the slab sweep plus the page allocator sites of the page sweep;
 * injections: every fault injected (the page sweep injects the usercopy
 * sites again).
 *
 * Counts: per operation, the fault sites reached and their kinds, the
 * injections, and the outcomes, as TAP comments; the last test prints the
 * totals and checks that the global counters (nodes, captures) did not
 * drift.
 *
 * Needs root, the module loaded, debugfs and a kernel with fail-nth
 * (CONFIG_FAULT_INJECTION: the debug kernel); exits with KSFT_SKIP (4)
 * without fail-nth (Debian's stock kernel).
 *
 * Run: selftests/qemu/run.sh -k debug -m snapchan.ko
 *          -e build/selftests/snapchan/faultinj:/bin/faultinj -- /bin/faultinj
 * Environment: FAULTINJ_ONLY=test,... (only those), FAULTINJ_VERBOSE=1
 * (one line per n: the fault's kind and the result), FAULTINJ_STACKS=1 (a
 * stack trace on the console for every fault: diagnosis only, the VM
 * runner then fails the run), FAULTINJ_PROFILE=1 (time per phase),
 * FAULTINJ_PASSES=N (repeat every sweep), FAULTINJ_FULL=1 (no cap on the
 * group variants of CHAN_CREATE), FAULTINJ_MAXN=N (cap every sweep).
 *
 * A few sites still come and go (debugobjects refilling its pool, the
 * page allocator in the page sweep), so a sweep can, rarely, step over a
 * site; FAULTINJ_PASSES repeats every sweep.
 *
 * Kernel bugs found with this program (the operations that fail on them
 * print them; the BUG_* texts in the table):
 *   B1  CHAN_CREATE*: a failed kasprintf() in snapchan_chan_devnode()
 *       makes devtmpfs create /dev/<name> instead of /dev/snapchan/<name>
 *       (the call succeeds).
 *   B2  CHAN_DESTROY*: the same in device_del() leaves a stale
 *       /dev/snapchan/<name>.
 *   B3  CHAN_CREATE existing group: a failed create bumps the epoch.
 *   B4  SNAP_BEGIN: a failed snapchan_snap_file() left the snapshot
 *       running with no fd (fixed by the fd-first change).
 *   B5  NODE_RECORD (receiver side): a failed recording-array allocation
 *       returns 0 and aborts the snapshot.
 *   B6  NODE_RECORD id 0: a failure after the snapshot was created leaves
 *       an aborted snapshot.
 *   B7  NODE_RECORD SNAPFD: a failed snapchan_snap_file() after the commit
 *       returned ENOMEM though the node recorded (fixed by the fd-first
 *       change).
 *   B8  NODE_JOIN: the final copy_to_user() failing after the join
 *       returns EFAULT with the epoch moved by 2.  (For SNAP_BEGIN and
 *       NODE_RECORD, doc/decisions.md documents what a late EFAULT
 *       leaves; the program checks exactly that.)
 *   B9  RECV_BATCH pages not present: once an entry read inside the
 *       locked loop has been delivered the unlocked way (its buffer was
 *       not present), or the next entry's page is not present, the next
 *       record goes into the previous entry's buffer and that entry's
 *       inputs are written into the next entry (a stale have_entry in
 *       snapchan_recv_entries()).  The clean run already shows it.
 *
 * The batch calls (SEND_BATCH, RECV_BATCH) may stop part-way and return
 * the count: under injection that is a success unlike the clean run, and
 * the channel must then hold exactly what the count says (a_batch: the
 * entries and buffers so far, and the same call resumed at entry <count>
 * moves exactly the rest and ends in the clean run's state).  Their
 * scenarios include an entry array that runs into an unmapped page after
 * three entries, a payload in the middle that cannot be read, a channel
 * with room for half, ends attached to nodes, and entries and buffers on
 * pages that are not present (each its own shared memfd mapping, dropped
 * with MADV_DONTNEED before the call), so that the kernel's copies with
 * page faults disabled fail and its unlocked way runs, sites included.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "snapchan_test.h"
#include "kselftest_harness.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DBG		"/sys/kernel/debug/"
#define SC_DBG		DBG "snapchan/"
#define REFCNT		"/sys/module/snapchan/refcnt"

#define MAX_N		600	/* sites per operation: more is a runaway */
#define MISSES		3	/* n not reached in a row: no more sites */
#define MAX_FDS		96
#define MAX_CHANS	8
#define MAX_CHK		16
#define MAX_IDS		32
#define FP_SIZE		(96 << 10)
#define BIGBUF		(160 << 10)
#define MAX_PRINTED	12	/* problem messages per operation */
#define TIMES		1000000000
#define PAGE_SZ		4096UL
#define B_MAX_FI	16
#define POISON32_FI	0xa5a5a5a5U
#define POISON64_FI	0xa5a5a5a5a5a5a5a5ULL

/* --- the fault attributes ------------------------------------------------ */

static const struct {
	const char *file;
	const char *value;
} knob_set[] = {
	{ "failslab/ignore-gfp-wait",		"N" },
	{ "failslab/cache-filter",		"N" },
	{ "failslab/probability",		"0" },
	{ "failslab/verbose_ratelimit_burst",	"1000" },
	{ "failslab/verbose",			"0" },
	{ "failslab/times",			"1000000000" },
	{ "fail_page_alloc/ignore-gfp-wait",	"N" },
	{ "fail_page_alloc/ignore-gfp-highmem",	"N" },
	{ "fail_page_alloc/min-order",		"0" },
	{ "fail_page_alloc/probability",	"0" },
	{ "fail_page_alloc/verbose_ratelimit_burst",	"1000" },
	{ "fail_page_alloc/verbose",		"0" },
	{ "fail_page_alloc/times",		"1000000000" },
	{ "fail_usercopy/probability",		"0" },
	{ "fail_usercopy/verbose_ratelimit_burst",	"1000" },
	{ "fail_usercopy/verbose",		"0" },
	{ "fail_usercopy/times",		"1000000000" },
};
#define NR_KNOBS	(sizeof(knob_set) / sizeof(knob_set[0]))

/*
 * Two sweeps per operation, so that each one's sequence of sites is the
 * same from one call to the next (fail-nth counts every attribute, and
 * the page allocator's sites come and go with the slab state):
 *   SLAB  failslab and usercopy; no page allocation is counted
 *         (min-order above any order);
 *   PAGE  fail_page_alloc and usercopy; no slab allocation is counted
 *         (cache-filter on, and no cache is marked for it).
 * Usercopy sites are counted in the first only; the second injects them
 * again (injections) but counts only page allocator sites.
 */
enum { SWEEP_SLAB, SWEEP_PAGE, NR_SWEEPS };
static const char *const sweep_name[NR_SWEEPS] = { "slab", "page" };
static const char *const sweep_knobs[NR_SWEEPS][2] = {
	{ "N", "64" },		/* failslab/cache-filter, fail_page_alloc/min-order */
	{ "Y", "0" },
};

static int sweep_setup(int sweep)
{
	int ret = sc_write_text(DBG "failslab/cache-filter",
				sweep_knobs[sweep][0]);

	if (!ret)
		ret = sc_write_text(DBG "fail_page_alloc/min-order",
				    sweep_knobs[sweep][1]);
	return ret;
}

static char knob_saved[NR_KNOBS][32];
static bool knob_have[NR_KNOBS];
static pid_t knob_owner;

enum { K_SLAB, K_PAGE, K_COPY, K_OTHER, NR_KINDS };
static const char *const kind_name[NR_KINDS] = {
	"slab", "page", "usercopy", "other"
};
static const char *const times_file[3] = {
	DBG "failslab/times", DBG "fail_page_alloc/times",
	DBG "fail_usercopy/times",
};

static void knobs_restore(void)
{
	char path[128];
	unsigned int i;

	if (getpid() != knob_owner)
		return;
	for (i = 0; i < NR_KNOBS; i++) {
		if (!knob_have[i])
			continue;
		snprintf(path, sizeof(path), DBG "%s", knob_set[i].file);
		sc_write_text(path, knob_saved[i]);
		knob_have[i] = false;
	}
}

static void knobs_signal(int sig)
{
	knobs_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Save and set every attribute; NULL or what went wrong. */
static const char *knobs_setup(void)
{
	static char why[192];
	const char *stacks_env = getenv("FAULTINJ_STACKS");
	bool stacks = stacks_env && *stacks_env && strcmp(stacks_env, "0");
	const char *value;
	char path[128];
	unsigned int i;
	int ret;

	knob_owner = getpid();
	for (i = 0; i < NR_KNOBS; i++) {
		snprintf(path, sizeof(path), DBG "%s", knob_set[i].file);
		ret = sc_read_text(path, knob_saved[i], sizeof(knob_saved[i]));
		if (ret < 0) {
			snprintf(why, sizeof(why), "%s: %s", path, strerror(-ret));
			return why;
		}
		knob_have[i] = true;
		value = knob_set[i].value;
		/* Diagnosis: a stack trace on the console for every fault. */
		if (stacks && strstr(path, "/verbose") && !strstr(path, "ratelimit"))
			value = "2";
		ret = sc_write_text(path, value);
		if (ret < 0) {
			snprintf(why, sizeof(why), "writing %s to %s: %s",
				 value, path, strerror(-ret));
			return why;
		}
	}
	return NULL;
}

/* --- results shared with the parent ---------------------------------------- */

enum { E_NOMEM, E_FAULT, E_NOBUFS, E_OTHER, NR_ECLASS };

struct op_res {
	char name[40];
	int ran;
	int sites;		/* distinct n that fired */
	int injections;		/* faults injected, all passes */
	int kind[NR_KINDS];
	int failed;		/* the call failed with an allowed errno */
	int err[NR_ECLASS];
	int succeeded;		/* the call succeeded despite the fault */
	int async_aborts;	/* a snapshot aborted (NOMEM) from the data path */
	int late_efaults;	/* EFAULT after the commit, as documented */
	int partials;		/* a batch stopped part-way, as its count said */
	int problems;
	double secs;
};

#define MAX_OPS		64
static struct shared {
	int nops;
	struct op_res r[MAX_OPS];
} *shm;

/* --- the scenario ------------------------------------------------------------ */

struct fi;

struct op {
	const char *name;
	int (*setup)(struct fi *f);
	long (*call)(struct fi *f);	/* >= 0 or -errno; no malloc, no stdio */
	int (*check)(struct fi *f, long ret);	/* after success: 0 or -1 */
	int (*alt)(struct fi *f, long ret);	/* success unlike the reference */
	int (*unchanged)(struct fi *f);		/* after a failure: 0 or -1 */
	/* EFAULT from the final copy, after the commit: the documented outcome? */
	int (*late_efault)(struct fi *f);
	char out_kind;			/* the call returns an fd of this kind */
	int errs[4];			/* allowed errnos, 0-terminated */
	int min_sites;
	int max_sites;			/* stop there (sites covered elsewhere) */
	const char *bug;		/* known kernel bug exposed here */
};

struct fi {
	/* fixed for the whole test */
	int ctl;
	int nth;		/* /proc/thread-self/fail-nth */
	long times_last[3];
	char pfx[16];
	char group[SNAPCHAN_NAME_LEN];
	const struct op *op;
	struct op_res *res;
	int n;
	int sweep;
	int printed;
	int problems;
	char base[FP_SIZE];

	/* the scenario, reset by teardown */
	int nchans;
	char chans[MAX_CHANS][SNAPCHAN_NAME_LEN];
	int nfds;
	int fds[MAX_FDS];
	int nchk;
	struct { int fd; char kind; } chk[MAX_CHK];
	int ndrain;
	int drain[4];
	int nids;
	uint64_t ids[MAX_IDS];
	char idname[MAX_IDS][SNAPCHAN_NAME_LEN];

	int w, r, nA, nB, ab_w, ab_r, ba_w, ba_r, snap, obs, cap, cap2, ep;
	int ext_fd, rec_node;
	uint64_t snap_id, got_id, rec_id;
	unsigned int rec_flags;
	int out_fd;
	char newchan[SNAPCHAN_NAME_LEN];
	char target[SNAPCHAN_NAME_LEN];
	size_t msglen;
	struct iovec iov[16];
	int niov;
	struct pollfd pfd[48];
	int npfd;
	const char *state;
	/* what a successful record leads to */
	uint32_t x_state, x_recorded, x_closed, x_markers;
	uint64_t x_msgs;
	uint64_t x_sent;
	/* batch calls: the call, and what the clean run leads to */
	int bfd;
	unsigned long bcmd;
	char *bents;			/* the entries, in user memory */
	size_t besz;
	uint32_t bnr;
	long bwant;			/* the clean run's count */
	long bnext;			/* the next call's error, 0: not checked */
	uint64_t bseq0, bdepth0, bbytes0;	/* SEND: before the call */
	uint32_t blen[B_MAX_FI];		/* SEND: payload lengths */
	uint32_t brecs;			/* RECV: the records, in order */
	struct {
		uint32_t type, len;
		uint64_t seq, snap_id;
	} brec[B_MAX_FI];
	char *bbuf[B_MAX_FI];		/* RECV: each entry's buffer */
};

static int batch_memory(void);

static unsigned char msgbuf[BIGBUF];
static unsigned char rbuf[BIGBUF];
static unsigned char rbuf2[BIGBUF];
static unsigned char capbuf[BIGBUF];
static char fp_ref_before[FP_SIZE], fp_ref_after[FP_SIZE];
static char fp_after[FP_SIZE], fp_alt[FP_SIZE];
static char fp_tmp[FP_SIZE];
static bool have_alt;

/* Report a problem: the operation, n (0: the reference run) and what. */
static bool __attribute__((format(printf, 2, 3)))
problem(struct fi *f, const char *fmt, ...)
{
	va_list ap;

	f->problems++;
	if (f->printed++ >= MAX_PRINTED) {
		if (f->printed == MAX_PRINTED + 1)
			ksft_print_msg("[%s] more problems, not shown\n",
				       f->op->name);
		return false;
	}
	if (f->n)
		printf("# [%s %s n=%d] ", f->op->name, sweep_name[f->sweep], f->n);
	else
		printf("# [%s reference] ", f->op->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return true;
}

static const char *errname(long err)
{
	static char buf[32];

	switch (err) {
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case ENOBUFS: return "ENOBUFS";
	case EINVAL: return "EINVAL";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case EALREADY: return "EALREADY";
	case ECANCELED: return "ECANCELED";
	case ENOSPC: return "ENOSPC";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case EPERM: return "EPERM";
	case ENODEV: return "ENODEV";
	case EAGAIN: return "EAGAIN";
	}
	snprintf(buf, sizeof(buf), "errno %ld", err);
	return buf;
}

/* --- fail-nth ---------------------------------------------------------------- */

/* The attribute's "times" (debugfs attribute files cannot pread). */
static long read_times(int i)
{
	char buf[32];

	if (sc_read_text(times_file[i], buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static void fi_arm(struct fi *f, int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (pwrite(f->nth, buf, len, 0) != len)
		ksft_print_msg("writing fail-nth: %s\n", strerror(errno));
}

/*
 * Read fail-nth back and disarm it: 0 when the fault fired.  Reading and
 * writing the file copy to and from user space, which counts too: a read
 * that fails with EFAULT was the last count, i.e. not reached.
 */
static int fi_left(struct fi *f)
{
	char buf[24];
	ssize_t n;
	int left, i;

	n = pread(f->nth, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		left = errno == EFAULT ? 1 : -1;
	} else {
		buf[n] = '\0';
		left = atoi(buf);
	}
	for (i = 0; i < 4; i++)
		if (pwrite(f->nth, "0", 1, 0) == 1)
			break;
	return left;
}

/* Which attribute fired since the last call: K_*. */
static int fi_kind(struct fi *f)
{
	int i, kind = K_OTHER;
	long t;

	for (i = 0; i < 3; i++) {
		t = read_times(i);
		if (t < f->times_last[i] && kind == K_OTHER)
			kind = i;
		f->times_last[i] = t;
	}
	return kind;
}

static bool err_allowed(const struct op *op, long err)
{
	int i;

	for (i = 0; i < 4 && op->errs[i]; i++)
		if (op->errs[i] == err)
			return true;
	return false;
}

/* --- small wrappers ------------------------------------------------------------ */

static int keep(struct fi *f, int fd)
{
	if (fd >= 0 && f->nfds < MAX_FDS)
		f->fds[f->nfds++] = fd;
	return fd;
}

static void watch(struct fi *f, int fd, char kind)
{
	if (fd >= 0 && f->nchk < MAX_CHK) {
		f->chk[f->nchk].fd = fd;
		f->chk[f->nchk].kind = kind;
		f->nchk++;
	}
}

static void remember_id(struct fi *f, uint64_t id, const char *name)
{
	if (f->nids < MAX_IDS) {
		f->ids[f->nids] = id;
		snprintf(f->idname[f->nids], SNAPCHAN_NAME_LEN, "%s", name);
		f->nids++;
	}
}

static const char *id_of(struct fi *f, uint64_t id)
{
	static char buf[4][40];
	static int k;
	int i;

	if (!id)
		return "-";
	for (i = 0; i < f->nids; i++)
		if (f->ids[i] == id)
			return f->idname[i];
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "?%llu", (unsigned long long)id);
	return buf[k];
}

static void chan_name(struct fi *f, char *dst, const char *tag)
{
	snprintf(dst, SNAPCHAN_NAME_LEN, "%s-%s", f->pfx, tag);
}

/* Create channel <pfx>-<tag>, in the scenario's group if @grouped. */
static int mkchan(struct fi *f, const char *tag, bool grouped,
		  unsigned int cap_msgs, unsigned int max_msg)
{
	struct snapchan_chan_create c;

	memset(&c, 0, sizeof(c));
	chan_name(f, c.name, tag);
	if (grouped)
		sc_name(c.group, f->group);
	c.capacity_msgs = cap_msgs;
	c.max_msg = max_msg;
	c.capacity_bytes = max_msg * 4ULL > 65536 ? max_msg * 4ULL : 65536;
	c.mode = 0640;
	if (f->nchans < MAX_CHANS)
		memcpy(f->chans[f->nchans++], c.name, SNAPCHAN_NAME_LEN);
	return ioctl(f->ctl, SNAPCHAN_IOC_CHAN_CREATE, &c) ? -errno : 0;
}

/* Register a name that the operation creates, for the teardown. */
static void will_create(struct fi *f, char *dst, const char *tag)
{
	chan_name(f, dst, tag);
	if (f->nchans < MAX_CHANS)
		memcpy(f->chans[f->nchans++], dst, SNAPCHAN_NAME_LEN);
}

static int openend(struct fi *f, const char *tag, int flags, char kind)
{
	char name[SNAPCHAN_NAME_LEN];
	int fd;

	chan_name(f, name, tag);
	fd = keep(f, sc_open_chan(name, flags | O_NONBLOCK));
	if (fd >= 0 && kind)
		watch(f, fd, kind);
	return fd;
}

static int join(struct fi *f, const char *name)
{
	struct snapchan_node_join j;
	int fd;

	memset(&j, 0, sizeof(j));
	sc_name(j.group, f->group);
	sc_name(j.name, name);
	fd = ioctl(f->ctl, SNAPCHAN_IOC_NODE_JOIN, &j);
	if (fd < 0)
		return -errno;
	keep(f, fd);
	watch(f, fd, 'n');
	remember_id(f, j.node_id, name);
	return fd;
}

static int attach(int node, int fd)
{
	struct snapchan_node_attach a;

	memset(&a, 0, sizeof(a));
	a.chan_fd = fd;
	return ioctl(node, SNAPCHAN_IOC_NODE_ATTACH, &a) ? -errno : 0;
}

static unsigned char pat(uint64_t seq, size_t i)
{
	return (unsigned char)(seq * 131 + i * 7 + (i >> 8) + 1);
}

static void fill(unsigned char *buf, uint64_t seq, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pat(seq, i);
}

static int next_seq(struct fi *f, const char *tag, uint64_t *seq)
{
	struct snapchan_chan_info info;
	char name[SNAPCHAN_NAME_LEN];
	int ret;

	chan_name(f, name, tag);
	ret = sc_info(f->ctl, name, &info);
	if (!ret)
		*seq = info.next_seq;
	return ret;
}

/* Prepare msgbuf with the payload of the next message on <tag>. */
static int prep(struct fi *f, const char *tag, size_t len)
{
	uint64_t seq;
	int ret = next_seq(f, tag, &seq);

	if (ret)
		return ret;
	fill(msgbuf, seq, len);
	f->msglen = len;
	return 0;
}

/* Send one pattern message of @len bytes on <tag> through @fd. */
static int sendm(struct fi *f, int fd, const char *tag, size_t len)
{
	int ret = prep(f, tag, len);

	if (ret)
		return ret;
	if (write(fd, msgbuf, len) != (ssize_t)len)
		return -errno ? -errno : -EIO;
	return 0;
}

static int sendn(struct fi *f, int fd, const char *tag, int count)
{
	int i, ret;

	for (i = 0; i < count; i++) {
		ret = sendm(f, fd, tag, 8 + (i * 13) % 40);
		if (ret)
			return ret;
	}
	return 0;
}

static int mark(int fd, uint64_t id)
{
	struct snapchan_mark m = { .snap_id = id };

	return ioctl(fd, SNAPCHAN_IOC_MARK, &m) ? -errno : 0;
}

static int snap_begin(struct fi *f)
{
	struct snapchan_snap_begin b;
	int fd;

	memset(&b, 0, sizeof(b));
	sc_name(b.group, f->group);
	b.timeout_ns = 600ULL * 1000000000ULL;
	fd = ioctl(f->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b);
	if (fd < 0)
		return -errno;
	keep(f, fd);
	watch(f, fd, 's');
	f->snap = fd;
	f->snap_id = b.snap_id;
	return fd;
}

static int snap_open(struct fi *f, uint64_t id)
{
	struct snapchan_snap_open o;
	int fd;

	memset(&o, 0, sizeof(o));
	sc_name(o.group, f->group);
	o.snap_id = id;
	fd = ioctl(f->ctl, SNAPCHAN_IOC_SNAP_OPEN, &o);
	return fd < 0 ? -errno : keep(f, fd);
}

static int record(int node, uint64_t id, const char *state, unsigned int flags,
		  uint64_t *out_id)
{
	struct snapchan_node_record r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.snap_id = id;
	r.state = (uintptr_t)state;
	r.state_len = state ? strlen(state) : 0;
	r.flags = flags;
	if (!id)
		r.timeout_ns = 600ULL * 1000000000ULL;
	ret = ioctl(node, SNAPCHAN_IOC_NODE_RECORD, &r);
	if (ret < 0)
		return -errno;
	if (out_id)
		*out_id = r.snap_id;
	return ret;
}

/* The snapshot a node is asked to record, 0 for none. */
static uint64_t sc_pending_event(int node)
{
	struct snapchan_node_event ev;

	memset(&ev, 0, sizeof(ev));
	if (ioctl(node, SNAPCHAN_IOC_NODE_EVENT, &ev))
		return ~0ULL;
	return ev.type == SNAPCHAN_EVENT_RECORD ? ev.snap_id : 0;
}

static int snap_info(int fd, struct snapchan_snap_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, SNAPCHAN_IOC_SNAP_INFO, info) ? -errno : 0;
}

static int poll1(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ret = poll(&p, 1, ms);

	return ret < 0 ? -errno : (ret ? p.revents : 0);
}

/* Read a whole stream from @fd into @buf; its length or -errno. */
static ssize_t slurp(int fd, unsigned char *buf, size_t size, size_t have)
{
	ssize_t n;

	while (have < size) {
		n = read(fd, buf + have, size - have);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		have += n;
	}
	return have;
}

static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & -(crc & 1));
	}
	return ~crc;
}

/* An image's trailer, total_len and CRC32C: 0 if good. */
static int image_ok(const unsigned char *buf, size_t len)
{
	const struct snapchan_img_trailer *t;
	const struct snapchan_img_header *h = (const void *)buf;

	if (len < sizeof(*h) + sizeof(*t) || len % 8)
		return -1;
	t = (const void *)(buf + len - sizeof(*t));
	if (h->magic != SNAPCHAN_IMG_MAGIC || t->magic != SNAPCHAN_IMG_END_MAGIC)
		return -2;
	if (h->total_len != len || t->total_len != len)
		return -3;
	if (crc32c(0, buf, len - sizeof(*t)) != t->crc32c)
		return -4;
	return 0;
}

/* --- the fingerprint --------------------------------------------------------- */

struct fp {
	char *s;
	size_t len;
};

static void __attribute__((format(printf, 2, 3)))
fp_add(struct fp *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= FP_SIZE - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, FP_SIZE - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += n;
	if (b->len > FP_SIZE - 1)
		b->len = FP_SIZE - 1;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries (sorted), with @fn to describe each. */
static void fp_dir(struct fp *b, const char *label, const char *dir,
		   const char *prefix,
		   void (*fn)(struct fp *b, const char *dir, const char *name))
{
	static char names[256][NAME_MAX + 1];
	char *list[256];
	struct dirent *de;
	int n = 0, i;
	DIR *d = opendir(dir);

	fp_add(b, "%s:", label);
	if (!d) {
		fp_add(b, " (%s)\n", strerror(errno));
		return;
	}
	while ((de = readdir(d)) && n < 256) {
		if (de->d_name[0] == '.')
			continue;
		if (prefix && strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(names[n], sizeof(names[n]), "%s", de->d_name);
		list[n] = names[n];
		n++;
	}
	closedir(d);
	qsort(list, n, sizeof(list[0]), cmpstr);
	for (i = 0; i < n; i++) {
		if (fn)
			fn(b, dir, list[i]);
		else
			fp_add(b, " %s", list[i]);
	}
	fp_add(b, "\n");
}

/* Open fds, in order, with what they are. */
static void fp_fds(struct fp *b)
{
	char path[64], target[128];
	struct dirent *de;
	bool open_fds[1024] = {};
	ssize_t len;
	int fd, self;
	DIR *d = opendir("/proc/self/fd");

	fp_add(b, "fds:");
	if (!d) {
		fp_add(b, " (%s)\n", strerror(errno));
		return;
	}
	self = dirfd(d);
	while ((de = readdir(d))) {
		fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd != self && fd >= 0 && fd < 1024)
			open_fds[fd] = true;
	}
	closedir(d);
	for (fd = 0; fd < 1024; fd++) {
		if (!open_fds[fd])
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		fp_add(b, " %d=%s", fd, target);
	}
	fp_add(b, "\n");
}

/*
 * A device node: mode, owner, and whether it is the device of the channel
 * of its name ("dev" in /sys/class/snapchan/<name>: "=") or another
 * ("!=", a stale node).  Minors are allocated cyclically, so the minor
 * itself differs from one run to the next and is not printed.
 */
static void fp_devnode(struct fp *b, const char *dir, const char *name)
{
	char path[128 + NAME_MAX], text[32];
	unsigned int maj, min;
	const char *same = "";
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st)) {
		fp_add(b, " %s(?)", name);
		return;
	}
	if (!S_ISCHR(st.st_mode)) {
		fp_add(b, " %s(%o)", name, st.st_mode);
		return;
	}
	if (strcmp(name, "control")) {
		snprintf(path, sizeof(path), "/sys/class/snapchan/%s/dev", name);
		same = sc_read_text(path, text, sizeof(text)) > 0 &&
		       sscanf(text, "%u:%u", &maj, &min) == 2 &&
		       maj == major(st.st_rdev) && min == minor(st.st_rdev) ?
		       ",=" : ",!=";
	}
	fp_add(b, " %s(c%o,%u%s)", name, st.st_mode & 07777,
	       (unsigned int)st.st_uid, same);
}

/* A debugfs table; node ids (the nodes table) replaced by names. */
static void fp_table(struct fp *b, const char *table)
{
	char path[128], line[1024];
	FILE *file;

	snprintf(path, sizeof(path), SC_DBG "%s", table);
	fp_add(b, "debugfs %s:\n", table);
	file = fopen(path, "re");
	if (!file) {
		fp_add(b, "  (%s)\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), file)) {
		char grp[64], name[64];
		unsigned long long id;
		int off = 0;

		if (!strcmp(table, "nodes") &&
		    sscanf(line, "%63s %llu %63s%n", grp, &id, name, &off) == 3) {
			fp_add(b, "  %s| %s #%s%s", table, grp, name, line + off);
			continue;
		}
		fp_add(b, "  %s| %s", table, line);
	}
	fclose(file);
}

/* Learn node ids from the debugfs nodes table. */
static void learn_ids(struct fi *f)
{
	char line[1024], grp[64], name[SNAPCHAN_NAME_LEN];
	unsigned long long id;
	FILE *file = fopen(SC_DBG "nodes", "re");
	int i;

	if (!file)
		return;
	while (fgets(line, sizeof(line), file)) {
		if (sscanf(line, "%63s %llu %31s", grp, &id, name) != 3)
			continue;
		for (i = 0; i < f->nids; i++)
			if (f->ids[i] == id)
				break;
		if (i == f->nids)
			remember_id(f, id, name);
	}
	fclose(file);
}

static void fp_chans(struct fi *f, struct fp *b)
{
	static char names[64][SNAPCHAN_NAME_LEN];
	struct snapchan_chan_list l;
	struct snapchan_chan_info in;
	uint32_t i;

	memset(&l, 0, sizeof(l));
	l.names = (uintptr_t)names;
	l.max_entries = 64;
	if (ioctl(f->ctl, SNAPCHAN_IOC_CHAN_LIST, &l)) {
		fp_add(b, "CHAN_LIST: %s\n", strerror(errno));
		return;
	}
	fp_add(b, "channels: %u\n", l.count);
	for (i = 0; i < l.count && i < 64; i++) {
		if (sc_info(f->ctl, names[i], &in)) {
			fp_add(b, "  %s: %s\n", names[i], strerror(errno));
			continue;
		}
		fp_add(b, "  %s grp=%s cap=%llu/%u max=%u fl=%#x mode=%o uid=%u gid=%u mk=%u depth=%llu/%llu sent=%llu recv=%llu seq=%llu..%llu rd=%u wr=%u snd=%s rcv=%s\n",
		       in.name, in.group,
		       (unsigned long long)in.capacity_bytes, in.capacity_msgs,
		       in.max_msg, in.flags, in.mode, in.uid, in.gid,
		       in.markers_queued,
		       (unsigned long long)in.depth_msgs,
		       (unsigned long long)in.depth_bytes,
		       (unsigned long long)in.total_sent,
		       (unsigned long long)in.total_received,
		       (unsigned long long)in.first_seq,
		       (unsigned long long)in.next_seq,
		       in.readers, in.writers,
		       id_of(f, in.sender_node), id_of(f, in.receiver_node));
	}
}

/* The records of a channel, through CAPTURE on one of its fds. */
static void fp_queue(struct fi *f, struct fp *b, int fd)
{
	const struct snapchan_img_header *h = (const void *)capbuf;
	const struct snapchan_img_chan *c;
	struct snapchan_capture cap;
	size_t off;
	ssize_t len;
	uint64_t i;
	int cfd;

	memset(&cap, 0, sizeof(cap));
	cfd = ioctl(fd, SNAPCHAN_IOC_CAPTURE, &cap);
	if (cfd < 0) {
		fp_add(b, "    capture: %s\n", strerror(errno));
		return;
	}
	len = slurp(cfd, capbuf, sizeof(capbuf), 0);
	close(cfd);
	fp_add(b, "    capture: count=%llu bytes=%llu seq=%llu..%llu mk=%llu len=%llu\n",
	       (unsigned long long)cap.count, (unsigned long long)cap.bytes,
	       (unsigned long long)cap.first_seq,
	       (unsigned long long)cap.last_seq,
	       (unsigned long long)cap.markers,
	       (unsigned long long)cap.stream_len);
	if (len < 0 || (uint64_t)len != cap.stream_len || image_ok(capbuf, len)) {
		fp_add(b, "    capture image bad (len %zd, check %d)\n", len,
		       len > 0 ? image_ok(capbuf, len) : 0);
		return;
	}
	off = h->header_len;
	c = (const void *)(capbuf + off);
	off += sizeof(*c);
	fp_add(b, "    chan %s seq %llu..%llu records %llu\n", c->name,
	       (unsigned long long)c->first_seq,
	       (unsigned long long)c->next_seq,
	       (unsigned long long)c->record_count);
	for (i = 0; i < c->record_count && off + 32 <= (size_t)len; i++) {
		const struct snapchan_img_record *r = (const void *)(capbuf + off);

		off += sizeof(*r);
		if (r->type == SNAPCHAN_REC_DATA)
			fp_add(b, "    D%llu:%u:%08x", (unsigned long long)r->seq,
			       r->len, crc32c(0, capbuf + off, r->len));
		else
			fp_add(b, "    M%llu:%s", (unsigned long long)r->snap_id,
			       id_of(f, r->origin));
		off += (r->len + 7) & ~7U;
	}
	fp_add(b, "\n");
}

static void fp_checked(struct fi *f, struct fp *b)
{
	struct snapchan_snap_info si;
	struct snapchan_node_event ev;
	int i, ev_ret;

	for (i = 0; i < f->nchk; i++) {
		int fd = f->chk[i].fd;

		fp_add(b, "fd %d (%c): poll %#x\n", fd, f->chk[i].kind,
		       poll1(fd, POLLIN | POLLOUT | POLLPRI, 0));
		switch (f->chk[i].kind) {
		case 'c':
			fp_queue(f, b, fd);
			break;
		case 'n':
			memset(&ev, 0, sizeof(ev));
			ev_ret = ioctl(fd, SNAPCHAN_IOC_NODE_EVENT, &ev) ? -errno : 0;
			fp_add(b, "    event %d type=%u snap=%llu node=%s\n", ev_ret,
			       ev.type, (unsigned long long)ev.snap_id,
			       id_of(f, ev.node_id));
			break;
		case 's':
			if (snap_info(fd, &si)) {
				fp_add(b, "    SNAP_INFO failed (%s)\n", strerror(errno));
				break;
			}
			fp_add(b, "    snap %llu %s state=%u reason=%u epoch=%llu nodes=%u/%u chans=%u/%u msgs=%llu bytes=%llu state_bytes=%llu begin=%d end=%d image=%llu\n",
			       (unsigned long long)si.snap_id, si.group, si.state,
			       si.abort_reason, (unsigned long long)si.epoch,
			       si.nodes_recorded, si.nodes, si.chans_closed,
			       si.chans, (unsigned long long)si.recorded_msgs,
			       (unsigned long long)si.recorded_bytes,
			       (unsigned long long)si.state_bytes,
			       !!si.begin_ns, !!si.end_ns,
			       (unsigned long long)si.image_len);
			break;
		}
	}
}

/* Take a fingerprint into @out; @global: only what must be at baseline. */
static void fp_take(struct fi *f, char *out, bool global)
{
	struct fp b = { .s = out, .len = 0 };
	char text[64];

	out[0] = '\0';
	learn_ids(f);
	fp_fds(&b);
	fp_dir(&b, "/dev/snapchan", "/dev/snapchan", NULL, fp_devnode);
	fp_dir(&b, "/dev", "/dev", f->pfx, fp_devnode);
	fp_dir(&b, "/sys/class/snapchan", "/sys/class/snapchan", NULL, NULL);
	if (sc_read_text(REFCNT, text, sizeof(text)) < 0)
		strcpy(text, "?");
	fp_add(&b, "refcnt: %s\n", text);
	fp_chans(f, &b);
	fp_table(&b, "groups");
	fp_table(&b, "nodes");
	fp_table(&b, "snapshots");
	if (!global)
		fp_checked(f, &b);
}

/* Print the lines of @a missing from @b and the other way round. */
static void fp_diff(const char *label_a, const char *a, const char *label_b,
		    const char *b)
{
	const char *p, *e;
	int shown = 0;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		const char *x = pass ? b : a, *y = pass ? a : b;

		for (p = x; *p && shown < 24; p = *e ? e + 1 : e) {
			const char *q;
			size_t len;
			bool found = false;

			e = strchr(p, '\n');
			if (!e)
				e = p + strlen(p);
			len = e - p;
			for (q = y; *q; ) {
				const char *qe = strchr(q, '\n');

				if (!qe)
					qe = q + strlen(q);
				if ((size_t)(qe - q) == len && !memcmp(p, q, len)) {
					found = true;
					break;
				}
				q = *qe ? qe + 1 : qe;
			}
			if (!found) {
				printf("#     %s only: %.*s\n",
				       pass ? label_b : label_a, (int)len, p);
				shown++;
			}
		}
	}
	if (!shown)
		printf("#     (same lines, different order)\n");
	fflush(stdout);
}

/* --- drain: every queued message readable, in order, intact -------------------- */

static void drain_check(struct fi *f)
{
	static unsigned char buf[BIGBUF];
	struct snapchan_recv rv;
	int i, k;

	for (i = 0; i < f->ndrain; i++) {
		uint64_t last = 0;

		for (k = 0; k < 4096; k++) {
			size_t j;

			memset(&rv, 0, sizeof(rv));
			rv.buf = (uintptr_t)buf;
			rv.buf_len = sizeof(buf);
			if (ioctl(f->drain[i], SNAPCHAN_IOC_RECV, &rv)) {
				if (errno != EAGAIN && errno != ENODEV &&
				    errno != ENODATA)
					problem(f, "drain fd %d: RECV %s",
						f->drain[i], strerror(errno));
				break;
			}
			if (rv.type == SNAPCHAN_REC_MARKER) {
				if (rv.origin)
					break;	/* a snapshot's: stays */
				continue;
			}
			if (last && rv.seq != last + 1) {
				problem(f, "drain fd %d: seq %llu after %llu",
					f->drain[i], (unsigned long long)rv.seq,
					(unsigned long long)last);
				break;
			}
			last = rv.seq;
			for (j = 0; j < rv.len; j++)
				if (buf[j] != pat(rv.seq, j))
					break;
			if (j < rv.len) {
				problem(f, "drain fd %d: message %llu corrupt at byte %zu",
					f->drain[i], (unsigned long long)rv.seq, j);
				break;
			}
		}
	}
}

/* --- teardown and baseline ---------------------------------------------------- */

static void scen_reset(struct fi *f)
{
	f->nchans = 0;
	f->nfds = 0;
	f->nchk = 0;
	f->ndrain = 0;
	f->nids = 0;
	f->w = f->r = f->nA = f->nB = -1;
	f->ab_w = f->ab_r = f->ba_w = f->ba_r = -1;
	f->snap = f->obs = f->cap = f->cap2 = f->ep = f->ext_fd = -1;
	f->rec_node = -1;
	f->out_fd = -1;
	f->snap_id = f->got_id = f->rec_id = 0;
	f->rec_flags = 0;
	f->newchan[0] = f->target[0] = '\0';
	f->msglen = 0;
	f->niov = 0;
	f->npfd = 0;
	f->state = NULL;
	f->bfd = -1;
	f->bcmd = 0;
	f->bents = NULL;
	f->bnr = 0;
	f->bwant = f->bnext = 0;
	f->brecs = 0;
}

static void teardown(struct fi *f)
{
	struct snapchan_chan_destroy d;

	while (f->nfds)
		close(f->fds[--f->nfds]);
	while (f->nchans) {
		memset(&d, 0, sizeof(d));
		memcpy(d.name, f->chans[--f->nchans], SNAPCHAN_NAME_LEN);
		d.flags = SNAPCHAN_TOPO_F_ABORT;
		ioctl(f->ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d);
	}
	scen_reset(f);
}

/* Remove device nodes that no channel owns (left by a failed call). */
static void remove_strays(struct fi *f)
{
	char path[NAME_MAX + 32];
	struct dirent *de;
	DIR *d;

	d = opendir("/dev/snapchan");
	while (d && (de = readdir(d))) {
		struct snapchan_chan_info in;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "control"))
			continue;
		if (!sc_info(f->ctl, de->d_name, &in))
			continue;
		snprintf(path, sizeof(path), "/dev/snapchan/%s", de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	d = opendir("/dev");
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, f->pfx, strlen(f->pfx)))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

static bool env_on(const char *name);

/* Back to the baseline (async releases may take a moment), else report. */
static void baseline_check(struct fi *f)
{
	int i;

	for (i = 0; i < 100; i++) {
		fp_take(f, fp_tmp, true);
		if (!strcmp(fp_tmp, f->base))
			return;
		if (i == 0 && env_on("FAULTINJ_DEBUG_BASE")) {
			ksft_print_msg("[%s n=%d] baseline not reached at once:\n",
				       f->op->name, f->n);
			fp_diff("baseline", f->base, "now", fp_tmp);
		}
		usleep(10000);
	}
	if (problem(f, "not back to the baseline after the teardown:"))
		fp_diff("baseline", f->base, "now", fp_tmp);
	remove_strays(f);
	fp_take(f, f->base, true);
}

/* --- the driver ------------------------------------------------------------------ */

static void register_out(struct fi *f, long ret)
{
	if (f->op->out_kind && ret >= 0) {
		f->out_fd = keep(f, ret);
		if (f->op->out_kind != 'x')
			watch(f, ret, f->op->out_kind);
	}
}

/* Time spent per phase, printed with FAULTINJ_PROFILE=1. */
enum { P_SETUP, P_CALL, P_FP, P_CHECK, P_TEARDOWN, P_BASE, NR_PHASES };
static const char *const phase_name[NR_PHASES] = {
	"setup", "call", "fingerprint", "check", "teardown", "baseline"
};
static double phase_secs[NR_PHASES];
static double phase_t0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void phase(int p)
{
	double t = now();

	if (phase_t0)
		phase_secs[p] += t - phase_t0;
	phase_t0 = t;
}

static bool env_on(const char *name)
{
	const char *s = getenv(name);

	return s && *s && strcmp(s, "0");
}

/* After a successful call: the same end state as the reference run. */
static void check_success(struct fi *f, long ret, bool reference)
{
	register_out(f, ret);
	phase(P_CALL);
	if (reference) {
		fp_take(f, fp_ref_after, false);
		phase(P_FP);
	} else {
		fp_take(f, fp_after, false);
		phase(P_FP);
		if (strcmp(fp_after, fp_ref_after)) {
			if ((!f->op->alt || f->op->alt(f, ret)) &&
			    problem(f, "succeeded (returned %ld) but the state differs from a clean run:",
				    ret))
				fp_diff("clean run", fp_ref_after, "this run", fp_after);
			phase(P_CHECK);
			return;
		}
	}
	if (f->op->check && f->op->check(f, ret))
		problem(f, "succeeded (returned %ld) but its check failed", ret);
	phase(P_CHECK);
}

static int do_setup(struct fi *f)
{
	int ret;

	phase(P_BASE);
	ret = f->op->setup ? f->op->setup(f) : 0;
	if (ret)
		problem(f, "scenario setup failed: %s", strerror(-ret));
	phase(P_SETUP);
	return ret;
}

static void end_iteration(struct fi *f)
{
	drain_check(f);
	phase(P_CHECK);
	teardown(f);
	phase(P_TEARDOWN);
	baseline_check(f);
	phase(P_BASE);
}

/*
 * One pass over n = 1, 2, ... until the call has no n-th fault site.  The
 * scenario is the same every time (checked by the reference run), so a
 * failed call must leave exactly the reference run's "before" state.
 */
static void run_pass(struct fi *f, int sweep, int pass, bool *fired)
{
	struct op_res *res = f->res;
	int n, left, kind, max = f->op->max_sites && !env_on("FAULTINJ_FULL") ?
				 f->op->max_sites : MAX_N;
	const char *maxn = getenv("FAULTINJ_MAXN");
	bool verbose = env_on("FAULTINJ_VERBOSE");
	int misses = 0;
	long ret, err;

	if (maxn && atoi(maxn) > 0 && atoi(maxn) < max)
		max = atoi(maxn);

	for (n = 1; n <= max; n++) {
		f->n = n;
		if (do_setup(f)) {
			teardown(f);
			return;
		}
		fi_arm(f, n);
		ret = f->op->call(f);
		left = fi_left(f);
		kind = fi_kind(f);
		phase(P_CALL);
		if (verbose)
			ksft_print_msg("[%s %s n=%d] %s -> %s\n", f->op->name,
				       sweep_name[sweep], n,
				       left ? "not reached" : kind_name[kind],
				       ret < 0 ? errname(-ret) : "ok");
		if (left != 0) {
			/* Fewer than n sites: a clean call, as the reference. */
			if (ret < 0)
				problem(f, "no fault reached, yet the call failed: %s",
					errname(-ret));
			else
				check_success(f, ret, false);
			end_iteration(f);
			/*
			 * Sites that come and go (debugobjects refilling its
			 * pool, page allocations) may make the last site n+1
			 * in one call and n in the next: try a few more.
			 */
			if (++misses >= MISSES)
				return;
			continue;
		}
		misses = 0;
		res->injections++;
		if (!fired[n] && (sweep == SWEEP_SLAB || kind != K_COPY)) {
			fired[n] = true;
			res->sites++;
			res->kind[kind]++;
		}
		if (ret >= 0) {
			res->succeeded++;
			check_success(f, ret, false);
			end_iteration(f);
			continue;
		}
		err = -ret;
		res->failed++;
		res->err[err == ENOMEM ? E_NOMEM : err == EFAULT ? E_FAULT :
			 err == ENOBUFS ? E_NOBUFS : E_OTHER]++;
		if (!err_allowed(f->op, err))
			problem(f, "%s fault: failed with %s, not an allowed errno",
				kind_name[kind], errname(err));
		fp_take(f, fp_after, false);
		phase(P_FP);
		if (strcmp(fp_ref_before, fp_after) && err == EFAULT &&
		    f->op->late_efault) {
			/*
			 * The argument "unmapped" between the kernel's probe
			 * and its final copy: doc/decisions.md says what
			 * stays (the check also makes the retry).
			 */
			if (!f->op->late_efault(f))
				res->late_efaults++;
			phase(P_CHECK);
			end_iteration(f);
			continue;
		}
		if (strcmp(fp_ref_before, fp_after)) {
			if (problem(f, "%s fault: failed with %s but changed the state:",
				    kind_name[kind], errname(err)))
				fp_diff("before", fp_ref_before, "after", fp_after);
			/* The retry starts from another state: just run it. */
			ret = f->op->call(f);
			phase(P_CALL);
			if (verbose)
				ksft_print_msg("[%s n=%d] retry -> %s\n", f->op->name,
					       n, ret < 0 ? errname(-ret) : "ok");
			if (ret < 0)
				problem(f, "the retry without injection failed: %s",
					errname(-ret));
			else
				register_out(f, ret);
			end_iteration(f);
			continue;
		}
		if (f->op->unchanged && f->op->unchanged(f))
			problem(f, "%s fault: failed with %s but changed the state",
				kind_name[kind], errname(err));
		phase(P_CHECK);
		/* The same call, without injection, must succeed. */
		ret = f->op->call(f);
		if (ret < 0)
			problem(f, "%s fault (%s), then the retry without injection failed: %s",
				kind_name[kind], errname(err), errname(-ret));
		else
			check_success(f, ret, false);
		end_iteration(f);
	}
	if (max == MAX_N)
		problem(f, "%s sweep, pass %d: more than %d fault sites: runaway?",
			sweep_name[sweep], pass, MAX_N);
}

static int passes(void)
{
	const char *s = getenv("FAULTINJ_PASSES");
	int n = s ? atoi(s) : 1;

	return n < 1 ? 1 : n > 10 ? 10 : n;
}

FIXTURE(fi) {
	struct fi *f;
	const char *skip;
};

FIXTURE_SETUP(fi)
{
	static struct fi fi_state;
	struct fi *f = &fi_state;
	char stack[512 << 10];
	int i;

	self->f = f;
	self->skip = NULL;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	memset(f, 0, sizeof(*f));
	scen_reset(f);
	f->ctl = f->nth = -1;
	if (!shm) {
		self->skip = "not set up (no fail-nth?)";
		return;
	}
	/* No page fault of ours may consume a fail-nth count. */
	memset(stack, 1, sizeof(stack));
	__asm__ __volatile__("" : : "r"(stack) : "memory");
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		ksft_print_msg("mlockall: %s (page faults may count)\n",
			       strerror(errno));
	/* The batch calls' special memory (an fd): before the baseline. */
	if (batch_memory())
		ksft_print_msg("batch memory: %s\n", strerror(errno));
	snprintf(f->pfx, sizeof(f->pfx), "fi%d", getpid());
	snprintf(f->group, sizeof(f->group), "%.15sg", f->pfx);
	f->ctl = open(SC_CONTROL, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, f->ctl) TH_LOG("open %s: %s", SC_CONTROL, strerror(errno));
	/* Opened here: the file is bound to this (the test's) thread. */
	f->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, f->nth) TH_LOG("open %s: %s", FAIL_NTH, strerror(errno));
	for (i = 0; i < 3; i++) {
		f->times_last[i] = read_times(i);
		ASSERT_LT(0, f->times_last[i]) TH_LOG("reading %s", times_file[i]);
	}
	fp_take(f, f->base, true);
}

FIXTURE_TEARDOWN(fi)
{
	struct fi *f = self->f;

	if (!f)
		return;
	teardown(f);
	if (f->nth >= 0)
		close(f->nth);
	if (f->ctl >= 0)
		close(f->ctl);
}

/* FAULTINJ_ONLY=test,test,...: run only those (debugging). */
static bool selected(const char *test)
{
	const char *only = getenv("FAULTINJ_ONLY"), *p;
	size_t len = strlen(test);

	if (!only || !*only)
		return true;
	for (p = only; (p = strstr(p, test)); p += len)
		if ((p == only || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
	return false;
}

static void run_op(struct __test_metadata *_metadata, FIXTURE_DATA(fi) *self,
		   const struct op *op)
{
	struct fi *f = self->f;
	struct op_res *res;
	static bool fired[MAX_N + MISSES + 1];
	double t0 = now();
	long ret;
	int pass, sweep, i;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	if (!selected(_metadata->name))
		SKIP(return, "not in FAULTINJ_ONLY");
	ASSERT_LT(shm->nops, MAX_OPS);
	res = &shm->r[shm->nops++];
	memset(res, 0, sizeof(*res));
	snprintf(res->name, sizeof(res->name), "%s", op->name);
	f->op = op;
	f->res = res;
	phase_t0 = 0;
	memset(phase_secs, 0, sizeof(phase_secs));

	/* The reference: the call without injection. */
	f->n = 0;
	have_alt = false;
	if (do_setup(f))
		goto out;
	fp_take(f, fp_ref_before, false);
	phase(P_FP);
	ret = op->call(f);
	if (ret < 0) {
		problem(f, "fails without injection: %s", errname(-ret));
		goto out;
	}
	check_success(f, ret, true);
	end_iteration(f);
	if (f->problems)
		goto out;

	for (sweep = 0; sweep < NR_SWEEPS; sweep++) {
		if (sweep_setup(sweep)) {
			problem(f, "cannot set up the %s sweep", sweep_name[sweep]);
			break;
		}
		f->sweep = sweep;
		memset(fired, 0, sizeof(fired));
		for (pass = 1; pass <= passes(); pass++)
			run_pass(f, sweep, pass, fired);
	}
out:
	teardown(f);
	res->ran = 1;
	res->problems = f->problems;
	res->secs = now() - t0;
	ksft_print_msg("[%s] %d sites (slab %d, page %d, usercopy %d%s), %d injections; the call failed %d times (ENOMEM %d, EFAULT %d, ENOBUFS %d, other %d; %d EFAULT after the commit, as documented), succeeded %d times (%d part-way, as the count said)%s; %d problems; %.1fs\n",
		       op->name, res->sites, res->kind[K_SLAB], res->kind[K_PAGE],
		       res->kind[K_COPY], res->kind[K_OTHER] ? ", other" : "",
		       res->injections, res->failed, res->err[E_NOMEM],
		       res->err[E_FAULT], res->err[E_NOBUFS], res->err[E_OTHER],
		       res->late_efaults, res->succeeded, res->partials,
		       res->async_aborts ? " (the snapshot aborted, NOMEM)" : "",
		       f->problems, res->secs);
	if (env_on("FAULTINJ_PROFILE"))
		for (i = 0; i < NR_PHASES; i++)
			ksft_print_msg("  %-12s %.2fs\n", phase_name[i],
				       phase_secs[i]);
	if (f->problems && op->bug)
		ksft_print_msg("[%s] known kernel bug - %s\n", op->name, op->bug);
	EXPECT_EQ(0, f->problems) TH_LOG("[%s] %d problem(s), see above", op->name,
					 f->problems);
	EXPECT_LE(op->min_sites, res->sites)
		TH_LOG("[%s] only %d fault sites reached, expected at least %d",
		       op->name, res->sites, op->min_sites);
}

/* ======================= the operations ======================================= */

/* --- scenarios --- */

#define TRY(x) do {				\
	long __r = (long)(x);			\
	if (__r < 0)				\
		return (int)__r;		\
} while (0)

/* Standalone "s": 3 messages and a user marker queued; w and r ends. */
static int su_std(struct fi *f)
{
	TRY(mkchan(f, "s", false, 64, 65536));
	TRY(f->w = openend(f, "s", O_WRONLY, 'p'));
	TRY(f->r = openend(f, "s", O_RDONLY, 'c'));
	f->drain[f->ndrain++] = f->r;
	TRY(sendm(f, f->w, "s", 16));
	TRY(sendm(f, f->w, "s", 100));
	TRY(mark(f->w, 77));
	TRY(sendm(f, f->w, "s", 7));
	chan_name(f, f->target, "s");
	return prep(f, "s", 24);
}

/* A group with channel "x" and node "A". */
static int su_group(struct fi *f)
{
	TRY(mkchan(f, "x", true, 64, 4096));
	TRY(f->nA = join(f, "A"));
	return 0;
}

/* Line: group channel ab from node A to node B, @q messages queued. */
static int su_line_q(struct fi *f, int q)
{
	TRY(mkchan(f, "ab", true, 64, 4096));
	TRY(f->nA = join(f, "A"));
	TRY(f->nB = join(f, "B"));
	TRY(f->ab_w = openend(f, "ab", O_WRONLY, 'p'));
	TRY(f->ab_r = openend(f, "ab", O_RDONLY, 'c'));
	TRY(attach(f->nA, f->ab_w));
	TRY(attach(f->nB, f->ab_r));
	f->drain[f->ndrain++] = f->ab_r;
	TRY(sendn(f, f->ab_w, "ab", q));
	return 0;
}

/* Ring: the line plus ba from B to A, @q messages on each. */
static int su_ring_q(struct fi *f, int q)
{
	TRY(su_line_q(f, q));
	TRY(mkchan(f, "ba", true, 64, 4096));
	TRY(f->ba_w = openend(f, "ba", O_WRONLY, 'p'));
	TRY(f->ba_r = openend(f, "ba", O_RDONLY, 'c'));
	TRY(attach(f->nB, f->ba_w));
	TRY(attach(f->nA, f->ba_r));
	f->drain[f->ndrain++] = f->ba_r;
	TRY(sendn(f, f->ba_w, "ba", q));
	return 0;
}

/* --- control ioctls --- */

static long c_version(struct fi *f)
{
	struct snapchan_version v;

	memset(&v, 0, sizeof(v));
	if (ioctl(f->ctl, SNAPCHAN_IOC_VERSION, &v))
		return -errno;
	return v.abi_version == SNAPCHAN_ABI_VERSION ? 0 : -EPROTO;
}

static int su_create_standalone(struct fi *f)
{
	will_create(f, f->newchan, "new");
	return 0;
}

static int su_create_newgroup(struct fi *f)
{
	will_create(f, f->newchan, "new");
	f->ext_fd = 1;		/* grouped */
	return 0;
}

static int su_create_ingroup(struct fi *f)
{
	TRY(su_group(f));
	will_create(f, f->newchan, "new");
	f->ext_fd = 1;
	return 0;
}

static long c_create(struct fi *f)
{
	struct snapchan_chan_create c;

	memset(&c, 0, sizeof(c));
	memcpy(c.name, f->newchan, SNAPCHAN_NAME_LEN);
	if (f->ext_fd == 1)
		sc_name(c.group, f->group);
	c.capacity_msgs = 32;
	c.capacity_bytes = 8192;
	c.max_msg = 512;
	c.first_seq = 1000;
	c.mode = 0640;
	return ioctl(f->ctl, SNAPCHAN_IOC_CHAN_CREATE, &c) ? -errno : 0;
}

static int k_create(struct fi *f, long ret __attribute__((unused)))
{
	struct snapchan_chan_info in;
	char path[128];
	struct stat st;
	int bad = 0;

	snprintf(path, sizeof(path), "/dev/snapchan/%s", f->newchan);
	if (stat(path, &st) || !S_ISCHR(st.st_mode) ||
	    (st.st_mode & 0777) != 0640 || st.st_uid != geteuid()) {
		problem(f, "%s missing or wrong (mode 0640, owner %u expected)",
			path, geteuid());
		bad = 1;
	}
	snprintf(path, sizeof(path), "/dev/%s", f->newchan);
	if (!access(path, F_OK)) {
		problem(f, "a device node %s exists (outside /dev/snapchan)",
			path);
		bad = 1;
	}
	snprintf(path, sizeof(path), "/sys/class/snapchan/%s/next_seq",
		 f->newchan);
	if (access(path, R_OK)) {
		problem(f, "%s missing", path);
		bad = 1;
	}
	if (sc_info(f->ctl, f->newchan, &in) || in.capacity_msgs != 32 ||
	    in.max_msg != 512 || in.next_seq != 1000) {
		problem(f, "CHAN_INFO of the new channel wrong");
		bad = 1;
	}
	return bad ? -1 : 0;
}

static int su_destroy_standalone(struct fi *f)
{
	return su_std(f);
}

static int su_destroy_group(struct fi *f)
{
	TRY(su_line_q(f, 3));
	chan_name(f, f->target, "ab");
	return 0;
}

static long c_destroy(struct fi *f)
{
	struct snapchan_chan_destroy d;

	memset(&d, 0, sizeof(d));
	memcpy(d.name, f->target, SNAPCHAN_NAME_LEN);
	return ioctl(f->ctl, SNAPCHAN_IOC_CHAN_DESTROY, &d) ? -errno : 0;
}

static int k_destroy(struct fi *f, long ret __attribute__((unused)))
{
	struct snapchan_chan_info in;
	char path[128];
	int bad = 0;

	snprintf(path, sizeof(path), "/dev/snapchan/%s", f->target);
	if (!access(path, F_OK)) {
		problem(f, "%s still exists after CHAN_DESTROY returned 0", path);
		bad = 1;
	}
	snprintf(path, sizeof(path), "/sys/class/snapchan/%s", f->target);
	if (!access(path, F_OK)) {
		problem(f, "%s still exists", path);
		bad = 1;
	}
	if (sc_info(f->ctl, f->target, &in) != -ENOENT) {
		problem(f, "CHAN_INFO still finds the channel");
		bad = 1;
	}
	return bad ? -1 : 0;
}

static long c_info(struct fi *f)
{
	struct snapchan_chan_info in;

	memset(&in, 0, sizeof(in));
	memcpy(in.name, f->target, SNAPCHAN_NAME_LEN);
	if (ioctl(f->ctl, SNAPCHAN_IOC_CHAN_INFO, &in))
		return -errno;
	return in.depth_msgs == 3 && in.markers_queued == 1 ? 0 : -EPROTO;
}

static int su_list(struct fi *f)
{
	TRY(su_std(f));
	TRY(mkchan(f, "l1", false, 0, 0));
	TRY(mkchan(f, "l2", true, 0, 0));
	return 0;
}

static long c_list(struct fi *f)
{
	static char names[8][SNAPCHAN_NAME_LEN];
	struct snapchan_chan_list l;

	memset(&l, 0, sizeof(l));
	memset(names, 0, sizeof(names));
	l.names = (uintptr_t)names;
	l.max_entries = 8;
	if (ioctl(f->ctl, SNAPCHAN_IOC_CHAN_LIST, &l))
		return -errno;
	return l.count >= 3 ? 0 : -EPROTO;
}

static int su_join(struct fi *f)
{
	return su_group(f);
}

static long c_join(struct fi *f)
{
	struct snapchan_node_join j;
	int fd;

	memset(&j, 0, sizeof(j));
	sc_name(j.group, f->group);
	sc_name(j.name, "C");
	fd = ioctl(f->ctl, SNAPCHAN_IOC_NODE_JOIN, &j);
	if (fd < 0)
		return -errno;
	f->got_id = j.node_id;
	return fd;
}

static int k_join(struct fi *f, long ret)
{
	struct snapchan_node_event ev;

	memset(&ev, 0, sizeof(ev));
	if (ioctl(ret, SNAPCHAN_IOC_NODE_EVENT, &ev) || ev.node_id != f->got_id) {
		problem(f, "the node fd does not work (NODE_EVENT)");
		return -1;
	}
	return 0;
}

static int su_begin(struct fi *f)
{
	return su_ring_q(f, 2);
}

static long c_begin(struct fi *f)
{
	struct snapchan_snap_begin b;
	int fd;

	memset(&b, 0, sizeof(b));
	sc_name(b.group, f->group);
	b.timeout_ns = 600ULL * 1000000000ULL;
	fd = ioctl(f->ctl, SNAPCHAN_IOC_SNAP_BEGIN, &b);
	if (fd < 0)
		return -errno;
	f->got_id = b.snap_id;
	return fd;
}

static int k_begin(struct fi *f, long ret)
{
	struct snapchan_snap_info si;

	if (snap_info(ret, &si) || si.snap_id != f->got_id ||
	    si.state != SNAPCHAN_SNAP_RUNNING || si.nodes != 2 || si.chans != 2) {
		problem(f, "the new snapshot is not running with 2 nodes and 2 channels");
		return -1;
	}
	return 0;
}

/* A complete snapshot of the ring, to open. */
static int su_open(struct fi *f)
{
	TRY(su_ring_q(f, 2));
	TRY(snap_begin(f));
	TRY(record(f->nA, f->snap_id, "state-A", 0, NULL));
	TRY(record(f->nB, f->snap_id, "state-B", 0, NULL));
	return 0;
}

static long c_open(struct fi *f)
{
	struct snapchan_snap_open o;
	int fd;

	memset(&o, 0, sizeof(o));
	sc_name(o.group, f->group);
	o.snap_id = f->snap_id;
	fd = ioctl(f->ctl, SNAPCHAN_IOC_SNAP_OPEN, &o);
	return fd < 0 ? -errno : fd;
}

static int k_open(struct fi *f, long ret)
{
	struct snapchan_snap_info si;
	ssize_t len;

	if (snap_info(ret, &si) || si.state != SNAPCHAN_SNAP_COMPLETE) {
		problem(f, "the opened snapshot is not complete");
		return -1;
	}
	len = slurp(ret, rbuf, sizeof(rbuf), 0);
	if (len < 0 || (uint64_t)len != si.image_len || image_ok(rbuf, len)) {
		problem(f, "the opened snapshot's image is bad (%zd bytes)", len);
		return -1;
	}
	return 0;
}

/* --- channel file operations --- */

static long c_write(struct fi *f)
{
	ssize_t n = write(f->w, msgbuf, f->msglen);

	if (n < 0)
		return -errno;
	return n == (ssize_t)f->msglen ? 0 : -EPROTO;
}

static int su_write_large(struct fi *f)
{
	TRY(su_std(f));
	return prep(f, "s", 40000);
}

static int su_writev(struct fi *f, int segs)
{
	size_t off = 0;
	int i;

	TRY(su_std(f));
	TRY(prep(f, "s", 6 * segs + 3));
	for (i = 0; i < segs; i++) {
		size_t len = i == segs - 1 ? f->msglen - off : 6;

		f->iov[i].iov_base = msgbuf + off;
		f->iov[i].iov_len = len;
		off += len;
	}
	f->niov = segs;
	return 0;
}

static int su_writev3(struct fi *f)
{
	return su_writev(f, 3);
}

static int su_writev12(struct fi *f)
{
	return su_writev(f, 12);
}

static long c_writev(struct fi *f)
{
	ssize_t n = writev(f->w, f->iov, f->niov);

	if (n < 0)
		return -errno;
	return n == (ssize_t)f->msglen ? 0 : -EPROTO;
}

static long c_read(struct fi *f)
{
	ssize_t n = read(f->r, rbuf, 4096);

	if (n < 0)
		return -errno;
	return n == 16 ? 0 : -EPROTO;
}

static long c_recv(struct fi *f)
{
	struct snapchan_recv rv;

	memset(&rv, 0, sizeof(rv));
	rv.buf = (uintptr_t)rbuf;
	rv.buf_len = 4096;
	rv.flags = f->rec_flags;
	if (ioctl(f->r, SNAPCHAN_IOC_RECV, &rv))
		return -errno;
	return rv.type == SNAPCHAN_REC_DATA && rv.len == 16 ? 0 : -EPROTO;
}

static int su_peek(struct fi *f)
{
	TRY(su_std(f));
	f->rec_flags = SNAPCHAN_RECV_PEEK;
	return 0;
}

/* A user marker at the head, then a message. */
static int su_marker_head(struct fi *f)
{
	TRY(mkchan(f, "s", false, 64, 4096));
	TRY(f->w = openend(f, "s", O_WRONLY, 'p'));
	TRY(f->r = openend(f, "s", O_RDONLY, 'c'));
	f->drain[f->ndrain++] = f->r;
	TRY(mark(f->w, 55));
	return sendm(f, f->w, "s", 16);
}

static long c_recv_marker(struct fi *f)
{
	struct snapchan_recv rv;

	memset(&rv, 0, sizeof(rv));
	if (ioctl(f->r, SNAPCHAN_IOC_RECV, &rv))
		return -errno;
	return rv.type == SNAPCHAN_REC_MARKER && rv.snap_id == 55 ? 0 : -EPROTO;
}

static long c_mark(struct fi *f)
{
	return mark(f->w, 99);
}

static long c_capture(struct fi *f)
{
	struct snapchan_capture c;
	int fd;

	memset(&c, 0, sizeof(c));
	fd = ioctl(f->r, SNAPCHAN_IOC_CAPTURE, &c);
	if (fd < 0)
		return -errno;
	f->got_id = c.stream_len;
	return c.fd == fd && c.count == 4 && c.markers == 1 ? fd : -EPROTO;
}

static int k_capture(struct fi *f, long ret)
{
	ssize_t len = slurp(ret, rbuf, sizeof(rbuf), 0);

	if (len < 0 || (uint64_t)len != f->got_id || image_ok(rbuf, len)) {
		problem(f, "the capture's image is bad (%zd bytes of %llu)", len,
			(unsigned long long)f->got_id);
		return -1;
	}
	return 0;
}

/* 40 receiving ends of an empty channel: poll must allocate. */
static int su_poll(struct fi *f)
{
	int i, fd;

	TRY(mkchan(f, "e", false, 8, 64));
	for (i = 0; i < 40; i++) {
		TRY(fd = openend(f, "e", O_RDONLY, i ? 0 : 'c'));
		f->pfd[i].fd = fd;
		f->pfd[i].events = POLLIN;
	}
	f->npfd = 40;
	return 0;
}

static long c_poll(struct fi *f)
{
	int ret = poll(f->pfd, f->npfd, 1);

	return ret < 0 ? -errno : ret == 0 ? 0 : -EPROTO;
}

static int su_epoll(struct fi *f)
{
	TRY(su_std(f));
	TRY(f->ep = keep(f, epoll_create1(EPOLL_CLOEXEC)));
	return 0;
}

static long c_epoll(struct fi *f)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = f->r };

	return epoll_ctl(f->ep, EPOLL_CTL_ADD, f->r, &ev) ? -errno : 0;
}

static int k_epoll(struct fi *f, long ret __attribute__((unused)))
{
	struct epoll_event ev;

	if (epoll_wait(f->ep, &ev, 1, 0) != 1 || ev.data.fd != f->r ||
	    !(ev.events & EPOLLIN)) {
		problem(f, "epoll does not report the channel readable");
		return -1;
	}
	return 0;
}

static int u_epoll(struct fi *f)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (!epoll_ctl(f->ep, EPOLL_CTL_MOD, f->r, &ev) || errno != ENOENT) {
		problem(f, "the failed EPOLL_CTL_ADD left the fd in the set");
		return -1;
	}
	return 0;
}

static long c_open_chan(struct fi *f)
{
	return sc_open_chan(f->target, O_RDONLY | O_NONBLOCK);
}

/* --- batch calls --- */

/*
 * SEND_BATCH and RECV_BATCH.  A batch may stop part-way and return the
 * count; under fail-nth that is a success that differs from the clean
 * run, and then (a_batch) the channel must hold exactly what the count
 * says: the same call resumed at entry <count> (without injection) must
 * move exactly the rest and end in the clean run's state, every entry
 * then holding what the clean run's did.  A call that moved nothing must
 * have changed nothing (the entries included, u_batch), and the clean run
 * checks its own count and entries (k_batch).  The drain at the end of
 * every iteration checks that every message left is there once, in
 * sequence, intact.
 */

#define B_MAX		B_MAX_FI
#define B_SLOT		8192	/* a payload buffer per entry */
#define B_POISON	0x5c

static struct snapchan_send_msg bsend[B_MAX];
static struct snapchan_recv brecv[B_MAX];
static struct snapchan_recv bimage[B_MAX];	/* the entries as placed */

/*
 * A page followed by an unmapped page (checked before each use), and
 * pages whose content is in a memfd but which are not present: mapped
 * afresh before each call, PROT_NONE first (so mlockall's MCL_FUTURE does
 * not populate them) then read-write, so that the kernel's copies with
 * page faults disabled fail and it takes its way without the lock.  Each
 * page is its own mapping (file offsets 0, 2, 4, ...: they cannot merge),
 * so that fault-around does not map its neighbours.  Made in the
 * fixture's setup, before the baseline (the memfd is an open fd).
 */
static char *b_edge;		/* the page before the hole */
#define LAZY_PAGES	4
static char *b_lazy;
static int b_mfd = -1;

static int batch_memory(void)
{
	char *p;

	if (!b_edge) {
		p = mmap(NULL, 3 * PAGE_SZ, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		if (mprotect(p, PAGE_SZ, PROT_READ | PROT_WRITE) ||
		    munmap(p + PAGE_SZ, PAGE_SZ))
			return -errno;
		b_edge = p;
	}
	if (b_mfd < 0) {
		b_mfd = memfd_create("faultinj-batch", MFD_CLOEXEC);
		if (b_mfd < 0)
			return -errno;
		if (ftruncate(b_mfd, 2 * LAZY_PAGES * PAGE_SZ))
			return -errno;
		p = mmap(NULL, LAZY_PAGES * PAGE_SZ, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		b_lazy = p;
	}
	/* The hole must still be a hole. */
	if (!mincore(b_edge + PAGE_SZ, PAGE_SZ, (unsigned char *)&p) ||
	    errno != ENOMEM)
		return -EADDRINUSE;
	return 0;
}

/* Lazy page @i's content, written through the file. */
static int lazy_write(int i, size_t off, const void *src, size_t len)
{
	ssize_t n = pwrite(b_mfd, src, len, 2 * i * PAGE_SZ + off);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

/* Map every lazy page afresh: none present. */
static int lazy_remap(void)
{
	int i;

	for (i = 0; i < LAZY_PAGES; i++) {
		char *p = b_lazy + i * PAGE_SZ;

		if (mmap(p, PAGE_SZ, PROT_NONE, MAP_SHARED | MAP_FIXED, b_mfd,
			 2 * i * PAGE_SZ) == MAP_FAILED ||
		    mprotect(p, PAGE_SZ, PROT_READ | PROT_WRITE))
			return -errno;
	}
	return 0;
}

static long batch_call(struct fi *f, uint32_t from)
{
	struct snapchan_batch b;
	long n;

	memset(&b, 0, sizeof(b));
	b.msgs = (uintptr_t)(f->bents + from * f->besz);
	b.nr = f->bnr - from;
	b.flags = SNAPCHAN_BATCH_NONBLOCK;
	n = ioctl(f->bfd, f->bcmd, &b);
	return n < 0 ? -errno : n;
}

static long c_batch(struct fi *f)
{
	return batch_call(f, 0);
}

/* SEND_BATCH: entry lengths; entry @bad (if < 6) has an unreadable payload. */
static const uint32_t send_lens[6] = { 24, 0, 300, 7, 5000, 64 };

static int su_send_common(struct fi *f, const char *tag, int fd, int bad)
{
	struct snapchan_chan_info in;
	char name[SNAPCHAN_NAME_LEN];
	int i;

	chan_name(f, name, tag);
	TRY(sc_info(f->ctl, name, &in));
	f->bseq0 = in.next_seq;
	f->bdepth0 = in.depth_msgs;
	f->bbytes0 = in.depth_bytes;
	memset(bsend, 0, sizeof(bsend));
	for (i = 0; i < 6; i++) {
		unsigned char *slot = msgbuf + i * B_SLOT;

		bsend[i].len = send_lens[i];
		bsend[i].buf = send_lens[i] ? (uintptr_t)slot : 0;
		fill(slot, f->bseq0 + i, send_lens[i]);
		f->blen[i] = send_lens[i];
	}
	if (bad < 6) {
		TRY(batch_memory());
		bsend[bad].buf = (uintptr_t)(b_edge + PAGE_SZ + 100);
		bsend[bad].len = 40;
	}
	f->bfd = fd;
	f->bcmd = SNAPCHAN_IOC_SEND_BATCH;
	f->bents = (char *)bsend;
	f->besz = sizeof(bsend[0]);
	f->bnr = 6;
	chan_name(f, f->target, tag);
	return 0;
}

/* Standalone "b" (max_msg 8192), @cap messages, @queued of them queued. */
static int su_chan_b(struct fi *f, unsigned int cap, int queued)
{
	TRY(mkchan(f, "b", false, cap, 8192));
	TRY(f->w = openend(f, "b", O_WRONLY, 'p'));
	TRY(f->r = openend(f, "b", O_RDONLY, 'c'));
	f->drain[f->ndrain++] = f->r;
	return sendn(f, f->w, "b", queued);
}

static int su_send_batch(struct fi *f)
{
	TRY(su_chan_b(f, 64, 3));
	f->bwant = 6;
	return su_send_common(f, "b", f->w, 6);
}

static int su_send_batch_bad(struct fi *f)
{
	TRY(su_chan_b(f, 64, 3));
	f->bwant = 3;
	f->bnext = -EFAULT;
	return su_send_common(f, "b", f->w, 3);
}

/* Room for 3 of the 6. */
static int su_send_batch_full(struct fi *f)
{
	TRY(su_chan_b(f, 8, 5));
	f->bwant = 3;
	f->bnext = -EAGAIN;
	return su_send_common(f, "b", f->w, 6);
}

/* Through an end attached to its node: the node's lock is taken too. */
static int su_send_batch_node(struct fi *f)
{
	TRY(su_line_q(f, 2));
	f->bwant = 4;	/* ab's max_msg is 4096: the 5000 bytes stop it */
	f->bnext = -EMSGSIZE;
	return su_send_common(f, "ab", f->ab_w, 6);
}

/* The channel holds what @count messages of the batch make, no more. */
static int send_state_ok(struct fi *f, long count)
{
	struct snapchan_chan_info in;
	uint64_t bytes = f->bbytes0;
	long i;

	for (i = 0; i < count; i++)
		bytes += f->blen[i];
	if (sc_info(f->ctl, f->target, &in) ||
	    in.next_seq != f->bseq0 + count ||
	    in.depth_msgs != f->bdepth0 + count || in.depth_bytes != bytes) {
		problem(f, "SEND_BATCH returned %ld: the channel has next_seq %llu (+%lld), %llu messages (+%lld), %llu bytes, expected %llu bytes",
			count, (unsigned long long)in.next_seq,
			(long long)(in.next_seq - f->bseq0),
			(unsigned long long)in.depth_msgs,
			(long long)(in.depth_msgs - f->bdepth0),
			(unsigned long long)in.depth_bytes,
			(unsigned long long)bytes);
		return -1;
	}
	return 0;
}

/*
 * RECV_BATCH scenarios: "b" holds 8 DATA records of these lengths, a user
 * marker (77) and 2 more; 12 entries take the 8 and the marker (9).
 */
static const uint32_t recv_lens[8] = { 16, 0, 300, 7, 5000, 64, 33, 1 };

static int su_recv_common(struct fi *f, int fd, const char *tag, int nrecs)
{
	struct snapchan_chan_info in;
	char name[SNAPCHAN_NAME_LEN];
	int i;

	chan_name(f, name, tag);
	TRY(sc_info(f->ctl, name, &in));
	f->brecs = 0;
	for (i = 0; i < nrecs; i++) {
		f->brec[i].type = SNAPCHAN_REC_DATA;
		f->brec[i].seq = in.next_seq - in.depth_msgs + i;
		f->brec[i].snap_id = 0;
		f->brecs++;
	}
	memset(brecv, 0, sizeof(brecv));
	memset(rbuf, B_POISON, B_MAX * B_SLOT);
	for (i = 0; i < B_MAX; i++) {
		f->bbuf[i] = (char *)rbuf + i * B_SLOT;
		brecv[i].buf = (uintptr_t)f->bbuf[i];
		brecv[i].buf_len = B_SLOT;
		/* Outputs: poison, which the kernel overwrites when it fills. */
		brecv[i].type = POISON32_FI;
		brecv[i].len = POISON32_FI;
		brecv[i].seq = brecv[i].snap_id = brecv[i].origin = POISON64_FI;
	}
	f->bfd = fd;
	f->bcmd = SNAPCHAN_IOC_RECV_BATCH;
	f->bents = (char *)brecv;
	f->besz = sizeof(brecv[0]);
	f->bnr = 12;
	memcpy(bimage, brecv, sizeof(bimage));
	chan_name(f, f->target, tag);
	return 0;
}

static int su_recv_b(struct fi *f)
{
	int i;

	TRY(su_chan_b(f, 64, 0));
	for (i = 0; i < 8; i++) {
		TRY(sendm(f, f->w, "b", recv_lens[i]));
		f->brec[i].len = recv_lens[i];
	}
	TRY(mark(f->w, 77));
	TRY(sendm(f, f->w, "b", 9));
	TRY(sendm(f, f->w, "b", 10));
	TRY(su_recv_common(f, f->r, "b", 8));
	f->brec[8].type = SNAPCHAN_REC_MARKER;
	f->brec[8].len = 0;
	f->brec[8].seq = 0;
	f->brec[8].snap_id = 77;
	f->brecs = 9;
	f->bwant = 9;
	return 0;
}

static int su_recv_batch(struct fi *f)
{
	return su_recv_b(f);
}

/* The entries: 3 of them, then the hole. */
static int su_recv_batch_hole(struct fi *f)
{
	TRY(su_recv_b(f));
	TRY(batch_memory());
	f->bents = b_edge + PAGE_SZ - 3 * sizeof(brecv[0]);
	memcpy(f->bents, brecv, 3 * sizeof(brecv[0]));
	f->bwant = 3;
	f->bnext = -EFAULT;
	return 0;
}

/*
 * Entries 0-3 at the end of lazy page 0, the rest on lazy page 1; the
 * buffers of entries 5 and 7 on lazy pages 2 and 3.  Entry 4 is not
 * present when entry 3 has been taken, entry 5's buffer is not present
 * when its entry has been read (and so with 7): the kernel takes its
 * unlocked way at each.
 */
static int su_recv_batch_lazy(struct fi *f)
{
	static unsigned char poison[PAGE_SZ];
	const size_t esz = sizeof(brecv[0]);

	TRY(su_recv_b(f));
	TRY(batch_memory());
	f->bbuf[5] = b_lazy + 2 * PAGE_SZ;
	f->bbuf[7] = b_lazy + 3 * PAGE_SZ;
	brecv[5].buf = (uintptr_t)f->bbuf[5];
	brecv[5].buf_len = PAGE_SZ;
	brecv[7].buf = (uintptr_t)f->bbuf[7];
	brecv[7].buf_len = PAGE_SZ;
	memcpy(bimage, brecv, sizeof(bimage));
	memset(poison, B_POISON, sizeof(poison));
	TRY(lazy_write(0, PAGE_SZ - 4 * esz, brecv, 4 * esz));
	TRY(lazy_write(1, 0, brecv + 4, (B_MAX - 4) * esz));
	TRY(lazy_write(2, 0, poison, PAGE_SZ));
	TRY(lazy_write(3, 0, poison, PAGE_SZ));
	TRY(lazy_remap());
	f->bents = b_lazy + PAGE_SZ - 4 * esz;
	return 0;
}

/* Through the receiving end attached to node B. */
static int su_recv_batch_node(struct fi *f)
{
	int i;

	TRY(su_line_q(f, 5));
	TRY(su_recv_common(f, f->ab_r, "ab", 5));
	for (i = 0; i < 5; i++)
		f->brec[i].len = 8 + (i * 13) % 40;
	f->bwant = 5;
	return 0;
}

/* What entry @i holds once it is filled with the @i-th record. */
static struct snapchan_recv recv_filled(struct fi *f, uint32_t i)
{
	struct snapchan_recv w = bimage[i];

	w.type = f->brec[i].type;
	w.len = f->brec[i].len;
	w.seq = f->brec[i].seq;
	w.snap_id = f->brec[i].snap_id;
	w.origin = 0;
	return w;
}

/*
 * After a RECV_BATCH that returned @count: entries [0, count) filled with
 * the first records, the others as placed; the buffers of the filled ones
 * hold the payload and nothing after it, those after entry @count nothing
 * (the buffer of entry @count may hold its record's payload: the copy
 * that failed was the entry's).
 */
static int recv_state_ok(struct fi *f, long count)
{
	struct snapchan_recv got, want;
	uint32_t i, j, len;
	int bad = 0;

	for (i = 0; i < f->bnr && !bad; i++) {
		if (f->bents == b_edge + PAGE_SZ - 3 * sizeof(got) && i >= 3)
			break;	/* in the hole */
		memcpy(&got, f->bents + i * sizeof(got), sizeof(got));
		want = i < count ? recv_filled(f, i) : bimage[i];
		if (memcmp(&got, &want, sizeof(got))) {
			problem(f, "RECV_BATCH returned %ld: entry %u holds buf %s len %u/%u type %#x len %u seq %llu snap %llu, expected type %#x len %u seq %llu snap %llu",
				count, i,
				got.buf == want.buf ? "same" : "CHANGED",
				got.buf_len, want.buf_len, got.type, got.len,
				(unsigned long long)got.seq,
				(unsigned long long)got.snap_id, want.type,
				want.len, (unsigned long long)want.seq,
				(unsigned long long)want.snap_id);
			bad = 1;
		}
	}
	for (i = 0; i < f->bnr && !bad; i++) {
		const unsigned char *b = (const unsigned char *)f->bbuf[i];

		if (i == count)
			continue;
		len = i < count && i < f->brecs ? f->brec[i].len : 0;
		for (j = 0; j < 256 + len; j++)
			if (b[j] != (j < len ? pat(f->brec[i].seq, j) : B_POISON))
				break;
		if (j < 256 + len) {
			problem(f, "RECV_BATCH returned %ld: the buffer of entry %u differs at byte %u (record length %u)",
				count, i, j, len);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static int batch_state_ok(struct fi *f, long count)
{
	return f->bcmd == SNAPCHAN_IOC_SEND_BATCH ? send_state_ok(f, count) :
						    recv_state_ok(f, count);
}

/* The clean run, or one whose fault changed nothing. */
static int k_batch(struct fi *f, long ret)
{
	long next;

	if (ret != f->bwant) {
		problem(f, "returned %ld, expected %ld", ret, f->bwant);
		return -1;
	}
	if (batch_state_ok(f, ret))
		return -1;
	if (!f->bnext)
		return 0;
	/* What stopped it is the next call's first: its error, no change. */
	next = batch_call(f, ret);
	fp_take(f, fp_tmp, false);
	if (next != f->bnext || strcmp(fp_tmp, fp_ref_after)) {
		if (problem(f, "the call after the %ld sent returned %s and the state is %s",
			    ret, next < 0 ? errname(-next) : "a count",
			    strcmp(fp_tmp, fp_ref_after) ? "changed:" : "the same"))
			fp_diff("before", fp_ref_after, "after", fp_tmp);
		return -1;
	}
	return 0;
}

/* A batch that stopped part-way: exactly that much, then the rest. */
static int a_batch(struct fi *f, long ret)
{
	long more;

	if (ret <= 0 || ret >= f->bwant)
		return -1;	/* the full count, yet not the clean state */
	if (batch_state_ok(f, ret))
		return 0;	/* reported */
	more = batch_call(f, ret);
	if (more != f->bwant - ret) {
		problem(f, "stopped after %ld of %ld; resumed there, the call returned %ld, expected %ld",
			ret, f->bwant, more, f->bwant - ret);
		return 0;
	}
	fp_take(f, fp_tmp, false);
	if (strcmp(fp_tmp, fp_ref_after)) {
		if (problem(f, "stopped after %ld of %ld; resumed, it does not end as the clean run:",
			    ret, f->bwant))
			fp_diff("clean run", fp_ref_after, "resumed", fp_tmp);
		return 0;
	}
	if (!batch_state_ok(f, f->bwant))
		f->res->partials++;
	return 0;
}

/* A batch that failed: not an entry written. */
static int u_batch(struct fi *f)
{
	return f->bcmd == SNAPCHAN_IOC_RECV_BATCH ? recv_state_ok(f, 0) : 0;
}

/* --- node ioctls --- */

/* A group channel ab, nodes A and B, ends opened, not attached. */
static int su_attach(struct fi *f)
{
	TRY(mkchan(f, "ab", true, 64, 4096));
	TRY(f->nA = join(f, "A"));
	TRY(f->nB = join(f, "B"));
	TRY(f->ab_w = openend(f, "ab", O_WRONLY, 'p'));
	TRY(f->ab_r = openend(f, "ab", O_RDONLY, 'c'));
	TRY(sendn(f, f->ab_w, "ab", 2));
	return 0;
}

static int su_attach_send(struct fi *f)
{
	TRY(su_attach(f));
	f->rec_node = f->nA;
	f->ext_fd = f->ab_w;
	return 0;
}

static int su_attach_recv(struct fi *f)
{
	TRY(su_attach(f));
	TRY(attach(f->nA, f->ab_w));
	f->rec_node = f->nB;
	f->ext_fd = f->ab_r;
	return 0;
}

static long c_attach(struct fi *f)
{
	return attach(f->rec_node, f->ext_fd);
}

static int su_detach(struct fi *f)
{
	TRY(su_line_q(f, 2));
	f->rec_node = f->nA;
	f->ext_fd = f->ab_w;
	return 0;
}

static long c_detach(struct fi *f)
{
	struct snapchan_node_attach a;

	memset(&a, 0, sizeof(a));
	a.chan_fd = f->ext_fd;
	return ioctl(f->rec_node, SNAPCHAN_IOC_NODE_DETACH, &a) ? -errno : 0;
}

static int su_event(struct fi *f)
{
	TRY(su_ring_q(f, 1));
	TRY(snap_begin(f));
	return 0;
}

static long c_event(struct fi *f)
{
	struct snapchan_node_event ev;

	memset(&ev, 0, sizeof(ev));
	if (ioctl(f->nA, SNAPCHAN_IOC_NODE_EVENT, &ev))
		return -errno;
	return ev.type == SNAPCHAN_EVENT_RECORD && ev.snap_id == f->snap_id ?
		0 : -EPROTO;
}

/*
 * NODE_RECORD.  The line A -> B with 20 messages queued (more than the
 * first recording array of 16 holds) and a snapshot begun by SNAP_BEGIN:
 *   sender first     A records: the marker is placed on ab
 *   receiver first   B records: the recording of ab opens (its array is
 *                    allocated for the 20 queued messages)
 *   receiver second  A recorded; B records: the marker is removed, the
 *                    recording closes, the snapshot completes
 *   sender second    B recorded; A records: the open recording closes,
 *                    the snapshot completes
 *   begin            the ring A <-> B, 20 messages each way; A records
 *                    id 0: a new snapshot, the marker on ab, the
 *                    recording of ba opens
 * each with and without SNAPCHAN_RECORD_F_SNAPFD.
 */
enum { R_SENDER_FIRST, R_RECEIVER_FIRST, R_RECEIVER_SECOND, R_SENDER_SECOND,
       R_BEGIN };

static int su_record(struct fi *f, int how, bool snapfd)
{
	if (how == R_BEGIN) {
		TRY(su_ring_q(f, 20));
		f->rec_node = f->nA;
		f->rec_id = 0;
		f->state = "state of A, 23 bytes";
		f->x_state = SNAPCHAN_SNAP_RUNNING;
		f->x_recorded = 1;
		f->x_closed = 0;
		f->x_msgs = 20;
		f->x_markers = 1;
	} else {
		TRY(su_line_q(f, 20));
		TRY(snap_begin(f));
		f->rec_id = f->snap_id;
		f->x_msgs = 20;
		f->x_markers = 0;
		switch (how) {
		case R_SENDER_FIRST:
			f->rec_node = f->nA;
			f->state = "state of A, 23 bytes";
			f->x_state = SNAPCHAN_SNAP_RUNNING;
			f->x_recorded = 1;
			f->x_closed = 0;
			f->x_msgs = 0;
			f->x_markers = 1;
			break;
		case R_RECEIVER_FIRST:
			f->rec_node = f->nB;
			f->state = "B";
			f->x_state = SNAPCHAN_SNAP_RUNNING;
			f->x_recorded = 1;
			f->x_closed = 0;
			break;
		case R_RECEIVER_SECOND:
			TRY(record(f->nA, f->snap_id, "A", 0, NULL));
			f->rec_node = f->nB;
			f->state = "state of B";
			f->x_state = SNAPCHAN_SNAP_COMPLETE;
			f->x_recorded = 2;
			f->x_closed = 1;
			break;
		case R_SENDER_SECOND:
			TRY(record(f->nB, f->snap_id, "B", 0, NULL));
			f->rec_node = f->nA;
			f->state = "state of A";
			f->x_state = SNAPCHAN_SNAP_COMPLETE;
			f->x_recorded = 2;
			f->x_closed = 1;
			break;
		}
	}
	f->rec_flags = snapfd ? SNAPCHAN_RECORD_F_SNAPFD : 0;
	return 0;
}

static long c_record(struct fi *f)
{
	struct snapchan_node_record r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.snap_id = f->rec_id;
	r.state = (uintptr_t)f->state;
	r.state_len = strlen(f->state);
	r.flags = f->rec_flags;
	if (!f->rec_id)
		r.timeout_ns = 600ULL * 1000000000ULL;
	ret = ioctl(f->rec_node, SNAPCHAN_IOC_NODE_RECORD, &r);
	if (ret < 0)
		return -errno;
	f->got_id = r.snap_id;
	if (f->rec_flags & SNAPCHAN_RECORD_F_SNAPFD)
		return r.snap_fd == ret ? ret : -EPROTO;
	return ret == 0 && r.snap_fd == -1 ? 0 : -EPROTO;
}

static int k_record(struct fi *f, long ret)
{
	struct snapchan_snap_info si;
	struct snapchan_chan_info in;
	char name[SNAPCHAN_NAME_LEN];
	int fd = f->snap;
	ssize_t len;

	if (f->rec_flags & SNAPCHAN_RECORD_F_SNAPFD) {
		fd = ret;
	} else if (fd < 0) {
		fd = snap_open(f, f->got_id);
		if (fd < 0) {
			problem(f, "SNAP_OPEN of the recorded snapshot: %s",
				strerror(-fd));
			return -1;
		}
	}
	if (snap_info(fd, &si)) {
		problem(f, "SNAP_INFO failed (%s)", strerror(errno));
		return -1;
	}
	if (si.snap_id != f->got_id || si.state != f->x_state ||
	    si.abort_reason || si.nodes_recorded != f->x_recorded ||
	    si.chans_closed != f->x_closed || si.recorded_msgs != f->x_msgs ||
	    si.state_bytes < strlen(f->state)) {
		problem(f, "after NODE_RECORD returned %ld: snapshot %llu state %u reason %u recorded %u closed %u msgs %llu; expected state %u reason 0 recorded %u closed %u msgs %llu",
			ret, (unsigned long long)si.snap_id, si.state,
			si.abort_reason, si.nodes_recorded, si.chans_closed,
			(unsigned long long)si.recorded_msgs, f->x_state,
			f->x_recorded, f->x_closed,
			(unsigned long long)f->x_msgs);
		return -1;
	}
	chan_name(f, name, "ab");
	if (sc_info(f->ctl, name, &in) || in.markers_queued != f->x_markers) {
		problem(f, "markers queued on ab: %u, expected %u",
			in.markers_queued, f->x_markers);
		return -1;
	}
	if (si.state == SNAPCHAN_SNAP_COMPLETE) {
		len = slurp(fd, rbuf, sizeof(rbuf), 0);
		if (len < 0 || (uint64_t)len != si.image_len ||
		    image_ok(rbuf, len)) {
			problem(f, "the complete snapshot's image is bad");
			return -1;
		}
	}
	return 0;
}

#define SU_RECORD(id, how, snapfd)			\
static int su_##id(struct fi *f)			\
{							\
	return su_record(f, how, snapfd);		\
}
SU_RECORD(rec_sender_first, R_SENDER_FIRST, false)
SU_RECORD(rec_sender_first_fd, R_SENDER_FIRST, true)
SU_RECORD(rec_receiver_first, R_RECEIVER_FIRST, false)
SU_RECORD(rec_receiver_first_fd, R_RECEIVER_FIRST, true)
SU_RECORD(rec_receiver_second, R_RECEIVER_SECOND, false)
SU_RECORD(rec_receiver_second_fd, R_RECEIVER_SECOND, true)
SU_RECORD(rec_sender_second, R_SENDER_SECOND, false)
SU_RECORD(rec_sender_second_fd, R_SENDER_SECOND, true)
SU_RECORD(rec_begin, R_BEGIN, false)
SU_RECORD(rec_begin_fd, R_BEGIN, true)

/*
 * The data path of a snapshot: B recorded first, so the recording of ab
 * is open and its array (16 entries) is full with the 16 queued
 * messages; A's next write must grow it, under the channel lock, where a
 * failure aborts the snapshot (NOMEM) through a work item, never the
 * write.
 */
static int su_write_rec(struct fi *f)
{
	TRY(su_line_q(f, 16));
	TRY(snap_begin(f));
	TRY(record(f->nB, f->snap_id, "B", 0, NULL));
	f->w = f->ab_w;
	return prep(f, "ab", 33);
}

static int k_write_rec(struct fi *f, long ret __attribute__((unused)))
{
	struct snapchan_snap_info si;

	if (snap_info(f->snap, &si) || si.state != SNAPCHAN_SNAP_RUNNING ||
	    si.recorded_msgs != 17) {
		problem(f, "the snapshot did not record the 17th message");
		return -1;
	}
	return 0;
}

/* The write succeeded but the state is not the clean run's: an abort? */
static int a_write_rec(struct fi *f, long ret __attribute__((unused)))
{
	struct snapchan_snap_info si;
	struct snapchan_chan_info in;
	char name[SNAPCHAN_NAME_LEN];
	int i, bad = 0;

	for (i = 0; i < 500; i++) {
		if (snap_info(f->snap, &si))
			break;
		if (si.state != SNAPCHAN_SNAP_RUNNING)
			break;
		usleep(10000);
	}
	if (si.state != SNAPCHAN_SNAP_ABORTED ||
	    si.abort_reason != SNAPCHAN_ABORT_NOMEM) {
		problem(f, "the write succeeded, the recording did not grow, but the snapshot is in state %u reason %u (expected aborted, NOMEM)",
			si.state, si.abort_reason);
		bad = 1;
	}
	if (!(poll1(f->snap, POLLIN, 0) & POLLERR)) {
		problem(f, "the aborted snapshot's fd does not poll EPOLLERR");
		bad = 1;
	}
	chan_name(f, name, "ab");
	if (sc_info(f->ctl, name, &in) || in.depth_msgs != 17 ||
	    in.total_sent != 17 || in.next_seq != 18 || in.markers_queued) {
		problem(f, "the message was not delivered as it should (depth %llu, next seq %llu, markers %u)",
			(unsigned long long)in.depth_msgs,
			(unsigned long long)in.next_seq, in.markers_queued);
		bad = 1;
	}
	/* Every such run must end in the same state. */
	fp_take(f, fp_tmp, false);
	if (!have_alt) {
		memcpy(fp_alt, fp_tmp, FP_SIZE);
		have_alt = true;
	} else if (strcmp(fp_alt, fp_tmp)) {
		if (problem(f, "the aborted state differs from the first abort's:"))
			fp_diff("first abort", fp_alt, "this abort", fp_tmp);
		bad = 1;
	}
	if (!bad)
		f->res->async_aborts++;
	return bad ? -1 : 0;
}

/* --- snapshot fds --- */

static long c_snap_info(struct fi *f)
{
	struct snapchan_snap_info si;

	memset(&si, 0, sizeof(si));
	if (ioctl(f->snap, SNAPCHAN_IOC_SNAP_INFO, &si))
		return -errno;
	return si.snap_id == f->snap_id && si.state == SNAPCHAN_SNAP_RUNNING ?
		0 : -EPROTO;
}

static int su_abort(struct fi *f)
{
	TRY(su_line_q(f, 3));
	TRY(snap_begin(f));
	TRY(record(f->nA, f->snap_id, "A", 0, NULL));
	return 0;
}

static long c_abort(struct fi *f)
{
	return ioctl(f->snap, SNAPCHAN_IOC_SNAP_ABORT) ? -errno : 0;
}

static int k_abort(struct fi *f, long ret __attribute__((unused)))
{
	struct snapchan_snap_info si;
	struct snapchan_chan_info in;
	char name[SNAPCHAN_NAME_LEN];

	chan_name(f, name, "ab");
	if (snap_info(f->snap, &si) || si.state != SNAPCHAN_SNAP_ABORTED ||
	    si.abort_reason != SNAPCHAN_ABORT_EXPLICIT ||
	    sc_info(f->ctl, name, &in) || in.markers_queued) {
		problem(f, "not aborted (EXPLICIT) with the marker purged");
		return -1;
	}
	return 0;
}

/*
 * A complete snapshot with node states and channel state (B recorded
 * first, A sent 2 more, A recorded); snap is read, obs (its own position)
 * gives the reference image.
 */
static int su_snap_read(struct fi *f)
{
	TRY(su_line_q(f, 3));
	TRY(snap_begin(f));
	TRY(record(f->nB, f->snap_id, "state of B", 0, NULL));
	TRY(sendn(f, f->ab_w, "ab", 2));
	TRY(record(f->nA, f->snap_id, "state of A: 21 bytes", 0, NULL));
	TRY(f->obs = snap_open(f, f->snap_id));
	f->ext_fd = f->snap;
	f->cap2 = f->obs;
	return 0;
}

/* Two captures of the standalone channel: cap is read, cap2 the reference. */
static int su_cap_read(struct fi *f)
{
	struct snapchan_capture c;

	TRY(su_std(f));
	memset(&c, 0, sizeof(c));
	TRY(f->cap = keep(f, ioctl(f->r, SNAPCHAN_IOC_CAPTURE, &c)));
	memset(&c, 0, sizeof(c));
	TRY(f->cap2 = keep(f, ioctl(f->r, SNAPCHAN_IOC_CAPTURE, &c)));
	f->ext_fd = f->cap;
	return 0;
}

static long c_stream_read(struct fi *f)
{
	ssize_t n = read(f->ext_fd, rbuf, sizeof(rbuf));

	return n < 0 ? -errno : n;
}

/*
 * The bytes read, then the rest, must be the reference stream exactly,
 * but for the times in the header of a capture (the reference is another
 * capture, taken a moment later) and so the CRC: each is checked alone.
 */
static int k_stream_read(struct fi *f, long ret)
{
	struct snapchan_img_header *h1 = (void *)rbuf, *h2 = (void *)rbuf2;
	struct snapchan_img_trailer *t1, *t2;
	ssize_t len, ref;

	len = slurp(f->ext_fd, rbuf, sizeof(rbuf), ret);
	ref = slurp(f->cap2, rbuf2, sizeof(rbuf2), 0);
	if (len < 0 || ref < 0 || len != ref || image_ok(rbuf, len) ||
	    image_ok(rbuf2, ref)) {
		problem(f, "after a first read of %ld bytes, the stream read is %zd bytes (check %d), a clean read %zd bytes",
			ret, len, len > 0 ? image_ok(rbuf, len) : 0, ref);
		return -1;
	}
	if (h1->kind == SNAPCHAN_IMG_KIND_CAPTURE) {
		t1 = (void *)(rbuf + len - sizeof(*t1));
		t2 = (void *)(rbuf2 + len - sizeof(*t2));
		h1->begin_ns = h2->begin_ns = 0;
		h1->end_ns = h2->end_ns = 0;
		t1->crc32c = t2->crc32c = 0;
	}
	if (memcmp(rbuf, rbuf2, len)) {
		problem(f, "after a first read of %ld bytes, the stream differs from a clean read",
			ret);
		return -1;
	}
	return 0;
}

/* --- EFAULT after the commit (doc/decisions.md, "Failure atomicity") --- */

/* The "fds:" line of a fingerprint. */
static size_t fds_line(const char *fp, const char **start)
{
	const char *p = strstr(fp, "fds:"), *e;

	if (!p)
		p = fp;
	e = strchr(p, '\n');
	*start = p;
	return e ? (size_t)(e - p) : strlen(p);
}

static int same_fds(struct fi *f)
{
	const char *a, *b;
	size_t la = fds_line(fp_ref_before, &a), lb = fds_line(fp_after, &b);

	if (la != lb || memcmp(a, b, la)) {
		problem(f, "EFAULT after the commit, and an fd was left: %.*s",
			(int)lb, b);
		return -1;
	}
	return 0;
}

/*
 * NODE_RECORD: "a record stands"; the retry finds it recorded (or, with
 * id 0, begins another snapshot).
 */
static int l_record(struct fi *f)
{
	unsigned int flags = f->rec_flags;
	int bad = same_fds(f);
	long ret;

	/* A fresh group: a snapshot begun here is the group's first. */
	f->got_id = f->rec_id ? f->rec_id : 1;
	f->rec_flags &= ~SNAPCHAN_RECORD_F_SNAPFD;
	if (k_record(f, 0))
		bad = -1;
	f->rec_flags = flags;
	ret = f->op->call(f);
	if (ret >= 0)
		register_out(f, ret);
	if (f->rec_id && ret != -EALREADY) {
		problem(f, "EFAULT after the commit: the record stands, so the retry should fail with EALREADY, not %s",
			ret < 0 ? errname(-ret) : "succeed");
		bad = -1;
	} else if (!f->rec_id && ret < 0) {
		/* Id 0 again: another snapshot, begun by this node. */
		problem(f, "EFAULT after the commit, then the retry (id 0: a new snapshot) failed: %s",
			errname(-ret));
		bad = -1;
	}
	return bad;
}

/* SNAP_BEGIN: "a begun snapshot is withdrawn (aborted, reason EXPLICIT)". */
static int l_begin(struct fi *f)
{
	struct snapchan_snap_info si;
	int bad = same_fds(f), fd;
	long ret;

	fd = snap_open(f, 1);
	if (fd < 0 || snap_info(fd, &si) || si.state != SNAPCHAN_SNAP_ABORTED ||
	    si.abort_reason != SNAPCHAN_ABORT_EXPLICIT) {
		problem(f, "EFAULT after the commit: the snapshot should be aborted (EXPLICIT)");
		bad = -1;
	}
	if (sc_pending_event(f->nA) || sc_pending_event(f->nB)) {
		problem(f, "EFAULT after the commit: a node is still asked to record");
		bad = -1;
	}
	ret = f->op->call(f);
	if (ret < 0) {
		problem(f, "the retry without injection failed: %s", errname(-ret));
		return -1;
	}
	register_out(f, ret);
	return k_begin(f, ret) ? -1 : bad;
}

/* --- the table --- */

/*
 * Kernel bugs this program found (see the file's header comment); an
 * operation that fails prints the ones it can hit.
 */
#define BUG_DEVNODE_CREATE "B1: a failed kasprintf() in snapchan_chan_devnode() (kmod/chan.c) makes devtmpfs fall back to the bare device name: the call succeeds but the node is /dev/<name>, not /dev/snapchan/<name>"
#define BUG_DEVNODE_DESTROY "B2: the same kasprintf() failing in device_del() leaves a stale /dev/snapchan/<name> (devtmpfs_delete_node() gives up)"
#define BUG_EPOCH "B3: a CHAN_CREATE that fails after snapchan_group_topo_lock() still bumps the group's epoch (snapchan_group_topo_unlock() on the error path, kmod/chan.c)"
#define BUG_BEGIN_FD "B4 (fixed by the fd-first change of 2026-11-25, now a regression check): SNAP_BEGIN failing in snapchan_snap_file() left the snapshot running, with no fd"
#define BUG_RECORD_RESERVE "B5: snapchan_snap_record() (kmod/snap.c) returns 0 when snapchan_record_incoming() cannot allocate the recording array (snapchan_schan_reserve()): NODE_RECORD reports success, the snapshot is aborted (NOMEM)"
#define BUG_RECORD_BEGIN "B6: a NODE_RECORD with id 0 that fails after snapchan_snap_create() (the markers' allocations in snapchan_snap_record()) leaves an aborted snapshot behind (its id used, a row in debugfs snapshots, counted aborted)"
#define BUG_RECORD_FD "B7 (fixed by the fd-first change, now a regression check): with SNAPCHAN_RECORD_F_SNAPFD, snapchan_snap_file() failing after the commit failed the call though the node recorded"
#define BUG_BATCH_STALE_ENTRY "B9: snapchan_recv_entries() (kmod/chan.c) leaves have_entry set after an entry it read with copy_from_user_nofault() is delivered the unlocked way, or when the next entry's nofault read fails: the next record is then delivered into the previous entry's buffer (overwriting that record's payload) and that entry's inputs are written into the next entry"
#define BUG_LATE_EFAULT "B8: NODE_JOIN's final copy_to_user() failing after the join returns EFAULT, the node is removed again but the group's epoch has moved by 2 (doc/decisions.md allows a late EFAULT to leave something only for SNAP_BEGIN and NODE_RECORD)"

/*
 * CHAN_CREATE in a group: the group's own sites come first (the first
 * dozen); the ~90 of device_add() after them are those of CHAN_CREATE.
 * FAULTINJ_FULL=1 runs them all the same.
 */
#define CREATE_SITES	24

#define ERRS_MEM	{ ENOMEM, EFAULT }
#define ERRS_COPY	{ EFAULT }

static const struct op op_version = {
	.name = "VERSION", .call = c_version, .errs = ERRS_COPY,
	.min_sites = 1,
};
static const struct op op_create = {
	.name = "CHAN_CREATE", .setup = su_create_standalone,
	.call = c_create, .check = k_create, .errs = ERRS_MEM, .min_sites = 50,
	.bug = BUG_DEVNODE_CREATE,
};
static const struct op op_create_group = {
	.name = "CHAN_CREATE new group", .setup = su_create_newgroup,
	.call = c_create, .check = k_create, .errs = ERRS_MEM, .min_sites = 10,
	.max_sites = CREATE_SITES, .bug = BUG_DEVNODE_CREATE,
};
static const struct op op_create_ingroup = {
	.name = "CHAN_CREATE existing group", .setup = su_create_ingroup,
	.call = c_create, .check = k_create, .errs = ERRS_MEM, .min_sites = 10,
	.max_sites = CREATE_SITES, .bug = BUG_EPOCH "; " BUG_DEVNODE_CREATE,
};
static const struct op op_destroy = {
	.name = "CHAN_DESTROY", .setup = su_destroy_standalone,
	.call = c_destroy, .check = k_destroy, .errs = ERRS_MEM, .min_sites = 1,
	.bug = BUG_DEVNODE_DESTROY,
};
static const struct op op_destroy_group = {
	.name = "CHAN_DESTROY group", .setup = su_destroy_group,
	.call = c_destroy, .check = k_destroy, .errs = ERRS_MEM, .min_sites = 1,
	.bug = BUG_DEVNODE_DESTROY,
};
static const struct op op_info = {
	.name = "CHAN_INFO", .setup = su_std, .call = c_info,
	.errs = ERRS_COPY, .min_sites = 2,
};
static const struct op op_list = {
	.name = "CHAN_LIST", .setup = su_list, .call = c_list,
	.errs = ERRS_MEM, .min_sites = 3,
};
static const struct op op_join = {
	.name = "NODE_JOIN", .setup = su_join, .call = c_join, .check = k_join,
	.out_kind = 'n', .errs = ERRS_MEM, .min_sites = 4,
	.bug = BUG_LATE_EFAULT,
};
static const struct op op_begin = {
	.name = "SNAP_BEGIN", .setup = su_begin, .call = c_begin,
	.check = k_begin, .late_efault = l_begin, .out_kind = 's',
	.errs = ERRS_MEM, .min_sites = 4, .bug = BUG_BEGIN_FD,
};
static const struct op op_open = {
	.name = "SNAP_OPEN", .setup = su_open, .call = c_open, .check = k_open,
	.out_kind = 's', .errs = ERRS_MEM, .min_sites = 3,
};
static const struct op op_write = {
	.name = "write", .setup = su_std, .call = c_write, .errs = ERRS_MEM,
	.min_sites = 2,
};
static const struct op op_write_large = {
	.name = "write 40000 bytes", .setup = su_write_large, .call = c_write,
	.errs = ERRS_MEM, .min_sites = 2,
};
static const struct op op_writev3 = {
	.name = "writev 3 segments", .setup = su_writev3, .call = c_writev,
	.errs = ERRS_MEM, .min_sites = 2,
};
static const struct op op_writev12 = {
	.name = "writev 12 segments", .setup = su_writev12, .call = c_writev,
	.errs = ERRS_MEM, .min_sites = 3,
};
static const struct op op_read = {
	.name = "read", .setup = su_std, .call = c_read, .errs = ERRS_COPY,
	.min_sites = 1,
};
static const struct op op_recv = {
	.name = "RECV", .setup = su_std, .call = c_recv, .errs = ERRS_COPY,
	.min_sites = 2,
};
static const struct op op_recv_peek = {
	.name = "RECV peek", .setup = su_peek, .call = c_recv,
	.errs = ERRS_COPY, .min_sites = 2,
};
static const struct op op_recv_marker = {
	.name = "RECV marker", .setup = su_marker_head, .call = c_recv_marker,
	.errs = ERRS_COPY, .min_sites = 2,
};
static const struct op op_mark = {
	.name = "MARK", .setup = su_std, .call = c_mark, .errs = ERRS_MEM,
	.min_sites = 2,
};
static const struct op op_capture = {
	.name = "CAPTURE", .setup = su_std, .call = c_capture,
	.check = k_capture, .out_kind = 'x', .errs = ERRS_MEM, .min_sites = 4,
};
static const struct op op_poll = {
	.name = "poll 40 fds", .setup = su_poll, .call = c_poll,
	.errs = ERRS_MEM, .min_sites = 2,
};
static const struct op op_epoll = {
	.name = "epoll_ctl ADD", .setup = su_epoll, .call = c_epoll,
	.check = k_epoll, .unchanged = u_epoll, .errs = ERRS_MEM,
	.min_sites = 2,
};
static const struct op op_open_chan = {
	.name = "open channel", .setup = su_std, .call = c_open_chan,
	.out_kind = 'p', .errs = ERRS_MEM, .min_sites = 2,
};
static const struct op op_attach_send = {
	.name = "NODE_ATTACH sender", .setup = su_attach_send,
	.call = c_attach, .errs = ERRS_COPY, .min_sites = 1,
};
static const struct op op_attach_recv = {
	.name = "NODE_ATTACH receiver", .setup = su_attach_recv,
	.call = c_attach, .errs = ERRS_COPY, .min_sites = 1,
};
static const struct op op_detach = {
	.name = "NODE_DETACH", .setup = su_detach, .call = c_detach,
	.errs = ERRS_COPY, .min_sites = 1,
};
static const struct op op_event = {
	.name = "NODE_EVENT", .setup = su_event, .call = c_event,
	.errs = ERRS_COPY, .min_sites = 2,
};

#define REC_OP(id, label, bugtext, min)					\
static const struct op op_##id = {					\
	.name = label, .setup = su_##id, .call = c_record,		\
	.check = k_record, .late_efault = l_record, .errs = ERRS_MEM,	\
	.min_sites = min, .bug = bugtext,				\
};
#define REC_OP_FD(id, label, bugtext, min)				\
static const struct op op_##id = {					\
	.name = label, .setup = su_##id, .call = c_record,		\
	.check = k_record, .late_efault = l_record, .out_kind = 's',	\
	.errs = ERRS_MEM, .min_sites = min, .bug = bugtext,		\
};
REC_OP(rec_sender_first, "NODE_RECORD sender first", NULL, 5)
REC_OP_FD(rec_sender_first_fd, "NODE_RECORD sender first SNAPFD",
	  BUG_RECORD_FD, 7)
REC_OP(rec_receiver_first, "NODE_RECORD receiver first",
       BUG_RECORD_RESERVE, 5)
REC_OP_FD(rec_receiver_first_fd, "NODE_RECORD receiver first SNAPFD",
	  BUG_RECORD_RESERVE "; " BUG_RECORD_FD, 7)
REC_OP(rec_receiver_second, "NODE_RECORD receiver second",
       BUG_RECORD_RESERVE, 5)
REC_OP_FD(rec_receiver_second_fd, "NODE_RECORD receiver second SNAPFD",
	  BUG_RECORD_RESERVE "; " BUG_RECORD_FD, 7)
REC_OP(rec_sender_second, "NODE_RECORD sender second", NULL, 5)
REC_OP_FD(rec_sender_second_fd, "NODE_RECORD sender second SNAPFD",
	  BUG_RECORD_FD, 7)
REC_OP(rec_begin, "NODE_RECORD begin (id 0)",
       BUG_RECORD_RESERVE "; " BUG_RECORD_BEGIN, 8)
REC_OP_FD(rec_begin_fd, "NODE_RECORD begin (id 0) SNAPFD",
	  BUG_RECORD_RESERVE "; " BUG_RECORD_BEGIN "; " BUG_RECORD_FD, 10)

static const struct op op_write_rec = {
	.name = "write while recording", .setup = su_write_rec,
	.call = c_write, .check = k_write_rec, .alt = a_write_rec,
	.errs = ERRS_MEM, .min_sites = 3,
};
static const struct op op_snap_info = {
	.name = "SNAP_INFO", .setup = su_event, .call = c_snap_info,
	.errs = ERRS_COPY, .min_sites = 1,
};
static const struct op op_abort = {
	.name = "SNAP_ABORT", .setup = su_abort, .call = c_abort,
	.check = k_abort, .errs = ERRS_MEM, .min_sites = 0,
};
static const struct op op_snap_read = {
	.name = "snapshot read", .setup = su_snap_read, .call = c_stream_read,
	.check = k_stream_read, .errs = ERRS_MEM, .min_sites = 2,
};
static const struct op op_cap_read = {
	.name = "capture read", .setup = su_cap_read, .call = c_stream_read,
	.check = k_stream_read, .errs = ERRS_MEM, .min_sites = 2,
};

static const struct op op_send_batch = {
	.name = "SEND_BATCH", .setup = su_send_batch, .call = c_batch,
	.check = k_batch, .alt = a_batch, .unchanged = u_batch,
	.errs = ERRS_MEM, .min_sites = 10,
};
static const struct op op_send_batch_bad = {
	.name = "SEND_BATCH unreadable payload in the middle",
	.setup = su_send_batch_bad, .call = c_batch, .check = k_batch,
	.alt = a_batch, .unchanged = u_batch, .errs = ERRS_MEM,
	.min_sites = 6,
};
static const struct op op_send_batch_full = {
	.name = "SEND_BATCH room for half", .setup = su_send_batch_full,
	.call = c_batch, .check = k_batch, .alt = a_batch,
	.unchanged = u_batch, .errs = ERRS_MEM, .min_sites = 10,
};
static const struct op op_send_batch_node = {
	.name = "SEND_BATCH attached sender", .setup = su_send_batch_node,
	.call = c_batch, .check = k_batch, .alt = a_batch,
	.unchanged = u_batch, .errs = ERRS_MEM, .min_sites = 10,
};
static const struct op op_recv_batch = {
	.name = "RECV_BATCH", .setup = su_recv_batch, .call = c_batch,
	.check = k_batch, .alt = a_batch, .unchanged = u_batch,
	.errs = ERRS_COPY, .min_sites = 2, .bug = BUG_BATCH_STALE_ENTRY,
};
static const struct op op_recv_batch_hole = {
	.name = "RECV_BATCH entries into an unmapped page",
	.setup = su_recv_batch_hole, .call = c_batch, .check = k_batch,
	.alt = a_batch, .unchanged = u_batch, .errs = ERRS_COPY,
	.min_sites = 3,
};
static const struct op op_recv_batch_lazy = {
	.name = "RECV_BATCH pages not present",
	.setup = su_recv_batch_lazy, .call = c_batch, .check = k_batch,
	.alt = a_batch, .unchanged = u_batch, .errs = ERRS_COPY,
	.min_sites = 6, .bug = BUG_BATCH_STALE_ENTRY,
};
static const struct op op_recv_batch_node = {
	.name = "RECV_BATCH attached receiver",
	.setup = su_recv_batch_node, .call = c_batch, .check = k_batch,
	.alt = a_batch, .unchanged = u_batch, .errs = ERRS_COPY,
	.min_sites = 2,
};

#define FI_TEST(id)						\
TEST_F_TIMEOUT(fi, id, 600)					\
{								\
	run_op(_metadata, self, &op_##id);			\
}

FI_TEST(version)
FI_TEST(create)
FI_TEST(create_group)
FI_TEST(create_ingroup)
FI_TEST(destroy)
FI_TEST(destroy_group)
FI_TEST(info)
FI_TEST(list)
FI_TEST(join)
FI_TEST(begin)
FI_TEST(open)
FI_TEST(write)
FI_TEST(write_large)
FI_TEST(writev3)
FI_TEST(writev12)
FI_TEST(read)
FI_TEST(recv)
FI_TEST(recv_peek)
FI_TEST(recv_marker)
FI_TEST(mark)
FI_TEST(capture)
FI_TEST(poll)
FI_TEST(epoll)
FI_TEST(open_chan)
FI_TEST(attach_send)
FI_TEST(attach_recv)
FI_TEST(detach)
FI_TEST(event)
FI_TEST(rec_sender_first)
FI_TEST(rec_sender_first_fd)
FI_TEST(rec_receiver_first)
FI_TEST(rec_receiver_first_fd)
FI_TEST(rec_receiver_second)
FI_TEST(rec_receiver_second_fd)
FI_TEST(rec_sender_second)
FI_TEST(rec_sender_second_fd)
FI_TEST(rec_begin)
FI_TEST(rec_begin_fd)
FI_TEST(write_rec)
FI_TEST(snap_info)
FI_TEST(abort)
FI_TEST(snap_read)
FI_TEST(cap_read)
FI_TEST(send_batch)
FI_TEST(send_batch_bad)
FI_TEST(send_batch_full)
FI_TEST(send_batch_node)
FI_TEST(recv_batch)
FI_TEST(recv_batch_hole)
FI_TEST(recv_batch_lazy)
FI_TEST(recv_batch_node)

/*
 * The totals, and the global counters no fd shows: after everything
 * above, exactly max_nodes nodes and max_captures captures must fit.
 */
static const struct op op_summary = { .name = "summary" };

/* Lines of a text file, or -1. */
static int count_rows(const char *path)
{
	char line[1024];
	FILE *file = fopen(path, "re");
	int rows = 0;

	if (!file)
		return -1;
	while (fgets(line, sizeof(line), file))
		rows++;
	fclose(file);
	return rows;
}

static int count_until(FIXTURE_DATA(fi) *self, bool nodes, int limit,
		       int *fds)
{
	struct fi *f = self->f;
	int i, fd = -1;

	for (i = 0; i <= limit; i++) {
		if (nodes) {
			char name[16];
			struct snapchan_node_join j;

			snprintf(name, sizeof(name), "N%d", i);
			memset(&j, 0, sizeof(j));
			sc_name(j.group, f->group);
			sc_name(j.name, name);
			fd = ioctl(f->ctl, SNAPCHAN_IOC_NODE_JOIN, &j);
		} else {
			struct snapchan_capture c;

			memset(&c, 0, sizeof(c));
			fd = ioctl(f->r, SNAPCHAN_IOC_CAPTURE, &c);
		}
		if (fd < 0)
			break;
		fds[i] = fd;
	}
	return i;
}

TEST_F_TIMEOUT(fi, summary, 120)
{
	struct fi *f = self->f;
	unsigned long long saved_nodes, saved_caps;
	int i, sites = 0, inj = 0, kinds[NR_KINDS] = {}, ops = 0, bad = 0;
	int failed = 0, succeeded = 0, aborts = 0, got, fds[16], others;
	double secs = 0;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	for (i = 0; i < shm->nops; i++) {
		struct op_res *r = &shm->r[i];
		int k;

		if (!r->ran)
			continue;
		ops++;
		sites += r->sites;
		inj += r->injections;
		for (k = 0; k < NR_KINDS; k++)
			kinds[k] += r->kind[k];
		failed += r->failed;
		succeeded += r->succeeded;
		aborts += r->async_aborts;
		secs += r->secs;
		if (r->problems)
			bad++;
	}
	ksft_print_msg("%-36s %5s %5s %5s %5s %5s %5s %5s %6s\n", "operation",
		       "sites", "inj", "slab", "page", "copy", "fail", "ok",
		       "probl");
	for (i = 0; i < shm->nops; i++) {
		struct op_res *r = &shm->r[i];

		ksft_print_msg("%-36s %5d %5d %5d %5d %5d %5d %5d %6d\n",
			       r->name, r->sites, r->injections,
			       r->kind[K_SLAB], r->kind[K_PAGE], r->kind[K_COPY],
			       r->failed, r->succeeded, r->problems);
	}
	ksft_print_msg("total: %d operations, %d fault sites, %d injections (slab %d, page %d, usercopy %d, other %d); the calls failed %d times, succeeded %d times; %d snapshot aborts from the data path; %d operations with problems; %.0fs\n",
		       ops, sites, inj, kinds[K_SLAB], kinds[K_PAGE],
		       kinds[K_COPY], kinds[K_OTHER], failed, succeeded, aborts,
		       bad, secs);
	EXPECT_LT(0, ops);
	EXPECT_LT(0, sites) TH_LOG("no fault was ever injected");
	EXPECT_EQ(0, kinds[K_OTHER]) TH_LOG("faults of an unknown kind");
	if (selected("write_rec"))
		EXPECT_LT(0, aborts)
			TH_LOG("the data path's recording growth never failed");

	/* Counters: exactly max_nodes and max_captures fit. */
	f->op = &op_summary;
	f->n = 0;
	ASSERT_EQ(0, su_std(f));
	ASSERT_EQ(0, sc_param("max_nodes", &saved_nodes));
	ASSERT_EQ(0, sc_param("max_captures", &saved_caps));
	ASSERT_EQ(0, mkchan(f, "x", true, 0, 0));
	/* Nodes of other programs (none, normally) count too. */
	others = count_rows(SC_DBG "nodes") - 1;
	ASSERT_LE(0, others);
	ASSERT_EQ(0, sc_param_set("max_nodes", others + 3));
	got = count_until(self, true, 3, fds);
	for (i = 0; i < got; i++)
		close(fds[i]);
	EXPECT_EQ(0, sc_param_set("max_nodes", saved_nodes));
	EXPECT_EQ(3, got) TH_LOG("max_nodes 3: %d nodes fit (node count drifted)",
				 got);
	ASSERT_EQ(0, sc_param_set("max_captures", 3));
	got = count_until(self, false, 3, fds);
	for (i = 0; i < got; i++)
		close(fds[i]);
	EXPECT_EQ(0, sc_param_set("max_captures", saved_caps));
	EXPECT_EQ(3, got) TH_LOG("max_captures 3: %d captures fit (capture count drifted)",
				 got);
	teardown(f);
}

int main(int argc, char **argv)
{
	const char *why;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(FAIL_NTH, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("%s missing: this kernel has no fault injection (CONFIG_FAULT_INJECTION)\n",
			       FAIL_NTH);
	}
	if (access(SC_CONTROL, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("%s missing: is the snapchan module loaded?\n",
			       SC_CONTROL);
	}
	if (geteuid()) {
		ksft_print_header();
		ksft_exit_skip("needs root (debugfs fault attributes)\n");
	}
	if (access(SC_DBG "groups", R_OK)) {
		ksft_print_header();
		ksft_exit_skip("%s missing: debugfs not mounted?\n", SC_DBG);
	}
	atexit(knobs_restore);
	signal(SIGTERM, knobs_signal);
	signal(SIGINT, knobs_signal);
	why = knobs_setup();
	if (why) {
		knobs_restore();
		ksft_print_header();
		ksft_exit_skip("fault injection attributes: %s\n", why);
	}
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		ksft_print_header();
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	}
	memset(shm, 0, sizeof(*shm));
	return test_harness_run(argc, argv);
}
