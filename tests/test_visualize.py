import numpy as np

from lipkeras.visualize import contact_sheet, save_gif, save_png


def test_contact_sheet_layout_and_files(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 1), dtype=np.uint8)
    sheet = contact_sheet(frames, columns=3)
    assert sheet.shape == (3 * 32, 3 * 32, 1)
    assert contact_sheet(frames.astype(np.float32) / 255.0, columns=8).dtype == np.uint8
    png = save_png(frames, tmp_path / "a" / "sheet.png", columns=4)
    gif = save_gif(frames, tmp_path / "a" / "clip.gif")
    from PIL import Image

    assert Image.open(png).size == (4 * 32, 2 * 32)
    g = Image.open(gif)
    assert g.n_frames == 8
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["clip.gif", "sheet.png"]
