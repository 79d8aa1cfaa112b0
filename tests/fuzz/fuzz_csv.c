/* libFuzzer harness: the CSV reader (fuzz_reader.h). Inputs are CSV event files, usually with a
 * header line. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_reader_one(data, size, SL_FMT_CSV);
}
