"""SecretMasker: a typed secret shown in its field stays out of every screenshot written later."""

from PIL import Image, ImageDraw

from agent.screen.redact import SecretMasker


def field(text: str = "", caret: bool = False) -> Image.Image:
    img = Image.new("RGB", (400, 200), (220, 220, 220))
    d = ImageDraw.Draw(img)
    d.text((20, 20), "Card number", fill="black")
    d.rectangle([120, 15, 360, 40], fill="white", outline="black")
    d.text((125, 20), text, fill="black")
    if caret:
        d.line([125 + 6 * len(text), 18, 125 + 6 * len(text), 37], fill="black")
    return img


def test_secret_region_shows_the_empty_field_until_the_page_changes():
    m = SecretMasker()
    before, after = field(), field("4111111111111111")
    box = m.typed_secret(before, after)
    assert box is not None and box[0] <= 125 and box[2] >= 125 + 6 * 16
    shown = m.apply(after, after)
    assert shown.tobytes() == before.tobytes()  # the field looks empty again
    blinking = field("4111111111111111", caret=True)
    out = m.apply(blinking, blinking)
    assert m.regions, "a blinking caret must not lift the mask"
    assert out.crop(box).tobytes() == before.crop(box).tobytes()
    other = Image.new("RGB", (400, 200), (30, 30, 120))  # the page moved on
    assert m.apply(other, other) is other and not m.regions


def test_downscaled_copy_is_masked_too():
    m = SecretMasker()
    m.typed_secret(field(), field("SECRET-VALUE-123"))
    frame = field("SECRET-VALUE-123")
    small = frame.resize((200, 100))
    out = m.apply(frame, small)
    assert out is not small and out.size == (200, 100)
    assert out.tobytes() != small.tobytes()


def test_overlapping_secrets_are_blacked_out():
    m = SecretMasker()
    m.typed_secret(field(), field("first"))
    m.typed_secret(field("first"), field("firstsecond"))
    out = m.apply(field("firstsecond"), field("firstsecond"))
    x0, y0, x1, y1 = m.regions[1].box
    assert out.getpixel((x0 + 1, y0 + 1)) == (0, 0, 0)


def test_no_change_no_region():
    m = SecretMasker()
    assert m.typed_secret(field(), field()) is None
    img = field()
    assert m.apply(img, img) is img
