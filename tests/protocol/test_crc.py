"""The CRC-32C function is the ``crc32c`` package's C function, loaded without the package's
``__init__`` (whose version lookup costs the broker's start-up)."""

from __future__ import annotations

import subprocess
import sys

import crc32c as package

from moldau.protocol.records.crc import crc32c


def test_the_check_value_of_crc32c() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)


def test_it_takes_any_buffer_and_agrees_with_the_package() -> None:
    data = bytearray(range(256)) * 5
    view = memoryview(data)[3:1000]
    assert crc32c(view) == crc32c(bytes(view)) == package.crc32c(view)
    assert crc32c(b"") == 0


def test_loading_it_does_not_import_the_metadata_machinery() -> None:
    code = (
        "import sys\n"
        "from moldau.protocol.records.crc import crc32c\n"
        "assert crc32c(b'123456789') == 0xE3069283\n"
        "print('importlib.metadata' in sys.modules, 'crc32c' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
