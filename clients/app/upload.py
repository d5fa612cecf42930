"""Read a multipart form whose last field is a file, and stream that file on, unspooled.

Starlette's form parser writes files over 1 MiB to a temporary file on disk; a resident's
file must never touch the disk in plain text (docs/architecture.md, "File content in the
database"). This reader uses python-multipart's push parser directly: the small fields
before the file are collected (so the CSRF token is checked before any file byte is
forwarded), then the file's bytes are yielded as they arrive, to be sent to the API's
streaming upload. The form must put the file input last; fields after it are ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import Message

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request


class UploadRefused(Exception):
    """Not a form we can read, a field too large, or a file over the limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "malformed" | "field-too-large" | "file-too-large"


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    header_name: bytes = b""
    header_value: bytes = b""
    data: bytearray = field(default_factory=bytearray)


@dataclass
class FileField:
    name: str
    filename: str
    media_type: str
    chunks: AsyncIterator[bytes]


class StreamedForm:
    def __init__(self, request: Request, *, max_field_bytes: int, max_file_bytes: int) -> None:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise UploadRefused("malformed")
        self._source = request.stream().__aiter__()
        self._max_field = max_field_bytes
        self._max_file = max_file_bytes
        self.fields: dict[str, str] = {}
        self.file: FileField | None = None
        self._part = _Part()
        self._in_file = False
        self._file_ready = False
        self._file_done = False
        self._file_bytes = 0
        self._out: list[bytes] = []
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    # -- parser callbacks -------------------------------------------------------------------

    def _begin(self) -> None:
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._part.header_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._part.header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._part.header_name.decode("latin-1").lower()
        self._part.headers[name] = self._part.header_value.decode("utf-8", "replace")
        self._part.header_name = b""
        self._part.header_value = b""

    def _headers_done(self) -> None:
        if self.file is not None:
            return  # fields after the file are ignored
        message = Message()
        message["content-disposition"] = self._part.headers.get("content-disposition", "")
        name = message.get_param("name", header="content-disposition")
        filename = message.get_filename()
        if filename is not None:
            self._in_file = True
            self._file_ready = True
            self.file = FileField(
                name=str(name or ""),
                filename=filename,
                media_type=self._part.headers.get("content-type", "application/octet-stream"),
                chunks=self._chunks(),
            )

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._file_done:
            return
        if self._in_file:
            self._file_bytes += end - start
            if self._file_bytes > self._max_file:
                raise UploadRefused("file-too-large")
            self._out.append(bytes(data[start:end]))
            return
        self._part.data += data[start:end]
        if len(self._part.data) > self._max_field:
            raise UploadRefused("field-too-large")

    def _end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True
            return
        if self.file is not None:
            return
        message = Message()
        message["content-disposition"] = self._part.headers.get("content-disposition", "")
        name = message.get_param("name", header="content-disposition")
        if isinstance(name, str):
            self.fields[name] = self._part.data.decode("utf-8", "replace")

    # -- reading --------------------------------------------------------------------------

    async def _feed(self) -> bool:
        try:
            chunk = await self._source.__anext__()
        except StopAsyncIteration:
            return False
        if chunk:
            self._parser.write(chunk)
        return True

    async def read_fields(self) -> None:
        """Read up to the file's first byte (or the end): `fields` and `file` are then set."""
        while not self._file_ready:
            if not await self._feed():
                self._parser.finalize()
                return

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            while self._out:
                yield self._out.pop(0)
            if self._file_done:
                return
            if not await self._feed():
                raise UploadRefused("malformed")  # the body ended inside the file
