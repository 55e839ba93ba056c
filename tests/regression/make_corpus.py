"""Write the regression corpus: one small file per attack class, each with its expected outcome.

Every file is ``corpus/<attack-class>__<name>.<ext>`` beside ``<same>.expect``, which holds the
name of the exception class the library must raise for it (or ``loads``), then any
``<entry point>: <outcome>`` line for an entry point whose outcome differs. The pickle and JSON
value attacks come from ``tests/safe_mode_attacks.py``, written here too. The files are committed;
run this script again (``python tests/regression/make_corpus.py``) only to add or change one, and
commit the result. ``tests/test_regression_corpus.py`` loads every file in the folder, whoever
wrote it, in a subprocess with memory and time limits.

Most files are built from a tiny agent archive without TensorFlow; ``--with-models`` also writes
real PPO and DQN agents (which needs TensorFlow) for the legitimate files that must load.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
for folder in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import safe_mode_attacks  # noqa: E402 - found through the path set above

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
#: Fixed time for every member, so the corpus is byte-for-byte reproducible.
ZIP_DATE = (2020, 1, 1, 0, 0, 0)
PARAMS = OrderedDict([("model/pi/w:0", np.arange(12, dtype=np.float32).reshape(3, 4)),
                      ("model/pi/b:0", np.ones(4, dtype=np.float32))])
DATA = {"gamma": 0.99, "n_steps": 16}
METADATA = {"format_version": 2, "stable_baselines_io": "corpus"}

Member = tuple[str, bytes, int]  # name, content, compression method


def zip_of(members: list[Member]) -> bytes:
    """A zip archive of ``members`` in order (names may repeat), with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, method in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=False) as member:
                member.write(content)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npz(arrays: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    return zip_of([(name + ".npy", content, method) for name, content in arrays.items()])


def agent(data: bytes | None = None, parameter_list: bytes | None = None, parameters: bytes | None = None,
          metadata: bytes | None = None, method: int = zipfile.ZIP_STORED, extra: list[Member] = ()) -> bytes:
    """An agent archive; a member left None gets the tiny agent's content."""
    data = json.dumps(DATA).encode() if data is None else data
    parameter_list = json.dumps(list(PARAMS)).encode() if parameter_list is None else parameter_list
    parameters = npz({name: npy(value) for name, value in PARAMS.items()}) if parameters is None else parameters
    metadata = json.dumps(METADATA).encode() if metadata is None else metadata
    members = [("data", data, method), ("parameter_list", parameter_list, method),
               ("parameters", parameters, method), ("metadata", metadata, method), *extra]
    return zip_of(members)


def zeros_npy_bytes(n_bytes: int) -> bytes:
    """A ``.npy`` of ``n_bytes`` zero bytes, built without allocating an array of that size."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": (n_bytes,)})
    return buffer.getvalue() + bytes(n_bytes)


def patch_end_record(raw: bytes, shift_directory_offset: int) -> bytes:
    """Move the central directory's declared offset, which shifts every member's offset by its opposite."""
    patched = bytearray(raw)
    end = patched.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<L", patched, end + 16)
    struct.pack_into("<L", patched, end + 16, offset + shift_directory_offset)
    return bytes(patched)


def patch_method(raw: bytes, member: str, method: int) -> bytes:
    """Set the compression method of ``member`` in its local and central headers."""
    return _patch_member_headers(raw, member, 8, 10, "<H", method)


def _patch_member_headers(raw: bytes, member: str, local_at: int, central_at: int, field_format: str,
                          value: int) -> bytes:
    """Write ``value`` at offset ``local_at`` / ``central_at`` of every local / central header
    naming ``member``, at any nesting level (stored members are searched as plain bytes)."""
    patched = bytearray(raw)
    for signature, field_at, name_length_at, name_at in ((b"PK\x03\x04", local_at, 26, 30),
                                                        (b"PK\x01\x02", central_at, 28, 46)):
        position = patched.find(signature)
        while position >= 0:
            (name_length,) = struct.unpack_from("<H", patched, position + name_length_at)
            if patched[position + name_at:position + name_at + name_length] == member.encode():
                struct.pack_into(field_format, patched, position + field_at, value)
            position = patched.find(signature, position + 4)
    return bytes(patched)


def npy_with_header(header: bytes, version: int = 1, data: bytes = b"") -> bytes:
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header + data


def nested_bomb(inner_bytes: int, arrays: int = 1) -> bytes:
    """Deflated ``.npy`` members inside a deflated ``parameters`` member: the ratios multiply."""
    names = [f"w{index}" for index in range(arrays)]
    inner = zip_of([(name + ".npy", zeros_npy_bytes(inner_bytes), zipfile.ZIP_DEFLATED) for name in names])
    return zip_of([
        ("data", json.dumps(DATA).encode(), zipfile.ZIP_STORED),
        ("parameter_list", json.dumps(names).encode(), zipfile.ZIP_STORED),
        ("parameters", inner, zipfile.ZIP_DEFLATED),
        ("metadata", json.dumps(METADATA).encode(), zipfile.ZIP_STORED),
    ])


def many_entries_bomb(entries: int) -> bytes:
    """A ``parameters`` member whose (deflated) .npz directory repeats one entry ``entries`` times."""
    single = zip_of([("a.npy", npy(np.zeros(1, np.float32)), zipfile.ZIP_STORED)])
    directory_start = single.find(b"PK\x01\x02")
    end = single.find(b"PK\x05\x06")
    entry = single[directory_start:end]
    directory = entry * entries
    end_record = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory), directory_start, 0)
    inner = single[:directory_start] + directory + end_record
    return zip_of([("data", json.dumps(DATA).encode(), zipfile.ZIP_STORED),
                   ("parameter_list", b'["a"]', zipfile.ZIP_STORED),
                   ("parameters", inner, zipfile.ZIP_DEFLATED),
                   ("metadata", json.dumps(METADATA).encode(), zipfile.ZIP_STORED)])


def patch_uncompressed_size(raw: bytes, member: str, size: int) -> bytes:
    """Set the uncompressed size of ``member`` (at any nesting level) in its local and central headers."""
    return _patch_member_headers(raw, member, 22, 24, "<L", size)


def understated_npy_bomb(real_bytes: int, declared_bytes: int, method: int) -> bytes:
    """A deflated ``.npy`` member (in a ``parameters`` member compressed with ``method``) declaring
    ``declared_bytes`` that inflates to ``real_bytes``: what a reader trusting the stream would allocate."""
    inner = patch_uncompressed_size(zip_of([("w.npy", zeros_npy_bytes(real_bytes), zipfile.ZIP_DEFLATED)]),
                                    "w.npy", declared_bytes)
    return agent(parameter_list=b'["w"]', parameters=inner, method=method)


def legacy_pickle(payload: object) -> bytes:
    import pickle

    return pickle.dumps(payload, protocol=2)


def corpus() -> dict[str, tuple[Callable[[], bytes], str]]:
    """File name -> (content maker, expected outcome)."""
    deep = 100_000
    stored, deflated = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
    good_npz = npz({name: npy(value) for name, value in PARAMS.items()})
    return {
        # --- legitimate but unusual: must load exactly ---------------------------------------
        "legitimate__tiny-agent.zip": (lambda: agent(), "loads"),
        "legitimate__deflated-members-and-npz.zip": (
            lambda: agent(parameters=npz({name: npy(value) for name, value in PARAMS.items()}, deflated),
                          method=deflated), "loads"),
        "legitimate__deflated-small-npy-in-stored-npz.zip": (  # the layout this library writes since 0.x
            lambda: agent(parameters=npz({name: npy(value) for name, value in PARAMS.items()}, deflated)),
            "loads"),
        "legitimate__fortran-order-array.zip": (
            lambda: agent(parameter_list=b'["f"]', parameters=npz({"f": npy(np.asfortranarray(
                np.arange(6, dtype=np.float64).reshape(2, 3)))})), "loads"),
        "legitimate__unknown-extra-member.zip": (lambda: agent(extra=[("notes.txt", b"hello", stored)]), "loads"),
        "legitimate__many-small-arrays.zip": (
            lambda: agent(parameter_list=json.dumps([f"a{i}" for i in range(2000)]).encode(),
                          parameters=npz({f"a{i}": npy(np.zeros(1, np.float32)) for i in range(2000)}, deflated),
                          method=deflated), "loads"),
        # --- resources: nested compression, large ratios -------------------------------------
        "nested-compression-bomb__2k-to-600m.zip": (lambda: nested_bomb(600 * 2**20), "LoadBudgetExceededError"),
        "nested-compression-bomb__4k-to-1g.zip": (lambda: nested_bomb(128 * 2**20, arrays=8),
                                                    "LoadBudgetExceededError"),
        "understated-npy-bomb__declares-4k-inflates-to-16m.zip": (
            lambda: understated_npy_bomb(16 * 2**20, 4096, stored), "CorruptAgentFileError"),
        "understated-npy-bomb__declares-64k-inflates-to-16m-in-deflated-npz.zip": (
            lambda: understated_npy_bomb(16 * 2**20, 64 * 1024, deflated), "CorruptAgentFileError"),
        "compressed-npy-header-bomb__1g-header.zip": (
            lambda: zip_of([("data", json.dumps(DATA).encode(), stored), ("parameter_list", b'["w"]', stored),
                            ("parameters", zip_of([("w.npy", npy_with_header(b" " * (2**30 - 1) + b"\n", 2),
                                                    deflated)]), deflated)]), "CorruptAgentFileError"),
        "npy-huge-shape__overflowing-product.zip": (
            lambda: agent(parameter_list=b'["w"]', parameters=npz({"w": npy_with_header(
                b"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 1024), }".ljust(127)
                + b"\n")})), "CorruptAgentFileError"),
        "npy-structured-dtype__offsets.zip": (
            lambda: agent(parameter_list=b'["w"]', parameters=npz({"w": npy_with_header(
                b"{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }".ljust(127)
                + b"\n", data=bytes(12))})), "CorruptAgentFileError"),
        "repeated-names__parameter-list.zip": (
            lambda: agent(parameter_list=json.dumps(["model/pi/w:0"] * 300).encode()), "CorruptAgentFileError"),
        "member-name-tricks__duplicate-data-member.zip": (
            lambda: agent(extra=[("data", b'{"gamma": "second"}', stored)]), "CorruptAgentFileError"),
        "member-name-tricks__duplicate-npy-member.zip": (
            lambda: agent(parameters=zip_of([("model/pi/w:0.npy", npy(PARAMS["model/pi/w:0"]), stored),
                                             ("model/pi/b:0.npy", npy(PARAMS["model/pi/b:0"]), stored),
                                             ("model/pi/b:0.npy", npy(np.zeros(4, np.float32)), stored)])),
            "CorruptAgentFileError"),
        "many-arrays__5000-tiny-arrays-deflated.zip": (
            lambda: agent(parameter_list=json.dumps([f"a{i}" for i in range(5000)]).encode(),
                          parameters=npz({f"a{i}": npy(np.zeros(1, np.float32)) for i in range(5000)}, deflated),
                          method=deflated), "LoadBudgetExceededError"),
        "absurd-member-count__1m-identical-entries.zip": (lambda: many_entries_bomb(1_000_000),
                                                           "LoadBudgetExceededError"),
        # --- raw errors that used to escape ---------------------------------------------------
        "negative-member-offsets__shifted-directory.zip": (lambda: patch_end_record(agent(), 4096),
                                                          "CorruptAgentFileError"),
        "deep-json__metadata.zip": (lambda: agent(metadata=b"[" * deep + b"]" * deep, method=deflated),
                                    "CorruptAgentFileError"),
        "deep-json__parameter-list.zip": (lambda: agent(parameter_list=b"[" * deep + b"]" * deep, method=deflated),
                                         "CorruptAgentFileError"),
        "deep-json__data.zip": (lambda: agent(data=b'{"a": ' + b"[" * deep + b"]" * deep + b"}", method=deflated),
                               "CorruptAgentFileError"),
        "deep-json__data-objects.zip": (
            lambda: agent(data=b'{"a": ' + b'{"b": ' * deep + b"1" + b"}" * deep + b"}", method=deflated),
            "CorruptAgentFileError"),
        "zlib-error__garbage-deflate-data.zip": (
            lambda: patch_method(agent(data=b"\xff" * 64 + json.dumps(DATA).encode()), "data", zipfile.ZIP_DEFLATED),
            "CorruptAgentFileError"),
        "lzma-error__garbage-lzma-data.zip": (
            lambda: patch_method(agent(), "metadata", zipfile.ZIP_LZMA), "CorruptAgentFileError"),
        "bz2-error__garbage-bzip2-data.zip": (
            lambda: patch_method(agent(), "parameter_list", zipfile.ZIP_BZIP2), "CorruptAgentFileError"),
        "unknown-compression__method-99.zip": (lambda: patch_method(agent(), "data", 99), "CorruptAgentFileError"),
        "eof-error__truncated-deflate-stream.zip": (
            lambda: agent(parameters=zip_of([("model/pi/w:0.npy", npy(PARAMS["model/pi/w:0"])[:-20], deflated),
                                             ("model/pi/b:0.npy", npy(PARAMS["model/pi/b:0"]), deflated)])),
            "CorruptAgentFileError"),
        "unicode-error__data-not-utf8.zip": (lambda: agent(data=b'{"a": "\xff\xfe"}'), "CorruptAgentFileError"),
        "json-error__metadata-not-json.zip": (lambda: agent(metadata=b"{'format_version': 2"),
                                             "CorruptAgentFileError"),
        "type-error__format-version-string.zip": (lambda: agent(metadata=b'{"format_version": "2"}'),
                                                 "CorruptAgentFileError"),
        "type-error__parameter-list-of-numbers.zip": (lambda: agent(parameter_list=b"[1, 2]"),
                                                     "CorruptAgentFileError"),
        "npy-error__npy-version-9.zip": (
            lambda: agent(parameter_list=b'["w"]', parameters=npz({"w": b"\x93NUMPY\x09\x00" + bytes(120)})),
            "CorruptAgentFileError"),
        "npy-error__header-not-a-dict.zip": (
            lambda: agent(parameter_list=b'["w"]', parameters=npz({"w": npy_with_header(
                b"__import__('os').system('false')".ljust(127) + b"\n")})), "CorruptAgentFileError"),
        "deep-npy-header__nested-brackets.zip": (
            lambda: agent(parameter_list=b'["w"]', parameters=npz({"w": npy_with_header(
                (b"{'descr': " + b"(" * 4000 + b")" * 4000 + b", }").ljust(8181) + b"\n", 2)}, deflated),
                method=deflated), "CorruptAgentFileError"),
        "npy-error__unbalanced-header-in-deflated-npz.zip": (
            lambda: agent(parameter_list=b'["w"]', parameters=npz({"w": npy_with_header(
                b"{'descr': '<f2', 'fortran_order': True, 'shape': (1,, }".ljust(117) + b"\n", data=bytes(2))},
                deflated)), "CorruptAgentFileError"),
        "npy-error__object-dtype.zip": (
            lambda: agent(parameter_list=b'["w"]', parameters=npz({"w": npy_with_header(
                b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(127) + b"\n", data=bytes(8))})),
            "CorruptAgentFileError"),
        "truncated__half-archive.zip": (lambda: agent()[: len(agent()) // 2], "CorruptAgentFileError"),
        "truncated__nested-npz-cut.zip": (
            lambda: agent(parameters=good_npz[:-30]), "CorruptAgentFileError"),
        "legacy__truncated-pickle.pkl": (lambda: legacy_pickle(({"gamma": 0.99}, [np.zeros(3)]))[:-7],
                                         "CorruptAgentFileError"),
        "legacy__not-a-pair.pkl": (lambda: legacy_pickle([1, 2, 3]), "CorruptAgentFileError"),
        "empty__zero-bytes.zip": (lambda: b"", "CorruptAgentFileError"),
    }


def model_corpus() -> dict[str, tuple[Callable[[], bytes], str]]:
    """Real (untrained) PPO, A2C and DQN CartPole agents: what ``PPO.load`` / ``A2C.load`` /
    ``DQN.load`` must load."""
    from stable_baselines_io.a2c import A2C
    from stable_baselines_io.dqn import DQN
    from stable_baselines_io.ppo import PPO

    def saved(model_class: type, **kwargs: object) -> Callable[[], bytes]:
        def make() -> bytes:
            buffer = io.BytesIO()
            model_class("MlpPolicy", "CartPole-v1", seed=0, **kwargs).save(buffer)
            return buffer.getvalue()
        return make

    return {"legitimate__ppo-cartpole.zip": (saved(PPO, n_steps=16, policy_kwargs={"net_arch": [8]}), "loads"),
            "legitimate__a2c-cartpole.zip": (saved(A2C, n_steps=5, policy_kwargs={"net_arch": [8]}), "loads"),
            "legitimate__dqn-cartpole.zip": (saved(DQN, buffer_size=64, policy_kwargs={"layers": [8]}), "loads")}


def statistics_corpus() -> dict[str, tuple[Callable[[], bytes], str]]:
    """The legitimate PPO agent with a damaged ``vec_normalize`` member (normalization statistics):
    only the model loaders read it."""
    base = CORPUS_DIR / "legitimate__ppo-cartpole.zip"
    good = {"obs_rms/mean": np.zeros(4), "obs_rms/var": np.ones(4), "obs_rms/count": np.array(5.0),
            "ret_rms/mean": np.array(0.0), "ret_rms/var": np.array(1.0), "ret_rms/count": np.array(5.0),
            "clip_obs": np.array(10.0), "clip_reward": np.array(10.0), "gamma": np.array(0.99),
            "epsilon": np.array(1e-8), "training": np.array(True), "norm_obs": np.array(True),
            "norm_reward": np.array(True)}
    expected = ("NormalizationStatisticsError\nread_agent_file: loads\ninspect: loads\nconvert: loads\n"
                "A2C.load: AlgorithmMismatchError\nDQN.load: AlgorithmMismatchError")

    def with_statistics(**changes: Any) -> Callable[[], bytes]:
        def make() -> bytes:
            arrays = {name: value for name, value in {**good, **changes}.items() if value is not None}
            member = npz({name: npy(np.asarray(value)) for name, value in arrays.items()})
            with zipfile.ZipFile(base) as archive:
                members = [(info.filename, archive.read(info), zipfile.ZIP_STORED) for info in archive.infolist()]
            return zip_of([*members, ("vec_normalize", member, zipfile.ZIP_STORED)])
        return make

    return {
        "statistics__nan-variance.zip": (with_statistics(**{"obs_rms/var": np.array([1.0, np.nan, 1.0, 1.0])}),
                                         expected),
        "statistics__negative-variance.zip": (with_statistics(**{"obs_rms/var": -np.ones(4)}), expected),
        "statistics__shape-of-another-space.zip": (
            with_statistics(**{"obs_rms/mean": np.zeros(3), "obs_rms/var": np.ones(3)}), expected),
        "statistics__wrong-types.zip": (
            with_statistics(**{"training": np.array(1.5), "obs_rms/count": np.array(-1.0),
                               "obs_rms/mean": np.zeros(4, np.int64)}), expected),
        "statistics__missing-arrays.zip": (with_statistics(**{"ret_rms/var": None, "gamma": None}), expected),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None, help="write only the files whose name contains this")
    parser.add_argument("--with-models", action="store_true",
                        help="also write the PPO, A2C and DQN agents (TensorFlow)")
    arguments = parser.parse_args()
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": on purpose
    files = {**corpus(), **(model_corpus() if arguments.with_models else {}), **statistics_corpus()}
    for name, (make, expected) in files.items():
        if arguments.only and arguments.only not in name:
            continue
        content = make()
        (CORPUS_DIR / name).write_bytes(content)
        (CORPUS_DIR / name).with_name(name + ".expect").write_text(expected + "\n")
        print(f"{name:58s} {len(content):>9,} bytes -> {expected}")
    if not arguments.only:
        for path in safe_mode_attacks.write_corpus(CORPUS_DIR):  # the pickle and JSON value attacks
            print(f"{path.name:58s} {path.stat().st_size:>9,} bytes")


if __name__ == "__main__":
    main()
