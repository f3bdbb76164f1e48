/*
 * test-overrides.c - fetch/overrides.h: Julia's Overrides.toml as a mount
 * applies it, with known answers for every rule of spec §4 and the exact
 * message (file, line, cause) of every way a file is refused.
 */
#include "fetch/overrides.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define H1 "78f35e74ff113f02274ce60dab6e92b4546ef806"
#define H2 "683942669b4639019be7631caa28c38f3e1924fe"
#define H3 "d826e316b6c0d29d9ad0875af6ca63bf67ed38c3"
#define H4 "0123456789abcdef0123456789abcdef01234567"
#define UUID "d57dbccd-ca19-4d82-b9b8-9d660942965b"

static int parse(const char *text, struct fetch_overrides **ov, char **msg)
{
	return fetch_overrides_parse(text, strlen(text), "O.toml", ov, msg);
}

static void test_spec_example(void)
{
	struct fetch_overrides *ov = NULL;
	char *msg = NULL;
	int r;

	r = parse(H1 " = \"/path/to/replacement\"\n"
		  H2 " = \"" H3 "\"\n"
		  H4 " = \"\"\n"
		  "[" UUID "]\n"
		  "libfoo = \"/path/to/libfoo\"\n"
		  "libbar = \"" H2 "\"\n", &ov, &msg);
	is_int(r, 0, "the example of spec §4 loads");
	is_str(msg, NULL, "... without a message");
	is_str(fetch_overrides_find(ov, H1), "/path/to/replacement", "hash -> path");
	is_str(fetch_overrides_find(ov, H2), H3, "hash -> hash");
	is_str(fetch_overrides_find(ov, H4), NULL, "\"\": not overridden");
	is_str(fetch_overrides_find(ov, H3), NULL, "an unlisted hash is not overridden");
	is_int(fetch_overrides_count(ov), 2, "two hashes are overridden");
	is_str(fetch_overrides_hash_at(ov, 0), H2, "... in ascending order");
	is_str(fetch_overrides_hash_at(ov, 1), H1, "... both");
	is_str(fetch_overrides_hash_at(ov, 2), NULL, "... and no more");
	is_int(fetch_overrides_uuid_count(ov), 1, "one package table");
	is_str(fetch_overrides_uuid_at(ov, 0), UUID, "... with its UUID");
	fetch_overrides_free(ov);
}

static void test_case(void)
{
	struct fetch_overrides *ov = NULL;
	char *msg = NULL;

	is_int(parse("78F35E74FF113F02274CE60DAB6E92B4546EF806 = "
		     "\"D826E316B6C0D29D9AD0875AF6CA63BF67ED38C3\"\n", &ov, &msg), 0,
	       "upper-case hashes load");
	is_str(fetch_overrides_find(ov, H1), H3, "... keyed and mapped in lower case");
	fetch_overrides_free(ov);
	ov = NULL;
	is_int(parse("", &ov, &msg), 0, "an empty file loads");
	is_int(fetch_overrides_count(ov), 0, "... with nothing overridden");
	is_str(fetch_overrides_find(NULL, H1), NULL, "no table: nothing overridden");
	fetch_overrides_free(ov);
	fetch_overrides_free(NULL);
}

/* refused - text is refused with exactly want. */
static void refused(const char *text, const char *want, const char *why)
{
	struct fetch_overrides *ov = NULL;
	char *msg = NULL;
	int r;

	r = parse(text, &ov, &msg);
	is_int(r, -EINVAL, "%s: refused", why);
	ok(!ov, "%s: no table", why);
	is_str(msg, want, "%s: the message", why);
	free(msg);
	fetch_overrides_free(ov);
}

static void test_refused(void)
{
	refused("# comment\n" H1 " = \"relative/path\"\n",
		"O.toml:2: hash maps to 'relative/path', which is neither an absolute path, "
		"a 40-digit hash nor \"\"",
		"a relative path");
	refused(H1 " = \"" H2 "0\"\n",
		"O.toml:1: hash maps to '" H2 "0', which is neither an absolute path, "
		"a 40-digit hash nor \"\"",
		"41 hex digits");
	refused(H1 " = 5\n", "O.toml:1: hash needs a string (a path or a hash), not integer",
		"an integer");
	refused(H1 " = [\"/a\"]\n", "O.toml:1: hash needs a string (a path or a hash), not array",
		"an array");
	refused("libfoo = \"/a\"\n",
		"O.toml:1: 'libfoo' is neither a 40-digit artifact hash nor a package UUID "
		"with a table",
		"a name outside a package table");
	refused("[libfoo]\nx = \"/a\"\n",
		"O.toml:1: table 'libfoo' is not keyed by a package UUID", "a table not a UUID");
	refused("\n[" UUID "]\nlibfoo = \"/a\"\nlibbar = 1\n",
		"O.toml:4: 'libbar' of package " UUID " needs a string (a path or a hash), "
		"not integer",
		"a bad value in a package table");
	refused(H1 " = \"/a\\u0000b\"\n", "O.toml:1: hash maps to a path with a NUL byte",
		"a NUL byte");
	refused(H1 " = \"" H1 "\"\n",
		"O.toml:1: '" H1 "' is overridden by a chain of hashes that leads back to it",
		"a hash overridden by itself");
	refused(H1 " = \"" H2 "\"\n" H2 " = \"" H3 "\"\n" H3 " = \"" H2 "\"\n",
		"O.toml:2: '" H2 "' is overridden by a chain of hashes that leads back to it",
		"a cycle further down the chain");
	refused(H1 " = \"/a\"\n\"78F35E74FF113F02274CE60DAB6E92B4546EF806\" = \"/b\"\n",
		"O.toml:2: '" H1 "' is overridden twice", "one hash in two spellings");
	refused(H1 " = \"/a\n", "O.toml:1:47: newline in single-line string", "TOML syntax");
}

static void test_chain_ok(void)
{
	struct fetch_overrides *ov = NULL;
	char *msg = NULL;

	is_int(parse(H1 " = \"" H2 "\"\n" H2 " = \"" H3 "\"\n" H3 " = \"/x\"\n", &ov, &msg), 0,
	       "a chain that ends loads");
	is_str(fetch_overrides_find(ov, H1), H2, "... and each link maps to the next");
	fetch_overrides_free(ov);
}

static void test_load(void)
{
	struct fetch_overrides *ov = NULL;
	char *msg = NULL;
	int r;

	r = fetch_overrides_load("/nonexistent/Overrides.toml", &ov, &msg);
	is_int(r, -ENOENT, "a missing file");
	is_str(msg, "/nonexistent/Overrides.toml: No such file or directory",
	       "... says so with its name");
	free(msg);
}

int main(void)
{
	test_spec_example();
	test_case();
	test_refused();
	test_chain_ok();
	test_load();
	return tap_done();
}
