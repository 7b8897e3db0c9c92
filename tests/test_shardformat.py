"""Shard format: round trips through real tars, and every malformed case rejected clearly."""

import io
import json
import tarfile

import pytest
from conftest import jpeg_bytes

from pipeline.shards import format as sf
from pipeline.shards import reader
from pipeline.shards import writer as sw


def interleaved(key="k1", n_images=2, tokens=40):
    images, segments = [], [sf.TextSegment("Intro text. ")]
    for i in range(n_images):
        data = jpeg_bytes(64 + i, 48, seed=i)
        images.append(sf.ImageRef(f"https://ex.com/{i}.jpg", sf.sha256_hex(data), 64 + i, 48, f"alt {i}", data=data))
        segments += [sf.ImageSlot(i), sf.TextSegment(f"Text after image {i}. ")]
    return sf.InterleavedSample(
        key=key, url="https://ex.com/page", doc_id="d1", seq_index=0, num_tokens=tokens,
        tokenizer="tok", segments=segments, images=images,
    )


def pair(key="p1"):
    data = jpeg_bytes(80, 60)
    return sf.PairSample(key=key, url="https://ex.com/a.jpg", caption="a red bus", image=data,
                         width=80, height=60, sha256=sf.sha256_hex(data), extra={"page_url": "https://ex.com/"})


def members_of(sample):
    return {name.split(".", 1)[1]: data for name, data in sf.encode(sample)}


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_round_trip_both_kinds_through_real_tar(tmp_path):
    samples = [interleaved("a"), interleaved("b", n_images=0), pair("c")]
    sw.write_shard(str(tmp_path), "inter", samples[:2])
    sw.write_shard(str(tmp_path), "pairs", samples[2:])
    back = list(reader.iter_samples([str(tmp_path / "inter.tar"), str(tmp_path / "pairs.tar")]))
    assert [s.key for s in back] == ["a", "b", "c"]
    assert back[0].segments == samples[0].segments
    assert [i.data for i in back[0].images] == [i.data for i in samples[0].images]
    assert back[0].images[1].alt == "alt 1" and back[0].images[1].width == 65
    assert back[2].caption == "a red bus" and back[2].image == samples[2].image
    assert back[2].extra["page_url"] == "https://ex.com/"


def test_layout_text_places_image_and_chunk_tokens():
    s = interleaved()
    assert sf.layout_text(s.segments) == (
        "Intro text. <image>Text after image 0. <|endofchunk|><image>Text after image 1. <|endofchunk|>"
    )


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda m: m.pop("0.jpg"), "missing member KEY.0.jpg"),
        (lambda m: m.__setitem__("json", b"{not json"), "not valid JSON"),
        (lambda m: m.__setitem__("1.jpg", b"\xff\xd8garbage"), "sha256"),
        (lambda m: m.__setitem__("weights.pth", b"x"), "'pth' is not allowed"),
        (lambda m: m.__setitem__("obj.pyd", b"x"), "'pyd' is not allowed"),
        (lambda m: m.__setitem__("7.jpg", m["0.jpg"]), "not referenced"),
    ],
)
def test_validator_rejects_malformed_members(mutate, expected):
    m = members_of(interleaved())
    mutate(m)
    problems = sf.validate("k1", m)
    assert any(expected in p for p in problems), problems


def _with_meta(change):
    m = members_of(interleaved())
    meta = json.loads(m["json"])
    change(meta)
    m["json"] = json.dumps(meta).encode()
    return m


def test_validator_image_that_does_not_decode():
    m = _with_meta(lambda meta: meta["images"][0].update(sha256=""))
    m["0.jpg"] = b"\xff\xd8\xff\xe0 definitely not a jpeg"
    assert any("does not decode" in p for p in sf.validate("k1", m))


def test_validator_unknown_schema_version():
    m = _with_meta(lambda meta: meta.update(schema_version=99))
    assert any("unknown schema_version 99" in p for p in sf.validate("k1", m))


def test_validator_too_many_images_and_tokens():
    m = members_of(interleaved(n_images=6, tokens=300))
    problems = sf.validate("k1", m, max_images=5, max_tokens=256)
    assert any("6 images, more than the limit of 5" in p for p in problems)
    assert any("300 tokens" in p for p in problems)
    assert sf.validate("k1", m, max_images=None, max_tokens=None) == []


def test_validator_dotted_key_and_wrong_size():
    assert any("no dots" in p for p in sf.validate("a.b", members_of(interleaved())))
    m = _with_meta(lambda meta: meta["images"][0].update(width=999))
    assert any("metadata says 999x48" in p for p in sf.validate("k1", m))
    with pytest.raises(sf.ShardFormatError, match="no dots"):
        sf.encode(interleaved(key="a.b"))


def test_validator_bad_segments():
    m = _with_meta(lambda meta: meta["segments"].append({"image": 5}))
    assert any("image slots" in p for p in sf.validate("k1", m))
    m = _with_meta(lambda meta: meta["segments"].append({"video": 1}))
    assert any("segment" in p for p in sf.validate("k1", m))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../evil.json", "escapes the archive"),
        ("/etc/evil.json", "absolute path"),
        ("sub/k.json", "subdirectory"),
        ("k.pyd", "'pyd' is not allowed"),
        ("k.pth", "'pth' is not allowed"),
    ],
)
def test_reader_rejects_hostile_member_names(name, expected):
    raw = tar_bytes([(name, b"{}")])
    [sample] = list(reader.iter_raw(io.BytesIO(raw)))
    assert any(expected in p for p in sample.problems), sample.problems
    assert sample.members == {}  # never read, never extracted


def test_reader_rejects_links_and_truncated_tars():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("k.json")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    [s] = list(reader.iter_raw(io.BytesIO(buf.getvalue())))
    assert any("not a regular file" in p for p in s.problems)
    good = tar_bytes(sf.encode(interleaved()))
    *_, last = list(reader.iter_raw(io.BytesIO(good[:1500])))  # inside the first image
    assert any("truncated" in p for p in last.problems)


def test_img2dataset_layout_pair_without_schema_version():
    data = jpeg_bytes(32, 32)
    meta = {"url": "http://x/y.jpg", "caption": "cap", "key": "000000001", "status": "success",
            "error_message": None, "width": 32, "height": 32, "original_width": 500,
            "original_height": 500, "exif": "{}", "sha256": sf.sha256_hex(data)}
    members = {"jpg": data, "txt": b"cap", "json": json.dumps(meta).encode()}
    assert sf.validate("000000001", members) == []
    s = sf.decode("000000001", members)
    assert isinstance(s, sf.PairSample) and s.caption == "cap" and s.extra["original_width"] == 500


def test_plain_webdataset_reads_our_shards(tmp_path):
    import webdataset as wds

    sw.write_shard(str(tmp_path), "s", [interleaved("a"), interleaved("b", n_images=1)])
    got = list(wds.WebDataset(str(tmp_path / "s.tar"), shardshuffle=False))
    assert [g["__key__"] for g in got] == ["a", "b"]
    meta = json.loads(got[0]["json"])
    assert meta["images"][1]["member"] == "1.jpg" and got[0]["1.jpg"] == interleaved("a").images[1].data
