/* What every part of the sluice command line shares: the name its messages start with. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

/* "sluice": the start of every message. */
extern const char cli_prog[];

#endif
