/*
 * VhMigration: the object, its parameters and capabilities, the status
 * and its notification, and the commands that start things.
 */
#include "migration-priv.h"

#include <string.h>

#include "postcopy-priv.h"
#include "vmhost/authz/authz.h"
#include "vmhost/io/channel-tls.h"
#include "vmhost/object/object.h"
#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

static const char *const status_names[] = {
    "none",      "setup",  "active",          "cancelling",      "cancelled",
    "completed", "failed", "postcopy-active", "postcopy-paused",
};

const char *vh_mig_status_name(VhMigStatus s)
{
    return (guint)s < G_N_ELEMENTS(status_names) ? status_names[s] : "none";
}

static bool status_is_running(VhMigStatus s)
{
    return s == VH_MIG_STATUS_SETUP || s == VH_MIG_STATUS_ACTIVE ||
           s == VH_MIG_STATUS_CANCELLING ||
           s == VH_MIG_STATUS_POSTCOPY_ACTIVE ||
           s == VH_MIG_STATUS_POSTCOPY_PAUSED;
}

/* ---- notification ---- */

VhMigNotifier *vh_mig_notifier_ref(VhMigNotifier *n)
{
    g_atomic_ref_count_inc(&n->ref);
    return n;
}

void vh_mig_notifier_unref(VhMigNotifier *n)
{
    if (g_atomic_ref_count_dec(&n->ref)) {
        g_mutex_clear(&n->lock);
        g_free(n);
    }
}

typedef struct {
    VhMigNotifier *n;
    VhMigStatus status;
} Note;

static gboolean note_dispatch(gpointer opaque)
{
    Note *note = opaque;
    VhMigNotifier *n = note->n;

    g_mutex_lock(&n->lock);
    if (n->mig && n->mig->status_func) {
        n->mig->status_func(n->mig, note->status, n->mig->status_opaque);
    }
    g_mutex_unlock(&n->lock);
    return G_SOURCE_REMOVE;
}

static void note_free(gpointer opaque)
{
    Note *note = opaque;

    vh_mig_notifier_unref(note->n);
    g_free(note);
}

/* Under stats.lock, so that notifications keep the order of the changes. */
static void set_status_locked(VhMigration *mig, VhMigStatus st,
                              const char *error)
{
    Note *note;
    GSource *src;

    /* A cancel in progress is not undone by the thread's own progress. */
    if (mig->stats.status == VH_MIG_STATUS_CANCELLING &&
        (st == VH_MIG_STATUS_ACTIVE || st == VH_MIG_STATUS_SETUP)) {
        return;
    }
    mig->stats.status = st;
    if (error) {
        g_free(mig->stats.error);
        mig->stats.error = g_strdup(error);
        g_message("migration %s: %s", vh_mig_status_name(st), error);
    }
    if (!status_is_running(st) && !mig->stats.end_us) {
        mig->stats.end_us = g_get_monotonic_time();
    }
    note = g_new0(Note, 1);
    note->n = vh_mig_notifier_ref(mig->notifier);
    note->status = st;
    src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, note_dispatch, note, note_free);
    g_source_attach(src, mig->ctx);
    g_source_unref(src);
}

void vh_mig_set_status(VhMigration *mig, VhMigStatus st, const char *error)
{
    g_mutex_lock(&mig->stats.lock);
    set_status_locked(mig, st, error);
    g_mutex_unlock(&mig->stats.lock);
}

void vh_mig_guest_mark_locked(VhMigration *mig, bool end)
{
    guint64 pages, set;

    vh_machine_get_guest_writes(mig->machine, &pages, &set);
    if (end) {
        mig->stats.guest_t1 = g_get_monotonic_time();
        mig->stats.guest_pages1 = pages;
        mig->stats.guest_set1 = set;
    } else {
        mig->stats.guest_t0 = g_get_monotonic_time();
        mig->stats.guest_pages0 = pages;
        mig->stats.guest_t1 = 0;
    }
}

/* Under stats.lock: the guest's write rate for info migrate, if any. */
static void guest_rate_locked(VhMigration *mig, VhMigInfo *o)
{
    gint64 t1 = mig->stats.guest_t1;
    guint64 pages1 = mig->stats.guest_pages1;
    guint64 set = mig->stats.guest_set1;

    if (!mig->stats.guest_t0 || (!mig->stats.incoming && !t1)) {
        return; /* no post-copy (yet) */
    }
    if (!t1 && mig->stats.status != VH_MIG_STATUS_POSTCOPY_ACTIVE &&
        mig->stats.status != VH_MIG_STATUS_POSTCOPY_PAUSED) {
        return; /* a target whose post-copy failed */
    }
    if (!t1) {
        /* A target in post-copy: live. */
        t1 = g_get_monotonic_time();
        vh_machine_get_guest_writes(mig->machine, &pages1, &set);
    }
    o->guest_phase = mig->stats.incoming ? "post-copy" : "pre-copy";
    o->guest_pps =
        (guint64)((double)(pages1 - mig->stats.guest_pages0) * G_USEC_PER_SEC /
                  (double)MAX(t1 - mig->stats.guest_t0, 1));
    o->guest_set_pps = set / VH_RAM_PAGE_SIZE;
}

/* ---- object ---- */

static void params_defaults(VhMigParams *p)
{
    memset(p, 0, sizeof(*p));
    p->tls_creds = g_strdup("");
    p->tls_hostname = g_strdup("");
    p->tls_authz = g_strdup("");
    p->max_bandwidth = VH_MIG_DEFAULT_MAX_BANDWIDTH;
    p->downtime_limit = VH_MIG_DEFAULT_DOWNTIME_LIMIT;
    p->multifd_channels = VH_MIG_DEFAULT_CHANNELS;
    p->postcopy_link_timeout = VH_MIG_DEFAULT_POSTCOPY_LINK_TIMEOUT;
    p->postcopy_sync_interval = VH_MIG_DEFAULT_POSTCOPY_SYNC_INTERVAL;
}

VhMigration *vh_migration_new(VhMachine *m)
{
    VhMigration *mig = g_new0(VhMigration, 1);

    mig->machine = m;
    mig->ctx = g_main_context_ref_thread_default();
    mig->notifier = g_new0(VhMigNotifier, 1);
    g_atomic_ref_count_init(&mig->notifier->ref);
    g_mutex_init(&mig->notifier->lock);
    mig->notifier->mig = mig;
    g_mutex_init(&mig->conf.lock);
    g_mutex_init(&mig->stats.lock);
    g_mutex_init(&mig->src.lock);
    g_cond_init(&mig->src.cond);
    g_mutex_init(&mig->tgt.lock);
    params_defaults(&mig->conf.params);
    mig->src.shut = g_ptr_array_new_with_free_func(g_object_unref);
    mig->tgt.in_threads = g_ptr_array_new();
    mig->tgt.in_chans = g_ptr_array_new_with_free_func(g_object_unref);
    return mig;
}

void vh_migration_free(VhMigration *mig)
{
    if (!mig) {
        return;
    }
    vh_migration_cancel(mig);
    /* A paused post-copy gives up waiting for migrate -r. */
    g_mutex_lock(&mig->src.lock);
    g_atomic_int_set(&mig->src.cancelling, 1);
    g_cond_broadcast(&mig->src.cond);
    g_mutex_unlock(&mig->src.lock);
    if (mig->src.thread) {
        g_thread_join(mig->src.thread);
    }
    vh_mig_target_stop(mig);
    g_mutex_lock(&mig->notifier->lock);
    mig->notifier->mig = NULL;
    g_mutex_unlock(&mig->notifier->lock);
    vh_mig_notifier_unref(mig->notifier);
    g_clear_object(&mig->src.cancel);
    g_ptr_array_unref(mig->src.shut);
    g_ptr_array_unref(mig->tgt.in_threads);
    g_ptr_array_unref(mig->tgt.in_chans);
    vh_mig_params_clear(&mig->conf.params);
    vh_mig_uri_clear(&mig->tgt.in_uri);
    g_free(mig->tgt.in_refused);
    g_free(mig->stats.error);
    g_free(mig->stats.postcopy);
    g_clear_pointer(&mig->src.resume, vh_mig_source_args_free);
    g_mutex_clear(&mig->conf.lock);
    g_mutex_clear(&mig->stats.lock);
    g_mutex_clear(&mig->src.lock);
    g_cond_clear(&mig->src.cond);
    g_mutex_clear(&mig->tgt.lock);
    g_main_context_unref(mig->ctx);
    g_free(mig);
}

VhMachine *vh_migration_get_machine(VhMigration *mig)
{
    return mig->machine;
}

void vh_migration_set_fd_lookup(VhMigration *mig, VhMigFdLookup fdl,
                                void *opaque)
{
    mig->fdl = fdl;
    mig->fdl_opaque = opaque;
}

void vh_migration_set_status_func(VhMigration *mig, VhMigStatusFunc func,
                                  void *opaque)
{
    mig->status_func = func;
    mig->status_opaque = opaque;
}

/* ---- parameters ---- */

static const char *const param_names[] = {
    "tls-creds",
    "tls-hostname",
    "tls-authz",
    "max-bandwidth",
    "downtime-limit",
    "multifd-channels",
    "x-postcopy-after-passes",
    "max-postcopy-bandwidth",
    "x-postcopy-link-timeout",
    "x-postcopy-sync-interval",
    NULL,
};

const char *const *vh_mig_param_names(void)
{
    return param_names;
}

void vh_mig_params_clear(VhMigParams *p)
{
    g_free(p->tls_creds);
    g_free(p->tls_hostname);
    g_free(p->tls_authz);
    memset(p, 0, sizeof(*p));
}

void vh_mig_params_copy(VhMigParams *dst, const VhMigParams *src)
{
    *dst = *src;
    dst->tls_creds = g_strdup(src->tls_creds);
    dst->tls_hostname = g_strdup(src->tls_hostname);
    dst->tls_authz = g_strdup(src->tls_authz);
}

static char **str_param(VhMigParams *p, const char *name)
{
    if (g_str_equal(name, "tls-creds")) {
        return &p->tls_creds;
    }
    if (g_str_equal(name, "tls-hostname")) {
        return &p->tls_hostname;
    }
    if (g_str_equal(name, "tls-authz")) {
        return &p->tls_authz;
    }
    return NULL;
}

static bool unknown_param(const char *name, GError **errp)
{
    g_autofree char *known = g_strjoinv(", ", (char **)param_names);

    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "Parameter '%s' is unknown (known: %s)", name, known);
    return false;
}

/* A duration in ms: 0 (@zero says what it means) or @min..@max. */
static bool set_ms_or_zero(const char *name, gint64 value, const char *zero,
                           gint64 min, gint64 max, guint32 *out, GError **errp)
{
    if (value != 0 && (value < min || value > max)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Parameter '%s' expects 0 (%s) or %" G_GINT64_FORMAT
                    " to %" G_GINT64_FORMAT " milliseconds, not "
                    "%" G_GINT64_FORMAT,
                    name, zero, min, max, value);
        return false;
    }
    *out = (guint32)value;
    return true;
}

bool vh_mig_params_set_int(VhMigParams *p, const char *name, gint64 value,
                           GError **errp)
{
    if (str_param(p, name)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Parameter '%s' expects a string", name);
        return false;
    }
    if (g_str_equal(name, "max-bandwidth")) {
        if (value < 0) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "Parameter 'max-bandwidth' expects a size in bytes "
                        "per second, 0 (unlimited) or more");
            return false;
        }
        p->max_bandwidth = (guint64)value;
        return true;
    }
    if (g_str_equal(name, "downtime-limit")) {
        if (value < 0 || value > VH_MIG_MAX_DOWNTIME_LIMIT) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "Parameter 'downtime-limit' expects an integer in "
                        "the range of 0 to %d milliseconds",
                        VH_MIG_MAX_DOWNTIME_LIMIT);
            return false;
        }
        p->downtime_limit = (guint64)value;
        return true;
    }
    if (g_str_equal(name, "multifd-channels")) {
        if (value < 1 || value > VH_MIG_MAX_CHANNELS) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "Parameter 'multifd-channels' expects a value "
                        "between 1 and %u",
                        VH_MIG_MAX_CHANNELS);
            return false;
        }
        p->multifd_channels = (guint32)value;
        return true;
    }
    if (g_str_equal(name, "max-postcopy-bandwidth")) {
        if (value < 0) {
            g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                                "Parameter 'max-postcopy-bandwidth' expects a "
                                "size in bytes per second, 0 (unlimited) or "
                                "more");
            return false;
        }
        p->max_postcopy_bandwidth = (guint64)value;
        return true;
    }
    if (g_str_equal(name, "x-postcopy-after-passes")) {
        if (value < 0 || value > 1000) {
            g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                                "Parameter 'x-postcopy-after-passes' expects "
                                "0 (never) to 1000 pre-copy passes");
            return false;
        }
        p->postcopy_after_passes = (guint32)value;
        return true;
    }
    if (g_str_equal(name, "x-postcopy-link-timeout")) {
        return set_ms_or_zero(name, value, "off: the kernel's TCP timeouts",
                              VH_MIG_MIN_POSTCOPY_LINK_TIMEOUT,
                              VH_MIG_MAX_POSTCOPY_LINK_TIMEOUT,
                              &p->postcopy_link_timeout, errp);
    }
    if (g_str_equal(name, "x-postcopy-sync-interval")) {
        return set_ms_or_zero(name, value, "only at each pass's end",
                              VH_MIG_MIN_POSTCOPY_SYNC_INTERVAL,
                              VH_MIG_MAX_POSTCOPY_SYNC_INTERVAL,
                              &p->postcopy_sync_interval, errp);
    }
    return unknown_param(name, errp);
}

bool vh_mig_params_set_str(VhMigParams *p, const char *name, const char *value,
                           bool hmp, GError **errp)
{
    char **s = str_param(p, name);
    gint64 v;

    if (s) {
        g_free(*s);
        *s = g_strdup(value ? value : "");
        return true;
    }
    if (g_str_equal(name, "max-bandwidth") ||
        g_str_equal(name, "max-postcopy-bandwidth")) {
        guint64 bw;
        g_autoptr(GError) err = NULL;

        if (!vh_size_parse(value, hmp ? 'M' : 'B', &bw, &err) ||
            bw > G_MAXINT64) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "Parameter '%s' expects a size (bytes "
                        "per second; a bare number is MiB/s): '%s'",
                        name, value);
            return false;
        }
        return vh_mig_params_set_int(p, name, (gint64)bw, errp);
    }
    if (!g_str_equal(name, "downtime-limit") &&
        !g_str_equal(name, "multifd-channels") &&
        !g_str_equal(name, "x-postcopy-after-passes") &&
        !g_str_equal(name, "x-postcopy-link-timeout") &&
        !g_str_equal(name, "x-postcopy-sync-interval")) {
        return unknown_param(name, errp);
    }
    if (!g_ascii_string_to_signed(value, 10, G_MININT64, G_MAXINT64, &v,
                                  NULL)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Parameter '%s' expects an integer, not '%s'", name, value);
        return false;
    }
    return vh_mig_params_set_int(p, name, v, errp);
}

bool vh_migration_set_parameter_str(VhMigration *mig, const char *name,
                                    const char *value, GError **errp)
{
    bool ok;

    g_mutex_lock(&mig->conf.lock);
    ok = vh_mig_params_set_str(&mig->conf.params, name, value, true, errp);
    g_mutex_unlock(&mig->conf.lock);
    return ok;
}

bool vh_migration_set_parameter_int(VhMigration *mig, const char *name,
                                    gint64 value, GError **errp)
{
    bool ok;

    g_mutex_lock(&mig->conf.lock);
    ok = vh_mig_params_set_int(&mig->conf.params, name, value, errp);
    g_mutex_unlock(&mig->conf.lock);
    return ok;
}

void vh_migration_get_params(VhMigration *mig, VhMigParams *out)
{
    g_mutex_lock(&mig->conf.lock);
    vh_mig_params_copy(out, &mig->conf.params);
    g_mutex_unlock(&mig->conf.lock);
}

void vh_migration_set_params(VhMigration *mig, VhMigParams *p)
{
    g_mutex_lock(&mig->conf.lock);
    vh_mig_params_clear(&mig->conf.params);
    mig->conf.params = *p;
    memset(p, 0, sizeof(*p));
    g_mutex_unlock(&mig->conf.lock);
}

/* ---- capabilities ---- */

static const char *const cap_names[] = {
    "multifd", "events", "return-path", "postcopy-ram", NULL,
};

const char *const *vh_mig_capability_names(void)
{
    return cap_names;
}

bool vh_migration_get_capability(VhMigration *mig, const char *name)
{
    bool v = false;

    g_mutex_lock(&mig->conf.lock);
    if (g_str_equal(name, "multifd")) {
        v = mig->conf.caps.multifd;
    } else if (g_str_equal(name, "events")) {
        v = mig->conf.caps.events;
    } else if (g_str_equal(name, "postcopy-ram")) {
        v = mig->conf.caps.postcopy_ram;
    } else if (g_str_equal(name, "return-path")) {
        v = true;
    }
    g_mutex_unlock(&mig->conf.lock);
    return v;
}

bool vh_migration_set_capability(VhMigration *mig, const char *name, bool state,
                                 GError **errp)
{
    /* Capabilities change on the main context, as migrations start. */
    bool running = status_is_running(vh_migration_get_status(mig));
    bool ok = true;

    g_mutex_lock(&mig->conf.lock);
    if (!g_strv_contains(cap_names, name)) {
        g_autofree char *known = g_strjoinv(", ", (char **)cap_names);

        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Capability '%s' is unknown (known: %s)", name, known);
        ok = false;
    } else if (running) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Capability '%s': there's a migration process in "
                    "progress",
                    name);
        ok = false;
    } else if (g_str_equal(name, "multifd")) {
        mig->conf.caps.multifd = state;
    } else if (g_str_equal(name, "events")) {
        mig->conf.caps.events = state;
    } else if (g_str_equal(name, "return-path") && !state) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                            "Capability 'return-path' cannot be turned off: "
                            "vmhost reports completed only after the target "
                            "confirmed over it");
        ok = false;
    } else if (g_str_equal(name, "postcopy-ram")) {
        g_autoptr(GError) err = NULL;

        if (state &&
            !vh_postcopy_check_ram(vh_machine_get_ram(mig->machine), &err)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                        "Capability 'postcopy-ram' is not supported here: %s",
                        err->message);
            ok = false;
        } else {
            mig->conf.caps.postcopy_ram = state;
        }
    }
    g_mutex_unlock(&mig->conf.lock);
    return ok;
}

/* ---- helpers for source and target ---- */

/* From any thread: a TLS channel's shutdown(BOTH) only cuts its socket. */
void vh_mig_shutdown_quietly(VhChannel *ch)
{
    if (vh_channel_has_feature(ch, VH_CHANNEL_FEATURE_SHUTDOWN) &&
        !vh_channel_is_closed(ch)) {
        g_autoptr(GError) err = NULL;

        if (!vh_channel_shutdown(ch, VH_CHANNEL_SHUTDOWN_BOTH, &err)) {
            g_debug("migration: shutdown: %s", err->message);
        }
    }
}

bool vh_mig_tls_from_params(const VhMigParams *p, VhTlsCredsEndpoint endpoint,
                            VhMigTls *tls, GError **errp)
{
    memset(tls, 0, sizeof(*tls));
    if (!p->tls_creds || !*p->tls_creds) {
        if (p->tls_authz && *p->tls_authz) {
            g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                                "Parameter 'tls-authz' needs 'tls-creds'");
            return false;
        }
        return true;
    }
    tls->creds = vh_object_lookup_typed(p->tls_creds, VH_TYPE_TLS_CREDS, errp);
    if (!tls->creds) {
        g_prefix_error(errp, "Parameter 'tls-creds': ");
        return false;
    }
    if (vh_tls_creds_get_endpoint(tls->creds) != endpoint) {
        g_set_error(
            errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
            "Parameter 'tls-creds': '%s' has endpoint=%s, a migration "
            "%s needs endpoint=%s",
            p->tls_creds,
            vh_tls_creds_endpoint_name(vh_tls_creds_get_endpoint(tls->creds)),
            endpoint == VH_TLS_CREDS_ENDPOINT_SERVER ? "target" : "source",
            vh_tls_creds_endpoint_name(endpoint));
        vh_mig_tls_clear(tls);
        return false;
    }
    if (p->tls_hostname && *p->tls_hostname) {
        tls->hostname = p->tls_hostname;
    }
    if (p->tls_authz && *p->tls_authz) {
        /*
         * Checked now for an early error; the handshakes look the object up
         * again by id, as every TLS listener does (tls-accept.h).
         */
        g_autoptr(VhAuthz) authz =
            vh_object_lookup_typed(p->tls_authz, VH_TYPE_AUTHZ, errp);
        if (!authz) {
            g_prefix_error(errp, "Parameter 'tls-authz': ");
            vh_mig_tls_clear(tls);
            return false;
        }
        tls->authzid = g_strdup(p->tls_authz); /* vh_mig_tls_clear() */
    }
    return true;
}

void vh_mig_tls_clear(VhMigTls *tls)
{
    g_clear_object(&tls->creds);
    tls->hostname = NULL;
    g_free((char *)tls->authzid);
    tls->authzid = NULL;
}

/* ---- source: start and cancel ---- */

static void reset_stats_locked(VhMigration *mig, bool incoming)
{
    g_clear_pointer(&mig->stats.error, g_free);
    g_clear_pointer(&mig->stats.postcopy, g_free);
    mig->stats.incoming = incoming;
    mig->stats.start_us = g_get_monotonic_time();
    mig->stats.end_us = 0;
    mig->stats.setup_ms = 0;
    mig->stats.downtime_ms = 0;
    mig->stats.expected_downtime_ms = 0;
    mig->stats.mbps = 0;
    mig->stats.transferred = 0;
    mig->stats.remaining = 0;
    mig->stats.normal = 0;
    mig->stats.zero = 0;
    mig->stats.dirty_rate = 0;
    mig->stats.sync_count = 0;
    mig->stats.nch = 0;
    mig->stats.mechanism = NULL;
    mig->stats.guest_t0 = 0;
    mig->stats.guest_t1 = 0;
    if (!incoming) {
        vh_mig_guest_mark_locked(mig, false);
    }
}

void vh_mig_source_args_free(VhMigSourceArgs *a)
{
    vh_mig_uri_clear(&a->uri);
    vh_mig_tls_clear(&a->tls);
    g_free(a->hostname);
    vh_mig_params_clear(&a->params);
    g_free(a);
}

static bool check_can_start(VhMigration *mig, GError **errp)
{
    VhRunState st = vh_machine_get_state(mig->machine);

    if (status_is_running(mig->stats.status)) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "There's a migration process in progress");
        return false;
    }
    /* A target that received its guest may send it on (or back). */
    if (mig->stats.incoming && mig->stats.status != VH_MIG_STATUS_COMPLETED) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "this vmhost is waiting for an incoming "
                            "migration (-incoming)");
        return false;
    }
    if (st == VH_RUN_STATE_INMIGRATE || st == VH_RUN_STATE_SHUTDOWN) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "cannot migrate a machine in state %s",
                    vh_run_state_name(st));
        return false;
    }
    return true;
}

bool vh_migration_start(VhMigration *mig, const char *uri, GError **errp)
{
    VhMigSourceArgs *a;

    g_mutex_lock(&mig->stats.lock);
    if (!check_can_start(mig, errp)) {
        g_mutex_unlock(&mig->stats.lock);
        return false;
    }
    g_mutex_unlock(&mig->stats.lock);
    if (mig->src.thread) {
        g_thread_join(mig->src.thread);
        mig->src.thread = NULL;
    }
    a = g_new0(VhMigSourceArgs, 1);
    a->mig = mig;
    vh_migration_get_params(mig, &a->params);
    a->multifd = vh_migration_get_capability(mig, "multifd");
    a->postcopy = vh_migration_get_capability(mig, "postcopy-ram");
    if (!vh_mig_uri_parse(uri, &a->uri, errp) ||
        !vh_mig_tls_from_params(&a->params, VH_TLS_CREDS_ENDPOINT_CLIENT,
                                &a->tls, errp)) {
        vh_mig_source_args_free(a);
        return false;
    }
    a->hostname = g_strdup(a->tls.hostname);
    a->tls.hostname = a->hostname;
    if (a->postcopy &&
        (a->uri.kind == VH_MIG_URI_FILE || a->uri.kind == VH_MIG_URI_EXEC)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "postcopy-ram needs a return path for the target's page "
                    "requests: tcp:, unix: or fd:, not '%s'",
                    uri);
        vh_mig_source_args_free(a);
        return false;
    }
    if (a->multifd && !vh_mig_uri_supports_multiple(&a->uri)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "multifd needs a tcp: or unix: URI, not '%s'", uri);
        vh_mig_source_args_free(a);
        return false;
    }
    g_mutex_lock(&mig->stats.lock);
    reset_stats_locked(mig, false);
    mig->stats.status = VH_MIG_STATUS_SETUP;
    g_mutex_unlock(&mig->stats.lock);
    g_atomic_int_set(&mig->src.cancelling, 0);
    g_atomic_int_set(&mig->src.postcopy_requested, 0);
    g_atomic_int_set(&mig->src.pause_requested, 0);
    g_clear_object(&mig->src.cancel);
    mig->src.cancel = g_cancellable_new();
    vh_mig_set_status(mig, VH_MIG_STATUS_SETUP, NULL);
    mig->src.thread = g_thread_new("migration", vh_mig_source_thread, a);
    return true;
}

bool vh_migration_start_postcopy(VhMigration *mig, GError **errp)
{
    VhMigStatus st = vh_migration_get_status(mig);
    bool incoming;

    g_mutex_lock(&mig->stats.lock);
    incoming = mig->stats.incoming;
    g_mutex_unlock(&mig->stats.lock);
    if (!vh_migration_get_capability(mig, "postcopy-ram")) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "Enable postcopy with migrate_set_capability "
                            "before the start of migration");
        return false;
    }
    if (incoming || (st != VH_MIG_STATUS_SETUP && st != VH_MIG_STATUS_ACTIVE)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "migrate_start_postcopy: no outgoing pre-copy is running "
                    "(status %s)",
                    vh_mig_status_name(st));
        return false;
    }
    g_atomic_int_set(&mig->src.postcopy_requested, 1);
    return true;
}

bool vh_migration_resume(VhMigration *mig, const char *uri, GError **errp)
{
    VhMigSourceArgs *r;
    bool ok = true;

    if (vh_migration_get_status(mig) != VH_MIG_STATUS_POSTCOPY_PAUSED ||
        mig->stats.incoming) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "migrate -r: no outgoing post-copy is paused");
        return false;
    }
    r = g_new0(VhMigSourceArgs, 1);
    r->mig = mig;
    /* As QEMU: the TLS parameters as they are now (new credentials). */
    vh_migration_get_params(mig, &r->params);
    if (!vh_mig_uri_parse(uri, &r->uri, errp) ||
        !vh_mig_tls_from_params(&r->params, VH_TLS_CREDS_ENDPOINT_CLIENT,
                                &r->tls, errp)) {
        vh_mig_source_args_free(r);
        return false;
    }
    r->hostname = g_strdup(r->tls.hostname);
    r->tls.hostname = r->hostname;
    if (r->uri.kind == VH_MIG_URI_FILE || r->uri.kind == VH_MIG_URI_EXEC) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "migrate -r: post-copy needs tcp:, unix: or fd:, not '%s'",
                    uri);
        vh_mig_source_args_free(r);
        return false;
    }
    g_mutex_lock(&mig->src.lock);
    if (mig->src.resume) {
        ok = false;
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "migrate -r: a resume is already under way");
        vh_mig_source_args_free(r);
    } else {
        mig->src.resume = r;
        g_cond_broadcast(&mig->src.cond);
    }
    g_mutex_unlock(&mig->src.lock);
    return ok;
}

bool vh_migration_pause(VhMigration *mig, GError **errp)
{
    VhMigStatus st;
    bool incoming;

    g_mutex_lock(&mig->stats.lock);
    st = mig->stats.status;
    incoming = mig->stats.incoming;
    g_mutex_unlock(&mig->stats.lock);
    if (st != VH_MIG_STATUS_POSTCOPY_ACTIVE) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "migrate_pause: only a running post-copy can be paused "
                    "(status %s)%s",
                    vh_mig_status_name(st),
                    st == VH_MIG_STATUS_SETUP || st == VH_MIG_STATUS_ACTIVE
                        ? "; a pre-copy is stopped with migrate_cancel"
                        : "");
        return false;
    }
    if (incoming) {
        vh_mig_target_pause(mig);
        return true;
    }
    /* The thread sees its connections fail and pauses, saying why. */
    g_atomic_int_set(&mig->src.pause_requested, 1);
    g_mutex_lock(&mig->src.lock);
    for (guint i = 0; i < mig->src.shut->len; i++) {
        vh_mig_shutdown_quietly(g_ptr_array_index(mig->src.shut, i));
    }
    g_mutex_unlock(&mig->src.lock);
    return true;
}

bool vh_migration_recover(VhMigration *mig, const char *uri, GError **errp)
{
    VhMigParams p;
    VhMigTls tls;
    VhMigUri u;
    bool ok;

    if (vh_migration_get_status(mig) != VH_MIG_STATUS_POSTCOPY_PAUSED ||
        !mig->stats.incoming) {
        /*
         * Nothing ran here: a source paused in its switch resumes to the
         * listener there is (a cancelled pre-copy looks the same here).
         */
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "migrate_recover: no incoming post-copy is paused%s",
                    mig->stats.incoming && vh_mig_target_may_recover(mig)
                        ? " (the guest never ran here: a source paused "
                          "between POSTCOPY_RUN and READY resumes to the "
                          "migrate_incoming URI, which still listens, and "
                          "learns that it holds the only guest)"
                        : "");
        return false;
    }
    if (!vh_mig_uri_parse(uri, &u, errp)) {
        return false;
    }
    if (!vh_mig_uri_supports_multiple(&u)) {
        vh_mig_uri_clear(&u);
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "migrate_recover: post-copy needs tcp: or unix:, not '%s'",
                    uri);
        return false;
    }
    vh_migration_get_params(mig, &p);
    ok = vh_mig_tls_from_params(&p, VH_TLS_CREDS_ENDPOINT_SERVER, &tls, errp);
    vh_mig_params_clear(&p);
    if (!ok) {
        vh_mig_uri_clear(&u);
        return false;
    }
    /* A new listener (the old one may be on the same address). */
    g_clear_pointer(&mig->tgt.listener, vh_mig_listener_free);
    vh_mig_uri_clear(&mig->tgt.in_uri);
    mig->tgt.in_uri = u;
    mig->tgt.listener =
        vh_mig_listen(&mig->tgt.in_uri, &tls, mig->fdl, mig->fdl_opaque,
                      mig->ctx, vh_mig_target_accept, mig, errp);
    vh_mig_tls_clear(&tls);
    return mig->tgt.listener != NULL;
}

void vh_migration_cancel(VhMigration *mig)
{
    g_mutex_lock(&mig->stats.lock);
    if (mig->stats.incoming || (mig->stats.status != VH_MIG_STATUS_SETUP &&
                                mig->stats.status != VH_MIG_STATUS_ACTIVE)) {
        g_mutex_unlock(&mig->stats.lock);
        return;
    }
    /* Before the thread can see the cut: it reports cancelled after. */
    set_status_locked(mig, VH_MIG_STATUS_CANCELLING, NULL);
    g_atomic_int_set(&mig->src.cancelling, 1);
    g_mutex_lock(&mig->src.lock);
    for (guint i = 0; i < mig->src.shut->len; i++) {
        vh_mig_shutdown_quietly(g_ptr_array_index(mig->src.shut, i));
    }
    g_mutex_unlock(&mig->src.lock);
    g_mutex_unlock(&mig->stats.lock);
    g_cancellable_cancel(mig->src.cancel);
}

/* ---- target: start ---- */

bool vh_migration_incoming(VhMigration *mig, const char *uri, GError **errp)
{
    VhMigParams p;
    VhMigTls tls;
    VhRunState st = vh_machine_get_state(mig->machine);
    bool ok;

    if (mig->tgt.in_uri_set) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "The incoming migration has already been started");
        return false;
    }
    if (st != VH_RUN_STATE_INMIGRATE) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "migrate-incoming needs a machine started with -incoming "
                    "(this one is in state %s)",
                    vh_run_state_name(st));
        return false;
    }
    if (!vh_mig_uri_parse(uri, &mig->tgt.in_uri, errp)) {
        return false;
    }
    vh_migration_get_params(mig, &p);
    ok = vh_mig_tls_from_params(&p, VH_TLS_CREDS_ENDPOINT_SERVER, &tls, errp);
    vh_mig_params_clear(&p);
    if (!ok) {
        vh_mig_uri_clear(&mig->tgt.in_uri);
        return false;
    }
    g_mutex_lock(&mig->stats.lock);
    reset_stats_locked(mig, true);
    mig->stats.status = VH_MIG_STATUS_SETUP;
    g_mutex_unlock(&mig->stats.lock);
    mig->tgt.listener =
        vh_mig_listen(&mig->tgt.in_uri, &tls, mig->fdl, mig->fdl_opaque,
                      mig->ctx, vh_mig_target_accept, mig, errp);
    vh_mig_tls_clear(&tls);
    if (!mig->tgt.listener) {
        g_mutex_lock(&mig->stats.lock);
        mig->stats.status = VH_MIG_STATUS_NONE;
        mig->stats.incoming = false;
        g_mutex_unlock(&mig->stats.lock);
        vh_mig_uri_clear(&mig->tgt.in_uri);
        return false;
    }
    mig->tgt.in_uri_set = true;
    vh_mig_set_status(mig, VH_MIG_STATUS_SETUP, NULL);
    return true;
}

char *vh_migration_incoming_address(VhMigration *mig)
{
    return mig->tgt.listener ? vh_mig_listener_describe(mig->tgt.listener)
                             : NULL;
}

/* ---- info ---- */

VhMigStatus vh_migration_get_status(VhMigration *mig)
{
    VhMigStatus st;

    g_mutex_lock(&mig->stats.lock);
    st = mig->stats.status;
    g_mutex_unlock(&mig->stats.lock);
    return st;
}

void vh_mig_info_clear(VhMigInfo *info)
{
    g_free(info->dirty_tracking);
    g_free(info->error);
    g_free(info->postcopy);
    memset(info, 0, sizeof(*info));
}

void vh_migration_get_info(VhMigration *mig, VhMigInfo *o)
{
    guint64 ram = vh_ram_block_get_size(vh_machine_get_ram(mig->machine));
    gint64 end;

    memset(o, 0, sizeof(*o));
    g_mutex_lock(&mig->stats.lock);
    o->status = mig->stats.status;
    o->incoming = mig->stats.incoming;
    end = mig->stats.end_us ? mig->stats.end_us : g_get_monotonic_time();
    o->total_time =
        mig->stats.start_us ? (end - mig->stats.start_us) / 1000 : 0;
    o->setup_time = mig->stats.setup_ms;
    o->expected_downtime = mig->stats.expected_downtime_ms;
    o->downtime = mig->stats.downtime_ms;
    o->mbps = mig->stats.mbps;
    o->transferred = mig->stats.transferred;
    o->remaining = mig->stats.remaining;
    o->total = ram;
    o->duplicate = mig->stats.zero;
    o->normal = mig->stats.normal;
    o->normal_bytes = mig->stats.normal * VH_RAM_PAGE_SIZE;
    o->dirty_pages_rate = mig->stats.dirty_rate;
    o->dirty_sync_count = mig->stats.sync_count;
    o->page_size = VH_RAM_PAGE_SIZE;
    o->multifd_channels = mig->stats.nch;
    o->postcopy = g_strdup(mig->stats.postcopy);
    if (mig->stats.incoming &&
        (mig->stats.status == VH_MIG_STATUS_ACTIVE ||
         mig->stats.status == VH_MIG_STATUS_POSTCOPY_ACTIVE)) {
        /* The target counts as it loads. */
        g_mutex_lock(&mig->tgt.lock);
        if (mig->tgt.attempt && !o->postcopy) {
            o->postcopy =
                vh_mig_loader_postcopy_stats(mig->tgt.attempt->loader);
        }
        if (mig->tgt.attempt) {
            o->transferred = vh_mig_loader_get_bytes(mig->tgt.attempt->loader);
            o->normal_bytes = o->transferred;
            o->normal = o->transferred / VH_RAM_PAGE_SIZE;
        }
        g_mutex_unlock(&mig->tgt.lock);
    }
    guest_rate_locked(mig, o);
    o->dirty_tracking = g_strdup(mig->stats.mechanism);
    if (mig->stats.status == VH_MIG_STATUS_FAILED ||
        mig->stats.status == VH_MIG_STATUS_CANCELLED ||
        mig->stats.status == VH_MIG_STATUS_POSTCOPY_PAUSED) {
        o->error = g_strdup(mig->stats.error);
    }
    g_mutex_unlock(&mig->stats.lock);
}

VhMigStatus vh_migration_wait(VhMigration *mig, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        VhMigStatus st = vh_migration_get_status(mig);

        if (st == VH_MIG_STATUS_COMPLETED || st == VH_MIG_STATUS_FAILED ||
            st == VH_MIG_STATUS_CANCELLED) {
            /* Deliver the notifications queued so far. */
            while (g_main_context_iteration(mig->ctx, false)) {
            }
            return st;
        }
        if (timeout_ms && g_get_monotonic_time() > deadline) {
            return st;
        }
        if (!g_main_context_iteration(mig->ctx, false)) {
            g_usleep(1000);
        }
    }
}
