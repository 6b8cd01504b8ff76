/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Helpers shared by the host tests.  Each test is one program that checks
 * one behaviour through the public API, prints what failed on stderr and
 * exits 0 only if every check passed (tests/run.sh turns that into TAP).
 */
#ifndef SNAPCHAN_TEST_H
#define SNAPCHAN_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapchan.h"

static int test_failures;
static int test_checks;

#define CHECK(cond)							\
	do {								\
		test_checks++;						\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",	\
				__FILE__, __LINE__, #cond);		\
			test_failures++;				\
		}							\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		test_checks++;						\
		if (_a != _b) {						\
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);	\
			test_failures++;				\
		}							\
	} while (0)

/* Stop here: what follows would only fail in confusing ways. */
#define REQUIRE(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n",	\
				__FILE__, __LINE__, #cond);		\
			exit(1);					\
		}							\
	} while (0)

static inline int test_done(const char *name)
{
	if (test_failures) {
		fprintf(stderr, "%s: %d of %d checks failed\n", name,
			test_failures, test_checks);
		return 1;
	}
	printf("%s: %d checks passed\n", name, test_checks);
	return 0;
}

/* Little-endian field access, to corrupt images on purpose. */
static inline uint64_t rd_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void wr_le(uint8_t *p, int bytes, uint64_t v)
{
	int i;

	for (i = 0; i < bytes; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

#define FSZ(T, f)	((int)sizeof(((struct T *)0)->f))
#define GET(buf, off, T, f) \
	rd_le((buf) + (off) + offsetof(struct T, f), FSZ(T, f))
#define SET(buf, off, T, f, v) \
	wr_le((buf) + (off) + offsetof(struct T, f), FSZ(T, f), (v))

/* Recompute the trailer's CRC of an image of @len bytes. */
static inline void fix_crc(uint8_t *buf, size_t len)
{
	size_t t = len - sizeof(struct snapchan_img_trailer);

	SET(buf, t, snapchan_img_trailer, crc32c, snapchan_crc32c(0, buf, t));
}

/* Where the sections of an image are (found by walking a valid one). */
#define MAXS 16
struct layout {
	size_t nodes, chans;
	size_t node[MAXS];
	size_t chan[MAXS];
	size_t nrec[MAXS];
	size_t rec[MAXS][MAXS];
	size_t trailer;
};

static inline size_t pad8(uint64_t n)
{
	return (size_t)((8 - (n & 7)) & 7);
}

static inline void layout_of(const uint8_t *b, size_t len, struct layout *l)
{
	size_t off = sizeof(struct snapchan_img_header), i, j;

	memset(l, 0, sizeof(*l));
	l->nodes = GET(b, 0, snapchan_img_header, node_count);
	l->chans = GET(b, 0, snapchan_img_header, chan_count);
	REQUIRE(l->nodes <= MAXS && l->chans <= MAXS);
	for (i = 0; i < l->nodes; i++) {
		uint64_t s = GET(b, off, snapchan_img_node, state_len);

		l->node[i] = off;
		off += sizeof(struct snapchan_img_node) + s + pad8(s);
	}
	for (i = 0; i < l->chans; i++) {
		l->chan[i] = off;
		l->nrec[i] = GET(b, off, snapchan_img_chan, record_count);
		REQUIRE(l->nrec[i] <= MAXS);
		off += sizeof(struct snapchan_img_chan);
		for (j = 0; j < l->nrec[i]; j++) {
			uint64_t n = GET(b, off, snapchan_img_record, len);

			l->rec[i][j] = off;
			off += sizeof(struct snapchan_img_record) + n + pad8(n);
		}
	}
	l->trailer = off;
	REQUIRE(off + sizeof(struct snapchan_img_trailer) == len);
}

/*
 * The sample image: a snapshot of group "bank" with three nodes (states
 * of 11, 8 and 0 bytes) and three channels: a2b (first_seq 5: DATA
 * "hello", MARKER 6 from node 3, DATA "xyz", DATA of 0 bytes), b2a
 * (no record, first_seq 1) and c2a (first_seq 100: MARKER 9, DATA of 13
 * bytes).
 */
static inline void build_sample(uint8_t **bufp, size_t *lenp)
{
	struct snapchan_image_header_view h = {
		.kind = SNAPCHAN_IMG_KIND_SNAPSHOT, .snap_id = 7,
		.group = "bank", .epoch = 3, .begin_ns = 1000, .end_ns = 2000,
	};
	struct snapchan_image_chan_view c = {
		.capacity_bytes = 4096, .capacity_msgs = 64, .max_msg = 64,
		.mode = 0600,
	};
	struct snapchan_image_record_view r;
	struct snapchan_image_builder *b;
	struct snapchan_image_diag d;
	void *buf;

	REQUIRE(snapchan_image_builder_begin(&b, &h) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "alice", 1, "balance=100", 11) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "bob", 2, "\1\2\3\4\5\6\7\10", 8) == 0);
	REQUIRE(snapchan_image_builder_add_node(b, "carol", 3, NULL, 0) == 0);

	c.id = 10; c.name = "a2b"; c.sender_node = 1; c.receiver_node = 2;
	c.first_seq = 5;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_DATA,
		.len = 5, .payload = "hello" };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_MARKER,
		.snap_id = 6, .origin = 3 };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_DATA,
		.len = 3, .payload = "xyz" };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_DATA };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);

	c.id = 11; c.name = "b2a"; c.sender_node = 2; c.receiver_node = 1;
	c.first_seq = 1;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);

	c.id = 12; c.name = "c2a"; c.sender_node = 3; c.receiver_node = 1;
	c.first_seq = 100;
	REQUIRE(snapchan_image_builder_add_chan(b, &c) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_MARKER,
		.snap_id = 9 };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);
	r = (struct snapchan_image_record_view){ .type = SNAPCHAN_REC_DATA,
		.len = 13, .payload = "thirteen byte" };
	REQUIRE(snapchan_image_builder_add_record(b, &r) == 0);

	if (snapchan_image_builder_finish(b, &buf, lenp, &d)) {
		fprintf(stderr, "sample: %s at %" PRIu64 "\n", d.msg, d.offset);
		exit(1);
	}
	snapchan_image_builder_free(b);
	*bufp = buf;
}

/*
 * @buf/@len must be refused with @err, by the verifier and by the reader
 * (which must not hand out an image), and the diagnostic must mention
 * @what (if not NULL) and, if @off is not -1, point at byte @off.
 */
static inline int expect_refused_at(const char *file, int line,
				    const void *buf, size_t len, int err,
				    const char *what, long long off)
{
	struct snapchan_image *img = (struct snapchan_image *)&img;
	struct snapchan_image_diag d;
	int ret, bad = 0;

	memset(&d, 0xa5, sizeof(d));
	ret = snapchan_image_verify_buffer(buf, len, &d);
	test_checks++;
	if (ret != err || d.error != err ||
	    !memchr(d.msg, 0, sizeof(d.msg)) ||
	    (what && !strstr(d.msg, what)) ||
	    (off >= 0 && d.offset != (uint64_t)off)) {
		fprintf(stderr, "%s:%d: got %d (%s) \"%.*s\" at %" PRIu64
			"; expected %d (%s) \"%s\" at %lld\n", file, line,
			ret, strerror(-ret), (int)sizeof(d.msg), d.msg,
			d.offset, err, strerror(-err), what ? what : "*", off);
		bad = 1;
	}
	ret = snapchan_image_from_buffer(buf, len, &img, NULL);
	if (ret != err || img != (struct snapchan_image *)&img) {
		fprintf(stderr, "%s:%d: from_buffer gave %d\n", file, line, ret);
		bad = 1;
	}
	if (bad)
		test_failures++;
	return !bad;
}

#define EXPECT_REFUSED(buf, len, err, what) \
	expect_refused_at(__FILE__, __LINE__, buf, len, err, what, -1)
#define EXPECT_REFUSED_AT(buf, len, err, what, off) \
	expect_refused_at(__FILE__, __LINE__, buf, len, err, what, (long long)(off))

/* A copy of @len bytes of @src with room for @extra more. */
static inline uint8_t *dup_image(const uint8_t *src, size_t len, size_t extra)
{
	uint8_t *p = malloc(len + extra + 1);

	REQUIRE(p);
	memcpy(p, src, len);
	memset(p + len, 0, extra + 1);
	return p;
}

#endif /* SNAPCHAN_TEST_H */
