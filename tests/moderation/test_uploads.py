"""One content check for every upload, staff evidence and writers' appeal files alike."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from moderation.uploads import JPEG, PDF, PNG, TEXT, check_upload

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
KINDS = (PNG, JPEG, PDF)


def upload(name, content):
    return SimpleUploadedFile(name, content)


def test_a_file_is_accepted_when_its_name_and_its_content_agree():
    assert check_upload(upload("proof.png", PNG_BYTES), kinds=KINDS) is PNG
    assert check_upload(upload("Letter.PDF", b"%PDF-1.7 ..."), kinds=KINDS) is PDF
    assert check_upload(upload("notes.txt", b"plain words"), kinds=(*KINDS, TEXT)) is TEXT


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("proof.png", b"MZ\x90\x00", "proof.png is not a PNG, JPEG or PDF file."),
        ("doc.pdf", PNG_BYTES, "doc.pdf: its content does not match its name."),
        ("tool.exe", b"MZ\x90\x00", "tool.exe is not a PNG, JPEG or PDF file."),
        ("empty.png", b"", "empty.png is empty."),
        ("huge.pdf", b"%PDF-" + b"x" * (5 * 1024 * 1024), "huge.pdf is larger than 5 MB."),
        ("binary.txt", b"ab\x00cd", "binary.txt is not a PNG, JPEG, PDF or plain text file."),
    ],
)
def test_a_file_is_refused_with_a_reason_a_person_can_act_on(name, content, message):
    kinds = (*KINDS, TEXT) if name.endswith(".txt") else KINDS
    with pytest.raises(ValidationError) as refused:
        check_upload(upload(name, content), kinds=kinds)
    assert refused.value.messages == [message]


def test_the_upload_can_be_read_again_after_the_check():
    file = upload("proof.png", PNG_BYTES)
    check_upload(file, kinds=KINDS)
    assert file.read() == PNG_BYTES
