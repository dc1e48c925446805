/* cmd-models.h: `wenshu-cli models` (list, pull, verify, rm, import, path). */
#ifndef WENSHU_CMD_MODELS_H
#define WENSHU_CMD_MODELS_H

/* argc/argv start at "models". Returns the process exit status. */
int cmd_models(int argc, char **argv);

#endif
