// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Lengths near the top of their range must not wrap the bounds checks: a
 * node state_len and record len of huge values (UINT64_MAX, UINT64_MAX - 7
 * where padding would wrap to 0, 2^63, one past what is left, ...) and
 * huge counts are -EBADMSG with a correct CRC, without reading outside the
 * buffer (valgrind checks that) and without huge allocations.
 */
#include "test.h"

static const uint64_t huge[] = {
	UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 7, UINT64_MAX - 8,
	UINT64_MAX - 47, UINT64_MAX - 48, UINT64_MAX - 103,
	(uint64_t)1 << 63, ((uint64_t)1 << 63) - 1, (uint64_t)1 << 32,
	UINT32_MAX, (uint64_t)SIZE_MAX - 15,
};
#define NHUGE (sizeof(huge) / sizeof(huge[0]))

static void try(const uint8_t *buf, size_t len, size_t off, int bytes,
		uint64_t v)
{
	uint8_t *c = dup_image(buf, len, 0);

	wr_le(c + off, bytes, v);
	fix_crc(c, len);
	if (!EXPECT_REFUSED(c, len, -EBADMSG, NULL))
		fprintf(stderr, "  (value %" PRIu64 " at offset %zu)\n", v, off);
	free(c);
}

#define AT(base, T, f) (base) + offsetof(struct T, f), FSZ(T, f)

int main(void)
{
	struct layout l;
	uint8_t *buf;
	size_t len, i, k;

	build_sample(&buf, &len);
	layout_of(buf, len, &l);

	for (k = 0; k < NHUGE; k++) {
		for (i = 0; i < l.nodes; i++)
			try(buf, len, AT(l.node[i], snapchan_img_node, state_len),
			    huge[k]);
		try(buf, len, AT(0, snapchan_img_header, record_count), huge[k]);
		try(buf, len, AT(0, snapchan_img_header, node_count), huge[k]);
		try(buf, len, AT(0, snapchan_img_header, chan_count), huge[k]);
		for (i = 0; i < l.chans; i++) {
			try(buf, len, AT(l.chan[i], snapchan_img_chan, record_count),
			    huge[k]);
			try(buf, len, AT(l.chan[i], snapchan_img_chan, record_bytes),
			    huge[k]);
		}
		try(buf, len, AT(l.rec[0][0], snapchan_img_record, len), huge[k]);
		try(buf, len, AT(l.rec[2][1], snapchan_img_record, len), huge[k]);
	}

	/* Exactly one byte more than is left, for every node. */
	for (i = 0; i < l.nodes; i++) {
		size_t left = l.trailer - l.node[i] - sizeof(struct snapchan_img_node);

		try(buf, len, AT(l.node[i], snapchan_img_node, state_len), left + 1);
		/* Exactly what is left, with no room for the padding or the
		 * sections after: also refused. */
		try(buf, len, AT(l.node[i], snapchan_img_node, state_len), left);
	}
	/* A last record whose payload runs into the trailer. */
	{
		size_t r = l.rec[2][1];
		size_t left = l.trailer - r - sizeof(struct snapchan_img_record);

		try(buf, len, AT(r, snapchan_img_record, len), left + 1);
		try(buf, len, AT(r, snapchan_img_record, len), left + 16);
	}
	free(buf);
	return test_done("image-state-overflow");
}
