"""Other projects' layouts given to `inspect` and `train` are named in one line, not misread."""

import io
import json
import tarfile

import pytest
from corpora_support import write_mmc4, write_obelics
from export_support import sample, write_shards

from pipeline.cli import main as flamingo
from pipeline.export import mmc4
from pipeline.shards import format as sf
from pipeline.shards import layouts
from train.collate import DataError
from train.data import check_layout


def write_mmc4_tar(path, n=10):
    """A tar as OpenFlamingo's MMC4 loader reads it: KEY.json only, images as base64 inside."""
    with tarfile.open(path, "w") as tar:
        for i in range(n):
            s = sample(i, 1 + i % 2)
            data = json.dumps(mmc4.to_mmc4(s)).encode()
            info = tarfile.TarInfo(f"{s.key}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def run_inspect(capsys, *args):
    code = flamingo(["inspect", *map(str, args)])
    return code, capsys.readouterr()


def test_inspect_names_an_mmc4_tar_in_one_line(tmp_path, capsys):
    write_mmc4_tar(tmp_path / "mmc4-000.tar")
    code, out = run_inspect(capsys, tmp_path / "mmc4-000.tar")
    assert code == 1 and out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "MMC4-style samples" in lines[0] and "flamingo corpus --input" in lines[0]
    assert "a pair needs exactly one image member" not in out.err


def test_inspect_names_obelics_and_mmc4_files(tmp_path, capsys):
    write_obelics(tmp_path / "obelics.parquet", lambda n: f"http://x.example/{n}.jpg")
    write_mmc4(tmp_path / "docs.jsonl.gz", lambda n: f"http://x.example/{n}.jpg", "gz")
    for name, what in (("obelics.parquet", "an OBELICS parquet file"), ("docs.jsonl.gz", "an MMC4 jsonl file")):
        code, out = run_inspect(capsys, tmp_path / name)
        assert code == 1 and len(out.err.strip().splitlines()) == 1
        assert what in out.err and f"flamingo corpus --input {tmp_path / name}" in out.err


def test_inspect_names_a_directory_of_obelics_parquet(tmp_path, capsys):
    write_obelics(tmp_path / "part-0.parquet", lambda n: f"http://x.example/{n}.jpg")
    code, out = run_inspect(capsys, tmp_path)
    assert code == 2 and "is an OBELICS parquet file" in out.err and len(out.err.strip().splitlines()) == 1


def test_inspect_names_a_stray_mmc4_sample_among_ours(tmp_path, capsys):
    write_shards(tmp_path, n_shards=1, per_shard=2)
    with tarfile.open(tmp_path / "corpus-00000.tar", "a") as tar:
        data = json.dumps(mmc4.to_mmc4(sample(9, 1))).encode()
        info = tarfile.TarInfo("stray.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    code, out = run_inspect(capsys, tmp_path / "corpus-00000.tar")
    assert code == 1 and "2 valid" in out.out and "key stray: MMC4-style samples" in out.out


def test_train_stops_with_one_line_on_a_foreign_dataset(tmp_path):
    write_mmc4_tar(tmp_path / "mmc4-000.tar")
    with pytest.raises(DataError, match="dataset 'm3w': .*MMC4-style samples .* in an interleaved dataset; import MMC4"):
        check_layout([str(tmp_path / "mmc4-000.tar")], "interleaved", "m3w")
    write_obelics(tmp_path / "o.parquet", lambda n: f"http://x.example/{n}.jpg")
    with pytest.raises(DataError, match="is an OBELICS parquet file, not a shard"):
        check_layout([str(tmp_path / "o.parquet")], "interleaved", "m3w")
    ours = tmp_path / "ours"
    write_shards(ours, n_shards=1)
    check_layout([str(ours / "corpus-00000.tar")], "interleaved")  # ours, right kind: fine
    # ours, the other kind: left to the loader's own "no valid sample" error (tests/test_train_baddata.py)
    check_layout([str(ours / "corpus-00000.tar")], "pair")
    assert layouts.check_dataset([str(ours / "corpus-00000.tar")], "pair") == (
        f"{ours / 'corpus-00000.tar'}: the first 3 samples are interleaved sequence samples in a pair dataset; "
        'give this dataset kind = "interleaved"')


def test_a_few_foreign_samples_do_not_stop_a_dataset():
    assert layouts.first_samples_problem(["mmc4", "interleaved"], "x.tar", "interleaved") is None
    assert layouts.first_samples_problem(["invalid"] * 8, "x.tar") is None  # reported sample by sample
    s = sample(1, 1)
    assert layouts.sample_layout({"json": json.dumps(mmc4.to_mmc4(s)).encode()}) == "mmc4"
    assert layouts.sample_layout({"json": sf.encode(s)[0][1]}) is None
