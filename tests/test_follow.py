"""The one reader of growing files: framings that cut bytes into records wherever a chunk ends, and a followed
file through appends, truncation, replacement, deletion, damage and a bound on each read."""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import pytest

from mmtui.sources.follow import Damage, FollowedFile, Lines, TFRecords, progress


def crc(data: bytes) -> int:
    """A stand-in checksum for the framing's tests (the source passes tensorboard's masked CRC-32C)."""
    return zlib.crc32(data)


def tf_record(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", crc(header)) + data + struct.pack("<I", crc(data))


def fed(framing, data: bytes, chunk: int) -> list:
    return [item for start in range(0, len(data), chunk) for item in framing.feed(data[start:start + chunk])]


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_lines_are_the_same_records_wherever_the_chunks_end(chunk):
    data = (b'{"a": 1}\n\n{"b": 2}\r\n{"c": ' + b"3" * 50 + b"}\n" + b"x" * 300 + b"\n{\"d\": 4}\n"
            + b'{"half"')
    records = fed(Lines(max_bytes=100), data, chunk)
    assert records == [b'{"a": 1}', b'{"b": 2}\r', b'{"c": ' + b"3" * 50 + b"}",
                       Damage("a line over 100 bytes"), b'{"d": 4}']
    framing = Lines(max_bytes=100)
    fed(framing, data, chunk)
    assert framing.pending == len(b'{"half"')  # the writer is amid it: held for the next chunk


@pytest.mark.parametrize("chunk", [1, 5, 16, 4096])
def test_tf_records_are_cut_wherever_the_chunks_end_and_a_bad_one_ends_the_file(chunk):
    good = [b"first", b"", b"x" * 300]
    data = b"".join(map(tf_record, good))
    bad = bytearray(tf_record(b"fourth"))
    bad[-1] ^= 0xFF
    records = fed(TFRecords(1 << 20, crc), data + bytes(bad) + tf_record(b"never read"), chunk)
    assert records[:3] == good
    assert records[3] == Damage("has a bad data checksum", fatal=True, at=len(data)) and len(records) == 4


def test_a_tf_record_claiming_more_than_the_bound_is_damage_not_awaited():
    header = struct.pack("<Q", 2 ** 34)
    framing = TFRecords(1 << 20, crc)
    assert framing.feed(tf_record(b"ok") + header + struct.pack("<I", crc(header))) == [
        b"ok", Damage("claims 17,179,869,184 bytes", fatal=True, at=len(tf_record(b"ok")))]
    assert framing.feed(tf_record(b"after")) == []


def lines_file(path: Path, follow: bool = True) -> FollowedFile:
    return FollowedFile(path, Lines(max_bytes=1 << 20), follow=follow)


def read_all(file: FollowedFile) -> list[bytes]:
    return file.read(chunk_bytes=1 << 16, until=time.monotonic() + 5)


def test_a_followed_file_is_awaited_then_read_as_it_grows(tmp_path):
    path = tmp_path / "run.jsonl"
    file = lines_file(path)
    assert read_all(file) == [] and not file.found and file.unread  # not there yet: awaited
    path.write_bytes(b"one\ntw")
    assert read_all(file) == [b"one"] and file.found and file.at_end and file.cut_short
    with path.open("ab") as out:
        out.write(b"o\nthree\n")
    assert read_all(file) == [b"two", b"three"] and not file.cut_short and not file.event


def test_truncation_replacement_and_deletion_are_noticed_and_said(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"a\nb\nc\n")
    file = lines_file(path)
    assert read_all(file) == [b"a", b"b", b"c"]
    path.write_bytes(b"d\n")  # truncated in place: the same file, shorter
    read_all(file)
    assert file.event == "truncated" and read_all(file) == [b"d"]
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(b"e\nf\n")
    os.replace(replacement, path)  # rotated: another file under the name
    read_all(file)
    assert file.event == "replaced" and read_all(file) == [b"e", b"f"]
    path.unlink()
    read_all(file)
    assert file.event == "deleted" and not file.unread  # what was read stays; nothing more is awaited
    path.write_bytes(b"g\n")
    assert read_all(file) == [b"g"] and file.event == "replaced"


def test_a_file_not_followed_is_closed_once_read_and_a_read_is_bounded_by_its_deadline(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"".join(b"%d\n" % i for i in range(1000)))
    file = lines_file(path, follow=False)
    first = file.read(chunk_bytes=64, until=time.monotonic() - 1)  # out of time already: one chunk
    assert 0 < len(first) < 40 and file.loading and file.unread
    rest = read_all(file)
    assert first + rest == [b"%d" % i for i in range(1000)] and not file.loading and not file.unread
    with path.open("ab") as out:
        out.write(b"appended\n")
    assert read_all(file) == []  # read for good: not followed


def test_progress_is_the_share_of_the_backlog_read_while_a_file_loads(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"x" * 99 + b"\n")
    file = lines_file(path, follow=False)
    file.read(chunk_bytes=25, until=time.monotonic() - 1)
    assert progress([file], from_bytes=1) == 0.25
    assert progress([file], from_bytes=1000) is None  # a small backlog draws at once: no bar
    read_all(file)
    assert progress([file], from_bytes=1) is None
