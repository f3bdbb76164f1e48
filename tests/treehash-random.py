#!/usr/bin/env python3
"""treehash-random.py - build a random directory tree for tree-hash tests.

usage: treehash-random.py [--seed N] [--empty-dirs] DIR

Creates DIR (which must not exist) holding a random tree, reproducible from
the seed (printed on stdout as "seed N"): nested directories; names with
spaces, odd bytes (anything Linux allows: not '/', not NUL), UTF-8 and
invalid UTF-8, names that sort around '/' ("a", "a.b", "a-", "a0" next to a
directory "a"); empty, small and large files (some over the 1 MiB read
buffer); owner-x and other-x modes; symlinks that are relative, absolute,
dangling, to directories, with odd bytes.  Names git treats specially
(".git" and its NTFS/HFS aliases) are never generated.  With --empty-dirs
it also leaves directories that hold no file, which Pkg and git both drop.
"""

import argparse
import os
import random
import sys

ODD = [b" ", b"  x", b"\t", b"\n", b"\x01", b"\x7f", b"\xff", b"\xc3\xb6", b"\xe2\x82",
       b"\\", b"*", b"?", b'"', b"'", b":", b"|", b"<", b">", b"$", b"#", b"%", b"&",
       b"=", b"+", b"~", b"@", b"!", b"[", b"]", b"{", b"}", b"-", b".", b",", b";",
       b"\xf0\x9f\x98\x80", b"\xe6\x97\xa5\xe6\x9c\xac"]
ALNUM = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
# names that sort around '/' (0x2f): '-' 0x2d and '.' 0x2e below it, '0' above
AROUND = [b"a", b"a-", b"a.b", b"a0", b"a.", b"a+", b"a_", b"a..", b"a0x"]


def bad_name(name):
    low = name.lower().rstrip(b" .")
    return (name in (b"", b".", b"..") or b"/" in name or b"\0" in name
            or low == b".git" or low.startswith(b"git~") or low.startswith(b".git")
            or b"\xe2\x80" in name or b"\xef\xbb\xbf" in name)


def rand_name(rng):
    while True:
        kind = rng.random()
        if kind < 0.45:
            name = bytes(rng.choice(ALNUM) for _ in range(rng.randint(1, 12)))
        elif kind < 0.85:
            parts = []
            for _ in range(rng.randint(1, 4)):
                if rng.random() < 0.5:
                    parts.append(rng.choice(ODD))
                else:
                    parts.append(bytes(rng.choice(ALNUM) for _ in range(rng.randint(1, 5))))
            name = b"".join(parts)
        elif kind < 0.95:
            name = rng.choice(AROUND)
        else:
            name = bytes(rng.randint(1, 255) for _ in range(rng.randint(1, 20)))
            name = name.replace(b"/", b"_")
        if not bad_name(name):
            return name


def file_data(rng):
    r = rng.random()
    if r < 0.15:
        return b""
    if r < 0.80:
        return rng.randbytes(rng.randint(1, 300))
    if r < 0.97:
        return rng.randbytes(rng.randint(300, 300_000))
    # over the 1 MiB read buffer; cheap to make
    return rng.randbytes(4096) * rng.randint(257, 600)


def write_file(path, data, mode):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def build(rng, root, empty_dirs):
    dirs = [root]
    files = []
    os.mkdir(root)

    def fresh(d):
        while True:
            n = rand_name(rng)
            p = os.path.join(d, n)
            if not os.path.lexists(p):
                return p

    for _ in range(rng.randint(10, 60)):
        d = rng.choice(dirs)
        depth = d[len(root):].count(b"/")
        r = rng.random()
        if r < 0.20 and depth < 5:
            p = fresh(d)
            os.mkdir(p)
            dirs.append(p)
        elif r < 0.30:
            # the classic ordering trap: a directory "a" among a-, a.b, a0
            base = os.path.join(d, b"a")
            if not os.path.lexists(base):
                os.mkdir(base)
                dirs.append(base)
                write_file(os.path.join(base, b"f"), rng.randbytes(5), 0o644)
                for n in (b"a-", b"a.b", b"a0"):
                    if not os.path.lexists(os.path.join(d, n)):
                        write_file(os.path.join(d, n), n, 0o644)
        else:
            p = fresh(d)
            mode = rng.choice([0o644, 0o644, 0o755, 0o700, 0o600, 0o655, 0o744, 0o444])
            write_file(p, file_data(rng), mode)
            files.append(p)

    # symlinks: relative to files and dirs, absolute, dangling, odd bytes
    for _ in range(rng.randint(0, 8)):
        d = rng.choice(dirs)
        p = fresh(d)
        r = rng.random()
        if r < 0.3 and files:
            target = os.path.relpath(rng.choice(files), d)
        elif r < 0.5:
            target = os.path.relpath(rng.choice(dirs), d)
        elif r < 0.65:
            target = rng.choice([b"/usr/bin", b"/etc/passwd", b"/nonexistent/x"])
        elif r < 0.8:
            target = b"dangling-" + rand_name(rng)
        else:
            target = b"../" + rng.choice(ODD) + b"/sch\xc3\xb6n\xff"
        os.symlink(target, p)

    # every directory gets a file unless empty directories were asked for
    for d in dirs:
        if not os.listdir(d) and not (empty_dirs and rng.random() < 0.5):
            write_file(os.path.join(d, b"keep"), b"", 0o644)
    if empty_dirs:
        for _ in range(rng.randint(1, 4)):
            p = fresh(rng.choice(dirs))
            os.mkdir(p)
            if rng.random() < 0.5:
                os.mkdir(os.path.join(p, b"inner"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--empty-dirs", action="store_true")
    ap.add_argument("dir")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print("seed", seed)
    sys.stdout.flush()
    os.umask(0o022)
    build(random.Random(seed), os.fsencode(args.dir), args.empty_dirs)


if __name__ == "__main__":
    main()
