"""A TCP proxy we control, between a service and what it calls (another service, the database).

It can do what a network and a failing server do: hold back the answers (the call went
through, the caller never hears), and go away (every open connection dropped, new ones
refused) until it comes back on the same port, or go silent (every open connection dropped, new
ones accepted and never answered, as behind a network partition).
"""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.hold = False
        self.silent = False
        self.held = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Gone: new connections are refused and every open one is dropped."""
        if self.server:
            self.server.close()
            self.server = None
        self._drop_open()

    def go_silent(self) -> None:
        self.silent = True
        self._drop_open()

    def _drop_open(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.silent:
            self._open.add(writer)
            with contextlib.suppress(OSError, ConnectionError):
                await reader.read()  # nothing goes through; wait for the caller to give up
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer),
            self._pipe(up_reader, writer, back=True),
            return_exceptions=True,
        )
        self._open.difference_update((writer, up_writer))

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, back: bool = False
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await source.read(65536):
                if back and self.hold:
                    self.held.set()
                    continue  # swallowed: the caller never gets this answer
                sink.write(data)
                await sink.drain()
        sink.close()
