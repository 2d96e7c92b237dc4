/* fuzz_chat_template.h -- the body of the chat-template fuzzer, shared by
 * the libFuzzer harness (fuzz_chat_template.c with ORC_FUZZ_MAIN) and
 * check_chat_template_fuzz, which replays the seeds and every crasher. */
#ifndef ORC_FUZZ_CHAT_TEMPLATE_H
#define ORC_FUZZ_CHAT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

/* Input: a template text, then turns, separated by NUL bytes; each turn's
 * first byte picks its role (low 2 bits: 0 = an invalid role, 1-3 = system,
 * user, assistant), the rest is its content. Recognises the template and
 * renders the turns in the recognised format and in all four built-in
 * ones. Returns 0, or -1 when an invariant broke (the fuzzer aborts). */
int orc_fuzz_chat_template_one(const uint8_t *data, size_t size);

#endif
