// The C interface of CFaiss.h over faiss::IndexIVFFlat. Exceptions never cross into Swift:
// each entry point catches them and returns the message.
#include "CFaiss.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <cstdio>
#include <exception>
#include <memory>

// FAISS parallelizes with OpenMP (libgomp); only this one call of its runtime is needed here.
extern "C" void omp_set_num_threads(int count);

struct cfaiss_ivf {
    std::unique_ptr<faiss::IndexFlatIP> quantizer;
    std::unique_ptr<faiss::IndexIVFFlat> index;
};

static void report(const std::exception &failure, char *error, size_t capacity) {
    if (error != nullptr && capacity > 0) {
        std::snprintf(error, capacity, "%s", failure.what());
    }
}

extern "C" cfaiss_ivf *cfaiss_ivf_build(int d, int64_t n, const float *vectors, int lists,
                                        int training_points_per_list, int seed, int threads, char *error,
                                        size_t error_capacity) {
    try {
        omp_set_num_threads(threads < 1 ? 1 : threads);
        auto result = std::make_unique<cfaiss_ivf>();
        result->quantizer = std::make_unique<faiss::IndexFlatIP>(d);
        result->index = std::make_unique<faiss::IndexIVFFlat>(result->quantizer.get(), d, lists,
                                                              faiss::METRIC_INNER_PRODUCT);
        result->index->cp.max_points_per_centroid = training_points_per_list;
        result->index->cp.seed = seed;
        result->index->verbose = false;
        result->index->train(n, vectors);
        result->index->add(n, vectors);
        return result.release();
    } catch (const std::exception &failure) {
        report(failure, error, error_capacity);
        return nullptr;
    }
}

extern "C" int cfaiss_ivf_search(const cfaiss_ivf *index, int64_t n, const float *queries, int k, int probes,
                                 float *scores, int64_t *ids, char *error, size_t error_capacity) {
    try {
        // One thread per call: callers search batches side by side, each on its own thread.
        omp_set_num_threads(1);
        faiss::SearchParametersIVF parameters;
        parameters.nprobe = probes < 1 ? 1 : probes;
        index->index->search(n, queries, k, scores, ids, &parameters);
        return 0;
    } catch (const std::exception &failure) {
        report(failure, error, error_capacity);
        return -1;
    }
}

extern "C" void cfaiss_ivf_free(cfaiss_ivf *index) { delete index; }
