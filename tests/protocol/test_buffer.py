"""The uncommitted-audio buffer against a plain ``bytearray`` model of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openapiopenai.protocol.buffer import AudioBuffer

operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.binary(max_size=9)),
        st.tuples(st.just("take"), st.integers(min_value=-3, max_value=30)),
        st.tuples(st.just("take_all"), st.none()),
    ),
    max_size=40,
)


@given(st.sampled_from([1, 2]), st.integers(min_value=0, max_value=5), operations)
def test_buffer_behaves_like_one_bytearray_whatever_the_appends(
    bytes_per_sample: int, start: int, ops: list[tuple[str, object]]
) -> None:
    buffer = AudioBuffer(bytes_per_sample, start=start)
    model = bytearray()
    model_start = start
    for op, arg in ops:
        if op == "append":
            assert isinstance(arg, bytes)
            buffer.append(arg)
            model += arg
        else:
            model_end = model_start + len(model) // bytes_per_sample
            until = model_end if op == "take_all" else model_start + int(arg)  # type: ignore[call-overload]
            until = max(model_start, min(until, model_end))
            cut = (until - model_start) * bytes_per_sample
            expected = bytes(model[:cut])
            del model[:cut]
            model_start = until
            got = buffer.take_all() if op == "take_all" else buffer.take(until)
            assert got == expected
        rest = len(model) % bytes_per_sample
        assert len(buffer) == len(model)
        assert buffer.start == model_start
        assert buffer.end == model_start + len(model) // bytes_per_sample
        assert buffer.partial == (bytes(model[len(model) - rest :]) if rest else b"")


def test_a_turn_is_cut_out_of_the_appends_it_spans() -> None:
    buffer = AudioBuffer(2)
    for piece in (b"\x01\x00\x02", b"\x00", b"\x03\x00\x04\x00\x05"):
        buffer.append(piece)
    assert buffer.take(3) == b"\x01\x00\x02\x00\x03\x00"
    assert buffer.partial == b"\x05" and buffer.end == 4
    buffer.append(b"\x00")
    assert buffer.take_all() == b"\x04\x00\x05\x00" and len(buffer) == 0


def test_peek_copies_a_range_clamped_to_the_buffer_and_leaves_it() -> None:
    buffer = AudioBuffer(2, start=10)
    buffer.append(bytes(range(8)))  # samples 10..13
    assert buffer.peek(11, 13) == bytes(range(2, 6))
    assert buffer.peek(0, 100) == bytes(range(8))
    assert buffer.peek(13, 11) == b"" and buffer.peek(20, 30) == b""
    assert len(buffer) == 8
