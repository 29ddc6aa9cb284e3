

def test_picture_text_uses_only_characters_the_default_font_draws():
    from PIL import ImageFont

    from inverse_set.cli.run_report import bands_title
    from inverse_set.report.viz import plain

    font = ImageFont.load_default()
    glyph = lambda ch: bytes(font.getmask(ch))
    box = glyph("\u2603")  # a character it has no glyph for: drawn as an empty box
    assert glyph("–") == box  # the en dash of "p50–p95" is one of them
    title = bands_title(["Bag", "fc6:46"], ["p50,p95", "p90,max"], [9.5, 1.0], [14.4, 3.0]) + " ≤ × —"
    drawn = plain(title)
    assert "p50-p95" in drawn and not [ch for ch in set(drawn) if ch != " " and glyph(ch) == box]
