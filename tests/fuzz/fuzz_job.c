/* libFuzzer harness: the JOB payload decoder, sl_job_decode (host/cluster/job.h). Inputs are JOB
 * frame payloads (sl_job_encode's output).
 *
 * Checks: the result is 0, SL_EPARSE or SL_ENOMEM, with a message on error and no join text
 * left allocated; the result endpoint is always a string; an accepted job has the topology
 * shape of fuzz_check.h (a node indexes its stage and placement arrays with these counts) and
 * join texts of their stated length, and encodes back to exactly the bytes received (the
 * encoding is canonical: the decoder refuses whatever would encode otherwise). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz_check.h"
#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_job job;
    char err[512] = "";

    int rc = sl_job_decode(data, size, &job, err, sizeof err);
    FUZZ_TERMINATED(job.result_endpoint);
    if (rc != 0) {
        FUZZ_REQUIRE(rc == SL_EPARSE || rc == SL_ENOMEM);
        FUZZ_REQUIRE(err[0] != '\0');
        for (int i = 0; i < SL_STAGES_MAX; i++)
            FUZZ_REQUIRE(job.join_text[i] == NULL);
        return 0;
    }

    fuzz_check_topology_shape(&job.topo);
    for (int i = 0; i < SL_STAGES_MAX; i++)
        if (job.join_text[i])
            FUZZ_REQUIRE(job.join_text[i][job.join_len[i]] == '\0');

    unsigned char *buf = NULL;
    size_t len = 0;
    FUZZ_REQUIRE(sl_job_encode(&job, &buf, &len) == 0);
    FUZZ_REQUIRE(len == size && memcmp(buf, data, size) == 0);
    free(buf);
    sl_job_clear(&job);
    return 0;
}
