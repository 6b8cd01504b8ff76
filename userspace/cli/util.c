// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * snapchanctl: messages, parsers, JSON writer.
 */
#define _GNU_SOURCE	/* strerrorname_np() */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *prog = "snapchanctl";

/* What to do about @err when it concerns @obj; NULL when nothing useful. */
static const char *hint(int err, enum obj obj)
{
	switch (err) {
	case ENOENT:
		switch (obj) {
		case OBJ_CONTROL:
			return "the snapchan module is not loaded (modprobe snapchan), or udev has not made /dev/snapchan/control";
		case OBJ_CHANNEL:
		case OBJ_SEND:
		case OBJ_RECV:
			return "no channel of that name; 'snapchanctl list' shows the channels";
		case OBJ_GROUP:
			return "no such group: a group exists while one of its channels or nodes does";
		case OBJ_SNAPSHOT:
			return "no such snapshot, or it ended and is no longer retained (module parameter max_retained)";
		default:
			return NULL;
		}
	case EACCES:
		return obj == OBJ_FILE ? "check the file's permissions" :
		       "the device's mode does not let you open it; ask its owner, or run as root";
	case EPERM:
		switch (obj) {
		case OBJ_SEND:
			return "another end of this channel is attached to a node: only that node sends on it";
		case OBJ_RECV:
			return "another end of this channel is attached to a node: only that node receives on it";
		case OBJ_GROUP:
		case OBJ_SNAPSHOT:
			return "only the owner of the group (the creator of its first channel) or root may do this";
		default:
			return "only the owner (creator) or root may do this";
		}
	case EEXIST:
		return obj == OBJ_FILE ?
		       "the file exists; use --force to replace it" :
		       "a channel of that name exists; choose another name, or destroy it first";
	case EINVAL:
		if (obj == OBJ_CHANNEL || obj == OBJ_GROUP)
			return "a value is invalid or above the module's limits (see /sys/module/snapchan/parameters/)";
		return NULL;
	case ENOSPC:
		return "too many channels or nodes; destroy some, or raise the module's max_channels / max_channels_per_user / max_nodes";
	case EBUSY:
		return obj == OBJ_GROUP ?
		       "too many snapshots of the group are running (module parameter max_snapshots); wait, or abort one" :
		       "busy: the channel end is attached to a node already";
	case EMSGSIZE:
		return obj == OBJ_RECV ? NULL :
		       "the message is longer than the channel's max_msg ('snapchanctl info' shows it)";
	case EAGAIN:
		return obj == OBJ_SEND ? "the channel is full; retry without --nonblock to wait for room" :
		       "nothing to receive";
	case ENODEV:
		return "the channel was destroyed";
	case ENOTTY:
		if (obj == OBJ_SEND || obj == OBJ_RECV)
			return "the loaded module has no batch calls (no 'batch' in 'snapchanctl version'): update it, or use --batch 1 for one message per call";
		return "the loaded module does not know this request: is it older than this tool?";
	case ECANCELED:
		return "the snapshot was aborted; take another one";
	case EALREADY:
		return obj == OBJ_SNAPSHOT ? "the snapshot had ended already" : NULL;
	case ENOEXEC:
		return "not a snapchan image";
	case EPROTONOSUPPORT:
		return "an image version this tool does not read";
	case EBADMSG:
		return "the image is corrupted or truncated";
	case EMFILE:
	case ENFILE:
		return "too many open files";
	case ENOMEM:
		return "out of memory (or above the module's memory limits)";
	default:
		return NULL;
	}
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int report(int err, enum obj obj, const char *fmt, ...)
{
	const char *name, *h;
	va_list ap;

	if (err < 0)
		err = -err;
	name = strerrorname_np(err);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s (%s)\n", strerror(err), name ? name : "?");
	h = hint(err, obj);
	if (h)
		fprintf(stderr, "%s: hint: %s\n", prog, h);
	if (obj == OBJ_CONTROL && (err == ENOENT || err == ENXIO ||
				   err == ENODEV))
		return EXIT_NOMODULE;
	if (err == ENOEXEC || err == EPROTONOSUPPORT || err == EBADMSG)
		return EXIT_IMAGE;
	if (err == ECANCELED)
		return EXIT_ABORTED;
	if (err == ETIMEDOUT)
		return EXIT_TIMEOUT;
	return EXIT_FAIL;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\nTry '%s %s --help' for more information.\n",
			prog, cmd);
	else
		fprintf(stderr, "\nTry '%s --help' for more information.\n",
			prog);
	return EXIT_USAGE;
}

int open_control(int *ctl)
{
	int fd = snapchan_open_control();

	if (fd < 0)
		return report(fd, OBJ_CONTROL, "cannot open the control device");
	*ctl = fd;
	return 0;
}

int image_exit(int err)
{
	if (err == -ENOEXEC || err == -EPROTONOSUPPORT || err == -EBADMSG)
		return EXIT_IMAGE;
	return EXIT_FAIL;
}

int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	default:
		return -1;
	}
	if (*end) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_duration_ns(const char *s, uint64_t *out)
{
	double v, unit = 1e9;
	char *end;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		unit = 1e6;
	else if (!strcmp(end, "s") || !*end)
		unit = 1e9;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		unit = 60e9;
	else if (!strcmp(end, "us"))
		unit = 1e3;
	else
		return -1;
	v *= unit;
	if (v >= 1.8e19)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int parse_mode(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || (v & ~0666UL))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_hex(const char *s, uint8_t **buf, size_t *len)
{
	size_t n = 0, i = 0;
	uint8_t *b;

	for (const char *p = s; *p; p++)
		if (!isspace((unsigned char)*p) && *p != ':')
			n++;
	if (n % 2)
		return -1;
	b = malloc(n / 2 + 1);
	if (!b)
		return -1;
	while (*s) {
		int hi, lo;

		if (isspace((unsigned char)*s) || *s == ':') {
			s++;
			continue;
		}
		hi = hexval(s[0]);
		lo = hexval(s[1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return -1;
		}
		b[i++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*buf = b;
	*len = i;
	return 0;
}

/* --- JSON ------------------------------------------------------------------ */

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = 1;
}

static void json_escaped(FILE *f, const char *s, size_t n)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* A comma if needed, a newline, the indentation and the key. */
static void json_lead(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		fputc('\n', j->f);
		fprintf(j->f, "%*s", 2 * j->depth, "");
	}
	j->first[j->depth] = 0;
	if (key) {
		json_escaped(j->f, key, SIZE_MAX);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *key, char c)
{
	json_lead(j, key);
	fputc(c, j->f);
	if (j->depth < 31)
		j->depth++;
	j->first[j->depth] = 1;
}

static void json_close(struct json *j, char c)
{
	int empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty) {
		fputc('\n', j->f);
		fprintf(j->f, "%*s", 2 * j->depth, "");
	}
	fputc(c, j->f);
}

void json_obj_begin(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void json_obj_end(struct json *j)
{
	json_close(j, '}');
}

void json_arr_begin(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

void json_arr_end(struct json *j)
{
	json_close(j, ']');
}

void json_str(struct json *j, const char *key, const char *val)
{
	json_lead(j, key);
	json_escaped(j->f, val, SIZE_MAX);
}

void json_strn(struct json *j, const char *key, const char *val, size_t n)
{
	json_lead(j, key);
	json_escaped(j->f, val, n);
}

void json_u64(struct json *j, const char *key, uint64_t val)
{
	json_lead(j, key);
	fprintf(j->f, "%llu", (unsigned long long)val);
}

void json_i64(struct json *j, const char *key, int64_t val)
{
	json_lead(j, key);
	fprintf(j->f, "%lld", (long long)val);
}

void json_bool(struct json *j, const char *key, int val)
{
	json_lead(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_hex(struct json *j, const char *key, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	json_lead(j, key);
	fputc('"', j->f);
	for (i = 0; i < len; i++)
		fprintf(j->f, "%02x", b[i]);
	fputc('"', j->f);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
}
