/*
 * x-postcopy-link-timeout: how soon a post-copy connection whose link died
 * silently fails (and so pauses post-copy) instead of hanging for TCP's
 * ~15 minutes of retransmissions while the target's guest waits on its
 * page faults.
 */
#include "migration-priv.h"

#include <string.h>

#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"

/*
 * The timeout bounds both ways a dead link shows: data sent and never
 * acknowledged (TCP_USER_TIMEOUT) and a connection with nothing to send,
 * such as an idle REQUEST connection, probed by keepalive; Linux then ends
 * it once the probes have gone unanswered for the user timeout. Probing
 * every quarter of it gives the probes a few chances first.
 */
void vh_mig_link_liveness(guint timeout_ms, VhTcpLiveness *out)
{
    guint step = MAX(timeout_ms / 4000, 1);

    out->user_timeout_ms = timeout_ms;
    out->keepalive_idle_s = timeout_ms ? step : 0;
    out->keepalive_interval_s = timeout_ms ? step : 0;
    out->keepalive_count = timeout_ms ? 4 : 0;
}

/* The socket under @ch: @ch itself, or a TLS channel's master. */
static VhChannelSocket *socket_of(VhChannel *ch)
{
    while (VH_IS_CHANNEL_TLS(ch)) {
        ch = vh_channel_tls_get_master(VH_CHANNEL_TLS(ch));
    }
    return VH_IS_CHANNEL_SOCKET(ch) ? VH_CHANNEL_SOCKET(ch) : NULL;
}

int vh_mig_link_timeout_apply(VhChannel *ch, guint timeout_ms)
{
    g_autoptr(GError) err = NULL;
    VhChannelSocket *s = socket_of(ch);
    VhTcpLiveness l;
    int rc;

    if (!s || vh_channel_is_closed(ch)) {
        return 0;
    }
    vh_mig_link_liveness(timeout_ms, &l);
    rc = vh_channel_socket_set_liveness(s, &l, &err);
    if (rc < 0) {
        /* A safety net that failed: the migration goes on without it. */
        g_message("migration: x-postcopy-link-timeout on %s: %s",
                  vh_channel_get_name(ch), err->message);
    }
    return rc;
}

guint vh_mig_conf_link_timeout(VhMigration *mig)
{
    guint v;

    g_mutex_lock(&mig->conf.lock);
    v = mig->conf.params.postcopy_link_timeout;
    g_mutex_unlock(&mig->conf.lock);
    return v;
}

bool vh_mig_is_link_timeout(const GError *err)
{
    return g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
           strstr(err->message, "timed out") != NULL;
}
