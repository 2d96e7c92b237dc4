/* fuzz_chat_template.c -- fuzz chat-template recognition and rendering
 * (daemon/chat_template.c). Invariants: a recognised kind has its markers
 * in the text and a name; rendering valid turns succeeds, is NUL-terminated
 * at the reported length, ends with the format's generation prompt and
 * holds every content the format keeps; a bad role or no turns is refused. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "fuzz_chat_template.h"

#define TURNS_MAX 64

static bool has(const void *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle)) != NULL;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The content as the format renders it: Llama 3 trims it. */
static void trimmed(const char **s, size_t *n)
{
	static const char ws[] = " \t\n\r\v\f";

	while (*n && memchr(ws, (*s)[0], sizeof(ws) - 1))
		(*s)++, (*n)--;
	while (*n && memchr(ws, (*s)[*n - 1], sizeof(ws) - 1))
		(*n)--;
}

static int check_detect(const char *t, size_t n, const struct orc_chat_format *f)
{
	bool named = orc_chat_format_name(f->kind)[0] != '\0';

	if (named != (f->kind != ORC_CHAT_NONE))
		return -1;
	switch (f->kind) {
	case ORC_CHAT_LLAMA3:
		return has(t, n, "<|start_header_id|>") && has(t, n, "<|eot_id|>") ? 0 : -1;
	case ORC_CHAT_CHATML:
		return has(t, n, "<|im_start|>") ? 0 : -1;
	case ORC_CHAT_PHI3:
		return has(t, n, "<|user|>") && has(t, n, "<|end|>") && !f->default_system ? 0 : -1;
	case ORC_CHAT_LLAMA2:
		return has(t, n, "[INST]") && has(t, n, "[/INST]") && !f->default_system ? 0 : -1;
	default:
		return f->default_system || f->system_role ? -1 : 0;
	}
}

static const char *gen_prompt(enum orc_chat_kind k)
{
	switch (k) {
	case ORC_CHAT_CHATML: return "<|im_start|>assistant\n";
	case ORC_CHAT_PHI3: return "<|assistant|>\n";
	case ORC_CHAT_LLAMA3: return "<|start_header_id|>assistant<|end_header_id|>\n\n";
	default: return "";
	}
}

/* Is turn i's content in the output? Llama 2 folds and trims turns, so
 * only the other formats are checked this way. */
static bool kept(const struct orc_chat_format *f, const struct orc_chat_turn *t, const char *out,
		 size_t len)
{
	const char *s = t->content;
	size_t n = t->len;

	if (f->kind == ORC_CHAT_LLAMA2 || (f->kind == ORC_CHAT_PHI3 && t->role == ORC_CHAT_SYSTEM &&
					   !f->system_role))
		return true;
	if (f->kind == ORC_CHAT_LLAMA3)
		trimmed(&s, &n);
	return n == 0 || memmem(out, len, s, n) != NULL;
}

static int check_render(const struct orc_chat_format *f, const struct orc_chat_turn *t, size_t n,
			bool valid)
{
	char *out = NULL;
	size_t len = 0;
	int r = orc_chat_render(f, t, n, &out, &len, NULL);

	if (f->kind == ORC_CHAT_NONE)
		return r == -ENOTSUP ? 0 : -1;
	if (!valid || n == 0)
		return r == -EINVAL ? 0 : -1;
	if (r < 0)
		return -1;
	r = out[len] == '\0' && ends_with(out, len, gen_prompt(f->kind)) ? 0 : -1;
	for (size_t i = 0; i < n && r == 0; i++)
		if (!kept(f, &t[i], out, len))
			r = -1;
	free(out);
	return r;
}

int orc_fuzz_chat_template_one(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *z;
	struct orc_chat_turn turns[TURNS_MAX];
	struct orc_chat_format f;
	size_t tlen, n = 0;
	bool valid = true;

	z = memchr(p, '\0', size);
	tlen = z ? (size_t)(z - p) : size;
	orc_chat_format_detect(p, tlen, &f);
	if (check_detect(p, tlen, &f) < 0)
		return -1;
	for (p = z ? z + 1 : end; p < end && n < TURNS_MAX; n++) {
		z = memchr(p, '\0', (size_t)(end - p));
		if (!z)
			z = end;
		turns[n].role = (enum orc_chat_role)(p[0] & 3);
		if (turns[n].role == 0)
			turns[n].role = (p[0] & 4) ? (enum orc_chat_role)7 : (enum orc_chat_role)0;
		valid = valid && turns[n].role >= ORC_CHAT_SYSTEM && turns[n].role <= ORC_CHAT_ASSISTANT;
		turns[n].content = p + 1 <= z ? p + 1 : z;
		turns[n].len = (size_t)(z - turns[n].content);
		p = z < end ? z + 1 : end;
	}
	if (check_render(&f, turns, n, valid) < 0)
		return -1;
	for (int k = ORC_CHAT_CHATML; k <= ORC_CHAT_LLAMA3; k++) {
		struct orc_chat_format g = { .kind = (enum orc_chat_kind)k, .system_role = size & 1,
					     .default_system = (size & 2) ? "a default system prompt" : NULL };
		if (check_render(&g, turns, n, valid) < 0)
			return -1;
	}
	return 0;
}

#ifdef ORC_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (orc_fuzz_chat_template_one(data, size) < 0)
		abort();
	return 0;
}
#endif
