/* check_chat_template.c -- the built-in chat formats: recognition of
 * template texts (those of the fixture GGUFs and the published Llama ones)
 * and rendering, compared with what each Jinja template produces by its
 * definition. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "testutil.h"

/* tokenizer.chat_template of ../shared/models/tiny-qwen2-q8_0.gguf */
static const char chatml_tmpl[] =
	"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
	"'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
/* of ../shared/models/tiny-phi3-bf16.gguf */
static const char phi3_tmpl[] =
	"{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + "
	"message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}"
	"{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}";
/* Meta-Llama-3-8B-Instruct */
static const char llama3_tmpl[] =
	"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
	"'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
	"'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
	"{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}";
/* Llama-2-7b-chat-hf */
static const char llama2_tmpl[] =
	"{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
	"messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}"
	"{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}"
	"{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}"
	"{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + "
	"'[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + "
	"content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

#define TURN(r, s) { r, s, sizeof(s) - 1 }

static char *render(const char *tmpl, const struct orc_chat_turn *t, size_t n)
{
	struct orc_chat_format f;
	char *out = NULL;
	size_t len = 0;

	orc_chat_format_detect(tmpl, strlen(tmpl), &f);
	ck_assert_int_eq(orc_chat_render(&f, t, n, &out, &len, NULL), 0);
	ck_assert_uint_eq(strlen(out), len);
	return out;
}

START_TEST(detect)
{
	struct orc_chat_format f;

	orc_chat_format_detect(chatml_tmpl, strlen(chatml_tmpl), &f);
	ck_assert_int_eq(f.kind, ORC_CHAT_CHATML);
	ck_assert_ptr_null(f.default_system);
	orc_chat_format_detect(phi3_tmpl, strlen(phi3_tmpl), &f);
	ck_assert_int_eq(f.kind, ORC_CHAT_PHI3);
	ck_assert(!f.system_role);
	orc_chat_format_detect(llama3_tmpl, strlen(llama3_tmpl), &f);
	ck_assert_int_eq(f.kind, ORC_CHAT_LLAMA3);
	orc_chat_format_detect(llama2_tmpl, strlen(llama2_tmpl), &f);
	ck_assert_int_eq(f.kind, ORC_CHAT_LLAMA2);
	ck_assert(f.system_role);
	orc_chat_format_detect("{{ messages }}", 14, &f);
	ck_assert_int_eq(f.kind, ORC_CHAT_NONE);
	orc_chat_format_detect(NULL, 0, &f);
	ck_assert_int_eq(f.kind, ORC_CHAT_NONE);
	ck_assert_str_eq(orc_chat_format_name(ORC_CHAT_CHATML), "chatml");
	ck_assert_str_eq(orc_chat_format_name(ORC_CHAT_NONE), "");
}
END_TEST

START_TEST(chatml)
{
	const struct orc_chat_turn t[] = { TURN(ORC_CHAT_SYSTEM, "Be brief."), TURN(ORC_CHAT_USER, " Hi\n") };
	char *s = render(chatml_tmpl, t, 2);

	ck_assert_str_eq(s, "<|im_start|>system\nBe brief.<|im_end|>\n"
			    "<|im_start|>user\n Hi\n<|im_end|>\n<|im_start|>assistant\n");
	free(s);
}
END_TEST

START_TEST(chatml_qwen_default_system)
{
	static const char qwen[] =
		"{%- if messages[0]['role'] == 'system' %}...{%- else %}{{- '<|im_start|>system\\n"
		"You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
		"{%- endif %}<|im_start|>";
	const struct orc_chat_turn t[] = { TURN(ORC_CHAT_USER, "Hi") };
	char *s = render(qwen, t, 1);

	ck_assert_str_eq(s, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
			    "helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
			    "<|im_start|>assistant\n");
	free(s);
}
END_TEST

START_TEST(phi3)
{
	const struct orc_chat_turn t[] = {
		TURN(ORC_CHAT_SYSTEM, "ignored by this template"), TURN(ORC_CHAT_USER, "U1"),
		TURN(ORC_CHAT_ASSISTANT, "A1"), TURN(ORC_CHAT_USER, "U2"),
	};
	char *s = render(phi3_tmpl, t, 4);

	/* user: '<|user|>\n' + c + '<|end|>\n<|assistant|>\n'; assistant: c + '<|end|>\n' */
	ck_assert_str_eq(s, "<|user|>\nU1<|end|>\n<|assistant|>\nA1<|end|>\n"
			    "<|user|>\nU2<|end|>\n<|assistant|>\n");
	free(s);
}
END_TEST

START_TEST(llama3)
{
	const struct orc_chat_turn t[] = { TURN(ORC_CHAT_SYSTEM, " S "), TURN(ORC_CHAT_USER, "\tHi\n") };
	char *s = render(llama3_tmpl, t, 2);

	ck_assert_str_eq(s, "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
			    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
			    "<|start_header_id|>assistant<|end_header_id|>\n\n");
	free(s);
}
END_TEST

START_TEST(llama2)
{
	const struct orc_chat_turn t[] = {
		TURN(ORC_CHAT_SYSTEM, " S"), TURN(ORC_CHAT_USER, "U1 "), TURN(ORC_CHAT_ASSISTANT, " A1"),
		TURN(ORC_CHAT_USER, "U2"),
	};
	char *s = render(llama2_tmpl, t, 4);

	/* The system block is not stripped inside; the whole content is. */
	ck_assert_str_eq(s, "[INST] <<SYS>>\n S\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]");
	free(s);
}
END_TEST

START_TEST(errors)
{
	struct orc_chat_format f = { .kind = ORC_CHAT_NONE };
	const struct orc_chat_turn t[] = { TURN(ORC_CHAT_USER, "x") };
	struct orc_chat_turn bad = { (enum orc_chat_role)9, "x", 1 };
	struct orc_err err = { 0 };
	char *out = NULL;
	size_t len;

	ck_assert_int_eq(orc_chat_render(&f, t, 1, &out, &len, &err), -ENOTSUP);
	f.kind = ORC_CHAT_CHATML;
	ck_assert_int_eq(orc_chat_render(&f, t, 0, &out, &len, &err), -EINVAL);
	ck_assert_int_eq(orc_chat_render(&f, &bad, 1, &out, &len, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "role"));
	ck_assert_ptr_null(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chat_template");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, detect);
	tcase_add_test(tc, chatml);
	tcase_add_test(tc, chatml_qwen_default_system);
	tcase_add_test(tc, phi3);
	tcase_add_test(tc, llama3);
	tcase_add_test(tc, llama2);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
