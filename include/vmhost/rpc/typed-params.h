/*
 * libvirt's typed parameters on the wire (remote_protocol.x facts):
 *
 *   struct remote_typed_param {
 *       remote_nonnull_string field;
 *       union switch (int type) {       INT 1: int; UINT 2: unsigned int;
 *           LLONG 3: hyper; ULLONG 4: unsigned hyper; DOUBLE 5: double;
 *           BOOLEAN 6: int; STRING 7: remote_nonnull_string } value;
 *   };
 *   remote_typed_param params<MAX>;   (a count, then the items)
 *
 *     g_autoptr(GPtrArray) p = vh_typed_params_new();
 *     vh_typed_params_add_string(p, "migrate_uri", "tcp://dst:49152");
 *     vh_typed_params_add_ullong(p, "bandwidth", 100);
 *     vh_typed_params_encode(buf, p);
 *
 *     g_autoptr(GPtrArray) in = NULL;
 *     if (!vh_typed_params_decode(&r, VH_REMOTE_MIGRATE_PARAM_LIST_MAX, &in,
 *                                 errp)) ...
 *     const char *uri = vh_typed_params_get_string(in, "migrate_uri");
 *
 * Decoding checks every limit before it allocates: the count against @max
 * and the bytes left, a field name shorter than libvirt's
 * VIR_TYPED_PARAM_FIELD_LENGTH (80) and not empty, a known type, a boolean
 * of 0 or 1, strings up to VH_XDR_STRING_MAX. The arrays are GPtrArrays of
 * VhTypedParam that free their items.
 */
#pragma once

#include "vmhost/rpc/xdr.h"

G_BEGIN_DECLS

/* libvirt's VIR_TYPED_PARAM_FIELD_LENGTH: a field name is shorter. */
#define VH_TYPED_PARAM_FIELD_LENGTH 80

typedef enum {
    VH_TYPED_PARAM_INT = 1,
    VH_TYPED_PARAM_UINT = 2,
    VH_TYPED_PARAM_LLONG = 3,
    VH_TYPED_PARAM_ULLONG = 4,
    VH_TYPED_PARAM_DOUBLE = 5,
    VH_TYPED_PARAM_BOOLEAN = 6,
    VH_TYPED_PARAM_STRING = 7,
} VhTypedParamType;

typedef struct {
    char *field;
    VhTypedParamType type;
    union {
        gint32 i;
        guint32 ui;
        gint64 l;
        guint64 ul;
        double d;
        bool b;
        char *s;
    } v;
} VhTypedParam;

void vh_typed_param_free(VhTypedParam *p);

/* An empty list (transfer full). */
GPtrArray *vh_typed_params_new(void);
void vh_typed_params_add_int(GPtrArray *p, const char *field, gint32 v);
void vh_typed_params_add_uint(GPtrArray *p, const char *field, guint32 v);
void vh_typed_params_add_llong(GPtrArray *p, const char *field, gint64 v);
void vh_typed_params_add_ullong(GPtrArray *p, const char *field, guint64 v);
void vh_typed_params_add_double(GPtrArray *p, const char *field, double v);
void vh_typed_params_add_boolean(GPtrArray *p, const char *field, bool v);
void vh_typed_params_add_string(GPtrArray *p, const char *field, const char *v);
/* A deep copy (transfer full); @p may be NULL. */
GPtrArray *vh_typed_params_copy(GPtrArray *p);
/* Replace the value of @field if present, else add it. */
void vh_typed_params_set_string(GPtrArray *p, const char *field, const char *v);

/* The first parameter named @field, or NULL (transfer none). */
const VhTypedParam *vh_typed_params_find(GPtrArray *p, const char *field);
/* Its string value, or NULL when absent or not a string. */
const char *vh_typed_params_get_string(GPtrArray *p, const char *field);

/*
 * Every parameter must be named in @fields with its type (@types, the
 * same length), and appear once: else INVALID_ARG naming the field, as
 * libvirt's virTypedParamsValidate says it.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_typed_params_validate(GPtrArray *p, const char *const *fields,
                              const VhTypedParamType *types, gsize n,
                              GError **errp);

/* params<>: count then items. @p may be NULL (an empty array). */
void vh_typed_params_encode(GByteArray *b, GPtrArray *p);
/* *out is (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_typed_params_decode(VhXdrReader *r, guint32 max, GPtrArray **out,
                            GError **errp);

G_END_DECLS
