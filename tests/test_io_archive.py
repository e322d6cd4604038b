"""scratchrnn.io.archive: reproducible .npy members, zip listings, read_npz on good and bad files."""

import io
import struct
import zipfile
import zlib

import numpy as np
import pytest

from io_helpers import RawMember, assert_same_array, deflated, npy_header, stored, zeros_deflate, zip_bytes
from scratchrnn.io import archive as archive_module
from scratchrnn.io import limits
from scratchrnn.io.archive import NpyArchive, read_npz, write_member, zip_members


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
    (_bad_fake_zip, "is not a readable .npz file (its zip directory cannot be read: File is not a zip file)"),
    (_bad_truncated, "is not a readable .npz file ("),
    (_bad_pickled_member, "is not a readable .npz file (member 'objects' holds Python objects"),
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


# -- limits: what an archive declares is checked before anything is allocated ------------------------
def _archive(tmp_path, members, overlap=False):
    path = tmp_path / "w.npz"
    path.write_bytes(zip_bytes(members, overlap=overlap))
    return path


def _refused(path, words):
    with pytest.raises(ValueError) as info:
        read_npz(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not a readable .npz file (") and "\n" not in message, message
    assert words in message, message


def test_npy_archive_reads_headers_without_data(tmp_path):
    path = _write(tmp_path / "w.npz", _arrays(), compress=True)
    with NpyArchive(path, f"{path} is corrupt") as archive:
        assert archive.keys == list(_arrays()) and archive.others == []
        assert archive.header("fortran") == ((3, 5), np.dtype(np.float64))
        assert archive.header("big_endian") == ((4,), np.dtype(">f8"))
        assert_same_array(archive.read("fortran"), _arrays()["fortran"])
        with pytest.raises(ValueError, match=r"is corrupt \(no array member 'nothing'\)"):
            archive.read("nothing")


def test_a_lying_zip_bomb_is_read_only_as_far_as_it_declares(tmp_path):
    """A member whose deflate stream inflates to 1 GiB but which declares 80 bytes."""
    header = npy_header((10,), "<f8")
    content = header + bytes(80)
    bomb = RawMember("w.npy", zeros_deflate(header, 1 << 30), len(content), zlib.crc32(content), method=8)
    got = read_npz(_archive(tmp_path, [bomb]))
    assert_same_array(got["w"], np.zeros(10))
    bomb.crc ^= 1  # and when the check value does not match either, the read fails, still early
    _refused(_archive(tmp_path, [bomb]), "Bad CRC-32")


def test_a_member_declaring_more_than_deflate_can_produce_is_refused(tmp_path):
    header = npy_header((3 << 27,), "<f8")  # 3 GiB of zeros, under the member limit
    bomb = RawMember("w.npy", zeros_deflate(header, 1 << 20), len(header) + (3 << 30), 0, method=8)
    _refused(_archive(tmp_path, [bomb]), "more than deflate can produce (1032:1)")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_compression_methods_numpy_never_writes_are_refused(tmp_path, method):
    content = _npy(np.zeros(4))
    member = RawMember("w.npy", content, len(content), zlib.crc32(content), method=method)
    _refused(_archive(tmp_path, [member]), f"uses compression method {method}; only stored and deflated")


def test_encrypted_and_inconsistent_stored_members_are_refused(tmp_path):
    content = _npy(np.zeros(4))
    _refused(_archive(tmp_path, [RawMember("w.npy", content, len(content), 0, flags=1)]), "is encrypted")
    short = RawMember("w.npy", content, len(content) + 8, zlib.crc32(content))
    _refused(_archive(tmp_path, [short]), f"is stored with {len(content)} bytes but declares")


def test_overlapping_members_are_refused(tmp_path):
    bomb = deflated("a.npy", npy_header((1 << 17,), "<f8") + bytes(1 << 20))
    members = [bomb] + [RawMember(f"{k}.npy", bomb.data, bomb.size, bomb.crc, 8) for k in "bcd"]
    _refused(_archive(tmp_path, members, overlap=True), "overlaps another member or the zip directory")


def test_two_members_of_one_name_are_refused(tmp_path):
    content = _npy(np.zeros(4))
    _refused(_archive(tmp_path, [stored("w.npy", content), stored("w.npy", content)]),
             "it holds two members named 'w.npy'")


@pytest.mark.parametrize("shape, descr, words", [
    ((1 << 40,), "<f8", "declares shape (1099511627776,) of float64 (8796093022208 bytes), more than"),
    ((1 << 20, 1 << 20), "|u1", "declares shape (1048576, 1048576) of uint8"),
    ((1 << 40,), "|S0", "declares shape (1099511627776,) of |S0 (0 bytes), more than"),
    ((0, 1 << 40, 1 << 40), "<f8", "declares shape (0, 1099511627776, 1099511627776) of float64 (0 bytes)"),
    ((-1, 4), "<f8", "has the negative shape (-1, 4)"),
    ((4,), "|O", "holds Python objects (dtype object)"),
    ((4,), [("a", "|O")], "holds Python objects"),
    ((4,), ("<f4", (2,)), "has the subarray dtype"),
    ((4,), "<f33", "has an unreadable .npy header: descr is not a valid dtype descriptor"),
    ((4,), "a", "has an unreadable .npy header"),  # a deprecated alias: refused, not warned about
    ((4,), "<f8", "but its zip entry holds"),  # the header declares 32 data bytes; 3 follow
], ids=["2^40-elements", "2^40-bytes", "2^40-empty-items", "empty-2^80", "negative", "object", "object-field",
        "subarray", "unknown-dtype", "deprecated-alias", "short-entry"])
def test_member_headers_are_checked_before_allocating(tmp_path, shape, descr, words):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    _refused(_archive(tmp_path, [stored("w.npy", buffer.getvalue() + b"\x00" * 3)]), words)


def test_npy_format_versions(tmp_path):
    array = np.arange(6.0).reshape(2, 3)
    two = npy_header(array.shape, version=(2, 0)) + array.tobytes()
    assert_same_array(read_npz(_archive(tmp_path, [stored("w.npy", two)]))["w"], array)
    three = bytearray(two)
    three[6] = 3  # version 3.0 only adds utf-8 field names, which no array here has
    _refused(_archive(tmp_path, [stored("w.npy", bytes(three))]), ".npy format version 3.0 is not read")


def test_member_limit_follows_the_memory_available(tmp_path, monkeypatch):
    path = _write(tmp_path / "w.npz", {"a": np.zeros(1000), "b": np.zeros(1000)})
    monkeypatch.setattr(limits, "available_memory", lambda: 12_000)
    assert list(read_npz(path)) == ["a", "b"]
    monkeypatch.setattr(limits, "available_memory", lambda: 7_000)
    _refused(path, "more than the 7000 bytes (or elements) a member may hold (MAX_MEMBER_BYTES or the memory")
    monkeypatch.setattr(archive_module, "available_memory", lambda: 10_000)
    _refused(path, "its members declare 16256 bytes, more than the 10000 bytes of memory available")


def test_zip_directory_size_is_checked_before_it_is_parsed(tmp_path, monkeypatch):
    path = _write(tmp_path / "w.npz", {f"w{i}": np.zeros(1) for i in range(100)})
    monkeypatch.setattr(archive_module, "MAX_DIRECTORY_BYTES", 1000)
    _refused(path, "its zip directory declares")
    monkeypatch.setattr(archive_module, "MAX_DIRECTORY_BYTES", 100_000)
    assert len(read_npz(path)) == 100


def test_zip64_directory_size_is_the_one_checked(tmp_path):
    """zipfile takes the directory's size from the zip64 record when there is one: so does the check."""
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 3, 3, 10**9, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 100, 1)  # the record starts at byte 100
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 3, 3, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path = tmp_path / "w.npz"
    path.write_bytes(b"PK\x03\x04" + b"x" * 96 + record + locator + end)
    _refused(path, "its zip directory declares 1000000000 bytes, more than the 4194304")


@pytest.mark.parametrize("text", [
    "{'descr': '|u1',{'fortran_order': False, 'shape': (4,), }",  # numpy's tokenizer: TokenError
    "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }}",  # literal_eval: SyntaxError
    "{'descr': '|u1', 'fortran_order': False, 'shape': " + "(" * 500 + ")" * 500 + "}",
    "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), 'extra': 1}",
])
def test_damaged_header_text_is_an_unreadable_header(tmp_path, text):
    padded = text.ljust(118) + "\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(padded)) + padded.encode() + bytes(4)
    _refused(_archive(tmp_path, [stored("w.npy", member)]), "member 'w' has an unreadable .npy header")
