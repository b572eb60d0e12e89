/*
 * Post-copy's two connections on the target: REQUEST, on which the fault
 * thread asks for pages (this thread only holds it open), and URGENT, on
 * which the requested pages come back ahead of the main stream's bulk.
 */
#include "stream-priv.h"

#include "postcopy-priv.h"

#include "vmhost/util/error.h"

#define WHAT "post-copy connection"

bool vh_mig_wait_postcopy_connected(VhMigLoader *l, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() +
                      VH_MIG_CHANNEL_CONNECT_TIMEOUT_S * G_USEC_PER_SEC;
    bool ok = true;

    g_mutex_lock(&l->lock);
    while ((!l->req_ch || !l->urgent_connected) && !l->abort_reason) {
        if (!g_cond_wait_until(&l->cond, &l->lock, deadline)) {
            break;
        }
    }
    if (vh_mig_loader_aborted_locked(l, errp)) {
        ok = false;
    } else if (!l->req_ch || !l->urgent_connected) {
        ok = vh_mig_bad(errp,
                        "the post-copy connections did not connect "
                        "within %d s",
                        VH_MIG_CHANNEL_CONNECT_TIMEOUT_S);
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

bool vh_mig_wait_urgent_done(VhMigLoader *l, GError **errp)
{
    bool ok;

    g_mutex_lock(&l->lock);
    while (!l->urgent_done && !l->abort_reason && !l->urgent_failed) {
        g_cond_wait(&l->cond, &l->lock);
    }
    ok = !vh_mig_loader_aborted_locked(l, errp) &&
         (l->urgent_done ||
          vh_mig_bad(errp, "END: the URGENT connection failed"));
    g_mutex_unlock(&l->lock);
    return ok;
}

/* Under the lock, once the header is in: may this connection join? */
static bool join_locked(VhMigLoader *l, VhChannel *ch, guint32 role,
                        const guint8 *uuid, guint *epoch, GError **errp)
{
    if (vh_mig_loader_aborted_locked(l, errp)) {
        return false;
    }
    if (!l->pc) {
        return vh_mig_bad(errp, WHAT ": the main stream has no post-copy");
    }
    if (memcmp(uuid, l->uuid, VH_MIG_UUID_SIZE) != 0) {
        return vh_mig_bad(errp, WHAT ": session uuid does not match the "
                                     "main stream");
    }
    if (role == VH_MIG_PC_ROLE_REQUEST) {
        if (l->req_ch) {
            return vh_mig_bad(errp, WHAT ": REQUEST connected twice");
        }
        l->req_ch = g_object_ref(ch);
    } else {
        if (l->urgent_connected) {
            return vh_mig_bad(errp, WHAT ": URGENT connected twice");
        }
        l->urgent_connected = true;
    }
    *epoch = l->pc_epoch;
    g_cond_broadcast(&l->cond);
    return true;
}

static bool hello(VhMigLoader *l, VhChannel *ch, const VhMigPreamble *pre,
                  guint32 *role, guint *epoch, GError **errp)
{
    guint8 h[VH_MIG_HELLO_SIZE];
    const guint8 *p = h + VH_MIG_MAGIC_SIZE;
    const guint8 *uuid;
    guint32 version;
    bool ok;

    if (!vh_mig_preamble_bytes(ch, pre, h, sizeof(h), WHAT " hello", errp)) {
        return false;
    }
    if (memcmp(h, VH_MIG_POSTCOPY_MAGIC, VH_MIG_MAGIC_SIZE) != 0) {
        return vh_mig_bad(errp, WHAT " hello: bad magic");
    }
    version = vh_mig_take_u32(&p);
    *role = vh_mig_take_u32(&p);
    uuid = p;
    p += VH_MIG_UUID_SIZE;
    if (version != VH_MIG_STREAM_VERSION) {
        return vh_mig_bad(errp, WHAT " hello: version %u not supported",
                          version);
    }
    if (*role != VH_MIG_PC_ROLE_REQUEST && *role != VH_MIG_PC_ROLE_URGENT) {
        return vh_mig_bad(errp, WHAT " hello: unknown role %u", *role);
    }
    if (vh_mig_take_u64(&p) != 0) {
        return vh_mig_bad(errp, WHAT " hello: reserved field is not zero");
    }
    g_mutex_lock(&l->lock);
    while ((!l->have_header ||
            ((l->flags & VH_MIG_FLAG_POSTCOPY) && !l->allow_postcopy)) &&
           !l->abort_reason) {
        /* Without postcopy-ram here the main stream refuses: wait for it. */
        g_cond_wait(&l->cond, &l->lock);
    }
    ok = join_locked(l, ch, *role, uuid, epoch, errp);
    g_mutex_unlock(&l->lock);
    return ok;
}

/* URGENT: PAGES (only once post-copy runs), CHANNEL_END, the clean end. */
static bool run_urgent(VhMigLoader *l, VhChannel *ch, guint epoch,
                       GError **errp)
{
    guint64 records = 0;

    /* This connection's thread ends with it: the slice goes with it. */
    vh_postcopy_urgent_thread();
    for (;;) {
        guint8 sh[VH_MIG_SECTION_HEADER_SIZE];
        guint8 body[VH_MIG_PAGES_BODY];
        const guint8 *p = sh;
        guint32 type, len;

        if (!vh_mig_read_exact(ch, sh, sizeof(sh), "URGENT section header",
                               errp)) {
            return false;
        }
        type = vh_mig_take_u32(&p);
        len = vh_mig_take_u32(&p);
        if (type == VH_MIG_SEC_CHANNEL_END) {
            const guint8 *q = body;

            if (!vh_mig_expect_len("URGENT CHANNEL_END", len,
                                   VH_MIG_CHANNEL_END_BODY, errp) ||
                !vh_mig_read_exact(ch, body, VH_MIG_CHANNEL_END_BODY,
                                   "URGENT CHANNEL_END", errp)) {
                return false;
            }
            if (vh_mig_take_u64(&q) != records) {
                return vh_mig_bad(errp, "URGENT CHANNEL_END: record count "
                                        "does not match what came");
            }
            break;
        }
        if (type != VH_MIG_SEC_PAGES) {
            return vh_mig_bad(errp, "section type %u on the URGENT connection",
                              type);
        }
        if (!vh_mig_loader_in_postcopy(l)) {
            return vh_mig_bad(errp, "URGENT PAGES before POSTCOPY_RUN");
        }
        if (!vh_mig_expect_len("PAGES", len, VH_MIG_PAGES_BODY, errp) ||
            !vh_mig_read_exact(ch, body, sizeof(body), "PAGES record header",
                               errp) ||
            !vh_mig_load_pages(l, ch, body, "URGENT", errp)) {
            return false;
        }
        records++;
    }
    if (!vh_mig_expect_eof(ch, "the URGENT connection", errp)) {
        return false;
    }
    g_mutex_lock(&l->lock);
    if (epoch == l->pc_epoch) {
        l->urgent_done = true;
        g_cond_broadcast(&l->cond);
    }
    g_mutex_unlock(&l->lock);
    return true;
}

/*
 * REQUEST: the fault thread writes on it; held until post-copy ends, or
 * a pause replaces it.
 */
static bool run_request(VhMigLoader *l, GError **errp)
{
    guint epoch;
    bool ok;

    g_mutex_lock(&l->lock);
    epoch = l->pc_epoch;
    while (!l->pc_done && !l->abort_reason && l->pc_epoch == epoch) {
        g_cond_wait(&l->cond, &l->lock);
    }
    ok = l->pc_epoch != epoch || !vh_mig_loader_aborted_locked(l, errp);
    g_mutex_unlock(&l->lock);
    return ok;
}

bool vh_mig_loader_resume_main(VhMigLoader *l, VhChannel *ch,
                               const VhMigPreamble *pre, GError **errp)
{
    guint8 buf[VH_MIG_HEADER_SIZE];
    const guint8 *p = buf + VH_MIG_MAGIC_SIZE + 8;
    guint32 flags, channels;
    bool ok = true;

    if (!vh_mig_preamble_bytes(ch, pre, buf, sizeof(buf), "resume header",
                               errp)) {
        return false;
    }
    flags = vh_mig_take_u32(&p);
    channels = vh_mig_take_u32(&p);
    if (memcmp(buf, VH_MIG_STREAM_MAGIC, VH_MIG_MAGIC_SIZE) != 0 ||
        !(flags & VH_MIG_FLAG_RESUME)) {
        return vh_mig_bad(errp, "a main stream arrived while post-copy is "
                                "paused (only a RESUME one may come)");
    }
    g_mutex_lock(&l->lock);
    if (memcmp(p, l->uuid, VH_MIG_UUID_SIZE) != 0) {
        ok = vh_mig_bad(errp, "resume header: session uuid is not the "
                              "paused migration's");
    } else if (!vh_mig_loader_in_postcopy(l)) {
        /*
         * The source sent POSTCOPY_RUN, never had READY and paused; it
         * never came here (or not yet): from now on it cannot run.
         */
        l->not_run = true;
        ok = vh_mig_bad(errp, "resume header: POSTCOPY_RUN of this session "
                              "never reached this target: the guest never "
                              "ran here and stays the source's");
    } else if (!l->paused || l->resume_ch) {
        ok = vh_mig_bad(errp, "resume header: post-copy is not paused");
    } else if (!(flags & VH_MIG_FLAG_MULTIFD) != !channels ||
               (channels && channels != l->channels)) {
        /* The paused migration's multifd channels come back, or none. */
        ok = vh_mig_bad(errp,
                        "resume header: %u multifd channels, the paused "
                        "migration has %u",
                        channels, l->channels);
    } else {
        l->resume_channels = channels;
        l->resume_ch = g_object_ref(ch);
        l->main_released = false;
        g_cond_broadcast(&l->cond);
        /* Held until the answer went out on it, or the next pause. */
        guint epoch = l->pc_epoch;

        while (!l->main_released && !l->abort_reason && l->pc_epoch == epoch) {
            g_cond_wait(&l->cond, &l->lock);
        }
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

bool vh_mig_loader_run_postcopy_conn(VhMigLoader *l, VhChannel *ch,
                                     const VhMigPreamble *pre, bool *cause,
                                     GError **errp)
{
    GError *err = NULL;
    guint32 role = G_MAXUINT32;
    guint epoch = 0;
    bool joined;

    *cause = false;
    joined = hello(l, ch, pre, &role, &epoch, &err);
    if (joined &&
        (role == VH_MIG_PC_ROLE_URGENT ? run_urgent(l, ch, epoch, &err)
                                       : run_request(l, &err))) {
        return true;
    }
    /*
     * Only a failure of its own, not the end of an aborted attempt; in
     * post-copy a lost connection pauses (the main stream sees it too).
     */
    g_mutex_lock(&l->lock);
    *cause = joined && !l->abort_reason && !vh_mig_loader_in_postcopy(l);
    if (joined && role == VH_MIG_PC_ROLE_URGENT && epoch == l->pc_epoch) {
        /* END waits for URGENT's end: it waits no more. */
        l->urgent_failed = true;
        g_cond_broadcast(&l->cond);
    }
    g_mutex_unlock(&l->lock);
    if (*cause) {
        vh_mig_loader_abort(l, err->message);
    }
    g_propagate_error(errp, err);
    return false;
}
