#include "vmhost/util/iov.h"

size_t vh_iov_size(const struct iovec *iov, size_t niov)
{
    size_t total = 0;

    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    return total;
}
