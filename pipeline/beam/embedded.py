"""The embedded runner hands its workers a shuffle's output in bounded pieces, as Dataflow's
shuffle does; without this a worker's memory grows with the corpus.

Three things in Beam 2.77's FnApiRunner, all internals, are changed here, in the launcher only
(the worker side, its outbound queue, is capped in ``pipeline.beam.worker``):

* a stage's whole input for one worker goes out as one data-plane message (the runner writes
  every piece, then closes the stream), which the worker holds while it works through it: at
  20,000 pages of ``bench/scale.py`` that was tens of MB per stage, and the workers' peak RSS
  1.22-1.38x the 5,000-page peak. Here the stream is flushed every ``PAGE_BYTES``, so a worker
  holds a few messages of about that size at a time, whatever the corpus;
* for that, ``GroupingBuffer.partition``, which encodes a shuffle's output for one worker into
  one bytes object, cuts the same elements, in the same order, into pieces of ``PAGE_BYTES``;
* a key's values travel as one element, decoded into one list: a logo on every page or a busy
  image host is one list in one worker. With Beam's ``use_state_iterables`` the values past
  ``PAGE_BYTES`` are read through the state API as the worker iterates. Beam's own threshold is
  one value (a state round trip for every group of two: the corpus job's CPU rose by half), so
  the coder it emits is given ``PAGE_BYTES`` instead.

With these, ``bench/scale.py``'s largest worker peaks at 1.12-1.16x from N to 4N pages. If Beam
moves these internals, :func:`bound_worker_inputs` changes nothing and says so; the runner then
keeps its own behaviour (correct, unbounded).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# A shuffle's output reaches a worker in messages of about this size; a key's values past it are
# read lazily by the worker.
PAGE_BYTES = 1 << 20
# What the replaced partition reads of a GroupingBuffer (set in its __init__).
_BUFFER_FIELDS = {"_table", "_windowing", "_post_grouped_coder", "_key_coder", "_grouped_output"}


def bound_worker_inputs(page_bytes: int = PAGE_BYTES) -> bool:
    """Change the three internals (once per process); whether they are changed, i.e. whether the
    runner should be built with ``use_state_iterables``."""
    from apache_beam.runners.portability.fn_api_runner import execution, translations
    from apache_beam.runners.portability.fn_api_runner.fn_runner import BundleManager

    grouping, context = execution.GroupingBuffer, translations.TransformContext
    if getattr(grouping.partition, "beams", None) is not None:
        return True
    known = (_BUFFER_FIELDS <= set(grouping.__init__.__code__.co_names)
             and hasattr(BundleManager, "_send_input_to_worker") and hasattr(context, "with_state_iterables"))
    if not known:
        log.info("Beam's embedded runner has changed: its workers get each stage's input as Beam sends it")
        return False
    BundleManager._send_input_to_worker = _flushing_send(page_bytes)
    context.with_state_iterables = _paged_iterables(context.with_state_iterables, page_bytes)
    grouping.partition = _partition_in_pieces(grouping.partition, page_bytes)
    return True


def _flushing_send(page_bytes: int):
    """``BundleManager._send_input_to_worker``, flushing the stream every ``page_bytes``."""

    def send_input_to_worker(self, process_bundle_id, read_transform_id, byte_streams) -> None:
        data_out = self._worker_handler.data_conn.output_stream(process_bundle_id, read_transform_id)
        for byte_stream in byte_streams or []:
            data_out.write(byte_stream)
            if data_out.size() >= page_bytes:
                data_out.flush()  # every piece ends on an element
        data_out.close()

    return send_input_to_worker


def _paged_iterables(emit, page_bytes: int):
    """``TransformContext.with_state_iterables`` whose state-backed coders page past ``page_bytes``."""
    from apache_beam.portability import common_urns

    urn = common_urns.coders.STATE_BACKED_ITERABLE.urn

    def with_state_iterables(self, coder_id):
        new_id = emit(self, coder_id)
        coder = self.components.coders[new_id]
        if coder.spec.urn == urn:
            coder.spec.payload = str(page_bytes).encode("ascii")  # the write threshold, in bytes
        return new_id

    return with_state_iterables


def _partition_in_pieces(whole_partition, page_bytes: int):
    """``GroupingBuffer.partition`` as Beam's (same elements, order and worker for each key), each
    worker's share cut into pieces of ``page_bytes`` instead of one bytes object."""
    from apache_beam.coders.coder_impl import create_OutputStream

    def partition(self, n: int) -> list[list[bytes]]:
        if self._grouped_output:
            return self._grouped_output
        per_key = _per_key(self._windowing)
        coder_impl = self._post_grouped_coder.get_impl()
        key_coder_impl = self._key_coder.get_impl()
        pieces: list[list[bytes]] = [[] for _ in range(n)]
        streams = [create_OutputStream() for _ in range(n)]
        for idx, (encoded_key, values) in enumerate(self._table.items()):
            out = streams[idx % n]
            for element in per_key(key_coder_impl.decode(encoded_key), values):
                coder_impl.encode_to_stream(element, out, True)
            if out.size() >= page_bytes:
                pieces[idx % n].append(out.get())
                streams[idx % n] = create_OutputStream()
        for ix, out in enumerate(streams):
            if out.size() or not pieces[ix]:
                pieces[ix].append(out.get())
        self._grouped_output = pieces
        self._table.clear()
        return pieces

    partition.beams = whole_partition
    return partition


def _per_key(windowing):
    """(key, values) -> the windowed grouped elements Beam's partition emits for them."""
    from apache_beam.runners.portability.fn_api_runner import execution

    if not windowing.is_default():
        return execution.trigger.create_trigger_driver(windowing, True).process_entire_key
    pane = execution.windowed_value.PaneInfo(
        is_first=True, is_last=True, timing=execution.windowed_value.PaneInfoTiming.ON_TIME,
        index=0, nonspeculative_index=0)
    at_end = execution.GlobalWindows.windowed_value(
        None, timestamp=execution.GlobalWindow().max_timestamp(), pane_info=pane).with_value
    return lambda key, values: [at_end((key, values))]
