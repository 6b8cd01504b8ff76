// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * A wrong header magic is -ENOEXEC (not an image), even with a correct
 * CRC; other files (an ELF header, text) are -ENOEXEC; a wrong trailer
 * magic is -EBADMSG.
 */
#include "test.h"

int main(void)
{
	static const uint8_t elf[128] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	const char *text = "hello, world: this is not an image at all\n";
	struct layout l;
	uint8_t *buf, *c;
	size_t len;

	build_sample(&buf, &len);
	layout_of(buf, len, &l);

	c = dup_image(buf, len, 0);
	SET(c, 0, snapchan_img_header, magic, 0x48434e54);
	fix_crc(c, len);
	EXPECT_REFUSED_AT(c, len, -ENOEXEC, "magic", 0);
	SET(c, 0, snapchan_img_header, magic, SNAPCHAN_IMG_END_MAGIC);
	fix_crc(c, len);
	EXPECT_REFUSED_AT(c, len, -ENOEXEC, "magic", 0);
	/* Byte-swapped: a big-endian writer. */
	SET(c, 0, snapchan_img_header, magic, 0x534e4348);
	EXPECT_REFUSED_AT(c, len, -ENOEXEC, "magic", 0);
	free(c);

	EXPECT_REFUSED(elf, sizeof(elf), -ENOEXEC, "not a snapchan image");
	EXPECT_REFUSED(text, strlen(text), -ENOEXEC, NULL);
	EXPECT_REFUSED("SNC", 3, -EBADMSG, "truncated");

	c = dup_image(buf, len, 0);
	SET(c, l.trailer, snapchan_img_trailer, magic, 0);
	EXPECT_REFUSED_AT(c, len, -EBADMSG, "trailer magic", l.trailer);
	free(c);
	free(buf);
	return test_done("image-bad-magic");
}
