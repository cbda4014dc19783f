"""SIP over UDP and TCP on one port, and optionally TLS on another: the socket edge of the stack.

Bytes in, `(raw, source)` out to the endpoint; bytes out to an address or back down the TCP
connection a request came on. Parsing stays in the endpoint for UDP (so it can answer 400);
TCP framing happens here, and a framing error closes that connection, since after a bad
Content-Length there is no telling where the next message starts. TLS (RFC 3261 §26.3.1) is TCP
framing over an `ssl` stream: a listener with the server's certificate, and `connect()` for
calls out over TLS; a message that came in on TLS is answered down the same connection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
import ssl
from typing import Callable

from .sip_errors import SipParseError
from .sip_message import MAX_MESSAGE_SIZE, StreamFramer, SipMessage

log = logging.getLogger(__name__)


STREAM = ("TCP", "TLS")


@dataclass(frozen=True)
class Source:
    transport: str  # "UDP", "TCP" or "TLS"
    addr: tuple[str, int]
    conn: "_TcpConnection | None" = None


OnDatagram = Callable[[bytes, Source], None]
OnMessage = Callable[[SipMessage, Source], None]


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: OnDatagram) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        try:
            self.on_datagram(data, Source("UDP", (addr[0], addr[1])))
        except Exception:  # nothing a peer sends may take the listener down
            log.exception("error handling datagram from %s", addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


class _TcpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str = "TCP") -> None:
        self.reader, self.writer = reader, writer
        self.name = name  # "TCP" or "TLS"
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        self.addr = (peer[0], peer[1])
        self.framer = StreamFramer(MAX_MESSAGE_SIZE)

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()


class SipTransport:
    def __init__(self, host: str, port: int, on_datagram: OnDatagram, on_message: OnMessage, tcp: bool = True,
                 tls: ssl.SSLContext | None = None, tls_host: str | None = None, tls_port: int = 0) -> None:
        self.host, self.port = host, port
        self.on_datagram, self.on_message = on_datagram, on_message
        self.tcp = tcp
        self.tls = tls  # server context (certificate and key): listen for TLS on tls_port
        self.tls_host = tls_host or host
        self.tls_port = tls_port
        self._udp: _UdpProtocol | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tls_server: asyncio.AbstractServer | None = None
        self._conns: dict[tuple[str, int], _TcpConnection] = {}
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        wanted = self.port
        # Port 0 picks a free UDP port; the same number must then be free for TCP too, which it
        # need not be (an outgoing TCP connection may hold it): then try another one.
        for attempt in range(20 if wanted == 0 else 1):
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.on_datagram), local_addr=(self.host, wanted)
            )
            self.port = transport.get_extra_info("sockname")[1]
            if not self.tcp:
                break
            try:
                self._server = await asyncio.start_server(self._accept, self.host, self.port)
                break
            except OSError:
                transport.close()
                if wanted != 0 or attempt == 19:
                    raise
        self._udp = protocol
        if self.tls is not None:
            self._tls_server = await asyncio.start_server(lambda r, w: self._accept(r, w, "TLS"), self.tls_host,
                                                          self.tls_port, ssl=self.tls)
            self.tls_port = self._tls_server.sockets[0].getsockname()[1]

    async def connect(self, addr: tuple[str, int], context: ssl.SSLContext, server_hostname: str | None = None,
                      timeout: float = 5.0) -> _TcpConnection:
        """A TLS connection to `addr` (for a call out over TLS); its messages come in like the
        listener's. Reused while open."""
        conn = self._conns.get(addr)
        if conn is not None and not conn.closed and conn.name == "TLS":
            return conn
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(addr[0], addr[1], ssl=context, server_hostname=server_hostname or addr[0]), timeout)
        conn = _TcpConnection(reader, writer, "TLS")
        self._conns[conn.addr] = conn
        task = asyncio.get_running_loop().create_task(self._keep(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return conn

    async def _keep(self, conn: _TcpConnection) -> None:
        try:
            await self._serve(conn)
        finally:
            self._conns.pop(conn.addr, None)
            conn.writer.close()

    async def stop(self) -> None:
        if self._udp and self._udp.transport:
            self._udp.transport.close()
        if self._server:
            self._server.close()
        if self._tls_server:
            self._tls_server.close()
        for conn in list(self._conns.values()):
            conn.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except (asyncio.TimeoutError, Exception):
                pass

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str = "TCP") -> None:
        task = asyncio.current_task()
        if task:
            self._tasks.add(task)
        conn = _TcpConnection(reader, writer, name)
        self._conns[conn.addr] = conn
        try:
            await self._serve(conn)
        finally:
            self._conns.pop(conn.addr, None)
            writer.close()
            if task:
                self._tasks.discard(task)

    async def _serve(self, conn: _TcpConnection) -> None:
        while True:
            try:
                data = await conn.reader.read(65536)
            except (ConnectionError, OSError, ssl.SSLError):
                return
            if not data:
                return
            try:
                messages = conn.framer.feed(data)
            except SipParseError as exc:
                log.info("closing TCP connection from %s: %s", conn.addr, exc)
                return
            for msg in messages:
                try:
                    self.on_message(msg, Source(conn.name, conn.addr, conn))
                except Exception:
                    log.exception("error handling %s message from %s", conn.name, conn.addr)

    def send(self, data: bytes, addr: tuple[str, int], transport: str = "UDP", conn: _TcpConnection | None = None) -> None:
        if transport in STREAM:
            conn = conn if conn is not None and not conn.closed else self._conns.get(addr)
            if conn is None or conn.closed:
                raise ConnectionError(f"no {transport} connection to {addr}")
            conn.send(data)
            return
        if self._udp is None or self._udp.transport is None:
            raise ConnectionError("UDP transport not started")
        self._udp.transport.sendto(data, addr)
