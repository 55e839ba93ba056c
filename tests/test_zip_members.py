"""Members written from memory, deflated when that makes them smaller, and read back directly (issue 13)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from stable_baselines_io.format import zip_members
from stable_baselines_io.format.zip_members import read_member, write_member

DATE_TIME = (2020, 1, 1, 0, 0, 0)
TEXT = b'{"gamma": 0.99, "learning_rate": 0.0003, "n_steps": 2048}\n' * 40


def archive_of(*members: tuple[str, bytes, bool]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload, compress in members:
            write_member(archive, name, payload, DATE_TIME, compress)
    return buffer.getvalue()


def test_members_round_trip_through_zipfile_with_sizes_in_the_local_headers():
    raw = archive_of(("text", TEXT, True), ("kept", TEXT, False), ("empty", b"", True))
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert infos["text"].compress_type == zipfile.ZIP_DEFLATED
        assert infos["text"].compress_size < len(TEXT) // 4
        assert infos["kept"].compress_type == zipfile.ZIP_STORED
        assert infos["empty"].compress_type == zipfile.ZIP_STORED
        assert archive.testzip() is None
        assert archive.read("text") == archive.read("kept") == TEXT
        assert {info.date_time for info in infos.values()} == {DATE_TIME}
        assert not any(info.flag_bits & 0x8 for info in infos.values())  # no data descriptors
        for name, info in infos.items():
            assert read_member(io.BytesIO(raw), info, None) == archive.read(name)


def test_a_member_deflate_does_not_shrink_is_stored():
    incompressible = zlib.compress(TEXT, 9)
    raw = archive_of(("packed", incompressible, True))
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert archive.getinfo("packed").compress_type == zipfile.ZIP_STORED
        assert archive.read("packed") == incompressible


def test_the_same_member_through_writestr_where_zipfile_lacks_the_internals(monkeypatch):
    direct = archive_of(("text", TEXT, True))
    monkeypatch.setattr(zip_members, "_ZIPFILE_WRITER_ATTRIBUTES", frozenset({"_an_attribute_no_zipfile_has"}))
    monkeypatch.setattr(zip_members, "deflate_function", lambda: zip_members.zlib_deflate)
    through_writestr = archive_of(("text", TEXT, True))
    with zipfile.ZipFile(io.BytesIO(through_writestr)) as archive:
        assert archive.getinfo("text").compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("text") == TEXT
    with zipfile.ZipFile(io.BytesIO(direct)) as archive:
        assert archive.read("text") == TEXT


def test_a_non_seekable_stream_gets_the_same_bytes():
    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.received = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:  # type: ignore[override]
            self.received += data
            return len(data)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[arg-type]
        write_member(archive, "text", TEXT, DATE_TIME, compress=True)
    assert bytes(sink.received) == archive_of(("text", TEXT, True))


def patched_size(raw: bytes, name: str, size: int) -> bytes:
    """Declare ``size`` uncompressed bytes for ``name`` in its local and central headers."""
    patched = bytearray(raw)
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        position = patched.find(signature)
        while position >= 0:
            if patched[position + name_at:position + name_at + len(name)] == name.encode():
                struct.pack_into("<L", patched, position + size_at, size)
            position = patched.find(signature, position + 4)
    return bytes(patched)


def info_of(raw: bytes, name: str) -> zipfile.ZipInfo:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return archive.getinfo(name)


def test_a_member_that_inflates_beyond_its_declared_size_is_refused():
    bomb = bytes(8 * 2**20)  # 8 MiB of zeros: ~8 KiB deflated
    raw = patched_size(archive_of(("w.npy", bomb, True)), "w.npy", 4096)
    with pytest.raises(zipfile.BadZipFile, match="inflates to more than its declared 4096 bytes"):
        read_member(io.BytesIO(raw), info_of(raw, "w.npy"), None)


def test_a_member_that_inflates_to_less_than_declared_is_refused():
    raw = patched_size(archive_of(("text", TEXT, True)), "text", len(TEXT) + 10)
    with pytest.raises(zipfile.BadZipFile, match=f"holds {len(TEXT)} bytes, not the {len(TEXT) + 10} it declares"):
        read_member(io.BytesIO(raw), info_of(raw, "text"), None)


def test_damaged_members_are_refused():
    raw = archive_of(("text", TEXT, True))
    info = info_of(raw, "text")
    data_start = info.header_offset + 30 + len("text")
    with pytest.raises(zipfile.BadZipFile, match="truncated: 10 of its"):
        read_member(io.BytesIO(raw[:data_start + 10]), info, None)
    damaged = bytearray(raw)
    damaged[data_start:data_start + 2] = b"\xff\xff"  # block type 3: reserved
    with pytest.raises(zipfile.BadZipFile, match="bad deflate stream"):
        read_member(io.BytesIO(bytes(damaged)), info, None)
    info.CRC ^= 1
    with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32 for file 'text'"):
        read_member(io.BytesIO(raw), info, None)
    renamed = raw.replace(b"text", b"txet", 1)  # the local header's name only
    with pytest.raises(zipfile.BadZipFile, match="File name in directory 'text' and header b'txet' differ"):
        read_member(io.BytesIO(renamed), info_of(raw, "text"), None)
    info = info_of(raw, "text")
    info.compress_type = zipfile.ZIP_BZIP2
    with pytest.raises(ValueError, match="compression method 12 is not read directly"):
        read_member(io.BytesIO(raw), info, None)
