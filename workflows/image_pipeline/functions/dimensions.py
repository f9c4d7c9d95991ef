"""ReadDimensions: an image's width and height, read from its header (no image library)."""
import struct


class CorruptImage(Exception):
    """Raised when the header is cut short or does not hold the dimensions where the format puts them."""


def png(f):
    head = f.read(24)  # signature, IHDR length and type, then width and height (big-endian)
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise CorruptImage("PNG without an IHDR chunk first")
    return struct.unpack(">II", head[16:24])


def gif(f):
    head = f.read(10)  # logical screen width and height, little-endian, after the 6-byte signature
    if len(head) < 10:
        raise CorruptImage("GIF header cut short")
    return struct.unpack("<HH", head[6:10])


def bmp(f):
    head = f.read(26)  # BITMAPINFOHEADER width and height (a negative height is a top-down bitmap)
    if len(head) < 26:
        raise CorruptImage("BMP header cut short")
    width, height = struct.unpack("<ii", head[18:26])
    return width, abs(height)


def webp(f):
    head = f.read(30)
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8L":  # lossless: 14-bit width-1 and height-1 after the 0x2f signature byte
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":  # lossy: 14-bit width and height after the key frame start code
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    raise CorruptImage("WebP without a VP8, VP8L or VP8X chunk first")


# JPEG start-of-frame markers (the frame header holds the dimensions); C4, C8 and CC are other segments.
SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg(f):
    f.read(2)  # SOI
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise CorruptImage("JPEG without a start-of-frame segment")
        while marker[1] == 0xFF:  # fill bytes
            marker = marker[1:] + f.read(1)
        if marker[1] in SOF_MARKERS:
            segment = f.read(7)  # length (2), precision (1), height (2), width (2)
            height, width = struct.unpack(">HH", segment[3:7])
            return width, height
        length = struct.unpack(">H", f.read(2))[0]
        f.seek(length - 2, 1)


READERS = {"png": png, "gif": gif, "bmp": bmp, "webp": webp, "jpeg": jpeg}


def handler(event, context):
    with open(event["path"], "rb") as f:
        width, height = READERS[event["format"]](f)
    return {"width": width, "height": height, "pixels": width * height}
