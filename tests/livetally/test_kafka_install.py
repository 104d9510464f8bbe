"""The jars' download: Maven's progress lines, the Kafka version, Java's version."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from livetally import kafka_install

CENTRAL = "https://repo.maven.apache.org/maven2/org/apache/kafka"


def test_progress_is_reported_at_most_once_per_interval():
    heard: list[str] = []
    meter = kafka_install.DownloadProgress(heard.append, interval_s=5.0, started=100.0)
    meter.line(f"[INFO] Downloading from central: {CENTRAL}/kafka-clients-4.1.0.jar", 101.0)
    meter.line(f"[INFO] Downloaded from central: {CENTRAL}/kafka-clients-4.1.0.jar (9 MB)", 104.0)
    assert heard == []
    meter.line("[INFO] Copying kafka-clients-4.1.0.jar", 106.0)  # not a transfer: ignored
    assert heard == []
    meter.line(f"[INFO] Downloaded from central: {CENTRAL}/kafka_2.13-4.1.0.jar (7 MB)", 105.5)
    assert heard == ["Maven: 2 file(s) downloaded in 6 s, latest kafka_2.13-4.1.0.jar"]
    meter.line(f"[INFO] Downloaded from central: {CENTRAL}/a.pom (1 kB)", 107.0)
    assert len(heard) == 1
    assert meter.summary(120.0) == "Maven: 3 file(s) downloaded in 20 s, latest a.pom"


def test_run_maven_reports_downloads_and_keeps_the_last_lines(tmp_path: Path):
    script = tmp_path / "mvn.py"
    script.write_text(
        "import sys\n"
        f"for i in range(3): print('[INFO] Downloaded from central: {CENTRAL}/j%d.jar' % i)\n"
        "print('[ERROR] it broke')\n"
        "sys.exit(3)\n"
    )
    heard: list[str] = []
    code, output = kafka_install.run_maven([sys.executable, str(script)], heard.append, 0.0)
    assert code == 3
    assert output.splitlines()[-1] == "[ERROR] it broke"
    assert heard[-1].startswith("Maven: 3 file(s) downloaded in")
    assert "latest j2.jar" in heard[-1]


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('java version "1.8.0_392"\nJava(TM) SE Runtime Environment', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "25-ea" 2025-09-16', 25),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("bash: java: command not found", None),
    ],
)
def test_java_major_version_is_parsed_from_java_version_output(output, major):
    assert kafka_install.parse_java_major(output) == major


def test_kafka_version_comes_from_the_pom_and_names_the_cached_jar():
    version = kafka_install.kafka_version()
    assert version.split(".")[0] == "4"
    assert kafka_install.libs_dir().name == "libs"
    assert kafka_install.libs_dir().parent.name == f"kafka-{version}"
