import platform
import subprocess
import sys

import pytest

from stream.allocator import MAX_MMAP_THRESHOLD, fix_mmap_threshold


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the threshold is glibc's")
def test_glibc_takes_a_fixed_threshold():
    # In a process of its own: the setting is process-wide and would outlive this test.
    script = (
        "from stream.allocator import MAX_MMAP_THRESHOLD, fix_mmap_threshold as fix;"
        "print(fix(128 * 1024), fix(MAX_MMAP_THRESHOLD))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["True", "True"]


@pytest.mark.parametrize("size", [0, -1, MAX_MMAP_THRESHOLD + 1])
def test_a_threshold_out_of_range_is_refused(size):
    with pytest.raises(ValueError, match="1 B to 32 MiB"):
        fix_mmap_threshold(size)
