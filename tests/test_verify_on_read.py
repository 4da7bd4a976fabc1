"""Every job verifies what it reads: an input another job made is hashed and compared with that
job's provenance record before anything parses it (gmnrep.provenance.records.verified_inputs)."""

import h5py
import numpy as np
import pytest

from gmnrep.core import h5io
from gmnrep.core.errors import DataError
from gmnrep.core.hashing import sha256_file
from gmnrep.provenance import records
from gmnrep.representations import dump_file


def job(tmp_path, rule, inputs, outputs, **wildcards):
    """records.recorded_job of a one-line job, with results/ as the workflow's folder."""
    script = tmp_path / f"{rule}.py"
    script.write_text("# a rule script\n")
    return records.recorded_job(
        rule=rule,
        wildcards=wildcards,
        inputs=inputs,
        outputs=outputs,
        params={},
        code={},
        script=script,
        log=tmp_path / f"logs/{rule}.log",
        title=rule,
        audit_dir=tmp_path / "results/audit",
        workflow_roots=[tmp_path / "results"],
    )


def make_shard(tmp_path):
    """An HDF5 file like an INR shard, made by a recorded job."""
    shard = tmp_path / "results/inrs/digits/shard-0.h5"
    shard.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with job(tmp_path, "fit_inr_shard", [], [shard], dataset="digits", shard="0"):
        h5io.write_h5(shard, {"weights/0/W": rng.normal(size=(40, 32, 2)).astype(np.float32),
                              "psnr": rng.uniform(20, 40, size=40)}, {"dataset": "digits"})  # fmt: skip
    return shard


def flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def weight_offset(path, name):
    """A byte inside dataset `name` whose flip keeps a finite float32 (the lowest mantissa byte)."""
    with h5py.File(path, "r") as f:
        return f[name].id.get_offset() + 4 * 17  # float32 little-endian: byte 0 is mantissa


def test_an_intact_input_is_read_and_its_hash_recorded_once(tmp_path):
    shard = make_shard(tmp_path)
    model = tmp_path / "results/models/m.pt"
    model.parent.mkdir(parents=True)
    with job(tmp_path, "train_model", [shard], [model], seed="0"):
        arrays, _ = h5io.read_h5(shard, ("weights/0/W",))
        model.write_text(str(arrays["weights/0/W"].sum()))
    record = records.read_record(tmp_path / "results/audit/jobs/train_model/seed-0.json")
    assert record.inputs == [records.file_entry(shard)]
    assert "WARNING" not in (tmp_path / "logs/train_model.log").read_text()


def consumer_refuses(tmp_path, path, monkeypatch):
    """Run a consumer of `path`; return the DataError it stops with. h5py is never asked to open the file."""
    opened = []
    monkeypatch.setattr(h5py, "File", lambda *args, **kwargs: opened.append(args) or pytest.fail("h5py opened it"))
    output = tmp_path / "results/models/m.pt"
    output.parent.mkdir(parents=True, exist_ok=True)
    with pytest.raises(DataError) as info, job(tmp_path, "train_model", [path], [output], seed="0"):
        h5io.read_h5(path, ("weights/0/W",))
        output.write_text("made from a damaged file")
    assert not opened and not output.exists()
    assert not (tmp_path / "results/audit/jobs/train_model/seed-0.json").exists()
    return info.value


def test_a_flipped_byte_in_weight_data_stops_the_consumer_before_it_reads(tmp_path, monkeypatch):
    shard = make_shard(tmp_path)
    offset = weight_offset(shard, "weights/0/W")
    flip(shard, offset)
    with h5py.File(shard, "r") as f:  # the damage is silent: a finite weight, nothing h5py could notice
        assert np.isfinite(f["weights/0/W"][()]).all()
    error = consumer_refuses(tmp_path, shard, monkeypatch)
    message = str(error)
    assert str(shard) in message and "fit_inr_shard[dataset=digits,shard=0]" in message
    assert "finished 20" in message and f"snakemake --forcerun {shard}" in message
    assert message in (tmp_path / "logs/train_model.log").read_text()  # the job log says it too


@pytest.mark.parametrize("where", ["signature", "superblock", "root object header", "heap", "last byte"])
def test_a_flipped_byte_in_hdf5_structure_is_refused_before_h5py_opens_the_file(tmp_path, monkeypatch, where):
    # HDF5's own structures: a damaged B-tree or heap made h5py hang or crash in earlier experiments,
    # so damaged files must never reach it
    shard = make_shard(tmp_path)
    offset = {"signature": 0, "superblock": 44, "root object header": 96, "heap": 680, "last byte": -1}[where]
    flip(shard, offset)
    assert str(shard) in str(consumer_refuses(tmp_path, shard, monkeypatch))


def test_a_flipped_byte_in_an_activation_dump_stops_the_consumer(tmp_path, monkeypatch):
    dump_path = tmp_path / "results/activations/digits/mlp/seed-0.h5"
    dump_path.parent.mkdir(parents=True)
    rng = np.random.default_rng(1)
    dump = dump_file.ActivationDump(
        layers=[rng.normal(size=(20, 8)).astype(np.float32) for _ in range(2)],
        image_index=np.arange(20),
        label=np.zeros(20, dtype=np.int64),
        logits=rng.normal(size=(20, 10)).astype(np.float32),
        attrs={"dataset": "digits", "arch": "mlp", "seed": 0, "num_layers": 2},
    )
    with job(tmp_path, "dump_activations", [], [dump_path], dataset="digits", arch="mlp", seed="0"):
        dump_file.write(dump_path, dump)
    flip(dump_path, weight_offset(dump_path, "layers/1"))
    error = consumer_refuses(tmp_path, dump_path, monkeypatch)
    assert str(dump_path) in str(error) and "dump_activations[arch=mlp,dataset=digits,seed=0]" in str(error), str(error)


def test_an_input_without_a_record_is_read_with_a_warning_in_the_job_log(tmp_path):
    by_hand = tmp_path / "results/inrs/digits/shard-0.h5"
    by_hand.parent.mkdir(parents=True)
    by_hand.write_bytes(b"placed by hand")
    package_file = tmp_path / "package/digits.csv.gz"  # outside the workflow's folders: no job makes it
    package_file.parent.mkdir()
    package_file.write_bytes(b"shipped with a package")
    output = tmp_path / "results/out.txt"
    with job(tmp_path, "consumer", [by_hand, package_file], [output]):
        output.write_text("read")
    log = (tmp_path / "logs/consumer.log").read_text()
    assert f"WARNING: {by_hand}: no provenance record" in log
    assert str(package_file) not in log
    record = records.read_record(tmp_path / "results/audit/jobs/consumer/job.json")
    assert [entry["path"] for entry in record.inputs] == [str(by_hand), str(package_file)]


def test_the_latest_record_of_an_artifact_is_the_one_checked(tmp_path):
    shard = make_shard(tmp_path)
    first = records.producers(tmp_path / "results/audit")[str(shard)]
    make_shard_again = h5io.write_h5  # a rerun of the same job rewrites the file and its record
    with job(tmp_path, "fit_inr_shard", [], [shard], dataset="digits", shard="0"):
        make_shard_again(shard, {"psnr": np.ones(3)}, {"dataset": "digits"})
    latest = records.producers(tmp_path / "results/audit")[str(shard)]
    assert latest["sha256"] == sha256_file(shard) != first["sha256"]
    output = tmp_path / "results/out.txt"
    with job(tmp_path, "consumer", [shard], [output]):
        output.write_text("read")


def test_a_record_removed_while_inputs_are_checked_is_a_job_starting_again(tmp_path, monkeypatch):
    """Snakemake starts a rerun of one job while another checks its inputs: the rerun removes its old
    record (a failed job leaves none) between the checker's listing and its reading of that record."""
    shard = make_shard(tmp_path)
    rerun_record = records.record_path(tmp_path / "results/audit", "cka_pair", {"pair": "a__b"})
    rerun_record.parent.mkdir(parents=True)
    rerun_record.write_text("{}")
    read = records.read_record

    def read_after_the_rerun_started(path):
        if path == rerun_record:
            path.unlink()
        return read(path)

    monkeypatch.setattr(records, "read_record", read_after_the_rerun_started)
    assert set(records.producers(tmp_path / "results/audit")) == {str(shard)}
    monkeypatch.setattr(records, "read_record", read)
    rerun_record.write_text("not json")
    with pytest.raises(DataError, match="not a readable provenance record"):
        records.producers(tmp_path / "results/audit")
