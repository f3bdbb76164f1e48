#!/usr/bin/env python3
"""seekidx_check.py - check a seek index against its tarball, from the format
of doc/internals/seek-index.md alone (an independent reader, for tests).

usage: seekidx_check.py INDEX TARBALL TREE_HASH [--span N]

Checks every header field, the CRC, each tree object's hash, that every tree
entry resolves, that each file record's bytes in the uncompressed stream
hash to its blob id, that each point's window equals the 32 KiB of the
stream before its out, and that a raw inflate resumed at (in, bits) with
that window as dictionary yields the stream's bytes from out (through the
system's zlib with ctypes: Python's zlib has no inflatePrime).  Prints
"ok: ..." and exits 0, or the first problem and exits 1.
"""
import ctypes
import ctypes.util
import hashlib
import struct
import sys
import zlib


def fail(msg):
    print("seekidx_check: " + msg)
    sys.exit(1)


def gunzip_all(data):
    """Every gzip member's output, concatenated (what gzip -dc gives)."""
    out = []
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data))
        if not d.eof:
            fail("the tarball's gzip stream ends early")
        data = d.unused_data
    return b"".join(out)


def blob_id(b):
    return hashlib.sha1(b"blob %d\0" % len(b) + b).digest()


class ZStream(ctypes.Structure):
    """zlib's z_stream (zlib.h), for inflatePrime, which Python's zlib lacks."""
    _fields_ = [("next_in", ctypes.c_void_p), ("avail_in", ctypes.c_uint),
                ("total_in", ctypes.c_ulong), ("next_out", ctypes.c_void_p),
                ("avail_out", ctypes.c_uint), ("total_out", ctypes.c_ulong),
                ("msg", ctypes.c_char_p), ("state", ctypes.c_void_p),
                ("zalloc", ctypes.c_void_p), ("zfree", ctypes.c_void_p),
                ("opaque", ctypes.c_void_p), ("data_type", ctypes.c_int),
                ("adler", ctypes.c_ulong), ("reserved", ctypes.c_ulong)]


def resume(tar, stream, pin, pout, bits, window):
    """Resume at a point exactly as the doc says, with the system's zlib:
    raw inflate, the window as dictionary, inflatePrime(bits, byte[in-1] >>
    (8 - bits)), then the bytes from in; compare 64 KiB of output (or up to
    the end of the member) with the stream at out.  True or why not."""
    lib = ctypes.CDLL(ctypes.util.find_library("z"))
    lib.zlibVersion.restype = ctypes.c_char_p
    zs = ZStream()
    if lib.inflateInit2_(ctypes.byref(zs), -15, lib.zlibVersion(), ctypes.sizeof(ZStream)) != 0:
        return "inflateInit2 failed"
    try:
        wbuf = ctypes.create_string_buffer(window, len(window))
        if lib.inflateSetDictionary(ctypes.byref(zs), wbuf, len(window)) != 0:
            return "inflateSetDictionary failed"
        if bits and lib.inflatePrime(ctypes.byref(zs), bits, tar[pin - 1] >> (8 - bits)) != 0:
            return "inflatePrime failed"
        data = tar[pin:pin + (1 << 17)]
        inb = ctypes.create_string_buffer(data, len(data))
        want = 1 << 16
        out = ctypes.create_string_buffer(want)
        zs.next_in = ctypes.addressof(inb)
        zs.avail_in = len(data)
        zs.next_out = ctypes.addressof(out)
        zs.avail_out = want
        r = lib.inflate(ctypes.byref(zs), 2)  # Z_SYNC_FLUSH
        if r not in (0, 1):  # Z_OK, Z_STREAM_END
            return "inflate: %d %s" % (r, zs.msg)
        got = out.raw[:want - zs.avail_out]
    finally:
        lib.inflateEnd(ctypes.byref(zs))
    if not got or got != stream[pout:pout + len(got)]:
        return "different bytes"
    return True


def parse_tree(content):
    ents = []
    i = 0
    while i < len(content):
        sp = content.index(b" ", i)
        nul = content.index(b"\0", sp)
        mode = content[i:sp].decode()
        name = content[sp + 1:nul]
        oid = content[nul + 1:nul + 21]
        if len(oid) != 20:
            fail("truncated tree entry")
        ents.append((mode, name, oid))
        i = nul + 21
    return ents


def main():
    args = sys.argv[1:]
    span = None
    if "--span" in args:
        k = args.index("--span")
        span = int(args[k + 1])
        del args[k:k + 2]
    idx_path, tar_path, tree_hex = args
    idx = open(idx_path, "rb").read()
    tar = open(tar_path, "rb").read()
    stream = gunzip_all(tar)

    if len(idx) < 128:
        fail("shorter than the fixed header")
    (magic, version, flags, head_len, file_len, tree, sha, tarball_size, stream_size,
     span_f, ntrees, nlinks, nfiles, npoints, codec, crc) = struct.unpack(
        "<8sIIQQ20s32sQQIIIIIII", idx[:128])
    if magic != b"AFSSEEK\n":
        fail("bad magic %r" % magic)
    if version != 1 or flags != 0 or codec != 1:
        fail("version %d flags %d codec %d" % (version, flags, codec))
    if crc != zlib.crc32(idx[:124]):
        fail("bad header CRC")
    if file_len != len(idx) or head_len > file_len:
        fail("file_len %d head_len %d, file is %d" % (file_len, head_len, len(idx)))
    if tree.hex() != tree_hex:
        fail("tree %s, want %s" % (tree.hex(), tree_hex))
    if sha != hashlib.sha256(tar).digest():
        fail("tarball sha256 differs")
    if tarball_size != len(tar) or stream_size != len(stream):
        fail("sizes %d %d, want %d %d" % (tarball_size, stream_size, len(tar), len(stream)))
    if span is not None and span_f != span:
        fail("span %d, want %d" % (span_f, span))

    p = 128
    trees = {}
    order = []
    for _ in range(ntrees):
        oid = idx[p:p + 20]
        (n,) = struct.unpack("<I", idx[p + 20:p + 24])
        content = idx[p + 24:p + 24 + n]
        p += 24 + n
        if hashlib.sha1(b"tree %d\0" % n + content).digest() != oid:
            fail("tree object %s does not hash to its id" % oid.hex())
        if oid in trees:
            fail("tree object %s twice" % oid.hex())
        trees[oid] = parse_tree(content)
        order.append(oid)
    if not order or order[0] != tree:
        fail("the first tree object is not the root")
    links = {}
    for _ in range(nlinks):
        (n,) = struct.unpack("<I", idx[p:p + 4])
        t = idx[p + 4:p + 4 + n]
        links[blob_id(t)] = t
        p += 4 + n
    files = {}
    prev = None
    for _ in range(nfiles):
        oid, off, size = struct.unpack("<20sQQ", idx[p:p + 36])
        p += 36
        if prev is not None and oid <= prev:
            fail("file records not strictly ascending by oid")
        prev = oid
        if off + size > len(stream):
            fail("file %s outside the stream" % oid.hex())
        if blob_id(stream[off:off + size]) != oid:
            fail("file %s: the bytes at %d do not hash to it" % (oid.hex(), off))
        files[oid] = (off, size)
    points = []
    for _ in range(npoints):
        pin, pout, woff, wlen, bits = struct.unpack("<QQQIB", idx[p:p + 29])
        if idx[p + 29:p + 32] != b"\0\0\0":
            fail("point padding not zero")
        p += 32
        points.append((pin, pout, woff, wlen, bits))
    if p != head_len:
        fail("the sections end at %d, head_len is %d" % (p, head_len))

    # every entry resolves, every record is named
    named_files, named_links = set(), set()
    for oid, ents in trees.items():
        for mode, name, e in ents:
            if mode == "40000":
                if e not in trees:
                    fail("tree entry %r: no tree object %s" % (name, e.hex()))
            elif mode in ("100644", "100755"):
                if e not in files:
                    fail("file entry %r: no file record %s" % (name, e.hex()))
                named_files.add(e)
            elif mode == "120000":
                if e not in links:
                    fail("symlink %r: no target of blob %s" % (name, e.hex()))
                named_links.add(e)
            else:
                fail("mode %s" % mode)
    if set(files) != named_files or set(links) != named_links:
        fail("records that no tree entry names")

    # restart points
    wpos = head_len
    last_in, last_out = 0, 0
    for i, (pin, pout, woff, wlen, bits) in enumerate(points):
        if pout <= last_out or pin < last_in or pout >= len(stream) or pin > len(tar):
            fail("point %d out of order or outside" % i)
        last_in, last_out = pin, pout
        if woff != wpos or wlen > 65536 or bits > 7:
            fail("point %d: window at %d+%d, expected at %d" % (i, woff, wlen, wpos))
        wpos += wlen
        window = zlib.decompress(idx[woff:woff + wlen], -15)
        if window != stream[max(0, pout - 32768):pout]:
            fail("point %d: window differs from the stream before %d" % (i, pout))
        status = resume(tar, stream, pin, pout, bits, window)
        if status is not True:
            fail("point %d: inflate resumed at in %d bits %d does not give the stream at %d"
                 " (%s)" % (i, pin, bits, pout, status))
    if wpos != len(idx):
        fail("windows area does not end at the end of the file")
    print("ok: %d trees, %d links, %d files, %d points" % (ntrees, nlinks, nfiles, npoints))


main()
