"""Properties of sealing: round trip for any input, and any change to the place fails."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from keys.errors import DecryptionError
from keys.service import Binding, KeyService
from keys.unsafe import UnsafeMemoryKekBackend

SERVICE = KeyService(kek=UnsafeMemoryKekBackend())
ANNA = uuid.uuid4()
_, KEY = SERVICE.new_data_key(ANNA)

places = st.builds(
    Binding,
    table=st.text(min_size=1, max_size=20),
    column=st.text(min_size=1, max_size=20),
    row=st.text(min_size=1, max_size=40),
)


@given(plaintext=st.binary(max_size=4096), place=places)
def test_round_trip(plaintext: bytes, place: Binding) -> None:
    assert KEY.open(KEY.seal(plaintext, place), place) == plaintext


@given(plaintext=st.binary(max_size=256), place=places, other=places)
def test_another_place_never_opens(plaintext: bytes, place: Binding, other: Binding) -> None:
    sealed = KEY.seal(plaintext, place)
    if other == place:
        return
    try:
        KEY.open(sealed, other)
    except DecryptionError:
        return
    raise AssertionError("a ciphertext opened in another place")


@settings(max_examples=200)
@given(
    plaintext=st.binary(min_size=1, max_size=256),
    position=st.integers(min_value=0),
    bit=st.integers(0, 7),
)
def test_any_flipped_bit_is_detected(plaintext: bytes, position: int, bit: int) -> None:
    place = Binding("t", "c", "r")
    sealed = bytearray(KEY.seal(plaintext, place))
    sealed[position % len(sealed)] ^= 1 << bit
    try:
        KEY.open(bytes(sealed), place)
    except DecryptionError:
        return
    raise AssertionError("a tampered ciphertext opened")
