/* chat_template.c -- the four built-in chat formats (see chat_template.h).
 * Each renderer follows its model family's published template: ChatML and
 * Phi-3 keep content as given, Llama 2 and Llama 3 trim it as their Jinja
 * templates do. Rendering appends to one growable buffer. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"

#define QWEN_DEFAULT_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

static bool contains(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n > len)
		return false;
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(s + i, needle, n) == 0)
			return true;
	return false;
}

void orc_chat_format_detect(const char *t, size_t len, struct orc_chat_format *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!t || !len)
		return;
	if (contains(t, len, "<|start_header_id|>") && contains(t, len, "<|eot_id|>")) {
		ret->kind = ORC_CHAT_LLAMA3;
		ret->system_role = true;
	} else if (contains(t, len, "<|im_start|>")) {
		ret->kind = ORC_CHAT_CHATML;
		ret->system_role = true;
		if (contains(t, len, QWEN_DEFAULT_SYSTEM))
			ret->default_system = QWEN_DEFAULT_SYSTEM;
	} else if (contains(t, len, "<|user|>") && contains(t, len, "<|end|>")) {
		ret->kind = ORC_CHAT_PHI3;
		ret->system_role = contains(t, len, "<|system|>");
	} else if (contains(t, len, "[INST]") && contains(t, len, "[/INST]")) {
		ret->kind = ORC_CHAT_LLAMA2;
		ret->system_role = contains(t, len, "<<SYS>>");
	}
}

const char *orc_chat_format_name(enum orc_chat_kind kind)
{
	switch (kind) {
	case ORC_CHAT_CHATML: return "chatml";
	case ORC_CHAT_PHI3: return "phi3";
	case ORC_CHAT_LLAMA2: return "llama2";
	case ORC_CHAT_LLAMA3: return "llama3";
	default: return "";
	}
}

/* ---- output buffer ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -E2BIG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Python's str.strip() on ASCII whitespace, as the Jinja "| trim" filter. */
static void put_trimmed(struct sbuf *b, const char *s, size_t n)
{
	static const char ws[] = " \t\n\r\v\f";

	while (n && memchr(ws, s[0], sizeof(ws) - 1))
		s++, n--;
	while (n && memchr(ws, s[n - 1], sizeof(ws) - 1))
		n--;
	put(b, s, n);
}

static const char *role_name(enum orc_chat_role r)
{
	return r == ORC_CHAT_SYSTEM ? "system" : r == ORC_CHAT_USER ? "user" : "assistant";
}

/* ---- the formats ---- */

static void render_chatml(struct sbuf *b, const struct orc_chat_format *f,
			  const struct orc_chat_turn *t, size_t n)
{
	if (f->default_system && t[0].role != ORC_CHAT_SYSTEM)
		puts_(b, "<|im_start|>system\n" QWEN_DEFAULT_SYSTEM "<|im_end|>\n");
	for (size_t i = 0; i < n; i++) {
		puts_(b, "<|im_start|>");
		puts_(b, role_name(t[i].role));
		puts_(b, "\n");
		put(b, t[i].content, t[i].len);
		puts_(b, "<|im_end|>\n");
	}
	puts_(b, "<|im_start|>assistant\n");
}

static void render_phi3(struct sbuf *b, const struct orc_chat_format *f,
			const struct orc_chat_turn *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].role == ORC_CHAT_SYSTEM && !f->system_role)
			continue;
		if (t[i].role != ORC_CHAT_ASSISTANT) {
			puts_(b, t[i].role == ORC_CHAT_USER ? "<|user|>\n" : "<|system|>\n");
			put(b, t[i].content, t[i].len);
			puts_(b, "<|end|>\n");
		} else {
			puts_(b, "<|assistant|>\n");
			put(b, t[i].content, t[i].len);
			puts_(b, "<|end|>\n");
		}
	}
	puts_(b, "<|assistant|>\n");
}

/* Meta's Llama 2 template: a system message is honoured only as the first
 * message and goes inside the first turn; each turn's content is stripped
 * as a whole ("[INST] " + strip(content) + " [/INST]", " " + strip(answer)
 * + " </s>"); turns after the first start with "<s>" (the first <s> is the
 * tokenizer's BOS). Other roles render nothing, as in the template. */
static void render_llama2(struct sbuf *b, const struct orc_chat_format *f,
			  const struct orc_chat_turn *t, size_t n)
{
	const struct orc_chat_turn *sys = NULL;
	size_t first = 0;

	if (n && t[0].role == ORC_CHAT_SYSTEM) {
		sys = f->system_role ? &t[0] : NULL;
		first = 1;
	}
	for (size_t i = first; i < n; i++) {
		struct sbuf c = { 0 };

		if (t[i].role == ORC_CHAT_SYSTEM)
			continue;
		if (i == first && sys) {
			puts_(&c, "<<SYS>>\n");
			put(&c, sys->content, sys->len);
			puts_(&c, "\n<</SYS>>\n\n");
		}
		put(&c, t[i].content, t[i].len);
		put(&c, "", 0);
		if (c.err) {
			b->err = c.err;
			free(c.p);
			return;
		}
		if (t[i].role == ORC_CHAT_USER) {
			puts_(b, i == first ? "[INST] " : "<s>[INST] ");
			put_trimmed(b, c.p, c.len);
			puts_(b, " [/INST]");
		} else {
			puts_(b, " ");
			put_trimmed(b, c.p, c.len);
			puts_(b, " </s>");
		}
		free(c.p);
	}
}

static void render_llama3(struct sbuf *b, const struct orc_chat_turn *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		puts_(b, "<|start_header_id|>");
		puts_(b, role_name(t[i].role));
		puts_(b, "<|end_header_id|>\n\n");
		put_trimmed(b, t[i].content, t[i].len);
		puts_(b, "<|eot_id|>");
	}
	puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

int orc_chat_render(const struct orc_chat_format *f, const struct orc_chat_turn *turns,
		    size_t n, char **ret, size_t *ret_len, struct orc_err *err)
{
	struct sbuf b = { 0 };

	if (f->kind == ORC_CHAT_NONE)
		return orc_err_set(err, -ENOTSUP, "the model has no chat format orcd knows");
	if (n == 0)
		return orc_err_set(err, -EINVAL, "messages: empty conversation");
	for (size_t i = 0; i < n; i++)
		if (turns[i].role < ORC_CHAT_SYSTEM || turns[i].role > ORC_CHAT_ASSISTANT)
			return orc_err_set(err, -EINVAL, "messages[%zu]: bad role %d", i,
					   (int)turns[i].role);
	switch (f->kind) {
	case ORC_CHAT_CHATML: render_chatml(&b, f, turns, n); break;
	case ORC_CHAT_PHI3: render_phi3(&b, f, turns, n); break;
	case ORC_CHAT_LLAMA2: render_llama2(&b, f, turns, n); break;
	case ORC_CHAT_LLAMA3: render_llama3(&b, turns, n); break;
	default: break;
	}
	put(&b, "", 0);   /* an empty render still gets a buffer */
	if (b.err) {
		free(b.p);
		return orc_err_set(err, b.err, "rendering the chat: %s",
				   b.err == -ENOMEM ? "out of memory" : "too long");
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}
