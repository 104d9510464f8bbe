"""Apache Kafka's jars and the tools to run them: Java, and Maven to fetch the jars from
Maven Central into a cache shared by every LIVETALLY_HOME on the machine."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import platformdirs

from livetally.exceptions import MissingRequirement

__all__ = [
    "INSTALL_HINT",
    "MIN_JAVA",
    "Progress",
    "ensure_libs",
    "find_java",
    "kafka_version",
    "libs_dir",
    "libs_ready",
    "log4j_config",
    "parse_java_major",
    "repo_root",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
"""Receives a line about a long step in progress (the download of the jars)."""

MIN_JAVA = 17
PROGRESS_INTERVAL_S = 5.0
"""At most one progress line this often while Maven downloads."""
_MARKER = ".complete"
INSTALL_HINT = (
    "On Debian/Ubuntu: `apt-get install openjdk-17-jre-headless maven`; on macOS: "
    "`brew install openjdk@17 maven`. Or skip the local broker altogether: "
    "`docker compose up` runs Kafka and every livetally service in containers, and "
    "LIVETALLY_BOOTSTRAP=host:port points livetally at a Kafka cluster you already run."
)
_TRANSFER = re.compile(r"(Downloading|Downloaded) from [^:]+: (\S+)")


def parse_java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output ("1.8.0_392" -> 8, "17.0.9" -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:
        return int(match.group(2))
    return major


def repo_root() -> Path:
    """The livetally checkout: the parent of the ``livetally`` package directory."""
    return Path(__file__).resolve().parent.parent


def _pom() -> Path:
    pom = repo_root() / "infra" / "kafka" / "pom.xml"
    if not pom.is_file():
        raise MissingRequirement(
            f"{pom} is missing: the local Kafka needs a livetally source checkout "
            "(pip install -e .). In containers use `docker compose up`, or set "
            "LIVETALLY_BOOTSTRAP to an existing Kafka cluster."
        )
    return pom


def log4j_config() -> Path:
    """The log4j2 configuration the local brokers run with."""
    return repo_root() / "infra" / "kafka" / "log4j2.properties"


def kafka_version() -> str:
    """The Apache Kafka version livetally runs, read from ``infra/kafka/pom.xml``."""
    root = ET.parse(_pom()).getroot()  # noqa: S314 - our own file, not untrusted input
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    element = root.find("m:properties/m:kafka.version", ns)
    if element is None or not (element.text or "").strip():
        raise MissingRequirement(f"{_pom()} sets no <kafka.version> property")
    return (element.text or "").strip()


def libs_dir() -> Path:
    """The shared cache directory holding the Kafka jars (it may not be filled yet)."""
    cache = Path(platformdirs.user_cache_dir("livetally"))
    return cache / f"kafka-{kafka_version()}" / "libs"


def find_java() -> str:
    """The ``java`` to run Kafka with; ``MissingRequirement`` unless it is Java 17+."""
    java = shutil.which("java")
    if java is None:
        raise MissingRequirement(
            f"Java {MIN_JAVA}+ is needed to run the local Kafka broker, and `java` is not "
            f"on the PATH. {INSTALL_HINT}"
        )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingRequirement(f"`java -version` failed ({exc}). {INSTALL_HINT}") from exc
    major = parse_java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major is not None else "an unrecognised Java"
        raise MissingRequirement(
            f"Java {MIN_JAVA}+ is needed to run Apache Kafka {kafka_version()}, "
            f"but `java` is {found}. {INSTALL_HINT}"
        )
    return java


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingRequirement(
            "Maven (`mvn`) is needed once, to download Apache Kafka's jars from Maven "
            f"Central into {libs_dir()}, and it is not on the PATH. {INSTALL_HINT}"
        )
    try:
        out = subprocess.run([mvn, "-v"], capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingRequirement(f"`mvn -v` failed ({exc}). {INSTALL_HINT}") from exc
    if out.returncode != 0:
        raise MissingRequirement(f"`mvn -v` failed: {out.stderr.strip()} {INSTALL_HINT}")
    return mvn


def _pom_digest() -> str:
    return hashlib.sha256(_pom().read_bytes()).hexdigest()


def libs_ready(libs: Path) -> bool:
    """Whether ``libs`` holds a complete download for the current pom."""
    marker = libs / _MARKER
    try:
        return marker.read_text(encoding="ascii").strip() == _pom_digest()
    except OSError:
        return False


class DownloadProgress:
    """Turns Maven's transfer lines into a progress line every ``interval_s`` (pure; the
    clock is passed in)."""

    def __init__(self, report: Progress, interval_s: float, started: float) -> None:
        self._report = report
        self._interval_s = interval_s
        self._started = started
        self._last = started
        self.downloaded = 0
        self._latest = ""

    def line(self, text: str, now: float) -> None:
        """Take one line of Maven's output, seen at ``now`` (monotonic seconds)."""
        match = _TRANSFER.search(text)
        if match is None:
            return
        if match.group(1) == "Downloaded":
            self.downloaded += 1
        self._latest = match.group(2).rsplit("/", 1)[-1]
        if now - self._last >= self._interval_s:
            self._last = now
            self._report(self.summary(now))

    def summary(self, now: float) -> str:
        """Files downloaded so far, the latest one, and the time taken."""
        latest = f", latest {self._latest}" if self._latest else ""
        return f"Maven: {self.downloaded} file(s) downloaded in {now - self._started:.0f} s{latest}"


def run_maven(
    argv: list[str], progress: Progress, interval_s: float = PROGRESS_INTERVAL_S
) -> tuple[int, str]:
    """Run Maven, reporting its downloads through ``progress``; return its exit code and
    the last lines of its output."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: deque[str] = deque(maxlen=40)
    meter = DownloadProgress(progress, interval_s, time.monotonic())
    lines: Iterable[str] = proc.stdout if proc.stdout is not None else ()
    for line in lines:
        tail.append(line.rstrip())
        meter.line(line, time.monotonic())
    code = proc.wait()
    progress(meter.summary(time.monotonic()))
    return code, "\n".join(tail)


def ensure_libs(progress: Progress | None = None) -> Path:
    """Download the Kafka jars with Maven unless they are cached already; return their dir.

    ``progress`` receives a line every few seconds of the download (default: this module's
    logger at INFO). The cache is shared by every LIVETALLY_HOME on the machine; a marker
    holding the pom's digest is written last, so an interrupted download is redone.
    """
    report = logger.info if progress is None else progress
    libs = libs_dir()
    if libs_ready(libs):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with _locked(libs.parent / "download.lock"):
        if libs_ready(libs):  # another process finished it while we waited
            return libs
        mvn = _mvn()
        if libs.exists():
            shutil.rmtree(libs)
        report(
            f"Downloading Apache Kafka {kafka_version()} from Maven Central into {libs} "
            "(once; a few minutes) ..."
        )
        argv = [
            mvn,
            "-B",
            "-f",
            str(_pom()),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ]
        code, output = run_maven(argv, report)
        if code != 0 or not any(libs.glob("kafka_2.13-*.jar")):
            raise MissingRequirement(
                f"Maven could not download Apache Kafka {kafka_version()} "
                f"(`{' '.join(argv)}` exited {code}):\n{output[-2000:]}"
            )
        (libs / _MARKER).write_text(_pom_digest() + "\n", encoding="ascii")
    return libs


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
