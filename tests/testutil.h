/* testutil.h -- helpers shared by the libcheck suites: locating ../shared
 * fixtures (ORC_SHARED), skipping with exit 77 when they are absent, and
 * running a suite with a consistent exit status. */
#ifndef ORC_TESTUTIL_H
#define ORC_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORC_TEST_SKIP 77

/* Path of a file under the shared fixtures directory, in a static buffer
 * (one per call site is fine: copy it if you need two at once). */
const char *orc_test_shared(const char *rel);
/* Exit 77 with a message unless the shared fixtures directory exists. */
void orc_test_require_shared(void);
/* Whether the shared fixtures' models/ directory can be read; when not,
 * says so on stderr. For suites that run their other tests without them. */
bool orc_test_have_shared(void);
/* Read a whole file; returns malloc'ed bytes (NUL-terminated) or NULL. */
char *orc_test_read_file(const char *path, size_t *ret_len);
/* Feed every file of tests/fuzz/corpus/NAME (under $ORC_SRCDIR) to a fuzz
 * harness body, asserting that each returns 0; returns the number of files. */
size_t orc_test_replay_corpus(const char *name, int (*one)(const uint8_t *data, size_t len));
/* Run one suite; returns 0 when every test passed (use as main's result). */
int orc_test_run(Suite *s);

#endif
