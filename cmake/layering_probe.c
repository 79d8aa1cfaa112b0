/* Compiled by the `layering_*` tests (CMakeLists.txt) with one layer's include path: including
 * PROBE_HEADER must fail when it belongs to a layer above and work when it belongs to the layer
 * itself or one below. */
#include PROBE_HEADER

int sl_layering_probe(void);
int sl_layering_probe(void)
{
    return 0;
}
