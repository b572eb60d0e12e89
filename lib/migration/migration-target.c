/*
 * The target side: each accepted connection gets a thread that has the
 * loader tell a main stream from a multifd channel (vh_mig_read_preamble)
 * and runs it on the connection; the main stream's thread finishes the
 * attempt.
 */
#include "migration-priv.h"

#include <string.h>

#include "vmhost/util/error.h"

static VhMigAttempt *attempt_ref(VhMigAttempt *a)
{
    g_atomic_ref_count_inc(&a->ref);
    return a;
}

static void attempt_unref(VhMigAttempt *a)
{
    if (g_atomic_ref_count_dec(&a->ref)) {
        vh_mig_loader_free(a->loader);
        g_ptr_array_unref(a->chans);
        g_free(a->cut_why);
        g_free(a);
    }
}

/* The guest may run now (QEMU's autostart rule): MACHINE's flag, no -S. */
static VhRunState next_state(VhMigration *mig, VhMigLoader *l)
{
    return vh_machine_get_autostart(mig->machine) &&
                   vh_mig_loader_get_running(l)
               ? VH_RUN_STATE_RUNNING
               : VH_RUN_STATE_PAUSED;
}

/*
 * Post-copy starts: x-postcopy-link-timeout @ms on every connection of
 * the current attempt (as cut_all, under tgt.lock: none has ended yet);
 * connections that join later, a resume's, get it in serve_conn. Returns
 * how many TCP connections took it.
 */
static guint link_guard_on(VhMigration *mig, guint ms)
{
    VhMigAttempt *a;
    guint n = 0;

    g_mutex_lock(&mig->tgt.lock);
    a = mig->tgt.attempt;
    if (a) {
        a->link_guard = true;
        a->link_ms = ms;
        for (guint i = 0; ms && i < a->chans->len; i++) {
            n += vh_mig_link_timeout_apply(g_ptr_array_index(a->chans, i), ms) >
                 0;
        }
    }
    g_mutex_unlock(&mig->tgt.lock);
    return n;
}

/* Under tgt.lock: the timeout on @ch, joining @a (a resume's connection). */
static void link_guard_join_locked(VhMigAttempt *a, VhChannel *ch, guint ms)
{
    if (a->link_guard) {
        a->link_ms = ms;
        if (ms) {
            (void)vh_mig_link_timeout_apply(ch, ms);
        }
    }
}

/*
 * Post-copy is over: the kernel's behaviour again on the main
 * connections this thread still holds (every other one has ended).
 */
static void link_guard_off(VhMigration *mig, VhMigAttempt *a, VhChannel *ch)
{
    VhChannel *resumed = vh_mig_loader_main_channel(a->loader);
    bool was;

    g_mutex_lock(&mig->tgt.lock);
    was = a->link_guard && a->link_ms;
    a->link_guard = false;
    g_mutex_unlock(&mig->tgt.lock);
    if (was) {
        (void)vh_mig_link_timeout_apply(ch, 0);
        if (resumed) {
            (void)vh_mig_link_timeout_apply(resumed, 0);
        }
    }
}

/*
 * POSTCOPY_RUN (in the main stream's thread): the devices have their
 * state and the RAM is registered; the guest starts at once and fetches
 * what it touches.
 */
static bool postcopy_run(VhMigLoader *l, void *opaque, GError **errp)
{
    VhMigration *mig = opaque;
    guint ms = vh_mig_conf_link_timeout(mig);
    guint n = link_guard_on(mig, ms);

    /* From here the guest runs on pages only the source has. */
    if (ms) {
        g_message("migration: post-copy: x-postcopy-link-timeout %u ms on %u "
                  "TCP connections",
                  ms, n);
    } else {
        g_message("migration: post-copy: x-postcopy-link-timeout 0: a link "
                  "that dies silently goes unnoticed for minutes "
                  "(migrate_pause pauses by hand)");
    }
    g_mutex_lock(&mig->stats.lock);
    vh_mig_guest_mark_locked(mig, false);
    g_mutex_unlock(&mig->stats.lock);
    vh_mig_set_status(mig, VH_MIG_STATUS_POSTCOPY_ACTIVE, NULL);
    return vh_machine_set_state(mig->machine, next_state(mig, l), errp);
}

static void cut_all(VhMigration *mig, VhMigAttempt *a);

/*
 * A post-copy connection failed (@why), or the link is back (NULL): the
 * guest runs on here, waiting on the pages it lacks.
 */
static void postcopy_pause(VhMigLoader *l, const char *why, void *opaque)
{
    VhMigration *mig = opaque;

    if (why) {
        bool asked =
            g_atomic_int_compare_and_exchange(&mig->tgt.pause_requested, 1, 0);
        g_autofree char *first = NULL;
        guint ms = 0;

        g_mutex_lock(&mig->tgt.lock);
        if (mig->tgt.attempt && mig->tgt.attempt->link_guard) {
            ms = mig->tgt.attempt->link_ms;
        }
        if (mig->tgt.attempt) {
            first = g_steal_pointer(&mig->tgt.attempt->cut_why);
        }
        g_mutex_unlock(&mig->tgt.lock);
        if (first) {
            why = first; /* the cause, not what the cut did to the stream */
        }
        g_autofree char *hint =
            !asked && ms && strstr(why, "timed out")
                ? g_strdup_printf("; nothing came back from the source for "
                                  "x-postcopy-link-timeout, %u ms: the link "
                                  "or the source is down",
                                  ms)
                : g_strdup("");
        g_autofree char *msg = g_strdup_printf(
            "post-copy paused: %s (%s%s). "
            "The guest runs on and waits for the pages it lacks: "
            "migrate_recover URI here and migrate -r URI on the source "
            "resume it. If the source is gone, the guest's state is split "
            "and cannot be recovered",
            asked ? "migrate_pause cut the connections"
                  : "the stream from the source failed",
            why, hint);

        /*
         * Every connection of the paused session ends now (a dead link
         * would hold them): none of them can then fail a resumed one.
         */
        g_mutex_lock(&mig->tgt.lock);
        if (mig->tgt.attempt) {
            cut_all(mig, mig->tgt.attempt);
        }
        g_mutex_unlock(&mig->tgt.lock);
        vh_mig_set_status(mig, VH_MIG_STATUS_POSTCOPY_PAUSED, msg);
    } else {
        /* The resumed connections got it as they joined (serve_conn). */
        guint ms = 0;

        g_mutex_lock(&mig->tgt.lock);
        if (mig->tgt.attempt) {
            ms = mig->tgt.attempt->link_ms;
            /* A cut of the paused session's is no cause of the next. */
            g_clear_pointer(&mig->tgt.attempt->cut_why, g_free);
        }
        g_mutex_unlock(&mig->tgt.lock);
        g_message("migration: post-copy resumed (x-postcopy-link-timeout %u "
                  "ms on its connections)",
                  ms);
        vh_mig_set_status(mig, VH_MIG_STATUS_POSTCOPY_ACTIVE, NULL);
    }
}

/* Under tgt.lock: the attempt a new connection joins. */
static VhMigAttempt *current_attempt_locked(VhMigration *mig)
{
    VhMigAttempt *a = mig->tgt.attempt;

    if (!a || a->finished) {
        if (a) {
            attempt_unref(a);
        }
        a = g_new0(VhMigAttempt, 1);
        g_atomic_ref_count_init(&a->ref);
        a->chans = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GArray) devices = vh_machine_get_devices(mig->machine);

        a->loader =
            vh_mig_loader_new(vh_machine_get_ram(mig->machine),
                              vh_mig_uri_supports_multiple(&mig->tgt.in_uri));
        vh_mig_loader_set_devices(a->loader, devices);
        if (vh_migration_get_capability(mig, "postcopy-ram")) {
            vh_mig_loader_allow_postcopy(a->loader, postcopy_run, mig);
            vh_mig_loader_set_postcopy_pause(a->loader, postcopy_pause);
        }
        if (mig->tgt.have_not_run) {
            /* A source paused in that one's switch may resume: NOT_RUN. */
            vh_mig_loader_set_not_run(a->loader, mig->tgt.not_run_uuid);
        }
        mig->tgt.attempt = a;
        /* A migrate_pause that came too late for the last attempt. */
        g_atomic_int_set(&mig->tgt.pause_requested, 0);
    }
    return attempt_ref(a);
}

/* Fail the attempt: every connection of it is cut. */
static void attempt_fail(VhMigration *mig, VhMigAttempt *a, const char *why)
{
    vh_mig_loader_abort(a->loader, why);
    g_mutex_lock(&mig->tgt.lock);
    a->finished = true;
    for (guint i = 0; i < a->chans->len; i++) {
        vh_mig_shutdown_quietly(g_ptr_array_index(a->chans, i));
    }
    g_mutex_unlock(&mig->tgt.lock);
}

/*
 * Post-copy lost one of its connections: cut them all, so that the main
 * stream pauses (it would wait for the lost one otherwise).
 */
static void attempt_cut(VhMigration *mig, VhMigAttempt *a, const char *why)
{
    if (vh_mig_loader_is_paused(a->loader)) {
        return;
    }
    g_mutex_lock(&mig->tgt.lock);
    if (!a->cut_why) {
        a->cut_why = g_strdup(why);
    }
    cut_all(mig, a);
    g_mutex_unlock(&mig->tgt.lock);
}

/* Under tgt.lock: cut every connection @a has had. */
static void cut_all(VhMigration *mig, VhMigAttempt *a)
{
    for (guint i = 0; i < a->chans->len; i++) {
        vh_mig_shutdown_quietly(g_ptr_array_index(a->chans, i));
    }
}

void vh_mig_target_pause(VhMigration *mig)
{
    g_mutex_lock(&mig->tgt.lock);
    if (mig->tgt.attempt && !mig->tgt.attempt->finished) {
        g_atomic_int_set(&mig->tgt.pause_requested, 1);
        cut_all(mig, mig->tgt.attempt);
    }
    g_mutex_unlock(&mig->tgt.lock);
}

bool vh_mig_target_may_recover(VhMigration *mig)
{
    guint8 uuid[VH_MIG_UUID_SIZE];
    VhMigAttempt *a;
    bool v;

    g_mutex_lock(&mig->tgt.lock);
    a = mig->tgt.attempt;
    v = !mig->tgt.in_completed &&
        (a && !a->finished ? vh_mig_loader_never_ran(a->loader, uuid)
                           : mig->tgt.have_not_run);
    g_mutex_unlock(&mig->tgt.lock);
    return v;
}

/* On the main context; a migration freed meanwhile has nothing left. */
static gboolean free_listener(gpointer opaque)
{
    VhMigNotifier *n = opaque;

    g_mutex_lock(&n->lock);
    if (n->mig) {
        g_clear_pointer(&n->mig->tgt.listener, vh_mig_listener_free);
    }
    g_mutex_unlock(&n->lock);
    return G_SOURCE_REMOVE;
}

static bool end_cleanly(VhChannel *ch, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (!vh_channel_shutdown(ch, VH_CHANNEL_SHUTDOWN_WRITE, &err) &&
        !g_error_matches(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED)) {
        g_propagate_error(errp, g_steal_pointer(&err));
        return false;
    }
    return true;
}

static bool load_main(VhMigration *mig, VhMigAttempt *a, VhChannel *ch,
                      const VhMigPreamble *pre, GError **errp)
{
    bool postcopy;

    /*
     * The guest is not running yet (it starts after this): each device
     * takes the state it loaded, so the guest goes on exactly where the
     * source's stopped. After post-copy it runs already, every page in.
     */
    if (!vh_mig_loader_run_main(a->loader, ch, pre, errp)) {
        return false;
    }
    postcopy = vh_mig_loader_in_postcopy(a->loader);
    if (postcopy) {
        g_mutex_lock(&mig->stats.lock);
        g_free(mig->stats.postcopy);
        mig->stats.postcopy = vh_mig_loader_postcopy_stats(a->loader);
        vh_mig_guest_mark_locked(mig, true);
        g_mutex_unlock(&mig->stats.lock);
        g_message("migration: post-copy done: %s", mig->stats.postcopy);
        vh_mig_loader_postcopy_finish(a->loader);
    } else {
        /* A pre-copy that converged: the REQUEST connection may end. */
        vh_mig_loader_postcopy_finish(a->loader);
        if (!vh_mig_loader_apply_devices(a->loader, errp)) {
            return false;
        }
    }
    if (vh_mig_loader_main_channel(a->loader)) {
        /* Resumed: the answer goes on the connection that finished. */
        ch = vh_mig_loader_main_channel(a->loader);
    }
    if (vh_mig_loader_has_return_path(a->loader)) {
        g_autoptr(GError) err = NULL;

        if (!vh_mig_rp_send_loaded(ch, vh_mig_loader_get_counts(a->loader),
                                   errp)) {
            g_prefix_error(errp, "return path: LOADED: ");
            return false;
        }
        /*
         * The source may close as soon as it read LOADED: the migration
         * is done either way, so a failed close-notify only gets logged.
         */
        if (!end_cleanly(ch, &err)) {
            g_debug("migration: ending the return path: %s", err->message);
        }
    }
    /* Everything is in: the guest may run (QEMU's autostart rule). */
    return postcopy ||
           vh_machine_set_state(mig->machine, next_state(mig, a->loader), errp);
}

static void publish_loaded(VhMigration *mig, VhMigAttempt *a)
{
    const VhMigCounts *c = vh_mig_loader_get_counts(a->loader);

    g_mutex_lock(&mig->stats.lock);
    mig->stats.transferred = vh_mig_loader_get_bytes(a->loader);
    mig->stats.normal = c->normal;
    mig->stats.zero = c->zero;
    mig->stats.sync_count = c->iterations;
    mig->stats.mbps =
        (double)mig->stats.transferred * 8 /
        (double)MAX(g_get_monotonic_time() - mig->stats.start_us, 1);
    g_mutex_unlock(&mig->stats.lock);
}

static void run_main_conn(VhMigration *mig, VhMigAttempt *a, VhChannel *ch,
                          const VhMigPreamble *pre)
{
    g_autoptr(GError) err = NULL;
    GSource *src;

    g_mutex_lock(&mig->stats.lock);
    mig->stats.start_us = g_get_monotonic_time();
    mig->stats.end_us = 0;
    g_clear_pointer(&mig->stats.error, g_free);
    g_mutex_unlock(&mig->stats.lock);
    vh_mig_set_status(mig, VH_MIG_STATUS_ACTIVE, NULL);
    if (load_main(mig, a, ch, pre, &err)) {
        /* Before the resumed main connection is released to its thread. */
        link_guard_off(mig, a, ch);
        vh_mig_loader_release_main(a->loader);
        publish_loaded(mig, a);
        g_mutex_lock(&mig->tgt.lock);
        a->finished = true;
        mig->tgt.in_completed = true;
        g_mutex_unlock(&mig->tgt.lock);
        vh_channel_close(ch, NULL);
        vh_mig_set_status(mig, VH_MIG_STATUS_COMPLETED, NULL);
        /* Always from the main context (never directly from here). */
        src = g_idle_source_new();
        g_source_set_callback(src, free_listener,
                              vh_mig_notifier_ref(mig->notifier),
                              (GDestroyNotify)vh_mig_notifier_unref);
        g_source_attach(src, mig->ctx);
        g_source_unref(src);
        return;
    }
    vh_mig_loader_release_main(a->loader);
    publish_loaded(mig, a);
    g_mutex_lock(&mig->tgt.lock);
    if (vh_mig_loader_never_ran(a->loader, mig->tgt.not_run_uuid)) {
        /* Its source may be paused in the switch: a resume learns this. */
        mig->tgt.have_not_run = true;
    }
    g_mutex_unlock(&mig->tgt.lock);
    if (vh_mig_loader_not_run(a->loader)) {
        /* A resume of a session that failed here before POSTCOPY_RUN. */
        g_autoptr(GError) e2 = NULL;

        if (!vh_mig_rp_send(ch, VH_MIG_RP_NOT_RUN, NULL, 0, &e2)) {
            g_message("migration: NOT_RUN: %s", e2->message);
        }
        attempt_fail(mig, a, err->message);
        vh_mig_set_status(mig, VH_MIG_STATUS_FAILED, err->message);
        return;
    }
    if (vh_mig_loader_in_postcopy(a->loader)) {
        /*
         * The guest runs here on RAM that is partly still on the source:
         * nothing can make it whole without that source. Its threads stay
         * blocked on the missing pages rather than read zeros.
         */
        g_autofree char *why = g_strdup_printf(
            "post-copy failed: %s; the guest's state is split between the "
            "source and this target (pages it lacks are only on the "
            "source): it cannot run on here",
            err->message);

        g_clear_error(&err);
        g_set_error_literal(&err, VH_ERROR, VH_ERROR_FAILED, why);
    }
    if (vh_mig_loader_has_return_path(a->loader)) {
        vh_mig_rp_send_error(ch, err->message);
    }
    attempt_fail(mig, a, err->message);
    vh_mig_set_status(mig, VH_MIG_STATUS_FAILED, err->message);
}

typedef struct {
    VhMigration *mig;
    VhChannel *ch;
} Conn;

/* Why a connection is not taken, or NULL; under tgt.lock. */
static const char *refuse_locked(VhMigration *mig, bool is_main)
{
    guint8 uuid[VH_MIG_UUID_SIZE];

    if (mig->tgt.in_completed) {
        return "a migration is already complete";
    }
    /*
     * Unless the source may be paused in the switch (post-copy that has
     * not run here): its RESUME is answered NOT_RUN.
     */
    if (is_main && mig->tgt.attempt && !mig->tgt.attempt->finished &&
        mig->tgt.attempt->has_main &&
        !vh_mig_loader_is_paused(mig->tgt.attempt->loader) &&
        !vh_mig_loader_never_ran(mig->tgt.attempt->loader, uuid)) {
        return "a migration is already being received";
    }
    return NULL;
}

/*
 * A RESUME came while POSTCOPY_RUN has not run here (the link died in
 * the switch), and now never will: the source learns that it holds the
 * only guest; this attempt fails (its main stream, still waiting for the
 * switch, reports it).
 */
static void not_run(VhMigration *mig, VhMigAttempt *a, VhChannel *ch,
                    const char *why)
{
    g_autoptr(GError) err = NULL;

    g_message("migration: %s", why);
    /* The answer goes before the cut (which would cut @ch too). */
    g_mutex_lock(&mig->tgt.lock);
    g_ptr_array_remove(a->chans, ch);
    g_mutex_unlock(&mig->tgt.lock);
    if (!vh_mig_rp_send(ch, VH_MIG_RP_NOT_RUN, NULL, 0, &err)) {
        g_message("migration: NOT_RUN: %s", err->message);
    }
    attempt_fail(mig, a, why);
}

static void serve_conn(VhMigration *mig, VhChannel *ch)
{
    VhMigAttempt *a;
    VhMigPreamble pre;
    g_autoptr(GError) err = NULL;
    const char *why;
    bool is_main, is_first_main = false;
    guint ms;

    if (!vh_mig_read_preamble(ch, &pre, &err)) {
        g_message(VH_MIG_LOG_REFUSED "%s", err->message);
        return;
    }
    is_main = pre.kind == VH_MIG_CONN_MAIN;
    ms = vh_mig_conf_link_timeout(mig); /* conf.lock: not under tgt.lock */
    g_mutex_lock(&mig->tgt.lock);
    why = refuse_locked(mig, is_main);
    if (why) {
        g_mutex_unlock(&mig->tgt.lock);
        g_message("migration: refused an incoming %s: %s",
                  is_main ? "main stream" : "channel", why);
        return;
    }
    a = current_attempt_locked(mig);
    g_ptr_array_add(a->chans, g_object_ref(ch));
    /* A resume's connection: a dead link must not hang it either. */
    link_guard_join_locked(a, ch, ms);
    if (is_main && !a->has_main) {
        a->has_main = true;
        is_first_main = true;
    }
    g_mutex_unlock(&mig->tgt.lock);
    if (is_first_main) {
        run_main_conn(mig, a, ch, &pre);
    } else if (is_main) {
        /* Post-copy paused: the source's new main connection. */
        if (vh_mig_loader_resume_main(a->loader, ch, &pre, &err)) {
            /* Served. */
        } else if (vh_mig_loader_not_run(a->loader)) {
            not_run(mig, a, ch, err->message);
        } else {
            g_message("migration: refused a resume: %s", err->message);
        }
    } else if (pre.kind == VH_MIG_CONN_POSTCOPY) {
        bool cause;
        bool ok =
            vh_mig_loader_run_postcopy_conn(a->loader, ch, &pre, &cause, &err);

        if (!ok && cause) {
            g_message("migration: %s", err->message);
            attempt_fail(mig, a, err->message);
        } else if (!ok && vh_mig_loader_in_postcopy(a->loader)) {
            g_message("migration: %s", err->message);
            attempt_cut(mig, a, err->message);
        }
    } else if (!vh_mig_loader_run_channel(a->loader, ch, &pre, &err) &&
               vh_mig_loader_in_postcopy(a->loader)) {
        /* In post-copy the main stream pauses; the bulk goes on main. */
        g_message("migration: %s", err->message);
        attempt_cut(mig, a, err->message);
    } else if (err) {
        g_message("migration: %s", err->message);
        /* The main stream's thread reports the failure. */
        attempt_fail(mig, a, err->message);
    }
    attempt_unref(a);
}

static gpointer conn_thread(gpointer opaque)
{
    Conn *c = opaque;
    VhMigration *mig = c->mig;
    VhChannel *ch = c->ch;

    g_free(c);
    serve_conn(mig, ch);
    /* Whatever happened, the peer sees this connection end now. */
    vh_channel_close(ch, NULL);
    g_mutex_lock(&mig->tgt.lock);
    g_ptr_array_remove(mig->tgt.in_chans, ch);
    g_mutex_unlock(&mig->tgt.lock);
    g_object_unref(ch);
    return NULL;
}

void vh_mig_target_accept(VhChannel *ch, const GError *err, void *opaque)
{
    VhMigration *mig = opaque;
    Conn *c;

    if (!ch) {
        g_message(VH_MIG_LOG_REFUSED "%s", err->message);
        g_mutex_lock(&mig->tgt.lock);
        g_free(mig->tgt.in_refused);
        mig->tgt.in_refused = g_strdup(err->message);
        g_mutex_unlock(&mig->tgt.lock);
        if (!vh_mig_uri_supports_multiple(&mig->tgt.in_uri)) {
            vh_mig_set_status(mig, VH_MIG_STATUS_FAILED, err->message);
        }
        return;
    }
    c = g_new0(Conn, 1);
    c->mig = mig;
    c->ch = ch;
    g_mutex_lock(&mig->tgt.lock);
    g_ptr_array_add(mig->tgt.in_chans, g_object_ref(ch));
    g_ptr_array_add(mig->tgt.in_threads,
                    g_thread_new("mig-incoming", conn_thread, c));
    g_mutex_unlock(&mig->tgt.lock);
}

void vh_mig_target_stop(VhMigration *mig)
{
    g_autoptr(GPtrArray) threads = NULL;

    g_clear_pointer(&mig->tgt.listener, vh_mig_listener_free);
    g_mutex_lock(&mig->tgt.lock);
    if (mig->tgt.attempt) {
        vh_mig_loader_abort(mig->tgt.attempt->loader,
                            "vmhost is shutting down");
    }
    for (guint i = 0; i < mig->tgt.in_chans->len; i++) {
        vh_mig_shutdown_quietly(g_ptr_array_index(mig->tgt.in_chans, i));
    }
    threads = g_ptr_array_copy(mig->tgt.in_threads, NULL, NULL);
    g_ptr_array_set_size(mig->tgt.in_threads, 0);
    g_mutex_unlock(&mig->tgt.lock);
    for (guint i = 0; i < threads->len; i++) {
        g_thread_join(g_ptr_array_index(threads, i));
    }
    g_mutex_lock(&mig->tgt.lock);
    g_clear_pointer(&mig->tgt.attempt, attempt_unref);
    g_ptr_array_set_size(mig->tgt.in_chans, 0);
    g_mutex_unlock(&mig->tgt.lock);
}
