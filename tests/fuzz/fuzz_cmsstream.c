/* fuzz_cmsstream: the BER/DER walker that detaches the encrypted content of
 * CMS (Auth)EnvelopedData (filter/cmsstream.c) on arbitrary input; what it
 * returns must be parseable by OpenSSL or at least not crash it.  Seeds:
 * openssl cms (DER, BER -stream, AES-GCM) and gpgsm output. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "cmsstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int in = memfd_create("fuzz_cms_in", 0), out = memfd_create("fuzz_cms_out", 0);
    unsigned char *der;
    const unsigned char *p;
    char why[256];
    size_t len;

    if (in >= 0 && out >= 0 && write(in, data, size) == (ssize_t)size &&
        (der = cmss_split(in, out, &len, why, sizeof(why))) != NULL) {
        CMS_ContentInfo *cms;

        if (len > CMSS_MAX_HEADER + 64)
            abort();
        p = der;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
        CMS_ContentInfo_free(cms);
        free(der);
        ERR_clear_error();
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return 0;
}
