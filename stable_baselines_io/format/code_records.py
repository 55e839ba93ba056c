"""Schedules recognised in the inert record of a pickled function, without running its code.

Stable Baselines 2 users stored schedules as closures: SB2's ``constfn(value)`` (``return val``),
the rl-baselines-zoo's ``linear_schedule(initial_value)`` (``return progress * initial_value``),
or a lambda such as ``lambda f: f * 2.5e-4``. cloudpickle stores such a function as its code
object's fields (argument count, bytecode, constants, global names, variable names) and its
closure's cell contents. :func:`schedule_shape` reads those fields and recognises the few
schedule shapes above; anything else is ``None`` (and stays refused).

The bytecode is matched by meaning, not bytes: the instructions are decoded with the opcode
table of the CPython versions whose ``CodeType`` layout the record has (3.6 to 3.10 share one
table for these instructions; 3.11 and 3.12 another), ignoring the bookkeeping instructions
(``RESUME``, ``COPY_FREE_VARS``, ``CACHE``, ``NOP``).

>>> code = code_record_from_args((1, 0, 1, 2, 19, bytes([124, 0, 136, 0, 20, 0, 83, 0]), (None,), (),
...                               ("progress",), "utils.py", "func", 10, b"", ("initial_value",), ()))
>>> schedule_shape(code, [0.00025])
('linear', 0.00025)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

#: ``CodeType`` positional fields up to the bytecode, by number of fields: Python 3.6-3.7
#: (15 fields), 3.8-3.10 (16: ``posonlyargcount``), 3.11+ (18: ``qualname``, ``exceptiontable``).
_LAYOUTS = {15: "legacy", 16: "legacy", 18: "3.11"}


@dataclass(frozen=True)
class _Opcodes:
    load_fast: int
    load_deref: int
    load_const: int
    multiply: tuple[int, int | None]  # (opcode, required argument or None)
    return_value: int
    return_const: int | None
    bookkeeping: frozenset[int]
    #: Whether LOAD_DEREF numbers the free variables after the locals (3.11+).
    deref_after_locals: bool


_OPCODES = {
    "legacy": _Opcodes(load_fast=124, load_deref=136, load_const=100, multiply=(20, None), return_value=83,
                       return_const=None, bookkeeping=frozenset({9}), deref_after_locals=False),
    # 3.11 and 3.12: BINARY_OP 5 is ``*``; 3.12 returns constants with RETURN_CONST.
    "3.11": _Opcodes(load_fast=124, load_deref=137, load_const=100, multiply=(122, 5), return_value=83,
                     return_const=121, bookkeeping=frozenset({0, 9, 149, 151}), deref_after_locals=True),
}


@dataclass(frozen=True)
class CodeRecord:
    """The fields of a pickled code object that schedules are recognised by.

    :param layout: ``"legacy"`` (CPython 3.6-3.10) or ``"3.11"``
    :param argcount: positional parameters
    :param other_args: keyword-only (and positional-only) parameter counts, which must be 0
    :param nlocals: local variables
    :param codestring: the bytecode
    :param consts: ``co_consts``
    :param names: ``co_names`` (globals and attributes used)
    :param freevars: ``co_freevars`` (the closure's variables)
    :param cellvars: ``co_cellvars``
    """

    layout: str
    argcount: int
    other_args: tuple[Any, ...]
    nlocals: int
    codestring: bytes
    consts: tuple[Any, ...]
    names: tuple[Any, ...]
    freevars: tuple[Any, ...]
    cellvars: tuple[Any, ...]


def code_record_from_args(args: tuple[Any, ...]) -> CodeRecord | None:
    """The fields of a pickled ``CodeType(*args)`` call, for any layout CPython 3.6+ wrote.

    :param args: the call's arguments, as the pickle holds them
    :return: the record, or None when the arguments are not a code object's
    """
    layout = _LAYOUTS.get(len(args))
    if layout is None:
        return None
    code_index = next((index for index, arg in enumerate(args) if isinstance(arg, bytes)), None)
    if code_index is None or code_index < 4:
        return None
    counts = args[:code_index - 2]  # argcount, [posonlyargcount,] kwonlyargcount, nlocals
    consts, names, freevars, cellvars = args[code_index + 1], args[code_index + 2], args[-2], args[-1]
    if not all(type(count) is int for count in counts) or \
            not all(type(field) is tuple for field in (consts, names, freevars, cellvars)):
        return None
    return CodeRecord(layout=layout, argcount=counts[0], other_args=tuple(counts[1:-1]), nlocals=counts[-1],
                      codestring=args[code_index], consts=consts, names=names, freevars=freevars,
                      cellvars=cellvars)


def schedule_shape(code: CodeRecord, closure_values: list[Any]) -> tuple[str, float] | None:
    """Which schedule a one-argument function computes, if it is one of the recognised shapes.

    - ``("constant", v)``: ``return v`` (a closure cell or a constant), as SB2's ``constfn``;
    - ``("linear", v)``: ``return progress * v`` or ``v * progress``, as the zoo's
      ``linear_schedule`` (``v`` decays linearly with the remaining progress to 0).

    :param code: the function's code record
    :param closure_values: the contents of its closure cells, in ``co_freevars`` order
    :return: the shape and its number, or None
    """
    if code.argcount != 1 or any(code.other_args) or code.names or code.cellvars \
            or len(code.freevars) != len(closure_values) or len(closure_values) > 1:
        return None
    if any(not (const is None or isinstance(const, str)) and not _is_number(const) for const in code.consts):
        return None
    opcodes = _OPCODES[code.layout]
    instructions = _instructions(code.codestring, opcodes)
    if instructions is None:
        return None
    if len(instructions) == 1 and instructions[0][0] == opcodes.return_const:
        value = _const(code, instructions[0][1])
        return None if value is None else ("constant", value)
    if not instructions or instructions[-1][0] != opcodes.return_value:
        return None
    body = instructions[:-1]
    if len(body) == 1:
        value = _loaded_number(code, body[0], closure_values, opcodes)
        return None if value is None else ("constant", value)
    if len(body) == 3 and body[2] == opcodes.multiply:
        progress = (opcodes.load_fast, 0)
        if body[0] == progress:
            value = _loaded_number(code, body[1], closure_values, opcodes)
        elif body[1] == progress:
            value = _loaded_number(code, body[0], closure_values, opcodes)
        else:
            return None
        return None if value is None else ("linear", value)
    return None


def _instructions(codestring: bytes, opcodes: _Opcodes) -> list[tuple[int, int | None]] | None:
    if len(codestring) % 2 or len(codestring) > 64:
        return None
    decoded: list[tuple[int, int | None]] = []
    for index in range(0, len(codestring), 2):
        opcode, argument = codestring[index], codestring[index + 1]
        if opcode in opcodes.bookkeeping:
            continue
        # Only the multiply of the legacy table takes no argument (its byte is 0).
        decoded.append((opcode, None if (opcode, None) == opcodes.multiply else argument))
    return decoded


def _loaded_number(code: CodeRecord, instruction: tuple[int, int | None], closure_values: list[Any],
                   opcodes: _Opcodes) -> float | None:
    opcode, argument = instruction
    if opcode == opcodes.load_const:
        return _const(code, argument)
    if opcode == opcodes.load_deref and closure_values:
        expected = code.nlocals if opcodes.deref_after_locals else 0
        if argument == expected and _is_number(closure_values[0]):
            return float(closure_values[0])
    return None


def _const(code: CodeRecord, index: int | None) -> float | None:
    if index is None or not 0 <= index < len(code.consts) or not _is_number(code.consts[index]):
        return None
    return float(code.consts[index])


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and type(value).__name__ != "bool_"
