#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Python's selectors and asyncio on a real shmring watch fd.

Started by shmring_watch_driver (see shmring_python_loops.sh) with three
arguments: the watch fd, O_NONBLOCK and watching one word of /dev/shmring,
and the driver's ends of its request and reply pipes. Requests: "wake N"
(N WAKEs of the word, then "ok"), "wake N MS" ("ok" first, the WAKEs MS ms
later, while the loop sleeps) and "count" (the pending count as fdinfo
shows it to the driver, which a read would reset). Prints KTAP; exits 1 if
a case failed.

With --imports before the three, it prints, after the cases, the files of
the standard library modules the run loaded: guest/lib.sh copies those
into the initramfs, having run this against an eventfd on the host.
"""

import sys

# asyncio imports ssl only to offer TLS, which nothing here uses, and the
# guest has neither ssl nor libssl: refused here too, so that the host's
# listing (--imports) is what a run in the guest loads.
sys.modules["ssl"] = None

import asyncio  # noqa: E402
import fcntl  # noqa: E402
import os  # noqa: E402
import selectors  # noqa: E402
import struct  # noqa: E402

QUIET = 0.2  # seconds a fd must stay unreadable to count as not readable
# The same in rounds, where the first check took QUIET: level-triggered
# readiness shows at once, and a loop needs one turn to see it.
BRIEF = 0.02
PATIENCE = 10.0  # seconds a WAKE gets to show; a miss fails, never hangs
ROUNDS = 10


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Driver:
    """shmring_watch_driver's end: the WAKEs come from there."""

    def __init__(self, req, rep):
        self.req = req
        self.rep = os.fdopen(rep, "r")

    def ask(self, line):
        os.write(self.req, (line + "\n").encode())
        answer = self.rep.readline()
        check(answer.endswith("\n"), f"driver: no reply to {line!r}")
        return answer.strip()

    def wake(self, n, later_ms=None):
        line = f"wake {n}" if later_ms is None else f"wake {n} {later_ms}"
        check(self.ask(line) == "ok", f"driver: {line!r} failed")

    def count(self):
        return int(self.ask("count"))


def read_count(fd):
    """One read(2) of 8 bytes: the count, which it resets."""
    data = os.read(fd, 8)
    check(len(data) == 8, f"read() gave {len(data)} bytes, not 8")
    return struct.unpack("=Q", data)[0]


def check_nothing_to_read(fd):
    try:
        v = read_count(fd)
    except BlockingIOError:
        return
    raise Failure(f"read() gave {v} with no WAKE since the last read")


def drain(fd):
    try:
        while True:
            read_count(fd)
    except BlockingIOError:
        pass


def case_inherited(fd, drv):
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    check(flags & os.O_NONBLOCK, f"the fd is not O_NONBLOCK (flags {flags:#o})")
    check(fcntl.fcntl(fd, fcntl.F_GETFD) == 0, "the fd is close-on-exec")
    check_nothing_to_read(fd)
    check(drv.count() == 0, "the driver sees a count before any WAKE")


def selector_case(cls):
    def case(fd, drv):
        with cls() as sel:
            sel.register(fd, selectors.EVENT_READ, "watch")
            check(sel.select(QUIET) == [], "readable before any WAKE")
            drv.wake(3)
            ready = sel.select(PATIENCE)
            check(len(ready) == 1 and ready[0][0].fd == fd and
                  ready[0][1] == selectors.EVENT_READ,
                  f"select() after 3 WAKEs: {ready}")
            v = read_count(fd)
            check(v == 3, f"read() after 3 WAKEs gave {v}")
            check(sel.select(QUIET) == [], "still readable after the read")
            check_nothing_to_read(fd)
            # Asleep in select() when the WAKEs come.
            for i in range(ROUNDS):
                n = 1 + i % 3
                drv.wake(n, 20)
                ready = sel.select(PATIENCE)
                check(ready, f"round {i}: no wake-up in {PATIENCE} s")
                got = 0
                while got < n and sel.select(PATIENCE):
                    got += read_count(fd)
                check(got == n, f"round {i}: read {got} for {n} WAKEs")
                check(sel.select(0) == [], f"round {i}: readable after the reads")
    case.__name__ = f"case_{cls.__name__}"
    return case


def case_level_unread(fd, drv):
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        drv.wake(2)
        for i in range(3):
            check(len(sel.select(PATIENCE)) == 1, f"select() {i + 1} of the unread fd: not readable")
        check(drv.count() == 2, "the count of 2 WAKEs, unread, is not 2")
        drv.wake(1)
        check(len(sel.select(0)) == 1, "not readable after one more WAKE")
        check(drv.count() == 3, "the count of 3 WAKEs, unread, is not 3")
        v = read_count(fd)
        check(v == 3, f"read() gave {v} for 3 WAKEs")
        check(drv.count() == 0, "the count is not 0 after the read")
        check(sel.select(QUIET) == [], "readable after the read")


async def wait_until(cond, timeout, what):
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        check(asyncio.get_running_loop().time() < end, what)
        await asyncio.sleep(0.01)


async def add_reader_batches(fd, drv):
    loop = asyncio.get_running_loop()
    got = []
    loop.add_reader(fd, lambda: got.append(read_count(fd)))
    try:
        await asyncio.sleep(QUIET)
        check(got == [], f"the reader ran before any WAKE: {got}")
        drv.wake(3)
        await wait_until(lambda: got, PATIENCE, "no callback after 3 WAKEs")
        await asyncio.sleep(QUIET)
        check(got == [3], f"callbacks after one batch of 3 WAKEs read {got}")
        # The loop is asleep in epoll_wait() when each WAKE comes.
        for i in range(ROUNDS):
            drv.wake(1, 20)
            await wait_until(lambda: len(got) == 2 + i, PATIENCE,
                             f"round {i}: no callback in {PATIENCE} s")
        await asyncio.sleep(QUIET)
        check(got == [3] + [1] * ROUNDS, f"callbacks read {got}")
    finally:
        loop.remove_reader(fd)


def case_add_reader(fd, drv):
    asyncio.run(add_reader_batches(fd, drv))


async def readable(fd):
    """Resolves once the loop sees the fd readable."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def await_readable(fd, drv):
    for i in range(ROUNDS):
        try:
            await asyncio.wait_for(readable(fd), QUIET if i == 0 else BRIEF)
            raise Failure(f"round {i}: readable with no WAKE pending")
        except asyncio.TimeoutError:
            pass
        drv.wake(2, 20)
        try:
            await asyncio.wait_for(readable(fd), PATIENCE)
        except asyncio.TimeoutError:
            raise Failure(f"round {i}: not readable {PATIENCE} s after the WAKEs")
        got = read_count(fd)
        if got == 1:
            # Woken between the two WAKEs: the second is on its way.
            await asyncio.wait_for(readable(fd), PATIENCE)
            got += read_count(fd)
        check(got == 2, f"round {i}: read {got} for 2 WAKEs")
        check_nothing_to_read(fd)


def case_await_readable(fd, drv):
    asyncio.run(await_readable(fd, drv))


CASES = [
    ("the watch fd came through exec: O_NONBLOCK, not close-on-exec, nothing pending",
     case_inherited),
] + [
    (f"selectors.{cls.__name__}: not readable before a WAKE, readable after, "
     "read() gives the count, then not readable", selector_case(cls))
    for cls in (selectors.DefaultSelector, selectors.PollSelector,
                selectors.SelectSelector)
] + [
    ("selectors (level): a WAKEd fd left unread stays readable, its count grows",
     case_level_unread),
    ("asyncio add_reader: one callback per batch of WAKEs, read() gives its count",
     case_add_reader),
    ("asyncio: await the fd readable, with a timeout that fails rather than hangs",
     case_await_readable),
]


def run(fd, drv, out):
    print("TAP version 13", file=out)
    print(f"1..{len(CASES)}", file=out, flush=True)
    failed = 0
    for i, (name, case) in enumerate(CASES, 1):
        try:
            if i > 1:
                drain(fd)
            case(fd, drv)
            print(f"ok {i} {name}", file=out, flush=True)
        except Exception as e:  # noqa: BLE001: a case's failure, whatever it is
            failed += 1
            print(f"# {type(e).__name__}: {e}", file=out)
            print(f"not ok {i} {name}", file=out, flush=True)
    print(f"# Totals: pass:{len(CASES) - failed} fail:{failed} xfail:0 xpass:0 "
          "skip:0 error:0", file=out, flush=True)
    return failed


def main(argv):
    imports = argv[:1] == ["--imports"]
    if imports:
        argv = argv[1:]
    if len(argv) != 3:
        print(f"usage: {sys.argv[0]} [--imports] <watch fd> <request fd> <reply fd>",
              file=sys.stderr)
        return 2
    fd, req, rep = map(int, argv)
    failed = run(fd, Driver(req, rep), sys.stderr if imports else sys.stdout)
    if imports and not failed:
        stdlib = os.path.dirname(os.__file__) + "/"
        files = set()
        for mod in list(sys.modules.values()):
            for attr in ("__file__", "__cached__"):
                path = getattr(mod, attr, None)
                if path and path.startswith(stdlib) and os.path.exists(path):
                    files.add(path)
        print("\n".join(sorted(files)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
