import hashlib
import io

import pytest

from mlops.hashing import BLOCK, StreamDigest, sha256_file, sha256_stream

PAYLOAD = bytes(range(256)) * (BLOCK // 256 * 2 + 7)  # a little more than two blocks


def test_a_stream_is_hashed_from_its_position_and_rewound():
    handle = io.BytesIO(b"skip" + PAYLOAD)
    handle.read(4)
    assert sha256_stream(handle) == (hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    assert handle.tell() == 0


def test_an_empty_stream():
    assert sha256_stream(io.BytesIO(b"")) == (hashlib.sha256(b"").hexdigest(), 0)


def test_an_unseekable_stream_is_not_rewound():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def read(self, size=-1):
            return self.data.read(size)

    assert sha256_stream(Pipe(b"abc"))[0] == hashlib.sha256(b"abc").hexdigest()


def test_a_file_is_hashed_whole(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(PAYLOAD)
    assert sha256_file(path) == hashlib.sha256(PAYLOAD).hexdigest()
    assert sha256_file(str(path)) == hashlib.sha256(PAYLOAD).hexdigest()


@pytest.mark.parametrize("cut", [0, 1, 1000, len(PAYLOAD)])
def test_a_stream_digest_fed_in_blocks(cut):
    digest = StreamDigest()
    digest.update(PAYLOAD[:cut])
    digest.update(PAYLOAD[cut:])
    assert digest.hexdigest() == hashlib.sha256(PAYLOAD).hexdigest()
    assert digest.size == len(PAYLOAD)
