/*
 * Helpers shared by the TLS session, TLS channel and interop tests: a
 * throwaway PKI made with pki.h at test time, and credentials over it.
 */
#pragma once

#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/tls-creds.h"

#include <time.h>

typedef struct {
    char *root; /* a temporary directory, removed by _free */
    VhPkiKey *ca_key;
    gnutls_x509_crt_t ca;
} TlsTestPki;

/* A CA "C=UK,O=vmhost test,CN=<cn>" in a new temporary root. */
TlsTestPki *tls_test_pki_new(const char *ca_cn);
void tls_test_pki_free(TlsTestPki *pki);

/* root/<name>, created, holding @pki's CA as ca-cert.pem (transfer full). */
char *tls_test_pki_dir(TlsTestPki *pki, const char *name);

/*
 * server-cert.pem / server-key.pem in @dir, signed by @pki's CA, for the
 * subject that authz sees as @dn (e.g. "C=UK,O=vmhost test,CN=host1"). @dns and
 * @ips may be NULL (no SAN of that kind). @activation/@expiration 0 mean the
 * preset's times.
 */
void tls_test_pki_issue_server(TlsTestPki *pki, const char *dir, const char *dn,
                               const char *const *dns, const char *const *ips,
                               time_t activation, time_t expiration);
void tls_test_pki_issue_client(TlsTestPki *pki, const char *dir, const char *dn,
                               time_t activation, time_t expiration);

/* Loaded credentials; asserts success. @priority may be NULL. */
VhTlsCreds *tls_test_creds_x509(const char *dir, VhTlsCredsEndpoint endpoint,
                                bool verify_peer, const char *priority,
                                bool sanity_check);
/* As above but returns NULL with an error. */
VhTlsCreds *tls_test_creds_x509_try(const char *dir,
                                    VhTlsCredsEndpoint endpoint,
                                    bool verify_peer, const char *priority,
                                    bool sanity_check, GError **errp);
VhTlsCreds *tls_test_creds_anon(VhTlsCredsEndpoint endpoint,
                                const char *priority);
/* @dir gets keys.psk with @keys_psk ("user:hexkey\n..."). */
VhTlsCreds *tls_test_creds_psk(const char *dir, const char *keys_psk,
                               VhTlsCredsEndpoint endpoint,
                               const char *username, const char *priority);

/* Priority strings forcing one protocol version. */
#define TLS_TEST_PRIORITY_TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"
#define TLS_TEST_PRIORITY_TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"
