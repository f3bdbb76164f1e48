/*
 * test-buf.c - the capped buffer of store/util/buf.c
 */
#include "store/util/buf.h"
#include "tests/tap.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>

int main(void)
{
	struct buf b;
	char *s;
	size_t len;
	int i, r;

	buf_init(&b, 16);
	ok(b.ptr == NULL && b.len == 0, "init allocates nothing");
	is_int(buf_adds(&b, "hello"), 0, "add within the ceiling");
	is_int(buf_addf(&b, " %d!", 42), 0, "addf within the ceiling");
	is_str(b.ptr, "hello 42!", "contents after add and addf");
	is_int(b.len, 9, "length counts bytes");
	is_int(buf_adds(&b, "12345678"), -E2BIG, "adding past the ceiling fails");
	is_str(b.ptr, "hello 42!", "a failed add leaves the contents unchanged");
	is_int(buf_add(&b, "\0x", 2), 0, "embedded NUL bytes are kept");
	is_int(b.len, 11, "length includes the NUL byte");
	ok(b.ptr[11] == '\0', "always NUL-terminated");
	buf_reset(&b);
	is_int(b.len, 0, "reset empties");
	is_int(buf_addc(&b, 'z'), 0, "addc");
	s = buf_detach(&b, &len);
	is_str(s, "z", "detach hands over the contents");
	is_int(len, 1, "detach reports the length");
	ok(b.ptr == NULL && b.len == 0, "detach resets the buffer");
	free(s);
	s = buf_detach(&b, NULL);
	is_str(s, "", "detach of an empty buffer gives an empty string");
	free(s);

	buf_init(&b, 1 << 20);
	for (i = 0, r = 0; i < 100000 && r == 0; i++)
		r = buf_addf(&b, "%05d", i % 100000);
	ok(r == 0 && b.len == 500000, "growth to 500000 bytes");
	ok(memcmp(b.ptr + 5 * 12345, "12345", 5) == 0, "growth keeps the contents");
	buf_release(&b);
	ok(b.ptr == NULL && b.max == 1 << 20, "release frees and keeps the ceiling");

	buf_init(&b, 64);
	s = NULL;
	is_int(buf_adds(&b, "done"), 0, "add before finish");
	is_int(buf_finish(&b, 0, &s), 0, "finish without an error");
	is_str(s, "done", "finish hands over the contents");
	ok(b.ptr == NULL && b.len == 0, "finish leaves the buffer empty");
	free(s);
	s = NULL;
	is_int(buf_adds(&b, "lost"), 0, "add before a failed finish");
	is_int(buf_finish(&b, -E2BIG, &s), -E2BIG, "finish passes an error through");
	ok(s == NULL && b.ptr == NULL, "and frees the contents without handing them over");

	buf_init(&b, (size_t)-1);
	is_int(buf_add(&b, "x", (size_t)-1), -E2BIG, "a length that would overflow is refused");
	buf_release(&b);

	{
		const char *line = " \t key = v \r\n", *ls = line, *le = line + strlen(line);
		const char *blank = " \t\r\n", *bs = blank, *be = blank + strlen(blank);

		buf_span_trim(&ls, &le);
		ok(le - ls == 7 && memcmp(ls, "key = v", 7) == 0,
			"span_trim drops blanks and CR LF");
		buf_span_trim(&bs, &be);
		ok(bs == be, "span_trim of an all-blank span is empty");
	}
	s = buf_strf("%s %d", "tree object", 3);
	is_str(s, "tree object 3", "strf formats into a new string");
	free(s);
	return tap_done();
}
