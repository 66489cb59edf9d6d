#include "CShims.h"


const SCARD_IO_REQUEST *mynapoint_scard_pci_t0(void) { return SCARD_PCI_T0; }
const SCARD_IO_REQUEST *mynapoint_scard_pci_t1(void) { return SCARD_PCI_T1; }
void mynapoint_openssl_free(void *pointer) { OPENSSL_free(pointer); }
int mynapoint_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *stack) { return sk_X509_REVOKED_num(stack); }
X509_REVOKED *mynapoint_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *stack, int index) {
    return sk_X509_REVOKED_value(stack, index);
}
STACK_OF(X509) *mynapoint_sk_X509_new_null(void) { return sk_X509_new_null(); }
int mynapoint_sk_X509_push(STACK_OF(X509) *stack, X509 *certificate) { return sk_X509_push(stack, certificate); }
void mynapoint_sk_X509_free(STACK_OF(X509) *stack) { sk_X509_free(stack); }
unsigned long mynapoint_x509_name_flags_written_order(void) {
    return (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN;
}
