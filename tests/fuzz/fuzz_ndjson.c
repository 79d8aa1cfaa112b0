/* libFuzzer harness: the NDJSON reader (fuzz_reader.h). Inputs are NDJSON event files. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_reader_one(data, size, SL_FMT_NDJSON);
}
