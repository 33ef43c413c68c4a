/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Terminal rendering of MCP lists and results. Binary content is never
 * printed: images and audio show as "[image/png, N bytes]". Text from a
 * server is printed as is; --json is the form for scripts.
 */
#include "cli/cmd-mcp-render.h"

#include <string.h>

static const char *str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Decoded size of base64 text, without decoding it. */
static size_t base64_size(const char *b64)
{
	size_t n = 0;

	for (; b64 && *b64; b64++)
		if (*b64 != '=' && *b64 != '\n' && *b64 != '\r')
			n++;
	return n * 3 / 4;
}

static void indented(FILE *out, const char *text, const char *indent)
{
	const char *nl;

	while (text && *text) {
		nl = strchr(text, '\n');
		fprintf(out, "%s%.*s\n", indent,
			(int)(nl ? (size_t)(nl - text) : strlen(text)), text);
		text = nl ? nl + 1 : NULL;
	}
}

static void args_line(FILE *out, json_t *schema)
{
	json_t *props = json_object_get(schema, "properties");
	json_t *req = json_object_get(schema, "required");
	const char *key, *sep = "";
	json_t *p;

	if (!json_object_size(props))
		return;
	fprintf(out, "    args:");
	json_object_foreach(props, key, p)
	{
		bool required = false;
		size_t i;
		json_t *r;

		json_array_foreach(req, i, r)
		{
			required = required ||
				   strcmp(json_string_value(r) ?: "", key) == 0;
		}
		fprintf(out, "%s %s%s%s%s", sep, key,
			str(p, "type") ? ": " : "", str(p, "type") ?: "",
			required ? " (required)" : "");
		sep = ",";
	}
	fputc('\n', out);
}

void mcp_render_tools(FILE *out, json_t *tools)
{
	size_t i;
	json_t *t;

	json_array_foreach(tools, i, t)
	{
		const char *title = str(t, "title");

		fprintf(out, "%s", str(t, "name") ?: "?");
		if (title)
			fprintf(out, " - %s", title);
		fputc('\n', out);
		indented(out, str(t, "description"), "    ");
		args_line(out, json_object_get(t, "inputSchema"));
	}
	if (!json_array_size(tools))
		fprintf(out, "(no tools)\n");
}

void mcp_render_resources(FILE *out, json_t *resources, json_t *templates)
{
	size_t i;
	json_t *r;

	json_array_foreach(resources, i, r)
	{
		fprintf(out, "%s", str(r, "uri") ?: "?");
		if (str(r, "name"))
			fprintf(out, "  %s", str(r, "name"));
		if (str(r, "mimeType"))
			fprintf(out, "  (%s)", str(r, "mimeType"));
		fputc('\n', out);
		indented(out, str(r, "description"), "    ");
	}
	json_array_foreach(templates, i, r)
	{
		fprintf(out, "%s  %s  (template)\n",
			str(r, "uriTemplate") ?: "?", str(r, "name") ?: "");
		indented(out, str(r, "description"), "    ");
	}
	if (!json_array_size(resources) && !json_array_size(templates))
		fprintf(out, "(no resources)\n");
}

void mcp_render_prompts(FILE *out, json_t *prompts)
{
	size_t i, j;
	json_t *p, *a;

	json_array_foreach(prompts, i, p)
	{
		fprintf(out, "%s\n", str(p, "name") ?: "?");
		indented(out, str(p, "description"), "    ");
		json_array_foreach(json_object_get(p, "arguments"), j, a)
		{
			fprintf(out, "    arg %s%s%s%s\n",
				str(a, "name") ?: "?",
				json_is_true(json_object_get(a, "required"))
					? " (required)"
					: "",
				str(a, "description") ? ": " : "",
				str(a, "description") ?: "");
		}
	}
	if (!json_array_size(prompts))
		fprintf(out, "(no prompts)\n");
}

/* An embedded resource's contents (resources/read items too). */
static void resource_contents(FILE *out, json_t *r)
{
	const char *mime = str(r, "mimeType");

	if (str(r, "text")) {
		fprintf(out, "[resource %s%s%s]\n", str(r, "uri") ?: "?",
			mime ? ", " : "", mime ?: "");
		indented(out, str(r, "text"), "");
	} else {
		fprintf(out, "[resource %s, %s, %zu bytes]\n",
			str(r, "uri") ?: "?", mime ?: "binary",
			base64_size(str(r, "blob")));
	}
}

static void content_block(FILE *out, json_t *b)
{
	const char *type = str(b, "type") ?: "";

	if (strcmp(type, "text") == 0) {
		indented(out, str(b, "text"), "");
	} else if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0) {
		fprintf(out, "[%s, %zu bytes]\n", str(b, "mimeType") ?: type,
			base64_size(str(b, "data")));
	} else if (strcmp(type, "resource_link") == 0) {
		fprintf(out, "[resource link %s%s%s%s%s]\n",
			str(b, "uri") ?: "?", str(b, "name") ? " " : "",
			str(b, "name") ?: "", str(b, "mimeType") ? ", " : "",
			str(b, "mimeType") ?: "");
		indented(out, str(b, "description"), "    ");
	} else if (strcmp(type, "resource") == 0) {
		resource_contents(out, json_object_get(b, "resource"));
	} else {
		fprintf(out, "[%s content]\n", type[0] ? type : "unknown");
	}
}

bool mcp_render_call(FILE *out, json_t *result)
{
	bool is_error = json_is_true(json_object_get(result, "isError"));
	json_t *sc = json_object_get(result, "structuredContent");
	size_t i;
	json_t *b;

	if (is_error)
		fprintf(out, "[tool error]\n");
	json_array_foreach(json_object_get(result, "content"), i, b)
		content_block(out, b);
	if (sc) {
		fprintf(out, "[structured content]\n");
		json_dumpf(sc, out, JSON_INDENT(2));
		fputc('\n', out);
	}
	return is_error;
}

void mcp_render_read(FILE *out, json_t *result)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(result, "contents"), i, c)
		resource_contents(out, c);
}

void mcp_render_prompt(FILE *out, json_t *result)
{
	size_t i;
	json_t *m;

	if (str(result, "description"))
		fprintf(out, "%s\n\n", str(result, "description"));
	json_array_foreach(json_object_get(result, "messages"), i, m)
	{
		fprintf(out, "%s:\n", str(m, "role") ?: "?");
		content_block(out, json_object_get(m, "content"));
	}
}
