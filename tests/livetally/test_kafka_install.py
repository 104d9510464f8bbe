"""The jars' download: Maven's transfer lines turned into progress lines."""

from __future__ import annotations

import sys
from pathlib import Path

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
