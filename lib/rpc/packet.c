/*
 * Packet framing, header and error struct (libvirt's virnetprotocol.x).
 */
#include "vmhost/rpc/packet.h"

#include <string.h>

#define UUID_LEN 16

GByteArray *vh_rpc_packet_new(const VhRpcHeader *hdr)
{
    GByteArray *b = g_byte_array_sized_new(64);

    vh_xdr_put_u32(b, 0); /* the length, written by finish */
    vh_xdr_put_u32(b, hdr->prog);
    vh_xdr_put_u32(b, hdr->vers);
    vh_xdr_put_u32(b, hdr->proc);
    vh_xdr_put_u32(b, hdr->type);
    vh_xdr_put_u32(b, hdr->serial);
    vh_xdr_put_u32(b, hdr->status);
    return b;
}

void vh_rpc_packet_finish(GByteArray *pkt)
{
    g_assert(pkt->len >= VH_RPC_PACKET_MIN);
    g_assert(pkt->len <= VH_RPC_PACKET_MAX);
    vh_xdr_patch_u32(pkt, 0, pkt->len);
}

bool vh_rpc_packet_check_length(const guint8 buf[4], guint32 *len,
                                GError **errp)
{
    guint32 be;

    memcpy(&be, buf, 4);
    guint32 n = GUINT32_FROM_BE(be);
    if (n > VH_RPC_PACKET_MAX) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "packet length %u is more than the maximum of %u bytes", n,
                    VH_RPC_PACKET_MAX);
        return false;
    }
    if (n < VH_RPC_PACKET_MIN) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "packet length %u is less than the %u bytes of the "
                    "length and header",
                    n, VH_RPC_PACKET_MIN);
        return false;
    }
    *len = n;
    return true;
}

bool vh_rpc_packet_decode_header(VhXdrReader *r, VhRpcHeader *hdr,
                                 GError **errp)
{
    guint32 len;

    if (vh_xdr_remaining(r) < VH_RPC_PACKET_MIN) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "packet of %" G_GSIZE_FORMAT
                    " bytes is shorter than its header",
                    vh_xdr_remaining(r));
        return false;
    }
    if (!vh_rpc_packet_check_length(r->data + r->pos, &len, errp)) {
        return false;
    }
    if (len != vh_xdr_remaining(r)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "packet length %u does not match the %" G_GSIZE_FORMAT
                    " bytes received",
                    len, vh_xdr_remaining(r));
        return false;
    }
    r->pos += 4;
    return vh_xdr_get_u32(r, &hdr->prog, errp) &&
           vh_xdr_get_u32(r, &hdr->vers, errp) &&
           vh_xdr_get_u32(r, &hdr->proc, errp) &&
           vh_xdr_get_u32(r, &hdr->type, errp) &&
           vh_xdr_get_u32(r, &hdr->serial, errp) &&
           vh_xdr_get_u32(r, &hdr->status, errp);
}

void vh_rpc_error_clear(VhRpcError *e)
{
    g_free(e->message);
    g_free(e->dom_name);
    g_free(e->str1);
    g_free(e->str2);
    g_free(e->str3);
    memset(e, 0, sizeof(*e));
}

void vh_rpc_error_encode(GByteArray *b, const GError *err, int vir_domain)
{
    int code = VH_VIR_ERR_INTERNAL_ERROR;

    if (err->domain == VH_VIR_ERROR && err->code > 0) {
        code = err->code;
    }
    vh_xdr_put_i32(b, code);
    vh_xdr_put_i32(b, vir_domain);
    vh_xdr_put_opt_string(b, err->message);
    vh_xdr_put_i32(b, 2);                   /* level: VIR_ERR_ERROR */
    vh_xdr_put_bool(b, false);              /* dom */
    vh_xdr_put_opt_string(b, err->message); /* str1, as libvirt fills it */
    vh_xdr_put_opt_string(b, NULL);
    vh_xdr_put_opt_string(b, NULL);
    vh_xdr_put_i32(b, -1);     /* int1 */
    vh_xdr_put_i32(b, -1);     /* int2 */
    vh_xdr_put_bool(b, false); /* net */
}

bool vh_rpc_error_decode(VhXdrReader *r, VhRpcError *e, GError **errp)
{
    VhRpcError d = {0};
    bool has_dom, has_net;

    if (!vh_xdr_get_i32(r, &d.code, errp) ||
        !vh_xdr_get_i32(r, &d.domain, errp) ||
        !vh_xdr_get_opt_string(r, 0, &d.message, errp) ||
        !vh_xdr_get_i32(r, &d.level, errp) ||
        !vh_xdr_get_bool(r, &has_dom, errp)) {
        goto fail;
    }
    if (has_dom) {
        guint8 uuid[UUID_LEN];
        gint32 id;
        if (!vh_xdr_get_string(r, 0, &d.dom_name, errp) ||
            !vh_xdr_get_opaque_fixed(r, uuid, UUID_LEN, errp) ||
            !vh_xdr_get_i32(r, &id, errp)) {
            goto fail;
        }
    }
    if (!vh_xdr_get_opt_string(r, 0, &d.str1, errp) ||
        !vh_xdr_get_opt_string(r, 0, &d.str2, errp) ||
        !vh_xdr_get_opt_string(r, 0, &d.str3, errp) ||
        !vh_xdr_get_i32(r, &d.int1, errp) ||
        !vh_xdr_get_i32(r, &d.int2, errp) ||
        !vh_xdr_get_bool(r, &has_net, errp)) {
        goto fail;
    }
    if (has_net) {
        g_autofree char *net = NULL;
        guint8 uuid[UUID_LEN];
        if (!vh_xdr_get_string(r, 0, &net, errp) ||
            !vh_xdr_get_opaque_fixed(r, uuid, UUID_LEN, errp)) {
            goto fail;
        }
    }
    *e = d;
    return true;

fail:
    vh_rpc_error_clear(&d);
    return false;
}

GError *vh_rpc_error_to_gerror(const VhRpcError *e)
{
    return g_error_new_literal(
        VH_VIR_ERROR, e->code > 0 ? e->code : VH_VIR_ERR_INTERNAL_ERROR,
        e->message ? e->message : "unknown error");
}
