"""scratchrnn.io.archive: reproducible .npy members, zip listings, read_npz on good and bad files."""

import io
import zipfile

import numpy as np
import pytest

from io_helpers import assert_same_array
from scratchrnn.io.archive import read_npz, write_member, zip_members


def _arrays():
    """Arrays of several dtypes and layouts under names an .npz can hold."""
    rng = np.random.default_rng(0)
    return {
        "rnn.weight_ih_l0": rng.standard_normal((4, 3)).astype(np.float32),  # (4, 3)
        "half": rng.standard_normal(5).astype(np.float16),  # (5,)
        "int64": np.array([-(2**63), 2**63 - 1, 0], dtype=np.int64),  # (3,)
        "mask": rng.random(6) < 0.5,  # (6,) bool
        "scalar": np.array(3.25),  # ()
        "empty": np.zeros((0, 4), dtype=np.float32),  # (0, 4)
        "fortran": np.asfortranarray(rng.standard_normal((3, 5))),  # (3, 5) F-ordered
        "big_endian": rng.standard_normal(4).astype(">f8"),  # (4,)
    }


def _write(path, arrays, compress=False, comment=b""):
    with open(path, "wb") as file, zipfile.ZipFile(file, "w") as archive:
        for key, array in arrays.items():
            write_member(archive, key, array, compress)
        archive.comment = comment
    return path


# -- write_member ----------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_members_load_with_numpy_and_the_same_content_gives_the_same_bytes(tmp_path, compress):
    arrays = _arrays()
    a = _write(tmp_path / "a.npz", arrays, compress)
    b = _write(tmp_path / "b.npz", arrays, compress)
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as archive:
        assert archive.namelist() == [f"{key}.npy" for key in arrays]
        want = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        assert all(info.compress_type == want for info in archive.infolist())
    with np.load(a, allow_pickle=False) as npz:
        for key, array in arrays.items():
            assert_same_array(npz[key], array)


def test_write_member_refuses_object_arrays():
    with zipfile.ZipFile(io.BytesIO(), "w") as archive:
        with pytest.raises(ValueError, match="allow_pickle=False"):
            write_member(archive, "objects", np.array([1, "x"], dtype=object), False)


# -- zip_members -----------------------------------------------------------------------------------
def test_zip_members_lists_names_and_comment(tmp_path):
    path = _write(tmp_path / "w.npz", {"a": np.ones(2), "b": np.zeros(3)}, comment=b'{"k": "v"}')
    assert zip_members(path) == (["a.npy", "b.npy"], b'{"k": "v"}')
    text = tmp_path / "notes.txt"
    text.write_text("not an archive\n")
    assert zip_members(text) is None


def test_zip_members_names_the_file_of_a_truncated_archive(tmp_path):
    good = _write(tmp_path / "good.npz", _arrays())
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[:-30])  # the end of the zip directory is gone
    with pytest.raises(ValueError) as info:
        zip_members(bad)
    message = str(info.value)
    assert message.startswith(f"{bad} is truncated or corrupt") and "\n" not in message, message


# -- read_npz --------------------------------------------------------------------------------------
@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["savez", "savez_compressed"])
def test_read_npz_returns_every_array_bit_identical_in_order(tmp_path, save):
    arrays = _arrays()
    path = tmp_path / "w.npz"
    save(path, **arrays)
    got = read_npz(str(path))  # a str path works too
    assert list(got) == list(arrays)
    for key, array in arrays.items():
        assert_same_array(got[key], array)


def test_read_npz_reads_what_write_member_writes(tmp_path):
    arrays = _arrays()
    got = read_npz(_write(tmp_path / "w.npz", arrays, compress=True))
    assert list(got) == list(arrays)
    for key, array in arrays.items():
        assert_same_array(got[key], array)


def test_read_npz_missing_file_is_file_not_found(tmp_path):
    path = tmp_path / "nowhere" / "w.npz"
    with pytest.raises(FileNotFoundError) as info:
        read_npz(path)
    assert info.value.filename == str(path)


def _bad_directory(path):
    path.mkdir()


def _bad_empty(path):
    path.write_bytes(b"")


def _bad_text(path):
    path.write_text("hello\n")


def _bad_single_npy(path):
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))


def _bad_fake_zip(path):
    path.write_bytes(b"PK\x03\x04 not really a zip archive")


def _bad_truncated(path):
    with open(path, "wb") as file:
        np.savez(file, w=np.arange(1000))
    path.write_bytes(path.read_bytes()[:500])


def _bad_pickled_member(path):
    with open(path, "wb") as file:
        np.savez(file, objects=np.array([1, "x"], dtype=object))


@pytest.mark.parametrize("build, words", [
    (_bad_directory, "is a directory, not a .npz file"),
    (_bad_empty, "is empty (0 bytes), not a .npz file"),
    (_bad_text, "is not a readable .npz file (not a zip archive, expected name -> array)"),
    (_bad_single_npy, "is not a readable .npz file (it holds a single .npy array, expected name -> array)"),
    (_bad_fake_zip, "is not a readable .npz file (File is not a zip file)"),
    (_bad_truncated, "is not a readable .npz file ("),
    (_bad_pickled_member, "is not a readable .npz file (Object arrays cannot be loaded"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_read_npz_bad_files_raise_one_line_value_error_naming_the_file(tmp_path, build, words):
    path = tmp_path / "runs" / "w.npz"
    path.parent.mkdir()
    build(path)
    with pytest.raises(ValueError) as info:
        read_npz(path)
    message = str(info.value)
    assert message.startswith(f"{path} "), message
    assert words in message and "\n" not in message, message


def test_read_npz_refuses_a_member_that_is_not_an_array(tmp_path):
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", _npy(np.ones(2)))
        archive.writestr("notes.txt", b"not an array")
    with pytest.raises(ValueError, match=r"w\.npz is not a readable \.npz file \(member 'notes.txt' is not"):
        read_npz(path)


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()
