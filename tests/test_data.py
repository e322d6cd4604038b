"""scratchrnn.data: the package exports every public name of its modules as the same object."""

from __future__ import annotations

import scratchrnn.data as data
from scratchrnn.data import sequences, synthetic, text


def test_exports_are_the_modules_own_objects():
    for name in data.__all__:
        assert hasattr(data, name), name
    for module in (sequences, synthetic, text):
        for name in module.__all__:
            if name in data.__all__:
                assert getattr(data, name) is getattr(module, name), name
    assert {"SequenceData", "TokenStream", "Windows", "batchify", "windows"} <= set(data.__all__)
    assert set(sequences.__all__) <= set(data.__all__)
