"""A small, strict Debug Adapter Protocol client for kdap's end-to-end tests (stdlib only).

It talks to an adapter over a subprocess's stdin/stdout (DapClient.spawn) or a TCP socket
(DapClient.connect). A reader thread parses Content-Length framing strictly (header lines must
end in CRLF; Content-Length is required) and keeps every message received. Every wait is bounded;
a wait that fails raises DapTimeout with the last messages received, or DapClosed when the adapter
closed the stream first.

    client = DapClient.spawn([kdap, "dap"], stderr_path="kdap.stderr")
    client.request_ok("initialize", {"adapterID": "kdap", "linesStartAt1": True})
    stopped = client.wait_event("stopped", timeout=30)
    client.close()
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from typing import Any, Callable, Optional

Message = dict[str, Any]


class DapError(AssertionError):
    """A response came back with success=false, or the protocol was broken."""


class DapTimeout(DapError):
    """A bounded wait ran out."""


class DapClosed(DapError):
    """The adapter closed its output before the awaited message arrived."""


class DapClient:
    def __init__(self, reader, writer, proc: Optional[subprocess.Popen] = None,
                 sock: Optional[socket.socket] = None, transcript_path: Optional[str] = None):
        self._reader = reader
        self._writer = writer
        self.proc = proc
        self._sock = sock
        self._transcript = open(transcript_path, "a", encoding="utf-8") if transcript_path else None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._next_seq = 1
        self.messages: list[Message] = []  # everything received, in order
        self._consumed: set[int] = set()  # indexes of events already returned by wait_event
        self.protocol_errors: list[str] = []
        self.closed = False  # the adapter's output reached EOF
        self._closing = False  # close() was called
        self._thread = threading.Thread(target=self._read_loop, name="dap-reader", daemon=True)
        self._thread.start()

    # ----- construction -----
    @classmethod
    def spawn(cls, argv: list[str], stderr_path: str, env: Optional[dict] = None,
              cwd: Optional[str] = None, transcript_path: Optional[str] = None) -> "DapClient":
        """Starts an adapter speaking DAP on stdio; its stderr goes to stderr_path."""
        with open(stderr_path, "ab") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    env=env, cwd=cwd, bufsize=0)
        return cls(proc.stdout, proc.stdin, proc=proc, transcript_path=transcript_path)

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 10,
                transcript_path: Optional[str] = None) -> "DapClient":
        """Connects to an adapter listening on host:port (one attempt, bounded by timeout)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        return cls(sock.makefile("rb", buffering=0), sock.makefile("wb", buffering=0), sock=sock,
                   transcript_path=transcript_path)

    # ----- wire -----
    def _log(self, direction: str, msg: Any) -> None:
        if self._transcript:
            self._transcript.write(f"{time.monotonic():.3f} {direction} {json.dumps(msg)}\n")
            self._transcript.flush()

    def _read_exact(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = self._reader.read(left)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _read_line(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\n"):
            c = self._reader.read(1)
            if not c:
                raise EOFError
            line += c
            if len(line) > 1024:
                raise DapError(f"header line too long: {bytes(line[:80])!r}")
        return bytes(line)

    def _read_message(self) -> Message:
        length = None
        while True:
            line = self._read_line()
            if not line.endswith(b"\r\n"):
                raise DapError(f"header line not terminated by CRLF: {line!r}")
            if line == b"\r\n":
                break
            name, sep, value = line[:-2].decode("ascii").partition(":")
            if not sep:
                raise DapError(f"malformed header line: {line!r}")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            raise DapError("message without Content-Length")
        msg = json.loads(self._read_exact(length).decode("utf-8"))
        if not isinstance(msg, dict) or "type" not in msg or "seq" not in msg:
            raise DapError(f"not a DAP message: {msg!r}")
        return msg

    def _read_loop(self) -> None:
        try:
            while True:
                msg = self._read_message()
                self._log("<-", msg)
                with self._cond:
                    self.messages.append(msg)
                    self._cond.notify_all()
        except EOFError:
            pass
        except (OSError, ValueError) as e:  # ValueError covers JSON, UTF-8 and int() errors
            if not self._closing:
                self.protocol_errors.append(f"{type(e).__name__}: {e}")
        except DapError as e:
            self.protocol_errors.append(str(e))
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def send(self, msg: Message) -> int:
        """Sends a message, filling in its seq; returns the seq."""
        with self._send_lock:
            msg = dict(msg, seq=self._next_seq)
            self._next_seq += 1
            body = json.dumps(msg).encode("utf-8")
            self._log("->", msg)
            data = memoryview(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            while data:  # raw pipes and sockets may take part of a write
                data = data[self._writer.write(data):]
            self._writer.flush()
            return msg["seq"]

    # ----- waiting -----
    def _describe_last(self, n: int = 8) -> str:
        with self._cond:
            last = self.messages[-n:]
        text = "\n".join("  " + json.dumps(m)[:400] for m in last) or "  (none)"
        errors = f"\nprotocol errors: {self.protocol_errors}" if self.protocol_errors else ""
        return f"last {len(last)} of {len(self.messages)} messages received:\n{text}{errors}"

    def _wait_for(self, find: Callable[[], Any], what: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = find()
                if found is not None:
                    return found
                if self.closed:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        if self.closed:
            raise DapClosed(f"adapter closed the stream while waiting for {what}; {self._describe_last()}")
        raise DapTimeout(f"no {what} within {timeout}s; {self._describe_last()}")

    def wait_response(self, request_seq: int, timeout: float = 30) -> Message:
        def find():
            for m in self.messages:
                if m.get("type") == "response" and m.get("request_seq") == request_seq:
                    return m
            return None
        return self._wait_for(find, f"response to request seq {request_seq}", timeout)

    def request(self, command: str, arguments: Optional[dict] = None, timeout: float = 30) -> Message:
        """Sends a request and returns its response (successful or not)."""
        msg: Message = {"type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        seq = self.send(msg)
        resp = self.wait_response(seq, timeout)
        if resp.get("command") != command:
            raise DapError(f"response to {command!r} names command {resp.get('command')!r}")
        return resp

    def request_ok(self, command: str, arguments: Optional[dict] = None, timeout: float = 30) -> Message:
        """Like request(), but raises DapError unless the response says success."""
        resp = self.request(command, arguments, timeout)
        if not resp.get("success"):
            raise DapError(f"{command} failed: {resp.get('message')!r} {json.dumps(resp.get('body'))}")
        return resp

    def wait_event(self, name: str, timeout: float = 30,
                   predicate: Optional[Callable[[Message], bool]] = None) -> Message:
        """Returns the earliest event called name (and matching predicate) that no earlier
        wait_event returned. Events that arrived before the call count."""
        def find():
            for i, m in enumerate(self.messages):
                if (i not in self._consumed and m.get("type") == "event" and m.get("event") == name
                        and (predicate is None or predicate(m))):
                    self._consumed.add(i)
                    return m
            return None
        return self._wait_for(find, f"event {name!r}", timeout)

    def wait_reverse_request(self, command: str, timeout: float = 30) -> Message:
        """Waits for a request sent by the adapter (runInTerminal, startDebugging)."""
        def find():
            for i, m in enumerate(self.messages):
                if i not in self._consumed and m.get("type") == "request" and m.get("command") == command:
                    self._consumed.add(i)
                    return m
            return None
        return self._wait_for(find, f"reverse request {command!r}", timeout)

    def respond(self, request: Message, body: Optional[dict] = None, success: bool = True,
                message: Optional[str] = None) -> None:
        resp: Message = {"type": "response", "request_seq": request["seq"], "command": request["command"],
                         "success": success}
        if body is not None:
            resp["body"] = body
        if message is not None:
            resp["message"] = message
        self.send(resp)

    # ----- assertions over what was received -----
    def events(self, name: Optional[str] = None) -> list[Message]:
        with self._cond:
            return [m for m in self.messages if m.get("type") == "event" and (name is None or m.get("event") == name)]

    def output(self, category: Optional[str] = None) -> str:
        """All text of output events (of one category, if given), concatenated."""
        return "".join(e.get("body", {}).get("output", "") for e in self.events("output")
                       if category is None or e.get("body", {}).get("category", "console") == category)

    def wait_output(self, text: str, timeout: float = 30, category: Optional[str] = None) -> str:
        """Waits until the concatenated output (of one category, if given) contains text."""
        def find():
            out = "".join(m.get("body", {}).get("output", "") for m in self.messages
                          if m.get("type") == "event" and m.get("event") == "output"
                          and (category is None or m.get("body", {}).get("category", "console") == category))
            return out if text in out else None
        return self._wait_for(find, f"output containing {text!r}", timeout)

    def assert_seq_strictly_increasing(self) -> None:
        with self._cond:
            seqs = [m.get("seq") for m in self.messages]
        for i, (a, b) in enumerate(zip(seqs, seqs[1:])):
            if not isinstance(a, int) or not isinstance(b, int) or b <= a:
                raise AssertionError(f"adapter seq not strictly increasing at message {i + 1}: {a!r} then {b!r}")

    def assert_no_protocol_errors(self) -> None:
        if self.protocol_errors:
            raise AssertionError(f"DAP framing/protocol errors: {self.protocol_errors}")

    # ----- shutdown -----
    def wait_closed(self, timeout: float = 10) -> None:
        """Waits until the adapter closes its output stream."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed and time.monotonic() < deadline:
                self._cond.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        if not self.closed:
            raise DapTimeout(f"adapter did not close its output within {timeout}s; {self._describe_last()}")

    def wait_exit(self, timeout: float = 10) -> int:
        """Waits for a spawned adapter to exit; returns its exit code."""
        assert self.proc is not None, "not a spawned adapter"
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DapTimeout(f"adapter pid {self.proc.pid} did not exit within {timeout}s") from None

    def close(self, timeout: float = 5) -> Optional[int]:
        """Closes our side; kills a spawned adapter that has not exited within timeout.
        Returns the adapter's exit code (None for a socket)."""
        self._closing = True
        try:
            self._writer.close()
        except OSError:
            pass
        code = None
        if self.proc is not None:
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait(timeout=5)
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        self._thread.join(timeout=timeout)
        try:
            self._reader.close()
        except OSError:
            pass
        if self._transcript:
            self._transcript.close()
            self._transcript = None
        return code

    def __enter__(self) -> "DapClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
