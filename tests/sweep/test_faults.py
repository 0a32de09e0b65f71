"""The sweep folder and the CLI under faults and bad input (issue 10): one test per failure found,
each running the failing command and asserting the fixed behaviour, and a property test over
spec values (each spec gives a one-line error with nothing written, or runs)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from _cells import reporting_cell, toy_cell
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import PhysgenError
from physgen.io import open_results, write_netcdf
from physgen.sweep import SweepSpec, SweepStore, resolve_cells, run_sweep, sweep_status
from physgen.sweep.spec import read_toml

TINY = Path(__file__).with_name("tiny.toml")
runner = CliRunner()

TOY: dict[str, Any] = {
    "model": {"name": "gmm", "dim": 2},
    "data": {"n_pairs": 2, "n_test": 4},
    "train": {"n_checkpoints": 4, "steps": 50},
    "sweep": {"title": "fault test", "plot": False},
    "grid": {"data.n_train": [5, 10]},
}


def toy(**override: Any) -> SweepSpec:
    return SweepSpec.from_dict({**TOY, **override})


def tiny_with(tmp_path: Path, grid: dict[str, list[Any]], **tables: dict[str, Any]) -> Path:
    """tiny.toml with another [grid] and some keys replaced, written to ``tmp_path``."""
    mapping = read_toml(TINY)
    mapping["grid"] = grid
    for table, values in tables.items():
        if isinstance(values, dict):
            mapping.setdefault(table, {}).update(values)
        else:
            mapping[table] = values
    path = tmp_path / "spec.toml"
    path.write_text(tomli_w.dumps(mapping))
    return path


def invoke(args: list[str]) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.output


def files_under(path: Path) -> list[Path]:
    return sorted(path.rglob("*"))


# -- 1. every documented axis merges ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "values", "dim"),
    [
        ("seed", [0, 1], "seed"),
        ("metrics.kl_t_points", [3, 4], "kl_t_points"),
        ("metrics.t_frac", [0.1, 0.2], "t_frac"),
        ("train.lr", [0.001, 0.01], "lr"),
    ],
)
def test_every_kind_of_axis_merges(tmp_path: Path, key: str, values: list[Any], dim: str) -> None:
    spec = tiny_with(tmp_path, {key: values})
    result = invoke(["sweep", "run", spec, "--out", tmp_path / "out", "--quiet"])
    assert result.exit_code == 0, result.output
    ds = open_results(tmp_path / "out")
    assert ds[dim].values.tolist() == values
    assert ds["tau_bias"].dims == (dim, "pair", "weights")
    for cell in resolve_cells(SweepSpec.from_dict(read_toml(spec))):
        assert ds.sel(cell.coords)["cell_config_sha256"].item() == cell.sha256
        own = open_results(tmp_path / "out" / "cells" / f"{cell.name}.nc")
        np.testing.assert_array_equal(
            ds.sel(cell.coords)["split_divergence"].values.ravel()[: own.split_divergence.size],
            own["split_divergence"].values.ravel(),
        )
    if key == "seed":  # the per-network seeds now vary along the seed axis
        assert "seed" in ds["net_seed"].dims


# -- 2. values that pass validation and crash later -------------------------------------------


@pytest.mark.parametrize(
    ("tables", "needles"),
    [
        ({"train": {"steps": 1e300}}, ("train.steps", "ceiling", "estimated")),
        ({"train": {"steps": 2**62}}, ("train.steps", "ceiling", "years")),
        ({"diffusion": {"T": 1e10}}, ("diffusion.T", "memory")),
        ({"train": {"batch_size": 10**12}}, ("train.batch_size", "memory")),
        ({"metrics": {"kl_t_points": 10**12}}, ("metrics.kl_t_points", "memory")),
        ({"seed": -1}, ("seed", "≥ 0")),
        ({"train": {"lr": float("inf")}}, ("train.lr", "finite")),
        ({"metrics": {"t_frac": float("nan")}}, ("metrics.t_frac", "finite")),
    ],
)
def test_infeasible_values_are_rejected_before_anything_is_written(
    tmp_path: Path, tables: dict[str, Any], needles: tuple[str, ...]
) -> None:
    spec = tiny_with(tmp_path, {"data.n_train": [8, 16]}, **tables)
    before = files_under(tmp_path)
    result = invoke(["sweep", "run", spec, "--out", tmp_path / "out"])
    assert_one_line_error(result, *needles, "in cell n_train=8")
    assert files_under(tmp_path) == before
    # the same config as one cell of `physgen train`
    single = tiny_with(tmp_path, {}, **tables)
    result = invoke(["train", single, "--out", tmp_path / "cell.nc"])
    assert_one_line_error(result, needles[0])
    assert not (tmp_path / "cell.nc").exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["tree", "--seed", "-1"], ("--seed",)),
        (["tree", "--n", str(10**12)], ("--n", "memory")),
        (["gmm", "--param", f"dim={10**11}"], ("model", "memory")),
        (["gmm", "--param", "std=inf"], ("model.std", "finite")),
    ],
)
def test_sample_rejects_infeasible_requests(
    tmp_path: Path, args: list[str], needles: tuple[str, ...]
) -> None:
    result = invoke(["sample", *args, "--out", tmp_path / "x.npy"])
    assert_one_line_error(result, *needles)
    assert files_under(tmp_path) == []


# -- 3. never overwrite ------------------------------------------------------------------------


def test_out_dot_keeps_the_users_spec_file(tmp_path: Path) -> None:
    text = "# my comment, kept\n" + TINY.read_text().replace("[8, 16]", "[8]")
    (tmp_path / "spec.toml").write_text(text)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["sweep", "run", "spec.toml", "--out", ".", "--quiet"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "spec.toml").read_text() == text
    assert (tmp_path / "results.nc").is_file()


def test_another_spec_into_a_finished_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    run_sweep(toy(), out, cell_fn=toy_cell)
    results = (out / "results.nc").read_bytes()
    spec = (out / "spec.toml").read_text()
    other = toy(grid={"data.n_train": [5, 20]})
    with pytest.raises(PhysgenError, match=r"sweep holds another spec.*new --out.*--overwrite"):
        run_sweep(other, out, cell_fn=toy_cell)
    assert (out / "results.nc").read_bytes() == results
    assert (out / "spec.toml").read_text() == spec
    # through the CLI: one line naming the folder
    path = tmp_path / "other.toml"
    path.write_text(tomli_w.dumps(read_toml(TINY)))
    result = invoke(["sweep", "run", path, "--out", out])
    assert_one_line_error(result, str(out), "--overwrite")
    # an explicit --overwrite keeps the unchanged cell (n_train=5) and computes the new one
    res = run_sweep(other, out, cell_fn=toy_cell, overwrite=True)
    assert res.skipped == ["n_train=5"] and res.computed == ["n_train=20"]
    assert open_results(out)["n_train"].values.tolist() == [5, 20]


# -- 4. corruption ---------------------------------------------------------------------------


def test_one_changed_value_is_corrupt_and_recomputed(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    run_sweep(toy(), out, cell_fn=toy_cell)
    first = resolve_cells(toy())[0]
    path = out / "cells" / f"{first.name}.nc"
    ds = open_results(path)
    ds["tau_bias"][..., 0] = 1e6  # the header (config hash, checksum attribute) is unchanged
    write_netcdf(ds, path)
    assert [s.state for s in sweep_status(out)] == ["corrupt", "done"]
    status = invoke(["sweep", "status", out])
    assert "corrupt" in status.output
    res = run_sweep(toy(), out, cell_fn=toy_cell)
    assert res.computed == [first.name]
    want = toy_cell(first.config)["tau_bias"].values
    np.testing.assert_array_equal(open_results(out).sel(first.coords)["tau_bias"].values, want)


# -- 5. the lock -----------------------------------------------------------------------------


def test_simultaneous_entries_get_the_lock_once(tmp_path: Path) -> None:
    """Four entries at the same moment, 20 times: never two holders at once (the old
    check-then-write lock let two in, 3 times in 60)."""
    store = SweepStore(tmp_path, toy())
    holders: list[int] = []
    overlaps: list[list[int]] = []
    counts: list[int] = []
    for _ in range(20):
        barrier = threading.Barrier(4)
        got: list[int] = []

        def enter(i: int, barrier: threading.Barrier = barrier, got: list[int] = got) -> None:
            barrier.wait()
            try:
                with store.lock():
                    holders.append(i)
                    if len(holders) > 1:
                        overlaps.append(list(holders))
                    got.append(i)
                    time.sleep(0.02)
                    holders.remove(i)
            except PhysgenError:
                pass

        threads = [threading.Thread(target=enter, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts.append(len(got))
    assert overlaps == []
    assert min(counts) >= 1
    assert not (tmp_path / ".lock").exists()


def test_a_lock_of_another_host_is_never_taken(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"host": "node-17", "pid": 4242}))
    with pytest.raises(PhysgenError, match=r"host node-17, pid 4242.*delete .*\.lock"):
        run_sweep(toy(), out, cell_fn=toy_cell)
    assert json.loads((out / ".lock").read_text())["host"] == "node-17"


def test_a_live_holder_refuses_and_a_reused_pid_does_not(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    out.mkdir()
    from physgen.sweep.store import process_start_time

    # a killed run's lock whose pid is now used by a live process (another start time)
    parent = os.getppid()
    start = process_start_time(parent)
    assert start is not None
    record = {"host": socket.gethostname(), "pid": parent, "start_time": start - 1}
    (out / ".lock").write_text(json.dumps(record))
    notes: list[str] = []
    run_sweep(toy(), out, cell_fn=toy_cell, merge=False, on_message=notes.append)
    assert any("took over" in n for n in notes)
    # the same record with the live process's own start time: that process wrote it
    (out / ".lock").write_text(json.dumps({**record, "start_time": start}))
    with pytest.raises(PhysgenError, match=rf"another sweep \(host .*, pid {parent}\)"):
        run_sweep(toy(), out, cell_fn=toy_cell)
    (out / ".lock").unlink()
    # a live holder in another process
    code = (
        "import sys, time\n"
        "from physgen.sweep import SweepSpec, SweepStore\n"
        f"store = SweepStore({str(out)!r}, SweepSpec.from_dict({TOY!r}))\n"
        "with store.lock():\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(PhysgenError, match=rf"another sweep \(host .*, pid {holder.pid}\)"):
            run_sweep(toy(), out, cell_fn=toy_cell)
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock is free for certain
    assert run_sweep(toy(), out, cell_fn=toy_cell).results is not None


# -- 6. the manifest -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["[1, 2, 3]", '{"cells": {"n_train=5": {"seconds": "abc"}}}'])
def test_a_wrongly_shaped_manifest_is_rebuilt(tmp_path: Path, bad: str) -> None:
    out = tmp_path / "sweep"
    run_sweep(toy(), out, cell_fn=toy_cell)
    (out / "manifest.json").write_text(bad)
    status = invoke(["sweep", "status", out])
    assert status.exit_code == 0, status.output
    assert "2/2 cells done" in status.stdout
    assert "rebuilt from the cell files" in status.stderr
    res = run_sweep(toy(), out, cell_fn=toy_cell)
    assert res.computed == [] and len(res.skipped) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert [c["state"] for c in manifest["cells"].values()] == ["done", "done"]


# -- 7. interrupts with several workers ------------------------------------------------------

_DRIVER = """
import sys
sys.path.insert(0, {tests!r})
import physgen.sweep.runner as runner
from _cells import slow_cell
runner.default_cell_fn = lambda: slow_cell
from physgen.cli import main_entry
sys.argv = ["physgen", "sweep", "run", {spec!r}, "--out", {out!r}, "--workers", "2",
            "--executor", {executor!r}]
main_entry()
"""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> set[int]:
    """Descendant pids of ``pid`` (from /proc)."""
    out: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                child = int(stat.parent.name)
                out.add(child)
                todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("executor", "sig", "group", "code"),
    [
        ("local", signal.SIGINT, True, 130),
        ("local", signal.SIGINT, False, 130),
        pytest.param("local", signal.SIGTERM, False, 143, marks=pytest.mark.slow),
        pytest.param("dask", signal.SIGINT, True, 130, marks=pytest.mark.slow),
    ],
)
def test_interrupt_with_two_workers(
    tmp_path: Path, executor: str, sig: int, group: bool, code: int
) -> None:
    """Ctrl-C (SIGINT to the whole group), SIGINT or SIGTERM to the driver alone: one line
    'interrupted', the finished cell kept, the running ones stopped at once, no process left."""
    spec = tmp_path / "spec.toml"
    spec.write_text(tomli_w.dumps({**TOY, "grid": {"data.n_train": [5, 10, 20]}}))
    out = tmp_path / "out"
    script = _DRIVER.format(
        tests=str(Path(__file__).parent), spec=str(spec), out=str(out), executor=executor
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        # as from a terminal: a test run started in the background (`pytest &` in a script)
        # ignores SIGINT, and the driver would inherit that and never see the interrupt
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 120
    try:
        while not (out / "cells" / "n_train=5.nc").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no cell finished in 120 s"
            time.sleep(0.05)
        time.sleep(0.3)
        workers = _children(proc.pid)
        assert workers, "no worker process"
        start = time.monotonic()
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert time.monotonic() - start < 20  # the 120 s cells were stopped, not awaited
    assert proc.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted", stderr
    assert "Traceback" not in stderr and "WARNING" not in stderr, stderr
    time.sleep(0.5)
    assert not [p for p in workers if _alive(p)], "orphan worker processes"
    assert [s.state for s in sweep_status(out)] == ["done", "missing", "missing"]


def test_progress_inside_cells_reaches_the_driver(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    run_sweep(
        toy(),
        tmp_path / "serial",
        cell_fn=reporting_cell,
        on_progress=lambda cell, k, n, msg: seen.append((cell.name, k, n)),
    )
    assert seen == [(c, k, 4) for c in ("n_train=5", "n_train=10") for k in range(1, 5)]


@pytest.mark.slow
def test_progress_from_pool_workers(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    run_sweep(
        toy(),
        tmp_path / "pool",
        cell_fn=reporting_cell,
        workers=2,
        on_progress=lambda cell, k, n, msg: seen.append((cell.name, k)),
    )
    assert sorted(seen) == sorted((c, k) for c in ("n_train=5", "n_train=10") for k in range(1, 5))


def test_progress_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from physgen.commands._common import Progress

    bar = Progress(quiet=False, interval=0.0)
    bar.start(2, "2 of 2 cells")
    bar.update("n_train=5", 3, 12, "network 1 (A), step 300")
    bar.advance("n_train=5", "(1.0 s)")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "2 of 2 cells: 2 to run",
        "  [n_train=5] checkpoint 3/12: network 1 (A), step 300",
        "[1/2] n_train=5 (1.0 s)",
    ]
    slow = Progress(quiet=False, interval=30.0)
    slow.start(1, "x")
    slow.update("c", 1, 2, "m")  # within 30 s of the last line: silent
    assert capsys.readouterr().err.splitlines() == ["x: 1 to run"]


def test_progress_bars_on_a_terminal_show_the_running_cells(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from physgen.commands._common import Progress

    bar = Progress(quiet=False)
    bar.tty = True  # as on a terminal: rich bars instead of lines
    bar.start(2, "2 of 2 cells")
    bar.update("n_train=5", 3, 12, "network 1 (A), step 300")
    assert bar._bar.tasks[1].completed == 3 and bar._bar.tasks[1].total == 12
    assert "step 300" in bar._bar.tasks[1].description
    bar.advance("n_train=5", "(1.0 s)")
    assert [t.description for t in bar._bar.tasks] == ["n_train=5 (1.0 s)"]
    assert bar._bar.tasks[0].completed == 1
    bar.stop()
    assert "n_train=5 (1.0 s)" in capsys.readouterr().err


# -- 8. smaller ones -------------------------------------------------------------------------


def test_temp_files_of_an_interrupted_merge_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    run_sweep(toy(), out, cell_fn=toy_cell)
    (out / ".results.nc.99999.tmp").write_bytes(b"half a merge")
    result = invoke(["sweep", "merge", out])
    assert result.exit_code == 0, result.output
    assert not list(out.glob(".*.tmp"))
    (out / ".results.nc.99999.tmp").write_bytes(b"half a merge")
    run_sweep(toy(), out, cell_fn=toy_cell)
    assert not list(out.glob(".*.tmp"))


def test_out_that_is_not_utf8_is_refused_before_computing(tmp_path: Path) -> None:
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/out\xff")
    result = invoke(["sweep", "run", TINY, "--out", bad])
    assert_one_line_error(result, "not valid UTF-8")
    assert files_under(tmp_path) == []


def test_info_on_a_file_with_bad_sweep_dims(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    run_sweep(toy(), out, cell_fn=toy_cell)
    ds = open_results(out)
    ds.attrs["sweep_dims"] = "not json ["
    write_netcdf(ds, tmp_path / "bad.nc")
    result = invoke(["info", tmp_path / "bad.nc"])
    assert result.exit_code == 0, result.output
    assert "tau_bias(n_train, pair)" in result.stdout


def test_train_into_an_unwritable_place_fails_before_training(tmp_path: Path) -> None:
    mapping = read_toml(TINY)
    del mapping["grid"]
    config = tmp_path / "cell.toml"
    config.write_text(tomli_w.dumps(mapping))
    start = time.monotonic()
    result = invoke(["train", config, "--out", "/proc/physgen-test.nc"])
    assert_one_line_error(result, "cannot write in /proc")
    assert time.monotonic() - start < 5


def test_device_executor_and_name_errors_leave_no_folder(tmp_path: Path) -> None:
    import torch

    out = tmp_path / "out"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    spec = tiny_with(tmp_path, {"data.n_train": [8]}, train={"device": f"cuda:{count}"})
    result = invoke(["sweep", "run", spec, "--out", out])
    have = f"{count} CUDA device(s)" if count else "CUDA is not available"
    assert_one_line_error(result, "train.device", have, "in cell n_train=8")
    assert not out.exists()
    spec = tiny_with(tmp_path, {"data.n_train": [8]}, train={"device": "cuda:first"})
    assert_one_line_error(invoke(["sweep", "run", spec, "--out", out]), "train.device")
    result = invoke(
        ["sweep", "run", TINY, "--out", out, "--executor", "dask", "--address", "tcp://127.0.0.1:9"]
    )
    assert_one_line_error(result, "cannot reach the dask scheduler")
    assert not out.exists()
    result = invoke(["sweep", "run", TINY, "--out", tmp_path / "a" / ("x" * 300)])
    assert_one_line_error(result, "longer than 255 bytes")
    assert not (tmp_path / "a").exists()


def test_long_cell_names_are_cut_and_stay_unique() -> None:
    from physgen.sweep.cells import MAX_NAME, Cell

    coords = [{f"parameter_{i}": 1.000000001 * (j + 1) for i in range(12)} for j in range(2)]
    names = {Cell(index=(j,), coords=c, config=None).name for j, c in enumerate(coords)}  # type: ignore[arg-type]
    assert len(names) == 2 and all(len(n) <= MAX_NAME for n in names)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sweep", "run", str(TINY), "--out", "x", "--workers", "two"], "'--workers'"),
        (["sample", "gmm", "--n", "five", "--out", "x.npy"], "'--n'"),
        (["sweep", "run", str(TINY)], "Missing option '--out'"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], needle: str) -> None:
    assert_one_line_error(invoke(args), needle)


# -- 9. CLI conventions ----------------------------------------------------------------------


def test_python_dash_m_and_dash_h() -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-m", "physgen", "sweep", "run", "-h"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "Usage: physgen sweep run" in out.stdout
    assert "--overwrite" in out.stdout
    assert "required" in out.stdout  # --out


def test_shell_completion_is_enabled() -> None:
    result = invoke(["--help"])
    assert "--install-completion" in result.output and "--show-completion" in result.output


@pytest.mark.parametrize("command", [["train", "-h"], ["sample", "-h"], ["sweep", "run", "-h"]])
def test_required_options_are_shown_as_required(command: list[str]) -> None:
    result = invoke(command)
    assert result.exit_code == 0
    out_line = next(line for line in result.output.splitlines() if "--out" in line)
    assert "required" in out_line or "required" in result.output


def test_json_output_of_info_and_status(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    run_sweep(toy(), out, cell_fn=toy_cell)
    status = json.loads(invoke(["sweep", "status", out, "--json"]).stdout)
    assert status["done"] == status["total"] == 2 and status["merged"] is True
    assert [c["state"] for c in status["cells"]] == ["done", "done"]
    assert status["cells"][0]["coords"] == {"n_train": 5}
    info = json.loads(invoke(["info", out, "--json"]).stdout)
    assert info["grid"] == {"n_train": [5, 10]}
    assert info["variables"]["tau_bias"]["dims"] == ["n_train", "pair"]
    assert info["attrs"]["config_sha256"] == toy().sha256()


# -- the property ----------------------------------------------------------------------------

_VALUES = st.one_of(
    st.integers(min_value=-3, max_value=8),
    st.sampled_from([2**62, 10**12, 1e300, -1]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.booleans(),
    st.text(max_size=3),
)
_KEYS = st.sampled_from(
    [
        "seed",
        "train.steps",
        "train.lr",
        "train.batch_size",
        "train.n_checkpoints",
        "diffusion.T",
        "data.n_train",
        "data.n_pairs",
        "metrics.t_frac",
        "metrics.kl_t_points",
        "model.dim",
        "net.width",
    ]
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=3), st.booleans())
@example({"net.width": 1e300, "train.steps": 2**62}, False)  # once overflowed the time estimate
def test_every_spec_gives_a_one_line_error_with_nothing_written_or_runs(
    tmp_path_factory: pytest.TempPathFactory, values: dict[str, Any], as_axis: bool
) -> None:
    mapping: dict[str, Any] = json.loads(json.dumps(TOY))
    mapping["grid"] = {"data.n_train": [5, 10]}
    for key, value in values.items():
        if as_axis and key != "data.n_train":
            mapping["grid"][key] = [value]
        else:
            node = mapping
            *tables, leaf = key.split(".")
            for table in tables:
                node = node.setdefault(table, {})
            node[leaf] = value
            mapping["grid"].pop(key, None)
    root = tmp_path_factory.mktemp("prop")
    path = root / "spec.toml"
    path.write_text(tomli_w.dumps(mapping))
    out = root / "out"
    try:
        spec = SweepSpec.from_dict(read_toml(path))
        run_sweep(spec, out, cell_fn=toy_cell)
    except PhysgenError as exc:
        assert "\n" not in str(exc)
        assert not out.exists()
    else:
        assert (out / "results.nc").is_file()


def test_commit_is_read_before_the_first_cell_runs(tmp_path: Path) -> None:
    """Files record the commit of the code that ran, read when the sweep starts, not whatever
    HEAD the tree holds when the first cell is written (it can move during a long sweep)."""
    from physgen.io import git_commit

    cached_at_cell: list[int] = []

    def cell(cfg: Any) -> Any:
        cached_at_cell.append(git_commit.cache_info().currsize)
        return toy_cell(cfg)

    git_commit.cache_clear()
    run_sweep(toy(), tmp_path / "sweep", cell_fn=cell, workers=1)
    assert cached_at_cell and all(n == 1 for n in cached_at_cell)
