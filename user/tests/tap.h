/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small KTAP-style harness: every test runs in its own forked child under
 * a time limit, so a crash or a sanitizer abort fails that test alone.
 * A test returns 0 (pass) or TAP_SKIP; CHECK() failures exit the child.
 */
#ifndef SHMRING_TAP_H
#define SHMRING_TAP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define TAP_SKIP	77

struct tap_test {
	const char *name;
	int (*fn)(void);
	unsigned int timeout_s;		/* 0: the default, 60 s */
};

int tap_main(const struct tap_test *tests, size_t n, int argc, char **argv);

void tap_fail(const char *file, int line, const char *what, long got)
	__attribute__((noreturn));

/* Fails the test unless @cond holds. */
#define CHECK(cond) do {						\
	if (!(cond))							\
		tap_fail(__FILE__, __LINE__, #cond, 0);			\
} while (0)

/* @expr must fail with -@err and leave errno at @err. */
#define CHECK_ERR(expr, err) do {					\
	long _r;							\
	errno = 0;							\
	_r = (long)(expr);						\
	if (_r != -(long)(err) || errno != (err))			\
		tap_fail(__FILE__, __LINE__, #expr " == -" #err, _r);	\
} while (0)

/* @expr must return 0 (or, for counts, a value >= 0 that equals @want). */
#define CHECK_OK(expr) CHECK_EQ(expr, 0)
#define CHECK_EQ(expr, want) do {					\
	long _r = (long)(expr);						\
	if (_r != (long)(want))						\
		tap_fail(__FILE__, __LINE__, #expr " == " #want, _r);	\
} while (0)

#define TAP_TESTS(...)							\
	static const struct tap_test tap_tests[] = { __VA_ARGS__ };	\
	int main(int argc, char **argv)					\
	{								\
		return tap_main(tap_tests,				\
				sizeof(tap_tests) / sizeof(tap_tests[0]), \
				argc, argv);				\
	}

#endif /* SHMRING_TAP_H */
