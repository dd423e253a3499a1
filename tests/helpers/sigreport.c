/*
 * helper_sigreport: reports what a spawned command inherited, for the spawn tests.
 *
 * Prints to stdout, one item a line: "SigBlk: HEX" and "SigIgn: HEX" as /proc/self/status shows
 * them (the blocked mask and the ignored signals), "fds: N N ..." the open fds above 2 (the fd
 * of the /proc/self/fd listing itself left out), and "ids: pid=P pgid=G sid=S".
 *
 * usage: helper_sigreport
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
print_status_lines(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL) {
		perror("sigreport: /proc/self/status");
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
			fputs(line, stdout);
	}
	fclose(f);
	return 0;
}

static int
print_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fd;

	if (d == NULL) {
		perror("sigreport: /proc/self/fd");
		return -1;
	}
	fputs("fds:", stdout);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd > 2 && fd != dirfd(d))
			printf(" %d", fd);
	}
	putchar('\n');
	closedir(d);
	return 0;
}

int
main(void)
{
	if (print_status_lines() == -1 || print_fds() == -1)
		return 1;
	printf("ids: pid=%d pgid=%d sid=%d\n", (int)getpid(), (int)getpgid(0), (int)getsid(0));
	return fflush(stdout) == 0 ? 0 : 1;
}
