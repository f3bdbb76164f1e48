#!/usr/bin/env python3
"""mountcheck.py - checks of a mounted artifactfs for the integration tests.

    mountcheck.py listing DIR [--as-installed]
        One line per entry under DIR, sorted: "<type> <mode> <size> <path>
        [-> <target>]".  Directory sizes are left out (they depend on the
        filesystem).  --as-installed prints what Pkg leaves after installing
        DIR from a tarball (spec section 3.3 step 5): files 0555 when the
        owner-execute bit is set, else 0444; directories 0555 (as artifactfs
        serves them: read-only, no setuid/setgid/sticky); symlinks 0777.
    mountcheck.py writes DIR
        Try every kind of change inside DIR (create, write, truncate, unlink,
        mkdir, rmdir, rename, link, symlink, chmod, chown, utime, setxattr,
        removexattr, mknod) and print one line per attempt; exit 1 unless each
        failed with EROFS (or EACCES/EPERM where the kernel refuses first,
        which is reported and also counts as a failure of the check).
    mountcheck.py readers N FILE
        Open and read FILE from N threads at once; print the number that read
        the same bytes as the first; exit 1 unless all N did.
Standard library only.
"""

import errno
import hashlib
import os
import stat
import sys
import threading


def listing(root, as_installed):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                kind, size, extra = "l", str(st.st_size), " -> " + os.readlink(path)
                mode = 0o777
            elif stat.S_ISDIR(st.st_mode):
                kind, size, extra = "d", "-", ""
                if as_installed:
                    mode = 0o555
            elif stat.S_ISREG(st.st_mode):
                kind, size, extra = "f", str(st.st_size), ""
                if as_installed:
                    mode = 0o555 if mode & 0o100 else 0o444
            else:
                kind, size, extra = "?", str(st.st_size), ""
            out.append("%s %04o %s %s%s" % (kind, mode, size, rel, extra))
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    for line in sorted(out):
        print(line)
    return 0


def writes(root):
    files = []
    dirs = []
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
        for d in dirnames:
            dirs.append(os.path.join(dirpath, d))
    if not files:
        print("no regular file under %s" % root)
        return 1
    f = files[0]
    d = dirs[0] if dirs else root
    new = os.path.join(root, "artifactfs-write-test")
    attempts = [
        ("create", lambda: os.close(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))),
        ("open for writing", lambda: os.close(os.open(f, os.O_WRONLY))),
        ("open read-write", lambda: os.close(os.open(f, os.O_RDWR))),
        ("open with O_TRUNC", lambda: os.close(os.open(f, os.O_RDONLY | os.O_TRUNC))),
        ("append", lambda: os.close(os.open(f, os.O_WRONLY | os.O_APPEND))),
        ("truncate", lambda: os.truncate(f, 0)),
        ("unlink", lambda: os.unlink(f)),
        ("mkdir", lambda: os.mkdir(new)),
        ("rmdir", lambda: os.rmdir(d)),
        ("rename", lambda: os.rename(f, new)),
        ("link", lambda: os.link(f, new)),
        ("symlink", lambda: os.symlink("x", new)),
        ("chmod", lambda: os.chmod(f, 0o777)),
        ("chown", lambda: os.chown(f, 1, 1)),
        ("utime", lambda: os.utime(f, (0, 0))),
        ("setxattr", lambda: os.setxattr(f, "user.test", b"x")),
        ("removexattr", lambda: os.removexattr(f, "user.artifactfs.hash")),
        ("mknod fifo", lambda: os.mkfifo(new)),
    ]
    bad = 0
    for name, fn in attempts:
        try:
            fn()
        except OSError as e:
            code = errno.errorcode.get(e.errno, str(e.errno))
            verdict = "ok" if e.errno == errno.EROFS else "WRONG ERRNO"
            if e.errno != errno.EROFS:
                bad += 1
            print("%-18s refused: %s (%s)" % (name, code, verdict))
            continue
        bad += 1
        print("%-18s SUCCEEDED on a read-only mount" % name)
    return 1 if bad else 0


def readers(n, path):
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        try:
            with open(path, "rb") as f:
                results[i] = hashlib.sha256(f.read()).hexdigest()
        except OSError as e:
            results[i] = "error: %s" % e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    same = sum(1 for r in results if r == results[0] and not r.startswith("error"))
    print(same)
    for r in results:
        if r is None or r.startswith("error"):
            print("# %s" % r, file=sys.stderr)
    return 0 if same == n else 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "listing":
        return listing(argv[2], "--as-installed" in argv[3:])
    if len(argv) == 3 and argv[1] == "writes":
        return writes(argv[2])
    if len(argv) == 4 and argv[1] == "readers":
        return readers(int(argv[2]), argv[3])
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
