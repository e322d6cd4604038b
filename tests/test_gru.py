"""The GRU (scratchrnn.nn.gru): the tests it shares with the LSTM (tests/gated_cases.py) and its own."""

import pytest

pytest.importorskip("torch")

from gated_cases import (  # noqa: E402, F401  (the tests are collected from this module)
    test_finite_differences,
    test_full_bptt_matches_torch,
    test_gru_rejects_a_tuple_as_h0,
    test_gru_rejects_wrong_state_shape_and_dtype,
    test_huge_inputs_do_not_overflow,
    test_initialisation_like_torch_and_reproducible,
    test_sequence_states_end_in_the_final_states_and_cache_is_reusable,
    test_state_dict_loads_into_torch_and_float32_outputs_agree,
    test_token_ids_equal_one_hot_input,
    test_truncated_bptt_matches_detached_reference,
    test_truncated_bptt_random_sizes,
    test_truncated_bptt_single_source,
)


@pytest.fixture(scope="module")
def kind():
    return "gru"
