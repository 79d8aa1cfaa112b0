/* The topology's `schema:` section (docs/config.md "Schemas") into an sl_schema. Used only by
 * topology_yaml.c. Any thread. */
#ifndef SL_SCHEMA_YAML_H
#define SL_SCHEMA_YAML_H

#include "schema.h"
#include "yamlmap.h"

/* Reads the mapping n at "schema" into *s (declared = 1, delimiter and header left as they
 * are) and checks it (sl_schema_check). Without fields:, the fields are those the other keys
 * name (key and type fields strings, time a time, value a double). Returns 0 or SL_ECONFIG with
 * the message in c->err. */
int sl_schema_yaml(const sl_ym_ctx *c, const yaml_node_t *n, sl_schema *s);

/* Resolves a field name given at node n (path names it) in s: its index, or -1 after failing
 * with "PATH: no field "X" in schema.fields (declared: a, b, c)". A schema without a fields:
 * list (s->implied) declares a new name instead, of the given type (enum sl_ftype; -1: never). */
int sl_schema_yaml_field(const sl_ym_ctx *c, const yaml_node_t *n, const char *path, sl_schema *s,
                         int type);

#endif
