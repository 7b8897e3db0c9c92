"""flamingo view's sample access: the index's tar places, seeks, scans, stale and hostile
indexes and tars, search and document siblings (no browser, no server)."""

import io
import os
import shutil
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import view_support as vs

from pipeline.shards import format as sf
from pipeline.shards import index as shard_index
from pipeline.shards import reader
from pipeline.view import tarseek
from pipeline.view.catalog import Catalog


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("view-shards"))
    return {"interleaved": vs.write_interleaved(root), "pair": vs.write_pairs(root), "video": vs.write_video(root),
            "i2d": vs.write_img2dataset_like(root), "root": root}


def members_by_stream(path: str) -> dict[str, dict[str, bytes]]:
    with reader.open_shard(path) as f:
        return {raw.key: raw.members for raw in reader.iter_raw(f, path)}


def test_index_places_every_sample_exactly(shards):
    path = shards["interleaved"]
    rows = pq.read_table(path[:-4] + ".parquet").to_pylist()
    data = open(path, "rb").read()
    end = 0
    for row in rows:
        off, size = row[shard_index.OFFSET_COLUMN], row[shard_index.SIZE_COLUMN]
        assert off == end  # samples are contiguous, in index order
        header = tarfile.TarInfo.frombuf(data[off:off + 512], "utf-8", "surrogateescape")
        assert header.name == f"{row['key']}.json"
        end = off + size
    assert data[end:end + 1024] == b"\0" * 1024  # then the end-of-archive blocks
    pair_rows = pq.read_table(shards["pair"][:-4] + ".parquet").to_pylist()
    assert all(r[shard_index.SIZE_COLUMN] > 0 for r in pair_rows)


@pytest.mark.parametrize("kind", ["interleaved", "pair"])
def test_seek_reads_equal_stream_reads(shards, kind):
    path = shards[kind]
    expected = members_by_stream(path)
    catalog = Catalog([path])
    assert catalog.table(0).source == "index"
    for key, members in expected.items():
        region = catalog.read(0, key)
        assert region.problems == [] and region.members == members


def test_shard_without_places_is_scanned_once(shards, tmp_path):
    """An older shard: index without tar_offset/tar_size; rows from the index, places from a scan."""
    path = shutil.copy(shards["interleaved"], tmp_path / "old-00000.tar")
    table = pq.read_table(shards["interleaved"][:-4] + ".parquet")
    pq.write_table(table.drop([shard_index.OFFSET_COLUMN, shard_index.SIZE_COLUMN]), tmp_path / "old-00000.parquet")
    catalog = Catalog([str(path)])
    assert catalog.table(0).source == "index+scan"
    expected = members_by_stream(str(path))
    for key in expected:
        assert catalog.read(0, key).members == expected[key]


def test_img2dataset_shard_without_index_is_listed_from_a_scan(shards):
    catalog = Catalog([shards["i2d"]])
    table = catalog.table(0)
    assert table.source == "scan" and len(table) == 3
    assert table.columns["url"][1] == "https://img.example/i1.jpg" and table.columns["caption"][1] == "caption 1"
    assert set(catalog.read(0, "000000002").members) == {"jpg", "json", "txt"}


def test_stale_index_is_noticed_and_replaced_by_a_scan(shards, tmp_path):
    """An index copied from another shard: the first read finds another sample there, and the
    catalog rescans instead of showing the wrong sample."""
    path = shutil.copy(shards["interleaved"], tmp_path / "s-00000.tar")
    table = pq.read_table(shards["interleaved"][:-4] + ".parquet")
    offsets = table[shard_index.OFFSET_COLUMN].to_pylist()
    table = table.set_column(table.schema.get_field_index(shard_index.OFFSET_COLUMN), shard_index.OFFSET_COLUMN,
                             pa.array(offsets[1:] + offsets[:1], pa.int64()))  # every place shifted by one
    pq.write_table(table, tmp_path / "s-00000.parquet")
    catalog = Catalog([str(path)])
    key = table["key"].to_pylist()[3]
    assert catalog.read(0, key).members == members_by_stream(str(path))[key]
    assert catalog.table(0).source == "scan"
    assert "does not match the tar" in catalog.table(0).problems[0]


@pytest.mark.parametrize("offset,size", [(-512, 1024), (3, 1024), (0, 1 << 40), (1 << 40, 1024), (0, 0)])
def test_impossible_places_are_refused(shards, offset, size):
    with open(shards["interleaved"], "rb") as f:
        with pytest.raises(tarseek.StaleIndex):
            tarseek.read_region(f, offset, size, "k", os.path.getsize(shards["interleaved"]))


def hostile_tar(path) -> str:
    """Members a shard must never have read: '..', absolute, a link, a pickle; one good sample."""
    good = vs.five_image_sample()
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        def add(name, data=b"x", kind=tarfile.REGTYPE):
            info = tarfile.TarInfo(name)
            info.type, info.size = kind, len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add("../evil.json", b"{}")
        add("/etc/passwd.txt", b"root")
        info = tarfile.TarInfo("linky.jpg")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(info)
        add("pickled.pth", b"\x80\x04K\x01.")
        for name, data in sf.encode(good):
            add(name, data)
    return str(path)


def test_hostile_members_are_reported_never_read(tmp_path):
    catalog = Catalog([hostile_tar(tmp_path / "h.tar")])
    table = catalog.table(0)
    assert table.columns["key"][-1] == vs.FIVE_KEY
    for key in table.columns["key"][:-1]:
        region = catalog.read(0, key)
        assert region.members == {} and region.problems, key
    assert len(catalog.read(0, vs.FIVE_KEY).members) == 6


def test_corrupt_header_mid_shard_is_reported(shards, tmp_path):
    data = bytearray(open(shards["interleaved"], "rb").read())
    rows = pq.read_table(shards["interleaved"][:-4] + ".parquet").to_pylist()
    off = rows[5][shard_index.OFFSET_COLUMN]
    data[off:off + 100] = b"\xff" * 100  # the sixth sample's header
    path = tmp_path / "bad.tar"
    path.write_bytes(bytes(data))
    locations, problems = tarseek.scan_locations(open(path, "rb"))
    assert len(locations) == 5 and "corrupt tar header at byte" in problems[0]


def test_search_by_url_text_alt_and_paging(shards):
    catalog = Catalog([shards["interleaved"], shards["pair"], shards["video"]])
    everywhere = [0, 1, 2]
    found, more = catalog.search(vs.KNOWN_WORD.upper(), everywhere)  # case-insensitive, in the text only
    assert [row["key"] for _, row in found] == [vs.ordinary(12)[-2].key] and more is None
    assert [row["key"] for _, row in catalog.search("birds.example/five", everywhere)[0]] == [vs.FIVE_KEY]
    assert [row["key"] for _, row in catalog.search("heron photo 3", everywhere)[0]] == [vs.FIVE_KEY]
    assert {row["key"] for _, row in catalog.search("pelicans", everywhere)[0]} == {"000000002"}
    assert catalog.search("takes off from the water", everywhere)[0][0][0] == 2  # a video's txt
    page1, more = catalog.search("news.example", everywhere, limit=5)
    page2, done = catalog.search("news.example", everywhere, start=more, limit=50)
    assert len(page1) == 5 and len(page2) == 7 and done is None
    assert not {r["key"] for _, r in page1} & {r["key"] for _, r in page2}


def test_siblings_of_a_document(shards):
    catalog = Catalog([shards["interleaved"]])
    sample = vs.ordinary(12)[4]
    sibs = catalog.siblings(sample.doc_id)
    assert [seq for _, _, seq in sibs] == [0, 1, 2]
    assert sample.key in {k for _, k, _ in sibs}


def test_shards_on_another_filesystem(shards):
    """Any fsspec filesystem the jobs read (here fsspec's in-memory one): index, seeks, search."""
    import fsspec

    from pipeline.cli.view import shard_paths

    fs = fsspec.filesystem("memory")
    for suffix in (".tar", ".parquet", ".manifest.json"):
        fs.pipe(f"/view-test/corpus-00000{suffix}", open(shards["interleaved"][:-4] + suffix, "rb").read())
    paths = shard_paths(["memory://view-test/*.tar"])
    assert len(paths) == 1 and paths[0].endswith("/view-test/corpus-00000.tar") and "://" in paths[0]
    catalog = Catalog(paths)
    assert catalog.shards[0].kind == "interleaved" and catalog.table(0).source == "index"
    assert catalog.read(0, vs.FIVE_KEY).members == members_by_stream(shards["interleaved"])[vs.FIVE_KEY]
    assert [r["key"] for _, r in catalog.search(vs.KNOWN_WORD, [0])[0]] == [vs.ordinary(12)[-2].key]
