import platform

import pytest

from stream.allocator import MAX_MMAP_THRESHOLD, fix_mmap_threshold


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the threshold is glibc's")
def test_glibc_takes_a_fixed_threshold():
    assert fix_mmap_threshold(128 * 1024) is True
    assert fix_mmap_threshold(MAX_MMAP_THRESHOLD) is True


@pytest.mark.parametrize("size", [0, -1, MAX_MMAP_THRESHOLD + 1])
def test_a_threshold_out_of_range_is_refused(size):
    with pytest.raises(ValueError, match="1 B to 32 MiB"):
        fix_mmap_threshold(size)
