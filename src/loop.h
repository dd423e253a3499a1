/*
 * loop.h: the one event loop: epoll for file descriptors, one timerfd for all timers.
 */
#ifndef GRACEINIT_LOOP_H
#define GRACEINIT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

typedef void loop_io_cb(struct loop *loop, uint32_t events, void *arg);
typedef void loop_timer_cb(struct loop *loop, void *arg);

/* A watched fd; owned by the caller, registered with loop_io_add. */
struct loop_io {
	int fd;
	loop_io_cb *cb;
	void *arg;
};

/* A one-shot timer; owned by the caller. deadline_ms < 0 means not armed. */
struct loop_timer {
	int64_t deadline_ms;
	loop_timer_cb *cb;
	void *arg;
	struct loop_timer *next;
	uint64_t round; /* the loop's timer round when it was armed */
};

struct loop {
	int epfd;
	int timerfd;
	struct loop_io timer_io;
	struct loop_timer *timers; /* armed timers, unsorted: there are only a few */
	int64_t armed_ms;          /* what the timerfd is set to, -1 when disarmed */
	uint64_t round;            /* rounds of expired timers run so far */
	bool running;
	int status;
};

int loop_init(struct loop *loop);
void loop_close(struct loop *loop);
int loop_io_add(
	struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_cb *cb, void *arg);
int loop_io_mod(struct loop *loop, struct loop_io *io, uint32_t events);
void loop_io_del(struct loop *loop, struct loop_io *io);
void loop_timer_init(struct loop_timer *timer, loop_timer_cb *cb, void *arg);
void loop_timer_at(struct loop *loop, struct loop_timer *timer, int64_t deadline_ms);
void loop_timer_cancel(struct loop *loop, struct loop_timer *timer);
bool loop_timer_armed(const struct loop_timer *timer);
int64_t loop_now_ms(void);
/* Runs until loop_stop; returns the status given to it, or -1 if epoll itself fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop, int status);

#endif
