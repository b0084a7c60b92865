"""The progress display in a log (a file or a pipe), where rich alone says nothing until
the display stops."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

from repdrift.progress import (
    HEARTBEAT_TICKS,
    LOG_EVERY_ENV,
    LOG_EVERY_S,
    SPEED_WINDOW_S,
    Progress,
    log_every,
)


def _display(console: Console, every: float | None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=False,
        every=every,
    )


def test_into_a_file_it_prints_a_plain_line_per_task_while_running_and_when_stopped():
    log = io.StringIO()
    progress = _display(Console(file=log, force_terminal=False, width=60), every=0.05)
    progress.start()
    task = progress.add_task("sweep", total=40, note="runs 0")
    for done in range(1, 21):
        progress.update(task, completed=done, note=f"runs {done // 10}")
        time.sleep(0.02)
    during = log.getvalue()
    progress.update(task, completed=40, note="runs 4")
    progress.stop()
    lines = log.getvalue().splitlines()
    # lines came while it ran, each the task's columns without the bar
    assert during.count("\n") >= 2, during
    assert all(re.fullmatch(r"sweep  \d+/40  runs \d", line) for line in lines), lines
    counts = [int(re.search(r"(\d+)/40", line).group(1)) for line in lines]
    assert counts == sorted(counts) and 1 <= counts[0] <= 20
    # and the last state, once, with no drawing and no empty line
    assert lines[-1] == "sweep  40/40  runs 4"
    assert lines.count("sweep  40/40  runs 4") == 1
    assert "━" not in log.getvalue()


def test_on_a_terminal_it_is_richs_own_display():
    screen = io.StringIO()
    progress = _display(Console(file=screen, force_terminal=True, width=60), every=0.01)
    progress.start()
    task = progress.add_task("sweep", total=4, note="")
    time.sleep(0.1)
    progress.update(task, completed=4)
    progress.stop()
    assert "━" in screen.getvalue()  # the bar, drawn in place
    assert "sweep  4/4" not in screen.getvalue()  # no plain lines


def test_quiet_prints_nothing():
    log = io.StringIO()
    progress = Progress(
        TextColumn("{task.description}"),
        console=Console(file=log, force_terminal=False),
        disable=True,
        every=0.01,
    )
    progress.start()
    progress.add_task("x", total=2, completed=1)
    time.sleep(0.05)
    progress.stop()
    assert log.getvalue() == ""


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(LOG_EVERY_ENV, "2.5")
    assert log_every() == 2.5
    for bad in ("often", "0", "-3", "", "nan", "inf"):
        monkeypatch.setenv(LOG_EVERY_ENV, bad)
        assert log_every() == LOG_EVERY_S
    # in a log, a value that is set but unusable is named once; on a terminal it is moot
    monkeypatch.setenv(LOG_EVERY_ENV, "30s")
    log = io.StringIO()
    _display(Console(file=log, force_terminal=False, width=60), every=None).stop()
    assert log.getvalue() == (
        "repdrift: note: $REPDRIFT_LOG_EVERY='30s' is not a positive number of seconds; "
        "progress lines come every 60 s\n"
    )
    screen = io.StringIO()
    _display(Console(file=screen, force_terminal=True, width=60), every=None).stop()
    assert "REPDRIFT_LOG_EVERY" not in screen.getvalue()
    monkeypatch.setenv(LOG_EVERY_ENV, "2.5")
    log = io.StringIO()
    _display(Console(file=log, force_terminal=False, width=60), every=None).stop()
    assert log.getvalue() == ""


def test_a_simulation_run_into_a_log_reports_its_progress(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "repdrift",
            "simulate",
            "--preset",
            "random",
            "--set",
            "network.hidden=40",
            "--steps",
            "60000",
            "--no-figures",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JAX_PLATFORMS": "cpu", LOG_EVERY_ENV: "0.2"},
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("simulate  ")]
    assert len(lines) >= 2, result.stderr
    assert re.fullmatch(r"simulate  60000/60000  [\d,]+ steps/s  .*loss [\d.e+-]+  .*", lines[-1])
    assert "━" not in result.stderr


def test_a_finished_task_is_printed_once_and_the_others_go_on():
    log = io.StringIO()
    progress = _display(Console(file=log, force_terminal=False, width=60), every=0.05)
    progress.start()
    first = progress.add_task("fig2", total=1, note="")
    second = progress.add_task("fig4", total=10, note="")
    progress.update(first, completed=1, note="done")
    for done in range(1, 6):
        progress.update(second, completed=done)
        time.sleep(0.04)
    progress.stop()
    lines = log.getvalue().splitlines()
    assert lines.count("fig2  1/1  done") == 1
    assert sum(line.startswith("fig4  ") for line in lines) >= 2
    assert lines[-1] == "fig4  5/10"  # stopped unfinished (an interruption): its last state


def test_a_task_that_does_not_move_is_printed_again_only_after_ten_quiet_intervals():
    log = io.StringIO()
    progress = _display(Console(file=log, force_terminal=False, width=60), every=3600)
    progress.start()
    task = progress.add_task("queued", total=3, note="")
    printed = []
    for _ in range(2 * HEARTBEAT_TICKS + 1):
        progress.tick()
        printed.append(len(log.getvalue().splitlines()))
    # at the first interval, then after ten quiet ones (the 11th and the 21st)
    assert printed == [1] * HEARTBEAT_TICKS + [2] * HEARTBEAT_TICKS + [3]
    progress.update(task, completed=1)
    progress.tick()  # it moved: printed at once
    progress.tick()
    progress.stop()  # and its last state when the display stops
    assert log.getvalue().splitlines() == ["queued  0/3"] * 3 + ["queued  1/3"] * 2


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_time_remaining_takes_the_speed_over_two_minutes_not_richs_thirty_seconds():
    assert SPEED_WINDOW_S >= 60.0  # the jumps below fall within it
    clock = _Clock()
    progress = Progress(TimeRemainingColumn(), console=Console(file=io.StringIO()), get_time=clock)
    task = progress.add_task("sweep", total=100)

    def shown() -> str:
        return TimeRemainingColumn().render(progress.tasks[task]).plain

    # a resumed sweep's first report is what it had done: not part of the speed
    progress.update(task, completed=10)
    clock.now = 10.0
    progress.update(task, completed=30)  # 20 in 10 s: the 70 left take 35 s
    assert shown() == "0:00:35"
    # then progress in jumps, as a sweep's batches report: 50 at once, nothing for
    # 40 s, then 10 — 80 in 55 s since the first report: the 10 left take 7 s (rounded up)
    clock.now = 15.0
    progress.update(task, completed=80)
    clock.now = 55.0
    progress.update(task, completed=90)
    assert shown() == "0:00:07"
    # rich's 30 s would keep the last jump alone, and have no speed at all
    short = Progress(
        TimeRemainingColumn(),
        console=Console(file=io.StringIO()),
        get_time=clock,
        speed_estimate_period=30.0,
    )
    other = short.add_task("sweep", total=100)
    for clock.now, done in ((0.0, 10), (10.0, 30), (15.0, 80), (55.0, 90)):
        short.update(other, completed=done)
    assert TimeRemainingColumn().render(short.tasks[other]).plain == "-:--:--"
