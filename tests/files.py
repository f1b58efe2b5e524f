"""Real files of each allowed attachment type, made here rather than stored."""

from __future__ import annotations

import struct
import zlib


def png_file(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG image of grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_file() -> bytes:
    """A valid baseline JPEG: one 8x8 grey block."""
    quant = bytes([1] * 64)
    huffman_dc = bytes([0, 1] + [0] * 14) + bytes([0])
    huffman_ac = bytes([0, 1] + [0] * 14) + bytes([0])
    segments = [
        b"\xff\xd8",
        b"\xff\xe0"
        + struct.pack(">H", 16)
        + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + quant,
        b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00",
        b"\xff\xc4" + struct.pack(">H", 3 + len(huffman_dc)) + b"\x00" + huffman_dc,
        b"\xff\xc4" + struct.pack(">H", 3 + len(huffman_ac)) + b"\x10" + huffman_ac,
        b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00",
        b"\x00",
        b"\xff\xd9",
    ]
    return b"".join(segments)


def pdf_file(text: str = "Factura 0001") -> bytes:
    """A valid one-page PDF with a line of text, its cross-reference table exact."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    output = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    output += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    output += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    output += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(output)


def text_file() -> bytes:
    return "Hola,\nadjunto los datos de facturación.\n".encode()


FILES = {
    "pdf": pdf_file(),
    "jpg": jpeg_file(),
    "jpeg": jpeg_file(),
    "png": png_file(),
    "txt": text_file(),
}
