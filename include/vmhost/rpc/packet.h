/*
 * libvirt's RPC packets (virnetprotocol.x facts): framing, the header and
 * the error struct of an ERROR reply. Knows no procedure.
 *
 *   u32 length (including these 4 bytes), then the header of six u32
 *   prog, vers, proc, type, serial, status, then the XDR payload.
 *
 *     g_autoptr(GByteArray) pkt = vh_rpc_packet_new(&hdr);
 *     vh_xdr_put_string(pkt, "vm1");          // the payload
 *     vh_rpc_packet_finish(pkt);              // writes the length
 *
 *     guint32 len;   // from the first 4 bytes read
 *     if (!vh_rpc_packet_check_length(first4, &len, errp)) -> close
 *     VhXdrReader r = VH_XDR_READER_INIT(pkt, len);
 *     if (!vh_rpc_packet_decode_header(&r, &hdr, errp)) -> close
 *     ... r now points at the payload
 */
#pragma once

#include "vmhost/rpc/xdr.h"

G_BEGIN_DECLS

/* The largest packet either side accepts, length word included. */
#define VH_RPC_PACKET_MAX  (16u * 1024 * 1024)
#define VH_RPC_LEN_SIZE    4
#define VH_RPC_HEADER_SIZE 24
/* The smallest packet: the length word and the header. */
#define VH_RPC_PACKET_MIN (VH_RPC_LEN_SIZE + VH_RPC_HEADER_SIZE)
/* The largest payload of one STREAM packet we send (libvirt's 256 KiB). */
#define VH_RPC_STREAM_CHUNK (256u * 1024)

typedef enum {
    VH_RPC_CALL = 0,
    VH_RPC_REPLY = 1,
    VH_RPC_MESSAGE = 2,
    VH_RPC_STREAM = 3,
    VH_RPC_CALL_WITH_FDS = 4,
    VH_RPC_REPLY_WITH_FDS = 5,
    VH_RPC_STREAM_HOLE = 6,
} VhRpcType;

typedef enum {
    VH_RPC_OK = 0,
    VH_RPC_ERROR = 1,
    VH_RPC_CONTINUE = 2,
} VhRpcStatus;

/* KEEPALIVE_PROGRAM: PING and PONG, as MESSAGE packets with no payload. */
#define VH_RPC_KEEPALIVE_PROGRAM 0x6b656570u
#define VH_RPC_KEEPALIVE_VERSION 1u
#define VH_RPC_KEEPALIVE_PING    1u
#define VH_RPC_KEEPALIVE_PONG    2u

typedef struct {
    guint32 prog;
    guint32 vers;
    guint32 proc;
    guint32 type;   /* VhRpcType */
    guint32 serial; /* a reply echoes its call's; events use 0 */
    guint32 status; /* VhRpcStatus */
} VhRpcHeader;

/* A packet with @hdr and room for the length; append the payload. */
GByteArray *vh_rpc_packet_new(const VhRpcHeader *hdr);
/* Write the length word. Aborts if the packet exceeds VH_RPC_PACKET_MAX:
 * callers bound what they put in (see vh_rpc_packet_fits). */
void vh_rpc_packet_finish(GByteArray *pkt);
static inline bool vh_rpc_packet_fits(const GByteArray *pkt)
{
    return pkt->len <= VH_RPC_PACKET_MAX;
}

/*
 * The length word of a packet (@buf: 4 bytes): a framing error (the
 * connection must close) when over VH_RPC_PACKET_MAX or under
 * VH_RPC_PACKET_MIN.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_rpc_packet_check_length(const guint8 buf[4], guint32 *len,
                                GError **errp);
/* Read the length word (checked as above) and the header. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_rpc_packet_decode_header(VhXdrReader *r, VhRpcHeader *hdr,
                                 GError **errp);

/*
 * The error struct of a REPLY/STREAM with status ERROR (remote_error):
 * {int code; int domain; string? message; int level; domain? dom;
 *  string? str1, str2, str3; int int1, int2; network? net}.
 */
typedef struct {
    gint32 code;   /* VhVirErrorCode */
    gint32 domain; /* VhVirErrorDomain */
    char *message;
    gint32 level; /* 2: VIR_ERR_ERROR */
    char *dom_name;
    char *str1, *str2, *str3;
    gint32 int1, int2;
} VhRpcError;

void vh_rpc_error_clear(VhRpcError *e);

/*
 * Encode @err: a VH_VIR_ERROR keeps its code, other domains become
 * INTERNAL_ERROR; @vir_domain is the reply's error domain (e.g.
 * VH_VIR_FROM_REMOTE).
 */
void vh_rpc_error_encode(GByteArray *b, const GError *err, int vir_domain);
G_GNUC_WARN_UNUSED_RESULT
bool vh_rpc_error_decode(VhXdrReader *r, VhRpcError *e, GError **errp);
/* The decoded error as a VH_VIR_ERROR GError (transfer full). */
GError *vh_rpc_error_to_gerror(const VhRpcError *e);

G_END_DECLS
