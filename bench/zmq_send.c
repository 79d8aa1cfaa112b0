/* zmq_send: sends the lines of a file (or standard input) to a ZeroMQ PULL socket, several lines
 * per message, for trying the zmq source by hand (docs/config.md):
 *
 *   ./build/zmq_send tcp://127.0.0.1:5600 events.ndjson [LINES_PER_MESSAGE]
 *
 * A PUSH socket connects to the endpoint; a full queue blocks (ZeroMQ's back-pressure), and
 * closing waits up to 5 s for the messages still queued. Exit status 0, or 1 with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: zmq_send ENDPOINT FILE|- [LINES_PER_MESSAGE]\n");
        return 1;
    }
    long per = argc == 4 ? atol(argv[3]) : 100;
    if (per < 1)
        per = 1;
    FILE *in = strcmp(argv[2], "-") == 0 ? stdin : fopen(argv[2], "rb");
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(push, argv[1])) {
        fprintf(stderr, "zmq_send: %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    char *msg = NULL, *line = NULL;
    size_t len = 0, cap = 0, lcap = 0;
    long lines = 0, msgs = 0, in_msg = 0;
    ssize_t n;
    int rc = 0;
    for (;;) {
        n = getline(&line, &lcap, in);
        if (n > 0) {
            if (len + (size_t)n > cap) {
                cap = (len + (size_t)n) * 2;
                msg = realloc(msg, cap);
                if (!msg)
                    return 1;
            }
            memcpy(msg + len, line, (size_t)n);
            len += (size_t)n;
            in_msg++;
            lines++;
        }
        if ((n <= 0 && len > 0) || in_msg == per) {
            if (zmq_send(push, msg, len, 0) < 0) {
                fprintf(stderr, "zmq_send: sending: %s\n", zmq_strerror(zmq_errno()));
                rc = 1;
                break;
            }
            msgs++;
            len = 0;
            in_msg = 0;
        }
        if (n <= 0)
            break;
    }
    fprintf(stderr, "zmq_send: %ld lines in %ld messages to %s\n", lines, msgs, argv[1]);
    free(line);
    free(msg);
    zmq_close(push);
    zmq_ctx_term(ctx);
    if (in != stdin)
        fclose(in);
    return rc;
}
