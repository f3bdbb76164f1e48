#!/usr/bin/env python3
"""seekidx.py - an independent writer of the seek index, format version 1
(doc/internals/seek-index.md), for tests: written from the document, not
from fetch/seekidx_build.c, so that a reader bug and a builder bug cannot
hide each other.

    seekidx.py make SRCDIR OUT [--span N] [--members K] [--forge KIND]

packs SRCDIR (files, executables, symlinks, directories) into OUT.tar,
compresses it into OUT.tar.gz and writes its index OUT.seekidx; prints the
git-tree-sha1 (Pkg's rule: no directories without files, no .git) on
stdout.  The gzip is K members (default 1), each made by zlib with a
Z_SYNC_FLUSH about every N uncompressed bytes (default 65536), so block
boundaries there are byte-aligned (bits 0) and the following blocks still
refer to the window; every such boundary is a restart point with its
window.

    seekidx.py index TAR OUT [--span N] [--members K] [--forge KIND]

does the same from an existing uncompressed tarball TAR.

Forgeries (--forge), each an index that must never yield wrong bytes:
  tree      a byte of the last tree object's content changed: it no
            longer hashes to its id (seekidx_parse: -EBADMSG)
  offset    the largest file's offset moved back by one: parses, and
            its bytes hash wrong (seekidx_reader_finish: -EBADMSG)
  window    every window replaced by the deflate of other bytes (-EBADMSG
            or -EILSEQ from the reader)
  head      the file cut inside its head (seekidx_parse: -EILSEQ)
  crc       the fixed header's CRC-32 wrong (seekidx_parse: -EILSEQ)
"""
import argparse
import hashlib
import io
import os
import struct
import sys
import tarfile
import zlib

MAGIC = b"AFSSEEK\n"
FIXED = 128
WINDOW = 32768


def git_hash(kind, data):
    return hashlib.sha1(b"%s %d\0" % (kind, len(data)) + data).digest()


class Node:
    def __init__(self):
        self.children = {}  # name (bytes) -> Node or (mode, oid)


def tree_objects(tar_bytes):
    """Walk the tar: the tree objects (root first), the link targets, the
    files (oid -> (offset, size))."""
    root = Node()
    links = {}
    files = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
        for m in tf.getmembers():
            parts = [p.encode() for p in m.name.split("/") if p not in ("", ".")]
            if not parts or b".git" in parts:
                continue
            node = root
            for p in parts[:-1]:
                node = node.children.setdefault(p, Node())
            name = parts[-1]
            if m.isdir():
                node.children.setdefault(name, Node())
            elif m.issym():
                target = m.linkname.encode()
                oid = git_hash(b"blob", target)
                links[oid] = target
                node.children[name] = (0o120000, oid)
            elif m.isfile():
                data = tar_bytes[m.offset_data:m.offset_data + m.size]
                oid = git_hash(b"blob", data)
                files.setdefault(oid, (m.offset_data, m.size))
                mode = 0o100755 if m.mode & 0o100 else 0o100644
                node.children[name] = (mode, oid)
    trees = []

    def has_files(node):
        for name, c in node.children.items():
            if isinstance(c, Node):
                if has_files(c):
                    return True
            else:
                return True
        return False

    def walk(node, out):
        ents = []
        for name, c in node.children.items():
            if name == b".git":
                continue
            if isinstance(c, Node):
                if not has_files(c):
                    continue
                ents.append((name + b"/", b"40000", walk(c, out)))
            else:
                ents.append((name, b"%o" % c[0], c[1]))
        ents.sort(key=lambda e: e[0])
        content = b"".join(m + b" " + n.rstrip(b"/") + b"\0" + o for n, m, o in ents)
        oid = git_hash(b"tree", content)
        out.append((oid, content))
        return oid

    walk(root, trees)
    trees.reverse()  # root first
    seen, uniq = set(), []
    for oid, content in trees:
        if oid not in seen:
            seen.add(oid)
            uniq.append((oid, content))
    return uniq, links, files


def compress(raw, span, members):
    """gzip raw in `members` members with a sync flush every `span` bytes;
    the restart points (in, out) at the flushes."""
    out = bytearray()
    points = []
    cuts = [len(raw) * i // members for i in range(members + 1)]
    for a, b in zip(cuts, cuts[1:]):
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        pos = a
        while pos < b:
            n = min(span, b - pos)
            out += c.compress(raw[pos:pos + n])
            pos += n
            if pos < b:
                out += c.flush(zlib.Z_SYNC_FLUSH)
                points.append((len(out), pos))
        out += c.flush(zlib.Z_FINISH)
    return bytes(out), points


def raw_deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build(raw, span, members, forge):
    trees, links, files = tree_objects(raw)
    gz, pts = compress(raw, span, members)
    # no restart point past the last file's data: it would serve nothing
    data_end = max((o + n for o, n in files.values()), default=0)
    pts = [(i, o) for i, o in pts if o <= data_end]
    if forge == "offset":
        big = max(files, key=lambda k: files[k][1])
        off, size = files[big]
        files[big] = (off - 1, size)
    if forge == "tree":
        oid, content = trees[-1]
        b = bytearray(content)
        b[-1] ^= 1
        trees[-1] = (oid, bytes(b))
    head = bytearray()
    for oid, content in trees:
        head += oid + struct.pack("<I", len(content)) + content
    for oid in sorted(links):
        head += struct.pack("<I", len(links[oid])) + links[oid]
    for oid in sorted(files):
        off, size = files[oid]
        head += oid + struct.pack("<QQ", off, size)
    windows = []
    for _, o in pts:
        w = raw[max(0, o - WINDOW):o]
        if forge == "window":
            w = bytes((x * 7 + 1) & 0xff for x in range(len(w)))
        windows.append(raw_deflate(w))
    head_len = FIXED + len(head) + 32 * len(pts)
    woff = head_len
    for (i, o), w in zip(pts, windows):
        head += struct.pack("<QQQIB3x", i, o, woff, len(w), 0)
        woff += len(w)
    root = trees[0][0]
    fixed = bytearray(MAGIC + struct.pack("<IIQQ", 1, 0, head_len, woff))
    fixed += root + hashlib.sha256(gz).digest()
    fixed += struct.pack("<QQIIIIII", len(gz), len(raw), span, len(trees), len(links),
                         len(files), len(pts), 1)
    crc = zlib.crc32(bytes(fixed))
    if forge == "crc":
        crc ^= 1
    fixed += struct.pack("<I", crc)
    assert len(fixed) == FIXED
    idx = bytes(fixed) + bytes(head) + b"".join(windows)
    if forge == "head":
        idx = idx[:head_len - 1]
    return gz, idx, trees[0][0]


def pack(srcdir):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(srcdir):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                arc = os.path.relpath(path, srcdir)
                tf.add(path, arcname=arc, recursive=False)
    return bio.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verb", choices=["make", "index"])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--span", type=int, default=65536)
    ap.add_argument("--members", type=int, default=1)
    ap.add_argument("--forge", choices=["tree", "offset", "window", "head", "crc"])
    a = ap.parse_args()
    if a.verb == "make":
        raw = pack(a.src)
        with open(a.out + ".tar", "wb") as f:
            f.write(raw)
    else:
        with open(a.src, "rb") as f:
            raw = f.read()
    gz, idx, tree = build(raw, a.span, a.members, a.forge)
    with open(a.out + ".tar.gz", "wb") as f:
        f.write(gz)
    with open(a.out + ".seekidx", "wb") as f:
        f.write(idx)
    print(tree.hex())


if __name__ == "__main__":
    sys.exit(main())
