/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * snapchanctl internals: exit codes, messages, argument parsing and a
 * small JSON writer (util.c); image printing (print.c).
 */
#ifndef SNAPCHANCTL_CLI_H
#define SNAPCHANCTL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "snapchan.h"

/* Exit codes (documented in --help and snapchanctl(8)). */
#define EXIT_OK		0	/* success */
#define EXIT_FAIL	1	/* the operation failed; the message says why */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_IMAGE	3	/* an image is invalid (verification failed) */
#define EXIT_ABORTED	4	/* the snapshot was aborted */
#define EXIT_TIMEOUT	5	/* timed out, or nothing to receive */
#define EXIT_NOMODULE	6	/* no snapchan module (no control device) */

extern const char *prog;

/* What an errno refers to, to pick the hint printed with it. */
enum obj {
	OBJ_NONE,
	OBJ_CONTROL,	/* the control device */
	OBJ_CHANNEL,	/* a channel (create, open, info...) */
	OBJ_GROUP,	/* a group (snapshot begin, join) */
	OBJ_SNAPSHOT,	/* a snapshot (open, abort, wait) */
	OBJ_FILE,	/* a file */
	OBJ_SEND,	/* sending on a channel */
	OBJ_RECV,	/* receiving on a channel */
};

/*
 * Print "snapchanctl: WHAT: strerror (ENAME)" and a hint line for @err
 * (negative errno) about @obj; return the exit code for it.
 */
int report(int err, enum obj obj, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print "snapchanctl: ..." on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Usage error: message, then "see --help"; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Open the control device, or report (EXIT_NOMODULE when absent). */
int open_control(int *ctl);

/* Exit code for an image error (verification: EXIT_IMAGE). */
int image_exit(int err);

/* Parsers: 0 or -1. */
int parse_u64(const char *s, uint64_t *out);
int parse_size(const char *s, uint64_t *out);	  /* 4096, 64k, 1M, 1G */
int parse_duration_ns(const char *s, uint64_t *out); /* 10, 1.5, 500ms, 2s, 1m */
int parse_mode(const char *s, uint32_t *out);	  /* octal, within 0666 */
int parse_hex(const char *s, uint8_t **buf, size_t *len);

/* A tiny streaming JSON writer with indentation. */
struct json {
	FILE *f;
	int   depth;
	int   first[32];	/* nothing written yet at this depth */
};

void json_init(struct json *j, FILE *f);
void json_obj_begin(struct json *j, const char *key);	/* key NULL in arrays */
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_str(struct json *j, const char *key, const char *val);
void json_strn(struct json *j, const char *key, const char *val, size_t n);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_i64(struct json *j, const char *key, int64_t val);
void json_bool(struct json *j, const char *key, int val);
void json_hex(struct json *j, const char *key, const void *buf, size_t len);
void json_end(struct json *j);	/* final newline */

/* Printing images (print.c). */
#define PRINT_RECORDS	(1U << 0)	/* list every record */
#define PRINT_PAYLOAD	(1U << 1)	/* and dump payloads and states */

void print_image_text(FILE *f, const struct snapchan_image *img,
		      unsigned int flags);
void print_image_json(FILE *f, const struct snapchan_image *img,
		      unsigned int flags);

/* "0600"-style text for a mode, "eof" for flags... */
const char *kind_name(unsigned int kind);
void hexdump(FILE *f, const void *buf, size_t len, const char *indent);

#endif /* SNAPCHANCTL_CLI_H */
