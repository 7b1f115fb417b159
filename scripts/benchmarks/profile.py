"""Where the time goes: py-spy samples a platform process while a scenario's load runs.

`find_process` picks the process by its module (`-m cityhub_gateway`) and the run directory in its
environment, so only this run's processes are looked at. The summary is the functions with the
most samples on-CPU (inclusive, our code and the libraries it calls), short enough for the doc.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import tempfile
from pathlib import Path


def find_process(module: str, run_dir: Path) -> int | None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if module.encode() not in command:
                continue
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"CITYHUB_RUN_DIR={run_dir}".encode() in environ:
            return int(proc.name)
    return None


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    """py-spy recording `pid` for `seconds` into `output` (raw collapsed stacks), or None."""
    binary = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
    if not Path(binary).exists():
        return None
    return subprocess.Popen(
        [binary, "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-f", "raw", "-o", str(output),
         "--nonblocking", "-r", "50"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def summarise(raw: Path, top: int = 8) -> dict[str, list[tuple[str, float]]]:
    """Shares of on-CPU samples: `self` (the frame at the top of the stack: where the CPU is) and
    `ours` (inclusive, frames in the platform's own code: which of our steps costs the most)."""
    if not raw.exists():
        return {}
    own: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")[1:]  # [0] is the thread
        if frames:
            own[_short(frames[-1])] += count
        for frame in {f for f in frames if "cityhub_" in f and not f.startswith(("main (", "<module> ("))}:
            ours[_short(frame)] += count
    if not total:
        return {}
    return {
        "self": [(f, n / total) for f, n in own.most_common(top)],
        "ours": [(f, n / total) for f, n in ours.most_common(top)],
    }


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py:123)"
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')')).name})" if where else name


def record(pid: int, seconds: float) -> tuple[subprocess.Popen[bytes] | None, Path]:
    output = Path(tempfile.mkdtemp(prefix="bench-profile-")) / "profile.txt"
    return start(pid, seconds, output), output
