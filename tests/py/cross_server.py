#!/usr/bin/python3
"""A ThriftTest server on Apache Thrift's Python library (0.17), to check
our cross-client (examples/cross-test) against another implementation.

Driven by examples/cross-test/tests/interop.rs, which generates the Python
code with `thrift --gen py -out GEN idl/thrift_test.thrift` and runs:

    cross_server.py --genpydir=GEN --port=N [--host=H]
                    [--protocol=binary|compact|header|multi|multic|multih]
                    [--transport=buffered|framed|http]
                    [--server-type=threaded|simple] [--workers=N]

Options take Apache's forms (`--key=value` or `--key value`); `--workers`
is accepted and ignored. Uses the C-accelerated protocols. `multi*`
multiplexes ThriftTest (also the default for unprefixed names) and
SecondService, as Apache's test server does; `--transport=http` serves
with THttpServer (HTTP/1.0, a thread per request). Prints one line once
it listens; exits 0 on SIGTERM, SIGINT or SIGHUP.
"""

import argparse
import http.server
import logging
import socketserver
import signal
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--genpydir', required=True, help='directory holding the generated thrift_test package')
    p.add_argument('--host', help='address to listen on (default: every interface)')
    p.add_argument('--port', type=int, default=9090)
    p.add_argument('--protocol', default='binary')
    p.add_argument('--transport', default='buffered')
    p.add_argument('--server-type', default='threaded')
    p.add_argument('-n', '--workers', type=int)
    return p.parse_args(argv)


class Handler:
    """ThriftTest with the semantics every cross-test server shares."""

    def __init__(self, ttypes):
        self.tt = ttypes

    def testVoid(self):
        pass

    def testString(self, thing):
        return thing

    def testBool(self, thing):
        return thing

    def testByte(self, thing):
        return thing

    def testI32(self, thing):
        return thing

    def testI64(self, thing):
        return thing

    def testDouble(self, thing):
        return thing

    def testBinary(self, thing):
        return thing

    def testStruct(self, thing):
        return thing

    def testNest(self, thing):
        return thing

    def testMap(self, thing):
        return thing

    def testStringMap(self, thing):
        return thing

    def testSet(self, thing):
        return thing

    def testList(self, thing):
        return thing

    def testEnum(self, thing):
        return thing

    def testTypedef(self, thing):
        return thing

    def testMapMap(self, hello):
        return {-4: {i: i for i in range(-4, 0)}, 4: {i: i for i in range(1, 5)}}

    def testInsanity(self, argument):
        n = self.tt.Numberz
        return {1: {n.TWO: argument, n.THREE: argument}, 2: {n.SIX: self.tt.Insanity()}}

    def testMulti(self, arg0, arg1, arg2, arg3, arg4, arg5):
        return self.tt.Xtruct(string_thing='Hello2', byte_thing=arg0, i32_thing=arg1, i64_thing=arg2)

    def testException(self, arg):
        from thrift.Thrift import TException
        if arg == 'Xception':
            raise self.tt.Xception(errorCode=1001, message=arg)
        if arg == 'TException':
            # Undeclared: the processor answers with an application exception.
            raise TException('This is a TException')

    def testMultiException(self, arg0, arg1):
        if arg0 == 'Xception':
            raise self.tt.Xception(errorCode=1001, message='This is an Xception')
        if arg0 == 'Xception2':
            raise self.tt.Xception2(errorCode=2002, struct_thing=self.tt.Xtruct(string_thing='This is an Xception2'))
        return self.tt.Xtruct(string_thing=arg1)

    def testOneway(self, secondsToSleep):
        time.sleep(max(secondsToSleep, 0) / 3.0)


class SecondHandler:
    """SecondService, multiplexed beside ThriftTest."""

    def secondtestString(self, thing):
        return 'testString("%s")' % thing


class ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A thread per request; daemon threads, so that a stop signal ends
    the process with requests open."""
    daemon_threads = True


class Stop(BaseException):
    """Raised by the signal handler to leave `serve()`, which catches
    `Exception` but not this."""


def stop(signum, frame):
    raise Stop()


def main(argv):
    args = parse_args(argv)
    sys.path.insert(0, args.genpydir)
    from thrift.protocol import TBinaryProtocol, TCompactProtocol
    from thrift.TMultiplexedProcessor import TMultiplexedProcessor
    from thrift.server import THttpServer, TServer
    from thrift.transport import TSocket, TTransport
    from thrift_test import SecondService, ThriftTest, ttypes

    from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
    from thrift.transport.THeaderTransport import THeaderClientType

    protocols = {
        'binary': TBinaryProtocol.TBinaryProtocolAcceleratedFactory,
        'compact': TCompactProtocol.TCompactProtocolAcceleratedFactory,
        'header': lambda: THeaderProtocolFactory(allowed_client_types=[THeaderClientType.HEADERS]),
    }
    multiplexed = {'multi': 'binary', 'multic': 'compact', 'multih': 'header'}
    protocol = multiplexed.get(args.protocol, args.protocol)
    transports = {'buffered': TTransport.TBufferedTransportFactory, 'framed': TTransport.TFramedTransportFactory,
                  'http': None}
    servers = {'simple': TServer.TSimpleServer, 'threaded': TServer.TThreadedServer}
    if (protocol not in protocols or args.transport not in transports or args.server_type not in servers
            or (protocol == 'header' and args.transport == 'http')):
        print('cross_server.py: --protocol=%s --transport=%s --server-type=%s is not supported by this server'
              % (args.protocol, args.transport, args.server_type), file=sys.stderr)
        return 1
    # The processor logs handler exceptions (testException raises some on
    # purpose); keep the log on stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)

    processor = ThriftTest.Processor(Handler(ttypes))
    if args.protocol in multiplexed:
        mux = TMultiplexedProcessor()
        mux.registerDefault(processor)
        mux.registerProcessor('ThriftTest', processor)
        mux.registerProcessor('SecondService', SecondService.Processor(SecondHandler()))
        processor = mux
    if args.transport == 'http':
        # THttpServer binds at construction: an address in use ends here.
        try:
            server = THttpServer.THttpServer(processor, (args.host or '', args.port), protocols[protocol](),
                                             server_class=ThreadingHTTPServer)
        except OSError as e:
            print('cross_server.py: %s' % e, file=sys.stderr)
            return 1
    else:
        server_socket = TSocket.TServerSocket(host=args.host, port=args.port)
        factories = (transports[args.transport](), protocols[protocol]())
        if args.server_type == 'threaded':
            # Daemon threads: a stop signal ends the process with connections open.
            server = TServer.TThreadedServer(processor, server_socket, *factories, daemon=True)
        else:
            server = TServer.TSimpleServer(processor, server_socket, *factories)
    print('cross_server.py: serving ThriftTest on port %d (%s, %s, %s)'
          % (args.port, args.protocol, args.transport, args.server_type), flush=True)
    try:
        server.serve()
    except Stop:
        print('cross_server.py: stopped', flush=True)
        return 0
    except OSError as e:
        print('cross_server.py: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
