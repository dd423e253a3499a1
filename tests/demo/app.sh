#!/bin/sh
# The demo's app: a shell script, the kind of PID 1 that ignores SIGTERM on its own. It reports
# every signal it gets, makes orphans on request, and shuts down cleanly on SIGTERM.
echo "app: started as pid $$ (process group $(ps -o pgid= -p $$ | tr -d ' '))"
trap 'echo "app: got SIGUSR1: making 200 orphans that exit 0.3 s later"
	i=0; while [ $i -lt 200 ]; do (sleep 0.3 &); i=$((i + 1)); done' USR1
trap 'echo "app: got SIGHUP: reloading"' HUP
trap 'echo "app: got SIGTERM: finishing requests, then exiting 0"; exit 0' TERM
while :; do
	sleep 0.05
done
