#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
/* pkg-config openblas puts OpenBLAS's own cblas.h first on the include path. */
#include <cblas.h>
#endif
