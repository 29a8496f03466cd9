"""Uploaded zip archives (IMDF plans, Ekahau projects), read defensively: every way an archive can be
broken or hostile becomes an ArchiveProblem (a ValueError) whose message says what is wrong, so callers
answer a 400 / a CLI error, never a 500. Python's zipfile raises half a dozen exception types for these
(BadZipFile for a bad CRC or a truncated file, RuntimeError for encryption, NotImplementedError for an
unknown compression method, zlib.error, EOFError); they are all turned into one here.

Zip bombs: the sizes the archive declares are checked before anything is read (the caller's total
limit, and a ratio limit per member); a member that expands past its declared size is cut there by
zipfile and then fails its CRC, which is reported like any other damage."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

from core.errors import N_, CatalogInputError

SUPPORTED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                     zipfile.ZIP_LZMA: "lzma"}
MAX_RATIO = 200  # JSON deflates 5-20x; a member over 1 MiB expanding more than this is treated as a bomb
RATIO_FLOOR_BYTES = 1024 * 1024
_ENCRYPTED = 0x1
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ValueError,
                struct.error)


class ArchiveProblem(ValueError):
    """What is wrong with an archive, in words for the person who uploaded it."""


class ArchiveInputError(ArchiveProblem, CatalogInputError):
    """An ArchiveProblem a person uploading can meet, told by a catalog message (`field`: the archive's or the
    member's name) so a console can say it in the page's language: `_(template, label=field, **params)`."""


def open_zip(source: bytes | str | Path, label: str = "archive") -> zipfile.ZipFile:
    """The archive opened, or ArchiveProblem (not a zip, truncated: no central directory)."""
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
    except FileNotFoundError:
        raise ArchiveProblem(f"{label}: no such file") from None  # a CLI's path: English is its language
    except _READ_ERRORS as exc:
        raise ArchiveInputError(label, N_("%(label)s: not a zip archive, or a truncated one (%(error)s)"),
                                error=str(exc)) from None


def check_sizes(members: list[zipfile.ZipInfo], max_members: int, max_bytes: int) -> None:
    """Refuse what the archive declares before reading anything: too many files, too large expanded, or
    one member compressed so well it can only be a zip bomb."""
    if len(members) > max_members:
        raise ArchiveInputError("", N_("archive has %(n)s files; at most %(max)s allowed"), n=len(members),
                                max=max_members)
    if sum(m.file_size for m in members) > max_bytes:
        raise ArchiveInputError("", N_("archive expands to more than %(mib)s MiB"), mib=max_bytes // 2**20)
    for m in members:
        if m.file_size > RATIO_FLOOR_BYTES and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise ArchiveInputError(m.filename, N_("%(label)s: expands %(ratio)s times (at most %(max)s): refused "
                                                   "as a zip bomb"),
                                    ratio=m.file_size // max(m.compress_size, 1), max=MAX_RATIO)


def read_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """One member's bytes, or ArchiveProblem naming the member and what is wrong with it."""
    if member.flag_bits & _ENCRYPTED:
        raise ArchiveInputError(member.filename,
                                N_("%(label)s: encrypted (password-protected); upload it without a password"))
    if member.compress_type not in SUPPORTED_METHODS:
        raise ArchiveInputError(member.filename, N_("%(label)s: compression method %(method)s is not supported "
                                                    "(use %(methods)s)"),
                                method=member.compress_type, methods=", ".join(SUPPORTED_METHODS.values()))
    try:
        return zf.read(member)
    except _READ_ERRORS as exc:
        raise ArchiveInputError(member.filename, N_("%(label)s: damaged archive (%(error)s)"),
                                error=str(exc)) from None
