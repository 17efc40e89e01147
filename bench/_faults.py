"""A small TCP proxy that breaks the road to the database on demand (tests and the soak bench).

    proxy = TcpProxy("127.0.0.1", 3306).start()     # the app connects to 127.0.0.1:proxy.port
    proxy.kill()                 # close every connection now (as a failover or a NAT reset does)
    proxy.down(); proxy.up()     # refuse connections, then accept them again
    proxy.freeze(); proxy.thaw() # hold every connection open but forward nothing
    proxy.drop_after_commit()    # the next COMMIT reaches the server; its answer never returns

Standard library only: one thread accepts, one thread per connection pumps both ways.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Self

CHUNK = 65536


class _Pair:
    """One client connection and its connection to the server."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client, self.server = client, server
        self.closed = False
        self.dropping = False  # a COMMIT went up: its answer is swallowed and the pair closed

    def close(self) -> None:
        self.closed = True
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class TcpProxy:
    """Forward 127.0.0.1:port to host:target_port, with faults switched on and off."""

    def __init__(self, host: str, target_port: int, port: int = 0) -> None:
        self.host, self.target_port, self.port = host, target_port, port
        self.frozen = False
        self.commits_to_drop = 0
        self.after_drop: Callable[[], None] | None = None
        self.dropped = 0
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopping = False

    # --- lifecycle
    def start(self) -> Self:
        self.up()
        return self

    def up(self) -> None:
        """Accept connections (again, on the same port)."""
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(
            target=self._accept, args=(listener,), daemon=True, name=f"proxy-accept-{self.port}"
        ).start()

    def down(self) -> None:
        """Refuse new connections and close the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.kill()

    def stop(self) -> None:
        self._stopping = True
        self.down()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- faults
    def kill(self) -> int:
        """Close every open connection; returns how many there were."""
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            pair.close()
        return len(pairs)

    def freeze(self) -> None:
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False

    def drop_after_commit(self, count: int = 1, then: Callable[[], None] | None = None) -> None:
        """The next `count` COMMITs reach the server, which commits; the answer is lost and the
        connection closed. `then` runs right after each drop (e.g. proxy.down)."""
        self.commits_to_drop, self.after_drop = count, then

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    # --- the pumps
    def _accept(self, listener: socket.socket) -> None:
        while not self._stopping:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: down()
            try:
                server = socket.create_connection((self.host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = _Pair(client, server)
            with self._lock:
                if self._listener is not listener:  # down() came while this one connected
                    pair.close()
                    continue
                self._pairs.add(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair: _Pair) -> None:
        sockets = [pair.client, pair.server]
        try:
            while not pair.closed:
                if self.frozen:
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(sockets, [], [], 0.05)
                for sock in readable:
                    if self.frozen or pair.closed:
                        break
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    if sock is pair.client:
                        self._to_server(pair, data)
                    elif pair.dropping:
                        self._drop(pair)  # the server's answer to COMMIT: swallowed
                        return
                    else:
                        pair.client.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            pair.close()
            with self._lock:
                self._pairs.discard(pair)

    def _to_server(self, pair: _Pair, data: bytes) -> None:
        if self.commits_to_drop > 0 and b"COMMIT" in data:
            with self._lock:
                if self.commits_to_drop > 0:
                    self.commits_to_drop -= 1
                    pair.dropping = True
        pair.server.sendall(data)

    def _drop(self, pair: _Pair) -> None:
        self.dropped += 1
        if self.after_drop is not None:
            self.after_drop()  # first: the client must not reconnect in between
        pair.close()
