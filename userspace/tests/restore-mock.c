// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * snapchan_restore() against a stand-in kernel: this program defines
 * ioctl() (CHAN_CREATE, CHAN_INFO, CHAN_DESTROY over a table of fake
 * channels) and write() (a write on a fake channel's device file, in a
 * directory given as SNAPCHAN_DEV_DIR, enqueues a record and takes the
 * next sequence number).  Checks:
 *
 *   - refusals before any ioctl: unknown flags, bad group name, a capture
 *     image, an image corrupted in memory, and (through
 *     snapchan_restore_file()) files with a bad magic, version, CRC or
 *     length;
 *   - an existing channel: -EEXIST with only CHAN_INFO issued;
 *   - success: each channel created in the target group with its first
 *     sequence number and configuration, capacity raised to fit its
 *     state, DATA re-enqueued in order (markers skipped), node states and
 *     ends by name;
 *   - every failure half-way (create, write, a sequence number that does
 *     not match) destroys everything created, newest first;
 *   - SNAPCHAN_RESTORE_DROP_CHANNEL_STATE: empty channels numbered on.
 */
#include "test.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAXC 8

struct fchan {
	int      exists;
	struct snapchan_chan_create cfg;
	uint64_t next_seq;
	uint64_t depth;
	char     payload[MAXC][32];	/* the first records written */
	uint32_t len[MAXC];
};

static struct fchan fake[MAXC];
static char devdir[256];
static int ioctls, creates, destroys, infos, writes_total;
static char order[256];			/* c<name0> d<name0> ... */
static const char *fail_create;		/* this name: ENOSPC */
static int fail_write_at = -1;		/* this write: EAGAIN */
static int skip_seq;			/* writes skip a sequence number */
static uint64_t max_capacity_msgs = 1000;

static struct fchan *find(const char *name)
{
	int i;

	for (i = 0; i < MAXC; i++)
		if (fake[i].exists && !strcmp(fake[i].cfg.name, name))
			return &fake[i];
	return NULL;
}

static void devpath(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", devdir, name);
}

int ioctl(int fd, unsigned long req, ...)
{
	struct fchan *c;
	char path[512];
	va_list ap;
	void *arg;
	int i, dfd;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	(void)fd;
	ioctls++;
	switch (req) {
	case SNAPCHAN_IOC_CHAN_INFO: {
		struct snapchan_chan_info *in = arg;

		infos++;
		c = find(in->name);
		if (!c) {
			errno = ENOENT;
			return -1;
		}
		strcpy(in->group, c->cfg.group);
		in->first_seq = c->cfg.first_seq;
		in->next_seq = c->next_seq;
		in->depth_msgs = c->depth;
		in->capacity_msgs = c->cfg.capacity_msgs;
		return 0;
	}
	case SNAPCHAN_IOC_CHAN_CREATE: {
		struct snapchan_chan_create *cc = arg;

		creates++;
		if (find(cc->name)) {
			errno = EEXIST;
			return -1;
		}
		if (fail_create && !strcmp(fail_create, cc->name)) {
			errno = ENOSPC;
			return -1;
		}
		if (cc->capacity_msgs > max_capacity_msgs) {
			errno = EINVAL;
			return -1;
		}
		for (i = 0; i < MAXC && fake[i].exists; i++)
			;
		REQUIRE(i < MAXC);
		memset(&fake[i], 0, sizeof(fake[i]));
		fake[i].exists = 1;
		fake[i].cfg = *cc;
		fake[i].next_seq = cc->first_seq ? cc->first_seq : 1;
		devpath(path, sizeof(path), cc->name);
		dfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		REQUIRE(dfd >= 0);
		close(dfd);
		strcat(order, "c");
		strcat(order, cc->name);
		strcat(order, " ");
		return 0;
	}
	case SNAPCHAN_IOC_CHAN_DESTROY: {
		struct snapchan_chan_destroy *cd = arg;

		destroys++;
		c = find(cd->name);
		if (!c) {
			errno = ENOENT;
			return -1;
		}
		c->exists = 0;
		devpath(path, sizeof(path), cd->name);
		unlink(path);
		strcat(order, "d");
		strcat(order, cd->name);
		strcat(order, " ");
		return 0;
	}
	}
	errno = ENOTTY;
	return -1;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	char link[64], target[512];
	const char *base;
	struct fchan *c;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (fd <= 2 || n <= 0)
		return syscall(SYS_write, fd, buf, len);
	target[n] = 0;
	base = strrchr(target, '/');
	if (!strstr(target, "/restore-") || !base || !(c = find(base + 1)))
		return syscall(SYS_write, fd, buf, len);
	if (writes_total++ == fail_write_at) {
		errno = EAGAIN;
		return -1;
	}
	if (c->depth < MAXC) {
		memcpy(c->payload[c->depth], buf, len < 32 ? len : 31);
		c->len[c->depth] = (uint32_t)len;
	}
	c->depth++;
	c->next_seq += skip_seq ? 2 : 1;
	return (ssize_t)len;
}

static void reset(void)
{
	int i;
	char path[512];

	for (i = 0; i < MAXC; i++) {
		if (fake[i].exists) {
			devpath(path, sizeof(path), fake[i].cfg.name);
			unlink(path);
		}
	}
	memset(fake, 0, sizeof(fake));
	ioctls = creates = destroys = infos = writes_total = 0;
	order[0] = 0;
	fail_create = NULL;
	fail_write_at = -1;
	skip_seq = 0;
	max_capacity_msgs = 1000;
}

static int live(void)
{
	int i, n = 0;

	for (i = 0; i < MAXC; i++)
		n += fake[i].exists;
	return n;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	REQUIRE(fd >= 0);
	REQUIRE(syscall(SYS_write, fd, buf, len) == (long)len);
	close(fd);
}

/* A refusal that must come before any ioctl. */
#define REFUSED_UNTOUCHED(call, err)					\
	do {								\
		struct snapchan_restore *_r = NULL;			\
		int _ret;						\
		reset();						\
		memset(&d, 0, sizeof(d));				\
		_ret = (call);						\
		CHECK_EQ(_ret, err);					\
		CHECK_EQ(d.error, err);					\
		CHECK(d.msg[0] != 0);					\
		CHECK_EQ(ioctls, 0);					\
		CHECK(_r == NULL);					\
		(void)_r;						\
	} while (0)

int main(void)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_CAPTURE, .group = "bank",
	};
	struct snapchan_image_chan_view cv = {
		.id = 1, .name = "cap", .capacity_bytes = 64,
		.capacity_msgs = 1, .max_msg = 16, .mode = 0600,
	};
	struct snapchan_image_record_view rv = { .type = SNAPCHAN_REC_DATA };
	struct snapchan_restore_chan_view rc;
	struct snapchan_restore_node_view rn;
	struct snapchan_image *img, *cap, *big;
	struct snapchan_image_builder *b;
	struct snapchan_image_diag d;
	struct snapchan_restore *r;
	char path[512];
	uint8_t *image, *bad;
	void *cbuf;
	size_t len, clen;
	const void *state;
	uint64_t slen;
	struct fchan *c;
	int i;

	mkdir("tests/tmp", 0700);
	snprintf(devdir, sizeof(devdir), "tests/tmp/restore-XXXXXX");
	REQUIRE(mkdtemp(devdir));
	setenv("SNAPCHAN_DEV_DIR", devdir, 1);

	build_sample(&image, &len);
	REQUIRE(snapchan_image_from_buffer(image, len, &img, NULL) == 0);

	/* A capture: one channel whose state (3 records) exceeds its
	 * capacity of 1 message, which a snapshot channel's can too. */
	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_chan(b, &cv) == 0);
	for (i = 0; i < 3; i++) {
		rv.len = 2;
		rv.payload = "ab";
		REQUIRE(snapchan_image_builder_add_record(b, &rv) == 0);
	}
	REQUIRE(snapchan_image_builder_finish(b, &cbuf, &clen, NULL) == 0);
	snapchan_image_builder_free(b);
	REQUIRE(snapchan_image_from_buffer(cbuf, clen, &cap, NULL) == 0);

	/* The same channel in a snapshot (two nodes, a -> b). */
	h.kind = SNAPCHAN_IMG_KIND_SNAPSHOT;
	h.snap_id = 3;
	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "a", 1, "A", 1) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "b", 2, NULL, 0) == 0);
	cv.name = "big";
	cv.sender_node = 1;
	cv.receiver_node = 2;
	REQUIRE(snapchan_image_builder_add_chan(b, &cv) == 0);
	for (i = 0; i < 3; i++) {
		rv.len = 2;
		rv.payload = "cd";
		REQUIRE(snapchan_image_builder_add_record(b, &rv) == 0);
	}
	{
		void *bb;
		size_t bl;

		REQUIRE(snapchan_image_builder_finish(b, &bb, &bl, NULL) == 0);
		REQUIRE(snapchan_image_from_buffer(bb, bl, &big, NULL) == 0);
		free(bb);
	}
	snapchan_image_builder_free(b);

	/* --- refusals that touch nothing ------------------------------------ */
	REFUSED_UNTOUCHED(snapchan_restore(3, img, NULL, 1U << 5, &_r, &d),
			  -EINVAL);
	REFUSED_UNTOUCHED(snapchan_restore(3, img, "bad/name", 0, &_r, &d),
			  -EINVAL);
	REFUSED_UNTOUCHED(snapchan_restore(3, cap, NULL, 0, &_r, &d), -EINVAL);
	CHECK(strstr(d.msg, "not a snapshot") != NULL);
	REFUSED_UNTOUCHED(snapchan_restore(3, cap, "bank", 0, &_r, &d),
			  -EINVAL);

	snprintf(path, sizeof(path), "%s/img", devdir);
	bad = dup_image(image, len, 0);
	bad[0] ^= 0xff;				/* magic */
	write_file(path, bad, len);
	REFUSED_UNTOUCHED(snapchan_restore_file(3, path, NULL, 0, &_r, &d),
			  -ENOEXEC);
	memcpy(bad, image, len);
	SET(bad, 0, snapchan_img_header, version, 2);
	write_file(path, bad, len);
	REFUSED_UNTOUCHED(snapchan_restore_file(3, path, NULL, 0, &_r, &d),
			  -EPROTONOSUPPORT);
	memcpy(bad, image, len);
	bad[len / 2] ^= 0x10;			/* CRC */
	write_file(path, bad, len);
	REFUSED_UNTOUCHED(snapchan_restore_file(3, path, NULL, 0, &_r, &d),
			  -EBADMSG);
	write_file(path, image, len - 8);	/* truncated: incomplete */
	REFUSED_UNTOUCHED(snapchan_restore_file(3, path, NULL, 0, &_r, &d),
			  -EBADMSG);
	write_file(path, cbuf, clen);		/* a capture on disk */
	REFUSED_UNTOUCHED(snapchan_restore_file(3, path, NULL, 0, &_r, &d),
			  -EINVAL);
	REFUSED_UNTOUCHED(snapchan_restore_file(3, "tests/tmp/no-such-file",
						NULL, 0, &_r, &d), -ENOENT);
	unlink(path);
	free(bad);

	/* An image whose memory changed after it was opened. */
	{
		struct snapchan_image *m;
		uint8_t *p;

		REQUIRE(snapchan_image_from_buffer(image, len, &m, NULL) == 0);
		p = (uint8_t *)snapchan_image_data(m, NULL);
		p[200] ^= 1;
		REFUSED_UNTOUCHED(snapchan_restore(3, m, NULL, 0, &_r, &d),
				  -EBADMSG);
		snapchan_image_close(m);
	}

	/* --- an existing channel: -EEXIST, only looked at -------------------- */
	reset();
	REQUIRE(ioctl(3, SNAPCHAN_IOC_CHAN_CREATE,
		      &(struct snapchan_chan_create){ .name = "c2a",
						      .group = "x" }) == 0);
	ioctls = creates = 0;
	order[0] = 0;
	r = NULL;
	CHECK_EQ(snapchan_restore(3, img, NULL, 0, &r, &d), -EEXIST);
	CHECK(r == NULL);
	CHECK(strstr(d.msg, "c2a") != NULL);
	CHECK_EQ(creates, 0);
	CHECK_EQ(destroys, 0);
	CHECK_EQ(ioctls, infos);
	CHECK_EQ(live(), 1);

	/* --- success ------------------------------------------------------------ */
	reset();
	r = NULL;
	CHECK_EQ(snapchan_restore(3, img, "bank2", 0, &r, &d), 0);
	REQUIRE(r != NULL);
	CHECK_EQ(d.error, 0);
	CHECK(!strcmp(order, "ca2b cb2a cc2a "));
	CHECK_EQ(live(), 3);
	c = find("a2b");
	REQUIRE(c);
	CHECK(!strcmp(c->cfg.group, "bank2"));
	CHECK_EQ(c->cfg.first_seq, 5);
	CHECK_EQ(c->cfg.capacity_bytes, 4096);
	CHECK_EQ(c->cfg.capacity_msgs, 64);
	CHECK_EQ(c->cfg.max_msg, 64);
	CHECK_EQ(c->cfg.mode, 0600);
	CHECK_EQ(c->depth, 3);			/* the marker is not restored */
	CHECK_EQ(c->next_seq, 8);
	CHECK(c->len[0] == 5 && !memcmp(c->payload[0], "hello", 5));
	CHECK(c->len[1] == 3 && !memcmp(c->payload[1], "xyz", 3));
	CHECK_EQ(c->len[2], 0);
	c = find("b2a");
	REQUIRE(c);
	CHECK_EQ(c->cfg.first_seq, 1);
	CHECK_EQ(c->depth, 0);
	c = find("c2a");
	REQUIRE(c);
	CHECK_EQ(c->cfg.first_seq, 100);
	CHECK_EQ(c->next_seq, 101);
	CHECK(c->len[0] == 13 && !memcmp(c->payload[0], "thirteen byte", 13));

	CHECK(!strcmp(snapchan_restore_group(r), "bank2"));
	CHECK_EQ(snapchan_restore_snap_id(r), 7);
	CHECK_EQ(snapchan_restore_node_count(r), 3);
	CHECK_EQ(snapchan_restore_state(r, "alice", &state, &slen), 0);
	CHECK(slen == 11 && !memcmp(state, "balance=100", 11));
	CHECK_EQ(snapchan_restore_state(r, "carol", &state, &slen), 2);
	CHECK(slen == 0 && state == NULL);
	CHECK_EQ(snapchan_restore_state(r, "dave", NULL, NULL), -ENOENT);
	CHECK_EQ(snapchan_restore_node(r, 1, &rn), 0);
	CHECK(!strcmp(rn.name, "bob") && rn.old_id == 2 && rn.state_len == 8);
	CHECK_EQ(snapchan_restore_node(r, 3, &rn), -ERANGE);
	CHECK_EQ(snapchan_restore_chan_count(r), 3);
	CHECK_EQ(snapchan_restore_chan(r, 0, &rc), 0);
	CHECK(!strcmp(rc.name, "a2b") && !strcmp(rc.sender, "alice") &&
	      !strcmp(rc.receiver, "bob"));
	CHECK(rc.first_seq == 5 && rc.next_seq == 8 && rc.records == 3 &&
	      rc.record_bytes == 8 && !rc.capacity_raised);
	CHECK_EQ(snapchan_restore_chan(r, 2, &rc), 0);
	CHECK(!strcmp(rc.sender, "carol") && !strcmp(rc.receiver, "alice"));
	CHECK_EQ(snapchan_restore_chan(r, 3, &rc), -ERANGE);

	/* The image may go; the result keeps its own copies. Undo. */
	CHECK_EQ(snapchan_restore_undo(3, r), 0);
	CHECK(!strcmp(order, "ca2b cb2a cc2a dc2a db2a da2b "));
	CHECK_EQ(live(), 0);
	snapchan_restore_free(r);

	/* --- capacity raised to fit the recorded state ------------------------- */
	reset();
	r = NULL;
	CHECK_EQ(snapchan_restore(3, big, NULL, 0, &r, &d), 0);
	REQUIRE(r);
	c = find("big");
	REQUIRE(c);
	CHECK_EQ(c->cfg.capacity_msgs, 3);
	CHECK_EQ(c->cfg.capacity_bytes, 64);
	CHECK_EQ(c->depth, 3);
	CHECK_EQ(snapchan_restore_chan(r, 0, &rc), 0);
	CHECK(rc.capacity_raised && rc.capacity_msgs == 3);
	snapchan_restore_free(r);

	/* ... and refused when above the module's limit: explained. */
	reset();
	max_capacity_msgs = 2;
	r = NULL;
	CHECK_EQ(snapchan_restore(3, big, NULL, 0, &r, &d), -EINVAL);
	CHECK(r == NULL);
	CHECK(strstr(d.msg, "capacity") != NULL);
	CHECK_EQ(live(), 0);

	/* --- failures half-way undo everything ---------------------------------- */
	reset();
	fail_create = "c2a";
	r = NULL;
	CHECK_EQ(snapchan_restore(3, img, NULL, 0, &r, &d), -ENOSPC);
	CHECK(r == NULL && strstr(d.msg, "c2a") != NULL);
	CHECK(!strcmp(order, "ca2b cb2a db2a da2b "));
	CHECK_EQ(live(), 0);

	reset();
	fail_write_at = 1;	/* a2b's second record */
	CHECK_EQ(snapchan_restore(3, img, NULL, 0, &r, &d), -EAGAIN);
	CHECK(strstr(d.msg, "a2b") != NULL);
	CHECK(!strcmp(order, "ca2b da2b "));
	CHECK_EQ(live(), 0);

	reset();
	skip_seq = 1;		/* the kernel numbered them differently */
	CHECK_EQ(snapchan_restore(3, img, NULL, 0, &r, &d), -EIO);
	CHECK(strstr(d.msg, "next_seq") != NULL);
	CHECK_EQ(live(), 0);

	/* --- dropping the channel states ------------------------------------------ */
	reset();
	r = NULL;
	CHECK_EQ(snapchan_restore(3, img, NULL,
				  SNAPCHAN_RESTORE_DROP_CHANNEL_STATE, &r, &d), 0);
	REQUIRE(r);
	c = find("a2b");
	REQUIRE(c);
	CHECK_EQ(c->cfg.first_seq, 8);
	CHECK_EQ(c->depth, 0);
	CHECK(!strcmp(c->cfg.group, "bank"));
	c = find("c2a");
	REQUIRE(c);
	CHECK_EQ(c->cfg.first_seq, 101);
	CHECK_EQ(writes_total, 0);
	CHECK_EQ(snapchan_restore_chan(r, 0, &rc), 0);
	CHECK(rc.records == 0 && rc.first_seq == 8 && rc.next_seq == 8);
	snapchan_restore_free(r);

	/* --- TOPO_F_ABORT is passed on to the creates ------------------------------ */
	reset();
	r = NULL;
	CHECK_EQ(snapchan_restore(3, img, NULL, SNAPCHAN_TOPO_F_ABORT, &r, &d), 0);
	c = find("b2a");
	CHECK(c && (c->cfg.flags & SNAPCHAN_TOPO_F_ABORT));
	snapchan_restore_free(r);
	reset();

	snapchan_image_close(img);
	snapchan_image_close(cap);
	snapchan_image_close(big);
	free(image);
	free(cbuf);
	rmdir(devdir);
	return test_done("restore-mock");
}
