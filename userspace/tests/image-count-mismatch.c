// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Counts must match what follows: the header's node_count, chan_count and
 * record_count, a channel's record_count and record_bytes, each one more
 * or one less than the truth, are -EBADMSG (CRC correct), never a crash.
 */
#include "test.h"

static int try(const uint8_t *buf, size_t len, size_t off, int bytes,
	       int64_t delta, const char *what)
{
	uint8_t *c = dup_image(buf, len, 0);
	int ok;

	wr_le(c + off, bytes, rd_le(c + off, bytes) + (uint64_t)delta);
	fix_crc(c, len);
	ok = EXPECT_REFUSED(c, len, -EBADMSG, what);
	free(c);
	return ok;
}

#define H(f) offsetof(struct snapchan_img_header, f), \
	     FSZ(snapchan_img_header, f)
#define C(i, f) l.chan[i] + offsetof(struct snapchan_img_chan, f), \
		FSZ(snapchan_img_chan, f)

int main(void)
{
	struct layout l;
	uint8_t *buf;
	size_t len, i;

	build_sample(&buf, &len);
	layout_of(buf, len, &l);

	try(buf, len, H(node_count), 1, NULL);
	try(buf, len, H(node_count), -1, NULL);
	try(buf, len, H(node_count), 1000, "node_count");
	try(buf, len, H(chan_count), 1, NULL);
	try(buf, len, H(chan_count), -1, NULL);
	try(buf, len, H(chan_count), 1000, "chan_count");
	try(buf, len, H(record_count), 1, "record_count");
	try(buf, len, H(record_count), -1, "record_count");
	try(buf, len, H(record_count), 1000, "record_count");
	for (i = 0; i < l.chans; i++) {
		try(buf, len, C(i, record_count), 1, NULL);
		if (l.nrec[i])
			try(buf, len, C(i, record_count), -1, NULL);
		try(buf, len, C(i, record_bytes), 1, "record_bytes");
		try(buf, len, C(i, record_bytes), -1, "record_bytes");
	}
	/* Moving one record from a2b to c2a keeps the total right. */
	{
		uint8_t *c = dup_image(buf, len, 0);

		SET(c, l.chan[0], snapchan_img_chan, record_count, 3);
		SET(c, l.chan[2], snapchan_img_chan, record_count, 3);
		fix_crc(c, len);
		EXPECT_REFUSED(c, len, -EBADMSG, NULL);
		free(c);
	}
	free(buf);
	return test_done("image-count-mismatch");
}
