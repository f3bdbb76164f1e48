/*
 * toml-decoder.c - a toml-test decoder for fetch/toml.c
 *
 * Reads a TOML document on stdin and writes the tagged JSON encoding of
 * toml-test (../shared/toml-test/README.md) on stdout, exit status 0.  For a
 * document that is not valid TOML 1.0.0 it prints "line:column: reason" on
 * stderr and exits 1; other failures (I/O, memory) exit 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch/toml.h"
#include "store/util/buf.h"

static void put_json_string(FILE *f, const char *s, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
			break;
		}
	}
	fputc('"', f);
}

static void put_datetime(FILE *f, enum toml_type t, const struct toml_datetime *dt)
{
	char frac[16] = "";

	if (dt->frac_digits > 0) {
		char digits[16];

		snprintf(digits, sizeof(digits), "%09" PRIu32, dt->nanosecond);
		snprintf(frac, sizeof(frac), ".%.*s", dt->frac_digits > 9 ? 9 : dt->frac_digits,
			digits);
	}
	if (t != TOML_TIME_LOCAL)
		fprintf(f, "%04d-%02d-%02d", dt->year, dt->month, dt->day);
	if (t == TOML_DATE_LOCAL)
		return;
	if (t != TOML_TIME_LOCAL)
		fputc('T', f);
	fprintf(f, "%02d:%02d:%02d%s", dt->hour, dt->minute, dt->second, frac);
	if (t != TOML_DATETIME)
		return;
	if (dt->offset_z) {
		fputc('Z', f);
	} else {
		int off = dt->offset_minutes < 0 ? -dt->offset_minutes : dt->offset_minutes;

		fprintf(f, "%c%02d:%02d", dt->offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
	}
}

static void put_value(FILE *f, const struct toml_value *v)
{
	enum toml_type t = toml_type(v);
	const char *s, *k;
	size_t i, len;
	double d;

	switch (t) {
	case TOML_TABLE:
		fputc('{', f);
		for (i = 0; i < toml_len(v); i++) {
			k = toml_key_at(v, i, &len);
			if (i)
				fputc(',', f);
			put_json_string(f, k, len);
			fputc(':', f);
			put_value(f, toml_value_at(v, i));
		}
		fputc('}', f);
		return;
	case TOML_ARRAY:
		fputc('[', f);
		for (i = 0; i < toml_len(v); i++) {
			if (i)
				fputc(',', f);
			put_value(f, toml_at(v, i));
		}
		fputc(']', f);
		return;
	default:
		break;
	}
	fprintf(f, "{\"type\":\"%s\",\"value\":", toml_type_name(t));
	switch (t) {
	case TOML_STRING:
		s = toml_string(v, &len);
		put_json_string(f, s, len);
		break;
	case TOML_INTEGER:
		fprintf(f, "\"%" PRId64 "\"", toml_integer(v));
		break;
	case TOML_FLOAT:
		d = toml_float(v);
		if (isnan(d))
			fputs("\"nan\"", f);
		else if (isinf(d))
			fputs(d < 0 ? "\"-inf\"" : "\"inf\"", f);
		else
			fprintf(f, "\"%.17g\"", d);
		break;
	case TOML_BOOL:
		fputs(toml_bool(v) ? "\"true\"" : "\"false\"", f);
		break;
	default:
		fputc('"', f);
		put_datetime(f, t, toml_datetime(v));
		fputc('"', f);
		break;
	}
	fputc('}', f);
}

int main(void)
{
	struct toml_value *root = NULL;
	struct toml_error err;
	char chunk[16384];
	struct buf in;
	int r, status = 2;
	ssize_t n;

	buf_init(&in, TOML_MAX_INPUT + 1);
	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "toml-decoder: cannot read stdin: %s\n", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		r = buf_add(&in, chunk, (size_t)n);
		if (r == -E2BIG) {
			fprintf(stderr, "1:1: document larger than %u bytes\n", TOML_MAX_INPUT);
			status = 1;
			goto out;
		}
		if (r < 0) {
			fprintf(stderr, "toml-decoder: %s\n", strerror(-r));
			goto out;
		}
	}
	r = toml_parse(in.ptr ? in.ptr : "", in.len, &root, &err);
	if (r == -EINVAL || r == -E2BIG) {
		fprintf(stderr, "%u:%u: %s\n", err.line, err.column, err.msg);
		status = 1;
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "toml-decoder: %s\n", strerror(-r));
		goto out;
	}
	put_value(stdout, root);
	fputc('\n', stdout);
	status = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 2;
out:
	toml_free(root);
	buf_release(&in);
	return status;
}
