"""Hypothesis strategies that turn real agent files into hostile ones.

:func:`fuzz_inputs` draws a seed file (Stable Baselines 2 fixtures, agents saved in-process, the
regression corpus) and applies a few structure-aware mutations: inside the zip (members' content,
compression methods, duplicated / dropped / renamed members, nesting), inside the nested ``.npz``,
on ``.npy`` headers, on JSON (deep nesting, wrong types, huge numbers), on pickles opcode by opcode
(the legacy format and the ``:serialized:`` values of the data), and on raw header fields (sizes,
offsets, counts, flags). Byte flips and truncations keep some inputs unstructured.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import pickletools
import struct
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

Draw = Callable[[st.SearchStrategy[Any]], Any]
#: Archives expanding to more than this are mutated as raw bytes (generation stays fast).
MAX_MEMBER_BYTES = 2 * 2**20
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
INTERESTING_INTS = (0, 1, 2, 7, 8, 127, 128, 255, 256, 0x7FFF, 0xFFFF, 0x10000, 2**31 - 1, 2**31, 2**32 - 1,
                    2**32, 2**63 - 1, -1, -2**31, 10**9, 10**18)
DESCRS = ("<f4", "<f8", ">f8", "|b1", "<i8", "|u1", "<c16", "|O", "|V16", "<U5", "|S0", "<M8[s]", "<f2",
          "[('a', '<f4'), ('b', '|O')]", "[('a', '<f4', (1000000, 1000000))]", "('<f4', (3,))", "'<f4'", "{}")


def _ints() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(INTERESTING_INTS), st.integers(-2**64, 2**64))


# --- zip ----------------------------------------------------------------------------------------


def read_members(data: bytes) -> list[tuple[str, bytes, int]] | None:
    """The members of a zip archive (name, content, method), or None when it does not parse."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > 5000 or sum(info.file_size for info in infos) > MAX_MEMBER_BYTES:
                return None  # (the bombs among the seeds: mutated as raw bytes, not expanded here)
            return [(info.filename, archive.read(info), info.compress_type) for info in archive.infolist()]
    except Exception:  # noqa: BLE001 - anything unparsable is mutated as raw bytes instead
        return None


def write_members(members: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": on purpose
        for name, content, method in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(info, content)
    return buffer.getvalue()


def mutate_archive(draw: Draw, data: bytes, depth: int = 0) -> bytes:
    """Mutate one member of a zip (recursing into nested archives), or the member list itself."""
    members = read_members(data)
    if not members:
        return mutate_bytes(draw, data)
    action = draw(st.sampled_from(("content", "content", "content", "method", "duplicate", "drop", "rename",
                                   "nest", "reorder")))
    index = draw(st.integers(0, len(members) - 1))
    name, content, method = members[index]
    if action == "content":
        members[index] = (name, mutate_content(draw, name, content, depth), method)
    elif action == "method":
        members[index] = (name, content, draw(st.sampled_from(METHODS)))
    elif action == "duplicate":
        members.insert(draw(st.integers(0, len(members))), (name, mutate_content(draw, name, content, depth), method))
    elif action == "drop":
        del members[index]
    elif action == "rename":
        new_name = draw(st.sampled_from(("data", "parameters", "parameter_list", "metadata", "training_state",
                                         "training_arrays", "replay_buffer", "../" + name, name + "\x00",
                                         name.upper(), "", "a" * 300, name + ".npy")))
        members[index] = (new_name, content, method)
    elif action == "nest":  # compress a member inside itself: ratios that multiply
        members[index] = (name, write_members([(name, content, zipfile.ZIP_DEFLATED)]), zipfile.ZIP_DEFLATED)
    else:
        members = draw(st.permutations(members))
    try:
        return write_members(members)
    except Exception:  # noqa: BLE001 - e.g. a name zipfile refuses: keep the input as it was
        return data


def mutate_content(draw: Draw, name: str, content: bytes, depth: int) -> bytes:
    if content[:2] == b"PK" and depth < 3:
        return mutate_archive(draw, content, depth + 1)
    if content[:6] == b"\x93NUMPY":
        return mutate_npy(draw, content)
    if content[:1] == b"\x80":
        return mutate_pickle(draw, content)
    if content[:1] in (b"{", b"["):
        return mutate_json(draw, content)
    return mutate_bytes(draw, content)


def patch_headers(draw: Draw, data: bytes) -> bytes:
    """Set a field of a local header, central directory entry or end record to an odd value."""
    fields = {b"PK\x03\x04": [(6, "<H"), (8, "<H"), (14, "<L"), (18, "<L"), (22, "<L"), (26, "<H"), (28, "<H")],
              b"PK\x01\x02": [(8, "<H"), (10, "<H"), (20, "<L"), (24, "<L"), (28, "<H"), (30, "<H"), (34, "<H"),
                              (42, "<L")],
              b"PK\x05\x06": [(8, "<H"), (10, "<H"), (12, "<L"), (16, "<L"), (20, "<H")]}
    signature = draw(st.sampled_from(sorted(fields)))
    positions = []
    position = data.find(signature)
    while position >= 0 and len(positions) < 200:
        positions.append(position)
        position = data.find(signature, position + 4)
    if not positions:
        return mutate_bytes(draw, data)
    position = draw(st.sampled_from(positions))
    offset, fmt = draw(st.sampled_from(fields[signature]))
    if position + offset + struct.calcsize(fmt) > len(data):
        return data
    value = draw(_ints()) % (2 ** (8 * struct.calcsize(fmt)))
    patched = bytearray(data)
    struct.pack_into(fmt, patched, position + offset, value)
    return bytes(patched)


# --- .npy, JSON, pickle ------------------------------------------------------------------------


def mutate_npy(draw: Draw, content: bytes) -> bytes:
    """A new header (dtype, order, shape, version, declared length) over the old data, or the data cut."""
    shape = draw(st.one_of(st.lists(_ints(), max_size=4).map(tuple), st.just(()),
                           st.sampled_from(["(1,", "()", "[2, 3]", "(2**64,)", "None"])))
    header = "{" + f"'descr': {draw(st.sampled_from(DESCRS))!r}, 'fortran_order': " \
        f"{draw(st.sampled_from(['False', 'True', '0', 'None']))}, 'shape': {shape}, " + "}"
    if isinstance(shape, str) or draw(st.booleans()):
        header = header.replace(f"{shape!r}", str(shape))
    header_bytes = draw(st.one_of(st.just(header.encode().ljust(117) + b"\n"),
                                  st.binary(max_size=200)))
    version = draw(st.sampled_from((1, 1, 2, 3, 0, 9)))
    length_format = "<H" if version == 1 else "<I"
    declared = len(header_bytes) if draw(st.booleans()) else draw(_ints()) % (2 ** (8 * struct.calcsize(length_format)))
    start = content.find(b"\n", 10) + 1 if b"\n" in content[10:] else 10
    body = content[start:]
    if draw(st.booleans()):
        body = body[:draw(st.integers(0, len(body)))]
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack(length_format, declared) + header_bytes + body


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), _ints(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children,
                                                                                max_size=4)),
    max_leaves=20,
)


def mutate_json(draw: Draw, content: bytes) -> bytes:
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return mutate_bytes(draw, content)
    action = draw(st.sampled_from(("replace", "replace", "deep", "pickle", "text")))
    if action == "deep":
        depth = draw(st.sampled_from((100, 990, 5000, 100_000)))
        opener, closer = draw(st.sampled_from((("[", "]"), ('{"a": ', "}"))))
        nested = opener * depth + "1" + closer * depth
        if isinstance(value, dict) and value:
            key = draw(st.sampled_from(sorted(value)))
            return json.dumps({**value, key: None}).replace(f"{json.dumps(key)}: null", f"{json.dumps(key)}: {nested}",
                                                            1).encode()
        return nested.encode()
    if action == "text":
        return mutate_bytes(draw, content)
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        if action == "pickle" and isinstance(value[key], dict) and isinstance(value[key].get(":serialized:"), str):
            try:
                payload = base64.b64decode(value[key][":serialized:"])
                value[key][":serialized:"] = base64.b64encode(mutate_pickle(draw, payload)).decode()
            except ValueError:
                pass
        else:
            value[key] = _replace_somewhere(draw, value[key])
    elif isinstance(value, list) and value:
        index = draw(st.integers(0, len(value) - 1))
        value[index] = _replace_somewhere(draw, value[index])
    else:
        value = draw(json_values)
    try:
        return json.dumps(value).encode()
    except (ValueError, RecursionError):
        return content


def _replace_somewhere(draw: Draw, value: Any) -> Any:
    """Replace ``value`` or one value inside it with a drawn JSON value."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: _replace_somewhere(draw, value[key])}
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], _replace_somewhere(draw, value[index]), *value[index + 1:]]
    return draw(json_values)


def mutate_pickle(draw: Draw, payload: bytes) -> bytes:
    """Delete, duplicate or move an opcode, change an integer argument, or insert a random opcode."""
    try:
        ops = [(opcode, argument, position) for opcode, argument, position in pickletools.genops(payload)]
    except Exception:  # noqa: BLE001 - a damaged pickle: mutate its bytes
        return mutate_bytes(draw, payload)
    if not ops:
        return payload
    bounds = [position for _, _, position in ops] + [len(payload)]
    index = draw(st.integers(0, len(ops) - 1))
    start, end = bounds[index], bounds[index + 1]
    piece = payload[start:end]
    action = draw(st.sampled_from(("delete", "duplicate", "move", "int", "insert")))
    if action == "delete":
        return payload[:start] + payload[end:]
    if action == "duplicate":
        return payload[:end] + piece + payload[end:]
    if action == "move":
        target = bounds[draw(st.integers(0, len(ops)))]
        rest = payload[:start] + payload[end:]
        target = min(target, len(rest))
        return rest[:target] + piece + rest[target:]
    if action == "int" and isinstance(ops[index][1], int) and len(piece) > 1:
        value = draw(_ints()) % (2 ** (8 * (len(piece) - 1)))
        return payload[:start + 1] + value.to_bytes(len(piece) - 1, "little") + payload[end:]
    opcode = draw(st.sampled_from([op.code.encode("latin-1") for op in pickletools.opcodes]))
    argument = draw(st.binary(max_size=9))
    return payload[:start] + opcode + argument + payload[start:]


def mutate_bytes(draw: Draw, data: bytes) -> bytes:
    if not data:
        return draw(st.binary(max_size=64))
    action = draw(st.sampled_from(("flip", "flip", "truncate", "insert", "splice")))
    if action == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    position = draw(st.integers(0, len(data) - 1))
    if action == "flip":
        patched = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            patched[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(patched)
    if action == "insert":
        return data[:position] + draw(st.binary(min_size=1, max_size=64)) + data[position:]
    length = draw(st.integers(1, min(4096, len(data))))
    return data[:position] + data[position:position + length] * draw(st.integers(2, 50)) + data[position:]


def legacy_from_zip(draw: Draw, data: bytes) -> bytes:
    """A legacy file made of a zip's members, pickled (then mutated as a pickle)."""
    members = read_members(data) or []
    payload = pickle.dumps(({name: content[:64] for name, content, _ in members}, None), protocol=2)
    return mutate_pickle(draw, payload)


MUTATIONS: dict[str, Callable[[Draw, bytes], bytes]] = {
    "archive": mutate_archive,
    "headers": patch_headers,
    "bytes": mutate_bytes,
    "pickle": lambda draw, data: mutate_pickle(draw, data) if data[:1] == b"\x80" else legacy_from_zip(draw, data),
}


def fuzz_inputs(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Files made from ``seeds`` by one to four mutations, structure-aware mostly."""
    @st.composite
    def strategy(draw: Draw) -> bytes:
        data = draw(st.sampled_from(seeds))
        names = draw(st.lists(st.sampled_from(["archive", "archive", "archive", "headers", "bytes", "pickle"]),
                              min_size=1, max_size=4))
        for name in names:
            data = MUTATIONS[name](draw, data)
        return data
    return strategy()
