"""SecretMasker: a typed secret shown in its field stays out of every screenshot written later, as an
opaque labelled box over the field's current bounds; older pixels are never pasted back."""

from PIL import Image, ImageDraw

from agent.screen.redact import FILL, SecretMasker


def form(text: str = "", caret: bool = False, choice: str = "No preference") -> Image.Image:
    img = Image.new("RGB", (400, 200), (220, 220, 220))
    d = ImageDraw.Draw(img)
    d.text((20, 20), "Card number", fill="black")
    d.rectangle([120, 15, 360, 40], fill="white", outline="black")
    d.text((125, 20), text, fill="black")
    if caret:
        d.line([125 + 6 * len(text), 18, 125 + 6 * len(text), 37], fill="black")
    d.text((20, 80), f"Seat: {choice}", fill="black")
    return img


def test_the_field_is_covered_by_a_labelled_box_until_the_page_changes():
    m = SecretMasker()
    before, after = form(), form("4111111111111111")
    box = m.typed_secret(before, after, point=(200, 27))
    assert box is not None and box[0] <= 120 and box[2] >= 360 and box[1] <= 15 and box[3] >= 40
    assert box[3] < 80  # the field only: the rest of the page is not touched
    shown = m.apply(after, after)
    assert shown.getpixel((300, 35)) == FILL
    assert shown.crop((0, 60, 400, 200)).tobytes() == after.crop((0, 60, 400, 200)).tobytes()
    blinking = form("4111111111111111", caret=True)
    assert m.apply(blinking, blinking).getpixel((300, 35)) == FILL, "a blinking caret must not lift the mask"
    other = Image.new("RGB", (400, 200), (30, 30, 120))  # the page moved on
    assert m.apply(other, other) is other and not m.regions


def test_never_pastes_older_pixels_over_a_later_screen():
    m = SecretMasker()
    m.typed_secret(form(), form("4111111111111111"), point=(200, 27))
    later = form("4111111111111111", choice="Window")  # a choice made after typing the secret
    out = m.apply(later, later)
    assert out.crop((0, 60, 400, 200)).tobytes() == later.crop((0, 60, 400, 200)).tobytes()


def test_without_a_point_the_changed_pixels_are_covered():
    m = SecretMasker()
    from PIL import ImageChops

    box = m.typed_secret(form(), form("SECRET-VALUE-123"))
    x0, y0, x1, y1 = ImageChops.difference(form(), form("SECRET-VALUE-123")).getbbox()
    assert box is not None and box[0] <= x0 and box[1] <= y0 and box[2] >= x1 and box[3] >= y1


def test_downscaled_copy_is_masked_too():
    m = SecretMasker()
    m.typed_secret(form(), form("SECRET-VALUE-123"), point=(200, 27))
    frame = form("SECRET-VALUE-123")
    small = frame.resize((200, 100))
    out = m.apply(frame, small)
    assert out is not small and out.size == (200, 100)
    assert out.getpixel((175, 19)) == FILL


def test_a_known_field_box_is_used_as_given():
    m = SecretMasker()
    assert m.typed_secret(form(), form("x1y2z3"), field=(120, 15, 361, 41)) == (117, 12, 364, 44)


def test_no_change_no_region():
    m = SecretMasker()
    assert m.typed_secret(form(), form()) is None
    img = form()
    assert m.apply(img, img) is img
