"""The gradcheck package keeps every name it had as one module."""

import scratchrnn.gradcheck as gradcheck


def test_every_name_is_importable_from_the_package():
    for name in gradcheck.__all__:
        assert getattr(gradcheck, name) is not None
    from scratchrnn.gradcheck import check_gradients, run_matrix, truncated_objective  # noqa: F401
