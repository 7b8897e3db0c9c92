"""`flamingo inspect` on good and bad shards, through the real CLI entry point."""

import io
import json
import tarfile

from test_shardformat import interleaved, members_of, pair

from pipeline.cli import main
from pipeline.shards import writer as sw


def test_inspect_good_shards_human_and_json(tmp_path, capsys):
    sw.write_shard(str(tmp_path), "a", [interleaved("x", 2, 40), interleaved("y", 1, 100)])
    sw.write_shard(str(tmp_path), "b", [pair("z")])
    assert main(["inspect", str(tmp_path), "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert "[image 64x48 https://ex.com/0.jpg alt=\"alt 0\"]" in out
    assert "samples 3 valid (2 interleaved, 1 pair), 0 invalid" in out
    assert main(["inspect", str(tmp_path / "*.tar"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["shards"] == 2 and d["samples"] == 3 and d["images"] == 4
    assert d["tokens_per_sample"]["max"] == 100 and d["images_per_sample"]["max"] == 2


def test_inspect_bad_shard_names_shard_and_key(tmp_path, capsys):
    good = members_of(interleaved("good"))
    bad = members_of(interleaved("bad"))
    bad.pop("1.jpg")
    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as tar:
        for key, members in (("good", good), ("bad", bad)):
            for suffix, data in members.items():
                info = tarfile.TarInfo(f"{key}.{suffix}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    assert main(["inspect", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"INVALID {path} key bad: image 1: missing member KEY.1.jpg" in out
    assert "samples 1 valid" in out


def test_inspect_escapes_control_characters(tmp_path, capsys):
    s = interleaved("x")
    s.segments[0].text = "evil \x1b[2J clear"
    sw.write_shard(str(tmp_path), "a", [s])
    assert main(["inspect", str(tmp_path), "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\u001b[2J" in out


def test_inspect_missing_path_and_pipe_urls(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nothing*.tar")]) == 2
    assert main(["inspect", "pipe:cat /etc/passwd"]) == 2


def test_inspect_reads_fsspec_urls(tmp_path, capsys):
    import fsspec

    sw.write_shard(str(tmp_path), "a", [interleaved("x")])
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/shards/a.tar", (tmp_path / "a.tar").read_bytes())
    assert main(["inspect", "memory://bucket/shards/*.tar", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 1
