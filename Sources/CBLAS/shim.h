#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
/* pkg-config openblas puts OpenBLAS's own cblas.h first on the include path. */
#include <cblas.h>

/* The two LAPACK routines of OpenBLAS that the closed-form item-item model needs (Cholesky
   factorization and the inverse from it), declared as OpenBLAS's f77blas.h does. */
int spotrf_(char *uplo, blasint *n, float *a, blasint *lda, blasint *info);
int spotri_(char *uplo, blasint *n, float *a, blasint *lda, blasint *info);
#endif
