/*
 * remote_typed_param arrays: encode, decode with limits, look up, check
 * against what a procedure accepts. Wire layout in typed-params.h.
 */
#include "vmhost/rpc/typed-params.h"

#include <string.h>

void vh_typed_param_free(VhTypedParam *p)
{
    if (!p) {
        return;
    }
    if (p->type == VH_TYPED_PARAM_STRING) {
        g_free(p->v.s);
    }
    g_free(p->field);
    g_free(p);
}

GPtrArray *vh_typed_params_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)vh_typed_param_free);
}

static VhTypedParam *add(GPtrArray *p, const char *field, VhTypedParamType t)
{
    VhTypedParam *tp = g_new0(VhTypedParam, 1);

    tp->field = g_strdup(field);
    tp->type = t;
    g_ptr_array_add(p, tp);
    return tp;
}

void vh_typed_params_add_int(GPtrArray *p, const char *field, gint32 v)
{
    add(p, field, VH_TYPED_PARAM_INT)->v.i = v;
}

void vh_typed_params_add_uint(GPtrArray *p, const char *field, guint32 v)
{
    add(p, field, VH_TYPED_PARAM_UINT)->v.ui = v;
}

void vh_typed_params_add_llong(GPtrArray *p, const char *field, gint64 v)
{
    add(p, field, VH_TYPED_PARAM_LLONG)->v.l = v;
}

void vh_typed_params_add_ullong(GPtrArray *p, const char *field, guint64 v)
{
    add(p, field, VH_TYPED_PARAM_ULLONG)->v.ul = v;
}

void vh_typed_params_add_double(GPtrArray *p, const char *field, double v)
{
    add(p, field, VH_TYPED_PARAM_DOUBLE)->v.d = v;
}

void vh_typed_params_add_boolean(GPtrArray *p, const char *field, bool v)
{
    add(p, field, VH_TYPED_PARAM_BOOLEAN)->v.b = v;
}

void vh_typed_params_add_string(GPtrArray *p, const char *field, const char *v)
{
    add(p, field, VH_TYPED_PARAM_STRING)->v.s = g_strdup(v);
}

GPtrArray *vh_typed_params_copy(GPtrArray *p)
{
    GPtrArray *c = vh_typed_params_new();

    for (guint i = 0; p && i < p->len; i++) {
        const VhTypedParam *tp = p->pdata[i];
        VhTypedParam *n = add(c, tp->field, tp->type);

        n->v = tp->v;
        if (tp->type == VH_TYPED_PARAM_STRING) {
            n->v.s = g_strdup(tp->v.s);
        }
    }
    return c;
}

const VhTypedParam *vh_typed_params_find(GPtrArray *p, const char *field)
{
    for (guint i = 0; p && i < p->len; i++) {
        const VhTypedParam *tp = p->pdata[i];

        if (g_str_equal(tp->field, field)) {
            return tp;
        }
    }
    return NULL;
}

void vh_typed_params_set_string(GPtrArray *p, const char *field, const char *v)
{
    VhTypedParam *tp = (VhTypedParam *)vh_typed_params_find(p, field);

    if (!tp) {
        vh_typed_params_add_string(p, field, v);
        return;
    }
    if (tp->type == VH_TYPED_PARAM_STRING) {
        g_free(tp->v.s);
    }
    tp->type = VH_TYPED_PARAM_STRING;
    tp->v.s = g_strdup(v);
}

const char *vh_typed_params_get_string(GPtrArray *p, const char *field)
{
    const VhTypedParam *tp = vh_typed_params_find(p, field);

    return tp && tp->type == VH_TYPED_PARAM_STRING ? tp->v.s : NULL;
}

static const char *type_name(VhTypedParamType t)
{
    static const char *const names[] = {
        "?", "int", "uint", "llong", "ullong", "double", "boolean", "string",
    };

    return t >= 1 && t <= 7 ? names[t] : "?";
}

bool vh_typed_params_validate(GPtrArray *p, const char *const *fields,
                              const VhTypedParamType *types, gsize n,
                              GError **errp)
{
    for (guint i = 0; p && i < p->len; i++) {
        const VhTypedParam *tp = p->pdata[i];
        gsize k;

        for (k = 0; k < n && !g_str_equal(fields[k], tp->field); k++) {
        }
        if (k == n) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_ARGUMENT_UNSUPPORTED,
                        "argument unsupported: parameter '%s' not supported",
                        tp->field);
            return false;
        }
        if (tp->type != types[k]) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                        "invalid argument: invalid type '%s' for parameter "
                        "'%s', expected '%s'",
                        type_name(tp->type), tp->field, type_name(types[k]));
            return false;
        }
        for (guint j = 0; j < i; j++) {
            if (g_str_equal(((VhTypedParam *)p->pdata[j])->field, tp->field)) {
                g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: parameter '%s' occurs "
                            "multiple times",
                            tp->field);
                return false;
            }
        }
    }
    return true;
}

void vh_typed_params_encode(GByteArray *b, GPtrArray *p)
{
    guint n = p ? p->len : 0;

    vh_xdr_put_u32(b, n);
    for (guint i = 0; i < n; i++) {
        const VhTypedParam *tp = p->pdata[i];
        union {
            double d;
            guint64 u;
        } bits;

        vh_xdr_put_string(b, tp->field);
        vh_xdr_put_i32(b, tp->type);
        switch (tp->type) {
        case VH_TYPED_PARAM_INT:
            vh_xdr_put_i32(b, tp->v.i);
            break;
        case VH_TYPED_PARAM_UINT:
            vh_xdr_put_u32(b, tp->v.ui);
            break;
        case VH_TYPED_PARAM_LLONG:
            vh_xdr_put_i64(b, tp->v.l);
            break;
        case VH_TYPED_PARAM_ULLONG:
            vh_xdr_put_u64(b, tp->v.ul);
            break;
        case VH_TYPED_PARAM_DOUBLE:
            /* RFC 4506 4.7: IEEE double, big-endian like a hyper */
            bits.d = tp->v.d;
            vh_xdr_put_u64(b, bits.u);
            break;
        case VH_TYPED_PARAM_BOOLEAN:
            vh_xdr_put_i32(b, tp->v.b ? 1 : 0);
            break;
        case VH_TYPED_PARAM_STRING:
            vh_xdr_put_string(b, tp->v.s ? tp->v.s : "");
            break;
        default:
            g_assert_not_reached();
        }
    }
}

static bool decode_value(VhXdrReader *r, VhTypedParam *tp, GError **errp)
{
    gint32 b;
    union {
        double d;
        guint64 u;
    } bits;

    switch (tp->type) {
    case VH_TYPED_PARAM_INT:
        return vh_xdr_get_i32(r, &tp->v.i, errp);
    case VH_TYPED_PARAM_UINT:
        return vh_xdr_get_u32(r, &tp->v.ui, errp);
    case VH_TYPED_PARAM_LLONG:
        return vh_xdr_get_i64(r, &tp->v.l, errp);
    case VH_TYPED_PARAM_ULLONG:
        return vh_xdr_get_u64(r, &tp->v.ul, errp);
    case VH_TYPED_PARAM_DOUBLE:
        if (!vh_xdr_get_u64(r, &bits.u, errp)) {
            return false;
        }
        tp->v.d = bits.d;
        return true;
    case VH_TYPED_PARAM_BOOLEAN:
        if (!vh_xdr_get_i32(r, &b, errp)) {
            return false;
        }
        if (b != 0 && b != 1) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                        "typed parameter '%s': boolean value %d is neither "
                        "0 nor 1",
                        tp->field, b);
            return false;
        }
        tp->v.b = b;
        return true;
    case VH_TYPED_PARAM_STRING:
        return vh_xdr_get_string(r, 0, &tp->v.s, errp);
    default:
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "typed parameter '%s': unknown type %d", tp->field,
                    (int)tp->type);
        return false;
    }
}

bool vh_typed_params_decode(VhXdrReader *r, guint32 max, GPtrArray **out,
                            GError **errp)
{
    g_autoptr(GPtrArray) p = vh_typed_params_new();
    guint32 n;

    /* the smallest item: an empty field name (4), a type (4), an int (4) */
    if (!vh_xdr_get_count(r, max, 12, &n, errp)) {
        return false;
    }
    for (guint32 i = 0; i < n; i++) {
        g_autofree char *field = NULL;
        gint32 type;
        VhTypedParam *tp;

        if (!vh_xdr_get_string(r, VH_TYPED_PARAM_FIELD_LENGTH - 1, &field,
                               errp) ||
            !vh_xdr_get_i32(r, &type, errp)) {
            return false;
        }
        if (!*field) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                        "typed parameter %u has an empty name", i);
            return false;
        }
        tp = g_new0(VhTypedParam, 1);
        tp->field = g_steal_pointer(&field);
        tp->type = type;
        if (!decode_value(r, tp, errp)) {
            if (tp->type != VH_TYPED_PARAM_STRING) {
                tp->type = VH_TYPED_PARAM_INT; /* nothing to free */
            }
            vh_typed_param_free(tp);
            return false;
        }
        g_ptr_array_add(p, tp);
    }
    *out = g_steal_pointer(&p);
    return true;
}
