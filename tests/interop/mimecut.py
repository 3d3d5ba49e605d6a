#!/usr/bin/env python3
"""mimecut.py FILE N OUT [--crlf] [--body]: writes part N (1-based) of the
top-level multipart in FILE to OUT, byte for byte as RFC 2046 delimits it
(the CRLF/LF before a delimiter belongs to the delimiter).  --crlf: line ends
made CRLF (the canonical form a multipart/signed signature covers, RFC 3156
5 / RFC 8551 3.1.1); --body: only the part's body, transfer encoding kept.
Independent of postseal's MIME layer on purpose.  Exit 1 when not found."""
import re
import sys


def main():
    path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = open(path, 'rb').read().replace(b'\r\n', b'\n')
    hdr_end = data.find(b'\n\n')
    if hdr_end < 0:
        sys.exit("mimecut: no header/body separator")
    header = re.sub(rb'\n[ \t]+', b' ', data[:hdr_end + 1])
    m = re.search(rb'(?im)^content-type:.*?boundary=(?:"([^"]+)"|([^;\s]+))', header)
    if not m:
        sys.exit("mimecut: no boundary")
    b = m.group(1) or m.group(2)
    body = data[hdr_end + 2:]
    delim = re.compile(rb'(?m)^--' + re.escape(b) + rb'(--)?[ \t]*$')
    marks = list(delim.finditer(body))
    parts = []
    for i, mk in enumerate(marks):
        if mk.group(1):
            break
        if i + 1 >= len(marks):
            sys.exit("mimecut: unterminated multipart")
        start = mk.end() + 1
        end = marks[i + 1].start() - 1  # the LF before the delimiter
        parts.append(body[start:end])
    if n < 1 or n > len(parts):
        sys.exit("mimecut: no part %d" % n)
    p = parts[n - 1]
    if '--body' in sys.argv:
        e = p.find(b'\n\n')
        p = p[e + 2:] if e >= 0 else b''
    if '--crlf' in sys.argv:
        p = p.replace(b'\n', b'\r\n')
    open(out, 'wb').write(p)


main()
