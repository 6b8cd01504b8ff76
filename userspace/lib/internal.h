/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Internal declarations shared by the library's source files.  Symbols
 * here that have external linkage start with __sc_ so that they cannot
 * clash with a program's own in the static library; the version script
 * keeps them out of the shared library's dynamic symbol table.
 */
#ifndef SNAPCHAN_INTERNAL_H
#define SNAPCHAN_INTERNAL_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snapchan.h"

/* The fixed sizes of version 1 of the image format. */
#define IMG_HDR_LEN	104u
#define IMG_NODE_LEN	48u
#define IMG_CHAN_LEN	144u
#define IMG_REC_LEN	32u
#define IMG_TRL_LEN	16u

_Static_assert(sizeof(struct snapchan_img_header) == IMG_HDR_LEN, "hdr");
_Static_assert(sizeof(struct snapchan_img_node) == IMG_NODE_LEN, "node");
_Static_assert(sizeof(struct snapchan_img_chan) == IMG_CHAN_LEN, "chan");
_Static_assert(sizeof(struct snapchan_img_record) == IMG_REC_LEN, "rec");
_Static_assert(sizeof(struct snapchan_img_trailer) == IMG_TRL_LEN, "trl");

/* Padding that follows @len bytes of payload to reach 8-byte alignment. */
static inline uint64_t img_pad(uint64_t len)
{
	return (8 - (len & 7)) & 7;
}

/*
 * Little-endian loads and stores at any alignment, correct on any host:
 * memcpy() the bytes, then convert with le*toh()/htole*().
 */
static inline uint16_t get_le16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void put_le16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* Field @f of image structure @T at @p (a byte pointer). */
#define IMG_FIELD(p, T, f)	((p) + offsetof(struct T, f))
#define IMG_GET16(p, T, f)	get_le16(IMG_FIELD(p, T, f))
#define IMG_GET32(p, T, f)	get_le32(IMG_FIELD(p, T, f))
#define IMG_GET64(p, T, f)	get_le64(IMG_FIELD(p, T, f))
#define IMG_PUT16(p, T, f, v)	put_le16(IMG_FIELD(p, T, f), (v))
#define IMG_PUT32(p, T, f, v)	put_le32(IMG_FIELD(p, T, f), (v))
#define IMG_PUT64(p, T, f, v)	put_le64(IMG_FIELD(p, T, f), (v))

/* Copy a name, known to be valid, into a zeroed SNAPCHAN_NAME_LEN field. */
static inline void sc_name_copy(char dst[SNAPCHAN_NAME_LEN], const char *src)
{
	size_t n = strnlen(src, SNAPCHAN_NAME_LEN - 1);

	memset(dst, 0, SNAPCHAN_NAME_LEN);
	memcpy(dst, src, n);
}

/* CLOCK_MONOTONIC in milliseconds (never fails on Linux). */
uint64_t __sc_now_ms(void);

/*
 * The milliseconds left until @deadline (a __sc_now_ms() value), for
 * poll(2); -1 stays -1 (no deadline).
 */
int __sc_left_ms(int64_t deadline);

#endif /* SNAPCHAN_INTERNAL_H */
