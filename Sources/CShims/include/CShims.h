#ifndef MYNAPOINT_CSHIMS_H
#define MYNAPOINT_CSHIMS_H

#include <stddef.h>
#include <winscard.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

/// The PC/SC protocol control block for T=0 (`SCARD_PCI_T0` is a macro).
const SCARD_IO_REQUEST *mynapoint_scard_pci_t0(void);
/// The PC/SC protocol control block for T=1 (`SCARD_PCI_T1` is a macro).
const SCARD_IO_REQUEST *mynapoint_scard_pci_t1(void);
/// Frees memory allocated by OpenSSL (`OPENSSL_free` is a macro).
void mynapoint_openssl_free(void *pointer);
/// Number of entries in a stack of revoked certificates (`sk_X509_REVOKED_num` is a macro).
int mynapoint_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *stack);
/// Entry of a stack of revoked certificates (`sk_X509_REVOKED_value` is a macro).
X509_REVOKED *mynapoint_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *stack, int index);
/// A new, empty stack of certificates (`sk_X509_new_null` is a macro).
STACK_OF(X509) *mynapoint_sk_X509_new_null(void);
/// Pushes a certificate onto a stack (`sk_X509_push` is a macro).
int mynapoint_sk_X509_push(STACK_OF(X509) *stack, X509 *certificate);
/// Frees a stack of certificates, without freeing the certificates (`sk_X509_free` is a macro).
void mynapoint_sk_X509_free(STACK_OF(X509) *stack);
/// X509_NAME_print_ex flags for names in written order: RFC 2253 escaping except non-ASCII (kept as
/// UTF-8), ", " between attributes, short attribute names (`ASN1_STRFLGS_RFC2253` is a compound macro).
unsigned long mynapoint_x509_name_flags_written_order(void);
#endif
