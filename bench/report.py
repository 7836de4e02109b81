#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Merge the host and guest halves of `make bench` into a summary.

  report.py [--host CSV] [--guest CSV] [--icount CSV] [--out DIR]

Reads the result rows (format: bench/common/stats.h) of the host half
(default bench/results/host.csv) and of the guest half (default
bench/results/guest.csv; it may be missing) and writes DIR/summary.md (the
ratio table with targets, where each number comes from, CPU model and kernel
of each part, spread), DIR/chart.svg (gnuplot: throughput by message
size, one line per transport) and, when there is a guest file,
DIR/guest.json: the guest's rows in the JSON form the host half writes as
host.json (the guest's CSV comes back over a serial console, so its JSON is
made here). The instruction counts of bench/icount (default
bench/results/icount.csv; may be missing) join the host rows. Python 3
standard library and gnuplot only. Exits 1 if the host
file is missing or unreadable.
"""
import argparse
import csv
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HEADER = ("where,cpu,kernel,group,transport,msg_bytes,metric,unit,median,"
          "p50,p99,p999,min,max,spread_pct,repeats,values").split(",")

# Chart and table order; anything else follows in file order.
TRANSPORTS = ["shmring_zc", "shmring_copy", "shmring_mpmc", "bare_ring",
              "pipe", "unix_stream", "unix_seqpacket", "posix_mq", "memcpy",
              "memcpy_raw"]

# Distinct line colours, in the order of TRANSPORTS.
COLORS = ["#d62728", "#ff7f0e", "#8c564b", "#1f77b4", "#2ca02c", "#17becf",
          "#9467bd", "#000000", "#7f7f7f", "#e377c2", "#bcbd22", "#393b79"]

# Below this many system calls (WAIT, WAKE, membarrier) per message the
# count rounds to 0.000.
ZERO_SYSCALLS = 0.001


NUMBERS = ("msg_bytes", "median", "p50", "p99", "p999", "min", "max",
           "spread_pct", "repeats")
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def read_rows(path):
    """Rows of a result CSV as dicts of the fields as written."""
    with open(path, newline="") as f:
        rd = csv.reader(f)
        head = next(rd, None)
        # Files from before the values column still read, without it.
        if head not in (HEADER, HEADER[:-1]):
            raise ValueError("%s: unexpected header %r" % (path, head))
        return [dict(zip(HEADER, line + [""] * (len(HEADER) - len(line))))
                for line in rd if line]


def load(path):
    """Rows of a result CSV as dicts with numbers converted; None if absent."""
    if not path or not os.path.exists(path):
        return None
    rows = read_rows(path)
    for r in rows:
        for k in ("median", "p50", "p99", "p999", "min", "max",
                  "spread_pct"):
            r[k] = float(r[k]) if r[k] != "" else None
        r["msg_bytes"] = int(r["msg_bytes"])
        r["repeats"] = int(r["repeats"] or 0)
        r["values"] = [float(v) for v in r["values"].split(";") if v]
    return rows


def write_json(csv_path, json_path):
    """The JSON file of a part from its CSV, as bench/common/stats.c writes
    it: numbers as they stand in the CSV, empty fields null."""
    objs = []
    for r in read_rows(csv_path):
        items = []
        for k in HEADER:
            v = r.get(k, "")
            if k == "values":
                v = "[%s]" % ", ".join(x for x in v.split(";")
                                       if JSON_NUMBER.fullmatch(x))
            elif k in NUMBERS:
                v = v if JSON_NUMBER.fullmatch(v) else "null"
            else:
                v = json.dumps(v, ensure_ascii=False)
            items.append('"%s": %s' % (k, v))
        objs.append("  {%s}" % ", ".join(items))
    tmp = json_path + ".tmp"
    with open(tmp, "w") as f:
        f.write("[\n" + ",\n".join(objs) + ("\n" if objs else "") + "]\n")
    os.replace(tmp, json_path)


def find(rows, group, transport, size, metric):
    for r in rows or []:
        if (r["group"] == group and r["transport"] == transport and
                r["msg_bytes"] == size and r["metric"] == metric and
                r["median"] is not None):
            return r
    return None


def human_size(n):
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return "%d %s" % (n // div, unit)
    return "%d B" % n


def fmt(v, digits=3):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6:
        return "%.3g M" % (v / 1e6) if a < 1e9 else "%.3g G" % (v / 1e9)
    if a >= 100:
        return "%.0f" % v
    return ("%%.%dg" % digits) % v


def spread(r):
    return "-" if r is None or r["spread_pct"] is None else \
        "%.1f%%" % r["spread_pct"]


def per_round(n, d):
    """n / d in each round, when both ran in every round: the repeats of
    one round ran seconds apart, on the same cores."""
    if n is None or d is None or not n["values"] or \
            len(n["values"]) != len(d["values"]) or 0 in d["values"]:
        return None
    return [a / b for a, b in zip(n["values"], d["values"])]


def of_medians(n, d):
    if n is None or d is None or not d["median"]:
        return None
    return n["median"] / d["median"]


def round_median(n, d):
    """The median of the per-round ratios n / d, else the ratio of
    medians."""
    r = per_round(n, d)
    return statistics.median(r) if r else of_medians(n, d)


def ratio_text(v):
    """A ratio to two places; to four below 0.1, where two would say
    little (the EPIPE target is <= 0.01)."""
    return "%.2f" % v if abs(v) >= 0.1 else "%.4f" % v


def meets(v, op, bound):
    return v >= bound if op == ">=" else v <= bound if op == "<=" else \
        v < bound


class Ratio:
    """One target: num / den against a bound. @ceil, for a shmring
    numerator, is the bare ring's row in its place: the most any
    shared-memory ring did there."""

    def __init__(self, name, where, num, den, op, bound, ceil=None):
        self.name, self.where, self.num, self.den = name, where, num, den
        self.op, self.bound, self.ceil = op, bound, ceil

    def rounds(self):
        return per_round(self.num, self.den)

    def ceil_rounds(self):
        """The bare ring over the denominator, round by round."""
        return per_round(self.ceil, self.den)

    def of_medians(self):
        return of_medians(self.num, self.den)

    def value(self):
        """The median of the per-round ratios, else the ratio of medians."""
        if self.num is None:
            return None
        if self.den is None:
            return self.num["median"]
        return round_median(self.num, self.den)

    def range(self):
        """The lowest and highest per-round ratio; without rounds, the
        worst and best over the repeats: min/max .. max/min."""
        n, d = self.num, self.den
        if n is None or n["min"] is None:
            return "-"
        if d is None:
            return "%.4f - %.4f" % (n["min"], n["max"])
        r = self.rounds()
        if r:
            return "%s - %s" % (ratio_text(min(r)), ratio_text(max(r)))
        if d["min"] is None or not d["min"] or not d["max"]:
            return "-"
        return "%s - %s" % (ratio_text(n["min"] / d["max"]),
                            ratio_text(n["max"] / d["min"]))

    def verdict(self):
        v = self.value()
        if v is None:
            return "not measured"
        return "pass" if meets(v, self.op, self.bound) else "**miss**"


def describe(r):
    if r is None:
        return "missing"
    if r["group"] in ("throughput", "syscalls"):
        size = human_size(r["msg_bytes"]) + " "
    elif r["group"] == "epipe":
        size = ""
    else:
        size = "%d " % r["msg_bytes"]
    return "%s %s%s = %s %s" % (r["transport"], size, r["metric"],
                                fmt(r["median"], 4), r["unit"])


def ratios(host, guest):
    h = lambda *a: find(host, *a)
    g = lambda *a: find(guest, *a)
    out = [
        Ratio("copying SPSC at 64 KiB / memcpy (same work, one thread)",
              "host", h("throughput", "shmring_copy", 65536, "MB_per_s"),
              h("throughput", "memcpy", 65536, "MB_per_s"), ">=", 0.70),
        Ratio("zero-copy SPSC at 4 KiB / pipe", "host",
              h("throughput", "shmring_zc", 4096, "MB_per_s"),
              h("throughput", "pipe", 4096, "MB_per_s"), ">=", 5,
              h("throughput", "bare_ring", 4096, "MB_per_s")),
        Ratio("64 B message rate (zero-copy SPSC) / unix socket", "host",
              h("throughput", "shmring_zc", 64, "msgs_per_s"),
              h("throughput", "unix_stream", 64, "msgs_per_s"), ">=", 30,
              h("throughput", "bare_ring", 64, "msgs_per_s")),
        Ratio("64 B message rate (copying SPSC) / unix socket", "host",
              h("throughput", "shmring_copy", 64, "msgs_per_s"),
              h("throughput", "unix_stream", 64, "msgs_per_s"), ">=", 30),
        Ratio("syscalls per message, consumer keeps up (copying API)",
              "host", h("syscalls", "shmring_copy:keepup", 64,
                        "syscalls_per_msg"), None, "<", ZERO_SYSCALLS),
        Ratio("syscalls per message, consumer keeps up (zero-copy API)",
              "host", h("syscalls", "shmring_zc:keepup", 64,
                        "syscalls_per_msg"), None, "<", ZERO_SYSCALLS),
    ]
    rt = [r for r in guest or [] if r["group"] == "roundtrip" and
          r["metric"] == "ns_per_roundtrip" and r["median"] is not None]

    def rt_size(a, b):
        """The smallest size at which both round trips ran."""
        sizes = sorted({r["msg_bytes"] for r in rt if r["transport"] == a} &
                       {r["msg_bytes"] for r in rt if r["transport"] == b})
        return sizes[0] if sizes else 0

    size = rt_size("shmring", "futex")
    esize = rt_size("watch_epoll", "eventfd_epoll")
    out += [
        Ratio("WAIT/WAKE round trip / shared-futex round trip", "guest",
              g("roundtrip", "shmring", size, "ns_per_roundtrip"),
              g("roundtrip", "futex", size, "ns_per_roundtrip"), "<=", 1.10),
        Ratio("WAIT/WAKE round trip on an instance / on /dev/shmring",
              "guest",
              g("roundtrip", "instance", rt_size("instance", "shmring"),
                "ns_per_roundtrip"),
              g("roundtrip", "shmring", rt_size("instance", "shmring"),
                "ns_per_roundtrip"), "<=", 1.05),
        Ratio("epoll wake-up round trip: watch fd / eventfd", "guest",
              g("roundtrip", "watch_epoll", esize, "ns_per_roundtrip"),
              g("roundtrip", "eventfd_epoll", esize, "ns_per_roundtrip"),
              "<=", 1.10),
        Ratio("wake latency, 4096 waiters / 1 waiter", "guest",
              g("scale", "shmring", 4096, "ns_per_wake"),
              g("scale", "shmring", 1, "ns_per_wake"), "<=", 2),
        Ratio("SIGKILL of a peer to the survivor's EPIPE / the old "
              "liveness slice (SHMRING_LIVENESS_NS)", "guest",
              g("epipe", "shmring", 0, "ns_kill_to_epipe"),
              g("epipe", "liveness_slice", 0, "ns_kill_to_epipe"),
              "<=", 0.01),
    ]
    for size in (64, 4096):
        out.append(Ratio("syscalls per message, consumer keeps up, %s "
                         "(/dev/shmring)" % human_size(size), "guest",
                         g("syscalls", "shmring-keepup", size,
                           "syscalls_per_msg"), None, "<", ZERO_SYSCALLS))
    return out


# Further ratios, for context (no target): name, numerator, denominator,
# message size, metric.
INFO_RATIOS = [
    ("copying SPSC at 64 KiB / memcpy_raw (copy alone)",
     "shmring_copy", "memcpy_raw", 65536, "MB_per_s"),
    ("zero-copy SPSC at 64 KiB / memcpy",
     "shmring_zc", "memcpy", 65536, "MB_per_s"),
    ("zero-copy SPSC at 4 KiB / bare_ring (the least a ring can do)",
     "shmring_zc", "bare_ring", 4096, "MB_per_s"),
    ("64 B message rate (zero-copy SPSC) / bare_ring",
     "shmring_zc", "bare_ring", 64, "msgs_per_s"),
    ("copying SPSC at 4 KiB / pipe",
     "shmring_copy", "pipe", 4096, "MB_per_s"),
    ("64 B message rate (zero-copy SPSC) / unix SOCK_SEQPACKET",
     "shmring_zc", "unix_seqpacket", 64, "msgs_per_s"),
    ("64 B message rate (zero-copy SPSC) / POSIX mq",
     "shmring_zc", "posix_mq", 64, "msgs_per_s"),
    ("64 B message rate (MPMC 2x2) / unix socket",
     "shmring_mpmc", "unix_stream", 64, "msgs_per_s"),
]


# The same from the guest: name, group, numerator, denominator, metric.
GUEST_INFO_RATIOS = [
    ("create, map and destroy an instance / memfd_create, ftruncate and "
     "mmap (guest)", "instance", "instance_create_map_destroy",
     "memfd_create_map", "ms_per_cycle"),
    ("the same, each page written once (guest)", "instance",
     "instance_create_map_touch_destroy", "memfd_create_map_touch",
     "ms_per_cycle"),
]


def guest_rows(rows, group, transport, metric):
    """The row of @transport in @group at its largest size, or None."""
    found = [r for r in rows or [] if r["group"] == group and
             r["transport"] == transport and r["metric"] == metric]
    return max(found, key=lambda r: r["msg_bytes"]) if found else None


def info_ratios(host, guest):
    """INFO_RATIOS and GUEST_INFO_RATIOS with their rows: (name,
    numerator, denominator)."""
    out = [(name, find(host, "throughput", num, size, metric),
            find(host, "throughput", den, size, metric))
           for name, num, den, size, metric in INFO_RATIOS]
    for name, group, num, den, metric in GUEST_INFO_RATIOS:
        n = guest_rows(guest, group, num, metric)
        if n:
            name = "%s, %s" % (name, human_size(n["msg_bytes"]))
        out.append((name, n, guest_rows(guest, group, den, metric)))
    return out


def ordered(names):
    known = [t for t in TRANSPORTS if t in names]
    return known + [t for t in names if t not in known]


def part_info(rows):
    if not rows:
        return None
    return rows[0]["cpu"], rows[0]["kernel"]


def throughput_tables(host, lines):
    rows = [r for r in host if r["group"] == "throughput"]
    sizes = sorted({r["msg_bytes"] for r in rows})
    names = ordered(list(dict.fromkeys(r["transport"] for r in rows)))
    for metric, title in (("MB_per_s", "Throughput, MB/s (10^6 bytes/s)"),
                          ("msgs_per_s", "Message rate, messages/s")):
        lines += ["", "### %s, median of the repeats (spread)" % title, "",
                  "| transport | " + " | ".join(human_size(s) for s in sizes)
                  + " |", "|---|" + "---:|" * len(sizes)]
        for t in names:
            cells = []
            for s in sizes:
                r = find(host, "throughput", t, s, metric)
                skip = find_skip(host, "throughput", t, s)
                cells.append("%s (%s)" % (fmt(r["median"]), spread(r)) if r
                             else "skipped" if skip else "-")
            lines.append("| %s | %s |" % (t, " | ".join(cells)))
    lines += ["", "### One-way latency under load, ns (p50 / p99 / p99.9)",
              "", "Sampled messages carry their send time; the queue is "
              "saturated, so this is mostly queueing.", "",
              "| transport | " + " | ".join(human_size(s) for s in sizes) +
              " |", "|---|" + "---:|" * len(sizes)]
    for t in names:
        cells = []
        for s in sizes:
            r = find(host, "throughput", t, s, "MB_per_s")
            cells.append("%s / %s / %s" % (fmt(r["p50"]), fmt(r["p99"]),
                                          fmt(r["p999"]))
                         if r and r["p50"] is not None else "-")
        if any(c != "-" for c in cells):
            lines.append("| %s | %s |" % (t, " | ".join(cells)))


def find_skip(rows, group, transport, size):
    for r in rows or []:
        if (r["metric"] == "skipped" and r["transport"] == transport and
                r["msg_bytes"] == size and r["group"] == group):
            return r
    return None


def syscall_table(rows, lines, where):
    sc = [r for r in rows if r["group"] == "syscalls" and
          r["metric"] == "syscalls_per_msg" and r["median"] is not None]
    if not sc:
        return
    lines += ["", "### System calls per message: WAIT, WAKE and membarrier (%s)" % where, "",
              "Runs without a suffix are the throughput runs above; "
              "keepup: the producer paces itself (200 ns a message), "
              "slow_X: the consumer takes X per message, paced_X: the "
              "producer sends one message per X. Waiter CPU: CPU time "
              "of the side that waits (the producer for slow_X, else the "
              "consumer) per message: spinning shows here, sleeping in "
              "the syscall count.", "",
              "| run | message | median | min | max | waiter CPU ns/msg "
              "| latency p50 / p99 ns |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in sc:
        lat = "%s / %s" % (fmt(r["p50"]), fmt(r["p99"])) \
            if r["p50"] is not None else "-"
        cpu = find(rows, "syscalls", r["transport"], r["msg_bytes"],
                   "waiter_cpu_ns_per_msg")
        lines.append("| %s | %s | %.4f | %.4f | %.4f | %s | %s |" % (
            r["transport"], human_size(r["msg_bytes"]), r["median"],
            r["min"], r["max"], fmt(cpu["median"]) if cpu else "-", lat))


def generic_table(rows, lines, title):
    rows = [r for r in rows if r["metric"] != "skipped"]
    if not rows:
        return
    lines += ["### %s" % title, "",
              "| group | transport | msg_bytes | metric | median | min | max "
              "| spread | p50 / p99 / p99.9 ns | repeats |",
              "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lat = "%s / %s / %s" % (fmt(r["p50"]), fmt(r["p99"]), fmt(r["p999"])) \
            if r["p50"] is not None else "-"
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %d |" % (
            r["group"], r["transport"], r["msg_bytes"], r["metric"],
            fmt(r["median"], 4), fmt(r["min"], 4), fmt(r["max"], 4),
            spread(r), lat, r["repeats"]))


def c2c_line(host):
    """The probe of host/c2c.c, as a sentence; None without it."""
    r = find(host, "machine", "cacheline", 64, "ns_per_roundtrip")
    if r is None or r["median"] is None:
        return None
    text = ("Host: a cache line went from one benchmark CPU to the other "
            "and back in %s ns (median of the probes before each repeat; "
            "%s to %s ns)." % (fmt(r["median"]), fmt(r["min"]),
                               fmt(r["max"])))
    if r["min"] and r["max"] / r["min"] >= 2:
        text += (" It changed %.1f-fold during the run: the hypervisor "
                 "moved the vCPUs between physical cores. Every transport "
                 "moves its data from cache to cache, shmring most of all, "
                 "so the throughput of every repeat changed with it; much "
                 "of the spread comes from there." % (r["max"] / r["min"]))
    else:
        text += (" It stayed within a factor of two, so the hypervisor kept "
                 "the two vCPUs in one place: %s." % placement(r["median"]))
    return text


# Where a cache-line round trip puts the two vCPUs, from the probes of this
# host (README: about 55, 130, and 500 ns or more).
PLACEMENTS = [(90, "most likely two hyperthreads of one core"),
              (300, "two cores sharing an L3"),
              (None, "across L3 domains")]


def placement(ns):
    """The likely placement of the two vCPUs for a round trip of @ns."""
    for bound, where in PLACEMENTS:
        if bound is None or ns < bound:
            return where


ICOUNT_APIS = [("copy", "copying SPSC: send + recv, bytes copied in and "
                 "out"),
               ("zc", "zero-copy SPSC: reserve + commit, peek (release per "
                "32)"),
               ("stream", "byte stream: write + read, bytes copied in and "
                "out"),
               ("mpmc", "MPMC: reserve + commit, peek + release")]


RULE_METRICS = ("limit", "redo_max")


def rule(rows, what, metric):
    """A value of the rule that ran @what again, as its half wrote it."""
    r = find(rows, "rule", what, 0, metric)
    if r is None:
        raise ValueError("no rule row %s,%s beside its machine row (results "
                         "of an older bench: run make bench again)" % (
                             what, metric))
    return r["median"]


def check_rules(rows, path):
    """Every count of runs made again comes with the rule that made them."""
    for r in rows or []:
        if r["group"] == "machine" and r["transport"].endswith("_redone"):
            for metric in RULE_METRICS:
                try:
                    rule(rows, r["transport"], metric)
                except ValueError as e:
                    raise ValueError("%s: %s" % (path, e)) from None


def times(n):
    """1 -> once, 2 -> twice, n -> n times."""
    return {1: "once", 2: "twice"}.get(n, "%d times" % n)


def ordinal(n):
    """1 -> first ... 5 -> fifth, n -> nth."""
    words = ["first", "second", "third", "fourth", "fifth"]
    return words[n - 1] if 0 < n <= len(words) else "%dth" % n


def steal_line(host):
    """The repeats run again for steal, as a sentence; None without."""
    r = find(host, "machine", "steal_redone", 0, "repeats")
    if r is None:
        return None
    n = int(r["median"])
    limit = "%g%%" % rule(host, "steal_redone", "limit")
    if not n:
        return ("No repeat of the host part lost over %s of the CPUs to "
                "the hypervisor (steal time)." % limit)
    tries = int(rule(host, "steal_redone", "redo_max")) + 1
    return ("%d of the host's repeats %s run again because the hypervisor "
            "took over %s of the CPUs (steal time) during %s; every repeat "
            "kept ran with less, or was the %s try." % (
                n, "was" if n == 1 else "were", limit,
                "it" if n == 1 else "them", ordinal(tries)))


def redo_line(guest):
    """The guest's runs run again, as a sentence; None without."""
    said = []
    for what, runs, why in (
            ("roundtrip_redone", "round-trip run", "fewer than %g%% of "
             "the round trips blocked on both sides"),
            ("keepup_redone", "keep-up run", "the producer stalled for "
             "longer than the consumer's longest spin more than once per "
             "%g messages")):
        r = find(guest, "machine", what, 0, "runs")
        if r is not None and int(r["median"]):
            n = int(r["median"])
            said.append("%d %s%s (at most %s each), because %s" % (
                n, runs, "" if n == 1 else "s",
                times(int(rule(guest, what, "redo_max"))),
                why % rule(guest, what, "limit")))
    if not said:
        return None
    return ("The guest ran again %s: the host had taken a vCPU away." %
            "; and ".join(said))


def machine_lines(host, guest):
    """What the machines did during the run, as paragraphs of markdown."""
    out = []
    for text in (c2c_line(host), steal_line(host), redo_line(guest)):
        if text:
            out += ["", text]
    return out


def icount_table(host, lines):
    """The ring's instructions per message, by API and size."""
    rows = [r for r in host if r["group"] == "icount"]
    if not rows:
        return
    sizes = sorted({r["msg_bytes"] for r in rows})
    lines += ["", "### Instructions per message (callgrind)", "",
              "What the ring itself executes for one message, counted "
              "by callgrind in one thread that produces and consumes "
              "batches of 32 (bench/icount): exact, so a change to the "
              "ring code shows here at once, unlike in a time.", "",
              "| API | " + " | ".join(human_size(z) for z in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for api, what in ICOUNT_APIS:
        cells = [find(host, "icount", api, z, "instructions_per_msg")
                 for z in sizes]
        lines.append("| %s | %s |" % (what, " | ".join(
            "-" if c is None else "%.0f" % c["median"] for c in cells)))


def icount_line(host):
    """The 64 B instruction counts as a sentence; None without them."""
    got = [(api, find(host, "icount", api, 64, "instructions_per_msg"))
           for api, _ in ICOUNT_APIS]
    got = [(api, r["median"]) for api, r in got if r]
    if not got:
        return None
    return ("Instructions per 64 B message, counted by callgrind "
            "(bench/icount, the loop around the calls included): %s." %
            ", ".join("%s %.0f" % (api, v) for api, v in got))


def probes(host, t):
    """Per round, the cache-line round trip measured just before the
    numerator's and the denominator's repeat: where the hypervisor had put
    the two vCPUs. None unless both have one per round."""
    if t.where != "host" or t.num is None or t.den is None or not t.rounds():
        return None
    pn, pd = [find(host, "probe", r["transport"], r["msg_bytes"],
                   "c2c_ns_before") for r in (t.num, t.den)]
    if pn is None or pd is None or not \
            len(pn["values"]) == len(pd["values"]) == len(t.rounds()):
        return None
    return list(zip(pn["values"], pd["values"]))


def ceil_text(host, t):
    """The bare ring's ratio in each round, with the probe before its run;
    None unless it ran in every round."""
    cr = t.ceil_rounds()
    if not cr:
        return None
    pc = find(host, "probe", t.ceil["transport"], t.ceil["msg_bytes"],
              "c2c_ns_before")
    if pc is None or len(pc["values"]) != len(cr):
        return ["%.2f" % r for r in cr]
    return ["%.2f (%s ns)" % (r, "%.0f" % p if p > 0 else "?")
            for r, p in zip(cr, pc["values"])]


def round_text(ratio, probe):
    """One round: its ratio (the probe before each operand; 0 is a probe
    that failed)."""
    return "%.2f (%s / %s ns)" % ((ratio,) + tuple(
        "%.0f" % p if p > 0 else "?" for p in probe))


def by_round(t, pr):
    """A target's rounds as text."""
    return "; ".join(round_text(r, p) for r, p in zip(t.rounds(), pr))


def rounds_table(host, guest, lines):
    """Each host target round by round, beside the probes, and the bare
    ring in the numerator's place where there is one."""
    ts = [(t, probes(host, t)) for t in ratios(host, guest)]
    ts = [(t, pr) for t, pr in ts if pr]
    if not ts:
        return
    heads, cols = [], []
    for t, pr in ts:
        heads.append(t.name)
        cols.append([round_text(r, p) for r, p in zip(t.rounds(), pr)])
        ct = ceil_text(host, t)
        if ct and len(ct) == len(pr):
            heads.append("bare_ring in its place")
            cols.append(ct)
    lines += ["", "### The host targets round by round", "",
              "The ratio within each round, and in brackets the cache-line "
              "round trip measured just before the numerator's and the "
              "denominator's run: where the hypervisor had put the two "
              "vCPUs. Beside a zero-copy target, the bare ring's ratio in "
              "the same round, with the probe before its run: the least a "
              "shared-memory ring can do, so the most any moves there "
              "(bench/host/tp_bare_ring.c).", "",
              "| round | " + " | ".join(heads) + " |",
              "|---:|" + "---:|" * len(heads)]
    for i in range(len(cols[0])):
        lines.append("| %d | %s |" % (i + 1, " | ".join(
            c[i] for c in cols)))


def missed_by_round(host, guest):
    """A sentence per missed host target, round by round; None when
    nothing was missed."""
    out = []
    for t in ratios(host, guest):
        pr = probes(host, t)
        if t.verdict() == "pass" or not pr:
            continue
        out.append("%s, round by round, with the cache-line round trip "
                   "measured before the numerator's and the denominator's "
                   "run: %s." % (t.name[0].upper() + t.name[1:],
                                 by_round(t, pr)))
        ct = ceil_text(host, t)
        if ct:
            out.append(ceiling_text(t, ct))
    return " ".join(out) or None


def ceiling_text(t, ct):
    """What the bare ring did in a missed target's place (@ct: its
    rounds as text)."""
    beat = sum(1 for r in t.ceil_rounds() if meets(r, t.op, t.bound))
    share = per_round(t.num, t.ceil)
    return ("The bare ring (bench/host/tp_bare_ring.c: fixed slots, no "
            "headers, no checks, spinning; the least a shared-memory ring "
            "can do) in its place, same rounds, with the probe before its "
            "run: %s. It met the bound in %d of %d rounds; where it fell "
            "short, so would any ring of the same size and batches. "
            "Zero-copy SPSC moved a median %.2f of what the bare ring did."
            % ("; ".join(ct), beat, len(ct),
               statistics.median(share) if share else float("nan")))


def target_row(t, more):
    """A row of a targets table: name, bound, value, verdict, then @more."""
    v = t.value()
    cells = [t.name, "%s %s" % (t.op, fmt(t.bound)),
             "-" if v is None else
             ("%.4f" % v if t.den is None else ratio_text(v)), t.verdict()]
    return "| " + " | ".join(cells + more) + " |"


def summary(host, guest, args, chart_ok):
    lines = ["# shmring benchmark summary", "",
             "Generated %s by bench/report.py from `%s` and `%s`." % (
                 datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                 os.path.relpath(args.host), os.path.relpath(args.guest)),
             "", "## Where the numbers come from", "",
             "| part | CPU | kernel | what runs there |", "|---|---|---|---|"]
    hi = part_info(host)
    lines.append("| host | %s | %s | one-way throughput, syscalls per "
                 "message (libshmring on a memfd, futex wait) |" % hi
                 if hi else "| host | - | - | **missing** |")
    gi = part_info(guest)
    if gi:
        lines.append("| guest | %s | %s | WAIT/WAKE and epoll round "
                     "trips, wake-up scaling, SIGKILL to EPIPE, "
                     "instances, mapping (the module under QEMU) |" % gi)
    else:
        lines.append("| guest | - | - | **missing: %s not found; the guest "
                     "targets are not measured** |" % os.path.relpath(
                         args.guest))

    lines += ["", "## Targets", "",
              "The repeats go round all the transports in turn, so each "
              "round measures numerator and denominator seconds apart, on "
              "the same cores. measured = the median over the rounds of "
              "the ratio within each round; range = its lowest and "
              "highest; of medians = the ratio of the two medians over "
              "all repeats. spread = (max - min) / median over the repeats "
              "of each operand.", "",
              "| target | bound | measured | result | range | of medians "
              "| part | numerator (spread) | denominator (spread) |",
              "|---|---:|---:|---|---:|---:|---|---|---|"]
    for t in ratios(host, guest):
        om = t.of_medians()
        lines.append(target_row(t, [t.range(), "-" if om is None else
                                    ratio_text(om), t.where,
                                    "%s (%s)" % (describe(t.num),
                                                 spread(t.num)),
                                    "-" if t.den is None and t.num is not None
                                    else "%s (%s)" % (describe(t.den),
                                                      spread(t.den))]))
    lines += ["", "A syscall count passes below %g per message (it rounds to "
              "0.000)." % ZERO_SYSCALLS]
    lines += machine_lines(host, guest)
    rounds_table(host, guest, lines)
    icount_table(host, lines)
    lines += ["", "Context (no target; as above, the median over the rounds "
              "of the ratio within each round):", "",
              "| ratio | measured |", "|---|---:|"]
    for name, num, den in info_ratios(host, guest):
        v = round_median(num, den)
        lines.append("| %s | %s |" % (name, "-" if v is None else
                                      "%.2f" % v))

    lines += ["", "## Host", ""]
    if chart_ok:
        lines += ["![throughput by message size](chart.svg)", ""]
    lines += ["Producer on one CPU, consumer on another (MPMC: both "
              "producers on the first, both consumers on the second); "
              "every message is filled by the producer and checksummed "
              "by the consumer. Transports: shmring_copy = "
              "shmring_msg_send/recv; shmring_zc = reserve/commit with "
              "SHMRING_MORE batches and peek/release batches; "
              "shmring_mpmc = 2 producers, 2 consumers, slot = message "
              "(1 MiB is SHMRING_MAX_SLOT_SIZE: it fits, 4 slots); "
              "bare_ring = the least a shared-memory ring can do: "
              "zero-copy batches like shmring_zc, fixed slots, no headers, "
              "no checks of the peer, spinning (bench/host/tp_bare_ring.c); "
              "memcpy = fill, copy and check on one thread; memcpy_raw = "
              "the copy alone. Ring 4 MiB (over the L2 cache, see bench/host/main.c); "
              "the pipe (F_SETPIPE_SZ) and socket (SO_SNDBUF) buffers are "
              "asked for the same; the POSIX mq holds msg_max (10) "
              "messages. Throughput is measured on the consumer over the "
              "middle of each run (warm-up before, a tail after)."]
    throughput_tables(host, lines)
    syscall_table(host, lines, "host")
    skips = [r for r in host + (guest or []) if r["metric"] == "skipped"]
    if skips:
        lines += ["", "### Skipped", ""]
        for r in skips:
            lines.append("- %s %s %s at %s: %s" % (
                r["where"], r["group"], r["transport"],
                human_size(r["msg_bytes"]), r["unit"]))
    lines += ["", "## Guest", ""]
    if guest is None:
        lines.append("No guest results (%s is missing)." %
                     os.path.relpath(args.guest))
    else:
        generic_table(guest, lines, "All guest rows")
    return "\n".join(lines) + "\n"


def chart(host, out_svg):
    """Throughput by message size, one line per transport; False if no
    gnuplot."""
    if not shutil.which("gnuplot"):
        print("report.py: gnuplot not found (apt-get install gnuplot-nox): "
              "no chart", file=sys.stderr)
        return False
    rows = [r for r in host if r["group"] == "throughput" and
            r["metric"] == "MB_per_s" and r["median"] is not None]
    names = ordered(list(dict.fromkeys(r["transport"] for r in rows)))
    with tempfile.TemporaryDirectory() as tmp:
        plots = []
        for i, t in enumerate(names):
            path = os.path.join(tmp, "%d.dat" % i)
            with open(path, "w") as f:
                for r in sorted((r for r in rows if r["transport"] == t),
                                key=lambda r: r["msg_bytes"]):
                    f.write("%d %g %g %g\n" % (r["msg_bytes"], r["median"],
                                               r["min"], r["max"]))
            color = COLORS[i % len(COLORS)]
            plots.append("'%s' using 1:2:3:4 with yerrorlines lw %g "
                         "lc rgb '%s' pt %d ps 0.8 title '%s'"
                         % (path, 3 if t.startswith("shmring") else 1.5,
                            color, i % 12 + 1, t.replace("_", "\\_")))
        script = "\n".join([
            "set terminal svg size 900,560 dynamic font 'sans,11'",
            "set output '%s'" % out_svg,
            "set title 'One-way throughput by message size (host; median, "
            "bars: min-max)'",
            "set logscale x 2", "set logscale y 10",
            "set xlabel 'message size (bytes)'",
            "set ylabel 'MB/s (10^6 bytes/s)' noenhanced",
            "set xtics ('64 B' 64, '4 KiB' 4096, '64 KiB' 65536, "
            "'1 MiB' 1048576)",
            "set grid", "set key outside right",
            "plot " + ", \\\n  ".join(plots), ""])
        res = subprocess.run(["gnuplot"], input=script, text=True,
                             capture_output=True)
        if res.returncode:
            print("report.py: gnuplot failed:\n" + res.stderr,
                  file=sys.stderr)
            return False
    return True


README_BEGIN = "<!-- make bench: begin -->"
README_END = "<!-- make bench: end -->"


def readme_block(host, guest):
    """The README's excerpt of a full run: where, the targets, the chart."""
    lines = [README_BEGIN,
             "Last full run of `make bench`, %s. Host part: %s, kernel %s. "
             "Guest part: %s, kernel %s." % (
                 datetime.datetime.now().strftime("%Y-%m-%d"),
                 *(part_info(host) or ("-", "-")),
                 *(part_info(guest) or ("-", "-"))),
             "",
             "| target | bound | measured | result | part |",
             "|---|---:|---:|---|---|"]
    for t in ratios(host, guest):
        lines.append(target_row(t, [t.where]))
    lines += machine_lines(host, guest)
    missed = missed_by_round(host, guest)
    if missed:
        lines += ["", missed]
    icount = icount_line(host)
    if icount:
        lines += ["", icount]
    lines += ["", "![throughput by message size, host]"
              "(bench/results/chart.svg)", "",
              "Every number, with its spread and the transports without a "
              "target, is in [bench/results/summary.md]"
              "(bench/results/summary.md).", README_END]
    return "\n".join(lines)


def update_readme(path, block):
    with open(path) as f:
        text = f.read()
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise ValueError("%s: no single %s ... %s section" % (
            path, README_BEGIN, README_END))
    head, rest = text.split(README_BEGIN)
    tail = rest.split(README_END)[1]
    with open(path + ".tmp", "w") as f:
        f.write(head + block + tail)
    os.replace(path + ".tmp", path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=os.path.join(here, "results",
                                                   "host.csv"))
    ap.add_argument("--guest", default=os.path.join(here, "results",
                                                    "guest.csv"))
    ap.add_argument("--icount", default=os.path.join(here, "results",
                                                     "icount.csv"))
    ap.add_argument("--out", default=os.path.join(here, "results"))
    ap.add_argument("--readme", help="README whose bench section to update")
    args = ap.parse_args()
    try:
        host = load(args.host)
        guest = load(args.guest)
        icount = load(args.icount)
        check_rules(host, args.host)
        check_rules(guest, args.guest)
    except (OSError, ValueError) as e:
        print("report.py: %s" % e, file=sys.stderr)
        return 1
    if host is None:
        print("report.py: %s not found" % args.host, file=sys.stderr)
        return 1
    host += icount or []
    os.makedirs(args.out, exist_ok=True)
    if guest is not None:
        write_json(args.guest, os.path.join(args.out, "guest.json"))
    ok = chart(host, os.path.join(args.out, "chart.svg"))
    text = summary(host, guest, args, ok)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    if args.readme:
        try:
            update_readme(args.readme, readme_block(host, guest))
        except (OSError, ValueError) as e:
            print("report.py: %s" % e, file=sys.stderr)
            return 1
    # The target table on stdout, for the log of `make bench`.
    start = text.index("## Targets")
    print(text[start:text.index("## Host")].rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
