"""ValidateFile: tells an image from anything else by its first bytes (its magic number)."""
import os

from common_paths import resolve

# (format, media type, magic test); the tests read at most the first 12 bytes.
SIGNATURES = [
    ("png", "image/png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("jpeg", "image/jpeg", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("gif", "image/gif", lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
    ("webp", "image/webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("bmp", "image/bmp", lambda b: b[:2] == b"BM"),
]


class UnsupportedFileType(Exception):
    """Raised for a file that is not an image this pipeline reads (the Task fails with this error name)."""


def handler(event, context):
    path = resolve(event["file"])
    with open(path, "rb") as f:  # a missing file fails the Task with FileNotFoundError
        head = f.read(12)
    for fmt, media_type, matches in SIGNATURES:
        if matches(head):
            return {"file": event["file"], "path": path, "format": fmt, "mediaType": media_type,
                    "bytes": os.path.getsize(path)}
    raise UnsupportedFileType(f"{event['file']} is not a PNG, JPEG, GIF, WebP or BMP image (first bytes {head[:4].hex()})")
