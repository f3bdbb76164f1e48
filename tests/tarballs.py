#!/usr/bin/env python3
"""tarballs.py - artifacts and tarballs for the artifactfs fetch tests.

    tarballs.py realfiles OUTDIR [--only NAME]... [--compressions gz,xz,...]
    tarballs.py hostile OUTDIR
    tarballs.py toml OUTDIR BASEURL [options]      (see `tarballs.py toml -h`)
    tarballs.py check OUTDIR                       (after hostile)
    tarballs.py bombs OUTDIR [--link-mib N] [--gzip-mib N]

realfiles: artifacts made of real files of this machine (see ARTIFACTS):
    OUTDIR/src/<name>/           the source tree
    OUTDIR/<name>.tar.gz .tar.xz .tar.bz2 .tar.zst (when zstd exists) .tar
    OUTDIR/manifest.json         per artifact: git-tree-sha1 (from git), files,
                                 bytes, and per compression file/sha256/size
Tarballs are deterministic (Tar.jl order, ustar, uid/gid 0, mtime 0, no
names); the same inputs give the same bytes.

hostile: one tarball per rejection rule of spec section 2.4, in OUTDIR as
<case>.tar and <case>.tar.gz, each trying to plant a file named
escape-<case> at the path OUTDIR/../escape-<case> (absolute, deep "../", or
through a symlink) or, for rules that cannot escape, inside the artifact.
No file named escape-* may exist anywhere after a fetch.  Also benign
tarballs that Tar.jl accepts (absolute and ../.. symlink targets kept
verbatim, duplicate entries, hardlinks, long names, "./" prefixes), with the
equivalent tree under OUTDIR/src/<case>/ and its git-tree-sha1.
    OUTDIR/hostile.json   {"parent": ..., "hostile": {case: {rule, match,
                          file, sentinel}}, "benign": {case: {file, src,
                          git-tree-sha1, symlinks}}}
    OUTDIR/manifest.json  the realfiles format (compressions tar and gz), so
                          the toml subcommand works on OUTDIR too; hostile
                          cases get a made-up git-tree-sha1

check: read every hostile and benign tarball of OUTDIR with a reference
reader that applies Tar.jl's rules, and check that each hostile one is
rejected by its own rule and each benign one accepted with its tree hash.

bombs: hardlink-bomb.tar.gz (a file of 16 MiB of zeros and 100 hardlinks to
it, ~17 KB) and gzip-bomb.tar.gz (1 GiB of zeros, ~1 MB), with their real
git-tree-sha1 in OUTDIR/manifest.json (the realfiles format), and the entry
gzip-bomb-as-2mb: the gzip bomb described as a 2 MB artifact (size 2000000,
another sha256), as a hostile mirror would serve it.

toml: write an Artifacts.toml (Julia's TOML.print layout) for the artifacts of
OUTDIR/manifest.json with download URLs under BASEURL.

Standard library only; git for the tree hashes (GIT, default git), zstd for
.tar.zst (ZSTD, default zstd; skipped when missing).
"""

import argparse
import bz2
import glob
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile

COMPRESSIONS = ["gz", "xz", "bz2", "zst", "tar"]
SUFFIX = {"gz": ".tar.gz", "xz": ".tar.xz", "bz2": ".tar.bz2", "zst": ".tar.zst", "tar": ".tar"}
DOCS_BUDGET = 3 * 1024 * 1024
DEEP = 24  # "../" repeated this often reaches "/" from any extraction dir


def die(msg):
    sys.stderr.write("tarballs.py: %s\n" % msg)
    sys.exit(1)


# --- raw tar writer -----------------------------------------------------------

def octal(value, width):
    """A Tar.jl-style octal field: "%011o " for size, "%06o \\0" for the others."""
    if width == 12:
        return ("%011o" % value).encode() + b" "
    return ("%0*o" % (width - 2, value)).encode() + b" \0"


def header(name, typeflag, size=0, mode=0o644, linkname=b"", prefix=b"",
           devmajor=0, devminor=0, version=b"00", chksum_delta=0,
           signed_sum=False, raw_size=None, raw_mode=None):
    """One 512-byte ustar header with every field under control.

    The default is what Tar.jl's writer emits; the keyword arguments let the
    hostile cases break one rule at a time.
    """
    def field(data, width):
        if len(data) > width:
            raise ValueError("field too long: %r" % data)
        return data + b"\0" * (width - len(data))

    h = b"".join([
        field(name, 100),
        raw_mode if raw_mode is not None else octal(mode, 8),
        octal(0, 8),                        # uid
        octal(0, 8),                        # gid
        raw_size if raw_size is not None else octal(size, 12),
        b"00000000000 ",                    # mtime
        b" " * 8,                           # chksum, summed as spaces
        typeflag,
        field(linkname, 100),
        b"ustar\0",
        field(version, 2),
        b"\0" * 32, b"\0" * 32,             # uname, gname
        octal(devmajor, 8), octal(devminor, 8),
        field(prefix, 155),
        b"\0" * 12,
    ])
    assert len(h) == 512, len(h)
    if signed_sum:
        total = sum(b - 256 if b > 127 else b for b in h)
    else:
        total = sum(h)
    total += chksum_delta
    return h[:148] + ("%06o" % (total & 0o777777)).encode() + b"\0 " + h[156:]


def pad(data):
    return data + b"\0" * (-len(data) % 512)


def pax_record(key, value):
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


def pax_header(records, typeflag=b"x", name=b"PaxHeader"):
    data = b"".join(pax_record(k, v) for k, v in records)
    return header(name, typeflag, size=len(data)) + pad(data)


def split_name(path):
    """(prefix, name) for a ustar header, or None when the path cannot fit."""
    if len(path) <= 100:
        return b"", path
    for i in range(len(path) - 1, -1, -1):
        if path[i:i + 1] == b"/" and i <= 155 and len(path) - i - 1 <= 100 and i > 0:
            return path[:i], path[i + 1:]
    return None


def entry(path, typeflag, data=b"", mode=0o644, linkname=b""):
    """Header(s) and data of one well-formed entry; PAX for long names."""
    out = b""
    records = []
    split = split_name(path)
    if split is None:
        records.append((b"path", path))
        split = (b"", path[-100:].lstrip(b"/") or b"x")
    if len(linkname) > 100:
        records.append((b"linkpath", linkname))
        linkname = linkname[:100]
    if records:
        out += pax_header(records)
    prefix, name = split
    out += header(name, typeflag, size=len(data), mode=mode, linkname=linkname, prefix=prefix)
    return out + pad(data)


END = b"\0" * 1024


def tree_entries(root):
    """Tar entries for the tree at root, Tar.jl order (sorted per directory,
    depth first, every directory emitted)."""
    out = []

    def walk(rel):
        full = os.path.join(root, rel) if rel else root
        for name in sorted(os.listdir(full), key=os.fsencode):
            r = os.path.join(rel, name) if rel else name
            p = os.path.join(root, r)
            b = os.fsencode(r)
            st = os.lstat(p)
            if os.path.islink(p):
                out.append(entry(b, b"2", mode=0o755, linkname=os.fsencode(os.readlink(p))))
            elif os.path.isdir(p):
                out.append(entry(b + b"/", b"5", mode=0o755))
                walk(r)
            else:
                with open(p, "rb") as f:
                    data = f.read()
                out.append(entry(b, b"0", data, mode=0o755 if st.st_mode & 0o100 else 0o644))

    walk("")
    return b"".join(out) + END


# --- compression and hashing ----------------------------------------------------

def have_zstd():
    return shutil.which(os.environ.get("ZSTD", "zstd")) is not None


def compress(tar, kind):
    if kind == "tar":
        return tar
    if kind == "gz":
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
            g.write(tar)
        return buf.getvalue()
    if kind == "xz":
        return lzma.compress(tar, format=lzma.FORMAT_XZ, preset=6)
    if kind == "bz2":
        return bz2.compress(tar, 9)
    if kind == "zst":
        return subprocess.run([os.environ.get("ZSTD", "zstd"), "-q", "-19", "-c"], input=tar,
                              stdout=subprocess.PIPE, check=True).stdout
    raise ValueError(kind)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def git_tree_hash(src):
    """git write-tree of src, from a scratch repository outside the tree."""
    git = os.environ.get("GIT") or "git"
    with tempfile.TemporaryDirectory(prefix="tarballs-git.") as scratch:
        gitdir = os.path.join(scratch, "repo.git")
        env = dict(os.environ, GIT_DIR=gitdir, GIT_WORK_TREE=os.path.abspath(src),
                   GIT_INDEX_FILE=os.path.join(scratch, "index"), GIT_CONFIG_NOSYSTEM="1",
                   GIT_CONFIG_GLOBAL=os.devnull, HOME=scratch, LC_ALL="C")
        for k in ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES"):
            env.pop(k, None)
        cfg = ["-c", "core.fileMode=true", "-c", "core.symlinks=true", "-c", "core.autocrlf=false",
               "-c", "core.excludesFile=" + os.devnull]

        def run(*args):
            return subprocess.run([git] + cfg + list(args), cwd=src, env=env, check=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout

        run("init", "-q")
        run("add", "-A", "--force", ".")
        return run("write-tree").decode().strip()


def tree_stats(src):
    files = nbytes = 0
    for dirpath, dirnames, filenames in os.walk(src):
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, n)
            files += 1
            if not os.path.islink(p):
                nbytes += os.lstat(p).st_size
    return files, nbytes


# --- realfiles --------------------------------------------------------------------

def copy_real(src, dst, mode=None):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)
    if mode is None:
        mode = 0o755 if os.stat(src).st_mode & 0o100 else 0o644
    os.chmod(dst, mode)


def first_existing(patterns):
    for pat in patterns:
        for p in sorted(glob.glob(pat)):
            if os.path.isfile(p) and not os.path.islink(p):
                return p
    return None


def make_zlib(dst):
    lib = first_existing(["/usr/lib/*/libz.so.1.*", "/lib/*/libz.so.1.*", "/usr/lib/libz.so.1.*",
                          "/usr/lib64/libz.so.1.*"])
    if lib is None:
        raise RuntimeError("no libz.so.1.* on this machine")
    base = os.path.basename(lib)
    copy_real(lib, os.path.join(dst, "lib", base))
    os.symlink(base, os.path.join(dst, "lib", "libz.so.1"))
    os.symlink(base, os.path.join(dst, "lib", "libz.so"))
    for h in ("zlib.h", "zconf.h"):
        if os.path.isfile("/usr/include/" + h):
            copy_real("/usr/include/" + h, os.path.join(dst, "include", h))
    lic = first_existing(["/usr/share/doc/zlib1g/copyright", "/usr/share/doc/zlib*/copyright",
                          "/usr/share/common-licenses/BSD"])
    if lic:
        copy_real(lic, os.path.join(dst, "share", "licenses", "Zlib", "LICENSE"), 0o644)


def make_tools(dst):
    picked = []
    for name in ("true", "basename", "env", "dirname", "false"):
        p = "/usr/bin/" + name
        if os.path.isfile(p) and not os.path.islink(p) and os.access(p, os.X_OK):
            copy_real(p, os.path.join(dst, "bin", name))  # mode kept
            picked.append(name)
        if len(picked) == 2:
            break
    if len(picked) < 2:
        raise RuntimeError("fewer than two executables found in /usr/bin")
    os.symlink(picked[0], os.path.join(dst, "bin", "alias-" + picked[0]))
    lic = first_existing(["/usr/share/doc/coreutils/copyright", "/usr/share/common-licenses/GPL-3"])
    if lic:
        copy_real(lic, os.path.join(dst, "share", "doc", "coreutils", "copyright"), 0o644)


def is_text(data):
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def make_docs(dst):
    total = 0
    root = "/usr/share/doc"
    for pkg in sorted(os.listdir(root)):
        pdir = os.path.join(root, pkg)
        if os.path.islink(pdir) or not os.path.isdir(pdir):
            continue
        for name in sorted(os.listdir(pdir)):
            p = os.path.join(pdir, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            try:
                with open(p, "rb") as f:
                    data = f.read(DOCS_BUDGET + 1)
            except OSError:
                continue
            if not data or not is_text(data) or total + len(data) > DOCS_BUDGET:
                continue
            copy_real(p, os.path.join(dst, "doc", pkg, name), 0o644)
            total += len(data)
        if total > DOCS_BUDGET - 4096:
            break
    if total == 0:
        raise RuntimeError("no text files under /usr/share/doc")
    # Empty directories: extracted, but not part of the Pkg tree hash.
    os.makedirs(os.path.join(dst, "empty", "nested"))
    os.makedirs(os.path.join(dst, "doc", "zz-empty"))


def make_small(dst):
    n = 0
    for lic in ("GPL-2", "GPL-3", "BSD"):
        p = "/usr/share/common-licenses/" + lic
        if os.path.isfile(p):
            copy_real(p, os.path.join(dst, "share", "licenses", lic), 0o644)
            n += 1
    if n == 0:
        copy_real(first_existing(["/usr/share/doc/*/copyright"]),
                  os.path.join(dst, "share", "licenses", "copyright"), 0o644)
    osr = first_existing(["/usr/lib/os-release", "/etc/os-release"])
    if osr:
        copy_real(osr, os.path.join(dst, "etc", "os-release"), 0o644)
    os.symlink("share/licenses", os.path.join(dst, "licenses"))


# name -> (maker, description); "small" is quick to send at /slow/ speed.
ARTIFACTS = {
    "zlib": (make_zlib, "libz.so with its symlinks and headers, laid out like Zlib_jll"),
    "tools": (make_tools, "two executables from /usr/bin, modes kept"),
    "docs": (make_docs, "text files from /usr/share/doc (~3 MB) and empty directories"),
    "small": (make_small, "a few licence texts (~60 KB): quick even at /slow/ speed"),
}


def cmd_realfiles(args):
    out = os.path.abspath(args.outdir)
    names = args.only or list(ARTIFACTS)
    for n in names:
        if n not in ARTIFACTS:
            die("unknown artifact '%s' (known: %s)" % (n, ", ".join(ARTIFACTS)))
    kinds = args.compressions.split(",") if args.compressions else list(COMPRESSIONS)
    for k in kinds:
        if k not in COMPRESSIONS:
            die("unknown compression '%s'" % k)
    if "zst" in kinds and not have_zstd():
        kinds.remove("zst")
    os.makedirs(os.path.join(out, "src"), exist_ok=True)
    manifest = {"artifacts": {}, "compressions": kinds}
    for n in names:
        src = os.path.join(out, "src", n)
        if os.path.exists(src):
            shutil.rmtree(src)
        os.makedirs(src)
        ARTIFACTS[n][0](src)
        tar = tree_entries(src)
        files, nbytes = tree_stats(src)
        art = {"git-tree-sha1": git_tree_hash(src), "src": os.path.join("src", n),
               "description": ARTIFACTS[n][1], "files": files, "bytes": nbytes, "tarballs": {}}
        for k in kinds:
            data = compress(tar, k)
            fname = n + SUFFIX[k]
            with open(os.path.join(out, fname), "wb") as f:
                f.write(data)
            art["tarballs"][k] = {"file": fname, "sha256": sha256(data), "size": len(data)}
        manifest["artifacts"][n] = art
    write_json(os.path.join(out, "manifest.json"), manifest)
    return 0


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


# --- hostile ------------------------------------------------------------------------

def hostile_cases(out):
    """case -> (rule, message regex, tar bytes).  Sentinels are escape-<case>."""
    parent = os.path.dirname(out)
    pb = os.fsencode(parent)
    deep = b"../" * DEEP
    up_parent = deep + pb.lstrip(b"/")            # parent, from any depth
    up_out = deep + os.fsencode(out).lstrip(b"/")  # OUTDIR, from any depth
    victim = os.fsencode(os.path.join(out, "hostile.json"))  # an outside file
    ok_file = entry(b"ok.txt", b"0", b"a harmless first entry\n")
    cases = {}

    def add(case, rule, match, *parts):
        cases[case] = (rule, match, ok_file + b"".join(parts) + END)

    def esc(case):
        return b"escape-" + case.encode()

    def outside(case):
        return pb + b"/" + esc(case)

    add("absolute-path", "path is absolute", r"absolute",
        entry(outside("absolute-path"), b"0", b"absolute\n"))
    add("dotdot", "path contains '..' component", r"'\.\.'|\.\.' component|\.\. component|parent",
        entry(up_parent + b"/" + esc("dotdot"), b"0", b"dotdot\n"))
    add("dotdot-inner", "path contains '..' component (after a directory)", r"'\.\.'|\.\.' component|\.\. component|parent",
        entry(b"sub/", b"5", mode=0o755),
        entry(b"sub/../" + up_parent + b"/" + esc("dotdot-inner"), b"0", b"x\n"))
    add("symlink-prefix-parent", "path through an earlier symlink (lnk -> ..)", r"symlink|symbolic",
        entry(b"lnk", b"2", mode=0o755, linkname=b".."),
        entry(b"lnk/" + esc("symlink-prefix-parent"), b"0", b"x\n"))
    add("symlink-prefix-deep", "path through an earlier symlink (lnk -> ../../..)", r"symlink|symbolic",
        entry(b"lnk", b"2", mode=0o755, linkname=up_parent),
        entry(b"lnk/" + esc("symlink-prefix-deep"), b"0", b"x\n"))
    add("symlink-prefix-absolute", "path through an earlier symlink (lnk -> /abs/dir)",
        r"symlink|symbolic",
        entry(b"lnk", b"2", mode=0o755, linkname=pb),
        entry(b"lnk/" + esc("symlink-prefix-absolute"), b"0", b"x\n"))
    add("symlink-prefix-nested", "path through an earlier symlink in a subdirectory",
        r"symlink|symbolic",
        entry(b"d/", b"5", mode=0o755),
        entry(b"d/lnk", b"2", mode=0o755, linkname=up_parent),
        entry(b"d/lnk/" + esc("symlink-prefix-nested"), b"0", b"x\n"))
    add("hardlink-missing", "hardlink to a non-existent entry", r"hard ?link",
        entry(esc("hardlink-missing"), b"1", linkname=b"no-such-file"))
    add("hardlink-later", "hardlink to a later entry", r"hard ?link",
        entry(esc("hardlink-later"), b"1", linkname=b"later"),
        entry(b"later", b"0", b"later\n"))
    add("hardlink-to-symlink", "hardlink to a symlink", r"hard ?link",
        entry(b"s", b"2", mode=0o755, linkname=victim),
        entry(esc("hardlink-to-symlink"), b"1", linkname=b"s"))
    add("hardlink-to-dir", "hardlink to a directory", r"hard ?link",
        entry(b"d/", b"5", mode=0o755),
        entry(esc("hardlink-to-dir"), b"1", linkname=b"d"))
    add("hardlink-absolute", "hardlink with an absolute target", r"absolute",
        entry(esc("hardlink-absolute"), b"1", linkname=victim))
    add("hardlink-dotdot", "hardlink with a '..' target", r"'\.\.'|\.\.' component|\.\. component|parent",
        entry(esc("hardlink-dotdot"), b"1", linkname=up_out + b"/hostile.json"))
    add("chardev", "character device", r"unsupported|device|entry type|type ?flag",
        header(esc("chardev"), b"3", mode=0o666, devmajor=1, devminor=3))
    add("blockdev", "block device", r"unsupported|device|entry type|type ?flag",
        header(esc("blockdev"), b"4", mode=0o660, devmajor=7, devminor=0))
    add("fifo", "fifo", r"unsupported|fifo|entry type|type ?flag",
        header(esc("fifo"), b"6", mode=0o644))
    add("type-contiguous", "unknown entry type ('7', contiguous file)", r"unsupported|entry type|type ?flag",
        header(esc("type-contiguous"), b"7", size=4) + pad(b"abc\n"))
    add("nul-path-pax", "NUL in a path (PAX path record)", r"\bnul\b",
        pax_header([(b"path", esc("nul-path-pax") + b"\0evil")]),
        header(b"placeholder", b"0", size=4) + pad(b"nul\n"))
    add("nul-path-longlink", "NUL in a path (GNU ././@LongLink)", r"\bnul\b",
        header(b"././@LongLink", b"L", size=len(esc("nul-path-longlink")) + 6) +
        pad(esc("nul-path-longlink") + b"\0evil\0"),
        header(b"placeholder", b"0", size=4) + pad(b"nul\n"))
    add("nul-link-pax", "NUL in a symlink target", r"\bnul\b",
        pax_header([(b"linkpath", b"target\0" + victim)]),
        header(esc("nul-link-pax"), b"2", mode=0o755, linkname=b"placeholder"))
    # A symlink or directory with a size: an extractor that ignored the size
    # would parse the data block as the next header, an absolute path.
    smuggled = entry(outside("symlink-size"), b"0")
    add("symlink-size", "symlink with non-zero size", r"size",
        header(esc("symlink-size"), b"2", size=len(smuggled), mode=0o755, linkname=b"ok.txt") +
        smuggled)
    smuggled = entry(outside("dir-size"), b"0")
    add("dir-size", "directory with non-zero size", r"size",
        header(esc("dir-size") + b"/", b"5", size=len(smuggled), mode=0o755) + smuggled)
    add("trailing-slash", "non-directory path ending in '/'", r"ending|trailing|slash|'/'",
        entry(esc("trailing-slash") + b"/", b"0", b"x\n"))
    add("trailing-dot", "non-directory path ending in '/.'", r"ending|trailing|'\.'",
        entry(esc("trailing-dot") + b"/.", b"0", b"x\n"))
    add("dot-file", "non-directory path equal to '.'", r"ending|trailing|component",
        entry(b".", b"0", b"x\n"))
    add("empty-path", "empty path", r"empty",
        header(b"", b"0", size=2) + pad(b"x\n"))
    add("bad-checksum", "header checksum off by one", r"checksum",
        header(esc("bad-checksum"), b"0", size=2, chksum_delta=1) + pad(b"x\n"))
    add("signed-checksum", "header checksum as a signed byte sum", r"checksum",
        header(esc("signed-checksum") + "-\u00e9\u00e8".encode(), b"0", size=2, signed_sum=True) +
        pad(b"x\n"))
    add("bad-version", "unknown version field", r"version",
        header(esc("bad-version"), b"0", size=2, version=b"x1") + pad(b"x\n"))
    add("link-text-on-file", "non-link with a link path", r"non-link|link path|link target|link ?name",
        header(esc("link-text-on-file"), b"0", size=2, linkname=b"ok.txt") + pad(b"x\n"))
    add("empty-symlink-target", "symlink with an empty target", r"empty",
        header(esc("empty-symlink-target"), b"2", mode=0o755))
    add("negative-size", "negative size (base-256)", r"size|negative",
        header(esc("negative-size"), b"0", raw_size=b"\xff" * 11 + b"\xfe"))
    add("mode-too-large", "mode that does not fit in 16 bits", r"mode",
        header(esc("mode-too-large"), b"0", size=2, raw_mode=b"0200644\0") + pad(b"x\n"))
    add("truncated-data", "data shorter than the header's size", r"premature|truncat|end of|short|eof|unexpected",
        header(esc("truncated-data"), b"0", size=4096) + b"x" * 512)
    return cases


def benign_cases(out):
    """case -> (description, tar bytes, builder of the equivalent tree, symlinks)."""
    cases = {}

    def tree(spec):
        def build(dst):
            for kind, path, arg, mode in spec:
                p = os.path.join(dst, path)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                if kind == "file":
                    with open(p, "wb") as f:
                        f.write(arg)
                    os.chmod(p, mode)
                elif kind == "link":
                    os.symlink(arg, p)
                elif kind == "dir":
                    os.makedirs(p, exist_ok=True)
        return build

    links = {"abs": "/nonexistent/absolute/target", "up": "../../outside/target",
             "upup": "../..", "sub/rel": "../file.txt", "sub/abs-dir": "/"}
    cases["benign-symlink-targets"] = (
        "absolute and ../.. symlink targets are extracted verbatim",
        entry(b"abs", b"2", mode=0o755, linkname=links["abs"].encode()) +
        entry(b"file.txt", b"0", b"benign\n") +
        entry(b"sub/", b"5", mode=0o755) +
        entry(b"sub/abs-dir", b"2", mode=0o755, linkname=b"/") +
        entry(b"sub/rel", b"2", mode=0o755, linkname=b"../file.txt") +
        entry(b"up", b"2", mode=0o755, linkname=links["up"].encode()) +
        entry(b"upup", b"2", mode=0o755, linkname=b"../..") + END,
        tree([("file", "file.txt", b"benign\n", 0o644)] +
             [("link", k, v, 0) for k, v in links.items()]),
        links)
    cases["benign-duplicate"] = (
        "a later entry replaces an earlier one with the same path",
        entry(b"dup.txt", b"0", b"first version\n") +
        entry(b"keep.txt", b"0", b"kept\n") +
        entry(b"dup.txt", b"0", b"second version\n", mode=0o755) +
        entry(b"was-link", b"2", mode=0o755, linkname=b"keep.txt") +
        entry(b"was-link", b"0", b"now a file\n") + END,
        tree([("file", "dup.txt", b"second version\n", 0o755),
              ("file", "keep.txt", b"kept\n", 0o644),
              ("file", "was-link", b"now a file\n", 0o644)]),
        {})
    cases["benign-hardlink"] = (
        "a hardlink to an earlier regular file is extracted as a copy",
        entry(b"a/", b"5", mode=0o755) +
        entry(b"a/orig.txt", b"0", b"linked data\n") +
        entry(b"copy.txt", b"1", linkname=b"a/orig.txt") +
        entry(b"a/./copy2.txt", b"1", linkname=b"./a//orig.txt") + END,
        tree([("file", "a/orig.txt", b"linked data\n", 0o644),
              ("file", "copy.txt", b"linked data\n", 0o644),
              ("file", "a/copy2.txt", b"linked data\n", 0o644)]),
        {})
    cases["benign-dir-again"] = (
        "a directory entry after the directory's contents keeps them (Tar.jl extract.jl)",
        entry(b"lib/", b"5", mode=0o755) +
        entry(b"lib/libx.so", b"0", b"not really a library\n", mode=0o755) +
        entry(b"lib/", b"5", mode=0o755) +
        entry(b"share/doc/", b"5", mode=0o755) +
        entry(b"share/doc/README", b"0", b"read me\n") +
        entry(b"share/", b"5", mode=0o755) + END,
        tree([("file", "lib/libx.so", b"not really a library\n", 0o755),
              ("file", "share/doc/README", b"read me\n", 0o644)]),
        {})
    d150 = "d" * 60 + "/" + "e" * 60 + "/"
    long150 = d150 + "f" * 28                         # ustar prefix + name
    d250 = "g" * 100 + "/" + "h" * 100 + "/"
    long250 = d250 + "i" * 48                         # PAX path
    gnu = "j" * 120 + ".txt"                          # GNU ././@LongLink
    target = "../" + "k" * 150                        # PAX linkpath
    cases["benign-longnames"] = (
        "paths and link targets over 100 bytes (ustar prefix, PAX, GNU LongLink)",
        entry(d150.split("/")[0].encode() + b"/", b"5", mode=0o755) +
        entry(d150.encode(), b"5", mode=0o755) +
        entry(long150.encode(), b"0", b"ustar prefix\n") +
        entry(d250.split("/")[0].encode() + b"/", b"5", mode=0o755) +
        entry(d250.encode(), b"5", mode=0o755) +
        entry(long250.encode(), b"0", b"pax path\n", mode=0o755) +
        header(b"././@LongLink", b"L", size=len(gnu) + 1) + pad(gnu.encode() + b"\0") +
        header(gnu[:100].encode(), b"0", size=9) + pad(b"gnu long\n") +
        entry(b"longlink", b"2", mode=0o755, linkname=target.encode()) + END,
        tree([("file", long150, b"ustar prefix\n", 0o644),
              ("file", long250, b"pax path\n", 0o755),
              ("file", gnu, b"gnu long\n", 0o644),
              ("link", "longlink", target, 0)]),
        {"longlink": target})
    cases["benign-dotslash"] = (
        "'./' prefixes and a root '.' entry, as GNU tar writes them",
        entry(b"./", b"5", mode=0o755) +
        entry(b"./bin/", b"5", mode=0o755) +
        entry(b"./bin/run", b"0", b"#!/bin/sh\necho run\n", mode=0o755) +
        entry(b"./empty/", b"5", mode=0o755) +
        entry(b".//share///data.txt", b"0", b"data\n") + END,
        tree([("file", "bin/run", b"#!/bin/sh\necho run\n", 0o755),
              ("dir", "empty", None, 0),
              ("file", "share/data.txt", b"data\n", 0o644)]),
        {})
    return cases


def cmd_hostile(args):
    out = os.path.abspath(args.outdir)
    os.makedirs(os.path.join(out, "src"), exist_ok=True)
    parent = os.path.dirname(out)
    desc = {"parent": parent, "sentinel_glob": "escape-*", "hostile": {}, "benign": {}}
    manifest = {"artifacts": {}, "compressions": ["tar", "gz"]}

    def emit(case, tar, tree_hash, src=None):
        tb = {}
        for k in ("tar", "gz"):
            data = compress(tar, k)
            fname = case + SUFFIX[k]
            with open(os.path.join(out, fname), "wb") as f:
                f.write(data)
            tb[k] = {"file": fname, "sha256": sha256(data), "size": len(data)}
        art = {"git-tree-sha1": tree_hash, "tarballs": tb}
        if src:
            art["src"] = src
        manifest["artifacts"][case] = art
        return tb

    for case, (rule, match, tar) in sorted(hostile_cases(out).items()):
        fake = hashlib.sha1(b"hostile:" + case.encode()).hexdigest()
        tb = emit(case, tar, fake)
        desc["hostile"][case] = {"rule": rule, "match": match, "file": tb["tar"]["file"],
                                 "sentinel": os.path.join(parent, "escape-" + case)}
    for case, (what, tar, build, links) in sorted(benign_cases(out).items()):
        src = os.path.join(out, "src", case)
        if os.path.exists(src):
            shutil.rmtree(src)
        os.makedirs(src)
        build(src)
        h = git_tree_hash(src)
        tb = emit(case, tar, h, os.path.join("src", case))
        desc["benign"][case] = {"what": what, "file": tb["tar"]["file"], "git-tree-sha1": h,
                                "src": os.path.join("src", case), "symlinks": links}
    write_json(os.path.join(out, "manifest.json"), manifest)
    write_json(os.path.join(out, "hostile.json"), desc)
    return 0


# --- bombs: small tarballs that unpack to a lot (issue 10, bugs 9 and 11) ---------------

def git_blob_zeros(size):
    h = hashlib.sha1(b"blob %d\0" % size)
    chunk = bytes(1 << 20)
    left = size
    while left:
        n = min(left, len(chunk))
        h.update(chunk[:n])
        left -= n
    return h.digest()


def git_flat_tree(entries):
    """The git tree id of one directory of (name, blob id) regular files, mode 644."""
    body = b"".join(b"100644 " + n + b"\0" + oid for n, oid in sorted(entries))
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def cmd_bombs(args):
    """hardlink-bomb.tar.gz: one file of --link-mib MiB of zeros and 100 hardlinks
    to it; gzip-bomb.tar.gz: one file of --gzip-mib MiB of zeros, gzip -9."""
    out = os.path.abspath(args.outdir)
    os.makedirs(out, exist_ok=True)
    manifest = {"artifacts": {}, "compressions": ["gz"]}

    def emit(name, fname, tree_hash, data_sha=None, size=None):
        path = os.path.join(out, fname)
        with open(path, "rb") as f:
            data = f.read()
        manifest["artifacts"][name] = {"git-tree-sha1": tree_hash, "tarballs": {"gz": {
            "file": fname, "sha256": data_sha or sha256(data), "size": size or len(data)}}}

    big = args.link_mib << 20
    names = [b"link%03d" % i for i in range(100)]
    tar = entry(b"big", b"0", bytes(big))
    tar += b"".join(header(n, b"1", linkname=b"big") for n in names) + END
    with open(os.path.join(out, "hardlink-bomb.tar.gz"), "wb") as f:
        f.write(gzip.compress(tar, 9, mtime=0))
    oid = git_blob_zeros(big)
    emit("hardlink-bomb", "hardlink-bomb.tar.gz",
         git_flat_tree([(n, oid) for n in [b"big"] + names]))

    size = args.gzip_mib << 20
    z = __import__("zlib").compressobj(9, 8, 31)  # 31: a gzip wrapper
    chunk = bytes(1 << 20)
    with open(os.path.join(out, "gzip-bomb.tar.gz"), "wb") as f:
        f.write(z.compress(header(b"zeros", b"0", size=size)))
        for _ in range(args.gzip_mib):
            f.write(z.compress(chunk))
        f.write(z.compress(END))
        f.write(z.flush())
    tree = git_flat_tree([(b"zeros", git_blob_zeros(size))])
    emit("gzip-bomb", "gzip-bomb.tar.gz", tree)
    # The same bytes served in place of a 2 MB artifact: another sha256, size 2 MB.
    emit("gzip-bomb-as-2mb", "gzip-bomb.tar.gz", tree, "ab" * 32, 2000000)
    write_json(os.path.join(out, "manifest.json"), manifest)
    return 0


# --- check: a reference reader with Tar.jl's rules ----------------------------------

class Reject(Exception):
    pass


def read_str(buf, off, n):
    field = buf[off:off + n]
    i = field.find(b"\0")
    return field if i < 0 else field[:i]


def read_oct(buf, off, n, what):
    v = 0
    for b in buf[off:off + n]:
        if b in (0, 0x20):
            if v or b == 0:
                break
            continue  # leading spaces
        if not 0x30 <= b <= 0x37:
            raise Reject("invalid octal digit in %s" % what)
        v = v * 8 + b - 0x30
    return v


def reference_read(tar):
    """Yield (path, type, mode, link, data) with Tar.jl's header rules
    (spec section 2.4); raise Reject naming the rule that failed."""
    pos = 0
    meta_global = {}

    def block():
        nonlocal pos
        if pos >= len(tar):
            return None
        if pos + 512 > len(tar):
            raise Reject("premature end of tar file")
        b = tar[pos:pos + 512]
        pos += 512
        return b

    def data(size):
        nonlocal pos
        end = pos + size
        if end > len(tar):
            raise Reject("premature end of tar file (data)")
        d = tar[pos:end]
        pos += (size + 511) // 512 * 512
        return d

    def standard():
        b = block()
        if b is None or b == b"\0" * 512:
            return None
        name = read_str(b, 0, 100)
        mode = read_oct(b, 100, 8, "mode")
        if b[124] & 0x80:
            v = int.from_bytes(b[124:136], "big") & ~(0x80 << 88)
            if b[124] & 0x40:
                v -= 1 << 95
            size = v
        else:
            size = read_oct(b, 124, 12, "size")
        chk = read_oct(b, 148, 8, "chksum")
        if chk != sum(b[:148]) + 8 * 32 + sum(b[156:]):
            raise Reject("incorrect header checksum")
        version = read_str(b, 263, 2)
        if not re.fullmatch(rb"0* *", version):
            raise Reject("unknown version string")
        if mode > 0xFFFF:
            raise Reject("mode does not fit in 16 bits")
        prefix = read_str(b, 345, 155)
        path = prefix + b"/" + name if prefix else name
        return path, b[156:157], mode, size, read_str(b, 157, 100)

    while True:
        h = standard()
        if h is None:
            return
        meta = dict(meta_global)
        while h[1] in (b"x", b"g") or (h[0] == b"././@LongLink" and h[1] in (b"L", b"K")):
            if h[3] < 0:
                raise Reject("negative file size")
            d = data(h[3])
            if h[1] in (b"x", b"g"):
                i = 0
                while i < len(d):
                    sp = d.index(b" ", i)
                    n = int(d[i:sp])
                    rec = d[sp + 1:i + n - 1]
                    k, _, v = rec.partition(b"=")
                    if k in (b"size", b"path", b"linkpath"):
                        meta[k] = v
                        if h[1] == b"g":
                            meta_global[k] = v
                    i += n
            else:
                if not d.endswith(b"\0"):
                    raise Reject("malformed GNU long header")
                meta[b"path" if h[1] == b"L" else b"linkpath"] = d[:-1]
            h = standard()
            if h is None:
                raise Reject("premature end of tar file")
        path, tf, mode, size, link = h
        path = meta.get(b"path", path)
        link = meta.get(b"linkpath", link)
        if b"size" in meta:
            size = int(meta[b"size"])
        kind = {b"0": "file", b"\0": "file", b"1": "hardlink", b"2": "symlink",
                b"5": "directory"}.get(tf)
        errs = []
        if not path:
            errs.append("path is empty")
        if b"\0" in path:
            errs.append("path contains NUL bytes")
        if b"\0" in link:
            errs.append("link contains NUL bytes")
        if path.startswith(b"/"):
            errs.append("path is absolute")
        if re.search(rb"(^|/)\.\.(/|$)", path):
            errs.append("path contains '..' component")
        if kind is None:
            errs.append("unsupported entry type %r" % tf)
        if kind not in ("hardlink", "symlink") and link:
            errs.append("non-link with link path")
        if kind in ("hardlink", "symlink") and not link:
            errs.append("link with empty target")
        if kind == "symlink" and size != 0:
            errs.append("symlink with non-zero size")
        if kind == "directory" and size != 0:
            errs.append("directory with non-zero size")
        if kind != "directory" and path.endswith(b"/"):
            errs.append("non-directory path ending with '/'")
        if kind != "directory" and (path == b"." or path.endswith(b"/.")):
            errs.append("non-directory path ending with '.' component")
        if size < 0:
            errs.append("negative file size")
        if kind == "hardlink" and (link.startswith(b"/") or re.search(rb"(^|/)\.\.(/|$)", link)):
            errs.append("hardlink target is absolute or has a '..' component")
        if errs:
            raise Reject("; ".join(sorted(errs)))
        d = data(size) if kind in ("file", "hardlink") else (data(size) if size else b"")
        yield path, kind, mode, link, d


def reference_tree(tar):
    """The tree Tar.jl extracts, as {path: node}; node = ("file", exec, data),
    ("symlink", target) or ("directory",).  Raises Reject."""
    paths = {}
    for path, kind, mode, link, d in reference_read(tar):
        parts = [p for p in path.split(b"/") if p not in (b"", b".")]
        for i in range(1, len(parts)):
            pre = b"/".join(parts[:i])
            if paths.get(pre, ("directory",))[0] == "symlink":
                raise Reject("Refusing to extract path with symlink prefix %r" % pre)
            if pre in paths and paths[pre][0] != "directory":
                del paths[pre]  # a leaf replaced by a directory
            paths.setdefault(pre, ("directory",))
        if not parts:
            continue  # the root itself
        p = b"/".join(parts)
        if kind == "directory" and paths.get(p, ("none",))[0] == "directory":
            continue  # Tar.jl keeps an existing directory and its contents
        for q in [q for q in paths if q.startswith(p + b"/")]:
            del paths[q]  # rm -rf of what was there
        if kind == "hardlink":
            t = b"/".join(x for x in link.split(b"/") if x not in (b"", b"."))
            if paths.get(t, ("none",))[0] != "file":
                raise Reject("hardlink target %r is not an earlier regular file" % link)
            paths[p] = ("file", paths[t][1], paths[t][2])
        elif kind == "file":
            paths[p] = ("file", bool(mode & 0o100), d)
        elif kind == "symlink":
            paths[p] = ("symlink", link)
        else:
            paths[p] = ("directory",)
    return paths


def reference_tree_hash(paths):
    """git-tree-sha1 of a reference tree, Pkg rules (empty directories skipped)."""
    def obj(kind, body):
        return hashlib.sha1(b"%s %d\0" % (kind, len(body)) + body).digest()

    def tree(prefix):
        kids = {}
        for p, node in paths.items():
            rel = p[len(prefix):] if prefix else p
            if prefix and not p.startswith(prefix):
                continue
            if b"/" in rel:
                continue
            kids[rel] = node
        entries = []
        for name, node in kids.items():
            full = prefix + name
            if node[0] == "directory":
                h = tree(full + b"/")
                if h is None:
                    continue
                entries.append((name + b"/", b"40000", name, h))
            elif node[0] == "symlink":
                entries.append((name, b"120000", name, obj(b"blob", node[1])))
            else:
                entries.append((name, b"100755" if node[1] else b"100644", name,
                                obj(b"blob", node[2])))
        if not entries and prefix:
            return None
        body = b"".join(m + b" " + n + b"\0" + h for _, m, n, h in sorted(entries))
        return obj(b"tree", body)

    return tree(b"").hex()


def cmd_check(args):
    """Check the hostile/benign set against the reference reader: every hostile
    tarball rejected by its own rule, every benign one accepted with the
    recorded tree hash.  Prints TAP-like lines; exit 1 on any mismatch."""
    out = os.path.abspath(args.outdir)
    with open(os.path.join(out, "hostile.json")) as f:
        desc = json.load(f)
    bad = 0
    for case, h in sorted(desc["hostile"].items()):
        with open(os.path.join(out, h["file"]), "rb") as f:
            tar = f.read()
        try:
            reference_tree(tar)
            msg = None
        except Reject as e:
            msg = str(e)
        # As t0420 does: the rule must be named by the message itself, not
        # by the case name or the entry path quoted in it.
        bare = re.sub(r"escape-%s[^' ]*|%s" % (re.escape(case), re.escape(case)), "", msg or "")
        if msg is None or not re.search(h["match"], bare, re.I):
            bad += 1
            print("not ok - %s: expected a rejection matching /%s/, got %r" % (case, h["match"], msg))
        else:
            print("ok - %s: %s" % (case, msg))
    for case, b in sorted(desc["benign"].items()):
        with open(os.path.join(out, b["file"]), "rb") as f:
            tar = f.read()
        try:
            got = reference_tree_hash(reference_tree(tar))
        except Reject as e:
            got = "rejected: %s" % e
        src_hash = git_tree_hash(os.path.join(out, b["src"]))
        if got != b["git-tree-sha1"] or src_hash != b["git-tree-sha1"]:
            bad += 1
            print("not ok - %s: reference %s, git %s, recorded %s" %
                  (case, got, src_hash, b["git-tree-sha1"]))
        else:
            print("ok - %s: %s" % (case, got))
    return 1 if bad else 0


# --- toml ---------------------------------------------------------------------------

def toml_str(s):
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04X" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def flip_hex(h):
    """A different hash of the same shape: the last hex digit changed."""
    return h[:-1] + ("0" if h[-1] != "0" else "1")


def cmd_toml(args):
    out = os.path.abspath(args.outdir)
    mpath = args.manifest or os.path.join(out, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    arts = manifest["artifacts"]
    names = sorted(args.only) if args.only else sorted(arts)
    kind = {"tar.gz": "gz", "tgz": "gz", "tar.xz": "xz", "tar.bz2": "bz2",
            "tar.zst": "zst"}.get(args.compression, args.compression)
    for n in names + args.lazy + args.wrong_sha256 + args.wrong_tree:
        if n not in arts:
            die("no artifact '%s' in %s" % (n, mpath))
    prefixes = args.mirror_before + [args.baseurl] + args.mirror_after
    blocks = {}
    for n in names:
        a = arts[n]
        tb = a["tarballs"].get(kind)
        if tb is None:
            die("artifact '%s' has no '%s' tarball" % (n, kind))
        tree = a["git-tree-sha1"]
        if n in args.wrong_tree:
            tree = flip_hex(tree)
        digest = tb["sha256"]
        if n in args.wrong_sha256:
            digest = flip_hex(digest)
        lines = ["[%s]" % n, "git-tree-sha1 = %s" % toml_str(tree)]
        if n in args.lazy:
            lines.append("lazy = true")
        for p in prefixes:
            lines.append("")
            lines.append("    [[%s.download]]" % n)
            lines.append("    sha256 = %s" % toml_str(digest))
            if args.size:
                lines.append("    size = %d" % tb["size"])
            lines.append("    url = %s" % toml_str(p.rstrip("/") + "/" + tb["file"]))
        blocks[n] = "\n".join(lines) + "\n"
    if args.split:
        # One file per artifact: DIR/<name>.toml.
        os.makedirs(args.split, exist_ok=True)
        for n, text in blocks.items():
            with open(os.path.join(args.split, n + ".toml"), "w") as f:
                f.write(text)
        return 0
    text = "".join(blocks[n] for n in names)
    dest = args.output or os.path.join(out, "Artifacts.toml")
    if dest == "-":
        sys.stdout.write(text)
    else:
        d = os.path.dirname(os.path.abspath(dest))
        os.makedirs(d, exist_ok=True)
        with open(dest + ".tmp", "w") as f:
            f.write(text)
        os.replace(dest + ".tmp", dest)
    return 0


def main():
    ap = argparse.ArgumentParser(description="artifacts and tarballs for the fetch tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("realfiles", help="artifacts made of real files of this machine")
    r.add_argument("outdir")
    r.add_argument("--only", action="append", metavar="NAME",
                   help="make only this artifact (repeatable; known: %s)" % ", ".join(ARTIFACTS))
    r.add_argument("--compressions", metavar="LIST",
                   help="comma-separated subset of %s" % ",".join(COMPRESSIONS))
    h = sub.add_parser("hostile", help="one tarball per rejection rule, and benign ones")
    h.add_argument("outdir")
    t = sub.add_parser("toml", help="an Artifacts.toml for OUTDIR/manifest.json")
    t.add_argument("outdir")
    t.add_argument("baseurl", help="URL prefix of the tarballs (http://..., file://...)")
    t.add_argument("-o", "--output", help="where to write (default OUTDIR/Artifacts.toml; - = stdout)")
    t.add_argument("--split", metavar="DIR",
                   help="write one file per artifact, DIR/<name>.toml, instead of -o")
    t.add_argument("--manifest", help="manifest to read (default OUTDIR/manifest.json)")
    t.add_argument("--compression", default="gz", help="gz (default), xz, bz2, zst or tar")
    t.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="write only these artifacts (repeatable)")
    t.add_argument("--mirror-before", action="append", default=[], metavar="PREFIX",
                   help="a download URL prefix tried before BASEURL (repeatable, in order)")
    t.add_argument("--mirror-after", action="append", default=[], metavar="PREFIX",
                   help="a download URL prefix tried after BASEURL (repeatable, in order)")
    t.add_argument("--lazy", action="append", default=[], metavar="NAME", help="mark NAME lazy")
    t.add_argument("--wrong-sha256", action="append", default=[], metavar="NAME",
                   help="write a wrong sha256 for NAME (last hex digit changed)")
    t.add_argument("--wrong-tree", action="append", default=[], metavar="NAME",
                   help="write a wrong git-tree-sha1 for NAME (last hex digit changed)")
    t.add_argument("--size", action="store_true", help="add size = <bytes> (Pkg >= 1.13)")
    b = sub.add_parser("bombs", help="a hardlink bomb and a gzip bomb, and their manifest")
    b.add_argument("outdir")
    b.add_argument("--link-mib", type=int, default=16, help="size of the linked file (16)")
    b.add_argument("--gzip-mib", type=int, default=1024, help="unpacked size of the gzip bomb")
    c = sub.add_parser("check", help="check OUTDIR/hostile.json against a reference reader "
                       "with Tar.jl's rules")
    c.add_argument("outdir")
    args = ap.parse_args()
    try:
        return {"realfiles": cmd_realfiles, "hostile": cmd_hostile, "toml": cmd_toml,
                "check": cmd_check, "bombs": cmd_bombs}[args.cmd](args)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        die(str(e))


if __name__ == "__main__":
    sys.exit(main())
