/*
 * ctl.h: the `graceinit prestop` and `graceinit status` client commands.
 */
#ifndef GRACEINIT_CTL_H
#define GRACEINIT_CTL_H

/* argv[0] is "prestop" or "status". Returns the exit status: 0, 1 (failed), 2 (usage). */
int ctl_main(int argc, char *const argv[], char *const envp[]);

#endif
