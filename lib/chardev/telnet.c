/* RFC 854 (telnet) as a chardev needs it; see telnet.h. */
#include "telnet.h"

enum {
    ST_DATA,
    ST_IAC,    /* after IAC */
    ST_OPTION, /* after IAC WILL/WONT/DO/DONT: the option byte */
    ST_SB,     /* inside a subnegotiation: skip until IAC SE */
    ST_SB_IAC, /* IAC inside a subnegotiation */
    ST_CR,     /* after CR: a NUL that follows is padding (RFC 854 p. 11) */
};

const guint8 *vh_telnet_greeting(size_t *len)
{
    static const guint8 greeting[] = {
        TELNET_IAC, TELNET_WILL, TELNET_OPT_ECHO,
        TELNET_IAC, TELNET_WILL, TELNET_OPT_SGA,
    };

    *len = sizeof(greeting);
    return greeting;
}

/* Answer IAC @verb @opt: agree only to what the greeting offered. */
static void answer(guint8 verb, guint8 opt, GByteArray *reply)
{
    guint8 out[3] = {TELNET_IAC, 0, opt};
    bool ours = opt == TELNET_OPT_ECHO || opt == TELNET_OPT_SGA;

    switch (verb) {
    case TELNET_DO:
        if (ours) {
            return; /* already offered: do not acknowledge twice */
        }
        out[1] = TELNET_WONT;
        break;
    case TELNET_WILL:
        if (opt == TELNET_OPT_SGA) {
            return;
        }
        out[1] = TELNET_DONT;
        break;
    default: /* WONT, DONT: nothing to answer */
        return;
    }
    g_byte_array_append(reply, out, sizeof(out));
}

static bool step(VhTelnet *t, guint8 c, GByteArray *reply)
{
    switch (t->state) {
    case ST_IAC:
        t->state = ST_DATA;
        if (c == TELNET_IAC) {
            return true; /* an escaped 0xFF data byte */
        }
        if (c >= TELNET_WILL) {
            t->verb = c;
            t->state = ST_OPTION;
        } else if (c == TELNET_SB) {
            t->state = ST_SB;
        }
        return false; /* NOP, GA, AYT, ...: dropped */
    case ST_OPTION:
        answer(t->verb, c, reply);
        t->state = ST_DATA;
        return false;
    case ST_SB:
        if (c == TELNET_IAC) {
            t->state = ST_SB_IAC;
        }
        return false;
    case ST_SB_IAC:
        t->state = c == TELNET_SE ? ST_DATA : ST_SB;
        return false;
    case ST_CR:
        t->state = ST_DATA;
        if (c == 0) {
            return false;
        }
        /* fall through: c is ordinary input */
        return step(t, c, reply);
    case ST_DATA:
    default:
        if (c == TELNET_IAC) {
            t->state = ST_IAC;
            return false;
        }
        if (c == '\r') {
            t->state = ST_CR;
        }
        return true;
    }
}

size_t vh_telnet_filter(VhTelnet *t, guint8 *buf, size_t len, GByteArray *reply)
{
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        guint8 c = buf[i];
        if (step(t, c, reply)) {
            buf[out++] = c;
        }
    }
    return out;
}

guint8 *vh_telnet_escape(const guint8 *buf, size_t len, size_t *out_len)
{
    guint8 *out = g_malloc(len * 2 + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        out[n++] = buf[i];
        if (buf[i] == TELNET_IAC) {
            out[n++] = TELNET_IAC;
        }
    }
    *out_len = n;
    return out;
}
