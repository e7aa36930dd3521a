"""The machine a benchmark ran on, and how busy it was, measured while the benchmark runs.

Every benchmark script that writes machine facts takes them from here, so no table carries a
hand-written "shared with other jobs": `machine_facts` reads the core count, CPU model, RAM and
package versions when it is called, and `LoadSampler` samples the 1-minute load average on a
background thread while the measured work runs.

    with LoadSampler() as load:
        run_the_benchmark()
    print(describe_machine(machine_facts("langgraph")), load.summary().describe())
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["LoadSampler", "LoadSummary", "cpu_model", "describe_machine", "machine_facts", "usable_cores"]


def usable_cores() -> int:
    """CPUs this process may run on (what `nproc` prints), falling back to the online count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else `platform.processor()`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_facts(*packages: str) -> dict[str, Any]:
    """Cores, CPU model, RAM, OS, Python and the versions of `packages`, read now (JSON-serializable)."""
    return {
        "nproc": usable_cores(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in packages},
    }


def describe_machine(facts: dict[str, Any]) -> str:
    """One line of prose for `machine_facts` output (also for facts read back from a file)."""
    cores = f"{facts.get('nproc', '?')} cores (nproc)"
    if facts.get("cpu_count") not in (None, facts.get("nproc")):
        cores += f" of {facts['cpu_count']} online"
    parts = [cores, str(facts.get("cpu_model", "unknown CPU"))]
    if facts.get("ram_gib") is not None:
        parts.append(f"{facts['ram_gib']:g} GiB RAM")
    software = [str(facts.get("os", "")), f"Python {facts.get('python', '?')}"]
    for name, version in (facts.get("packages") or {}).items():
        software.append(f"{name} {version}" if version else f"{name} not installed")
    return ", ".join(parts) + "; " + ", ".join(s for s in software if s)


@dataclass(frozen=True)
class LoadSummary:
    """The 1-minute load average over a measured stretch: min / mean / max of its samples."""

    interval_s: float
    samples: int
    minimum: float
    mean: float
    maximum: float
    cores: int

    def describe(self) -> str:
        return (
            f"1-minute load average {self.minimum:.1f} / {self.mean:.1f} / {self.maximum:.1f} "
            f"(min / mean / max of {self.samples} samples, every {self.interval_s:g} s) on {self.cores} cores"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadSummary:
        return cls(**{key: data[key] for key in ("interval_s", "samples", "minimum", "mean", "maximum", "cores")})


class LoadSampler:
    """Samples ``os.getloadavg()[0]`` every `interval` seconds on a daemon thread while in use.

    One sample is taken on entry and one on exit, so even a short stretch has two. `summary` is
    ``None`` on platforms without a load average.
    """

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0.0
        self.seconds = 0.0

    def _sample(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # no load average on this platform
            self._samples.append(os.getloadavg()[0])

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> LoadSampler:
        self.started = time.monotonic()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="load-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._sample()
        self.seconds = time.monotonic() - self.started

    def __enter__(self) -> LoadSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def summary(self) -> LoadSummary | None:
        if not self._samples:
            return None
        values = list(self._samples)
        return LoadSummary(
            interval_s=self.interval,
            samples=len(values),
            minimum=min(values),
            mean=sum(values) / len(values),
            maximum=max(values),
            cores=usable_cores(),
        )
