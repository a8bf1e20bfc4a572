"""Lists the code points where Unicode normalization by the Python `tokenizers` library differs
from utf8proc's (NFC, NFD, NFKC, NFKD), as the ranges core/tokenizer/unicode.cpp keeps in
kUnknownToReferenceNormalization. A maintenance tool, not a test: it takes a few minutes.

    $RIBBON_VENV/bin/python tests/python/tokenizer/find_normalization_differences.py

Each code point is probed alone, between a letter and a combining acute, after them, and
before a combining tilde overlay, so that differences in combining class, (de)composition and
composition all show. Components of newer compositions must be added by hand (U+11935).
"""

import ctypes
import ctypes.util

from tokenizers import normalizers

UTF8PROC_STABLE, UTF8PROC_COMPAT, UTF8PROC_COMPOSE, UTF8PROC_DECOMPOSE = 2, 4, 8, 16
FORMS = {
    "NFC": (normalizers.NFC(), UTF8PROC_STABLE | UTF8PROC_COMPOSE),
    "NFD": (normalizers.NFD(), UTF8PROC_STABLE | UTF8PROC_DECOMPOSE),
    "NFKC": (normalizers.NFKC(), UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT),
    "NFKD": (normalizers.NFKD(), UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT),
}


def utf8proc_normalizer():
    lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
    lib.utf8proc_map.argtypes = [ctypes.c_char_p, ctypes.c_ssize_t,
                                 ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
    lib.utf8proc_map.restype = ctypes.c_ssize_t
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.free.argtypes = [ctypes.c_void_p]

    def normalize(text, options):
        data = text.encode()
        out = ctypes.c_void_p()
        length = lib.utf8proc_map(data, len(data), ctypes.byref(out), options)
        result = ctypes.string_at(out, length).decode()
        libc.free(out)
        return result

    return normalize


def main():
    utf8proc = utf8proc_normalizer()
    differing = []
    for cp in range(0xA0, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        probes = [ch, "a" + ch + "\u0301", "a\u0301" + ch, ch + "\u0334"]
        if any(reference.normalize_str(p) != utf8proc(p, options)
               for p in probes for reference, options in FORMS.values()):
            differing.append(cp)
    ranges = []
    for cp in differing:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    print(", ".join(f"{{0x{a:X}, 0x{b:X}}}" for a, b in ranges))


if __name__ == "__main__":
    main()
