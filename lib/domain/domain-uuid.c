/*
 * UUIDs in their text form. Like libvirt, parsing accepts the 32 hex digits
 * with dashes anywhere between them and blanks around; formatting gives the
 * usual 8-4-4-4-12 form.
 */
#include "vmhost/domain/domain-def.h"

#include <string.h>

bool vh_domain_uuid_parse(const char *str, guint8 uuid[VH_DOMAIN_UUID_LEN])
{
    guint8 out[VH_DOMAIN_UUID_LEN];
    guint n = 0;
    const char *p = str;

    if (!str) {
        return false;
    }
    while (g_ascii_isspace(*p)) {
        p++;
    }
    for (; *p && n < VH_DOMAIN_UUID_LEN * 2; p++) {
        int v;

        if (*p == '-' && n > 0) {
            continue;
        }
        v = g_ascii_xdigit_value(*p);
        if (v < 0) {
            return false;
        }
        if (n % 2 == 0) {
            out[n / 2] = (guint8)(v << 4);
        } else {
            out[n / 2] |= (guint8)v;
        }
        n++;
    }
    if (n != VH_DOMAIN_UUID_LEN * 2) {
        return false;
    }
    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (*p) {
        return false;
    }
    memcpy(uuid, out, VH_DOMAIN_UUID_LEN);
    return true;
}

char *vh_domain_uuid_format(const guint8 uuid[VH_DOMAIN_UUID_LEN])
{
    GString *s = g_string_sized_new(37);

    for (guint i = 0; i < VH_DOMAIN_UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            g_string_append_c(s, '-');
        }
        g_string_append_printf(s, "%02x", uuid[i]);
    }
    return g_string_free(s, false);
}

void vh_domain_uuid_generate(guint8 uuid[VH_DOMAIN_UUID_LEN])
{
    g_autofree char *s = g_uuid_string_random();

    if (!vh_domain_uuid_parse(s, uuid)) {
        g_assert_not_reached();
    }
}
