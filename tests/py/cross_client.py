#!/usr/bin/python3
"""A ThriftTest client on Apache Thrift's Python library (0.17), to check
our cross-server (examples/cross-test) from another implementation.

Driven by examples/cross-test/tests/interop.rs, which generates the Python
code with `thrift --gen py -out GEN idl/thrift_test.thrift` and runs:

    cross_client.py --genpydir=GEN --port=N [--host=H]
                    [--protocol=binary|compact|header|multi|multic|multih]
                    [--transport=buffered|framed|http] [-n LOOPS]

Options take Apache's forms (`--key=value` or `--key value`). Every test
checks its exact result, and every reply's header: the method name, the
message type, and the sequence id (each call sends a new one). Fields a
peer leaves unset count as their type's zero value, as Thrift's default
requiredness allows. Prints one line per test and a summary; exits 0 when
all passed, else with Apache's OR-ed bits (1 base types, 2 structs,
4 containers, 8 exceptions, 64 connection or setup, 128 timeout).

`--protocol=multi*` calls ThriftTest and SecondService multiplexed
(TMultiplexedProtocol), and adds the test of SecondService. Over
`--transport=http` (THttpClient) every call is a POST on a new connection.
"""

import argparse
import os
import socket
import struct
import sys
import time

BASE_TYPES, STRUCTS, CONTAINERS, EXCEPTIONS, SETUP, TIMEOUT = 1, 2, 4, 8, 64, 128
CALL_TIMEOUT_MS = 10000
# A oneway call waits for no reply, while the server sleeps a third of a
# second (Apache's C++ client allows 200 ms, its Python client 3 s).
ONEWAY_RETURNS_WITHIN = 1.0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--genpydir', required=True, help='directory holding the generated thrift_test package')
    p.add_argument('--host', default='localhost')
    p.add_argument('--port', type=int, default=9090)
    p.add_argument('--protocol', default='binary')
    p.add_argument('--transport', default='buffered')
    p.add_argument('-n', '--testloops', type=int, default=1)
    # Accepted for Apache's runner, not used: one connection, no TLS.
    p.add_argument('-t', '--threads', type=int)
    p.add_argument('--ssl', action='store_true')
    p.add_argument('--domain-socket')
    return p.parse_args(argv)


class Failure(Exception):
    """A test's wrong answer, timeout or connection trouble: `bits` says
    which of the extra exit bits (SETUP, TIMEOUT) it sets, if any."""

    def __init__(self, message, bits=0):
        super().__init__(message)
        self.bits = bits


class Suite:
    """The tests, against one client whose replies are checked."""

    def __init__(self, t, client, iprot, second=None):
        self.t = t  # the generated modules: ttypes and ThriftTest
        self.client = client
        self.iprot = iprot
        self.second = second  # a SecondService client, when multiplexed
        self.seqid = 0

    # -- calling -----------------------------------------------------------

    def call(self, method, *args, client=None):
        """Calls `method` with a fresh sequence id; checks the reply's
        header whether the call returned or raised."""
        from thrift.Thrift import TApplicationException
        from thrift.transport.TTransport import TTransportException
        client = client or self.client
        self.seqid += 1
        client._seqid = self.seqid
        self.iprot.last_header = None
        try:
            result = getattr(client, method)(*args)
        except (self.t.ttypes.Xception, self.t.ttypes.Xception2, TApplicationException):
            self.check_header(method)
            raise
        except socket.timeout as e:
            raise Failure('%s: no reply within %d ms (%s)' % (method, CALL_TIMEOUT_MS, e), TIMEOUT)
        except TTransportException as e:
            # 0.17's TSocket wraps a socket timeout as "unexpected exception".
            if e.type == TTransportException.TIMED_OUT or isinstance(getattr(e, 'inner', None), socket.timeout):
                raise Failure('%s: no reply within %d ms (%s)' % (method, CALL_TIMEOUT_MS, e), TIMEOUT)
            raise Failure('%s: connection trouble: %s' % (method, e), SETUP)
        except (ConnectionError, OSError) as e:
            raise Failure('%s: connection trouble: %s' % (method, e), SETUP)
        self.check_header(method)
        return result

    def check_header(self, method):
        from thrift.Thrift import TMessageType
        header = self.iprot.last_header
        if header is None:
            raise Failure('%s: no reply header was read' % method)
        name, mtype, seqid = header
        if name != method or seqid != self.seqid or mtype not in (TMessageType.REPLY, TMessageType.EXCEPTION):
            raise Failure('%s (seqid %d): reply header is name %r, type %d, seqid %d'
                          % (method, self.seqid, name, mtype, seqid))

    def returns(self, want, method, *args, client=None):
        got = self.call(method, *args, client=client)
        if canon(got) != canon(want):
            raise Failure('%s%s: expected %s, got %s' % (method, brief(args), brief(want), brief(got)))

    # -- the tests, in Apache's order --------------------------------------

    def tests(self):
        return [
            ('testVoid', BASE_TYPES, self.test_void),
            ('testString', BASE_TYPES, self.test_string),
            ('testBool', BASE_TYPES, self.test_bool),
            ('testByte', BASE_TYPES, self.test_byte),
            ('testI32', BASE_TYPES, self.test_i32),
            ('testI64', BASE_TYPES, self.test_i64),
            ('testDouble', BASE_TYPES, self.test_double),
            ('testBinary', BASE_TYPES, self.test_binary),
            ('testStruct', STRUCTS, self.test_struct),
            ('testNest', STRUCTS, self.test_nest),
            ('testMap', CONTAINERS, self.test_map),
            ('testStringMap', CONTAINERS, self.test_string_map),
            ('testSet', CONTAINERS, self.test_set),
            ('testList', CONTAINERS, self.test_list),
            ('testEnum', STRUCTS, self.test_enum),
            ('testTypedef', STRUCTS, self.test_typedef),
            ('testMapMap', CONTAINERS, self.test_map_map),
            ('testInsanity', STRUCTS, self.test_insanity),
            ('testMulti', STRUCTS, self.test_multi),
            ('testException', EXCEPTIONS, self.test_exception),
            ('testMultiException', EXCEPTIONS, self.test_multi_exception),
            ('testOneway', BASE_TYPES, self.test_oneway),
        ] + ([('secondtestString', BASE_TYPES, self.test_second)] if self.second else [])

    def test_void(self):
        self.returns(None, 'testVoid')

    def test_string(self):
        unicode = 'Jährliche Übung · Ελληνικά · Русский · 日本語 · \U0001f980\U0001f44d\U0001f3fd'
        for s in ['', 'Test', unicode, 'nul\0inside', 'Thrift ' * 200]:
            self.returns(s, 'testString', s)

    def test_bool(self):
        for b in [True, False]:
            self.returns(b, 'testBool', b)

    def test_byte(self):
        for b in [1, 0, -1, -128, 127]:
            self.returns(b, 'testByte', b)

    def test_i32(self):
        for i in [-1, 0, 1, -2 ** 31, 2 ** 31 - 1]:
            self.returns(i, 'testI32', i)

    def test_i64(self):
        for i in [-34359738368, 0, -1, 2 ** 40, -2 ** 63, 2 ** 63 - 1]:
            self.returns(i, 'testI64', i)

    def test_double(self):
        for d in [-5.2098523, 0.0, -0.0, -0.000341012439638598279, 1e300, 2.2250738585072014e-308,
                  1.7976931348623157e308, float('-inf')]:
            self.returns(d, 'testDouble', d)

    def test_binary(self):
        # A mebibyte: unframed, it arrives in many reads.
        for b in [b'', bytes(range(256)), bytes(i % 251 for i in range(1 << 20))]:
            self.returns(b, 'testBinary', b)

    def xtruct(self, s, byte, i32, i64):
        return self.t.ttypes.Xtruct(string_thing=s, byte_thing=byte, i32_thing=i32, i64_thing=i64)

    def test_struct(self):
        for x in [self.xtruct('Zero', 1, -3, -5), self.xtruct('Ünïcödé', -128, 2 ** 31 - 1, -2 ** 63),
                  self.t.ttypes.Xtruct()]:
            self.returns(x, 'testStruct', x)

    def test_nest(self):
        x = self.t.ttypes.Xtruct2(byte_thing=1, struct_thing=self.xtruct('Zero', 1, -3, -5), i32_thing=5)
        self.returns(x, 'testNest', x)

    def test_map(self):
        for m in [{i: i - 10 for i in range(5)}, {}]:
            self.returns(m, 'testMap', m)

    def test_string_map(self):
        for m in [{'a': '2', 'b': 'blah', 'some': 'thing', 'Ünï': 'cödé 日本'}, {}]:
            self.returns(m, 'testStringMap', m)

    def test_set(self):
        for s in [set(range(-2, 3)), set()]:
            self.returns(s, 'testSet', s)

    def test_list(self):
        for lst in [list(range(-2, 3)), [7, 7, -1, 7], []]:
            self.returns(lst, 'testList', lst)

    def test_enum(self):
        n = self.t.ttypes.Numberz
        for v in [n.ONE, n.TWO, n.THREE, n.FIVE, n.SIX, n.EIGHT]:
            self.returns(v, 'testEnum', v)

    def test_typedef(self):
        self.returns(309858235082523, 'testTypedef', 309858235082523)

    def test_map_map(self):
        want = {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}}
        self.returns(want, 'testMapMap', 1)

    def test_insanity(self):
        tt = self.t.ttypes
        argument = tt.Insanity(userMap={tt.Numberz.FIVE: 5000, tt.Numberz.EIGHT: 8},
                               xtructs=[self.xtruct('Goodbye4', 4, 4, 4), self.xtruct('Hello2', 2, 2, 2)])
        want = {1: {tt.Numberz.TWO: argument, tt.Numberz.THREE: argument}, 2: {tt.Numberz.SIX: tt.Insanity()}}
        self.returns(want, 'testInsanity', argument)

    def test_multi(self):
        want = self.xtruct('Hello2', 1, 2, 3)
        self.returns(want, 'testMulti', 1, 2, 3, {1: 'abc', -1: 'ü'}, self.t.ttypes.Numberz.FIVE, 5)

    def expect_raise(self, exc_type, want, method, *args):
        """The call must raise `exc_type`; if `want` is given, equal to it."""
        try:
            got = self.call(method, *args)
        except exc_type as e:
            if want is not None and canon(e) != canon(want):
                raise Failure('%s%s: expected %s, got %s' % (method, brief(args), brief(want), brief(e)))
            return
        except Failure:
            raise
        except Exception as e:
            raise Failure('%s%s: expected %s, got %s' % (method, brief(args), exc_type.__name__, brief(e)))
        raise Failure('%s%s: expected %s, got the result %s' % (method, brief(args), exc_type.__name__, brief(got)))

    def test_exception(self):
        from thrift.Thrift import TApplicationException
        tt = self.t.ttypes
        self.expect_raise(tt.Xception, tt.Xception(errorCode=1001, message='Xception'), 'testException', 'Xception')
        # An undeclared failure: an application exception, and the
        # connection stays usable.
        self.expect_raise(TApplicationException, None, 'testException', 'TException')
        self.returns(None, 'testException', 'success')

    def test_multi_exception(self):
        tt = self.t.ttypes
        self.expect_raise(tt.Xception, tt.Xception(errorCode=1001, message='This is an Xception'),
                          'testMultiException', 'Xception', 'test 1')
        want2 = tt.Xception2(errorCode=2002, struct_thing=tt.Xtruct(string_thing='This is an Xception2'))
        self.expect_raise(tt.Xception2, want2, 'testMultiException', 'Xception2', 'test 2')
        self.returns(tt.Xtruct(string_thing='test 3'), 'testMultiException', 'success', 'test 3')

    def test_oneway(self):
        self.seqid += 1
        self.client._seqid = self.seqid
        started = time.monotonic()
        try:
            self.client.testOneway(1)
        except Exception as e:
            raise Failure('testOneway(1): %r' % e, SETUP)
        took = time.monotonic() - started
        if took > ONEWAY_RETURNS_WITHIN:
            raise Failure('testOneway(1) took %.3f s: a oneway call waits for nothing' % took)
        # A normal call gets its own reply, not a stray one for the oneway
        # call (check_header would see the wrong name and sequence id).
        self.returns(-1, 'testI32', -1)


    def test_second(self):
        for s in ['', 'Test', 'Ünïcödé 日本']:
            self.returns('testString("%s")' % s, 'secondtestString', s, client=self.second)


def brief(value, limit=300):
    """`repr(value)`, cut short: a mebibyte of binary is no message."""
    text = repr(value)
    return text if len(text) <= limit else '%s... (%d more characters)' % (text[:limit], len(text) - limit)


def canon(value):
    """A comparable form of a value: structs become their class name and
    fields, unset fields their type's zero value, doubles their bits."""
    spec = getattr(value, 'thrift_spec', None)
    if spec is not None and not isinstance(value, type):
        fields = {}
        for entry in spec:
            if entry is None:
                continue
            _, ttype, name, typeargs = entry[:4]
            v = getattr(value, name)
            if v is None:
                v = zero(ttype, typeargs)
            fields[name] = canon(v)
        return (type(value).__name__, fields)
    if isinstance(value, float):
        return ('double', struct.pack('>d', value))
    if isinstance(value, dict):
        return {canon(k): canon(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return frozenset(canon(v) for v in value)
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def zero(ttype, typeargs):
    from thrift.Thrift import TType
    if ttype == TType.STRUCT:
        return typeargs[0]()
    if ttype == TType.STRING:
        return b'' if typeargs == 'BINARY' else ''
    return {TType.BOOL: False, TType.BYTE: 0, TType.I16: 0, TType.I32: 0, TType.I64: 0, TType.DOUBLE: 0.0,
            TType.MAP: {}, TType.SET: set(), TType.LIST: []}[ttype]


def recording_instance(protocol):
    """`protocol`, remembering the last message header it read."""
    read = protocol.readMessageBegin

    def readMessageBegin():
        header = read()
        protocol.last_header = header
        return header
    protocol.last_header = None
    protocol.readMessageBegin = readMessageBegin
    return protocol


def recording(protocol_class):
    """`protocol_class`, remembering the last message header it read."""
    class Recording(protocol_class):
        last_header = None

        def readMessageBegin(self):
            header = super().readMessageBegin()
            self.last_header = header
            return header
    return Recording


def connect(args):
    """The client, its input protocol, its transport, and (multiplexed) the
    SecondService client."""
    from thrift.protocol import TBinaryProtocol, TCompactProtocol
    from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
    from thrift.transport import THttpClient, TSocket, TTransport
    from thrift_test import SecondService, ThriftTest
    from thrift.protocol.THeaderProtocol import THeaderProtocol
    from thrift.transport.THeaderTransport import THeaderClientType

    def header(transport):
        # THeader around binary (Apache's `--protocol=header`); it frames
        # its messages itself, so it goes over the buffered transport.
        return THeaderProtocol(transport, [THeaderClientType.HEADERS])

    protocols = {
        'binary': TBinaryProtocol.TBinaryProtocolAccelerated,
        'compact': TCompactProtocol.TCompactProtocolAccelerated,
        'header': header,
    }
    multiplexed = {'multi': 'binary', 'multic': 'compact', 'multih': 'header'}
    protocol = multiplexed.get(args.protocol, args.protocol)
    transports = {'buffered': TTransport.TBufferedTransport, 'framed': TTransport.TFramedTransport, 'http': None}
    if protocol == 'header' and args.transport != 'buffered':
        raise Failure('--protocol=%s is supported over --transport=buffered only' % args.protocol)
    if protocol not in protocols or args.transport not in transports or args.ssl or args.domain_socket:
        raise Failure('--protocol=%s --transport=%s%s is not supported by this client'
                      % (args.protocol, args.transport, ' with TLS or a domain socket'
                         if args.ssl or args.domain_socket else ''))
    if args.transport == 'http':
        # Straight to the server, whatever proxy the environment names.
        for var in ('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'):
            os.environ.pop(var, None)
        host = '[%s]' % args.host if ':' in args.host else args.host
        transport = THttpClient.THttpClient('http://%s:%d/' % (host, args.port))
        transport.setTimeout(CALL_TIMEOUT_MS)
    else:
        sock = TSocket.TSocket(args.host, args.port)
        sock.setTimeout(CALL_TIMEOUT_MS)
        transport = transports[args.transport](sock)
    if protocol == 'header':
        # One THeader protocol object reads and writes: its transport keeps
        # the header state of the exchange.
        iprot = recording_instance(protocols['header'](transport))
        oprot = iprot
    else:
        iprot = recording(protocols[protocol])(transport)
        oprot = protocols[protocol](transport)
    second = None
    if args.protocol in multiplexed:
        # Calls go out as `Service:method`; replies come back as they are.
        second = SecondService.Client(iprot, TMultiplexedProtocol(oprot, 'SecondService'))
        oprot = TMultiplexedProtocol(oprot, 'ThriftTest')
    client = ThriftTest.Client(iprot, oprot)
    try:
        transport.open()
    except Exception as e:
        raise Failure('cannot connect to %s:%d: %s' % (args.host, args.port, e), SETUP)
    return client, iprot, transport, second


def main(argv):
    args = parse_args(argv)
    sys.path.insert(0, args.genpydir)
    import thrift_test.ttypes
    import thrift_test.ThriftTest
    import thrift_test.SecondService  # noqa: F401 (for multiplexed runs)
    try:
        client, iprot, transport, second = connect(args)
    except Failure as e:
        print('cross_client.py: %s' % e)
        return SETUP if e.bits else 1
    suite = Suite(thrift_test, client, iprot, second)
    code, passed, failed = 0, 0, 0
    for _ in range(args.testloops):
        for name, bit, test in suite.tests():
            try:
                test()
            except Failure as e:
                print('%s ... FAILED: %s' % (name, e))
                code |= bit | e.bits
                failed += 1
            except Exception as e:
                print('%s ... FAILED: unexpected %r' % (name, e))
                code |= bit
                failed += 1
            else:
                print('%s ... ok' % name)
                passed += 1
            sys.stdout.flush()
    transport.close()
    print('cross_client.py: %d passed, %d failed' % (passed, failed))
    return code


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
