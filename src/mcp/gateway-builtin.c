/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built-in tools of the gateway. sandbox_exec boots a fresh micro-VM,
 * writes files_in into it, runs a command (or an sh script), collects
 * files_out, and destroys the VM; nothing survives the call.
 *
 * Result: a text block with the exit status, stdout and stderr; one
 * embedded resource per files_out path (uri "sandbox://<path>", blob
 * base64); structuredContent {exit_code, signal, timed_out, stdout,
 * stderr, stdout_truncated, stderr_truncated}. isError is true when the
 * command did not exit with status 0 (or did not run), so a model sees
 * the failure.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "mcp/gateway-internal.h"
#include "mcp/jsonrpc.h"
#include "mcp/sandbox.h"

#define SCRIPT_PATH "/tmp/lg-sandbox-script.sh"
#define MAX_ARGS 4096

static const char exec_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"properties\":{"
	"\"command\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
	"\"minItems\":1,\"description\":\"argv of the command (no shell); "
	"give this or script\"},"
	"\"script\":{\"type\":\"string\",\"description\":\"a /bin/sh "
	"script to run instead of command\"},"
	"\"stdin\":{\"type\":\"string\",\"description\":\"text fed to the "
	"command's stdin\"},"
	"\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
	"\"string\"}},"
	"\"workdir\":{\"type\":\"string\",\"description\":\"absolute guest "
	"directory\"},"
	"\"timeout_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":"
	"86400},"
	"\"files_in\":{\"type\":\"object\",\"additionalProperties\":{"
	"\"type\":\"string\"},\"description\":\"absolute guest path -> "
	"base64 content, written before the command runs\"},"
	"\"files_out\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
	"\"description\":\"absolute guest paths returned afterwards as "
	"embedded resources (base64 blobs)\"}}}";

json_t *builtin_tools_list(const struct gateway_config *gc)
{
	json_t *schema = json_loads(exec_schema, 0, NULL);

	(void)gc;
	return json_pack(
		"[{s:s, s:s, s:s, s:o, s:{s:b, s:b, s:b, s:b}}]", "name",
		"sandbox_exec", "title", "Run in a fresh micro-VM",
		"description",
		"Run a command or a shell script in a fresh, isolated "
		"micro-VM (busybox userland) and return its stdout, stderr "
		"and exit code. Files can be written into the VM before "
		"(files_in, base64) and read back after (files_out). The VM "
		"is destroyed afterwards.",
		"inputSchema", schema ? schema : json_object(), "annotations",
		"readOnlyHint", 0, "destructiveHint", 0, "idempotentHint", 0,
		"openWorldHint", 0);
}

bool builtin_tool_exists(const char *name)
{
	return strcmp(name, "sandbox_exec") == 0;
}

char *b64_encode(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

int b64_decode(const char *s, void **out, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *b;
	int got;

	if (n % 4 || n > (size_t)1 << 30)
		return -EINVAL;
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	b = malloc(n / 4 * 3 + 1);
	if (!b)
		return -ENOMEM;
	got = EVP_DecodeBlock(b, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(b);
		return -EINVAL;
	}
	*out = b;
	*len = (size_t)got - pad;
	return 0;
}

struct exec_args {
	char **argv, **envp;
	const char *script, *workdir, *stdin_text;
	unsigned timeout_s;
	json_t *files_in, *files_out;
};

static void exec_args_free(struct exec_args *a)
{
	free(a->argv);
	for (char **e = a->envp; e && *e; e++)
		free(*e);
	free(a->envp);
}

static int bad(struct mcp_server_error *e, const char *msg)
{
	e->code = JSONRPC_INVALID_PARAMS;
	snprintf(e->message, sizeof(e->message), "sandbox_exec: %s", msg);
	return -EINVAL;
}

static int args_env(json_t *env, struct exec_args *a,
		    struct mcp_server_error *e)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	a->envp = calloc(json_object_size(env) + 1, sizeof(char *));
	if (!a->envp)
		return -ENOMEM;
	json_object_foreach(env, k, v)
	{
		if (!json_is_string(v) || !k[0] || strchr(k, '='))
			return bad(e, "env wants NAME: \"value\" strings");
		if (asprintf(&a->envp[i++], "%s=%s", k, json_string_value(v)) <
		    0)
			return -ENOMEM;
	}
	return 0;
}

static int args_parse(json_t *args, struct exec_args *a,
		      struct mcp_server_error *e)
{
	json_t *cmd = json_object_get(args, "command"), *v;
	json_t *env = json_object_get(args, "env");
	json_t *t = json_object_get(args, "timeout_s");
	static const char *const known[] = {"command",	"script",   "stdin",
					    "env",	"workdir",  "timeout_s",
					    "files_in", "files_out"};
	const char *k;
	size_t i;

	json_object_foreach(args, k, v)
	{
		for (i = 0; i < sizeof(known) / sizeof(*known); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(*known))
			return bad(e, "unknown argument");
	}
	a->script = json_string_value(json_object_get(args, "script"));
	if (!!cmd == !!a->script)
		return bad(e, "give exactly one of command and script");
	if (cmd) {
		if (!json_is_array(cmd) || !json_array_size(cmd) ||
		    json_array_size(cmd) > MAX_ARGS)
			return bad(e, "command wants a non-empty array");
		a->argv = calloc(json_array_size(cmd) + 1, sizeof(char *));
		if (!a->argv)
			return -ENOMEM;
		json_array_foreach(cmd, i, v)
		{
			if (!json_is_string(v))
				return bad(e, "command wants strings");
			a->argv[i] = (char *)json_string_value(v);
		}
	}
	if (env && !json_is_object(env))
		return bad(e, "env wants an object");
	if (args_env(env, a, e) < 0)
		return e->code ? -EINVAL : -ENOMEM;
	a->workdir = json_string_value(json_object_get(args, "workdir"));
	if (a->workdir && a->workdir[0] != '/')
		return bad(e, "workdir must be an absolute path");
	a->stdin_text = json_string_value(json_object_get(args, "stdin"));
	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
		  json_integer_value(t) > 86400))
		return bad(e, "timeout_s wants 1 to 86400");
	a->timeout_s = t ? (unsigned)json_integer_value(t) : 0;
	a->files_in = json_object_get(args, "files_in");
	a->files_out = json_object_get(args, "files_out");
	if (a->files_in && !json_is_object(a->files_in))
		return bad(e, "files_in wants {\"/guest/path\": base64}");
	if (a->files_out && !json_is_array(a->files_out))
		return bad(e, "files_out wants an array of guest paths");
	return 0;
}

static int files_in(struct lg_sandbox *sb, const struct exec_args *a, char *err,
		    size_t errlen)
{
	const char *path;
	json_t *v;

	json_object_foreach(a->files_in, path, v)
	{
		const char *s = json_string_value(v);
		void *data = NULL;
		size_t len = 0;
		int rc;

		if (path[0] != '/' || !s || b64_decode(s, &data, &len) < 0) {
			snprintf(err, errlen,
				 "files_in: %s: wants an absolute path and "
				 "base64 content",
				 path);
			return -EINVAL;
		}
		rc = lg_sandbox_put(sb, data, len, 0644, path, err, errlen);
		free(data);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One embedded resource per files_out path, or a text block saying why. */
static void files_out(struct lg_sandbox *sb, const struct exec_args *a,
		      size_t max, json_t *content, bool *failed)
{
	size_t i;
	json_t *v;

	json_array_foreach(a->files_out, i, v)
	{
		const char *path = json_string_value(v);
		char err[512] = "", uri[4200];
		void *data = NULL;
		size_t len = 0;
		char *b64;

		if (!path || path[0] != '/') {
			*failed = true;
			json_array_append_new(
				content,
				json_pack("{s:s, s:s}", "type", "text", "text",
					  "files_out: not an absolute path"));
			continue;
		}
		if (lg_sandbox_get(sb, path, max, &data, &len, err,
				   sizeof(err)) < 0) {
			*failed = true;
			json_array_append_new(content,
					      json_pack("{s:s, s:s}", "type",
							"text", "text", err));
			continue;
		}
		b64 = b64_encode(data, len);
		snprintf(uri, sizeof(uri), "sandbox://%s", path);
		if (b64)
			json_array_append_new(
				content,
				json_pack("{s:s, s:{s:s, s:s, s:s}}", "type",
					  "resource", "resource", "uri", uri,
					  "mimeType",
					  "application/octet-stream", "blob",
					  b64));
		free(b64);
		free(data);
	}
}

/* JSON strings are UTF-8: invalid bytes (and NULs) become '?'. */
static void utf8_clean(char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80	    ? 1
			   : (c >> 5) == 6  ? 2
			   : (c >> 4) == 14 ? 3
			   : (c >> 3) == 30 ? 4
					    : 0;
		size_t j;

		if (c == 0 || n == 0 || i + n > len) {
			s[i++] = '?';
			continue;
		}
		for (j = 1; j < n; j++)
			if (((unsigned char)s[i + j] >> 6) != 2)
				break;
		if (j < n) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

static const char *outcome_text(const struct lg_exec_result *r, char *buf,
				size_t len)
{
	switch (r->outcome) {
	case LG_EXEC_EXITED:
		snprintf(buf, len, "exit code %d", r->code);
		break;
	case LG_EXEC_SIGNALED:
		snprintf(buf, len, "killed by signal %d", r->sig);
		break;
	case LG_EXEC_NOT_STARTED:
		snprintf(buf, len, "did not start: %s", r->msg);
		break;
	case LG_EXEC_TIMED_OUT:
		snprintf(buf, len, "timed out; the VM was destroyed");
		break;
	case LG_EXEC_INTERRUPTED:
		snprintf(buf, len, "cancelled");
		break;
	default:
		snprintf(buf, len, "VM failed: %s", r->msg);
		break;
	}
	return buf;
}

static json_t *result_build(struct lg_sandbox_output *o, json_t *files,
			    bool files_failed)
{
	const struct lg_exec_result *r = &o->r;
	char what[320], *text = NULL;
	json_t *res, *content;
	bool ok = r->outcome == LG_EXEC_EXITED && r->code == 0;

	outcome_text(r, what, sizeof(what));
	utf8_clean(o->out, o->out_len);
	utf8_clean(o->err, o->err_len);
	if (asprintf(&text, "%s\n--- stdout%s ---\n%s\n--- stderr%s ---\n%s",
		     what, o->out_truncated ? " (truncated)" : "", o->out,
		     o->err_truncated ? " (truncated)" : "", o->err) < 0)
		return NULL;
	content = json_pack("[{s:s, s:s}]", "type", "text", "text", text);
	free(text);
	if (content)
		json_array_extend(content, files);
	res = json_pack("{s:o, s:{s:o, s:o, s:b, s:s, s:s, s:b, s:b}, s:b}",
			"content", content ? content : json_array(),
			"structuredContent", "exit_code",
			r->outcome == LG_EXEC_EXITED ? json_integer(r->code)
						     : json_null(),
			"signal",
			r->outcome == LG_EXEC_SIGNALED ? json_integer(r->sig)
						       : json_null(),
			"timed_out", r->outcome == LG_EXEC_TIMED_OUT, "stdout",
			o->out, "stderr", o->err, "stdout_truncated",
			o->out_truncated, "stderr_truncated", o->err_truncated,
			"isError", !ok || files_failed);
	return res;
}

static int tool_error(json_t **result, const char *msg)
{
	*result = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
			    "text", msg, "isError", 1);
	return *result ? 0 : -ENOMEM;
}

static int sandbox_exec(const struct gateway_config *gc, struct mcp_req *req,
			json_t *args, json_t **result,
			struct mcp_server_error *e)
{
	struct exec_args a = {0};
	struct lg_sandbox_opts vo = gc->vm;
	struct lg_sandbox sb;
	struct lg_sandbox_output out = {0};
	char *script_argv[] = {"/bin/sh", SCRIPT_PATH, NULL};
	struct lg_sandbox_cmd cmd = {0};
	json_t *files = json_array();
	bool files_failed = false;
	char err[1024];
	int rc;

	rc = args ? args_parse(args, &a, e) : bad(e, "arguments missing");
	if (rc < 0) {
		exec_args_free(&a);
		json_decref(files);
		return rc;
	}
	vo.cancel_fd = req->cancel_fd;
	mcp_req_progress(req, 0, 3, "booting a micro-VM");
	rc = lg_sandbox_start(&vo, &sb, err, sizeof(err));
	if (rc < 0) {
		exec_args_free(&a);
		json_decref(files);
		lg_warn("sandbox_exec: %s", err);
		return tool_error(result, err);
	}
	mcp_req_progress(req, 1, 3, "VM up; running the command");
	if (a.script)
		rc = lg_sandbox_put(&sb, a.script, strlen(a.script), 0700,
				    SCRIPT_PATH, err, sizeof(err));
	if (!rc)
		rc = files_in(&sb, &a, err, sizeof(err));
	if (!rc) {
		cmd.argv = a.script ? script_argv : a.argv;
		cmd.envp = a.envp;
		cmd.cwd = a.workdir;
		cmd.stdin_data = a.stdin_text;
		cmd.stdin_len = a.stdin_text ? strlen(a.stdin_text) : 0;
		cmd.timeout_ms = (a.timeout_s	       ? a.timeout_s
				  : gc->exec_timeout_s ? gc->exec_timeout_s
						       : 60) *
				 1000u;
		cmd.cancel_fd = req->cancel_fd;
		cmd.max_output = gc->max_output ? gc->max_output : 1u << 20;
		rc = lg_sandbox_run(&sb, &cmd, &out, err, sizeof(err));
	}
	if (!rc && (out.r.outcome == LG_EXEC_EXITED ||
		    out.r.outcome == LG_EXEC_SIGNALED)) {
		mcp_req_progress(req, 2, 3, "collecting files");
		files_out(&sb, &a, gc->max_file ? gc->max_file : 8u << 20,
			  files, &files_failed);
	}
	lg_sandbox_stop(&sb);
	if (!rc) {
		*result = result_build(&out, files, files_failed);
		rc = *result ? 0 : -ENOMEM;
	} else {
		rc = tool_error(result, err);
	}
	mcp_req_progress(req, 3, 3, "done");
	lg_sandbox_output_free(&out);
	json_decref(files);
	exec_args_free(&a);
	return rc;
}

int builtin_tool_call(const struct gateway_config *gc, struct mcp_req *req,
		      const char *name, json_t *args, json_t **result,
		      struct mcp_server_error *e)
{
	if (strcmp(name, "sandbox_exec") == 0)
		return sandbox_exec(gc, req, args, result, e);
	e->code = JSONRPC_INVALID_PARAMS;
	snprintf(e->message, sizeof(e->message), "unknown tool %s", name);
	return -ENOENT;
}
