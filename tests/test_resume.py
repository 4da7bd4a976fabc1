"""Resumable trainings (gmnrep.models.resume): a training interrupted right after any of its saved
epochs, any number of times, goes on from its state and writes the bytes of an uninterrupted one;
states of other trainings are refused. On test_training's tiny data; through Snakemake (SIGKILL,
SIGTERM) in test_reliability.py, on SLURM in test_slurm.py."""

import json

import numpy as np
import pytest

from gmnrep.models import matching, resume, training
from test_matching import gmn_metrics, learnable_data
from test_training import DATASET, NETWORKS, REFERENCE_TRAINING, TRAINING, tiny  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


class Killed(BaseException):
    """Stands for SIGKILL right after a resume state was written: nothing after it runs."""


@pytest.fixture
def kill_after(monkeypatch):
    """kill_after(epochs, part=None): the next trainings (of that part of a job only, if given) die
    right after saving the state of each of `epochs` in turn (one death per training started);
    returns the list of epochs still to die at."""
    pending: list[int] = []
    only: list[str | None] = [None]
    save = resume.ResumePlan.save

    def save_then_die(self, epoch, state):
        save(self, epoch, state)
        if pending and epoch == pending[0] and only[0] in (None, self.part):
            pending.pop(0)
            raise Killed(f"killed after epoch {epoch}")

    monkeypatch.setattr(resume.ResumePlan, "save", save_then_die)

    def arm(epochs, part=None):
        pending[:], only[0] = list(epochs), part
        return pending

    return arm


def plan(out, fingerprint="job-1", every=1, name="model"):
    return resume.ResumePlan(out / f"{name}.pt", fingerprint, every)


def train_and_save(tiny, out, arch, name, training_settings, resume_plan=None, seed=0):  # noqa: F811
    data_path, shard_paths, _, _ = tiny
    job = training.TrainingJob(
        dataset=DATASET, arch=arch, seed=seed, network=NETWORKS[arch], training=training_settings,
        data_path=data_path, shard_paths=shard_paths, model_path=out / f"{name}.pt",
        metrics_path=out / f"{name}.json", device="cpu",
    )  # fmt: skip
    return training.train_and_save(job, resume=resume_plan)


def outputs(out, name):
    return (out / f"{name}.pt").read_bytes(), (out / f"{name}.json").read_bytes()


@pytest.mark.parametrize(
    ("arch", "settings"), [("gmn", REFERENCE_TRAINING), ("mlp", TRAINING), ("cnn", TRAINING)], ids=["gmn", "mlp", "cnn"]
)
def test_a_training_killed_at_random_epochs_resumes_to_the_uninterrupted_bytes(
    tiny,
    tmp_path,
    kill_after,
    capfd,
    arch,
    settings,  # noqa: F811
):
    """Dropout (all three), weight augmentation, warmup, cosine schedule and clipping (GMN): every
    random generator and the optimizer's and schedule's state go through the resume state."""
    settings = {**settings, "epochs": 7}
    train_and_save(tiny, tmp_path, arch, "uninterrupted", settings)
    deaths = sorted(np.random.default_rng(len(arch)).choice(np.arange(1, 7), size=3, replace=False).tolist())
    pending = kill_after(deaths)
    interrupted = plan(tmp_path, name="interrupted")
    for death in deaths:
        with pytest.raises(Killed):
            train_and_save(tiny, tmp_path, arch, "interrupted", settings, interrupted)
        assert interrupted.path.exists() and not (tmp_path / "interrupted.pt").exists()
        assert f"resumed from epoch {death} of 7" not in capfd.readouterr().err
    assert pending == []
    train_and_save(tiny, tmp_path, arch, "interrupted", settings, interrupted)
    assert f"resumed from epoch {deaths[-1]} of 7" in capfd.readouterr().err
    assert outputs(tmp_path, "interrupted") == outputs(tmp_path, "uninterrupted")
    assert not interrupted.path.exists(), "the resume state outlived the finished job"


def test_a_state_saved_every_k_epochs_resumes_from_the_last_multiple_of_k(tiny, tmp_path, kill_after, capfd):  # noqa: F811
    settings = {**TRAINING, "epochs": 7}
    train_and_save(tiny, tmp_path, "mlp", "uninterrupted", settings)
    every_3 = plan(tmp_path, every=3)
    kill_after([6])
    with pytest.raises(Killed):
        train_and_save(tiny, tmp_path, "mlp", "model", settings, every_3)
    lines = [line for line in capfd.readouterr().err.splitlines() if "resume state saved" in line]
    assert len(lines) == 1 and "epoch 3/7" in lines[0]  # the kill came in epoch 6's save, before its line
    train_and_save(tiny, tmp_path, "mlp", "model", settings, every_3)
    lines = [line for line in capfd.readouterr().err.splitlines() if "epoch" in line]
    assert "resumed from epoch 6 of 7" in lines[0] and "epoch 7/7" in lines[1] and "resume state saved" in lines[1]
    assert outputs(tmp_path, "model") == outputs(tmp_path, "uninterrupted")


@pytest.mark.parametrize(
    "change",
    ["fingerprint", "settings", "damaged"],
)
def test_a_state_of_another_job_or_training_or_a_damaged_one_is_ignored_with_a_line(
    tiny,
    tmp_path,
    kill_after,
    capfd,
    change,  # noqa: F811
):
    """Another job's fingerprint (its settings, code or inputs changed), the same job with other
    training settings, or a state that is not readable: the training starts again from epoch 1,
    says why, and writes what an uninterrupted training of its own settings writes."""
    settings = {**TRAINING, "epochs": 5}
    kill_after([3])
    with pytest.raises(Killed):
        train_and_save(tiny, tmp_path, "mlp", "model", settings, plan(tmp_path))
    now_settings, now_plan = settings, plan(tmp_path)
    if change == "fingerprint":
        now_plan = plan(tmp_path, fingerprint="job-2")
    elif change == "settings":
        now_settings = {**settings, "lr": settings["lr"] / 2}
    else:
        now_plan.path.write_bytes(now_plan.path.read_bytes()[:100])
    capfd.readouterr()
    train_and_save(tiny, tmp_path, "mlp", "model", now_settings, now_plan)
    err = capfd.readouterr().err
    why = {"damaged": "it is not readable ("}.get(change, "it was written for other settings, code or inputs;")
    (line,) = [line for line in err.splitlines() if "ignored" in line]
    assert f"resume state {now_plan.path} ignored: {why}" in line and line.endswith("; training from epoch 1")
    assert "resumed from" not in err
    train_and_save(tiny, tmp_path, "mlp", "reference", now_settings)
    assert outputs(tmp_path, "model") == outputs(tmp_path, "reference")


def test_a_matched_twin_stopped_at_a_step_resumes_to_the_same_stop(tmp_path, kill_after):
    """The steps method: the evaluations between steps, and the stop they lead to, survive a kill."""
    data = learnable_data(tmp_path)
    targets = gmn_metrics(tmp_path, 0.4, 0.4)

    def twin(name, resume_plan=None):
        job = training.TrainingJob(
            dataset=DATASET, arch="mlpmatch", seed=0, network=NETWORKS["mlp"], training={**TRAINING, "epochs": 12},
            data_path=data[0], shard_paths=data[1], model_path=tmp_path / f"{name}.pt",
            metrics_path=tmp_path / f"{name}.json", device="cpu",
        )  # fmt: skip
        settings = matching.MatchingSettings(target_arch="gmn", method="steps", evaluate_every=1)
        return matching.train_matched(job, settings, targets, resume=resume_plan)

    reference = twin("reference")
    assert reference["stop"]["reached"] and reference["best_epoch"] >= 6, "the test needs a stop after epoch 5"
    kill_after([2, 5])
    for _ in range(2):
        with pytest.raises(Killed):
            twin("twin", plan(tmp_path, name="twin"))
    twin("twin", plan(tmp_path, name="twin"))
    assert outputs(tmp_path, "twin") == outputs(tmp_path, "reference")


def test_a_data_limited_twin_redoes_none_of_its_finished_subset_trainings(tmp_path, kill_after, capfd):
    """The data method trains one network per training subset: each keeps its own state, and one
    finished before the kill is read back (resumed at its last epoch), not trained again."""
    data = learnable_data(tmp_path)
    targets = gmn_metrics(tmp_path, 0.6, 0.7)
    settings = {**TRAINING, "epochs": 3}

    def twin(name, resume_plan=None):
        job = training.TrainingJob(
            dataset=DATASET, arch="mlpmatch", seed=0, network=NETWORKS["mlp"], training=settings,
            data_path=data[0], shard_paths=data[1], model_path=tmp_path / f"{name}.pt",
            metrics_path=tmp_path / f"{name}.json", device="cpu",
        )  # fmt: skip
        matched = matching.MatchingSettings(target_arch="gmn", method="data", subset_fractions=[0.25, 0.5])
        return matching.train_matched(job, matched, targets, resume=resume_plan)

    twin("reference")
    ladder = json.loads((tmp_path / "reference.json").read_text())["stop"]["ladder"]
    first_epochs = ladder[0]["epochs"]
    kill_after([2], part=f"{ladder[1]['train_samples']}-samples")  # in the second subset's training
    with pytest.raises(Killed):
        twin("twin", plan(tmp_path, name="twin"))
    states = sorted(p.name for p in tmp_path.glob(".twin*"))
    assert states == sorted(f".twin.{rung['train_samples']}-samples.resume.pt" for rung in ladder)
    capfd.readouterr()
    twin("twin", plan(tmp_path, name="twin"))
    err = capfd.readouterr().err
    assert f"resumed from epoch {first_epochs} of {first_epochs}" in err
    assert outputs(tmp_path, "twin") == outputs(tmp_path, "reference")
    assert not list(tmp_path.glob(".twin*")), "resume states outlived the finished job"


def test_resume_states_are_hidden_and_known_as_such(tmp_path):
    states = [plan(tmp_path).path, plan(tmp_path).for_part("30 samples").path]
    assert [p.name for p in states] == [".model.resume.pt", ".model.30-samples.resume.pt"]
    assert all(resume.is_resume_state(p) for p in states)
    assert not resume.is_resume_state(tmp_path / "model.pt") and not resume.is_resume_state(
        tmp_path / ".model.pt.x.tmp"
    )
