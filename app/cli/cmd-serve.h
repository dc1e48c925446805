/* cmd-serve.h: `wenshu-cli serve`, the OpenAI-compatible server (app/serve/). */
#ifndef WENSHU_CMD_SERVE_H
#define WENSHU_CMD_SERVE_H

/* argv[0] is "serve". Returns 0 after a clean stop (SIGINT or SIGTERM), 2 for
 * bad options or a refused host, 1 when the model or the address fails. */
int cmd_serve(int argc, char **argv);

#endif /* WENSHU_CMD_SERVE_H */
