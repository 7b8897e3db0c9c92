"""The embedded runner hands its workers a shuffle's output in bounded pieces
(``pipeline.beam.embedded``): a flushed input stream, a partition cut into pieces of whole
elements, a large group read lazily."""

from types import SimpleNamespace

import apache_beam as beam
from apache_beam import coders
from apache_beam.coders.coder_impl import create_InputStream, create_OutputStream
from apache_beam.runners.portability.fn_api_runner import execution
from apache_beam.runners.portability.fn_api_runner.fn_runner import BundleManager
from apache_beam.runners.worker.data_plane import SizeBasedBufferingClosableOutputStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import core, window

from pipeline.beam import embedded
from pipeline.jobs import runner

PAGE = embedded.PAGE_BYTES


def test_a_large_group_reaches_its_worker_paged_and_a_small_one_whole():
    """A key's values past PAGE_BYTES reach the worker as a lazily read iterable (the busy host,
    the logo, the boilerplate bucket), so no worker holds a whole hot key as a list; small groups
    stay one element, as before (Beam's own threshold would page them too)."""

    def shape(kv):  # nested, so the worker gets it by value (it cannot import this module)
        key, values = kv
        return key, type(values) is list, sum(len(v) for v in values), sum(1 for _ in values)

    big = [("hot", "x" * 1000)] * (3 * PAGE // 1000)
    small = [("cold", "y" * 10)] * 3
    with runner.make_pipeline(runner.local_runner_args(["--direct_num_workers=1"])) as p:
        shapes = p | beam.Create(big + small) | beam.GroupByKey() | beam.Map(shape)
        assert_that(shapes, equal_to([("hot", False, len(big) * 1000, len(big)),
                                      ("cold", True, 30, 3)]))


def _filled_buffer() -> execution.GroupingBuffer:
    pre = coders.WindowedValueCoder(coders.TupleCoder([coders.StrUtf8Coder(), coders.BytesCoder()]))
    post = coders.WindowedValueCoder(
        coders.TupleCoder([coders.StrUtf8Coder(), coders.IterableCoder(coders.BytesCoder())]))
    buf = execution.GroupingBuffer(pre, post, core.Windowing(window.GlobalWindows()))
    out = create_OutputStream()
    for i in range(3000):  # 3,000 keys of 2 KB: ~6 MB, ~3 MB per worker
        pre.get_impl().encode_to_stream(window.GlobalWindows.windowed_value((f"k{i}", bytes(2000))), out, True)
    buf.append(out.get())
    return buf


def _decoded(pieces: list[bytes]) -> list:
    impl = _filled_buffer()._post_grouped_coder.get_impl()
    values = []
    for piece in pieces:
        stream = create_InputStream(piece)
        while stream.size() > 0:
            values.append(impl.decode_from_stream(stream, True).value)
    return values


def test_a_shuffle_is_partitioned_in_pieces_of_whole_elements_as_beam_orders_them():
    assert embedded.bound_worker_inputs()
    ours = _filled_buffer().partition(2)
    beams = execution.GroupingBuffer.partition.beams(_filled_buffer(), 2)
    for mine, whole in zip(ours, beams):
        assert len(whole) == 1 and len(mine) >= 3
        assert all(len(p) < PAGE + 4096 for p in mine)
        assert _decoded(mine) == _decoded(whole)


def test_a_stage_input_leaves_the_runner_in_messages_of_about_a_page():
    assert embedded.bound_worker_inputs()
    sent: list[bytes] = []
    stream = SizeBasedBufferingClosableOutputStream(close_callback=sent.append, flush_callback=sent.append)
    manager = SimpleNamespace(_worker_handler=SimpleNamespace(
        data_conn=SimpleNamespace(output_stream=lambda *_: stream)))
    pieces = [bytes([i]) * (PAGE // 3) for i in range(12)]  # 4 pages, as a partition's pieces
    BundleManager._send_input_to_worker(manager, "bundle", "read", pieces)
    assert len(sent) >= 4 and max(map(len, sent)) <= PAGE + PAGE // 3
    assert b"".join(sent) == b"".join(pieces)
