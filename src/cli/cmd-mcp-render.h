/* SPDX-License-Identifier: Apache-2.0 */
/* `luminaguard mcp`: MCP results as readable terminal text. */
#ifndef LG_CLI_CMD_MCP_RENDER_H
#define LG_CLI_CMD_MCP_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

void mcp_render_tools(FILE *out, json_t *tools);
void mcp_render_resources(FILE *out, json_t *resources, json_t *templates);
void mcp_render_prompts(FILE *out, json_t *prompts);
/* A tools/call result; returns its isError. */
bool mcp_render_call(FILE *out, json_t *result);
void mcp_render_read(FILE *out, json_t *result);
void mcp_render_prompt(FILE *out, json_t *result);

#endif
