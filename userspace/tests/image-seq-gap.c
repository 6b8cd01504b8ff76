// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * DATA sequence numbers run first_seq, first_seq + 1, ..., next_seq - 1:
 * a gap, a repeat, a step back, a wrong start, a wrong next_seq, a
 * first_seq of 0 or above next_seq, and a MARKER with a sequence number
 * are all -EBADMSG (CRC correct).
 */
#include "test.h"

#define REC_SEQ offsetof(struct snapchan_img_record, seq)

static uint8_t *img_with(const uint8_t *buf, size_t len, size_t off,
			 int bytes, uint64_t v)
{
	uint8_t *c = dup_image(buf, len, 0);

	wr_le(c + off, bytes, v);
	fix_crc(c, len);
	return c;
}

#define TRY(off, bytes, v, what, at)					\
	do {								\
		uint8_t *_c = img_with(buf, len, (off), (bytes), (v));	\
		EXPECT_REFUSED_AT(_c, len, -EBADMSG, (what), (at));	\
		free(_c);						\
	} while (0)

int main(void)
{
	struct layout l;
	uint8_t *buf;
	size_t len, a2b, c2a, r0, r2, r3;

	build_sample(&buf, &len);
	layout_of(buf, len, &l);
	a2b = l.chan[0];	/* first 5: DATA 5, MARKER, DATA 6, DATA 7 */
	c2a = l.chan[2];	/* first 100: MARKER, DATA 100 */
	r0 = l.rec[0][0];
	r2 = l.rec[0][2];
	r3 = l.rec[0][3];

	/* Gap: 5, 7, 7 -> record 2 */
	TRY(r2 + REC_SEQ, 8, 7, "expected 6", r2 + REC_SEQ);
	/* Repeat: 5, 5 */
	TRY(r2 + REC_SEQ, 8, 5, "expected 6", r2 + REC_SEQ);
	/* Step back at the end: 5, 6, 6 */
	TRY(r3 + REC_SEQ, 8, 6, "expected 7", r3 + REC_SEQ);
	/* Wrong start (first_seq 5, record says 4). */
	TRY(r0 + REC_SEQ, 8, 4, "expected 5", r0 + REC_SEQ);
	/* A DATA record with seq 0. */
	TRY(r0 + REC_SEQ, 8, 0, "expected 5", r0 + REC_SEQ);
	/* first_seq moved: then every record is off. */
	TRY(a2b + offsetof(struct snapchan_img_chan, first_seq), 8, 4,
	    "expected 4", r0 + REC_SEQ);
	/* next_seq above the last record + 1: records end early. */
	TRY(a2b + offsetof(struct snapchan_img_chan, next_seq), 8, 9,
	    "next_seq", a2b + offsetof(struct snapchan_img_chan, next_seq));
	/* next_seq at the last record: it is not below next_seq. */
	TRY(a2b + offsetof(struct snapchan_img_chan, next_seq), 8, 7,
	    "not below next_seq", r3 + REC_SEQ);
	/* first_seq above next_seq. */
	TRY(l.chan[1] + offsetof(struct snapchan_img_chan, first_seq), 8, 2,
	    "below first_seq", l.chan[1] + offsetof(struct snapchan_img_chan, next_seq));
	/* first_seq 0 (sequence numbers start at 1). */
	TRY(l.chan[1] + offsetof(struct snapchan_img_chan, first_seq), 8, 0,
	    "first_seq is 0", l.chan[1] + offsetof(struct snapchan_img_chan, first_seq));
	/* An empty channel whose next_seq differs from first_seq. */
	TRY(l.chan[1] + offsetof(struct snapchan_img_chan, next_seq), 8, 2,
	    "next_seq", l.chan[1] + offsetof(struct snapchan_img_chan, next_seq));
	/* A marker with a sequence number. */
	TRY(l.rec[2][0] + REC_SEQ, 8, 100, "MARKER with seq", l.rec[2][0] + REC_SEQ);
	/* Near the top of the range: no wrap-around. */
	TRY(c2a + offsetof(struct snapchan_img_chan, next_seq), 8, UINT64_MAX,
	    "next_seq", c2a + offsetof(struct snapchan_img_chan, next_seq));
	free(buf);
	return test_done("image-seq-gap");
}
