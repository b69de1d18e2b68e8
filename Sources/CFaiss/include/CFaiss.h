#ifndef CFAISS_H
#define CFAISS_H
/* A small C interface over FAISS's inverted-file index (IVF-Flat, inner product), the part the
   approximate top-K of large catalogues needs. Every call reports a FAISS error as text in
   `error` (NUL-terminated, at most `error_capacity` bytes) and returns NULL or -1. */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cfaiss_ivf cfaiss_ivf;

/* Trains the coarse quantizer (k-means on at most `training_points_per_list` * lists vectors,
   `seed` fixed) on `n` row-major vectors of dimension `d`, then adds them all with ids 0..<n. */
cfaiss_ivf *cfaiss_ivf_build(int d, int64_t n, const float *vectors, int lists, int training_points_per_list,
                             int seed, int threads, char *error, size_t error_capacity);

/* For each of `n` queries, the `k` vectors of largest inner product among those in the `probes`
   nearest lists: `scores` and `ids` are n x k, row-major; missing results have id -1. Runs on
   the calling thread. */
int cfaiss_ivf_search(const cfaiss_ivf *index, int64_t n, const float *queries, int k, int probes, float *scores,
                      int64_t *ids, char *error, size_t error_capacity);

void cfaiss_ivf_free(cfaiss_ivf *index);

#ifdef __cplusplus
}
#endif
#endif
