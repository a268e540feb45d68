"""TFRecord files written and read as frames, without TensorFlow.

A TFRecord file is a sequence of frames: `uint64 length`, `uint32 masked crc32c(length)`,
the record, `uint32 masked crc32c(record)` (little-endian). Writing the frames here (CRCs
from `google-crc32c`) lets create_pretraining_data's worker processes start without
importing TensorFlow, and reading whole frames lets its shuffle move records between
files without decoding or re-checksumming them. The bytes equal `tf.io.TFRecordWriter`'s.

Example:

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "x.tfrecord")
>>> with open(path, "wb") as handle:
...     _ = handle.write(frame(b"hello") + frame(b""))
>>> [record_of(f) for f in read_frames(path)]
[b'hello', b'']
"""

import struct
from typing import Iterator

import google_crc32c

from albert_tf.errors import AlbertTfError

_HEADER = struct.Struct("<Q")
_CRC = struct.Struct("<I")
HEADER_BYTES = _HEADER.size + _CRC.size  # length and its CRC
FOOTER_BYTES = _CRC.size


class FrameError(AlbertTfError, ValueError):
    """A file that is not a sequence of whole TFRecord frames."""


def masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record: bytes) -> bytes:
    """The TFRecord frame of one record."""
    length = _HEADER.pack(len(record))
    return b"".join((length, _CRC.pack(masked_crc(length)), record,
                     _CRC.pack(masked_crc(record))))


def record_of(framed: bytes) -> bytes:
    """The record inside a frame."""
    return framed[HEADER_BYTES:len(framed) - FOOTER_BYTES]


def read_frames(path: str) -> Iterator[bytes]:
    """Yields every whole frame of a TFRecord file (the length's CRC is checked, so a file
    that is not TFRecords fails at once instead of yielding garbage)."""
    with open(path, "rb") as handle:
        while True:
            header = handle.read(HEADER_BYTES)
            if not header:
                return
            if len(header) < HEADER_BYTES:
                raise FrameError(f"{path}: truncated frame header at byte {handle.tell()}")
            length_bytes = header[:_HEADER.size]
            if _CRC.unpack(header[_HEADER.size:])[0] != masked_crc(length_bytes):
                raise FrameError(f"{path}: bad length checksum at byte "
                                 f"{handle.tell() - HEADER_BYTES}")
            (length,) = _HEADER.unpack(length_bytes)
            body = handle.read(length + FOOTER_BYTES)
            if len(body) < length + FOOTER_BYTES:
                raise FrameError(f"{path}: truncated record at byte {handle.tell()}")
            yield header + body
