#!/usr/bin/python3
"""Apache Thrift's Python library (0.17) as a peer of our codec.

Driven by tests/e2e/codec_interop.rs, which generates the Python types
with `thrift --gen py -out GEN tests/idl/interop.thrift` and runs:

    interop.py write GEN OUT
        Writes every sample below in both protocols with both the
        pure-Python and the C-accelerated protocol classes, to
        OUT/<sample>.<protocol>.<impl>.bin.

    interop.py read GEN PROTOCOL IN OUT
        For every IN/<sample>.bin (bytes our codec wrote), decodes it with
        both implementations, checks that the whole input was consumed and
        that the value equals the sample's expected value, then writes the
        decoded value again to OUT/<sample>.<impl>.bin so that the caller
        can decode it and compare bytes.

Each sample here has a twin of the same name in codec_interop.rs: keep
them in step. Floats compare by bit pattern, so NaN equals the same NaN
and -0.0 differs from 0.0. Exits 1 on any mismatch, listing every one.
"""

import math
import os
import struct
import sys

from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport

PROTOCOLS = {
    'binary': {
        'pure': TBinaryProtocol.TBinaryProtocol,
        'accel': TBinaryProtocol.TBinaryProtocolAccelerated,
    },
    'compact': {
        'pure': TCompactProtocol.TCompactProtocol,
        'accel': TCompactProtocol.TCompactProtocolAccelerated,
    },
}


def double(hex_bits):
    """The double with these IEEE 754 bits (16 hex digits, big-endian)."""
    return struct.unpack('>d', bytes.fromhex(hex_bits))[0]


NAN = double('7ff8000000000000')
# A negative quiet NaN with a payload: bits must survive, not just NaN-ness.
NAN_PAYLOAD = double('fff8000000000001')
UNICODE = 'h\u00e9llo w\u00f6rld \u00b7 \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u00b7 \u65e5\u672c\u8a9e \u00b7 \U0001f980\U0001f44d\U0001f3fd \u00b7 nul\u0000end'
BIG_BLOB = bytes((i * 31 + 7) % 256 for i in range(1 << 20))


class Sample:
    """A value written as `written`; read back as `read_type`, it must
    equal `expected`."""

    def __init__(self, written, read_type=None, expected=None):
        self.written = written
        self.read_type = read_type or type(written)
        self.expected = written if expected is None else expected


def samples(t):
    """Every sample by name; `t` is the generated `interop.ttypes`."""
    P, V, C = t.Point, t.Value, t.Color

    def scalars(flag, octet, tiny, small, medium, large, real, text, blob, color):
        return t.Scalars(flag=flag, octet=octet, tiny=tiny, small=small, medium=medium, large=large,
                         real=real, text=text, blob=blob, color=color)

    def containers(**fields):
        # Every field present (empty unless given): our codec always writes
        # default-requiredness fields, so both sides write the same ones.
        empty = dict(ints=[], names=set(), counts={}, points={}, flags=[], path=[], nested=[], deep={},
                     colors=set(), blobs=[], reals=[], bits={}, grid=[], values=[], errors=[], truths=set())
        empty.update(fields)
        return t.Containers(**empty)

    def record_v2(active, archived, far_flag):
        # `data` is valid UTF-8 on purpose: pure-Python 0.17 skips an
        # unknown string or binary field with readString(), which decodes
        # it, so a V1 reader fails on non-UTF-8 bytes (UnicodeDecodeError;
        # the accelerated reader skips them fine).
        return t.RecordV2(id=7, name='seven', origin=P(x=1, y=2), extra=[{'p': P(x=3, y=4)}], active=active,
                          archived=archived, level=-1, rank=-2, stamp=-3, tags={'t'}, data=b'\x00\x7f', score=0.5,
                          value=V(items=[V(point=P(x=5, y=6))]), checks={1: [True, False]}, far_flag=far_flag,
                          far_real=-1.5, grid=[[P(x=7, y=8)], []])

    def bool_after_struct(b):
        return t.BoolAfterStruct(inner=t.Inner(value=5, inner_flag=b), flag=b,
                                 inners=[t.Inner(value=1, inner_flag=not b), t.Inner(value=2, inner_flag=b)],
                                 flag2=not b, by_id={9: t.Inner(value=9, inner_flag=b)}, flag3=b,
                                 far=t.Inner(value=-1, inner_flag=not b), flag4=not b,
                                 value=V(point=P(x=1, y=1)), flag5=b)

    def tree(depth):
        children = [tree(depth - 1), t.Tree(value=-depth, children=[])] if depth > 1 else []
        return t.Tree(value=depth, children=children)

    def chain(depth, last):
        return t.Chain(depth=depth, next=chain(depth + 1, last) if depth < last else None)

    s = {
        'scalars_zero': Sample(scalars(False, 0, 0, 0, 0, 0, 0.0, '', b'', C.RED)),
        'scalars_min': Sample(scalars(False, -128, -128, -32768, -2**31, -2**63, -math.inf, '', b'\x00',
                                      C.NEGATIVE)),
        'scalars_max': Sample(scalars(True, 127, 127, 32767, 2**31 - 1, 2**63 - 1, math.inf, 'max', b'\xff' * 3,
                                      C.LARGEST)),
        'scalars_negative': Sample(scalars(True, -1, -2, -300, -70000, -5000000000, -0.0, UNICODE,
                                           bytes(range(256)), 99)),
        'scalars_varint_edges': Sample(scalars(False, 63, -64, -8193, 2**27, -2**62, 5e-324, 'a' * 127,
                                               b'b' * 128, C.BLUE)),
        'scalars_nan': Sample(scalars(False, 1, 2, 3, 4, 5, NAN, 'nan', b'', C.GREEN)),
        'scalars_nan_payload': Sample(scalars(True, 1, 2, 3, 4, 5, NAN_PAYLOAD, '', b'', C.GREEN)),
        'scalars_big': Sample(scalars(True, 0x55, -0x56, 1, 2, 3, 1.7976931348623157e308, UNICODE * 500, BIG_BLOB,
                                      C.BLUE)),
        'containers_empty': Sample(containers()),
        'containers_one': Sample(containers(
            ints=[7], names={'a'}, counts={'k': -1}, points={3: P(x=1, y=2)}, flags=[True], path=[P(x=0, y=0)],
            nested=[{'m': [1]}], deep={'d': {1: {2}}}, colors={C.BLUE}, blobs=[b'\x00\x01'], reals=[-0.0],
            bits={-1: False}, grid=[[False]], values=[V(flag=False)], errors=[t.Oops(message='e', code=1)],
            truths={True})),
        'containers_many': Sample(containers(
            ints=[-2**31, 2**31 - 1] + list(range(-9, 9)), names={'a', 'b\u00e9', '\U0001f980'},
            counts={'x': 1, 'y': -2**63, 'z': 2**63 - 1}, points={-1: P(x=1, y=1), 2**31 - 1: P(x=-5, y=5)},
            flags=[i % 3 == 0 for i in range(20)], path=[P(x=i, y=-i) for i in range(14)],
            nested=[{'a': [1, 2], 'b': []}, {}], deep={'x': {1: {1, 2, 3}, -1: set()}, 'y': {}},
            colors={C.RED, C.NEGATIVE, 99}, blobs=[b'', b'abc', bytes(300)],
            reals=[1.5, -2.25, math.inf, -math.inf, 5e-324, 1.7976931348623157e308],
            bits={-128: True, 0: False, 127: True}, grid=[[], [True, False, True], [False] * 15],
            values=[V(flag=True), V(number=-1), V(text='v'), V(point=P(x=2, y=3)),
                    V(items=[V(number=1), V(items=[])])],
            errors=[t.Oops(message='a', code=-1, origin=P(x=1, y=1)), t.Oops(message='', code=0)],
            truths={True, False})),
        # Lists of 14 and 15 elements: the longest short and the shortest
        # long compact list header.
        'containers_lists': Sample(containers(
            ints=list(range(-7, 7)), flags=[i % 2 == 0 for i in range(15)], path=[P(x=i, y=i) for i in range(15)],
            blobs=[b'x'] * 14, reals=[i / 4 for i in range(-7, 8)], grid=[[True] * 14, [False] * 15],
            values=[V(number=i) for i in range(15)])),
        'containers_nan': Sample(containers(reals=[NAN, NAN_PAYLOAD, -0.0, 0.0])),
        'shape': Sample(t.Shape(name='triangle \u25b2', origin=P(x=0, y=0),
                                vertices=[P(x=0, y=0), P(x=4, y=0), P(x=0, y=3)], center=P(x=1, y=1))),
        'shape_no_center': Sample(t.Shape(name='', origin=P(x=-1, y=-1), vertices=[])),
        'union_flag': Sample(V(flag=False)),
        'union_number': Sample(V(number=-2**63)),
        'union_text': Sample(V(text=UNICODE)),
        'union_point': Sample(V(point=P(x=-1, y=1))),
        'union_items': Sample(V(items=[V(number=1), V(items=[V(text='deep'), V(items=[])]), V(flag=True)])),
        'union_empty': Sample(V()),
        'oops': Sample(t.Oops(message=UNICODE, code=-1, origin=P(x=5, y=5))),
        'oops_no_origin': Sample(t.Oops(message='', code=2**31 - 1)),
        'requiredness_full': Sample(t.Requiredness(
            req_int=-1, req_text='r', opt_int=0, opt_text='', def_int=0, def_text='', opt_flag=False, def_list=[],
            def_color=C.NEGATIVE, def_real=-0.0, opt_point=P(x=0, y=0), req_point=P(x=1, y=2))),
        # The constructor's IDL defaults, optional fields unset (but
        # opt_flag, whose default is true).
        'requiredness_minimal': Sample(t.Requiredness(req_int=1, req_text='x', req_point=P(x=3, y=4))),
        # Only the required fields on the wire: the reader fills in the IDL
        # defaults (Python sets opt_flag too, where we leave it None). Our
        # codec always writes default-requiredness fields, so only peers
        # write this one.
        'requiredness_absent': Sample(
            t.Requiredness(req_int=1, req_text='x', req_point=P(x=3, y=4), def_int=None, def_text=None,
                           opt_flag=None, def_list=None, def_color=None, def_real=None),
            expected=t.Requiredness(req_int=1, req_text='x', req_point=P(x=3, y=4))),
        'sparse': Sample(t.Sparse(a=1, b=True, c='twenty', d=False, e=-36, f=True, g=2**40, h=[P(x=1, y=1)],
                                  i=False, j=P(x=-1, y=-1), k=-16, last=True)),
        'sparse_defaults': Sample(t.Sparse(a=0, b=False, c='', d=False, e=0, f=False, g=0, h=[], i=False,
                                           j=P(x=0, y=0), k=0, last=False)),
        'record_v2_as_v1': Sample(record_v2(True, True, False), t.RecordV1,
                                  t.RecordV1(id=7, name='seven', active=True, score=0.5)),
        'record_v2_as_v1_flipped': Sample(record_v2(False, False, True), t.RecordV1,
                                          t.RecordV1(id=7, name='seven', active=False, score=0.5)),
        # An old writer, a new reader: Python leaves the missing fields
        # None, where our generated types hold their defaults.
        'record_v1_as_v2': Sample(t.RecordV1(id=1, name='one', active=True, score=2.0), t.RecordV2,
                                  t.RecordV2(id=1, name='one', active=True, score=2.0)),
        'record_retyped_as_v1': Sample(t.RecordRetyped(id='7', name=[1, 2], active=1, score=True), t.RecordV1,
                                       t.RecordV1()),
        'bool_after_struct': Sample(bool_after_struct(True)),
        'bool_after_struct_flipped': Sample(bool_after_struct(False)),
        'tree_deep': Sample(tree(20)),
        'chain_64': Sample(chain(1, 64)),
        'holder': Sample(t.Holder(empty=t.Empty(), unset=V(), empties=[t.Empty(), t.Empty()])),
        'empty': Sample(t.Empty()),
    }
    return s


def same(a, b):
    """Deep equality with floats compared by bit pattern."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack('<d', a) == struct.pack('<d', b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if hasattr(a, 'thrift_spec'):
        return same(vars(a), vars(b))
    return a == b


def encode(impl_class, value):
    buf = TTransport.TMemoryBuffer()
    value.write(impl_class(buf))
    return buf.getvalue()


def decode(impl_class, read_type, data):
    """Decodes `data`; returns (value, unread byte count)."""
    buf = TTransport.TMemoryBuffer(data)
    proto = impl_class(buf)
    if getattr(read_type.read, '__self__', None) is read_type:
        # Exceptions are immutable: `read` is a classmethod returning one.
        value = read_type.read(proto)
    else:
        value = read_type()
        value.read(proto)
    return value, len(data) - buf._buffer.tell()


def check_accelerated():
    """The accelerated classes fall back to pure Python silently when the C
    extension is missing; testing them then would test nothing new."""
    for impls in PROTOCOLS.values():
        proto = impls['accel'](TTransport.TMemoryBuffer())
        if proto._fast_encode is None or proto._fast_decode is None:
            sys.exit('interop.py: thrift.protocol.fastbinary (C extension of python3-thrift) is missing')


def write_all(all_samples, out_dir):
    count = 0
    for name, sample in sorted(all_samples.items()):
        for proto, impls in PROTOCOLS.items():
            for impl, impl_class in impls.items():
                with open(os.path.join(out_dir, f'{name}.{proto}.{impl}.bin'), 'wb') as f:
                    f.write(encode(impl_class, sample.written))
                count += 1
    print(f'wrote {count}')
    return []


def read_all(all_samples, proto, in_dir, out_dir):
    failures = []
    count = 0
    for file_name in sorted(os.listdir(in_dir)):
        name, ext = os.path.splitext(file_name)
        if ext != '.bin':
            continue
        sample = all_samples.get(name)
        if sample is None:
            failures.append(f'{file_name}: no sample of that name in interop.py')
            continue
        with open(os.path.join(in_dir, file_name), 'rb') as f:
            data = f.read()
        for impl, impl_class in PROTOCOLS[proto].items():
            where = f'{name} ({proto}, {impl})'
            try:
                value, unread = decode(impl_class, sample.read_type, data)
            except Exception as e:  # noqa: BLE001 - any decode failure is a finding
                failures.append(f'{where}: decode failed: {e!r}; input {data[:64].hex()}')
                continue
            if unread != 0:
                failures.append(f'{where}: {unread} bytes left unread')
            if not same(value, sample.expected):
                failures.append(f'{where}: decoded\n  {short(value)}\nexpected\n  {short(sample.expected)}')
            with open(os.path.join(out_dir, f'{name}.{impl}.bin'), 'wb') as f:
                f.write(encode(impl_class, value))
            count += 1
    print(f'read {count}')
    return failures


def short(value, limit=2000):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f'... ({len(text)} chars)'


def main(argv):
    usage = 'usage: interop.py write GEN OUT | interop.py read GEN binary|compact IN OUT'
    if len(argv) < 2:
        sys.exit(usage)
    mode, gen_dir = argv[0], argv[1]
    sys.path.insert(0, gen_dir)
    from interop import ttypes  # generated at test time

    check_accelerated()
    all_samples = samples(ttypes)
    if mode == 'write' and len(argv) == 3:
        failures = write_all(all_samples, argv[2])
    elif mode == 'read' and len(argv) == 5 and argv[2] in PROTOCOLS:
        failures = read_all(all_samples, argv[2], argv[3], argv[4])
    else:
        sys.exit(usage)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
