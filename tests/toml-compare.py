#!/usr/bin/env python3
"""toml-compare.py - compare toml-test tagged JSON with the upstream tolerance.

The rules are those of the toml-test runner (../shared/toml-test/README.md):
an object with exactly the keys "type" and "value" is a value; types must
match exactly; floats compare numerically (any NaN equals any NaN);
datetimes are normalised (' ' and 't' -> 'T', 'z' -> 'Z') and compared as
instants; bools compare case-insensitively; strings and integers exactly.

Usage:
    toml-compare.py EXPECTED.json ACTUAL.json
        exit 0 when equal, 1 with the difference on stderr otherwise.
    toml-compare.py --batch LIST
        LIST holds lines "NAME<TAB>EXPECTED.json<TAB>ACTUAL.json"; prints
        "PASS<TAB>NAME" or "FAIL<TAB>NAME<TAB>REASON" for each line, in order,
        and exits 0 (the caller turns the lines into TAP).
"""

import json
import math
import re
import sys

DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATETIME_LOCAL_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?$")
DATE_LOCAL_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
TIME_LOCAL_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(\.\d+)?$")


class Mismatch(Exception):
    pass


def is_value(obj):
    return isinstance(obj, dict) and len(obj) == 2 and "type" in obj and "value" in obj


def days_from_civil(y, m, d):
    """Days since 1970-01-01 in the proleptic Gregorian calendar."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def nanos(frac):
    if not frac:
        return 0
    digits = frac[1:10]
    return int(digits.ljust(9, "0"))


def datetime_key(kind, text):
    """A comparable key for a datetime string, or None when malformed."""
    text = text.replace(" ", "T").replace("t", "T").replace("z", "Z")
    if kind == "datetime":
        m = DATETIME_RE.match(text)
        if not m:
            return None
        y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
        off = 0
        if m.group(8) != "Z":
            sign = -1 if m.group(8)[0] == "-" else 1
            off = sign * (int(m.group(8)[1:3]) * 60 + int(m.group(8)[4:6]))
        secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off * 60
        return (secs, nanos(m.group(7)))
    if kind == "datetime-local":
        m = DATETIME_LOCAL_RE.match(text)
        if not m:
            return None
        return tuple(int(m.group(i)) for i in range(1, 7)) + (nanos(m.group(7)),)
    if kind == "date-local":
        m = DATE_LOCAL_RE.match(text)
        return tuple(int(g) for g in m.groups()) if m else None
    if kind == "time-local":
        m = TIME_LOCAL_RE.match(text)
        if not m:
            return None
        return tuple(int(m.group(i)) for i in range(1, 4)) + (nanos(m.group(4)),)
    return None


def parse_float(text):
    try:
        return float(text)
    except ValueError:
        return None


def cmp_values(path, want, have):
    wtype, htype = want["type"], have["type"]
    if not isinstance(htype, str):
        raise Mismatch("%s: 'type' is not a string in the output" % path)
    if wtype != htype:
        raise Mismatch("%s: type %s expected, got %s" % (path, wtype, htype))
    wval, hval = want["value"], have["value"]
    if not isinstance(hval, str):
        raise Mismatch("%s: 'value' is not a string in the output" % path)
    if wtype == "float":
        wf, hf = parse_float(wval), parse_float(hval)
        if wf is None:
            raise Mismatch("%s: expected value %r is not a float" % (path, wval))
        if hf is None:
            raise Mismatch("%s: %r is not a float" % (path, hval))
        if math.isnan(wf) or math.isnan(hf):
            if not (math.isnan(wf) and math.isnan(hf)):
                raise Mismatch("%s: %s expected, got %s" % (path, wval, hval))
        elif wf != hf:
            raise Mismatch("%s: %s expected, got %s" % (path, wval, hval))
    elif wtype in ("datetime", "datetime-local", "date-local", "time-local"):
        wk, hk = datetime_key(wtype, wval), datetime_key(wtype, hval)
        if wk is None:
            raise Mismatch("%s: expected value %r is not a %s" % (path, wval, wtype))
        if hk is None:
            raise Mismatch("%s: %r is not a %s" % (path, hval, wtype))
        if wk != hk:
            raise Mismatch("%s: %s expected, got %s" % (path, wval, hval))
    elif wtype == "bool":
        if wval.lower() != hval.lower():
            raise Mismatch("%s: %s expected, got %s" % (path, wval, hval))
    elif wval != hval:
        raise Mismatch("%s: %r expected, got %r" % (path, wval, hval))


def cmp_json(path, want, have):
    if isinstance(want, dict):
        if not isinstance(have, dict):
            raise Mismatch("%s: table expected, got %s" % (path, type(have).__name__))
        if is_value(want) != is_value(have):
            raise Mismatch("%s: %s expected, got %s" % (
                path, "value" if is_value(want) else "table",
                "value" if is_value(have) else "table"))
        if is_value(want):
            cmp_values(path, want, have)
            return
        for k in want:
            if k not in have:
                raise Mismatch("%s: key %r missing from the output" % (path, k))
        for k in have:
            if k not in want:
                raise Mismatch("%s: unexpected key %r in the output" % (path, k))
        for k in want:
            cmp_json("%s.%s" % (path, k), want[k], have[k])
    elif isinstance(want, list):
        if not isinstance(have, list):
            raise Mismatch("%s: array expected, got %s" % (path, type(have).__name__))
        if len(want) != len(have):
            raise Mismatch("%s: array of %d expected, got %d" % (path, len(want), len(have)))
        for i, (w, h) in enumerate(zip(want, have)):
            cmp_json("%s[%d]" % (path, i), w, h)
    else:
        raise Mismatch("%s: expected output is neither a table nor an array" % path)


def compare_files(expected, actual):
    """None when equal, otherwise the reason."""
    try:
        with open(expected, encoding="utf-8") as f:
            want = json.load(f)
    except (OSError, ValueError) as e:
        return "cannot read %s: %s" % (expected, e)
    try:
        with open(actual, encoding="utf-8") as f:
            have = json.load(f)
    except (OSError, ValueError) as e:
        return "cannot read decoder output %s: %s" % (actual, e)
    try:
        cmp_json("$", want, have)
    except Mismatch as e:
        return str(e)
    return None


def main(argv):
    if len(argv) == 3 and argv[1] == "--batch":
        with open(argv[2], encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                name, expected, actual = line.split("\t")
                reason = compare_files(expected, actual)
                if reason is None:
                    print("PASS\t%s" % name)
                else:
                    print("FAIL\t%s\t%s" % (name, reason.replace("\n", " ")))
        return 0
    if len(argv) == 3:
        reason = compare_files(argv[1], argv[2])
        if reason is not None:
            print(reason, file=sys.stderr)
            return 1
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
