#!/usr/bin/env python3
"""Extract a small real photo dataset into www/sample/, stdlib only.

Source: the photos of GCompris' "categorization" activity, as shipped in the
Debian package ``gcompris-qt-data`` 3.1-2 (sha256 of the .deb checked below).
Output: ``www/sample/<class>/<file>.webp`` (140 photos, folder = label),
``<class>/ATTRIBUTION.md``, ``index.json`` and ``README.md``. The folder is
deleted and rewritten on every run, so reruns give identical files.

The photos live in ``usr/share/gcompris-qt/rcc/categorization.rcc``, a binary
Qt resource bundle (what ``rcc -binary`` writes). All integers are big-endian:

  header   ``qres``, u32 format version (1..3), u32 tree offset,
           u32 data offset, u32 names offset; version >= 3 adds a u32 of
           overall flags (the OR of all file flags, so a reader can refuse
           compression it does not know before reading anything else).
  tree     a flat array of nodes; node 0 is the root directory. A node is
           u32 name offset, u16 flags (1 = zlib, 2 = directory, 4 = zstd), then
             directory: u32 child count, u32 index of its first child
                        (children are contiguous, ordered by name hash);
             file:      u16 country, u16 language, u32 data offset;
           and, in version >= 2, a u64 modification time (ms since 1970).
           So nodes are 14 bytes in version 1 and 22 bytes after.
  names    at names offset + name offset: u16 length in UTF-16 units,
           u32 qt_hash of the name, then the name in UTF-16BE.
  data     at data offset + file's data offset: u32 size, then size bytes.
           For zlib entries those bytes are a u32 uncompressed size followed
           by a zlib stream (what qCompress writes). zstd entries cannot be
           read with the stdlib; this bundle has none (the script checks).

Usage: python3 scripts/extract_sample_dataset.py [--deb PATH] [--out DIR]
"""

import argparse
import collections
import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from urllib.parse import urlsplit

PACKAGE, VERSION = "gcompris-qt-data", "3.1-2"
DEB_SHA256 = "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f"
RCC_PATH = "usr/share/gcompris-qt/rcc/categorization.rcc"
IMAGES = "gcompris/src/activities/categorization/resource/images"
# Photo classes and how many photos each keeps. alphabets/ and numbers/ (SVG
# drawings of glyphs) are not photo classes and are skipped.
CLASSES = {"fishes": 28, "monuments": 27, "others": 17, "renewable": 28, "tools": 39}
FREE_LICENCES = {"Public Domain", "CC0-1.0"}
# Photos left out, with the licence their README must give and the reason.
EXCLUDED = {"renewable/windmill6.webp": ("GPLv2+", "GPLv2+ licensed, unlike the "
            "public-domain/CC0 rest; left out to keep the sample free of copyleft terms")}
# Misspelt file names in the upstream READMEs: (class, name in README) -> real file.
README_TYPOS = {("tools", "screDriver.webp"): "screwDriver.webp"}


class LayoutError(Exception):
    """The bundle is not laid out as the module docstring describes."""


def qt_hash(name):
    """Qt's qt_hash() over UTF-16 code units, as stored with each name."""
    h = 0
    raw = name.encode("utf-16-be")
    for u in struct.unpack(">%dH" % (len(raw) // 2), raw):
        h = (h << 4) + u
        h ^= (h & 0xF0000000) >> 23
        h &= 0x0FFFFFFF
    return h


def read_rcc(buf):
    """Return {path: bytes} for every file in a binary .rcc bundle."""
    if buf[:4] != b"qres":
        raise LayoutError("no 'qres' magic")
    version, tree, data, names = struct.unpack_from(">4I", buf, 4)
    if version not in (1, 2, 3):
        raise LayoutError("unknown rcc format version %d" % version)
    if version >= 3 and struct.unpack_from(">I", buf, 20)[0] & 4:
        raise LayoutError("bundle uses zstd compression, which the stdlib cannot decode")
    node_size = 14 if version == 1 else 22

    def name_at(offset):
        length, stored_hash = struct.unpack_from(">HI", buf, names + offset)
        start = names + offset + 6
        name = buf[start:start + 2 * length].decode("utf-16-be")
        if qt_hash(name) != stored_hash:
            raise LayoutError("name hash mismatch for %.40r" % name)
        return name

    files = {}

    def walk(index, prefix, depth):
        pos = tree + node_size * index
        if depth > 32 or pos + node_size > len(buf):
            raise LayoutError("tree node %d out of range" % index)
        name_off, flags = struct.unpack_from(">IH", buf, pos)
        if index == 0 and not flags & 2:
            raise LayoutError("root node is not a directory")
        path = prefix + "/" + name_at(name_off) if index else ""
        if flags & 2:
            count, first = struct.unpack_from(">II", buf, pos + 6)
            for child in range(first, first + count):
                walk(child, path, depth + 1)
            return
        if flags & ~1:
            raise LayoutError("%s: unsupported flags %#x" % (path, flags))
        data_off = struct.unpack_from(">I", buf, pos + 10)[0]
        size = struct.unpack_from(">I", buf, data + data_off)[0]
        blob = buf[data + data_off + 4:data + data_off + 4 + size]
        if len(blob) != size:
            raise LayoutError("%s: data runs past end of file" % path)
        if flags & 1:
            expected = struct.unpack_from(">I", blob)[0]
            blob = zlib.decompress(blob[4:])
            if len(blob) != expected:
                raise LayoutError("%s: inflates to %d bytes, not %d" % (path, len(blob), expected))
        files[path.lstrip("/")] = blob

    try:
        walk(0, "", 0)
    except (struct.error, UnicodeDecodeError, zlib.error) as e:
        raise LayoutError("%s: %s" % (type(e).__name__, e)) from e
    return files


def parse_readme(text, cls):
    """Parse a GCompris image README (DEP-5-like blocks of 'Key: value' lines
    ending with 'Files:' and one file name per line) into {file: fields}."""
    entries = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        fields, files, in_files = {}, [], False
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if in_files:
                files.append(line.strip())
            elif sep and key in ("Copyright", "Source", "License"):
                fields[key] = value.strip()
            elif line.strip() == "Files:":
                in_files = True
            else:
                raise LayoutError("%s/README: unexpected line %r" % (cls, line))
        for name in files:
            entries[README_TYPOS.get((cls, name), name)] = fields
    return entries


def webp_size(blob):
    """(width, height) from a WebP file's first chunk (VP8, VP8L or VP8X)."""
    if blob[:4] != b"RIFF" or blob[8:12] != b"WEBP":
        raise LayoutError("not a RIFF....WEBP file")
    kind = blob[12:16]
    if kind == b"VP8 ":
        w, h = struct.unpack_from("<HH", blob, 26)
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        bits = struct.unpack_from("<I", blob, 21)[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        return (int.from_bytes(blob[24:27], "little") + 1,
                int.from_bytes(blob[27:30], "little") + 1)
    raise LayoutError("unknown WebP chunk %r" % kind)


def fetch_deb(workdir):
    """apt-get download the pinned version into workdir and return its path."""
    try:
        subprocess.run(["apt-get", "download", "%s=%s" % (PACKAGE, VERSION)],
                       cwd=workdir, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("apt-get download failed (%s); try 'apt-get update' or pass --deb" % e)
    return next(Path(workdir).glob("%s_*.deb" % PACKAGE))


README_TEMPLATE = """# Sample photo dataset

{total} real colour photos (WebP, longest side 320 px) in {nclasses} classes; the folder is the label. `index.json` lists every file with its label, so a page needs no directory listing.

**Source.** The photos of the *categorization* activity of [GCompris](https://gcompris.net/), as shipped in the Debian package `{package}` {version}, inside the Qt resource bundle `{rcc}` under `{images}/<class>/`. sha256 of the `.deb` used (`{package}_{version}_all.deb`): `{sha}`.

**Regenerate.** `python3 scripts/extract_sample_dataset.py` (downloads the `.deb` with `apt-get download`, checks its sha256, reads the bundle with a stdlib-only unpacker and rewrites this folder; reruns give identical files).

**Licences.** The photos come from {sites}; each is in the public domain or under CC0-1.0 (per file: {licences}). Author, licence and source of every file are in `<class>/ATTRIBUTION.md`, taken from the README beside the photos in GCompris. Left out: {excluded}. Also skipped: the `alphabets` and `numbers` folders (drawn glyphs, CC-BY-SA 4.0).

| class | photos |
|---|---|
{rows}
| total | {total} |
"""


def select(bundle):
    """Pick the kept photos and their README entries; check licences, sizes, counts."""
    photos, credits = {}, {}
    for cls in CLASSES:
        readme = bundle.get("%s/%s/README" % (IMAGES, cls))
        if readme is None:
            raise LayoutError("no README for class %s" % cls)
        credits[cls] = parse_readme(readme.decode("utf-8"), cls)
        for path, blob in bundle.items():
            if path.startswith("%s/%s/" % (IMAGES, cls)) and path.endswith(".webp"):
                photos[path[len(IMAGES) + 1:]] = blob
    for rel, (licence, _) in EXCLUDED.items():
        cls, name = rel.split("/")
        if rel not in photos or credits[cls].get(name, {}).get("License") != licence:
            raise LayoutError("%s: expected it present with licence %s" % (rel, licence))
        del photos[rel]
    for rel, blob in photos.items():
        cls, name = rel.split("/")
        entry = credits[cls].get(name)
        if not entry or entry.get("License") not in FREE_LICENCES:
            raise LayoutError("%s: no README entry with a free licence: %r" % (rel, entry))
        if max(webp_size(blob)) != 320:
            raise LayoutError("%s: size %s, expected longest side 320" % (rel, webp_size(blob)))
    counts = {c: sum(r.startswith(c + "/") for r in photos) for c in CLASSES}
    if counts != CLASSES:
        raise LayoutError("class counts %s, expected %s" % (counts, CLASSES))
    return photos, credits


def attribution(cls, credits, photos):
    """Markdown for <class>/ATTRIBUTION.md: one table row per kept file, then notes."""
    lines = ["# `%s`: attribution\n" % cls,
             "From `%s/%s/README` in GCompris' categorization activity (Debian `%s` %s)."
             % (IMAGES, cls, PACKAGE, VERSION), "One entry per file kept here.\n",
             "| file | author (Copyright) | licence | source |", "|---|---|---|---|"]
    for name in sorted(n for n in credits if "%s/%s" % (cls, n) in photos):
        e = credits[name]
        lines.append("| `%s` | %s | %s | <%s> |"
                     % (name, e["Copyright"], e["License"], e["Source"]))
    notes = ["- `%s` is not included: %s." % (r.split("/")[1], why)
             for r, (_, why) in EXCLUDED.items() if r.startswith(cls + "/")]
    notes += ["- The upstream README lists `%s` as `%s` (a typo)." % (real, typo)
              for (c, typo), real in README_TYPOS.items() if c == cls]
    return "\n".join(lines + (["", "Notes:", ""] + notes if notes else [])) + "\n"


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deb", type=Path, help="use this .deb instead of downloading it")
    ap.add_argument("--out", type=Path, default=root / "www" / "sample")
    args = ap.parse_args()
    out = args.out
    if out.exists() and any(out.iterdir()) and not (out / "index.json").exists():
        sys.exit("%s exists and was not written by this script; not replacing it" % out)

    with tempfile.TemporaryDirectory() as tmp:
        deb = args.deb or fetch_deb(tmp)
        digest = hashlib.sha256(deb.read_bytes()).hexdigest()
        if digest != DEB_SHA256:
            sys.exit("%s: sha256 %s, expected %s" % (deb, digest, DEB_SHA256))
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp + "/x"], check=True)
        photos, credits = select(read_rcc((Path(tmp) / "x" / RCC_PATH).read_bytes()))

    if out.exists():
        shutil.rmtree(out)
    for rel in sorted(photos):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(photos[rel])
    for cls in CLASSES:
        (out / cls / "ATTRIBUTION.md").write_text(attribution(cls, credits[cls], photos), "utf-8")
    index = {"classes": sorted(CLASSES),
             "files": [{"path": r, "label": r.split("/")[0]} for r in sorted(photos)]}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n", "utf-8")
    kept = [credits[r.split("/")[0]][r.split("/")[1]] for r in photos]
    licences = collections.Counter(e["License"] for e in kept)
    (out / "README.md").write_text(README_TEMPLATE.format(
        total=len(photos), nclasses=len(CLASSES), package=PACKAGE, version=VERSION,
        rcc=RCC_PATH, images=IMAGES, sha=DEB_SHA256,
        sites=", ".join(sorted({urlsplit(e["Source"]).hostname for e in kept})),
        licences=", ".join("%s %d" % kv for kv in sorted(licences.items())),
        excluded="; ".join("`%s` (%s)" % (r, lic) for r, (lic, _) in EXCLUDED.items()),
        rows="\n".join("| `%s` | %d |" % (c, CLASSES[c]) for c in sorted(CLASSES))), "utf-8")
    print("wrote %d photos to %s: %s" % (len(photos), out, CLASSES))


if __name__ == "__main__":
    try:
        main()
    except LayoutError as e:
        sys.exit("categorization.rcc is not as expected: %s" % e)
