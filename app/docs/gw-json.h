/* gw-json.h: the json-glib tests that the readers of model and outline JSON
 * share (gw-draft.c, deck.c, deck-gen.c, deck-theme.c). Internal to
 * libwenshu-docs and its users.
 *
 * Thread-safety: safe; both functions only read the node. */
#ifndef WENSHU_GW_JSON_H
#define WENSHU_GW_JSON_H

#include <stdbool.h>

#include <json-glib/json-glib.h>

/* The JSON type of node in words, for messages: "an object", "an array",
 * "null", "a string", "a boolean" or "a number". node is not NULL. */
const char *gw_json_kind_words(JsonNode *node);

/* Whether node holds a string; false for NULL. */
bool gw_json_is_string(JsonNode *node);

#endif
